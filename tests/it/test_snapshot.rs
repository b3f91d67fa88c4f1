//! `tenantgit snapshot` end to end: the real binary against the in-process Graph emulator.

use std::path::Path;

use serde_json::json;
use tenantgit::emulator::FaultRule;

use crate::assert_snapshot;
use crate::common::graph::SECRET;
use crate::common::*;

const SMALL: &str = "users=60,groups=12,members=8,apps=4,policies=4";

#[test]
fn first_snapshot_commits_every_kind_and_prints_the_commit() {
    let h = TestEnvironment::synthetic(SMALL);
    let out = h.run(&["snapshot"]);
    // stdout is the commit id; the narration (what was read and committed) goes to stderr.
    assert_snapshot!(out);
    let commit = out.stdout.trim().to_string();
    assert_eq!(commit.len(), 40, "stdout is the commit id: {commit:?}");
    assert_eq!(h.head().as_deref(), Some(commit.as_str()));
    let files = h.git(&["ls-tree", "-r", "--name-only", "HEAD"]);
    for prefix in [
        "tenantgit.toml",
        "users/",
        "groups/",
        "applications/",
        "servicePrincipals/",
        "namedLocations/",
        "conditionalAccessPolicies/",
        "policies/authenticationMethodsPolicy.yaml",
        "policies/authorizationPolicy.yaml",
    ] {
        assert!(
            files.lines().any(|f| f.starts_with(prefix)),
            "no {prefix} in\n{files}"
        );
    }
    assert_eq!(
        files.lines().filter(|f| f.starts_with("users/")).count(),
        60
    );
    // The working tree matches the commit.
    assert_eq!(h.git(&["status", "--porcelain"]), "");
    // Commit message names kinds and objects.
    let message = h.git(&["log", "-1", "--format=%B"]);
    assert!(message.contains("users: 60 added"), "{message}");
    // Objects are packed, and the repository is sound.
    h.git(&["fsck", "--full", "--strict"]);
    let loose = h.git(&["count-objects", "-v"]);
    let count: usize = loose
        .lines()
        .find_map(|l| l.strip_prefix("count: "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        count < 5,
        "objects should be packed, found {count} loose:\n{loose}"
    );
}

#[test]
fn unchanged_tenant_gives_the_same_tree_and_no_commit() {
    let h = TestEnvironment::synthetic(SMALL);
    assert_status(&h.run(&["snapshot"]), 0);
    let head = h.head().unwrap();
    let out = h.run(&["snapshot"]);
    // No commit id when nothing changed.
    assert_snapshot!(out);
    assert_eq!(h.head().unwrap(), head);

    // A second repository of the same tenant has the same tree, byte for byte.
    let other = h.root().join("other");
    let out = h.run_in(&other, &["snapshot"]);
    assert_status(&out, 0);
    assert_eq!(
        h.git_in(&other, &["rev-parse", "HEAD^{tree}"]),
        h.git(&["rev-parse", "HEAD^{tree}"])
    );
}

#[test]
fn a_changed_tenant_commits_only_what_changed() {
    let h = TestEnvironment::synthetic(SMALL);
    assert_status(&h.run(&["snapshot"]), 0);
    let user = h.file("users/", "");
    let id = h.id_of(&user);
    h.change_user(&id, json!({"department": "Changed Dept"}));
    let out = h.run(&["snapshot"]);
    assert_status(&out, 0);
    let changed = h.git(&["diff", "--name-only", "HEAD~1", "HEAD"]);
    assert_eq!(changed.trim(), user, "only the patched user's file changes");
    let message = h.git(&["log", "-1", "--format=%B"]);
    assert!(
        message.starts_with("snapshot: 1 users changed\n"),
        "{message}"
    );
    assert!(message.contains("users: 1 changed\n  ~ "), "{message}");
}

#[test]
fn a_fault_mid_read_commits_nothing_and_exits_2() {
    let h = TestEnvironment::synthetic(SMALL);
    assert_status(&h.run(&["snapshot"]), 0);
    // Fail fast: one retry, then the error.
    let toml = h.repo.join("tenantgit.toml");
    let text = std::fs::read_to_string(&toml)
        .unwrap()
        .replace("[graph]\n", "[graph]\nmax-retries = 1\n");
    std::fs::write(&toml, text).unwrap();
    let head = h.head().unwrap();
    let id = h.id_of(&h.file("users/", ""));
    h.change_user(&id, json!({"city": "Elsewhere"}));
    let rule: FaultRule = serde_json::from_value(json!({
        "method": "GET", "path": "/groups", "action": {"type": "status", "status": 500}
    }))
    .unwrap();
    h.emulator.set_faults(vec![rule]);
    let out = h.run(&["snapshot"]);
    assert_snapshot!(out);
    assert_eq!(h.head().unwrap(), head, "HEAD must not move");
    assert_eq!(
        h.git(&["status", "--porcelain"]),
        " M tenantgit.toml\n",
        "working tree untouched"
    );
}

#[test]
fn a_429_storm_still_yields_the_identical_commit() {
    let calm = TestEnvironment::synthetic(SMALL);
    assert_status(&calm.run(&["snapshot"]), 0);
    let tree = calm.git(&["rev-parse", "HEAD^{tree}"]);

    let storm = TestEnvironment::synthetic(SMALL);
    let rule: FaultRule = serde_json::from_value(json!({
        "probability": 0.4, "action": {"type": "throttle", "retryAfter": 0.01}
    }))
    .unwrap();
    storm.emulator.set_faults(vec![rule]);
    let out = storm.run(&["snapshot"]);
    assert_status(&out, 0);
    assert!(
        storm.emulator.stats().throttled > 0,
        "the storm must have throttled something"
    );
    assert_eq!(storm.git(&["rev-parse", "HEAD^{tree}"]), tree);
}

#[test]
fn bad_credentials_name_the_variable_to_fix() {
    let h = TestEnvironment::synthetic(SMALL);
    let out = h
        .run_with(&["snapshot"], |c| {
            c.env("AZURE_CLIENT_SECRET", "wrong-secret")
        })
        .redact_failing_kind();
    assert_snapshot!("wrong_secret", out);
    // Said explicitly: a snapshot would show a printed secret, not forbid it.
    assert!(
        !format!("{}{}", out.stdout, out.stderr).contains("wrong-secret"),
        "the secret must not be printed: {out}"
    );
    assert!(h.head().is_none(), "nothing committed");

    let out = h.run_with(&["snapshot"], |c| c.env_remove("AZURE_CLIENT_ID"));
    assert_snapshot!("no_client_id", out);
}

#[test]
fn unreachable_graph_is_a_clear_error() {
    let h = TestEnvironment::synthetic(SMALL);
    let out = h.run_with(&["snapshot"], |c| {
        c.env("TENANTGIT_GRAPH_URL", "http://127.0.0.1:9")
    });
    assert_snapshot!(out.redact_failing_kind());
}

#[test]
fn a_locked_repository_is_refused() {
    let h = TestEnvironment::synthetic(SMALL);
    assert_status(&h.run(&["snapshot"]), 0);
    std::fs::write(h.repo.join(".git/tenantgit.lock"), "12345 snapshot\n").unwrap();
    let out = h.run(&["snapshot"]);
    assert_snapshot!(out);
}

#[test]
fn a_folder_with_files_but_no_repository_is_refused() {
    let h = TestEnvironment::synthetic(SMALL);
    std::fs::create_dir_all(&h.repo).unwrap();
    std::fs::write(h.repo.join("notes.txt"), "mine").unwrap();
    let out = h.run(&["snapshot"]);
    assert_snapshot!(out);
    assert!(!h.repo.join(".git").exists(), "nothing written");
}

#[test]
fn secrets_never_reach_git_or_output() {
    // A seed whose application carries secret values that Graph would never return on a list:
    // even so, none may reach the repository.
    let seed = tempfile::tempdir().unwrap();
    let dir = seed.path().join("applications/ab");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("leaky.ab000000-0000-4000-8000-000000000001.yaml"),
        "id: ab000000-0000-4000-8000-000000000001\ndisplayName: Leaky\nappId: cd000000-0000-4000-8000-000000000001\n\
         passwordCredentials:\n- keyId: 0e000000-0000-4000-8000-000000000001\n  hint: Sup\n  secretText: SuperSecretValue123\n\
         keyCredentials:\n- keyId: 0f000000-0000-4000-8000-000000000001\n  key: UHJpdmF0ZUtleUJ5dGVz\n  type: AsymmetricX509Cert\n",
    )
    .unwrap();
    let h = TestEnvironment::seeded(seed.path());
    let out = h.run(&["snapshot"]);
    assert_status(&out, 0);
    let everything = h.git(&["log", "-p", "--all"]);
    for secret in ["SuperSecretValue123", "UHJpdmF0ZUtleUJ5dGVz", SECRET] {
        assert!(!everything.contains(secret), "{secret} reached git");
        assert!(
            !out.stdout.contains(secret) && !out.stderr.contains(secret),
            "{secret} reached output"
        );
    }
    assert!(
        everything.contains("0e000000-0000-4000-8000-000000000001"),
        "credential metadata is kept"
    );
}

#[test]
fn every_kind_round_trips_through_the_emulator() {
    // example-repo is a snapshot repository: seeding the emulator with it and snapshotting the
    // result must give the very same files.
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("example-repo");
    let h = TestEnvironment::seeded(&example);
    assert_status(&h.run(&["snapshot"]), 0);
    let kinds = tenantgit::schema::kinds();
    let mut compared = 0;
    for entry in walkdir::WalkDir::new(&example) {
        let entry = entry.unwrap();
        let rel = entry
            .path()
            .strip_prefix(&example)
            .unwrap()
            .to_string_lossy()
            .to_string();
        if entry.file_type().is_file() && tenantgit::layout::kind_for_path(&rel).is_some() {
            let ours = std::fs::read_to_string(h.repo.join(&rel))
                .unwrap_or_else(|_| panic!("{rel} missing"));
            assert_eq!(
                ours,
                std::fs::read_to_string(entry.path()).unwrap(),
                "{rel} differs"
            );
            compared += 1;
        }
    }
    for kind in kinds {
        let files = h.git(&["ls-tree", "-r", "--name-only", "HEAD"]);
        assert!(
            files
                .lines()
                .any(|f| tenantgit::layout::kind_for_path(f).is_some_and(|k| k.kind == kind.kind)),
            "example-repo lacks {}",
            kind.kind
        );
    }
    assert!(compared > 20, "example-repo is too small: {compared} files");
}

/// One fault on every read of a path, and a repository that gives up after one retry.
fn faulty(path: &str, action: serde_json::Value) -> TestEnvironment {
    let h = TestEnvironment::synthetic(SMALL);
    std::fs::create_dir_all(&h.repo).unwrap();
    h.git(&["init", "-q", "-b", "main"]);
    std::fs::write(h.repo.join("tenantgit.toml"), "[graph]\nmax-retries = 1\n").unwrap();
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
    let rule: FaultRule =
        serde_json::from_value(json!({"method": "GET", "path": path, "action": action})).unwrap();
    h.emulator.set_faults(vec![rule]);
    h
}

/// Runs a snapshot that must fail with one `error:` and a `hint:`, and change nothing.
fn fails_cleanly(h: &TestEnvironment) -> CommandOutput {
    let head = h.head();
    let out = h.run(&["snapshot"]);
    assert_status(&out, 2);
    assert_eq!(out.stdout, "");
    assert_eq!(h.head(), head, "nothing committed");
    assert_eq!(h.git(&["status", "--porcelain"]), "", "nothing written");
    let err = &out.stderr;
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{err}"
    );
    assert!(err.contains("\nhint:"), "{err}");
    out
}

#[test]
fn forbidden_names_the_missing_permission() {
    let h = faulty("/users", json!({"type": "status", "status": 403}));
    assert_snapshot!(fails_cleanly(&h));
}

#[test]
fn truncated_and_non_json_bodies_are_errors_not_empty_tenants() {
    for action in ["truncatedBody", "nonJson", "dropConnection"] {
        let h = faulty("/groups", json!({ "type": action }));
        assert_snapshot!(action, fails_cleanly(&h));
    }
}

#[test]
fn an_unknown_odata_type_is_an_error() {
    let seed = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(seed.path().join("namedLocations")).unwrap();
    std::fs::write(
        seed.path().join("namedLocations/odd.0d000000-0000-4000-8000-000000000001.yaml"),
        "id: 0d000000-0000-4000-8000-000000000001\n\"@odata.type\": \"#microsoft.graph.compliantNetworkNamedLocation\"\ndisplayName: Odd\n",
    )
    .unwrap();
    let h = TestEnvironment::seeded(seed.path());
    let out = h.run(&["snapshot"]);
    assert_snapshot!(out);
    assert!(h.head().is_none());
}
