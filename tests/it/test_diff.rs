//! `tenantgit diff` end to end: the real binary against the in-process emulator seeded with
//! example-repo, after a scripted set of changes made through Graph.

use std::path::Path;

use serde_json::{json, Value};
use tenantgit::emulator::FaultRule;

use crate::assert_snapshot;
use crate::common::*;

/// The tenant of example-repo, snapshotted, then changed through Graph: two cloud-only users lose
/// their department and job title (Active Directory masters them for synced users), one user is
/// deleted (recycle bin), a security group is deleted (gone), a cloud-only department group loses
/// a member, a CA policy is disabled, a named location appears.
struct Scenario {
    h: TestEnvironment,
    user: String,
    deleted_user: String,
    group: String,
}

fn scenario() -> Scenario {
    let h = TestEnvironment::seeded(&Path::new(env!("CARGO_MANIFEST_DIR")).join("example-repo"));
    assert_status(&h.run(&["snapshot"]), 0);
    let user = h.id_of(&h.file("users/", "adele.lindqvist"));
    let other = h.id_of(&h.file("users/", "dana.silva"));
    let deleted_user = h.id_of(&h.file("users/", "olga.berg"));
    let group = h.id_of(&h.file("groups/", "analytics-squad"));
    let marketing = h.id_of(&h.file("groups/", "dept-marketing"));
    let ca = h.id_of(&h.file("conditionalAccessPolicies/", "ca002"));
    for id in [&user, &other] {
        let (status, _) = h.graph(
            "PATCH",
            &format!("users/{id}"),
            Some(json!({"department": null, "jobTitle": null})),
        );
        assert_eq!(status, 204);
    }
    assert_eq!(
        h.graph("DELETE", &format!("users/{deleted_user}"), None).0,
        204
    );
    assert_eq!(h.graph("DELETE", &format!("groups/{group}"), None).0, 204);
    let members =
        std::fs::read_to_string(h.repo.join(h.file("groups/", "dept-marketing"))).unwrap();
    let member = members
        .lines()
        .skip_while(|l| !l.starts_with("members:"))
        .nth(1)
        .and_then(|l| l.strip_prefix("- "))
        .and_then(|l| l.split_whitespace().next())
        .expect("dept-marketing has members")
        .to_string();
    assert_eq!(
        h.graph(
            "DELETE",
            &format!("groups/{marketing}/members/{member}/$ref"),
            None
        )
        .0,
        204
    );
    assert_eq!(
        h.graph(
            "PATCH",
            &format!("identity/conditionalAccess/policies/{ca}"),
            Some(json!({"state": "disabled"}))
        )
        .0,
        204
    );
    let (status, location) = h.graph(
        "POST",
        "identity/conditionalAccess/namedLocations",
        Some(json!({"@odata.type": "#microsoft.graph.ipNamedLocation", "displayName": "Branch office Lisbon",
            "isTrusted": true, "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "203.0.113.0/24"}]})),
    );
    assert_eq!(status, 201);
    h.redact(
        location["id"].as_str().expect("the new location's id"),
        "<new location id>",
    );
    Scenario {
        h,
        user,
        deleted_user,
        group,
    }
}

#[test]
fn reports_against_the_live_tenant_in_three_formats() {
    let s = scenario();
    // A deleted user is soft-deleted and restorable until a date, the security group gone.
    assert_snapshot!("diff_human", s.h.run(&["diff"]));

    let json_out = s.h.run(&["diff", "--format", "json"]);
    assert_status(&json_out, 0);
    let report: Value = serde_json::from_str(&json_out.stdout).expect("JSON output");
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/diff-report.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(report["version"], 1);
    let change = |id: &str| {
        report["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .cloned()
    };
    let user = change(&s.user).expect("the patched user is reported");
    assert_eq!(user["change"], "modified");
    assert!(user["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["path"] == "department" && a["new"].is_null()));
    assert_eq!(change(&s.deleted_user).unwrap()["change"], "removed");
    assert!(change(&s.deleted_user).unwrap()["restorable"]["restorableUntil"].is_string());
    assert!(
        change(&s.group).unwrap()["restorable"].is_null(),
        "a security group is gone"
    );
    assert_snapshot!("diff_json", json_out);

    assert_snapshot!("diff_markdown", s.h.run(&["diff", "--format", "markdown"]));
}

#[test]
fn exit_code_says_whether_anything_differs() {
    let s = scenario();
    assert_status(&s.h.run(&["diff", "--exit-code"]), 1);
    assert_status(
        &s.h.run(&["diff", "-q", "--exit-code", "--kind", "users"]),
        1,
    );
    // After a snapshot of the changed tenant, nothing differs: no false drift.
    assert_status(&s.h.run(&["snapshot"]), 0);
    assert_snapshot!(s.h.run(&["diff", "--exit-code"]));
}

#[test]
fn selection_by_kind_id_and_glob() {
    let s = scenario();
    let kinds_in = |out: &CommandOutput| -> Vec<String> {
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        v["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["kind"].as_str().unwrap().to_string())
            .collect()
    };
    let out = s.h.run(&["diff", "--format", "json", "--kind", "users"]);
    assert_status(&out, 0);
    let kinds = kinds_in(&out);
    assert!(
        !kinds.is_empty() && kinds.iter().all(|k| k == "users"),
        "{kinds:?}"
    );

    let out = s.h.run(&["diff", "--format", "json", "--id", &s.user]);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let ids: Vec<&str> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [s.user.as_str()]);

    let out =
        s.h.run(&["diff", "--format", "json", "conditionalAccessPolicies/*"]);
    assert_status(&out, 0);
    assert_eq!(kinds_in(&out), ["conditionalAccessPolicies"]);

    let out = s.h.run(&[
        "diff",
        "--format",
        "json",
        "HEAD",
        "--",
        "namedLocations/**",
    ]);
    assert_status(&out, 0);
    assert_eq!(kinds_in(&out), ["namedLocations"]);
}

#[test]
fn ignore_rules_hide_accepted_differences() {
    let s = scenario();
    let toml = s.h.repo.join("tenantgit.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    text.push_str("\n[[diff.ignore]]\nkind = \"users\"\npaths = [\"jobTitle\", \"department\"]\n");
    std::fs::write(&toml, text).unwrap();
    let out =
        s.h.run(&["diff", "--format", "json", "--id", &s.user, "--exit-code"]);
    assert_status(&out, 0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        v["changes"],
        json!([]),
        "the user's only changes were ignored"
    );
}

#[test]
fn two_commits_without_touching_the_tenant() {
    let s = scenario();
    assert_status(&s.h.run(&["snapshot"]), 0);
    let before = s.h.emulator.stats().requests;
    let out =
        s.h.run(&["diff", "HEAD~1", "HEAD", "--format", "json", "--exit-code"]);
    assert_status(&out, 1);
    assert_eq!(s.h.emulator.stats().requests, before, "no Graph request");
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["summary"]["users"]["modified"], 2);
    assert_eq!(v["summary"]["users"]["removed"], 1);
    assert_eq!(v["summary"]["namedLocations"]["added"], 1);
    // Between two commits nobody knows whether a removed object is restorable.
    let removed = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == s.deleted_user)
        .unwrap()
        .clone();
    assert!(removed["restorable"].is_null());
    assert_status(&s.h.run(&["diff", "HEAD", "HEAD", "--exit-code"]), 0);
}

#[test]
fn a_failed_live_read_is_an_error_not_a_report() {
    let s = scenario();
    let toml = s.h.repo.join("tenantgit.toml");
    let text = std::fs::read_to_string(&toml)
        .unwrap()
        .replace("[graph]\n", "[graph]\nmax-retries = 1\n");
    std::fs::write(&toml, text).unwrap();
    let rule: FaultRule = serde_json::from_value(
        json!({"method": "GET", "path": "/users", "action": {"type": "status", "status": 503}}),
    )
    .unwrap();
    s.h.emulator.set_faults(vec![rule]);
    let out = s.h.run(&["diff", "--exit-code"]);
    // No report, an error naming users.
    assert_snapshot!(out);
}

#[test]
fn bad_input_is_a_clear_error() {
    let s = scenario();
    for (name, args) in [
        ("unknown_revision", vec!["diff", "no-such-rev"]),
        ("unknown_second_revision", vec!["diff", "HEAD", "HEAD~99"]),
        ("unknown_kind", vec!["diff", "--kind", "robots"]),
        (
            "invalid_path_pattern",
            vec!["diff", "HEAD", "--", "users/[z-a]"],
        ),
    ] {
        assert_snapshot!(name, s.h.run(&args));
    }

    // A committed file that is not valid YAML: file, line and column.
    let bad = s.h.file("users/", "adele.lindqvist");
    std::fs::write(s.h.repo.join(&bad), "id: x\ndisplayName: [unclosed\n").unwrap();
    s.h.git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-qam",
        "broken",
    ]);
    assert_snapshot!("invalid_yaml", s.h.run(&["diff", "HEAD~1", "HEAD"]));

    // A file without an id.
    std::fs::write(s.h.repo.join(&bad), "displayName: No id\n").unwrap();
    s.h.git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-qam",
        "no id",
    ]);
    assert_snapshot!("no_id", s.h.run(&["diff", "HEAD~2", "HEAD"]));

    // A repository with no commits, and a folder that is not a repository.
    let empty = s.h.root().join("empty");
    s.h.git_in(s.h.root(), &["init", "-q", empty.to_str().unwrap()]);
    assert_snapshot!("no_commits", s.h.run_in(&empty, &["diff"]));
    assert_snapshot!("not_a_repository", s.h.run_in(s.h.root(), &["diff"]));
}
