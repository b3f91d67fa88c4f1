//! Reads from the Graph emulator: paging, `$select`, `$top`, shapes of every kind, seeds.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;
use tenantgit::emulator::{Emulator, EmulatorConfig};
use tenantgit::{layout, normalize, schema, yaml};

use crate::common::graph::*;

#[tokio::test]
async fn paging_returns_every_user_exactly_once_with_absolute_opaque_next_links() {
    let g = Graph::start(config(Some(
        "users=2100,groups=30,members=5,apps=4,policies=3",
    )))
    .await;
    let (items, pages) = g.get_all("users?$select=id,displayName&$top=999").await;
    assert_eq!(pages, 3);
    let ids: HashSet<&str> = items.iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2100);
    assert_eq!(items.len(), 2100);
    let first = g.get("users?$select=id,displayName&$top=999").await;
    let next = first.body["@odata.nextLink"].as_str().unwrap();
    assert!(
        next.starts_with(&format!("{}/v1.0/users?$skiptoken=", g.emu.url())),
        "{next}"
    );
    assert!(
        !next.contains("select"),
        "the query lives in the opaque token: {next}"
    );
    assert!(first.body["@odata.context"]
        .as_str()
        .unwrap()
        .contains("$metadata#users(id,displayName)"));
    // Only the selected properties (plus id) come back.
    let keys: Vec<&String> = first.body["value"][0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "displayName"]);

    // Default page size is 100; paging stays right while objects come and go.
    let p1 = g.get("users?$select=id").await;
    assert_eq!(p1.body["value"].as_array().unwrap().len(), 100);
    let seen: Vec<String> = p1.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().into())
        .collect();
    assert_eq!(
        g.call("DELETE", &format!("users/{}", seen[5]), None)
            .await
            .status,
        204
    );
    let created = g
        .call("POST", "users", Some(serde_json::json!({"accountEnabled": true, "displayName": "New", "mailNickname": "new", "userPrincipalName": "new@contoso.example", "passwordProfile": {"password": "x!Y12345"}})))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let (rest, _) = g
        .get_all(p1.body["@odata.nextLink"].as_str().unwrap())
        .await;
    let mut all: Vec<String> = seen.clone();
    all.extend(rest.iter().map(|v| v["id"].as_str().unwrap().to_string()));
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "no user twice");
    assert!(
        all.len() >= 2100,
        "nobody that existed throughout was skipped"
    );
}

#[tokio::test]
async fn select_and_top_are_validated_like_graph() {
    let g = Graph::start(config(Some("users=20,groups=3,apps=2,policies=1"))).await;
    let r = g.get("users?$select=id,nosuchthing").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "Request_BadRequest");
    assert_eq!(
        r.message(),
        "Could not find a property named 'nosuchthing' on type 'microsoft.graph.user'."
    );
    assert!(r.body["error"]["innerError"]["date"].is_string());
    let r = g.get("users?$top=1000").await;
    assert_eq!(r.status, 400);
    assert!(g.get("users?$top=999").await.status == 200);
    // Selected but unset: null. Case-insensitive names come back in Graph's spelling.
    let r = g.get("users?$select=id,faxNumber,DISPLAYNAME&$top=1").await;
    let u = &r.body["value"][0];
    assert!(u.as_object().unwrap().contains_key("faxNumber") && u["faxNumber"].is_null());
    assert!(u["displayName"].is_string());
    // Unknown routes and unsupported query options are errors, not empty answers.
    assert_eq!(g.get("nosuchcollection").await.status, 400);
    assert_eq!(
        g.get("users?$filter=department%20eq%20'Sales'")
            .await
            .status,
        400
    );
    let bad_token = g.get("users?$skiptoken=garbage").await;
    assert_eq!(bad_token.status, 400);
}

#[tokio::test]
async fn every_kind_lists_and_gets_with_graph_shapes() {
    let g = Graph::start(config(Some(
        "users=40,groups=15,members=6,apps=5,policies=6",
    )))
    .await;
    for kind in schema::kinds() {
        if kind.singleton {
            let r = g.get(&kind.path).await;
            assert_eq!(r.status, 200, "{}", kind.kind);
            assert_eq!(r.body["id"], kind.kind.as_str());
            assert!(r.body["@odata.context"].is_string());
            continue;
        }
        let (items, _) = g.get_all(&kind.path).await;
        assert!(!items.is_empty(), "{} has objects", kind.kind);
        let id = items[0]["id"].as_str().unwrap();
        let one = g.get(&format!("{}/{id}", kind.path)).await;
        assert_eq!(one.status, 200);
        assert_eq!(one.body["id"], id);
        // Every managed property is present (null when unset) and parses through normalize.
        let obj = normalize::normalize(kind, &one.body, BTreeMap::new()).expect("Graph-shaped");
        assert_eq!(obj.id, id);
        let missing = g
            .get(&format!(
                "{}/00000000-0000-0000-0000-00000000dead",
                kind.path
            ))
            .await;
        assert_eq!(missing.status, 404);
        assert_eq!(missing.code(), "Request_ResourceNotFound");
        assert_eq!(
            missing.message(),
            "Resource '00000000-0000-0000-0000-00000000dead' does not exist or one of its queried reference-property objects are not present."
        );
    }
    // Secrets: secretText and key are null on reads; key bytes only with $select on one object.
    let (apps, _) = g
        .get_all("applications?$select=id,passwordCredentials,keyCredentials")
        .await;
    let creds: Vec<&Value> = apps
        .iter()
        .flat_map(|a| a["passwordCredentials"].as_array().unwrap())
        .collect();
    assert!(!creds.is_empty());
    for c in creds {
        assert!(c.as_object().unwrap().contains_key("secretText") && c["secretText"].is_null());
        assert_eq!(c["hint"].as_str().unwrap().len(), 3);
    }
    for a in &apps {
        for k in a["keyCredentials"].as_array().unwrap() {
            assert!(k["key"].is_null());
        }
    }
    // Named locations carry their @odata.type; both types exist.
    let (nls, _) = g.get_all("identity/conditionalAccess/namedLocations").await;
    let types: HashSet<&str> = nls
        .iter()
        .map(|n| n["@odata.type"].as_str().unwrap())
        .collect();
    assert_eq!(types.len(), 2);
    // Service principals by appId, as Graph allows.
    let (sps, _) = g.get_all("servicePrincipals?$select=id,appId").await;
    let app_id = sps[0]["appId"].as_str().unwrap();
    let by_app = g.get(&format!("servicePrincipals(appId='{app_id}')")).await;
    assert_eq!(by_app.body["id"], sps[0]["id"]);
}

#[tokio::test]
async fn group_members_are_directory_objects_with_paging() {
    let g = Graph::start(config(Some("users=300,groups=14,members=5"))).await;
    let (groups, _) = g.get_all("groups?$select=id,displayName&$top=999").await;
    let sales = groups
        .iter()
        .find(|x| x["displayName"] == "Dept - Sales")
        .unwrap();
    let path = format!(
        "groups/{}/members?$select=id,displayName&$top=7",
        sales["id"].as_str().unwrap()
    );
    let (members, pages) = g.get_all(&path).await;
    assert!(
        members.len() > 40,
        "the largest department is large: {}",
        members.len()
    );
    assert!(pages > 1);
    assert!(members
        .iter()
        .all(|m| m["@odata.type"] == "#microsoft.graph.user"));
    let unique: HashSet<&str> = members.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(unique.len(), members.len());
    // Every synced user of the department is a member (the group is synced from AD, which
    // knows no cloud-only user).
    let (users, _) = g
        .get_all("users?$select=id,department,onPremisesSyncEnabled&$top=999")
        .await;
    let in_sales = users
        .iter()
        .filter(|u| u["department"] == "Sales" && u["onPremisesSyncEnabled"] == true)
        .count();
    assert_eq!(in_sales, members.len());
}

#[tokio::test]
async fn synthetic_tenant_is_deterministic() {
    let spec = Some("users=120,groups=20,members=8,apps=4,policies=7");
    let a = Graph::start(config(spec)).await;
    let b = Graph::start(config(spec)).await;
    for kind in schema::kinds().iter().filter(|k| !k.singleton) {
        let (x, _) = a.get_all(&format!("{}?$top=999", kind.path)).await;
        let (y, _) = b.get_all(&format!("{}?$top=999", kind.path)).await;
        assert_eq!(x, y, "{}", kind.kind);
        for link in &kind.links {
            for o in x.iter().take(5) {
                let p = format!(
                    "{}/{}/{}?$select=id",
                    kind.path,
                    o["id"].as_str().unwrap(),
                    link.path
                );
                assert_eq!(
                    a.link_items(&p, link.single).await,
                    b.link_items(&p, link.single).await
                );
            }
        }
    }
    let c = Graph::start(config(Some(
        "users=121,groups=20,members=8,apps=4,policies=7",
    )))
    .await;
    assert_ne!(a.ids("users").await, c.ids("users").await);
}

/// `&$expand=…` of a kind's contained children (federated identity credentials), so that they
/// take part in the round trip.
fn expand_children(kind: &tenantgit::schema::KindSpec) -> String {
    kind.children
        .iter()
        .map(|c| format!("&$expand={}", c.path))
        .collect()
}

/// Writes a repository of object files: a small tenant plus the Graph doc samples of CA
/// policies, normalized and emitted as a snapshot would.
fn write_seed(dir: &std::path::Path, objects: &[tenantgit::model::Object]) {
    for o in objects {
        let path = dir.join(layout::path_for(o.kind.spec(), &o.id, o.name_for_path()));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, yaml::emit_object(o)).unwrap();
    }
}

#[tokio::test]
async fn seed_round_trip_from_snapshot_files() {
    // Take a small tenant out of one emulator, write it as files, seed a second one from them.
    let src = Graph::start(config(Some(
        "users=25,groups=6,members=4,apps=3,policies=4",
    )))
    .await;
    let mut objects = Vec::new();
    for kind in schema::kinds() {
        let items = if kind.singleton {
            vec![src.get(&kind.path).await.body]
        } else {
            src.get_all(&format!("{}?$top=999{}", kind.path, expand_children(kind)))
                .await
                .0
        };
        for item in items {
            let mut links = BTreeMap::new();
            for l in &kind.links {
                let p = format!(
                    "{}/{}/{}?$select=id,displayName",
                    kind.path,
                    item["id"].as_str().unwrap(),
                    l.path
                );
                let refs = src
                    .link_items(&p, l.single)
                    .await
                    .iter()
                    .map(|m| {
                        tenantgit::model::LinkRef::new(
                            m["id"].as_str().unwrap(),
                            m["displayName"].as_str().map(str::to_string),
                        )
                    })
                    .collect();
                links.insert(l.name.clone(), refs);
            }
            objects.push(normalize::normalize(kind, &item, links).unwrap());
        }
    }
    let dir = tempfile::tempdir().unwrap();
    write_seed(dir.path(), &objects);
    let dst = Graph::start(EmulatorConfig {
        seed_dir: Some(dir.path().to_path_buf()),
        ..EmulatorConfig::default()
    })
    .await;
    for o in &objects {
        let path = if o.kind.singleton {
            o.kind.path.clone()
        } else {
            format!("{}/{}?{}", o.kind.path, o.id, expand_children(&o.kind))
        };
        let r = dst.get(&path).await;
        assert_eq!(r.status, 200, "{path}");
        let mut links = BTreeMap::new();
        for l in &o.kind.links {
            let ids = dst
                .link_items(
                    &format!("{}/{}/{}?$select=id,displayName", o.kind.path, o.id, l.path),
                    l.single,
                )
                .await;
            links.insert(
                l.name.clone(),
                ids.iter()
                    .map(|m| {
                        tenantgit::model::LinkRef::new(
                            m["id"].as_str().unwrap(),
                            m["displayName"].as_str().map(str::to_string),
                        )
                    })
                    .collect(),
            );
        }
        let back = normalize::normalize(o.kind.spec(), &r.body, links).unwrap();
        assert!(
            back.same_state(o),
            "{} differs after the seed round trip",
            o.key()
        );
        assert_eq!(yaml::emit_object(&back), yaml::emit_object(o));
    }
}

#[tokio::test]
async fn seeds_graph_doc_samples_and_serves_them_graph_shaped() {
    let text = std::fs::read_to_string(
        "tests/fixtures/graph-samples/conditionalaccess-policy-list-response.json",
    )
    .expect("the samples are part of the repository");
    let sample: Value = serde_json::from_str(&text).unwrap();
    let kind = schema::kind("conditionalAccessPolicies").unwrap();
    let objects: Vec<_> = sample["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| normalize::normalize(kind, p, BTreeMap::new()).unwrap())
        .collect();
    assert!(!objects.is_empty());
    let dir = tempfile::tempdir().unwrap();
    write_seed(dir.path(), &objects);
    let emu = Emulator::start(EmulatorConfig {
        seed_dir: Some(dir.path().into()),
        ..EmulatorConfig::default()
    })
    .unwrap();
    let http = reqwest::Client::new();
    let token = token_for(&http, &emu.url()).await;
    let body: Value = http
        .get(format!(
            "{}/v1.0/identity/conditionalAccess/policies",
            emu.url()
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let served = body["value"].as_array().unwrap();
    assert_eq!(served.len(), objects.len());
    for s in served {
        let original = sample["value"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == s["id"])
            .unwrap();
        for key in ["displayName", "state", "conditions", "grantControls"] {
            assert!(
                tenantgit::model::values_equal(
                    &normalize::normalize(kind, s, BTreeMap::new())
                        .unwrap()
                        .props[key],
                    &normalize::normalize(kind, original, BTreeMap::new())
                        .unwrap()
                        .props[key]
                ),
                "{key}"
            );
        }
    }
}
