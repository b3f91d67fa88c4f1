//! `tenantgit restore` end to end: the real binary against the in-process emulator seeded with
//! example-repo. Each test damages the tenant through Graph (cloud-only objects) or through the
//! emulator's Entra Connect (synced ones), snapshots the damage, restores the commit before it,
//! and checks the tenant through Graph, the emulator's write counter, the output, and finally
//! `tenantgit diff REV --exit-code`.

use serde_json::{json, Value};

use crate::assert_snapshot;
use crate::common::tenant::*;
use crate::common::*;

/// Damage of one attribute-and-links kind: Adele loses department and job title and gains a
/// mobile phone (null in the backup); Noah leaves Dept - Marketing and Carla Jensen joins it.
struct Damaged {
    h: TestEnvironment,
    adele: String,
    marketing: String,
    removed_member: String,
    added_member: String,
}

fn damaged() -> Damaged {
    let h = healthy();
    let adele = id(&h, "users/", "adele.lindqvist");
    let marketing = id(&h, "groups/", "dept-marketing");
    let removed_member = id(&h, "users/", "noah.novak");
    let added_member = id(&h, "users/", "carla.jensen");
    assert!(!link_ids(&h, &marketing, "members").contains(&added_member));
    patch_user(
        &h,
        &adele,
        json!({"department": null, "jobTitle": null, "mobilePhone": "+1 512 555 0000"}),
    );
    remove_member(&h, &marketing, &removed_member);
    add_member(&h, &marketing, &added_member);
    snapshot_damage(&h);
    Damaged {
        h,
        adele,
        marketing,
        removed_member,
        added_member,
    }
}

#[test]
fn dry_run_prints_the_plan_and_writes_nothing() {
    let d = damaged();
    let h = &d.h;
    let out = run_without_writes(h, &["restore", "HEAD~1"]);
    // Adele's department back from null, Dept - Marketing's members, and "dry run" on stderr.
    assert_snapshot!("restore_plan_human", out);

    let out = run_without_writes(h, &["restore", "HEAD~1", "--format", "json"]);
    assert_status(&out, 0);
    let docs = json_docs(&out);
    assert_eq!(docs.len(), 1, "a dry run prints only the plan");
    let plan = &docs[0];
    assert_eq!(plan["type"], "plan");
    let ops: Vec<(String, String)> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap().to_string(),
                a["op"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(ops.contains(&(d.adele.clone(), "update".into())), "{ops:?}");
    let update = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == d.adele)
        .unwrap();
    assert_eq!(
        update["body"],
        json!({"department": "Marketing", "jobTitle": "Marketing Manager", "mobilePhone": null}),
        "only the writable properties that differ, nulls to clear"
    );

    let out = run_without_writes(h, &["restore", "HEAD~1", "--format", "markdown"]);
    assert_snapshot!("restore_plan_markdown", out);

    // Nothing changed in the tenant either.
    assert_eq!(user(h, &d.adele)["department"], Value::Null);
    assert!(!link_ids(h, &d.marketing, "members").contains(&d.removed_member));
}

#[test]
fn attributes_and_links_are_restored() {
    let d = damaged();
    let h = &d.h;
    let before = writes(h);
    let out = h.run(&["restore", "HEAD~1", "--yes"]);
    assert_status(&out, 0);
    // One PATCH for Adele, one add and one remove for the group.
    assert_eq!(writes(h) - before, 3, "{}", out.stdout);
    assert_snapshot!("restore_apply_human", out);

    let adele = user(h, &d.adele);
    assert_eq!(adele["department"], "Marketing");
    assert_eq!(adele["jobTitle"], "Marketing Manager");
    assert_eq!(
        adele["mobilePhone"],
        Value::Null,
        "null in the backup: cleared"
    );
    let members = link_ids(h, &d.marketing, "members");
    assert!(members.contains(&d.removed_member));
    assert!(!members.contains(&d.added_member));
    assert_matches(h, "HEAD~1");
}

#[test]
fn a_large_membership_goes_through_bind_chunks() {
    let h = healthy();
    let marketing = id(&h, "groups/", "dept-marketing");
    let mut members = link_ids(&h, &marketing, "members");
    for user in ids_under(&h, "users/") {
        if members.len() >= 33 {
            break;
        }
        if members.insert(user.clone()) {
            add_member(&h, &marketing, &user);
        }
    }
    assert_status(&h.run(&["-q", "snapshot"]), 0);
    for m in &members {
        remove_member(&h, &marketing, m);
    }
    snapshot_damage(&h);

    let before = writes(&h);
    let out = h.run(&["restore", "HEAD~1", "--yes", "--id", &marketing]);
    assert_status(&out, 0);
    // 33 members: two `members@odata.bind` PATCHes of at most 20, not 33 `$ref` POSTs.
    assert_eq!(writes(&h) - before, 2, "{}", out.stdout);
    let patches = out
        .stdout
        .lines()
        .filter(|l| l.contains(&format!("PATCH groups/{marketing} → 204")))
        .count();
    assert_eq!(patches, 2, "{}", out.stdout);
    assert_eq!(link_ids(&h, &marketing, "members"), members);
    assert_matches(&h, "HEAD~1");
}

#[test]
fn a_soft_deleted_user_comes_back_with_the_same_id() {
    let h = healthy();
    let olga = id(&h, "users/", "olga.berg");
    let product = id(&h, "groups/", "dept-product");
    assert!(link_ids(&h, &product, "members").contains(&olga));
    graph_ok(&h, "DELETE", &format!("users/{olga}"), None, 204);
    snapshot_damage(&h);

    let out = h.run(&["restore", "HEAD~1", "--yes"]);
    // Restored from the recycle bin (POST directory/deletedItems/{id}/restore), then patched.
    assert_snapshot!(out);
    assert_eq!(user(&h, &olga)["id"], olga.as_str());
    assert_eq!(user(&h, &olga)["department"], "Product");
    assert!(link_ids(&h, &product, "members").contains(&olga));
    let bin = get(&h, "directory/deletedItems/microsoft.graph.user");
    assert!(
        !bin["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["id"] == olga),
        "no longer in the recycle bin"
    );
    assert_matches(&h, "HEAD~1");
}

/// A hybrid bad day: Active Directory moves a synced user to another department and manager and
/// Entra Connect syncs it, which takes her out of the dynamic group of Sales staff. Graph refuses
/// to write any of it back: the plan lists the user under "Cannot be restored through Graph" with
/// the fix "change on-premises", the group's members as computed from its rule, and a restore
/// writes nothing.
#[test]
fn a_synced_users_department_and_manager_are_changed_on_premises() {
    let h = healthy();
    let emma = id(&h, "users/", "emma.larsen");
    let boss = id(&h, "users/", "zoe.wang");
    let all_sales = id(&h, "groups/", "all-sales-staff");
    let manager =
        |h: &TestEnvironment| get(h, &format!("users/{emma}/manager?$select=id"))["id"].clone();
    let old_boss = manager(&h);
    assert!(link_ids(&h, &all_sales, "members").contains(&emma));
    sync(
        &h,
        json!([{"id": emma, "set": {"department": "Operations"}, "manager": boss}]),
    );
    assert!(
        !link_ids(&h, &all_sales, "members").contains(&emma),
        "Entra computed the dynamic group again"
    );
    snapshot_damage(&h);

    let out = run_without_writes(&h, &["restore", "HEAD~1"]);
    assert_snapshot!("synced_user_plan", out);
    let out = run_without_writes(&h, &["restore", "HEAD~1", "--format", "json"]);
    assert_status(&out, 0);
    let plan = &json_docs(&out)[0];
    let actions = plan["actions"].as_array().unwrap();
    assert!(
        actions
            .iter()
            .all(|a| a["id"] != emma && a["id"] != all_sales),
        "{plan:#}"
    );
    let entry = plan["cannotRestore"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == emma)
        .unwrap_or_else(|| panic!("the synced user is listed: {plan:#}"));
    assert_eq!(entry["rule"], "syncedFromActiveDirectory");
    assert_eq!(
        entry["fix"],
        "change on-premises (synced from Active Directory)"
    );
    assert_eq!(entry["attributes"][0]["path"], "department");
    assert_eq!(entry["attributes"][0]["new"], "Sales");
    assert_eq!(entry["links"][0]["link"], "manager", "{entry:#}");
    assert_eq!(entry["links"][0]["add"][0]["id"], old_boss);

    let out = run_without_writes(&h, &["restore", "HEAD~1", "--yes"]);
    assert_status(&out, 0);
    assert!(out.stdout.contains("change on-premises"), "{}", out.stdout);
    assert_eq!(user(&h, &emma)["department"], "Operations");
    assert_eq!(manager(&h), json!(boss));
}

/// A synced user deleted for good is not made again through Graph, which could only make a
/// cloud-only twin of it: Entra Connect provisions it from Active Directory. The plan lists it
/// under what has to be fixed on-premises, and the restore writes nothing for it.
#[test]
fn a_synced_user_deleted_for_good_comes_back_from_active_directory() {
    let h = healthy();
    let tariq = id(&h, "users/", "tariq.castro");
    graph_ok(&h, "DELETE", &format!("users/{tariq}"), None, 204);
    graph_ok(
        &h,
        "DELETE",
        &format!("directory/deletedItems/{tariq}"),
        None,
        204,
    );
    snapshot_damage(&h);

    let out = run_without_writes(&h, &["restore", "HEAD~1", "--format", "json"]);
    assert_status(&out, 0);
    let plan = &json_docs(&out)[0];
    assert!(
        plan["actions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["id"] != tariq),
        "{plan:#}"
    );
    let entry = plan["cannotRestore"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == tariq)
        .unwrap_or_else(|| panic!("the synced user is listed: {plan:#}"));
    assert_eq!(entry["rule"], "syncedObjectComesBackFromActiveDirectory");
    assert_eq!(entry["missing"], true);
    assert_eq!(
        entry["fix"],
        "change on-premises (synced from Active Directory)"
    );

    let out = run_without_writes(&h, &["restore", "HEAD~1", "--yes"]);
    assert_status(&out, 0);
    assert!(out.stdout.contains("change on-premises"), "{}", out.stdout);
    let (status, _) = h.graph("GET", &format!("users/{tariq}"), None);
    assert_eq!(status, 404, "no user was made through Graph");
}

/// A security group is deleted for good; a CA policy still names its old id. The restore
/// re-creates the group (new id, members and owners back) and the policy names the new id.
#[test]
fn a_hard_deleted_group_is_re_created_and_references_follow() {
    let h = healthy();
    let squad = id(&h, "groups/", "analytics-squad");
    let ca = id(&h, "conditionalAccessPolicies/", "ca002");
    let squad_members = link_ids(&h, &squad, "members");
    let path = format!("identity/conditionalAccess/policies/{ca}");
    let mut conditions = get(&h, &path)["conditions"].clone();
    conditions["users"]["excludeGroups"] = json!([squad]);
    graph_ok(
        &h,
        "PATCH",
        &path,
        Some(json!({"conditions": conditions})),
        204,
    );
    assert_status(&h.run(&["-q", "snapshot"]), 0);
    graph_ok(&h, "DELETE", &format!("groups/{squad}"), None, 204);
    graph_ok(&h, "GET", &format!("groups/{squad}"), None, 404);
    snapshot_damage(&h);

    let groups_before = live_ids(&h, "groups");
    let out = h.run(&["restore", "HEAD~1", "--yes"]);
    assert_status(&out, 0);
    let new: Vec<String> = live_ids(&h, "groups")
        .difference(&groups_before)
        .cloned()
        .collect();
    assert_eq!(new.len(), 1, "one group re-created");
    let new = &new[0];
    assert_ne!(new, &squad);
    h.redact(new, "<new group id>");
    // The report names the new id.
    assert_snapshot!("re_created", out);
    assert_eq!(
        get(&h, &format!("groups/{new}"))["displayName"],
        "Analytics Squad 12"
    );
    assert_eq!(link_ids(&h, new, "members"), squad_members);
    assert_eq!(
        get(&h, &path)["conditions"]["users"]["excludeGroups"],
        json!([new])
    );

    // Converged in one run.
    let out = run_without_writes(&h, &["restore", "HEAD~1", "--yes"]);
    assert_snapshot!("converged", out);

    // Against the backup, only the group's identity differs: the old id is gone, the new one
    // was added with the same name, and the policy names the new id.
    let out = h.run(&["diff", "HEAD~1", "--format", "json"]);
    assert_status(&out, 0);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let mut changes: Vec<(String, String, String)> = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_string(),
                c["id"].as_str().unwrap().to_string(),
                c["change"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    changes.sort();
    let mut want = vec![
        (
            "conditionalAccessPolicies".to_string(),
            ca.clone(),
            "modified".to_string(),
        ),
        ("groups".to_string(), squad.clone(), "removed".to_string()),
        ("groups".to_string(), new.clone(), "added".to_string()),
    ];
    want.sort();
    assert_eq!(changes, want, "nothing else differs from the backup");
}

#[test]
fn objects_created_since_the_backup_are_kept_unless_pruning() {
    let h = healthy();
    let created = graph_ok(
        &h,
        "POST",
        "users",
        Some(json!({
            "accountEnabled": true,
            "displayName": "Temp Contractor",
            "mailNickname": "temp.contractor",
            "userPrincipalName": "temp.contractor@contoso.example",
            "passwordProfile": {"forceChangePasswordNextSignIn": true, "password": "xWwvJ]6NMw+bWH-d"}
        })),
        201,
    );
    let temp = created["id"].as_str().unwrap().to_string();
    h.redact(&temp, "<temp contractor id>");
    snapshot_damage(&h);

    let out = run_without_writes(&h, &["restore", "HEAD~1", "--yes"]);
    // Kept: Temp Contractor.
    assert_snapshot!("kept", out);
    assert_eq!(user(&h, &temp)["id"], temp.as_str());

    let out = h.run(&["restore", "HEAD~1", "--yes", "--prune"]);
    assert_snapshot!("pruned", out);
    graph_ok(&h, "GET", &format!("users/{temp}"), None, 404);
    let bin = get(&h, "directory/deletedItems/microsoft.graph.user");
    assert!(
        bin["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["id"] == temp),
        "soft-deleted: in the recycle bin"
    );
    assert_matches(&h, "HEAD~1");
}

#[test]
fn a_second_run_converges_with_no_writes() {
    let d = damaged();
    let h = &d.h;
    graph_ok(
        h,
        "DELETE",
        &format!("users/{}", id(h, "users/", "olga.berg")),
        None,
        204,
    );
    assert_status(&h.run(&["-q", "snapshot"]), 0);
    assert_status(&h.run(&["restore", "HEAD~2", "--yes"]), 0);
    let out = run_without_writes(h, &["restore", "HEAD~2", "--yes"]);
    assert_snapshot!(out);
    assert_matches(h, "HEAD~2");
}

#[test]
fn only_the_selection_is_restored() {
    let d = damaged();
    let h = &d.h;
    let ca = id(h, "conditionalAccessPolicies/", "ca002");
    let ca_path = format!("identity/conditionalAccess/policies/{ca}");
    graph_ok(
        h,
        "PATCH",
        &ca_path,
        Some(json!({"state": "disabled"})),
        204,
    );
    assert_status(&h.run(&["-q", "snapshot"]), 0);
    let marketing_damaged =
        |h: &TestEnvironment| !link_ids(h, &d.marketing, "members").contains(&d.removed_member);

    // --kind users: Adele only.
    assert_status(
        &h.run(&["restore", "HEAD~2", "--yes", "--kind", "users"]),
        0,
    );
    assert_eq!(user(h, &d.adele)["department"], "Marketing");
    assert!(marketing_damaged(h));
    assert_eq!(get(h, &ca_path)["state"], "disabled");

    // --id: the group only.
    assert_status(
        &h.run(&["restore", "HEAD~2", "--yes", "--id", &d.marketing]),
        0,
    );
    assert!(!marketing_damaged(h));
    assert_eq!(get(h, &ca_path)["state"], "disabled");

    // A path glob: the policy.
    assert_status(
        &h.run(&[
            "restore",
            "HEAD~2",
            "--yes",
            "conditionalAccessPolicies/ca002-*",
        ]),
        0,
    );
    assert_eq!(get(h, &ca_path)["state"], "enabled");
    assert_matches(h, "HEAD~2");

    // A selection that matches nothing says so and writes nothing.
    graph_ok(
        h,
        "PATCH",
        &ca_path,
        Some(json!({"state": "disabled"})),
        204,
    );
    // A pattern that matches nothing is an empty selection; an id that names no object is a
    // mistake the user must hear about.
    let out = run_without_writes(h, &["restore", "HEAD~2", "--yes", "users/nobody.*"]);
    assert_snapshot!("pattern_matches_nothing", out);
    let unknown = "00000000-0000-0000-0000-000000000000";
    let out = run_without_writes(h, &["restore", "HEAD~2", "--yes", "--id", unknown]);
    assert_snapshot!("unknown_id", out);
}

#[test]
fn bad_input_is_an_error_without_writes() {
    let d = damaged();
    let h = &d.h;
    for (name, args) in [
        (
            "restore_unknown_revision",
            vec!["restore", "no-such-rev", "--yes"],
        ),
        (
            "restore_revision_out_of_range",
            vec!["restore", "HEAD~9", "--yes"],
        ),
        (
            "restore_unknown_kind",
            vec!["restore", "HEAD~1", "--yes", "--kind", "robots"],
        ),
        (
            "apply_unknown_kind",
            vec!["apply", "--yes", "--kind", "robots"],
        ),
        (
            "plan_unknown_kind",
            vec!["plan", "--out", "p.json", "--kind", "robots"],
        ),
    ] {
        assert_snapshot!(name, run_without_writes(h, &args));
    }
    assert_eq!(
        user(h, &d.adele)["department"],
        Value::Null,
        "still damaged"
    );
}

#[test]
fn paths_in_tenantgitignore_are_never_written() {
    let d = damaged();
    let h = &d.h;
    std::fs::write(
        h.repo.join(".tenantgitignore"),
        "# never touched by restore or apply\nusers/*/adele.lindqvist*\n",
    )
    .unwrap();
    let before = writes(h);
    let out = h.run(&["restore", "HEAD~1", "--yes"]);
    // Adele Lindqvist is not in the plan.
    assert_snapshot!("ignored", out);
    assert_eq!(writes(h) - before, 2, "only the group's two link writes");
    assert_eq!(
        user(h, &d.adele)["department"],
        Value::Null,
        "ignored: still damaged"
    );
    let members = link_ids(h, &d.marketing, "members");
    assert!(members.contains(&d.removed_member));

    std::fs::write(h.repo.join(".tenantgitignore"), "users/[z-a]\n").unwrap();
    assert_snapshot!("invalid_pattern", h.run(&["restore", "HEAD~1"]));
}
