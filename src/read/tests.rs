//! Reading the tenant against the scripted Graph stand-in of `graph::test_server`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::graph::test_server::{start, token_counter, Call, FakeGraph, Reply};
use crate::graph::{Credential, GraphSettings, RetryTiming, Secret};
use crate::schema;

fn sample(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/graph-samples")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn client(server: &FakeGraph) -> GraphClient {
    let settings = GraphSettings {
        graph_url: server.url.clone(),
        authority_host: server.url.clone(),
        tenant_id: "t".into(),
        client_id: "c".into(),
        credential: Credential::ClientSecret(Secret::new("s")),
        concurrency: 4,
        max_retries: 2,
    };
    let timing = RetryTiming {
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(5),
        retry_after_max: Duration::from_secs(1),
        throttle_budget: Duration::from_millis(50),
    };
    GraphClient::with_timing(settings, timing).unwrap()
}

fn kinds(names: &[&str]) -> Vec<&'static KindSpec> {
    names.iter().map(|n| schema::kind(n).unwrap()).collect()
}

fn ids(list: &Value) -> Vec<String> {
    list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect()
}

const SECOND_GROUP_MEMBERS: &str = r##"{"value": [
    {"@odata.type": "#microsoft.graph.user", "id": "b-user", "displayName": "Bea"},
    {"@odata.type": "#microsoft.graph.group", "id": "a-group", "displayName": "Nested"}]}"##;

/// Serves the Graph doc samples: users, groups (first group's members from the members
/// sample, the second group with two members), CA policies, the authorization policy.
fn sample_tenant(c: &Call) -> Reply {
    let groups = sample("group-list-response.json");
    let group_ids = ids(&groups);
    match c.path.as_str() {
        "users" => Reply::json(sample("users-list-response.json")),
        "groups" => Reply::json(groups),
        "identity/conditionalAccess/policies" => {
            Reply::json(sample("conditionalaccess-policy-list-response.json"))
        }
        "policies/authorizationPolicy" => Reply::json(json!({
            "id": "authorizationPolicy", "displayName": "Authorization Policy",
            "allowInvitesFrom": "everyone", "blockMsolPowerShell": false})),
        p if p == format!("groups/{}/members", group_ids[0]) => {
            Reply::json(sample("group-members-list-response.json"))
        }
        p if p == format!("groups/{}/members", group_ids[1]) => {
            Reply::json(serde_json::from_str(SECOND_GROUP_MEMBERS).unwrap())
        }
        p if p.starts_with("groups/") && p.ends_with("/owners") => {
            Reply::json(json!({"value": []}))
        }
        "directoryObjects/getAvailableExtensionProperties" => Reply::json(json!({"value": [
            {"name": COST_CENTER, "targetObjects": ["User"], "isSyncedFromOnPremises": false}]})),
        _ => Reply::graph_error(404, "Request_ResourceNotFound", "no such resource"),
    }
}

/// The directory extension the sample tenant defines for users.
const COST_CENTER: &str = "extension_b7e5a1c0_costCenter";

#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl ReadProgress for Recorder {
    fn started(&self, kind: &str) {
        self.0.lock().unwrap().push(format!("started {kind}"));
    }
    fn read(&self, _kind: &str, _objects: usize) {}
    fn finished(&self, kind: &str, objects: usize) {
        self.0
            .lock()
            .unwrap()
            .push(format!("finished {kind} {objects}"));
    }
    fn vanished(&self, kind: &str, id: &str) {
        self.0.lock().unwrap().push(format!("vanished {kind}/{id}"));
    }
}

#[tokio::test]
async fn reads_the_sample_tenant_into_a_snapshot() {
    let server = start(sample_tenant, token_counter()).await;
    let kinds = kinds(&[
        "users",
        "groups",
        "conditionalAccessPolicies",
        "authorizationPolicy",
    ]);
    let progress = Recorder::default();
    let snapshot = read_tenant(&client(&server), &kinds, &progress)
        .await
        .unwrap();

    let users = sample("users-list-response.json");
    let groups = sample("group-list-response.json");
    let policies = sample("conditionalaccess-policy-list-response.json");
    assert_eq!(
        snapshot.len(),
        ids(&users).len() + ids(&groups).len() + ids(&policies).len() + 1
    );
    let users_kind = schema::kind("users").unwrap();
    for raw in users["value"].as_array().unwrap() {
        let key = ObjectKey::named("users", raw["id"].as_str().unwrap());
        let got = snapshot.get(&key).expect("every sample user is read");
        let want = normalize(users_kind, raw, BTreeMap::new()).unwrap();
        assert_eq!(got.props, want.props);
    }
    let group_ids = ids(&groups);
    let first = snapshot
        .get(&ObjectKey::named("groups", group_ids[0].clone()))
        .unwrap();
    let member_ids = ids(&sample("group-members-list-response.json"));
    assert_eq!(first.link_ids("members").collect::<Vec<_>>(), member_ids);
    assert_eq!(first.link_ids("owners").count(), 0);
    let second = snapshot
        .get(&ObjectKey::named("groups", group_ids[1].clone()))
        .unwrap();
    let members = &second.links["members"];
    assert_eq!(
        members
            .iter()
            .map(|l| (l.id.as_str(), l.display_name.as_deref()))
            .collect::<Vec<_>>(),
        [("a-group", Some("Nested")), ("b-user", Some("Bea"))],
        "sorted by id, display names kept"
    );
    assert!(snapshot
        .get(&ObjectKey::named(
            "authorizationPolicy",
            "authorizationPolicy"
        ))
        .is_some());

    let user_reads = server.calls_to("users");
    assert_eq!(user_reads.len(), 1);
    assert_eq!(
        user_reads[0].query["$select"],
        users_kind.select_list_with(&[COST_CENTER.to_string()]),
        "the extension attributes defined for users are selected"
    );
    let groups_kind = schema::kind("groups").unwrap();
    assert_eq!(
        server.calls_to("groups")[0].query["$select"],
        groups_kind.select_list(),
        "none is defined for groups"
    );
    assert_eq!(
        server
            .calls_to("directoryObjects/getAvailableExtensionProperties")
            .len(),
        1,
        "the definitions are asked for once"
    );
    assert_eq!(user_reads[0].query["$top"], "999");
    let member_reads = server.calls_to(&format!("groups/{}/members", group_ids[0]));
    assert!(member_reads[0].in_batch);
    assert_eq!(member_reads[0].query["$select"], "id,displayName");
    assert!(!server.calls_to("policies/authorizationPolicy")[0]
        .query
        .contains_key("$select"));

    let events = progress.0.lock().unwrap().clone();
    for kind in &kinds {
        let n = snapshot.of_kind(&kind.kind).count();
        let started = events
            .iter()
            .position(|e| *e == format!("started {}", kind.kind));
        let finished = events
            .iter()
            .position(|e| *e == format!("finished {} {n}", kind.kind));
        assert!(started.is_some() && started < finished, "{events:?}");
    }
}

#[tokio::test]
async fn a_persistent_5xx_fails_the_read_naming_kind_and_request() {
    let server = start(
        |c: &Call| match c.path.as_str() {
            "groups" => Reply::graph_error(503, "serviceNotAvailable", "try later"),
            _ => sample_tenant(c),
        },
        token_counter(),
    )
    .await;
    let err = read_tenant(&client(&server), &kinds(&["users", "groups"]), &NoProgress)
        .await
        .unwrap_err();
    let ReadError::Graph(graph) = &err else {
        panic!("{err:?}")
    };
    let GraphError::Read { kind, source } = graph.as_ref() else {
        panic!("{err:?}")
    };
    assert_eq!(kind, "groups");
    assert!(
        matches!(**source, GraphError::RetriesExhausted { ref path, .. } if path.starts_with("groups?$select="))
    );
    assert_eq!(server.calls_to("groups").len(), 3);
    assert!(err.to_string().contains("groups"));
    assert!(err.hint().is_some());

    // A failure reading links fails the whole read too.
    let server = start(
        |c: &Call| match c.path.as_str() {
            p if p.ends_with("/owners") => Reply::graph_error(500, "generalException", "boom"),
            _ => sample_tenant(c),
        },
        token_counter(),
    )
    .await;
    let err = read_tenant(&client(&server), &kinds(&["groups"]), &NoProgress)
        .await
        .unwrap_err();
    let ReadError::Graph(graph) = &err else {
        panic!("{err:?}")
    };
    let GraphError::Read { kind, source } = graph.as_ref() else {
        panic!("{err:?}")
    };
    assert_eq!(kind, "groups");
    assert!(
        matches!(**source, GraphError::RetriesExhausted { ref path, .. } if path.contains("/owners")),
        "{source:?}"
    );
}

#[tokio::test]
async fn unknown_odata_type_is_a_normalize_error() {
    let server = start(
        |c: &Call| match c.path.as_str() {
            "identity/conditionalAccess/namedLocations" => Reply::json(json!({"value": [
                {"id": "n1", "@odata.type": "#microsoft.graph.fancyLocation"}]})),
            _ => sample_tenant(c),
        },
        token_counter(),
    )
    .await;
    let err = read_tenant(&client(&server), &kinds(&["namedLocations"]), &NoProgress)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ReadError::Normalize(crate::normalize::NormalizeError::UnknownType { .. })
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn recycle_bin_items_carry_their_restore_deadline() {
    let server = start(
        |c: &Call| match c.path.as_str() {
            "directory/deletedItems/microsoft.graph.group" => {
                Reply::json(sample("deleteditems-list-count-response.json"))
            }
            p if p.starts_with("directory/deletedItems/") => Reply::json(json!({"value": []})),
            _ => Reply::graph_error(404, "Request_ResourceNotFound", "no"),
        },
        token_counter(),
    )
    .await;
    let items = read_deleted(
        &client(&server),
        &kinds(&["users", "groups", "conditionalAccessPolicies"]),
    )
    .await
    .unwrap();
    let sample_ids = ids(&sample("deleteditems-list-count-response.json"));
    let mut sorted = sample_ids.clone();
    sorted.sort();
    assert_eq!(
        items.iter().map(|i| i.key.id.clone()).collect::<Vec<_>>(),
        sorted
    );
    let first = items.iter().find(|i| i.key.id == sample_ids[0]).unwrap();
    assert_eq!(first.key.kind, "groups");
    assert_eq!(first.display_name, "Role assignable group");
    assert_eq!(first.deleted_at.as_deref(), Some("2021-10-26T16:56:36Z"));
    assert_eq!(
        first.restorable_until.as_deref(),
        Some("2021-11-25T16:56:36Z")
    );
    // Only soft-deleted kinds are asked for, each with its OData cast.
    let mut paths: Vec<String> = server
        .calls()
        .into_iter()
        .map(|c| c.path)
        .filter(|p| p != "token")
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "directory/deletedItems/microsoft.graph.group",
            "directory/deletedItems/microsoft.graph.user"
        ]
    );
}

#[tokio::test]
async fn read_objects_skips_missing_objects_and_reads_links() {
    let user = sample("user-get-response.json");
    let user_id = user["id"].as_str().unwrap().to_string();
    let group_id = ids(&sample("group-list-response.json"))[1].clone();
    let (u, g) = (user_id.clone(), group_id.clone());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let r = requests.clone();
    let server = start(
        move |c: &Call| {
            r.lock().unwrap().push(c.path.clone());
            if c.path == format!("users/{u}") {
                Reply::json(user.clone())
            } else if c.path == format!("groups/{g}") {
                Reply::json(json!({"id": g, "displayName": "Golf Discussion"}))
            } else {
                sample_tenant(c)
            }
        },
        token_counter(),
    )
    .await;
    let keys = [
        ObjectKey::named("users", user_id.clone()),
        ObjectKey::named("users", "gone"),
        ObjectKey::named("groups", group_id.clone()),
        ObjectKey::named("users", user_id.clone()),
    ];
    let snapshot = read_objects(&client(&server), &keys).await.unwrap();
    assert_eq!(snapshot.len(), 2);
    let group = snapshot.get(&keys[2]).unwrap();
    assert_eq!(
        group.link_ids("members").collect::<Vec<_>>(),
        ["a-group", "b-user"]
    );
    assert!(snapshot.get(&keys[0]).is_some() && snapshot.get(&keys[1]).is_none());
    assert_eq!(
        server.calls_to(&format!("users/{user_id}")).len(),
        1,
        "duplicate keys read once"
    );
}

#[tokio::test]
async fn an_object_deleted_before_its_links_are_read_is_left_out() {
    let group_ids = ids(&sample("group-list-response.json"));
    let gone = group_ids[0].clone();
    let members = format!("groups/{gone}/members");
    let server = start(
        move |c: &Call| {
            if c.path == members {
                Reply::graph_error(404, "Request_ResourceNotFound", "Resource does not exist")
            } else if let Some(id) = c.path.strip_prefix("groups/").filter(|r| !r.contains('/')) {
                // A single group's read (the restore read-back below): it is still there.
                Reply::json(json!({"id": id, "displayName": "Still listed"}))
            } else {
                sample_tenant(c)
            }
        },
        token_counter(),
    )
    .await;
    let progress = Recorder::default();
    let snapshot = read_tenant(&client(&server), &kinds(&["groups"]), &progress)
        .await
        .expect("a group deleted meanwhile does not fail the read");
    let key = |id: &str| ObjectKey::named("groups", id);
    assert!(snapshot.get(&key(&gone)).is_none());
    assert_eq!(snapshot.len(), group_ids.len() - 1);
    let second = snapshot.get(&key(&group_ids[1])).unwrap();
    assert_eq!(
        second.link_ids("members").collect::<Vec<_>>(),
        ["a-group", "b-user"]
    );
    let events = progress.0.lock().unwrap().clone();
    let vanished: Vec<&String> = events
        .iter()
        .filter(|e| e.starts_with("vanished"))
        .collect();
    assert_eq!(vanished, [&format!("vanished groups/{gone}")]);
    assert!(
        events.contains(&format!("finished groups {}", group_ids.len() - 1)),
        "{events:?}"
    );

    // The same during a restore's read-back: the object is simply missing.
    let keys = [key(&gone), key(&group_ids[1])];
    let snapshot = read_objects(&client(&server), &keys).await.unwrap();
    assert!(snapshot.get(&keys[0]).is_none() && snapshot.get(&keys[1]).is_some());
}

#[tokio::test]
async fn other_link_errors_still_fail_the_read() {
    let group_ids = ids(&sample("group-list-response.json"));
    for (status, code) in [
        (404, ""),
        (404, "BadRequest"),
        (403, "Authorization_RequestDenied"),
    ] {
        let owners = format!("groups/{}/owners", group_ids[0]);
        let server = start(
            move |c: &Call| {
                if c.path == owners {
                    Reply::graph_error(status, code, "no")
                } else {
                    sample_tenant(c)
                }
            },
            token_counter(),
        )
        .await;
        let err = read_tenant(&client(&server), &kinds(&["groups"]), &NoProgress)
            .await
            .unwrap_err();
        let ReadError::Graph(graph) = &err else {
            panic!("{err:?}")
        };
        let GraphError::Read { kind, source } = graph.as_ref() else {
            panic!("{err:?}")
        };
        assert_eq!(kind, "groups");
        assert_eq!(source.status(), Some(status), "{source:?}");
    }
}

#[tokio::test]
async fn unreadable_extension_definitions_fail_the_read_naming_the_permission() {
    let server = start(
        |c: &Call| match c.path.as_str() {
            "directoryObjects/getAvailableExtensionProperties" => Reply::graph_error(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            ),
            _ => sample_tenant(c),
        },
        token_counter(),
    )
    .await;
    let err = read_tenant(&client(&server), &kinds(&["users"]), &NoProgress)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("reading users"), "{err}");
    let hint = err.hint().unwrap();
    assert!(hint.contains("Directory.Read.All"), "{hint}");
    assert!(server.calls_to("users").is_empty(), "no read without them");
    // Kinds without extension attributes never ask.
    read_tenant(
        &client(&server),
        &kinds(&["conditionalAccessPolicies"]),
        &NoProgress,
    )
    .await
    .unwrap();
}

/// Owners of `n` users, as Graph expands or lists them.
fn owners(n: usize) -> Value {
    (0..n)
        .map(|i| json!({"@odata.type": "#microsoft.graph.user", "id": format!("u{i:02}"), "displayName": format!("User {i}")}))
        .collect()
}

#[tokio::test]
async fn a_list_reads_owners_of_many_objects_and_those_it_cannot_answer_for_on_their_own() {
    // a1 is listed with its owner; a2 with 20, as many as Graph expands (maybe cut short);
    // a3 is not listed (deleted since the round), and its own read finds it gone.
    let server = start(
        |c: &Call| match c.path.as_str() {
            "applications" => {
                assert_eq!(c.query["$select"], "id");
                assert_eq!(c.query["$expand"], "owners($select=id,displayName)");
                Reply::json(json!({"value": [
                    {"id": "a1", "owners": owners(1)},
                    {"id": "a2", "owners": owners(20)},
                    {"id": "a4", "owners": []},
                ]}))
            }
            "applications/a2/owners" => Reply::json(json!({"value": owners(25)})),
            "applications/a3/owners" => {
                Reply::graph_error(404, "Request_ResourceNotFound", "Resource does not exist")
            }
            other => panic!("unexpected read of {other}"),
        },
        token_counter(),
    )
    .await;
    let kind = schema::kind("applications").unwrap();
    let mut objects: Vec<Object> = ["a1", "a2", "a3"]
        .iter()
        .map(|id| normalize(kind, &json!({"id": id, "displayName": id}), BTreeMap::new()).unwrap())
        .collect();
    let owners_link = kind.links.iter().find(|l| l.name == "owners").unwrap();
    let gone = lists::read_by_lists(
        &client(&server),
        kind,
        &mut objects,
        &[lists::Relationship::Link(owners_link)],
    )
    .await
    .unwrap();
    assert_eq!(gone, ["a3"]);
    let counts: Vec<(&str, usize)> = objects
        .iter()
        .map(|o| (o.id.as_str(), o.link_ids("owners").count()))
        .collect();
    assert_eq!(counts, [("a1", 1), ("a2", 25)]);
    assert_eq!(server.calls_to("applications/a1/owners").len(), 0);
}
