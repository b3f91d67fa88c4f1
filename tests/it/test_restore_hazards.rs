//! The ways a restore or apply could change the tenant in ways nobody asked for (issue 7 items
//! 1, 2, 3 and 5, and the small ones of restore, apply and plan), each tried end to end with the
//! real binary against the emulator.

use serde_json::{json, Value};
use tenantgit::emulator::{FaultAction, FaultRule};

use crate::assert_snapshot;
use crate::common::tenant::*;
use crate::common::*;

/// A saved plan document as the library reads it, edited by `edit`, with its checksum
/// recomputed as a forger would.
fn forge(path: &std::path::Path, edit: impl FnOnce(&mut Value)) {
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut doc);
    let mut plan: tenantgit::plan::Plan = serde_json::from_value(doc).unwrap();
    plan.checksum = plan.compute_checksum();
    tenantgit::plan::save(&plan, path).unwrap();
}

/// Adds `kind/id` to `[safety] protected` in the working tree's `tenantgit.toml`.
fn protect(h: &TestEnvironment, key: &str) {
    let toml = h.repo.join("tenantgit.toml");
    let text = std::fs::read_to_string(&toml).unwrap().replace(
        "[safety]\n",
        &format!("[safety]\nprotected = [\"{key}\"]\n"),
    );
    std::fs::write(&toml, text).unwrap();
}

/// The cloud-only members: the users whose department Graph lets an administrator write.
fn user_ids(h: &TestEnvironment) -> Vec<String> {
    cloud_only_users(h)
}

#[test]
fn a_forged_plan_cannot_delete_what_a_fresh_plan_would_not() {
    let h = healthy();
    let users = ids_under(&h, "users/");
    protect(&h, &format!("users/{}", users[0]));

    let plan = h.root().join("noop.json");
    let out = run_without_writes(&h, &["plan", "--out", plan.to_str().unwrap()]);
    assert_status(&out, 0);
    forge(&plan, |doc| {
        let deletes: Vec<Value> = users
            .iter()
            .take(40)
            .map(|id| {
                json!({"phase": "prune", "kind": "users", "id": id, "displayName": id,
                       "op": "delete", "soft": true})
            })
            .collect();
        doc["actions"] = Value::Array(deletes);
        doc["request"]["prune"] = json!(true);
    });
    let out = run_without_writes(&h, &["apply", "--plan", plan.to_str().unwrap(), "--yes"]);
    // Refused, naming the first offending action.
    assert_snapshot!("forged", out);
    assert_eq!(live_ids(&h, "users").len(), users.len());
    // Not even with --force: force overrides refusals, never the narrowing.
    let out = run_without_writes(
        &h,
        &[
            "apply",
            "--plan",
            plan.to_str().unwrap(),
            "--yes",
            "--force",
        ],
    );
    assert_snapshot!("forged_with_force", out);
}

#[test]
fn a_saved_plan_may_narrow_a_fresh_plan_and_is_judged_again() {
    let h = healthy();
    let users: Vec<String> = user_ids(&h).into_iter().take(3).collect();
    for u in &users {
        patch_user(&h, u, json!({"department": null}));
    }
    snapshot_damage(&h);
    let plan = h.root().join("repair.json");
    let out = run_without_writes(
        &h,
        &["plan", "--from", "HEAD~1", "--out", plan.to_str().unwrap()],
    );
    assert_status(&out, 0);
    // The reviewer drops the third user's update: allowed, it narrows the plan.
    forge(&plan, |doc| {
        let actions = doc["actions"].as_array_mut().unwrap();
        actions.retain(|a| a["id"] != json!(users[2]));
    });
    assert_status(
        &h.run(&["apply", "--plan", plan.to_str().unwrap(), "--yes"]),
        0,
    );
    assert!(!user(&h, &users[0])["department"].is_null());
    assert!(!user(&h, &users[1])["department"].is_null());
    assert!(
        user(&h, &users[2])["department"].is_null(),
        "left out of the plan"
    );

    // Protection added after the plan was made is honoured when it is carried out.
    patch_user(&h, &users[0], json!({"department": null}));
    let out = run_without_writes(
        &h,
        &["plan", "--from", "HEAD~1", "--out", plan.to_str().unwrap()],
    );
    assert_status(&out, 0);
    protect(&h, &format!("users/{}", users[0]));
    let out = run_without_writes(&h, &["apply", "--plan", plan.to_str().unwrap(), "--yes"]);
    assert_snapshot!("protected_since", out);
}

#[test]
fn files_a_sparse_checkout_leaves_out_are_not_deletions() {
    let h = healthy();
    let before: Vec<_> = [
        "applications",
        "servicePrincipals",
        "identity/conditionalAccess/namedLocations",
    ]
    .iter()
    .map(|c| live_ids(&h, c))
    .collect();
    h.git(&["sparse-checkout", "set", "users", "groups"]);
    assert!(!h.repo.join("namedLocations").exists(), "not checked out");
    let out = run_without_writes(&h, &["apply", "--prune", "--yes"]);
    // Nothing to do; the kinds not checked out are named.
    assert_snapshot!("sparse_checkout", out);

    // A sparse index (whole folders folded into one index entry) cannot be read: refused, with
    // the way out.
    h.git(&["config", "index.sparse", "true"]);
    h.git(&["sparse-checkout", "reapply"]);
    let out = run_without_writes(&h, &["apply", "--prune", "--yes"]);
    // Refused, the hint says `git config index.sparse false`.
    assert_snapshot!("sparse_index", out);
    let after: Vec<_> = [
        "applications",
        "servicePrincipals",
        "identity/conditionalAccess/namedLocations",
    ]
    .iter()
    .map(|c| live_ids(&h, c))
    .collect();
    assert_eq!(before, after);
}

#[test]
fn deleting_what_no_recycle_bin_brings_back_needs_force() {
    let h = healthy();
    let location = h.file("namedLocations/", "branch-offices");
    h.git(&["rm", "-q", &location]);
    let out = run_without_writes(&h, &["apply", "--prune", "--yes"]);
    assert_snapshot!("no_recycle_bin", out);
    assert_eq!(
        live_ids(&h, "identity/conditionalAccess/namedLocations").len(),
        4
    );

    // Every object of a kind: refused even where a recycle bin exists... and here too.
    h.git(&["rm", "-q", "-r", "namedLocations"]);
    let out = run_without_writes(&h, &["apply", "--prune", "--yes"]);
    assert_snapshot!("every_object_of_a_kind", out);

    h.git(&["checkout", "-q", "HEAD", "--", "namedLocations"]);
    h.git(&["rm", "-q", &location]);
    assert_status(&h.run(&["apply", "--prune", "--yes", "--force"]), 0);
    assert_eq!(
        live_ids(&h, "identity/conditionalAccess/namedLocations").len(),
        3
    );
}

#[test]
fn a_renamed_object_is_one_object_on_both_sides() {
    let h = healthy();
    // A cloud-only user: Active Directory masters a synced user's name.
    let id = user_ids(&h).remove(0);
    let path = h.file("users/", &id);
    let old_upn = get(&h, &format!("users/{id}?$select=userPrincipalName"))["userPrincipalName"]
        .as_str()
        .unwrap()
        .to_string();
    let count = live_ids(&h, "users").len();
    let rename = |upn: &str| patch_user(&h, &id, json!({"userPrincipalName": upn}));
    let upn_now =
        || get(&h, &format!("users/{id}?$select=userPrincipalName"))["userPrincipalName"].clone();

    // Selected by the backup's file name: the live account is renamed back, not duplicated.
    rename("renamed.person@contoso.example");
    assert_status(&h.run(&["restore", "HEAD", &path, "--yes"]), 0);
    assert_eq!(upn_now(), json!(old_upn));
    assert_eq!(live_ids(&h, "users").len(), count);

    // Selected by the live name, with --prune: renamed back, never deleted.
    rename("renamed.person@contoso.example");
    let out = h.run(&[
        "restore",
        "HEAD",
        "users/*/renamed.person*",
        "--prune",
        "--yes",
    ]);
    assert_status(&out, 0);
    assert_eq!(upn_now(), json!(old_upn));
    assert_eq!(live_ids(&h, "users").len(), count);
}

/// Live groups with this display name.
fn named(h: &TestEnvironment, name: &str) -> usize {
    get(h, "groups?$select=id,displayName&$top=999")["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["displayName"] == json!(name))
        .count()
}

/// A security group (deleted for good, re-created on restore): its id and name.
fn security_group(h: &TestEnvironment, nth: usize) -> (String, String) {
    let groups = get(
        h,
        "groups?$select=id,displayName,groupTypes,mailEnabled&$top=999",
    );
    let g = groups["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["groupTypes"].as_array().is_none_or(|t| t.is_empty()))
        .filter(|g| g["mailEnabled"] == false)
        .filter(|g| !g["displayName"].as_str().unwrap().starts_with("Dept"))
        .nth(nth)
        .expect("a security group")
        .clone();
    (
        g["id"].as_str().unwrap().to_string(),
        g["displayName"].as_str().unwrap().to_string(),
    )
}

#[test]
fn re_running_a_restore_never_duplicates() {
    let h = healthy();
    // Both groups are chosen before anything is re-created (a new id may sort anywhere).
    let (g, name) = security_group(&h, 0);
    let (g2, name2) = security_group(&h, 1);
    // A scoped re-run.
    graph_ok(&h, "DELETE", &format!("groups/{g}"), None, 204);
    assert_eq!(named(&h, &name), 0);
    assert_status(&h.run(&["restore", "HEAD", "--id", &g, "--yes"]), 0);
    assert_eq!(named(&h, &name), 1);
    let out = run_without_writes(&h, &["restore", "HEAD", "--id", &g, "--yes"]);
    assert_status(&out, 0);
    assert_eq!(named(&h, &name), 1);

    // A re-run after the create's answer was lost on the way back.
    graph_ok(&h, "DELETE", &format!("groups/{g2}"), None, 204);
    h.emulator.set_faults(vec![FaultRule {
        times: Some(1),
        ..FaultRule::new(Some("POST"), Some("/groups"), FaultAction::DropConnection)
    }]);
    let out = h.run(&["restore", "HEAD", "--id", &g2, "--yes"]);
    assert_status(&out, 3);
    h.emulator.set_faults(Vec::new());
    assert_eq!(
        named(&h, &name2),
        1,
        "Graph created it; the answer was lost"
    );
    let out = h.run(&["restore", "HEAD", "--id", &g2, "--yes"]);
    assert_status(&out, 0);
    assert_eq!(named(&h, &name2), 1);
    // And an unscoped run later sees both as restored.
    let out = run_without_writes(&h, &["restore", "HEAD", "--kind", "groups", "--yes"]);
    assert_status(&out, 0);
    assert_eq!((named(&h, &name), named(&h, &name2)), (1, 1));

    // A user gone for good: re-created once, then the same command converges (it used to fail
    // forever on "another object with the same userPrincipalName").
    let u = user_ids(&h)[5].clone();
    graph_ok(&h, "DELETE", &format!("users/{u}"), None, 204);
    graph_ok(
        &h,
        "DELETE",
        &format!("directory/deletedItems/{u}"),
        None,
        204,
    );
    let users = live_ids(&h, "users").len();
    assert_status(&h.run(&["restore", "HEAD", "--id", &u, "--yes"]), 0);
    assert_eq!(live_ids(&h, "users").len(), users + 1);
    let out = run_without_writes(&h, &["restore", "HEAD", "--id", &u, "--yes"]);
    assert_status(&out, 0);
    assert_eq!(live_ids(&h, "users").len(), users + 1);
}

#[test]
fn restores_hold_the_repository_lock() {
    let h = healthy();
    let lock = h.repo.join(".git/tenantgit.lock");
    // A live process (this test) holds it.
    std::fs::write(&lock, format!("{}\nrestore\n", std::process::id())).unwrap();
    h.redact(&format!("pid {}", std::process::id()), "pid <the test>");
    let out = run_without_writes(&h, &["restore", "HEAD", "--yes"]);
    assert_snapshot!("locked_restore", out);
    let out = run_without_writes(&h, &["apply", "--yes"]);
    assert_snapshot!("locked_apply", out);
    // A dry run writes nothing and needs no lock.
    assert_status(&run_without_writes(&h, &["restore", "HEAD"]), 0);
    std::fs::remove_file(&lock).unwrap();
}

#[test]
fn plan_out_only_ever_writes_a_regular_file() {
    let h = healthy();
    let dir = h.root();
    let target = dir.join("target.txt");
    std::fs::write(&target, "keep me").unwrap();
    let link = dir.join("link.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let folder = dir.join("a-folder");
    std::fs::create_dir(&folder).unwrap();
    let fifo = dir.join("fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    for (name, path) in [
        ("symbolic_link", &link),
        ("folder", &folder),
        ("special_file", &fifo),
    ] {
        let out = run_without_writes(&h, &["plan", "--out", path.to_str().unwrap()]);
        assert_snapshot!(name, out);
    }
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    // A plan file written before may be replaced.
    let plan = dir.join("plan.json");
    assert_status(&h.run(&["plan", "--out", plan.to_str().unwrap()]), 0);
    assert_status(&h.run(&["plan", "--out", plan.to_str().unwrap()]), 0);
}

#[test]
fn invalid_patterns_in_the_settings_are_errors() {
    let h = healthy();
    std::fs::write(h.repo.join(".tenantgitignore"), "users/[breakglass\n").unwrap();
    let out = run_without_writes(&h, &["restore", "HEAD", "--yes"]);
    assert_snapshot!("tenantgitignore", out);
    std::fs::remove_file(h.repo.join(".tenantgitignore")).unwrap();
    configure(
        &h,
        "[[diff.ignore]]\nkind = \"users\"\npaths = [\"proxy*\"]\n",
    );
    assert_snapshot!("diff_ignore", h.run(&["diff"]));
}

#[test]
fn the_json_a_restore_prints_is_the_plan_apply_takes() {
    let h = healthy();
    let users: Vec<String> = user_ids(&h).into_iter().take(2).collect();
    for u in &users {
        patch_user(&h, u, json!({"department": null}));
    }
    let (g, name) = security_group(&h, 0);
    graph_ok(&h, "DELETE", &format!("groups/{g}"), None, 204);
    let out = run_without_writes(&h, &["restore", "HEAD", "--format", "json"]);
    assert_status(&out, 0);
    let doc: Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/plan.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    let plan = h.root().join("reviewed.json");
    std::fs::write(&plan, out.stdout).unwrap();
    assert_status(
        &h.run(&["apply", "--plan", plan.to_str().unwrap(), "--yes"]),
        0,
    );
    for u in &users {
        assert!(!user(&h, u)["department"].is_null());
    }
    assert_eq!(named(&h, &name), 1, "re-created");
}

#[test]
fn a_protected_entry_that_names_nothing_is_an_error() {
    let h = healthy();
    let real = user_ids(&h)[0].clone();
    // One character off: the likely typo is named in the hint.
    let typo = format!(
        "{}{}",
        &real[..real.len() - 1],
        if real.ends_with('0') { '1' } else { '0' }
    );
    protect(&h, &format!("users/{typo}"));
    let out = run_without_writes(&h, &["restore", "HEAD", "--yes"]);
    // The hint names the likely meant `users/<real id>`.
    assert_snapshot!(out);
}

#[test]
fn an_object_apply_created_counts_as_applied_under_its_new_id() {
    let h = healthy();
    // A pull request adds a group: a new file with an id of the author's choosing.
    let template = h.file("groups/", "analytics");
    let text = std::fs::read_to_string(h.repo.join(&template)).unwrap();
    let old_id = h.id_of(&template);
    let new_id = "0badc0de-0000-4000-8000-000000000001";
    let old_name = text
        .lines()
        .find_map(|l| l.strip_prefix("displayName: "))
        .unwrap()
        .to_string();
    let text = text
        .replace(&old_id, new_id)
        .replace(&old_name, "Brand New Team")
        .lines()
        .map(|l| {
            if l.starts_with("mailNickname:") {
                "mailNickname: brandnewteam".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    let path = format!("groups/0b/brand-new-team.{new_id}.yaml");
    std::fs::create_dir_all(h.repo.join("groups/0b")).unwrap();
    std::fs::write(h.repo.join(&path), text).unwrap();
    h.git(&["add", &path]);
    h.git(&["commit", "-q", "-m", "add Brand New Team"]);

    // Before it is applied, a snapshot refuses to revert it.
    assert_snapshot!("not_applied", h.run(&["snapshot"]));
    assert_status(&h.run(&["apply", "--yes"]), 0);
    assert_eq!(named(&h, "Brand New Team"), 1);
    // Graph gave it another id; the journal tells the snapshot it is the desired group.
    let out = h.run(&["snapshot"]);
    assert_status(&out, 0);
    assert!(!h.repo.join(&path).exists(), "recorded under its real id");
    assert_eq!(named(&h, "Brand New Team"), 1);
}
