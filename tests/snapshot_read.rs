//! `tenantgit snapshot` reading a tenant that does not hold still or answers slowly: Graph's read
//! throttle and objects deleted while they are read. The real binary against the in-process
//! emulator.

mod common;

use common::*;
use serde_json::json;
use tenantgit::emulator::{EmulatorConfig, FaultRule, SyntheticSpec};

/// A tenant whose link reads (members and owners of 200 groups) cost more than a small quota.
const LARGE: &str = "users=2000,groups=200,members=10,apps=20,policies=4";

fn harness(spec: &str, read_throttle: Option<u32>) -> Harness {
    Harness::new(EmulatorConfig {
        synthetic: Some(spec.parse::<SyntheticSpec>().expect("valid spec")),
        read_throttle,
        ..EmulatorConfig::default()
    })
}

/// `git ls-tree -r HEAD` without `tenantgit.toml`, which differs in its settings only.
fn objects_at_head(h: &Harness) -> String {
    h.git(&["ls-tree", "-r", "HEAD"])
        .lines()
        .filter(|l| !l.ends_with("\ttenantgit.toml"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A repository whose tenantgit.toml has these `[graph]` lines.
fn with_graph_settings(h: &Harness, lines: &str) {
    std::fs::create_dir_all(&h.repo).unwrap();
    h.git(&["init", "-q", "-b", "main"]);
    std::fs::write(h.repo.join("tenantgit.toml"), format!("[graph]\n{lines}")).unwrap();
    h.git(&["add", "tenantgit.toml"]);
    h.git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-qm",
        "settings",
    ]);
}

#[test]
fn a_throttled_read_waits_and_commits_the_same_tree() {
    let calm = harness(LARGE, None);
    assert_status(&calm.run(&["snapshot"]), 0);
    let want = objects_at_head(&calm);
    assert!(want.lines().count() > 2000, "{}", want.lines().count());

    // A quota far below what the read needs: most link reads are answered 429 with a
    // Retry-After, many times over; the client waits as long as Graph asks.
    for settings in ["", "concurrency = 1\n"] {
        let h = harness(LARGE, Some(500));
        if !settings.is_empty() {
            with_graph_settings(&h, settings);
        }
        let out = h.run(&["snapshot"]);
        assert_status(&out, 0);
        let stats = h.emulator.stats();
        assert!(
            stats.throttled > 100,
            "{settings:?}: the read must have been throttled: {stats:?}"
        );
        assert_eq!(objects_at_head(&h), want, "{settings:?}");
        assert!(!stderr(&out).contains("error"), "{}", stderr(&out));
    }
}

/// The id of the first object of a collection, as an administrator would look it up.
fn first_id(h: &Harness, collection: &str) -> String {
    let (status, body) = h.graph("GET", &format!("{collection}?$select=id&$top=1"), None);
    assert_eq!(status, 200);
    body["value"][0]["id"].as_str().unwrap().to_string()
}

#[test]
fn an_object_deleted_between_list_and_link_read_is_left_out() {
    let spec = "users=60,groups=12,members=8,apps=4,policies=4";
    let calm = harness(spec, None);
    assert_status(&calm.run(&["snapshot"]), 0);
    let all = objects_at_head(&calm);

    let h = harness(spec, None);
    let group = first_id(&h, "groups");
    let app = first_id(&h, "applications");
    // Graph answers 404 for the links of an object deleted since the list was read.
    let rules: Vec<FaultRule> = serde_json::from_value(json!([
        {"method": "GET", "path": format!("/groups/{group}/members"),
         "action": {"type": "status", "status": 404}},
        {"method": "GET", "path": format!("/applications/{app}/owners"),
         "action": {"type": "status", "status": 404}},
    ]))
    .unwrap();
    h.emulator.set_faults(rules);
    let out = h.run(&["snapshot"]);
    assert_status(&out, 0);
    let err = stderr(&out);
    assert!(
        err.contains("left out 2 objects deleted while the tenant was read:")
            && err.contains(&format!("groups/{group}"))
            && err.contains(&format!("applications/{app}")),
        "{err}"
    );
    // Exactly those two are missing; everything else is as in a calm read.
    let got = objects_at_head(&h);
    let missing: Vec<&str> = all.lines().filter(|l| !got.contains(l)).collect();
    assert_eq!(missing.len(), 2, "{missing:?}");
    assert!(missing.iter().any(|l| l.contains(&group)), "{missing:?}");
    assert!(missing.iter().any(|l| l.contains(&app)), "{missing:?}");
    assert_eq!(got.lines().count(), all.lines().count() - 2);

    // With --quiet the note is not printed, and the result is the same.
    let q = harness(spec, None);
    let rules: Vec<FaultRule> = serde_json::from_value(json!([
        {"method": "GET", "path": format!("/groups/{group}/members"),
         "action": {"type": "status", "status": 404}},
    ]))
    .unwrap();
    q.emulator.set_faults(rules);
    let out = q.run(&["-q", "snapshot"]);
    assert_status(&out, 0);
    assert_eq!(stderr(&out), "");

    // Any other error on a link read still fails the snapshot.
    let rules: Vec<FaultRule> = serde_json::from_value(json!([
        {"method": "GET", "path": format!("/groups/{group}/owners"),
         "action": {"type": "status", "status": 403}},
    ]))
    .unwrap();
    let f = harness(spec, None);
    f.emulator.set_faults(rules);
    let out = f.run(&["snapshot"]);
    assert_status(&out, 2);
    assert!(f.head().is_none(), "nothing committed");
}
