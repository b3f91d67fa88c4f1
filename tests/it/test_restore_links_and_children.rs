//! What a restore needs that is not a plain property, as Graph v1.0 has it: a user's `manager`
//! (a single-valued link, `PUT`/`DELETE users/{id}/manager/$ref`), an application's
//! `federatedIdentityCredentials` (contained children, upserted by name), and the v1.0
//! properties tenantgit once lost. Each test snapshots a generated hybrid tenant, damages it
//! through Graph, restores the commit before the damage and checks the tenant through Graph.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::common::graph::directory_object;
use crate::common::tenant::*;
use crate::common::*;

const SPEC: &str = "users=60,groups=12,members=6,apps=20,policies=3";

/// The working tree's file as JSON.
fn file_json(h: &TestEnvironment, path: &str) -> Value {
    let text = std::fs::read_to_string(h.repo.join(path)).expect("the file exists");
    serde_yaml::from_str(&text).expect("an object file is YAML")
}

/// Object files at HEAD under `prefix`, with their contents.
fn files(h: &TestEnvironment, prefix: &str) -> Vec<(String, Value)> {
    h.git(&["ls-tree", "-r", "--name-only", "HEAD", prefix])
        .lines()
        .map(|p| (p.to_string(), file_json(h, p)))
        .collect()
}

/// Cloud-only members (Graph writes their manager) that have a manager, by id.
fn cloud_members_with_a_manager(h: &TestEnvironment) -> Vec<(String, String)> {
    files(h, "users/")
        .into_iter()
        .filter(|(_, u)| u["onPremisesSyncEnabled"] != true && u["userType"] == "Member")
        .filter_map(|(_, u)| {
            let manager = u["manager"].as_str()?.to_string();
            Some((u["id"].as_str()?.to_string(), manager))
        })
        .collect()
}

/// The id of a user's manager, read live (`None`: Graph answers 404, no manager).
fn live_manager(h: &TestEnvironment, user: &str) -> Option<String> {
    let (status, body) = h.graph("GET", &format!("users/{user}/manager?$select=id"), None);
    match status {
        200 => Some(body["id"].as_str().expect("an id").to_string()),
        404 => None,
        other => panic!("GET manager: {other} {body}"),
    }
}

#[test]
fn a_managers_link_is_stored_and_restored_with_put_and_delete_ref() {
    let h = TestEnvironment::synthetic(SPEC);
    assert_status(&h.run(&["-q", "snapshot"]), 0);
    let users = cloud_members_with_a_manager(&h);
    assert!(
        users.len() >= 2,
        "the tenant has cloud-only members with managers"
    );
    let (cleared, cleared_manager) = users[0].clone();
    let (moved, moved_manager) = users[1].clone();
    // The file names the manager on one line, with the name as a comment.
    let text = std::fs::read_to_string(h.repo.join(h.file("users/", &cleared))).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("manager: "))
        .expect("a manager line");
    assert!(
        line.starts_with(&format!("manager: {cleared_manager}  # ")),
        "{line}"
    );

    // A script wipes one manager and moves another user to a different one.
    graph_ok(
        &h,
        "DELETE",
        &format!("users/{cleared}/manager/$ref"),
        None,
        204,
    );
    graph_ok(
        &h,
        "PUT",
        &format!("users/{moved}/manager/$ref"),
        Some(directory_object(&cleared)),
        204,
    );
    snapshot_damage(&h);
    let damaged = std::fs::read_to_string(h.repo.join(h.file("users/", &cleared))).unwrap();
    assert!(damaged.contains("\nmanager: null\n"), "{damaged}");

    let out = h.run(&["restore", "HEAD~1", "--format", "json"]);
    assert_status(&out, 0);
    let plan = &json_docs(&out)[0];
    let ops: BTreeMap<String, Vec<String>> =
        plan["actions"]
            .as_array()
            .unwrap()
            .iter()
            .fold(BTreeMap::new(), |mut m, a| {
                m.entry(a["id"].as_str().unwrap().to_string())
                    .or_insert_with(Vec::new)
                    .push(a["op"].as_str().unwrap().to_string());
                m
            });
    // Setting a manager replaces the one there: one PUT each, no DELETE before it.
    assert_eq!(ops[&cleared], ["addLinks"], "{ops:?}");
    assert_eq!(ops[&moved], ["addLinks"], "{ops:?}");

    let before = writes(&h);
    assert_status(&h.run(&["restore", "HEAD~1", "--yes"]), 0);
    assert_eq!(writes(&h) - before, 2, "one PUT …/manager/$ref each");
    assert_eq!(live_manager(&h, &cleared), Some(cleared_manager));
    assert_eq!(live_manager(&h, &moved), Some(moved_manager));
    assert_matches(&h, "HEAD~1");
    let again = writes(&h);
    assert_status(&h.run(&["restore", "HEAD~1", "--yes"]), 0);
    assert_eq!(writes(&h), again, "a second run writes nothing");
}

#[test]
fn a_manager_the_backup_lacks_is_removed_with_delete_ref() {
    let h = TestEnvironment::synthetic(SPEC);
    assert_status(&h.run(&["-q", "snapshot"]), 0);
    let (user, _) = cloud_members_with_a_manager(&h).remove(0);
    graph_ok(
        &h,
        "DELETE",
        &format!("users/{user}/manager/$ref"),
        None,
        204,
    );
    assert_status(&h.run(&["-q", "snapshot"]), 0);
    let without = h.head().unwrap();
    let other = cloud_members_with_a_manager(&h)
        .into_iter()
        .find(|(u, _)| *u != user)
        .expect("another member")
        .0;
    graph_ok(
        &h,
        "PUT",
        &format!("users/{user}/manager/$ref"),
        Some(directory_object(&other)),
        204,
    );
    snapshot_damage(&h);

    let before = writes(&h);
    assert_status(&h.run(&["restore", &without, "--yes"]), 0);
    assert_eq!(writes(&h) - before, 1, "one DELETE …/manager/$ref");
    assert_eq!(live_manager(&h, &user), None);
    assert_matches(&h, &without);
}

/// An application of the generated tenant with federated credentials: its file path and id.
fn app_with_credentials(h: &TestEnvironment) -> (String, String) {
    files(h, "applications/")
        .into_iter()
        .find(|(_, a)| {
            a["federatedIdentityCredentials"]
                .as_array()
                .is_some_and(|c| c.len() >= 2)
        })
        .map(|(p, a)| (p, a["id"].as_str().unwrap().to_string()))
        .expect("an application with two federated credentials")
}

/// The application's federated credentials, read live, by name (Graph's own id dropped).
fn live_credentials(h: &TestEnvironment, app: &str) -> BTreeMap<String, Value> {
    get(
        h,
        &format!("applications/{app}/federatedIdentityCredentials"),
    )["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let kept: serde_json::Map<String, Value> =
                ["name", "issuer", "subject", "audiences", "description"]
                    .iter()
                    .map(|p| (p.to_string(), c[*p].clone()))
                    .collect();
            (c["name"].as_str().unwrap().to_string(), Value::Object(kept))
        })
        .collect()
}

#[test]
fn federated_identity_credentials_are_restorable_children_of_their_application() {
    let h = TestEnvironment::synthetic(SPEC);
    assert_status(&h.run(&["-q", "snapshot"]), 0);
    let (path, app) = app_with_credentials(&h);
    let stored = file_json(&h, &path)["federatedIdentityCredentials"].clone();
    let names: Vec<&str> = stored
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "stored sorted by name");
    assert!(
        stored[0].get("id").is_none(),
        "Graph's own id of a child is not stored: a re-created one gets a new one"
    );
    let healthy = live_credentials(&h, &app);

    // One credential deleted, one pointed at another repository, one added.
    let base = format!("applications/{app}/federatedIdentityCredentials");
    graph_ok(
        &h,
        "DELETE",
        &format!("{base}(name='{}')", names[0]),
        None,
        204,
    );
    graph_ok(
        &h,
        "PATCH",
        &format!("{base}(name='{}')", names[1]),
        Some(json!({"subject": "repo:attacker/evil:ref:refs/heads/main"})),
        204,
    );
    graph_ok(
        &h,
        "POST",
        &base,
        Some(
            json!({"name": "backdoor", "issuer": "https://token.actions.githubusercontent.com",
            "subject": "repo:attacker/evil:environment:prod", "audiences": ["api://AzureADTokenExchange"]}),
        ),
        201,
    );
    // Delta rounds carry no children (nor application owners): an incremental snapshot reads
    // them for the applications a round reports, a full read for all.
    let before = h.head();
    assert_status(&h.run(&["-q", "snapshot", "--full"]), 0);
    assert_ne!(h.head(), before, "the damage made a commit");

    let out = h.run(&["restore", "HEAD~1", "--format", "json"]);
    assert_status(&out, 0);
    let plan = &json_docs(&out)[0];
    let mut ops: Vec<(String, String)> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["id"] == app.as_str())
        .map(|a| {
            (
                a["op"].as_str().unwrap().to_string(),
                a["key"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    ops.sort();
    assert_eq!(
        ops,
        [
            ("removeChild".to_string(), "backdoor".to_string()),
            ("writeChild".to_string(), names[0].to_string()),
            ("writeChild".to_string(), names[1].to_string()),
        ],
        "only the children that differ"
    );

    let before = writes(&h);
    assert_status(&h.run(&["restore", "HEAD~1", "--yes"]), 0);
    assert_eq!(writes(&h) - before, 3);
    assert_eq!(live_credentials(&h, &app), healthy);
    assert_status(&h.run(&["diff", "HEAD~1", "--full", "--exit-code"]), 0);
    let again = writes(&h);
    assert_status(&h.run(&["restore", "HEAD~1", "--yes"]), 0);
    assert_eq!(writes(&h), again, "a second run writes nothing");
}

#[test]
fn v1_properties_once_lost_are_stored_and_restored() {
    let h = TestEnvironment::synthetic(SPEC);
    assert_status(&h.run(&["-q", "snapshot"]), 0);
    let user = files(&h, "users/")
        .into_iter()
        .find(|(_, u)| u["onPremisesSyncEnabled"] != true && u["userType"] == "Member")
        .map(|(_, u)| u["id"].as_str().unwrap().to_string())
        .expect("a cloud-only member");
    let app = ids_under(&h, "applications/").remove(0);
    let user_props = json!({
        "employeeLeaveDateTime": "2031-03-31T00:00:00Z",
        "preferredDataLocation": "EUR",
        "authorizationInfo": {"certificateUserIds": ["X509:<PN>b@contoso.example", "X509:<PN>a@contoso.example"]},
    });
    patch_user(&h, &user, user_props.clone());
    let app_props = json!({
        "authenticationBehaviors": {"blockAzureADGraphAccess": true, "removeUnverifiedEmailClaim": true,
            "requireClientServicePrincipal": false},
        "servicePrincipalLockConfiguration": {"isEnabled": true, "allProperties": true,
            "credentialsWithUsageSign": true, "credentialsWithUsageVerify": true, "tokenEncryptionKeyId": true},
    });
    graph_ok(
        &h,
        "PATCH",
        &format!("applications/{app}"),
        Some(app_props.clone()),
        204,
    );
    assert_status(&h.run(&["-q", "snapshot"]), 0);
    let good = h.head().unwrap();
    let stored = file_json(&h, &h.file("users/", &user));
    assert_eq!(stored["preferredDataLocation"], "EUR");
    assert_eq!(
        stored["authorizationInfo"]["certificateUserIds"],
        json!(["X509:<PN>a@contoso.example", "X509:<PN>b@contoso.example"]),
        "a set, sorted"
    );

    patch_user(
        &h,
        &user,
        json!({"employeeLeaveDateTime": null, "preferredDataLocation": null, "authorizationInfo": null}),
    );
    graph_ok(
        &h,
        "PATCH",
        &format!("applications/{app}"),
        Some(json!({"authenticationBehaviors": null, "servicePrincipalLockConfiguration": null})),
        204,
    );
    snapshot_damage(&h);
    assert_status(&h.run(&["restore", &good, "--yes"]), 0);
    let live_user = get(
        &h,
        &format!(
            "users/{user}?$select=employeeLeaveDateTime,preferredDataLocation,authorizationInfo"
        ),
    );
    assert_eq!(live_user["preferredDataLocation"], "EUR");
    assert_eq!(live_user["employeeLeaveDateTime"], "2031-03-31T00:00:00Z");
    assert_eq!(
        live_user["authorizationInfo"]["certificateUserIds"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let live_app = get(
        &h,
        &format!(
            "applications/{app}?$select=authenticationBehaviors,servicePrincipalLockConfiguration"
        ),
    );
    assert_eq!(
        live_app["authenticationBehaviors"]["blockAzureADGraphAccess"],
        true
    );
    assert_eq!(
        live_app["servicePrincipalLockConfiguration"]["isEnabled"],
        true
    );
    assert_matches(&h, &good);
}
