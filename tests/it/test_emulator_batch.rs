//! `$batch` in the Graph emulator: limits, ids, dependsOn, per-item answers.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::common::graph::*;

async fn batch(g: &Graph, requests: Value) -> Resp {
    g.call("POST", "$batch", Some(json!({"requests": requests})))
        .await
}

fn by_id(r: &Resp) -> HashMap<String, Value> {
    r.body["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["id"].as_str().unwrap().to_string(), x.clone()))
        .collect()
}

#[tokio::test]
async fn batch_items_are_answered_by_id_with_depends_on() {
    let g = Graph::start(config(Some("users=30,groups=14,members=4"))).await;
    let (groups, _) = g.get_all("groups?$top=999&$select=id,displayName").await;
    let gid = groups
        .iter()
        .find(|x| x["displayName"] == "Dept - Sales")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Department groups are synced from AD; the dynamic groups after them are cloud groups.
    let cloud = groups
        .iter()
        .find(|x| x["displayName"] == "All Sales staff")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let requests: Vec<Value> = (0..12)
        .map(|i| json!({"id": format!("{i}"), "method": "GET", "url": format!("/groups/{gid}/members?$select=id&$top=2")}))
        .chain([
            json!({"id": "missing", "method": "GET", "url": "users/00000000-0000-0000-0000-00000000beef"}),
            json!({"id": "after-missing", "method": "GET", "url": "/users?$top=1", "dependsOn": ["missing"]}),
            json!({"id": "patch", "method": "PATCH", "url": format!("/groups/{cloud}"), "headers": {"Content-Type": "application/json"}, "body": {"description": "batched"}}),
            json!({"id": "read-back", "method": "GET", "url": format!("/groups/{cloud}?$select=description"), "dependsOn": ["patch"]}),
        ])
        .collect();
    let r = batch(&g, json!(requests)).await;
    assert_eq!(r.status, 200);
    let items = by_id(&r);
    assert_eq!(items.len(), 16);
    let order: Vec<&str> = r.body["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    let sorted: Vec<String> = requests
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect();
    assert_ne!(
        order, sorted,
        "responses are not promised in request order; the emulator does not give it"
    );
    assert_eq!(items["0"]["status"], 200);
    assert!(items["0"]["body"]["value"].is_array());
    assert!(items["0"]["body"]["@odata.nextLink"]
        .as_str()
        .unwrap()
        .starts_with(&g.emu.url()));
    assert_eq!(items["missing"]["status"], 404);
    assert_eq!(
        items["missing"]["body"]["error"]["code"],
        "Request_ResourceNotFound"
    );
    assert_eq!(items["after-missing"]["status"], 424);
    assert_eq!(items["patch"]["status"], 204);
    assert!(items["patch"].get("body").is_none());
    assert_eq!(items["read-back"]["body"]["description"], "batched");
    let s = g.emu.stats();
    assert_eq!((s.batches, s.writes), (1, 1));
    // Each item that ran counts as a request (the 424 item did not), plus the GET before.
    assert_eq!(s.requests, 1 + 15);
}

#[tokio::test]
async fn malformed_batches_are_refused_whole() {
    let g = Graph::start(config(Some("users=5,groups=1"))).await;
    let many: Vec<Value> = (0..21)
        .map(|i| json!({"id": format!("{i}"), "method": "GET", "url": "/users"}))
        .collect();
    assert_eq!(batch(&g, json!(many)).await.status, 400);
    let dup = json!([{"id": "a", "method": "GET", "url": "/users"}, {"id": "A", "method": "GET", "url": "/groups"}]);
    assert_eq!(batch(&g, dup).await.status, 400);
    let absolute =
        json!([{"id": "a", "method": "GET", "url": "https://graph.microsoft.com/v1.0/users"}]);
    assert_eq!(batch(&g, absolute).await.status, 400);
    let no_type = json!([{"id": "a", "method": "PATCH", "url": "/users/x", "body": {"a": 1}}]);
    assert_eq!(batch(&g, no_type).await.status, 400);
    let unknown_dep = json!([{"id": "a", "method": "GET", "url": "/users", "dependsOn": ["zz"]}]);
    assert_eq!(batch(&g, unknown_dep).await.status, 400);
    let cycle = json!([{"id": "a", "method": "GET", "url": "/users", "dependsOn": ["b"]}, {"id": "b", "method": "GET", "url": "/users", "dependsOn": ["a"]}]);
    assert_eq!(batch(&g, cycle).await.status, 400);
    assert_eq!(g.emu.stats().requests, 0, "no item of a refused batch ran");
}
