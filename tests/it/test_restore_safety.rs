//! `restore`, `plan` and `apply` end to end, the guard rails: safety thresholds and protected
//! objects, saved plans (stale live state, edited files), `apply` from the working tree with
//! malformed files, failed writes, and the emulator's rejection of read-only properties.

use serde_json::{json, Value};
use tenantgit::emulator::FaultRule;

use crate::assert_snapshot;
use crate::common::tenant::*;
use crate::common::*;

/// Clears the usage location of `n` members and snapshots the damage: the cloud-only members
/// first (some tests then change their job title, which Active Directory masters for the synced
/// ones), then synced members, whose usage location stays writable in the cloud.
fn clear_usage_locations(h: &TestEnvironment, n: usize) -> Vec<String> {
    let mut users = cloud_only_users(h);
    let synced: Vec<String> = member_users(h)
        .into_iter()
        .filter(|u| !users.contains(u))
        .collect();
    users.extend(synced);
    users.truncate(n);
    assert_eq!(users.len(), n, "enough members");
    for u in &users {
        patch_user(h, u, json!({"usageLocation": null}));
    }
    snapshot_damage(h);
    users
}

fn usage_locations_cleared(h: &TestEnvironment, users: &[String]) -> usize {
    users
        .iter()
        .filter(|u| user(h, u)["usageLocation"].is_null())
        .count()
}

#[test]
fn a_plan_over_the_threshold_needs_force() {
    let h = healthy();
    // 62 users: 19 is 31%, over the default 30%.
    let users = clear_usage_locations(&h, 19);
    let out = run_without_writes(&h, &["restore", "HEAD~1", "--yes"]);
    // Refused: 19 of 62 users; the hint names --force.
    assert_snapshot!("refused", out);
    assert_eq!(usage_locations_cleared(&h, &users), 19);

    // A dry run of the same plan is fine: it shows the refusal but writes nothing.
    let out = run_without_writes(&h, &["restore", "HEAD~1"]);
    assert_snapshot!("dry_run", out);

    assert_status(&h.run(&["restore", "HEAD~1", "--yes", "--force"]), 0);
    assert_eq!(usage_locations_cleared(&h, &users), 0);
    assert_matches(&h, "HEAD~1");
}

#[test]
fn a_per_kind_threshold_changes_the_limit() {
    let h = healthy();
    let users = clear_usage_locations(&h, 40);
    configure(&h, "[safety.kinds.users]\nthreshold = 0.9\n");
    assert_status(&h.run(&["restore", "HEAD~1", "--yes"]), 0);
    assert_eq!(usage_locations_cleared(&h, &users), 0);

    // And a stricter one refuses what the default allows (3 of 62 is 5%).
    let h = healthy();
    let users = clear_usage_locations(&h, 3);
    configure(&h, "[safety.kinds.users]\nthreshold = 0.01\n");
    let out = run_without_writes(&h, &["restore", "HEAD~1", "--yes"]);
    assert_snapshot!(out);
    assert_eq!(usage_locations_cleared(&h, &users), 3);
}

#[test]
fn a_protected_object_needs_force() {
    let h = healthy();
    let users = clear_usage_locations(&h, 1);
    let first = &users[0];
    let toml = h.repo.join("tenantgit.toml");
    let text = std::fs::read_to_string(&toml).unwrap().replace(
        "[safety]\n",
        &format!("[safety]\nprotected = [\"users/{first}\"]\n"),
    );
    std::fs::write(&toml, text).unwrap();
    let out = run_without_writes(&h, &["restore", "HEAD~1", "--yes"]);
    // users/<first> is protected.
    assert_snapshot!(out);
    assert_eq!(usage_locations_cleared(&h, &users), 1);
    assert_status(&h.run(&["restore", "HEAD~1", "--yes", "--force"]), 0);
    assert_eq!(usage_locations_cleared(&h, &users), 0);
}

#[test]
fn a_saved_plan_is_applied_exactly() {
    let h = healthy();
    let users = clear_usage_locations(&h, 2);
    let file = h.root().join("plan.json");
    let file = file.to_str().unwrap();
    let out = run_without_writes(&h, &["plan", "--from", "HEAD~1", "--out", file]);
    assert_snapshot!("plan", out);
    assert_eq!(usage_locations_cleared(&h, &users), 2);

    let out = h.run(&["apply", "--plan", file, "--yes"]);
    assert_snapshot!("apply", out);
    assert_eq!(usage_locations_cleared(&h, &users), 0);
    assert_matches(&h, "HEAD~1");
}

#[test]
fn a_saved_plan_is_refused_when_the_tenant_changed_since() {
    let h = healthy();
    let users = clear_usage_locations(&h, 2);
    let file = h.root().join("plan.json");
    let file = file.to_str().unwrap();
    assert_status(&h.run(&["plan", "--from", "HEAD~1", "--out", file]), 0);
    // Somebody changes an object the plan touches.
    patch_user(&h, &users[1], json!({"jobTitle": "Interim lead"}));
    let out = run_without_writes(&h, &["apply", "--plan", file, "--yes"]);
    // Names only the changed object, users[1].
    assert_snapshot!(out);
    assert_eq!(usage_locations_cleared(&h, &users), 2);
}

#[test]
fn an_edited_plan_is_refused() {
    let h = healthy();
    let users = clear_usage_locations(&h, 1);
    let path = h.root().join("plan.json");
    let file = path.to_str().unwrap();
    assert_status(&h.run(&["plan", "--from", "HEAD~1", "--out", file]), 0);
    let mut plan: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let action = plan["actions"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|a| a["id"] == users[0].as_str())
        .expect("the plan updates the user");
    action["body"]["usageLocation"] = json!("Edited");
    let edited = serde_json::to_string_pretty(&plan).unwrap();
    assert!(edited.contains("Edited"), "the edit took: {edited}");
    std::fs::write(&path, edited).unwrap();
    let out = run_without_writes(&h, &["apply", "--plan", file, "--yes"]);
    assert_snapshot!(out);
    assert_eq!(usage_locations_cleared(&h, &users), 1);
}

#[test]
fn apply_makes_the_tenant_match_the_working_tree() {
    let h = healthy();
    let users = clear_usage_locations(&h, 1);
    let damaged_file = h
        .git(&["ls-tree", "-r", "--name-only", "HEAD", "users/"])
        .lines()
        .find(|p| h.id_of(p) == users[0])
        .unwrap()
        .to_string();
    h.git(&["checkout", "HEAD~1", "--", &damaged_file]);
    let out = h.run(&["apply", "--yes"]);
    assert_status(&out, 0);
    assert_eq!(usage_locations_cleared(&h, &users), 0);

    // A hand edit in a pull request.
    let path = h.repo.join(&damaged_file);
    let text = std::fs::read_to_string(&path).unwrap();
    let job = text
        .lines()
        .find(|l| l.starts_with("jobTitle:"))
        .unwrap()
        .to_string();
    std::fs::write(&path, text.replace(&job, "jobTitle: Head of Reviews")).unwrap();
    let out = h.run(&["apply", "--yes", "users/**"]);
    assert_status(&out, 0);
    assert_eq!(user(&h, &users[0])["jobTitle"], "Head of Reviews");
}

#[test]
fn a_malformed_file_means_no_writes() {
    let h = healthy();
    let users = clear_usage_locations(&h, 1);
    let damaged = h
        .git(&["ls-tree", "-r", "--name-only", "HEAD", "users/"])
        .lines()
        .find(|p| h.id_of(p) == users[0])
        .unwrap()
        .to_string();
    let other = h.file("groups/", "dept-sales");
    // The user's good backup is checked out, so every apply below would write its usage location.
    h.git(&["checkout", "HEAD~1", "--", &damaged]);
    let original = std::fs::read_to_string(h.repo.join(&other)).unwrap();
    let line_of =
        |text: &str, prefix: &str| text.lines().position(|l| l.starts_with(prefix)).unwrap() + 1;
    // Each error names the file, line and column.
    let cases: Vec<(&str, String, String)> = vec![
        (
            "bad_yaml",
            original.replace("description: Everyone in Sales", "description: [unclosed"),
            format!("{other}:{}:", line_of(&original, "mailNickname:")),
        ),
        (
            "missing_id",
            original.lines().skip(1).collect::<Vec<_>>().join("\n") + "\n",
            format!("{other}:1:1: the object has no `id`"),
        ),
        (
            "wrong_type",
            original.replace("securityEnabled: true", "securityEnabled: \"yes\""),
            format!("{other}:{}:1", line_of(&original, "securityEnabled:")),
        ),
        (
            "unknown_property",
            original.replace("theme: null", "theme: null\nfavouriteColour: blue"),
            format!("{other}:{}:1", line_of(&original, "theme:") + 1),
        ),
    ];
    for (case, text, location) in cases {
        std::fs::write(h.repo.join(&other), &text).unwrap();
        let out = run_without_writes(&h, &["apply", "--yes"]);
        assert!(
            out.stderr.contains(&location),
            "{case}: expected {location}\n{out}"
        );
        assert_snapshot!(case, out);
    }
    std::fs::write(h.repo.join(&other), &original).unwrap();

    // A YAML file in a folder no kind owns.
    std::fs::create_dir(h.repo.join("robots")).unwrap();
    std::fs::write(h.repo.join("robots/r2d2.yaml"), "id: r2d2\n").unwrap();
    assert_snapshot!(
        "unowned_folder",
        run_without_writes(&h, &["apply", "--yes"])
    );
    std::fs::remove_dir_all(h.repo.join("robots")).unwrap();

    assert_eq!(usage_locations_cleared(&h, &users), 1);
    // With the files fixed, the same apply writes.
    assert_status(&h.run(&["apply", "--yes"]), 0);
    assert_eq!(usage_locations_cleared(&h, &users), 0);
}

#[test]
fn apply_outside_a_snapshot_repository_is_an_error() {
    let h = healthy();
    let plain = h.root().join("plain");
    h.git_in(h.root(), &["init", "-q", plain.to_str().unwrap()]);
    std::fs::write(plain.join("README"), "not a snapshot\n").unwrap();
    h.git_in(&plain, &["add", "README"]);
    h.git_in(
        &plain,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "x",
        ],
    );
    for (place, dir) in [
        ("plain_repository", plain.as_path()),
        ("no_repository", h.root()),
    ] {
        for args in [
            vec!["apply", "--yes", "--prune", "--force"],
            vec!["restore", "HEAD", "--yes", "--prune", "--force"],
        ] {
            let before = writes(&h);
            let out = h.run_in(dir, &args);
            assert_eq!(writes(&h), before);
            assert_snapshot!(format!("{}_in_{place}", args[0]), out);
        }
    }
}

#[test]
fn failed_writes_are_reported_and_a_re_run_converges() {
    let h = healthy();
    let toml = h.repo.join("tenantgit.toml");
    let text = std::fs::read_to_string(&toml)
        .unwrap()
        .replace("[graph]\n", "[graph]\nmax-retries = 1\n");
    std::fs::write(&toml, text).unwrap();
    let users = clear_usage_locations(&h, 4);
    let rule: FaultRule = serde_json::from_value(json!({
        "method": "PATCH", "path": "/users", "times": 2,
        "action": {"type": "status", "status": 500}
    }))
    .unwrap();
    h.emulator.set_faults(vec![rule]);
    let before = writes(&h);
    let out = h.run(&[
        "restore",
        "HEAD~1",
        "--yes",
        "--concurrency",
        "1",
        "--format",
        "json",
    ]);
    // Which writes fail depends on the order the first ones reach the emulator under load, so
    // this output is checked for what it must say rather than snapshotted.
    assert_status(&out, 3);
    assert!(out.stderr.contains("writes failed"), "{}", out.stderr);
    let docs = json_docs(&out);
    let report = docs.last().unwrap();
    assert_eq!(report["type"], "apply");
    let outcomes = report["outcomes"].as_array().unwrap();
    let failed: Vec<&Value> = outcomes.iter().filter(|o| o["ok"] == false).collect();
    assert!(
        !failed.is_empty() && failed.len() < users.len(),
        "some, not all, failed: {report}"
    );
    for f in &failed {
        assert_eq!(f["status"], 500, "{f}");
        assert!(
            f["requestId"].as_str().is_some_and(|r| !r.is_empty()),
            "{f}"
        );
    }
    assert!(writes(&h) > before);
    // The failed ones are still damaged; the others were written.
    for u in &users {
        let failed_here = failed.iter().any(|f| f["id"] == u.as_str());
        assert_eq!(user(&h, u)["usageLocation"].is_null(), failed_here, "{u}");
    }

    // The human report names them too.
    let damaged: Vec<String> = failed
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    h.emulator.set_faults(vec![serde_json::from_value(json!({
        "method": "PATCH", "path": "/users", "times": 2,
        "action": {"type": "status", "status": 500}
    }))
    .unwrap()]);
    let out = h.run(&["restore", "HEAD~1", "--yes", "--concurrency", "1"]);
    assert_status(&out, 3);
    let text = &out.stdout;
    assert!(
        text.contains("500") && text.contains("request-id:"),
        "{text}"
    );
    assert!(text.contains(&damaged[0]), "{text}");

    h.emulator.set_faults(Vec::new());
    let out = h.run(&["restore", "HEAD~1", "--yes"]);
    assert_status(&out, 0);
    assert_eq!(usage_locations_cleared(&h, &users), 0);
    assert_matches(&h, "HEAD~1");
}

/// The emulator answers 400 to a PATCH with a read-only property, as Graph does; a restore that
/// writes every property of users (from the recycle bin, state unknown, and re-created) must
/// send none.
#[test]
fn no_read_only_property_is_ever_sent() {
    let h = healthy();
    let ids = cloud_only_users(&h);
    let (soft, hard) = (&ids[0], &ids[1]);
    let (status, body) = h.graph(
        "PATCH",
        &format!("users/{soft}"),
        Some(json!({"createdDateTime": "2020-01-01T00:00:00Z"})),
    );
    assert_eq!(
        status, 400,
        "the emulator rejects read-only properties: {body}"
    );
    for u in [soft, hard] {
        graph_ok(&h, "DELETE", &format!("users/{u}"), None, 204);
    }
    graph_ok(
        &h,
        "DELETE",
        &format!("directory/deletedItems/{hard}"),
        None,
        204,
    );
    patch_user(
        &h,
        &ids[2],
        json!({"department": null, "city": "Nowhere", "usageLocation": "DE"}),
    );
    snapshot_damage(&h);

    let out = h.run(&[
        "restore", "HEAD~1", "--yes", "--kind", "users", "--format", "json",
    ]);
    assert_status(&out, 0);
    let report = json_docs(&out).pop().unwrap();
    let outcomes = report["outcomes"].as_array().unwrap();
    let actions: Vec<&str> = outcomes
        .iter()
        .map(|o| o["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"restore") && actions.contains(&"create"),
        "{actions:?}"
    );
    assert!(
        outcomes.iter().filter(|o| o["action"] == "update").count() >= 2,
        "{actions:?}"
    );
    for o in outcomes {
        assert_ne!(o["status"], 400, "{o}");
        assert_eq!(o["ok"], true, "{o}");
    }
    assert_eq!(report["verified"], true);
    assert_eq!(user(&h, soft)["id"], soft.as_str());
    assert_status(
        &h.run(&["diff", "HEAD~1", "--exit-code", "--id", &ids[2]]),
        0,
    );
}
