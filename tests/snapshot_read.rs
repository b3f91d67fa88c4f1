//! `tenantgit snapshot` reading a tenant that answers slowly: Graph's read throttle. The real
//! binary against the in-process emulator.

mod common;

use common::*;
use tenantgit::emulator::{EmulatorConfig, SyntheticSpec};

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
