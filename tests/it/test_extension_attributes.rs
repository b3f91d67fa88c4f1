//! Directory extension attributes (`extension_{appIdWithoutDashes}_{name}`) on users and groups:
//! discovered from the tenant's definitions (`getAvailableExtensionProperties`), stored by
//! `snapshot`, shown by `diff` and written back by `restore`; a definition registered since the
//! last snapshot makes the next one read the kinds it targets in full, and the new attribute
//! appears.

use serde_json::{json, Value};

use crate::common::tenant::*;
use crate::common::*;

/// The synthetic tenant's first application registers `costCenter` for users; a quarter of the
/// member users carry a value.
const SPEC: &str = "users=40,groups=8,apps=2,policies=1";

/// The tenant's directory extension definitions, as an administrator lists them.
fn definitions(h: &TestEnvironment) -> Vec<Value> {
    let body = graph_ok(
        h,
        "POST",
        "directoryObjects/getAvailableExtensionProperties",
        Some(json!({})),
        200,
    );
    body["value"].as_array().expect("a collection").clone()
}

/// The name of the synthetic tenant's `costCenter` attribute.
fn cost_center(h: &TestEnvironment) -> String {
    definitions(h)
        .iter()
        .filter_map(|d| d["name"].as_str())
        .find(|n| n.ends_with("_costCenter"))
        .expect("the synthetic tenant registers costCenter")
        .to_string()
}

/// Every user with `attribute` (and what tells cloud-only, synced and guest users apart), as
/// Graph has them.
fn users_with(h: &TestEnvironment, attribute: &str) -> Vec<Value> {
    let path = format!("users?$select=id,onPremisesSyncEnabled,userType,{attribute}&$top=999");
    get(h, &path)["value"]
        .as_array()
        .expect("a collection")
        .clone()
}

/// A cloud-only member user, the `n`-th one.
fn cloud_user(h: &TestEnvironment, attribute: &str, n: usize) -> String {
    users_with(h, attribute)
        .iter()
        .filter(|u| u["onPremisesSyncEnabled"] != true && u["userType"] == "Member")
        .nth(n)
        .and_then(|u| u["id"].as_str())
        .expect("the synthetic tenant has cloud-only members")
        .to_string()
}

/// A new cloud-only security group (Graph lets an administrator write it).
fn cloud_group(h: &TestEnvironment) -> String {
    let created = graph_ok(
        h,
        "POST",
        "groups",
        Some(json!({"displayName": "Badge holders", "mailEnabled": false,
                    "mailNickname": "badge-holders", "securityEnabled": true})),
        201,
    );
    created["id"].as_str().expect("an id").to_string()
}

/// The working tree's file of object `id` under `dir`.
fn file_text(h: &TestEnvironment, dir: &str, id: &str) -> String {
    let path = h.file(dir, id);
    std::fs::read_to_string(h.repo.join(path)).expect("the object's file")
}

/// The value of `attribute` in Graph (`Null` when unset).
fn live_value(h: &TestEnvironment, collection: &str, id: &str, attribute: &str) -> Value {
    let v = get(h, &format!("{collection}/{id}?$select=id,{attribute}"));
    v.get(attribute).cloned().unwrap_or(Value::Null)
}

#[test]
fn snapshot_stores_each_users_values_after_the_managed_properties() {
    let h = TestEnvironment::synthetic(SPEC);
    assert_status(&h.run(&["-q", "snapshot"]), 0);
    let name = cost_center(&h);
    let users = users_with(&h, &name);
    let with: Vec<&Value> = users.iter().filter(|u| u[&name].is_string()).collect();
    assert!(
        with.len() >= 3,
        "the seed gives a few users a value: {with:?}"
    );
    for u in &users {
        let id = u["id"].as_str().unwrap();
        let text = file_text(&h, "users/", id);
        match u[&name].as_str() {
            Some(value) => {
                let line = format!("{name}: {value}");
                let at = text
                    .lines()
                    .position(|l| l == line)
                    .unwrap_or_else(|| panic!("{id}: no `{line}` in\n{text}"));
                let managed_end = text
                    .lines()
                    .position(|l| l.starts_with("createdDateTime:"))
                    .expect("createdDateTime is stored");
                assert!(at > managed_end, "after the managed properties:\n{text}");
            }
            // (Synced users carry the division Entra Connect syncs, another extension.)
            None => assert!(!text.contains(&name), "{id} has no value:\n{text}"),
        }
    }
    // The files are what the tenant holds: no drift, and a full read changes nothing.
    assert_status(&h.run(&["diff", "--exit-code"]), 0);
    let head = h.head();
    assert_status(&h.run(&["-q", "snapshot", "--full"]), 0);
    assert_eq!(h.head(), head);
}

#[test]
fn a_wiped_value_is_shown_by_diff_and_restored_and_an_added_one_removed() {
    let h = TestEnvironment::synthetic(SPEC);
    let name = cost_center(&h);
    let (kept, extra) = (cloud_user(&h, &name, 0), cloud_user(&h, &name, 1));
    patch_user(&h, &kept, json!({&name: "CC-4242"}));
    patch_user(&h, &extra, json!({&name: null}));
    assert_status(&h.run(&["-q", "snapshot"]), 0);
    assert!(file_text(&h, "users/", &kept).contains(&format!("{name}: CC-4242")));

    // A script wipes the value of one user and sets one on another.
    patch_user(&h, &kept, json!({&name: null}));
    patch_user(&h, &extra, json!({&name: "CC-0001"}));

    let out = h.run(&["diff", "--format", "json"]);
    assert_status(&out, 0);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let attribute = |id: &str| -> Vec<(String, Value, Value)> {
        report["changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["id"] == id)
            .flat_map(|c| c["attributes"].as_array().unwrap().clone())
            .map(|a| {
                (
                    a["path"].as_str().unwrap().to_string(),
                    a["old"].clone(),
                    a["new"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(
        attribute(&kept),
        [(name.clone(), json!("CC-4242"), Value::Null)]
    );
    assert_eq!(
        attribute(&extra),
        [(name.clone(), Value::Null, json!("CC-0001"))]
    );

    let out = h.run(&["restore", "HEAD", "--yes", "--id", &kept, "--id", &extra]);
    assert_status(&out, 0);
    assert_eq!(live_value(&h, "users", &kept, &name), json!("CC-4242"));
    assert_eq!(live_value(&h, "users", &extra, &name), Value::Null);
    assert_matches(&h, "HEAD");
}

#[test]
fn a_desired_attribute_the_tenant_does_not_define_is_refused_before_any_write() {
    let h = TestEnvironment::synthetic(SPEC);
    let name = cost_center(&h);
    let id = cloud_user(&h, &name, 0);
    assert_status(&h.run(&["-q", "snapshot"]), 0);
    let path = h.file("users/", &id);
    let mut text = std::fs::read_to_string(h.repo.join(&path)).unwrap();
    text.push_str("extension_0000_unknown: x\n");
    std::fs::write(h.repo.join(&path), text).unwrap();
    h.git(&["commit", "-qam", "a hand edit"]);
    let out = run_without_writes(&h, &["restore", "HEAD", "--yes", "--id", &id]);
    assert_status(&out, 2);
    assert!(
        out.stderr
            .contains("`extension_0000_unknown` is not a directory extension attribute the tenant defines for User"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_newly_registered_extension_makes_the_next_snapshot_an_initial_round_with_it() {
    let h = TestEnvironment::synthetic(SPEC);
    let name = cost_center(&h);
    let (user, other) = (cloud_user(&h, &name, 0), cloud_user(&h, &name, 1));
    let group = cloud_group(&h);
    assert_status(&h.run(&["-q", "snapshot"]), 0);

    // The application that owns costCenter registers a badge for users and groups.
    let apps = get(&h, "applications?$select=id,appId&$top=999");
    let app_id = name
        .trim_start_matches("extension_")
        .trim_end_matches("_costCenter");
    let app = apps["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["appId"].as_str().unwrap().replace('-', "") == app_id)
        .expect("the application of costCenter");
    let created = graph_ok(
        &h,
        "POST",
        &format!(
            "applications/{}/extensionProperties",
            app["id"].as_str().unwrap()
        ),
        Some(json!({"name": "badge", "dataType": "String", "targetObjects": ["User", "Group"]})),
        201,
    );
    let badge = created["name"].as_str().unwrap().to_string();
    patch_user(&h, &user, json!({&badge: "B-42"}));
    graph_ok(
        &h,
        "PATCH",
        &format!("groups/{group}"),
        Some(json!({&badge: "G-7"})),
        204,
    );

    let out = h.run(&["snapshot"]);
    assert_status(&out, 0);
    let said = format!("{}{}", out.stdout, out.stderr);
    for kind in ["users", "groups"] {
        assert!(
            said.contains(&format!(
                "{kind}: the stored delta token was taken for other properties; reading {kind} in full"
            )),
            "{said}"
        );
    }
    assert!(file_text(&h, "users/", &user).contains(&format!("{badge}: B-42")));
    assert!(file_text(&h, "groups/", &group).contains(&format!("{badge}: G-7")));

    // The next snapshot follows the new tokens: a changed value and a removed one arrive in a
    // delta round, as a full read would see them.
    patch_user(&h, &user, json!({&badge: null}));
    patch_user(&h, &other, json!({&badge: "B-43"}));
    let out = h.run(&["snapshot"]);
    assert_status(&out, 0);
    assert!(
        out.stderr.contains("changes since the last snapshot")
            && !out.stderr.contains("other properties"),
        "{}",
        out.stderr
    );
    assert!(!file_text(&h, "users/", &user).contains(&badge));
    assert!(file_text(&h, "users/", &other).contains(&format!("{badge}: B-43")));
    let head = h.head();
    assert_status(&h.run(&["-q", "snapshot", "--full"]), 0);
    assert_eq!(
        h.head(),
        head,
        "the incremental snapshot equals a full read"
    );
}
