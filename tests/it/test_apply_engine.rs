//! The restore engine against the in-process Graph emulator over real HTTP: plans computed from
//! a backup and the live tenant, executed with `apply::execute`, verified by reading back.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use tenantgit::apply::{self, ApplyOptions, WriteOutcome};
use tenantgit::emulator::{Emulator, FaultAction, FaultRule};
use tenantgit::graph::{GraphClient, RetryTiming};
use tenantgit::model::{ObjectKey, Snapshot};
use tenantgit::plan::{self, DeletedObject, Op, Phase, Plan, PlanInput, SafetySettings};
use tenantgit::read::{self, NoProgress};
use tenantgit::schema;

use crate::common::graph::{client_settings, config};

fn emulator(spec: &str) -> Emulator {
    Emulator::start(config(Some(spec))).expect("emulator starts")
}

/// tenantgit's client with short backoffs, so that retried faults cost milliseconds.
fn client(emu: &Emulator) -> GraphClient {
    let timing = RetryTiming {
        backoff_base: Duration::from_millis(5),
        backoff_max: Duration::from_millis(50),
        retry_after_max: Duration::from_secs(2),
        throttle_budget: Duration::from_secs(30),
    };
    GraphClient::with_timing(client_settings(&emu.url()), timing).expect("client")
}

async fn read_all(c: &GraphClient) -> Snapshot {
    let kinds: Vec<_> = schema::kinds().iter().collect();
    read::read_tenant(c, &kinds, &NoProgress)
        .await
        .expect("tenant reads")
}

/// Reads the live tenant and the recycle bin, and plans towards `desired`.
async fn make_plan(
    c: &GraphClient,
    desired: &Snapshot,
    prune: bool,
    safety: SafetySettings,
) -> Plan {
    let live = read_all(c).await;
    let kinds: Vec<_> = schema::kinds().iter().collect();
    let deleted: HashMap<ObjectKey, DeletedObject> = read::read_deleted(c, &kinds)
        .await
        .expect("recycle bin reads")
        .into_iter()
        .map(|d| (d.key.clone(), DeletedObject::from(d)))
        .collect();
    plan::plan(
        &PlanInput::new(desired, &live)
            .deleted(deleted)
            .prune(prune)
            .safety(safety),
    )
}

async fn send(c: &GraphClient, method: Method, path: &str, body: Option<Value>) -> Value {
    c.send(method.clone(), path, body.as_ref())
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
        .body
}

/// Changes made in Active Directory reach a hybrid tenant through Entra Connect (the
/// emulator's `POST /_emulator/sync`): Graph refuses to write synced objects' mastered
/// attributes and memberships, so a test that damages synced objects does it there.
async fn ad_sync(emu: &Emulator, changes: Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/_emulator/sync", emu.url()))
        .json(&json!({ "changes": changes }))
        .send()
        .await
        .expect("sync request");
    let status = r.status().as_u16();
    assert_eq!(status, 200, "{}", r.text().await.unwrap_or_default());
}

fn synced(s: &Snapshot, kind: &'static str, id: &str) -> bool {
    s.get(&key(kind, id))
        .is_some_and(|o| o.props["onPremisesSyncEnabled"] == true)
}

/// Sets a user's properties: in AD for a synced user, through Graph otherwise.
async fn change_user(c: &GraphClient, emu: &Emulator, s: &Snapshot, id: &str, props: Value) {
    if synced(s, "users", id) {
        ad_sync(emu, json!([{"id": id, "set": props}])).await;
    } else {
        send(c, Method::PATCH, &format!("users/{id}"), Some(props)).await;
    }
}

fn key(kind: &'static str, id: &str) -> ObjectKey {
    ObjectKey::named(kind, id)
}

fn member_ids(s: &Snapshot, group: &str) -> BTreeSet<String> {
    s.get(&key("groups", group))
        .expect("group")
        .link_ids("members")
        .map(str::to_string)
        .collect()
}

fn actions(plan: &Plan, id: &str) -> Vec<String> {
    plan.actions
        .iter()
        .filter(|a| a.id == id)
        .map(|a| a.op.label())
        .collect()
}

/// Security groups Graph lets tenantgit write: made in the cloud (not synced from AD), static
/// (not dynamic) and not mail-enabled (Exchange's).
fn cloud_security_groups(s: &Snapshot) -> Vec<String> {
    s.of_kind("groups")
        .filter(|g| {
            g.props["groupTypes"]
                .as_array()
                .is_none_or(|a| a.is_empty())
                && g.props["mailEnabled"] != true
                && g.props["onPremisesSyncEnabled"] != true
        })
        .map(|g| g.id.clone())
        .collect()
}

/// Members of the directory made in the cloud (not synced from AD, not guests).
fn cloud_users(s: &Snapshot) -> Vec<String> {
    s.of_kind("users")
        .filter(|u| {
            u.props["onPremisesSyncEnabled"] != true
                && !u.props["userPrincipalName"]
                    .as_str()
                    .is_some_and(|n| n.contains("#EXT#"))
        })
        .map(|u| u.id.clone())
        .collect()
}

async fn add_member(c: &GraphClient, group: &str, member: &str) {
    let url = format!("{}/directoryObjects/{member}", c.base_url());
    send(
        c,
        Method::POST,
        &format!("groups/{group}/members/$ref"),
        Some(json!({ "@odata.id": url })),
    )
    .await;
}

async fn remove_member(c: &GraphClient, group: &str, member: &str) {
    send(
        c,
        Method::DELETE,
        &format!("groups/{group}/members/{member}/$ref"),
        None,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_type_is_written_verified_and_a_re_run_converges() {
    let emu = emulator("users=120,groups=40,members=6,apps=2,policies=3");
    let c = client(&emu);
    let before = read_all(&c).await;
    let users = cloud_users(&before);
    let groups = cloud_security_groups(&before);
    assert!(
        users.len() >= 6 && groups.len() >= 2,
        "{users:?} {groups:?}"
    );
    let (big, doomed) = (groups[0].clone(), groups[1].clone());
    // Setup: a group with more than 20 members (so re-adding needs two binds), and a CA
    // policy that excludes the security group that will be deleted for good. Both groups are
    // made in the cloud: Graph writes their members.
    let joining: Vec<String> = before
        .of_kind("users")
        .map(|u| u.id.clone())
        .filter(|u| !member_ids(&before, &big).contains(u))
        .take(25)
        .collect();
    for u in &joining {
        add_member(&c, &big, u).await;
    }
    let policy = before
        .of_kind("conditionalAccessPolicies")
        .next()
        .expect("a policy")
        .clone();
    let mut conditions = policy.props["conditions"].clone();
    conditions["users"]["excludeGroups"] = json!([doomed]);
    send(
        &c,
        Method::PATCH,
        &format!("identity/conditionalAccess/policies/{}", policy.id),
        Some(json!({ "conditions": conditions })),
    )
    .await;
    let backup = read_all(&c).await;
    let backup_members = member_ids(&backup, &big);
    assert!(backup_members.len() > 20);
    let doomed_members = member_ids(&backup, &doomed);
    assert!(!doomed_members.is_empty());

    // The bad day: attributes wiped (of cloud users, and of a synced user in AD, which Graph
    // cannot put back), 22 memberships removed and one added, a user soft-deleted, the
    // security group deleted for good and scrubbed from the policy, a user created that the
    // backup does not have.
    let wiped: Vec<String> = users[1..4].to_vec();
    for u in &wiped {
        change_user(
            &c,
            &emu,
            &backup,
            u,
            json!({"department": null, "jobTitle": null}),
        )
        .await;
    }
    let on_premises = backup
        .of_kind("users")
        .find(|u| synced(&backup, "users", &u.id) && u.props["department"].is_string())
        .expect("a synced user with a department")
        .id
        .clone();
    change_user(&c, &emu, &backup, &on_premises, json!({"department": null})).await;
    let removed: Vec<String> = backup_members.iter().take(22).cloned().collect();
    for u in &removed {
        remove_member(&c, &big, u).await;
    }
    let outsider = users
        .iter()
        .find(|u| !backup_members.contains(*u) && !wiped.contains(u))
        .expect("a user outside the big group")
        .clone();
    add_member(&c, &big, &outsider).await;
    let binned = users
        .iter()
        .rev()
        .find(|u| !wiped.contains(u) && **u != outsider)
        .expect("a user to delete")
        .clone();
    send(&c, Method::DELETE, &format!("users/{binned}"), None).await;
    send(&c, Method::DELETE, &format!("groups/{doomed}"), None).await;
    conditions["users"]["excludeGroups"] = json!([]);
    send(
        &c,
        Method::PATCH,
        &format!("identity/conditionalAccess/policies/{}", policy.id),
        Some(json!({ "conditions": conditions })),
    )
    .await;
    let newcomer = send(
        &c,
        Method::POST,
        "users",
        Some(json!({"accountEnabled": true, "displayName": "New Hire", "mailNickname": "newhire",
                    "userPrincipalName": "newhire@contoso.example",
                    "passwordProfile": {"password": "Xy!12345678abc", "forceChangePasswordNextSignIn": true}})),
    )
    .await["id"]
        .as_str()
        .expect("created user id")
        .to_string();

    // Plan only: nothing written.
    let writes_before = emu.stats().writes;
    let plan = make_plan(&c, &backup, true, SafetySettings::default()).await;
    assert_eq!(
        emu.stats().writes,
        writes_before,
        "planning wrote to the tenant"
    );
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    for u in &wiped {
        assert_eq!(actions(&plan, u), ["update"]);
    }
    // The synced user's department is mastered in AD: listed, not written.
    assert!(actions(&plan, &on_premises).is_empty());
    let listed: Vec<_> = plan
        .cannot_restore
        .iter()
        .filter(|e| e.id == on_premises)
        .collect();
    assert_eq!(listed.len(), 1, "{:#?}", plan.cannot_restore);
    assert_eq!(
        listed[0].fix,
        "change on-premises (synced from Active Directory)"
    );
    assert_eq!(listed[0].attributes[0].path, "department");
    // The recycle bin's copy carries no links: the manager is set again (a PUT of the same
    // reference converges).
    assert_eq!(
        actions(&plan, &binned),
        ["restore", "update", "add manager"]
    );
    assert_eq!(actions(&plan, &doomed)[0], "create");
    assert_eq!(actions(&plan, &policy.id), ["update"]);
    assert_eq!(actions(&plan, &big), ["add members", "remove members"]);
    assert_eq!(actions(&plan, &newcomer), ["delete"]);
    assert_eq!(plan.actions.last().unwrap().phase, Phase::Prune);

    let report = apply::execute(&c, &plan, &ApplyOptions::default(), None).await;
    let failures: Vec<_> = report.outcomes.iter().filter(|o| !o.ok).collect();
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(report.failed, 0);
    assert_eq!(report.verify_error, None);
    assert!(
        report.remaining_drift.is_empty(),
        "{:#?}",
        report.remaining_drift
    );
    // 22 re-added members: one bind of 20 and one of 2.
    let binds: Vec<_> = report
        .outcomes
        .iter()
        .filter(|o| o.id == big && o.action == "add members")
        .collect();
    assert_eq!(binds.len(), 2, "{binds:#?}");
    assert!(binds
        .iter()
        .all(|o| o.method == "PATCH" && o.status == Some(204)));
    // Only `$ref` deletes of links.
    for o in report
        .outcomes
        .iter()
        .filter(|o| o.action.starts_with("remove "))
    {
        assert!(o.method == "DELETE" && o.path.ends_with("/$ref"), "{o:?}");
    }
    let created = report
        .outcomes
        .iter()
        .find(|o| o.id == doomed && o.action == "create")
        .expect("create outcome");
    let new_group = created.new_id.clone().expect("new id reported");
    assert_ne!(new_group, doomed);

    let after = read_all(&c).await;
    assert_eq!(member_ids(&after, &big), backup_members);
    assert_eq!(member_ids(&after, &new_group), doomed_members);
    assert!(after.get(&key("users", &binned)).is_some());
    assert!(after.get(&key("users", &newcomer)).is_none());
    let live_policy = after
        .get(&key("conditionalAccessPolicies", &policy.id))
        .expect("policy");
    assert_eq!(
        live_policy.props["conditions"]["users"]["excludeGroups"],
        json!([new_group]),
        "the policy names the re-created group by its new id"
    );
    for u in &wiped {
        let want = backup.get(&key("users", u)).unwrap();
        let got = after.get(&key("users", u)).unwrap();
        assert!(got.same_state(want), "{u}");
    }

    // A second run has nothing to do (the re-created group is recognised); the synced user
    // is still listed for AD, and so are the dynamic groups its department took it out of.
    let writes = emu.stats().writes;
    let again = make_plan(&c, &backup, true, SafetySettings::default()).await;
    assert!(again.is_empty(), "{:#?}", again.actions);
    assert_eq!(again.id_map.get(&doomed), Some(&new_group));
    let fixes: Vec<(&str, &str)> = again
        .cannot_restore
        .iter()
        .map(|e| (e.id.as_str(), e.fix.as_str()))
        .collect();
    assert!(
        fixes.contains(&(
            on_premises.as_str(),
            "change on-premises (synced from Active Directory)"
        )),
        "{fixes:?}"
    );
    for e in &again.cannot_restore {
        if e.id != on_premises {
            assert_eq!(e.fix, "computed from the membership rule", "{e:#?}");
            assert_eq!(e.links[0].add[0].id, on_premises, "{e:#?}");
        }
    }
    let report = apply::execute(&c, &again, &ApplyOptions::default(), None).await;
    assert_eq!((report.writes, report.failed), (0, 0));
    assert_eq!(emu.stats().writes, writes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_writes_are_reported_with_request_ids_the_rest_is_done_and_a_re_run_converges() {
    let emu = emulator("users=80,groups=4,members=4,apps=1,policies=1");
    let c = client(&emu);
    let backup = read_all(&c).await;
    let users = cloud_users(&backup);
    assert!(users.len() >= 6, "{users:?}");
    for u in &users[..6] {
        change_user(&c, &emu, &backup, u, json!({"department": "Wiped"})).await;
    }
    // The second and third user PATCHes fail with a 500 (writes are not retried on 500).
    let mut rule = FaultRule::new(
        Some("PATCH"),
        Some("/users/"),
        FaultAction::Status {
            status: 500,
            retry_after: None,
        },
    );
    rule.after = 1;
    rule.times = Some(2);
    emu.set_faults(vec![rule]);
    let plan = make_plan(&c, &backup, false, SafetySettings::default()).await;
    assert_eq!(plan.actions.len(), 6);
    let report = apply::execute(&c, &plan, &ApplyOptions { concurrency: 1 }, None).await;
    assert_eq!(report.writes, 6);
    assert_eq!(report.failed, 2);
    let failed: Vec<_> = report.outcomes.iter().filter(|o| !o.ok).collect();
    for o in &failed {
        assert_eq!(o.status, Some(500));
        assert!(
            o.request_id.as_deref().is_some_and(|r| !r.is_empty()),
            "{o:?}"
        );
        assert!(o.error.as_deref().unwrap().contains("500"), "{o:?}");
        assert_eq!(o.action, "update");
    }
    // The two objects that failed are still wiped, and the read-back says so.
    let drifted: BTreeSet<&str> = report
        .remaining_drift
        .iter()
        .map(|c| c.key.id.as_str())
        .collect();
    let failed_ids: BTreeSet<&str> = failed.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(drifted, failed_ids);

    emu.set_faults(Vec::new());
    let again = make_plan(&c, &backup, false, SafetySettings::default()).await;
    assert_eq!(
        again
            .actions
            .iter()
            .map(|a| a.id.as_str())
            .collect::<BTreeSet<_>>(),
        failed_ids
    );
    let report = apply::execute(&c, &again, &ApplyOptions::default(), None).await;
    assert_eq!((report.writes, report.failed), (2, 0));
    assert!(report.remaining_drift.is_empty());
    assert!(make_plan(&c, &backup, false, SafetySettings::default())
        .await
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_of_an_object_whose_restore_failed_are_skipped_and_existing_links_converge() {
    let emu = emulator("users=80,groups=40,members=4,apps=1,policies=1");
    let c = client(&emu);
    let backup = read_all(&c).await;
    let cloud = cloud_users(&backup);
    let (group, members) = cloud_security_groups(&backup)
        .into_iter()
        .map(|g| {
            let m = member_ids(&backup, &g);
            (g, m)
        })
        .find(|(_, m)| m.len() >= 2 && m.iter().any(|u| cloud.contains(u)))
        .expect("a cloud group with a cloud-only member and another");
    // A member is deleted (soft); the group also loses another member.
    let lost = members
        .iter()
        .find(|u| cloud.contains(u))
        .expect("a cloud-only member")
        .clone();
    send(&c, Method::DELETE, &format!("users/{lost}"), None).await;
    let other = members
        .iter()
        .find(|u| **u != lost)
        .expect("another member")
        .clone();
    remove_member(&c, &group, &other).await;
    // The restore fails (503 is retried by the client; a 500 is not).
    emu.set_faults(vec![FaultRule::new(
        Some("POST"),
        Some("/directory/deletedItems/"),
        FaultAction::Status {
            status: 500,
            retry_after: None,
        },
    )]);
    let plan = make_plan(&c, &backup, false, SafetySettings::default()).await;
    assert_eq!(actions(&plan, &lost), ["restore", "update", "add manager"]);
    let report = apply::execute(&c, &plan, &ApplyOptions::default(), None).await;
    let of = |id: &str, action: &str| {
        report
            .outcomes
            .iter()
            .filter(|o| o.id == id && o.action == action)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert!(!of(&lost, "restore")[0].ok);
    let update = &of(&lost, "update")[0];
    assert!(update.skipped && !update.ok, "{update:?}");
    // The group gets `other` back; adding `lost` is skipped, not sent.
    let adds = of(&group, "add members");
    assert!(adds.iter().any(|o| o.ok && !o.skipped), "{adds:#?}");
    assert!(
        adds.iter().any(|o| o.skipped && o.path.ends_with(&lost)),
        "{adds:#?}"
    );
    // The restore, the update, and every membership of `lost` (its groups, its administrative
    // units): nothing else failed.
    let failed: Vec<&WriteOutcome> = report.outcomes.iter().filter(|o| !o.ok).collect();
    assert_eq!(report.failed, failed.len());
    assert!(failed.len() >= 3, "{failed:#?}");
    assert!(
        failed
            .iter()
            .all(|o| o.id == lost || o.path.ends_with(&lost)),
        "{failed:#?}"
    );

    // Without the fault the restore goes through; the user's memberships come back with it,
    // so adding it to the group again finds it there: converged, not failed.
    emu.set_faults(Vec::new());
    let again = make_plan(&c, &backup, false, SafetySettings::default()).await;
    let report = apply::execute(&c, &again, &ApplyOptions::default(), None).await;
    assert_eq!(report.failed, 0, "{:#?}", report.outcomes);
    assert!(
        report.outcomes.iter().any(|o| o.converged),
        "{:#?}",
        report.outcomes
    );
    assert!(
        report.remaining_drift.is_empty(),
        "{:#?}",
        report.remaining_drift
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_plans_are_detected_and_refusals_come_from_the_live_counts() {
    let emu = emulator("users=60,groups=3,members=3,apps=1,policies=1");
    let c = client(&emu);
    let backup = read_all(&c).await;
    let users = cloud_users(&backup);
    assert!(users.len() >= 7, "{users:?}");
    for u in &users[..7] {
        change_user(&c, &emu, &backup, u, json!({"jobTitle": "x"})).await;
    }
    let mut safety = SafetySettings {
        threshold: 0.1,
        ..SafetySettings::default()
    };
    safety.protected.insert(format!("users/{}", users[0]));
    let plan = make_plan(&c, &backup, false, safety).await;
    // 7 of 60 users = 12% > 10%, and a protected user.
    assert_eq!(plan.refusals.len(), 2, "{:?}", plan.refusals);

    assert!(plan::stale_objects(&plan, &read_all(&c).await).is_empty());
    change_user(&c, &emu, &backup, &users[2], json!({"jobTitle": "y"})).await;
    assert_eq!(
        plan::stale_objects(&plan, &read_all(&c).await),
        [format!("users/{}", users[2])]
    );
    // Saved and loaded, the plan is the same plan.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    plan::save(&plan, &path).unwrap();
    assert_eq!(plan::load(&path).unwrap(), plan);
    assert!(matches!(plan.actions[0].op, Op::Update { .. }));
}
