//! `$batch` reads: input order, nextLinks, item retries and throttling, item errors.

use super::*;

#[tokio::test]
async fn batch_reads_follow_links_retry_items_and_keep_input_order() {
    let base = Arc::new(Mutex::new(String::new()));
    let b = base.clone();
    let throttled_once = Arc::new(Mutex::new(std::collections::HashSet::new()));
    let server = start(
        move |c: &Call| {
            assert!(c.in_batch, "{} read outside $batch", c.path);
            assert_eq!(c.method, "GET");
            let group: usize = c.path.split('/').nth(1).unwrap().parse().unwrap();
            // Every third group is throttled on its first request.
            if group % 3 == 0 && throttled_once.lock().unwrap().insert(group) {
                return Reply::graph_error(429, "TooManyRequests", "Please retry again later.")
                    .header("Retry-After", "0.05");
            }
            let members = |from: usize| -> Vec<Value> {
                (from..from + 2)
                    .map(|m| json!({"id": format!("g{group}-m{m}"), "displayName": "M"}))
                    .collect()
            };
            if c.query.contains_key("$skiptoken") {
                Reply::json(json!({"value": members(2)}))
            } else if group == 7 {
                let base = b.lock().unwrap().clone();
                Reply::json(json!({"value": members(0),
                    "@odata.nextLink": format!("{base}/v1.0/groups/7/members?$skiptoken=p2")}))
            } else {
                Reply::json(json!({"value": members(0)}))
            }
        },
        token_counter(),
    )
    .await;
    *base.lock().unwrap() = server.url.clone();
    let c = client(&server.url);
    let paths: Vec<String> = (0..45)
        .map(|g| format!("groups/{g}/members?$select=id,displayName&$top=999"))
        .collect();
    let results = c.batch_get_all(&paths).await.unwrap();
    assert_eq!(results.len(), 45);
    for (g, items) in results.iter().enumerate() {
        let ids: Vec<&str> = items.iter().map(|m| m["id"].as_str().unwrap()).collect();
        let want: Vec<String> = (0..if g == 7 { 4 } else { 2 })
            .map(|m| format!("g{g}-m{m}"))
            .collect();
        assert_eq!(ids, want, "group {g}");
    }
    let m = c.metrics();
    assert_eq!(m.throttled, 15);
    assert_eq!(m.retries, 15);
    // 45 first requests + 15 retried + 1 next page
    assert_eq!(m.batch_items, 61);
    assert!(server.calls_to("groups/7/members")[0].query["$select"] == "id,displayName");
}

#[tokio::test]
async fn batch_item_errors_fail_the_whole_read() {
    let server = start(
        |c: &Call| match c.path.as_str() {
            "groups/bad/members" => Reply::graph_error(
                404,
                "Request_ResourceNotFound",
                "Resource 'bad' does not exist",
            )
            .header("request-id", "item-req-id"),
            "groups/slow/members" => Reply::graph_error(503, "serviceNotAvailable", "busy"),
            _ => Reply::json(json!({"value": []})),
        },
        token_counter(),
    )
    .await;
    let c = client(&server.url);
    let err = c
        .batch_get_all(&["groups/ok/members".into(), "groups/bad/members".into()])
        .await
        .unwrap_err();
    match &err {
        GraphError::Http {
            status: 404,
            path,
            request_id,
            code,
            ..
        } => {
            assert_eq!(path, "groups/bad/members");
            assert_eq!(request_id.as_deref(), Some("item-req-id"));
            assert_eq!(code, "Request_ResourceNotFound");
        }
        other => panic!("{other:?}"),
    }
    let err = c
        .batch_get_all(&["groups/slow/members".into()])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GraphError::RetriesExhausted { attempts: 4, path, .. } if path == "groups/slow/members"),
        "{err:?}"
    );
}
