//! Graph's per-object write rules end to end (issue 9 item 2): the real binary against the
//! emulator's hybrid tenant, which refuses what Graph refuses. A plan never sends such a write;
//! it lists it under "cannot be restored through Graph" with where to fix it, in every format,
//! and that is no failure; `diff` labels the same changes. Enabled app roles are disabled first;
//! a guest deleted for good is invited again.

use std::path::Path;

use serde_json::{json, Value};

use crate::assert_snapshot;
use crate::common::tenant::*;
use crate::common::*;

const SPEC: &str = "users=120,groups=40,members=6,apps=8,policies=2";

/// The hybrid tenant, snapshotted once (HEAD is the healthy state).
fn hybrid() -> TestEnvironment {
    let h = TestEnvironment::synthetic(SPEC);
    assert_status(&h.run(&["-q", "snapshot"]), 0);
    h
}

/// Every object of a collection (the generated tenant fits one page).
fn list(h: &TestEnvironment, path: &str) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let body = get(h, &format!("{path}{sep}$top=999"));
    assert!(body.get("@odata.nextLink").is_none(), "{path}: one page");
    body["value"].as_array().cloned().unwrap_or_default()
}

fn is_guest(u: &Value) -> bool {
    u["userPrincipalName"]
        .as_str()
        .is_some_and(|n| n.contains("#EXT#"))
}

fn text<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_default()
}

/// A JSON document checked against one of the schemas in `schema/`.
#[track_caller]
fn assert_valid(doc: &Value, schema_file: &str) {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(schema_file)).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

fn entries<'a>(plan: &'a Value, id: &str) -> Vec<&'a Value> {
    plan["cannotRestore"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["id"] == id)
        .collect()
}

fn actions_of<'a>(plan: &'a Value, id: &str) -> Vec<&'a Value> {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["id"] == id)
        .collect()
}

#[test]
fn on_premises_attributes_and_dynamic_members_are_listed_never_written_and_labelled_by_diff() {
    let h = hybrid();
    let users = list(
        &h,
        "users?$select=id,displayName,department,onPremisesSyncEnabled,userPrincipalName",
    );
    let with_department = |synced: bool| {
        users
            .iter()
            .find(|u| {
                (u["onPremisesSyncEnabled"] == true) == synced
                    && !is_guest(u)
                    && text(u, "department") == "Sales"
            })
            .unwrap_or_else(|| panic!("a user in Sales (synced: {synced})"))
            .clone()
    };
    let (synced, cloud) = (with_department(true), with_department(false));
    let groups = list(
        &h,
        "groups?$select=id,displayName,groupTypes,membershipRule,onPremisesSyncEnabled",
    );
    let dynamic = groups
        .iter()
        .find(|g| text(g, "membershipRule").contains("Sales"))
        .expect("the dynamic group of Sales staff")
        .clone();
    let dept_group = groups
        .iter()
        .find(|g| g["displayName"] == "Dept - Sales")
        .expect("the synced department group")
        .clone();
    // The bad day: a script wipes the department of a synced user (in AD, where it is
    // mastered) and of a cloud user (through Graph), and rewrites the dynamic group's rule.
    // AD also drops the synced user from its department group.
    h.change_user(text(&synced, "id"), json!({"department": null}));
    h.change_user(text(&cloud, "id"), json!({"department": null}));
    graph_ok(
        &h,
        "PATCH",
        &format!("groups/{}", text(&dynamic, "id")),
        Some(json!({"membershipRule": "(user.department -eq \"Nobody\")"})),
        204,
    );
    let resp = reqwest::blocking::Client::new()
        .post(format!("{}/_emulator/sync", h.emulator.url()))
        .json(&json!({"changes": [{"id": text(&dept_group, "id"),
                                   "removeMembers": [text(&synced, "id")]}]}))
        .send()
        .expect("sync request");
    assert_eq!(resp.status().as_u16(), 200);

    // The plan, in the three formats.
    let out = run_without_writes(&h, &["restore", "HEAD"]);
    assert_status(&out, 0);
    assert_snapshot!("on_premises_plan_human", out);
    let out = run_without_writes(&h, &["restore", "HEAD", "--format", "markdown"]);
    assert_status(&out, 0);
    assert_snapshot!("on_premises_plan_markdown", out);
    let out = run_without_writes(&h, &["restore", "HEAD", "--format", "json"]);
    assert_status(&out, 0);
    let plan: Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    assert_valid(&plan, "schema/plan.schema.json");
    let synced_id = text(&synced, "id");
    assert!(actions_of(&plan, synced_id).is_empty(), "{plan:#}");
    let e = entries(&plan, synced_id);
    assert_eq!(e.len(), 1, "{plan:#}");
    assert_eq!(e[0]["rule"], "syncedFromActiveDirectory");
    assert_eq!(
        e[0]["fix"],
        "change on-premises (synced from Active Directory)"
    );
    assert_eq!(e[0]["attributes"][0]["path"], "department");
    assert_eq!(e[0]["attributes"][0]["new"], "Sales");
    let e = entries(&plan, text(&dept_group, "id"));
    assert_eq!(e[0]["links"][0]["link"], "members", "{plan:#}");
    assert_eq!(e[0]["links"][0]["add"][0]["id"], synced_id);
    assert!(actions_of(&plan, text(&dept_group, "id")).is_empty());
    // The dynamic group: its rule is restored, its members are never written.
    let dynamic_id = text(&dynamic, "id");
    let ops: Vec<&str> = actions_of(&plan, dynamic_id)
        .iter()
        .map(|a| a["op"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["update"], "{plan:#}");
    assert_eq!(
        actions_of(&plan, dynamic_id)[0]["body"]["membershipRule"],
        dynamic["membershipRule"]
    );
    let e = entries(&plan, dynamic_id);
    assert_eq!(e[0]["fix"], "computed from the membership rule", "{plan:#}");
    assert!(!e[0]["links"][0]["add"].as_array().unwrap().is_empty());

    // Carried out: no write Graph refuses, so nothing fails.
    let out = h.run(&["restore", "HEAD", "--yes", "--format", "json"]);
    assert_status(&out, 0);
    let report = json_docs(&out).pop().unwrap();
    assert_eq!(report["failed"], 0, "{report:#}");
    assert_eq!(report["remainingDrift"], json!([]), "{report:#}");
    assert_eq!(user(&h, text(&cloud, "id"))["department"], "Sales");
    assert_eq!(user(&h, synced_id)["department"], Value::Null);
    let rule = get(&h, &format!("groups/{dynamic_id}?$select=membershipRule"));
    assert_eq!(rule["membershipRule"], dynamic["membershipRule"]);
    // Entra computed the members again: the cloud user is back, the synced one (no
    // department on-premises yet) is not.
    let members = link_ids(&h, dynamic_id, "members");
    assert!(members.contains(text(&cloud, "id")));
    assert!(!members.contains(synced_id));

    // What is left is exactly what has to be fixed on-premises, labelled in every format.
    let out = h.run(&["diff", "HEAD"]);
    assert_status(&out, 0);
    assert_snapshot!("on_premises_diff_human", out);
    let out = h.run(&["diff", "HEAD", "--format", "markdown"]);
    assert_status(&out, 0);
    assert_snapshot!("on_premises_diff_markdown", out);
    let out = h.run(&["diff", "HEAD", "--format", "json"]);
    assert_status(&out, 0);
    let diff: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_valid(&diff, "schema/diff-report.schema.json");
    let changes = diff["changes"].as_array().unwrap();
    let ids: Vec<&str> = changes.iter().map(|c| text(c, "id")).collect();
    assert!(ids.contains(&synced_id), "{diff:#}");
    for c in changes {
        for a in c["attributes"].as_array().unwrap() {
            assert!(a.get("cannotRestore").is_some(), "unlabelled: {c:#}");
        }
        for l in c["links"].as_array().unwrap() {
            assert!(l.get("cannotRestore").is_some(), "unlabelled: {c:#}");
        }
    }
    let synced_change = changes.iter().find(|c| c["id"] == synced_id).unwrap();
    assert_eq!(
        synced_change["attributes"][0]["cannotRestore"],
        json!({"rule": "syncedFromActiveDirectory",
               "reason": "the user is synced from Active Directory, where this attribute is mastered; Graph refuses to write it",
               "fix": "change on-premises (synced from Active Directory)"})
    );

    // A second run writes nothing and still names what is left.
    let before = writes(&h);
    let out = h.run(&["restore", "HEAD", "--yes"]);
    assert_status(&out, 0);
    assert_eq!(writes(&h), before);
    assert!(
        out.stdout.contains("Cannot be restored through Graph"),
        "{}",
        out.stdout
    );
}

/// The name of the tenant's one directory extension registered in the cloud (`false`) or synced
/// from Active Directory by Entra Connect (`true`).
fn extension(h: &TestEnvironment, synced: bool) -> String {
    let defs = graph_ok(
        h,
        "POST",
        "directoryObjects/getAvailableExtensionProperties",
        Some(json!({"isSyncedFromOnPremises": synced})),
        200,
    );
    assert_eq!(defs["value"].as_array().map(Vec::len), Some(1), "{defs}");
    text(&defs["value"][0], "name").to_string()
}

#[test]
fn a_synced_extension_attribute_is_listed_never_written_and_a_cloud_one_is_restored() {
    let h = hybrid();
    let (cloud_ext, synced_ext) = (extension(&h, false), extension(&h, true));
    let users = list(
        &h,
        &format!("users?$select=id,onPremisesSyncEnabled,{cloud_ext},{synced_ext}"),
    );
    let u = users
        .iter()
        .find(|u| {
            u["onPremisesSyncEnabled"] == true
                && u[cloud_ext.as_str()].is_string()
                && u[synced_ext.as_str()].is_string()
        })
        .expect("a synced user with both extensions");
    let id = text(u, "id");
    let (cost_center, division) = (
        u[cloud_ext.as_str()].clone(),
        u[synced_ext.as_str()].clone(),
    );
    // AD changes the synced attribute (Entra Connect carries it up); a script clears the cloud
    // one through Graph, which Graph allows on a synced user.
    h.change_user(id, json!({synced_ext.as_str(): "Retail"}));
    graph_ok(
        &h,
        "PATCH",
        &format!("users/{id}"),
        Some(json!({cloud_ext.as_str(): null})),
        204,
    );

    let out = run_without_writes(&h, &["restore", "HEAD", "--format", "json"]);
    assert_status(&out, 0);
    let plan: Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    assert_valid(&plan, "schema/plan.schema.json");
    let actions = actions_of(&plan, id);
    assert_eq!(actions.len(), 1, "{plan:#}");
    assert_eq!(actions[0]["op"], "update");
    assert_eq!(
        actions[0]["body"],
        json!({cloud_ext.as_str(): cost_center}),
        "{plan:#}"
    );
    let e = entries(&plan, id);
    assert_eq!(e.len(), 1, "{plan:#}");
    assert_eq!(e[0]["rule"], "syncedFromActiveDirectory");
    assert_eq!(
        e[0]["fix"],
        "change on-premises (synced from Active Directory)"
    );
    assert_eq!(
        e[0]["attributes"][0]["path"],
        synced_ext.as_str(),
        "{plan:#}"
    );
    assert_eq!(e[0]["attributes"][0]["new"], division);

    // Carried out: the cloud attribute is back, the synced one is left to AD, and nothing
    // Graph refuses was sent (the emulator would have failed it).
    let out = h.run(&["restore", "HEAD", "--yes", "--format", "json"]);
    assert_status(&out, 0);
    let report = json_docs(&out).pop().unwrap();
    assert_eq!(report["failed"], 0, "{report:#}");
    let after = get(&h, &format!("users/{id}?$select={cloud_ext},{synced_ext}"));
    assert_eq!(after[cloud_ext.as_str()], cost_center);
    assert_eq!(after[synced_ext.as_str()], "Retail");
    // What is left is the synced attribute, labelled with where to fix it.
    let out = h.run(&["diff", "HEAD", "--format", "json"]);
    assert_status(&out, 0);
    let diff: Value = serde_json::from_str(&out.stdout).unwrap();
    let change = diff["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("{diff:#}"));
    let attributes = change["attributes"].as_array().unwrap();
    assert_eq!(attributes.len(), 1, "{change:#}");
    assert_eq!(attributes[0]["path"], synced_ext.as_str());
    assert_eq!(
        attributes[0]["cannotRestore"]["rule"],
        "syncedFromActiveDirectory"
    );
}

#[test]
fn enabled_app_roles_and_scopes_that_go_are_disabled_first_in_their_own_patch() {
    let h = hybrid();
    let apps = list(&h, "applications?$select=id,displayName,appRoles,api");
    let app = apps
        .iter()
        .find(|a| {
            a["appRoles"].as_array().is_some_and(|r| !r.is_empty())
                && a["api"]["oauth2PermissionScopes"]
                    .as_array()
                    .is_some_and(|s| !s.is_empty())
        })
        .expect("an application with app roles and scopes")
        .clone();
    let id = text(&app, "id");
    // A script adds an app role and a permission scope, both enabled (Graph lets anyone add).
    let mut roles = app["appRoles"].as_array().unwrap().clone();
    roles.push(
        json!({"id": "6c2b2c7e-0d1c-4a59-9a57-1d1b6c0f0a01", "value": "Script.Admin",
        "displayName": "Added by a script", "description": "Added by a script",
        "allowedMemberTypes": ["Application"], "isEnabled": true}),
    );
    let mut api = app["api"].clone();
    api["oauth2PermissionScopes"].as_array_mut().unwrap().push(
        json!({"id": "6c2b2c7e-0d1c-4a59-9a57-1d1b6c0f0a02", "value": "Script.Read",
            "type": "Admin", "adminConsentDisplayName": "Added by a script",
            "adminConsentDescription": "Added by a script", "isEnabled": true}),
    );
    graph_ok(
        &h,
        "PATCH",
        &format!("applications/{id}"),
        Some(json!({"appRoles": roles, "api": api})),
        204,
    );

    let out = run_without_writes(&h, &["restore", "HEAD", "--format", "json"]);
    assert_status(&out, 0);
    let plan: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_valid(&plan, "schema/plan.schema.json");
    let acts = actions_of(&plan, id);
    let phases: Vec<&str> = acts.iter().map(|a| text(a, "phase")).collect();
    assert_eq!(phases, ["disable", "update"], "{plan:#}");
    // The first PATCH is the live roles and scopes with the two new ones disabled.
    let first = &acts[0]["body"];
    let disabled = |list: &Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["isEnabled"] == false && text(e, "value").starts_with("Script."))
            .map(|e| text(e, "value").to_string())
            .collect()
    };
    assert_eq!(disabled(&first["appRoles"]), ["Script.Admin"]);
    assert_eq!(
        disabled(&first["api"]["oauth2PermissionScopes"]),
        ["Script.Read"]
    );
    let out = run_without_writes(&h, &["restore", "HEAD"]);
    assert_snapshot!("disable_first_plan_human", out);

    let out = h.run(&["restore", "HEAD", "--yes", "--format", "json"]);
    assert_status(&out, 0);
    let report = json_docs(&out).pop().unwrap();
    assert_eq!(report["failed"], 0, "{report:#}");
    let patches: Vec<&Value> = report["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["id"] == id)
        .collect();
    assert_eq!(patches.len(), 2, "{report:#}");
    assert!(patches
        .iter()
        .all(|o| o["method"] == "PATCH" && o["status"] == 204));
    assert_eq!(report["remainingDrift"], json!([]), "{report:#}");
    // The backup's roles and scopes, as they were (Graph keeps its own order).
    let entries = |list: &Value| -> std::collections::BTreeSet<(String, String, bool)> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    text(e, "id").to_string(),
                    text(e, "value").to_string(),
                    e["isEnabled"] == true,
                )
            })
            .collect()
    };
    let now = get(&h, &format!("applications/{id}?$select=appRoles,api"));
    assert_eq!(entries(&now["appRoles"]), entries(&app["appRoles"]));
    assert_eq!(
        entries(&now["api"]["oauth2PermissionScopes"]),
        entries(&app["api"]["oauth2PermissionScopes"])
    );
}

#[test]
fn a_guest_deleted_for_good_is_invited_again_never_created_and_a_re_run_writes_nothing() {
    let h = hybrid();
    let users = list(
        &h,
        "users?$select=id,displayName,userPrincipalName,mail,companyName,givenName",
    );
    let guest = users
        .iter()
        .find(|u| is_guest(u) && !text(u, "companyName").is_empty())
        .expect("a guest")
        .clone();
    let id = text(&guest, "id");
    let groups = list(&h, "groups?$select=id,groupTypes");
    let member_of: Vec<String> = groups
        .iter()
        .map(|g| text(g, "id").to_string())
        .filter(|g| link_ids(&h, g, "members").contains(id))
        .collect();
    // Deleted, then purged from the recycle bin: gone for good.
    graph_ok(&h, "DELETE", &format!("users/{id}"), None, 204);
    graph_ok(
        &h,
        "DELETE",
        &format!("directory/deletedItems/{id}"),
        None,
        204,
    );

    let out = run_without_writes(&h, &["restore", "HEAD", "--format", "json"]);
    assert_status(&out, 0);
    let plan: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_valid(&plan, "schema/plan.schema.json");
    let acts = actions_of(&plan, id);
    let ops: Vec<&str> = acts.iter().map(|a| text(a, "op")).collect();
    assert_eq!(&ops[..2], ["invite", "update"], "{plan:#}");
    assert_eq!(
        acts[0]["body"],
        json!({"invitedUserEmailAddress": guest["mail"],
               "invitedUserDisplayName": guest["displayName"],
               "invitedUserType": "Guest",
               "inviteRedirectUrl": "https://myapplications.microsoft.com",
               "sendInvitationMessage": false})
    );
    assert_eq!(acts[1]["body"]["companyName"], guest["companyName"]);
    let out = run_without_writes(&h, &["restore", "HEAD"]);
    assert_snapshot!("guest_plan_human", out);

    let out = h.run(&["restore", "HEAD", "--yes", "--format", "json"]);
    assert_status(&out, 0);
    let report = json_docs(&out).pop().unwrap();
    assert_eq!(report["failed"], 0, "{report:#}");
    let outcomes = report["outcomes"].as_array().unwrap();
    assert!(
        !outcomes
            .iter()
            .any(|o| o["method"] == "POST" && o["path"] == "users"),
        "never POST users: {report:#}"
    );
    let invited = outcomes
        .iter()
        .find(|o| o["method"] == "POST" && o["path"] == "invitations")
        .expect("POST invitations");
    let new_id = text(invited, "newId").to_string();
    assert!(!new_id.is_empty() && new_id != id, "{invited:#}");
    assert_eq!(report["remainingDrift"], json!([]), "{report:#}");
    let back = get(
        &h,
        &format!(
            "users/{new_id}?$select=userPrincipalName,userType,creationType,companyName,givenName"
        ),
    );
    assert_eq!(back["userPrincipalName"], guest["userPrincipalName"]);
    assert_eq!(back["userType"], "Guest");
    assert_eq!(back["creationType"], "Invitation");
    assert_eq!(back["companyName"], guest["companyName"]);
    assert_eq!(back["givenName"], guest["givenName"]);
    // Its memberships follow the new id (groups Graph lets tenantgit write).
    for g in &member_of {
        if link_ids(&h, g, "members").contains(&new_id) {
            continue;
        }
        let state = get(
            &h,
            &format!("groups/{g}?$select=groupTypes,mailEnabled,onPremisesSyncEnabled"),
        );
        assert!(
            state["onPremisesSyncEnabled"] == true
                || state["mailEnabled"] == true
                    && !state["groupTypes"].to_string().contains("Unified")
                || state["groupTypes"]
                    .to_string()
                    .contains("DynamicMembership"),
            "{g} does not have the re-invited guest: {state}"
        );
    }

    // The re-invited guest is recognised by its user principal name: nothing more to write.
    let before = writes(&h);
    let out = h.run(&["restore", "HEAD", "--yes"]);
    assert_status(&out, 0);
    assert_eq!(writes(&h), before, "{}", out.stdout);
}

/// Replaces the first line of a working-tree file that starts with `prefix` (after
/// indentation) by `line`, indented as it was.
fn edit_line(h: &TestEnvironment, path: &str, prefix: &str, line: &str) {
    let full = h.repo.join(path);
    let text = std::fs::read_to_string(&full).unwrap();
    let mut done = false;
    let edited: Vec<String> = text
        .lines()
        .map(|l| {
            let body = l.trim_start();
            if !done && body.starts_with(prefix) {
                done = true;
                format!("{}{line}", &l[..l.len() - body.len()])
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(done, "{path} has no line {prefix}…:\n{text}");
    std::fs::write(&full, edited.join("\n") + "\n").unwrap();
}

#[test]
fn exchange_groups_and_another_tenants_app_roles_are_listed_never_written() {
    let h = hybrid();
    let groups = list(
        &h,
        "groups?$select=id,displayName,groupTypes,mailEnabled,securityEnabled,onPremisesSyncEnabled",
    );
    let exchange = groups
        .iter()
        .find(|g| {
            g["mailEnabled"] == true
                && g["groupTypes"] == json!([])
                && g["onPremisesSyncEnabled"] != true
        })
        .expect("a mail-enabled group made in Exchange Online");
    let edited = text(exchange, "id");
    // A pull request edits its description, and the permission scope of Microsoft's Azure
    // Service Management service principal.
    let group_file = h.file("groups/", edited);
    edit_line(
        &h,
        &group_file,
        "description:",
        "description: Edited in git",
    );
    let sp_file = h.file("servicePrincipals/", "e0aa09f8-9a3e-4d0a-8f0c-2b0d3f0c7a04");
    edit_line(
        &h,
        &sp_file,
        "adminConsentDisplayName:",
        "adminConsentDisplayName: Edited in git",
    );

    let before = writes(&h);
    let out = h.run(&["apply", "--format", "json"]);
    assert_status(&out, 0);
    let plan: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_valid(&plan, "schema/plan.schema.json");
    assert!(actions_of(&plan, edited).is_empty(), "{plan:#}");
    assert_eq!(
        entries(&plan, edited)[0]["fix"],
        "managed in Exchange Online"
    );
    assert_eq!(
        entries(&plan, edited)[0]["attributes"][0]["path"],
        "description"
    );
    let sp = "e0aa09f8-9a3e-4d0a-8f0c-2b0d3f0c7a04";
    assert!(actions_of(&plan, sp).is_empty(), "{plan:#}");
    assert_eq!(entries(&plan, sp)[0]["rule"], "mirroredFromAnotherTenant");
    let out = h.run(&["apply", "--yes"]);
    assert_status(&out, 0);
    assert_snapshot!("exchange_and_mirrored_apply", out);
    assert_eq!(writes(&h), before, "nothing is written");

    // Deleted in Exchange Online, it cannot be created through Graph either.
    let deleted = edited;
    graph_ok(&h, "DELETE", &format!("groups/{deleted}"), None, 204);
    let out = run_without_writes(&h, &["restore", "HEAD", "--format", "json"]);
    assert_status(&out, 0);
    let plan: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(actions_of(&plan, deleted).is_empty(), "{plan:#}");
    let e = entries(&plan, deleted);
    assert_eq!(e[0]["missing"], true, "{plan:#}");
    assert_eq!(e[0]["fix"], "managed in Exchange Online");
    // And `diff` says so of the removed group.
    let out = h.run(&["diff", "HEAD", "--", "groups/**"]);
    assert_status(&out, 0);
    assert!(
        out.stdout
            .contains("cannot be restored through Graph: the object: managed in Exchange Online"),
        "{}",
        out.stdout
    );
    let out = h.run(&["diff", "HEAD", "--format", "json", "--", "groups/**"]);
    let diff: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_valid(&diff, "schema/diff-report.schema.json");
    let gone = diff["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == deleted)
        .expect("the removed group");
    assert_eq!(gone["change"], "removed");
    assert_eq!(
        gone["attributes"][0]["cannotRestore"]["fix"],
        "managed in Exchange Online"
    );
}
