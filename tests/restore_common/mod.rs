//! What the `restore`/`apply`/`plan` end-to-end tests share: a snapshotted example tenant,
//! damage done to it through Graph (as an administrator or a bad script would), and read-backs
//! of the tenant through Graph to check what a command really changed.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use serde_json::{json, Value};

use crate::common::*;

/// The example tenant, snapshotted once (HEAD is the healthy state).
pub fn healthy() -> Harness {
    let h = Harness::seeded(&Path::new(env!("CARGO_MANIFEST_DIR")).join("example-repo"));
    assert_status(&h.run(&["-q", "snapshot"]), 0);
    h
}

/// Snapshots the damaged tenant; asserts that it made a new commit.
pub fn snapshot_damage(h: &Harness) {
    let before = h.head();
    assert_status(&h.run(&["-q", "snapshot"]), 0);
    assert_ne!(h.head(), before, "the damage made a commit");
}

pub fn writes(h: &Harness) -> u64 {
    h.emulator.stats().writes
}

/// A Graph request that must answer `status`; returns the body.
#[track_caller]
pub fn graph_ok(h: &Harness, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
    let (got, body) = h.graph(method, path, body);
    assert_eq!(got, status, "{method} {path}: {body}");
    body
}

pub fn get(h: &Harness, path: &str) -> Value {
    graph_ok(h, "GET", path, None, 200)
}

pub fn user(h: &Harness, id: &str) -> Value {
    get(
        h,
        &format!("users/{id}?$select=id,department,jobTitle,mobilePhone,accountEnabled"),
    )
}

pub fn patch_user(h: &Harness, id: &str, body: Value) {
    graph_ok(h, "PATCH", &format!("users/{id}"), Some(body), 204);
}

/// Ids of a link (`members`, `owners`) of a group, read live.
pub fn link_ids(h: &Harness, group: &str, link: &str) -> BTreeSet<String> {
    let v = get(h, &format!("groups/{group}/{link}?$select=id&$top=999"));
    assert!(v.get("@odata.nextLink").is_none(), "one page");
    v["value"]
        .as_array()
        .expect("a collection")
        .iter()
        .map(|o| o["id"].as_str().expect("id").to_string())
        .collect()
}

pub fn add_member(h: &Harness, group: &str, member: &str) {
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

pub fn remove_member(h: &Harness, group: &str, member: &str) {
    graph_ok(
        h,
        "DELETE",
        &format!("groups/{group}/members/{member}/$ref"),
        None,
        204,
    );
}

/// The id of the object at HEAD whose file starts with `prefix` and contains `needle`.
pub fn id(h: &Harness, prefix: &str, needle: &str) -> String {
    h.id_of(&h.file(prefix, needle))
}

/// Ids of every object file under `prefix` at HEAD, sorted by path.
pub fn ids_under(h: &Harness, prefix: &str) -> Vec<String> {
    h.git(&["ls-tree", "-r", "--name-only", "HEAD", prefix])
        .lines()
        .map(|path| h.id_of(path))
        .collect()
}

/// Live ids of a kind's collection.
pub fn live_ids(h: &Harness, collection: &str) -> BTreeSet<String> {
    get(h, &format!("{collection}?$select=id&$top=999"))["value"]
        .as_array()
        .expect("a collection")
        .iter()
        .map(|o| o["id"].as_str().expect("id").to_string())
        .collect()
}

/// Appends TOML to the repository's `tenantgit.toml` (the working tree's copy is the one read).
pub fn configure(h: &Harness, toml: &str) {
    let path = h.repo.join("tenantgit.toml");
    let mut text = std::fs::read_to_string(&path).expect("tenantgit.toml");
    text.push('\n');
    text.push_str(toml);
    std::fs::write(&path, text).expect("write tenantgit.toml");
}

/// `tenantgit diff REV --exit-code` must say the tenant matches REV.
#[track_caller]
pub fn assert_matches(h: &Harness, rev: &str) {
    let out = h.run(&["diff", rev, "--exit-code"]);
    assert_status(&out, 0);
}

/// The JSON documents on stdout (a plan, then with `--yes` the apply report).
pub fn json_docs(out: &Output) -> Vec<Value> {
    serde_json::Deserializer::from_str(&stdout(out))
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .expect("stdout is JSON")
}

/// Runs a command that must write nothing: returns its output.
#[track_caller]
pub fn run_without_writes(h: &Harness, args: &[&str]) -> Output {
    let before = writes(h);
    let out = h.run(args);
    assert_eq!(writes(h), before, "{args:?} wrote to the tenant");
    out
}

/// Asserts an `error:` line containing `needle`, a `hint:` line, exit status 2.
#[track_caller]
pub fn assert_error(out: &Output, needle: &str) {
    assert_status(out, 2);
    let err = stderr(out);
    assert!(
        err.contains("error:") && err.contains(needle) && err.contains("\nhint:"),
        "expected an error naming {needle:?}:\n{err}"
    );
}

/// Redacts run-dependent details, including durations written as `0.0 s`.
pub fn redact_all(h: &Harness, text: &str) -> String {
    let text = redact(text, &h.emulator.url());
    regex::Regex::new(r"\d+\.\d+ s\b")
        .expect("valid regex")
        .replace_all(&text, "<secs>")
        .into_owned()
}

pub fn snap(name: &str, text: &str) {
    insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, text);
    });
}
