//! The tenant behind tenantgit's back: reads and changes made through Graph as an administrator
//! (or a bad script) would make them, the emulator's write counter, and the example tenant
//! snapshotted once, the starting point of the `restore`/`apply`/`plan` tests.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::command_output::{assert_status, CommandOutput};
use super::test_environment::TestEnvironment;

/// The example tenant, snapshotted once (HEAD is the healthy state).
pub fn healthy() -> TestEnvironment {
    let h = TestEnvironment::example();
    assert_status(&h.run(&["-q", "snapshot"]), 0);
    h
}

/// Snapshots the damaged tenant; asserts that it made a new commit.
pub fn snapshot_damage(h: &TestEnvironment) {
    let before = h.head();
    assert_status(&h.run(&["-q", "snapshot"]), 0);
    assert_ne!(h.head(), before, "the damage made a commit");
}

/// Graph writes the emulator has received so far.
pub fn writes(h: &TestEnvironment) -> u64 {
    h.emulator.stats().writes
}

/// A Graph request that must answer `status`; returns the body.
#[track_caller]
pub fn graph_ok(
    h: &TestEnvironment,
    method: &str,
    path: &str,
    body: Option<Value>,
    status: u16,
) -> Value {
    let (got, body) = h.graph(method, path, body);
    assert_eq!(got, status, "{method} {path}: {body}");
    body
}

#[track_caller]
pub fn get(h: &TestEnvironment, path: &str) -> Value {
    graph_ok(h, "GET", path, None, 200)
}

#[track_caller]
pub fn user(h: &TestEnvironment, id: &str) -> Value {
    get(
        h,
        &format!(
            "users/{id}?$select=id,department,jobTitle,mobilePhone,accountEnabled,usageLocation"
        ),
    )
}

#[track_caller]
pub fn patch_user(h: &TestEnvironment, id: &str, body: Value) {
    graph_ok(h, "PATCH", &format!("users/{id}"), Some(body), 204);
}

/// Ids of a link (`members`, `owners`) of a group, read live.
#[track_caller]
pub fn link_ids(h: &TestEnvironment, group: &str, link: &str) -> BTreeSet<String> {
    let v = get(h, &format!("groups/{group}/{link}?$select=id&$top=999"));
    assert!(v.get("@odata.nextLink").is_none(), "one page");
    v["value"]
        .as_array()
        .expect("a collection")
        .iter()
        .map(|o| o["id"].as_str().expect("id").to_string())
        .collect()
}

#[track_caller]
pub fn add_member(h: &TestEnvironment, group: &str, member: &str) {
    graph_ok(
        h,
        "POST",
        &format!("groups/{group}/members/$ref"),
        Some(
            json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{member}")}),
        ),
        204,
    );
}

#[track_caller]
pub fn remove_member(h: &TestEnvironment, group: &str, member: &str) {
    graph_ok(
        h,
        "DELETE",
        &format!("groups/{group}/members/{member}/$ref"),
        None,
        204,
    );
}

/// Live ids of a kind's collection.
#[track_caller]
pub fn live_ids(h: &TestEnvironment, collection: &str) -> BTreeSet<String> {
    get(h, &format!("{collection}?$select=id&$top=999"))["value"]
        .as_array()
        .expect("a collection")
        .iter()
        .map(|o| o["id"].as_str().expect("id").to_string())
        .collect()
}

/// The id of the object at HEAD whose file starts with `prefix` and contains `needle`.
pub fn id(h: &TestEnvironment, prefix: &str, needle: &str) -> String {
    h.id_of(&h.file(prefix, needle))
}

/// Ids of every object file under `prefix` at HEAD, sorted by path.
pub fn ids_under(h: &TestEnvironment, prefix: &str) -> Vec<String> {
    h.git(&["ls-tree", "-r", "--name-only", "HEAD", prefix])
        .lines()
        .map(|path| h.id_of(path))
        .collect()
}

/// Changes synced objects the way Entra Connect does when Active Directory changes them
/// (`POST /_emulator/sync`: properties, a user's manager, a group's members), where Graph
/// refuses the same writes.
#[track_caller]
pub fn sync(h: &TestEnvironment, changes: Value) {
    let resp = reqwest::blocking::Client::new()
        .post(format!("{}/_emulator/sync", h.emulator.url()))
        .json(&json!({ "changes": changes }))
        .send()
        .expect("sync request");
    let status = resp.status().as_u16();
    assert_eq!(status, 200, "{}", resp.text().unwrap_or_default());
}

/// Ids of the users whose file at HEAD has this line.
fn users_with(h: &TestEnvironment, line: &str) -> BTreeSet<String> {
    let pattern = format!("^{line}$");
    h.git(&["grep", "-l", "-e", &pattern, "HEAD", "--", "users/"])
        .lines()
        .map(|l| h.id_of(l.strip_prefix("HEAD:").unwrap_or(l)))
        .collect()
}

/// Ids of the members (not guests) at HEAD, sorted by path.
pub fn member_users(h: &TestEnvironment) -> Vec<String> {
    let members = users_with(h, "userType: Member");
    ids_under(h, "users/")
        .into_iter()
        .filter(|u| members.contains(u))
        .collect()
}

/// Ids of the cloud-only members at HEAD (not synced from Active Directory, not guests), sorted
/// by path: the users whose department, job title and manager Graph lets an administrator write.
pub fn cloud_only_users(h: &TestEnvironment) -> Vec<String> {
    let synced = users_with(h, "onPremisesSyncEnabled: true");
    member_users(h)
        .into_iter()
        .filter(|u| !synced.contains(u))
        .collect()
}

/// Appends TOML to the repository's `tenantgit.toml` (the working tree's copy is the one read).
pub fn configure(h: &TestEnvironment, toml: &str) {
    let path = h.repo.join("tenantgit.toml");
    let mut text = std::fs::read_to_string(&path).expect("tenantgit.toml");
    text.push('\n');
    text.push_str(toml);
    std::fs::write(&path, text).expect("write tenantgit.toml");
}

/// `tenantgit diff REV --exit-code` must say the tenant matches REV.
#[track_caller]
pub fn assert_matches(h: &TestEnvironment, rev: &str) {
    let out = h.run(&["diff", rev, "--exit-code"]);
    assert_status(&out, 0);
}

/// Runs a command that must write nothing to the tenant: returns its output.
#[track_caller]
pub fn run_without_writes(h: &TestEnvironment, args: &[&str]) -> CommandOutput {
    let before = writes(h);
    let out = h.run(args);
    assert_eq!(writes(h), before, "{args:?} wrote to the tenant");
    out
}
