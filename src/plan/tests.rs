//! Unit tests of plan building, safety, re-created objects and fingerprints.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Map, Value};

use super::*;
use crate::diff::fixture::{self, ALICE, BOB, CAROL, DAVE, LISBON, MFA_POLICY, SALES, VPN};
use crate::model::{ObjectKey, Snapshot};
use crate::normalize::normalize;
use crate::schema;

fn key(kind: &'static str, id: &str) -> ObjectKey {
    ObjectKey::named(kind, id)
}

/// The fixture's morning after: desired = the backup, live = the damaged tenant, Dave in the
/// recycle bin.
fn scenario_plan(prune: bool, safety: SafetySettings) -> Plan {
    let (backup, live, _) = fixture::scenario();
    let mut deleted = HashMap::new();
    deleted.insert(
        key("users", DAVE),
        DeletedObject {
            key: key("users", DAVE),
            display_name: "Dave Brown".into(),
            deleted_at: Some("2026-11-27T07:58:12Z".into()),
            state: None,
        },
    );
    plan(
        &PlanInput::new(&backup, &live)
            .deleted(deleted.clone())
            .prune(prune)
            .safety(safety)
            .request(
                PlanRequest {
                    desired: DesiredSource::Commit {
                        rev: "HEAD~1".into(),
                        commit: "3f2a1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b".into(),
                    },
                    selection: Default::default(),
                    prune,
                },
                "HEAD~1 (3f2a1c0)",
            ),
    )
}

fn find<'a>(plan: &'a Plan, id: &str, label: &str) -> &'a Action {
    plan.actions
        .iter()
        .find(|a| a.id == id && a.op.label() == label)
        .unwrap_or_else(|| panic!("no {label} of {id} in {:#?}", plan.actions))
}

fn body(action: &Action) -> &Map<String, Value> {
    match &action.op {
        Op::Update { body } | Op::Create { body, .. } => body,
        other => panic!("not a write with a body: {other:?}"),
    }
}

#[test]
fn scenario_becomes_restore_create_update_and_links_in_dependency_order() {
    let plan = scenario_plan(false, SafetySettings::default());
    let steps: Vec<(Phase, &str, &str, String)> = plan
        .actions
        .iter()
        .map(|a| (a.phase, a.kind.as_str(), a.id.as_str(), a.op.label()))
        .collect();
    let position = |id: &str, label: &str| {
        steps
            .iter()
            .position(|s| s.2 == id && s.3 == label)
            .unwrap_or_else(|| panic!("no {label} of {id} in {steps:#?}"))
    };
    // Users come back before groups are re-created; every object exists before any update;
    // links come last.
    assert!(position(DAVE, "restore") < position(VPN, "create"));
    assert!(position(VPN, "create") < position(ALICE, "update"));
    assert!(position(MFA_POLICY, "update") < position(SALES, "add members"));
    assert!(position(VPN, "create") < position(VPN, "add members"));
    let phases: Vec<Phase> = steps.iter().map(|s| s.0).collect();
    let mut sorted = phases.clone();
    sorted.sort();
    assert_eq!(phases, sorted, "actions come in phase order");
    // Carol only differs in the order of a set-like array: nothing to do.
    assert!(plan
        .actions
        .iter()
        .all(|a| a.id != CAROL || a.kind != "users"));
    // Lisbon was created after the backup: kept, not deleted.
    assert_eq!(plan.kept.len(), 1);
    assert_eq!(plan.kept[0].id, LISBON);
    assert!(plan.actions.iter().all(|a| a.id != LISBON));
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
}

#[test]
fn update_sends_only_differing_writable_properties_with_nulls_and_whole_nested_objects() {
    let plan = scenario_plan(false, SafetySettings::default());
    let alice = body(find(&plan, ALICE, "update"));
    let keys: Vec<&str> = alice.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["jobTitle", "department", "onPremisesExtensionAttributes"]
    );
    assert_eq!(alice["department"], json!("Sales"));
    // The nested object goes whole: every extension attribute, the nulls too.
    let ext = alice["onPremisesExtensionAttributes"].as_object().unwrap();
    assert_eq!(ext.len(), 15);
    assert_eq!(ext["extensionAttribute1"], json!("SALES-EU"));
    assert_eq!(ext["extensionAttribute2"], Value::Null);

    let policy = body(find(&plan, MFA_POLICY, "update"));
    let keys: Vec<&str> = policy.keys().map(String::as_str).collect();
    assert_eq!(keys, ["conditions", "grantControls"]);
    assert_eq!(
        policy["conditions"]["users"]["excludeGroups"],
        json!([fixture::BREAKGLASS])
    );
    assert_eq!(policy["grantControls"]["operator"], json!("OR"));

    // The display side says what changes, live → desired.
    let shown = &find(&plan, ALICE, "update").attributes;
    assert!(shown
        .iter()
        .any(|a| a.path == "department" && a.old.is_null() && a.new == json!("Sales")));
}

#[test]
fn a_value_set_live_but_null_in_the_backup_is_cleared_with_null() {
    let (backup, mut live, _) = fixture::scenario();
    let alice = live.objects.get_mut(&key("users", ALICE)).unwrap();
    alice.props["companyName"] = json!("Fabrikam");
    let plan = plan(&PlanInput::new(&backup, &live));
    let b = body(find(&plan, ALICE, "update"));
    assert_eq!(b.get("companyName"), Some(&Value::Null));
}

#[test]
fn no_update_body_ever_holds_a_read_only_create_only_or_credential_property() {
    let plan = scenario_plan(true, SafetySettings::default());
    for a in &plan.actions {
        let kind = a.kind;
        if let Op::Update { body } = &a.op {
            for k in body.keys() {
                assert!(
                    !kind.is_read_only(k) && !kind.is_create_only(k) && k != "id",
                    "{}: {k} in {body:?}",
                    a.key()
                );
                assert!(kind.credential(k).is_none(), "{k} is a credential");
            }
        }
        if let Op::Create { body, .. } = &a.op {
            for k in body.keys() {
                assert!(
                    !kind.is_read_only(k) || kind.is_create_only(k),
                    "{}: {k}",
                    a.key()
                );
            }
        }
    }
}

#[test]
fn restore_without_known_state_writes_every_writable_property() {
    let plan = scenario_plan(false, SafetySettings::default());
    find(&plan, DAVE, "restore");
    let b = body(find(&plan, DAVE, "update"));
    let users = schema::kind("users").unwrap();
    for p in &users.managed {
        let writable = !users.is_read_only(p) && !users.is_create_only(p);
        assert_eq!(b.contains_key(p), writable, "{p}");
    }
    assert_eq!(b["department"], json!("Sales"));
}

#[test]
fn restore_with_known_state_writes_only_what_differs_from_it() {
    let (backup, live, _) = fixture::scenario();
    let mut state = backup.get(&key("users", DAVE)).unwrap().clone();
    state.props["jobTitle"] = json!("Wiped");
    let mut deleted = HashMap::new();
    deleted.insert(
        key("users", DAVE),
        DeletedObject {
            key: key("users", DAVE),
            display_name: "Dave Brown".into(),
            deleted_at: None,
            state: Some(state),
        },
    );
    let plan = plan(&PlanInput::new(&backup, &live).deleted(deleted.clone()));
    let b = body(find(&plan, DAVE, "update"));
    assert_eq!(b.keys().collect::<Vec<_>>(), ["jobTitle"]);
}

#[test]
fn a_hard_deleted_group_is_re_created_without_read_only_properties_and_gets_its_links_back() {
    let plan = scenario_plan(false, SafetySettings::default());
    let create = find(&plan, VPN, "create");
    let Op::Create { body, password } = &create.op else {
        unreachable!()
    };
    assert!(!password, "only users get a password");
    assert_eq!(body["displayName"], json!("Legacy VPN users"));
    assert_eq!(body["securityEnabled"], json!(true));
    for ro in [
        "mail",
        "proxyAddresses",
        "securityIdentifier",
        "createdDateTime",
        "id",
    ] {
        assert!(!body.contains_key(ro), "{ro}");
    }
    let Op::AddLinks { ends, .. } = &find(&plan, VPN, "add members").op else {
        unreachable!()
    };
    assert_eq!(
        ends.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        [ALICE]
    );
    find(&plan, VPN, "add owners");
    assert!(plan
        .notes
        .iter()
        .any(|n| n.id == VPN && n.message.contains("new id")));
}

#[test]
fn a_re_created_user_gets_a_password_and_a_note_but_the_plan_holds_no_password() {
    let (mut backup, mut live, _) = fixture::scenario();
    live.objects.remove(&key("users", ALICE));
    // Graph requires a mailNickname to create a user; every real user has one.
    let alice = backup.objects.get_mut(&key("users", ALICE)).unwrap();
    alice.props.insert("mailNickname".into(), json!("alice"));
    let plan = plan(&PlanInput::new(&backup, &live));
    let Op::Create { body, password } = &find(&plan, ALICE, "create").op else {
        unreachable!()
    };
    assert!(password);
    assert!(!body.contains_key("passwordProfile"));
    let text = serde_json::to_string(&plan).unwrap();
    assert!(!text.contains("passwordProfile"));
    assert!(plan
        .notes
        .iter()
        .any(|n| n.id == ALICE && n.message.contains("password")));
}

#[test]
fn prune_deletes_live_only_objects_last_in_reverse_apply_order() {
    let (backup, mut live, _) = fixture::scenario();
    // A user created since the backup, next to the named location.
    live.insert(fixture::user(
        "e0e0e0e0-0000-4000-8000-000000000005",
        "eve@contoso.com",
        "Eve New",
        Value::Null,
        Value::Null,
        Value::Null,
    ));
    let plan = plan(&PlanInput::new(&backup, &live).prune(true));
    assert!(plan.kept.is_empty());
    let deletes: Vec<(&str, &Op)> = plan
        .actions
        .iter()
        .filter(|a| a.phase == Phase::Prune)
        .map(|a| (a.kind.as_str(), &a.op))
        .collect();
    assert_eq!(
        deletes,
        [
            ("namedLocations", &Op::Delete { soft: false }),
            ("users", &Op::Delete { soft: true })
        ]
    );
    assert_eq!(plan.actions.last().unwrap().kind, "users");
}

#[test]
fn named_location_updates_carry_their_odata_type() {
    let mut desired = Snapshot::default();
    let mut live = Snapshot::default();
    let lisbon = fixture::lisbon();
    let mut changed = lisbon.clone();
    changed.props["isTrusted"] = json!(false);
    desired.insert(lisbon);
    live.insert(changed);
    let plan = plan(&PlanInput::new(&desired, &live));
    let b = body(find(&plan, LISBON, "update"));
    assert_eq!(b["@odata.type"], json!("#microsoft.graph.ipNamedLocation"));
    assert_eq!(b["isTrusted"], json!(true));
}

fn app(id: &str, secrets: Value, keys: Value, notes: &str) -> crate::model::Object {
    normalize(
        schema::kind("applications").unwrap(),
        &json!({"id": id, "displayName": "Payroll", "appId": "11111111-2222-3333-4444-555555555555",
                "notes": notes, "passwordCredentials": secrets, "keyCredentials": keys}),
        BTreeMap::new(),
    )
    .unwrap()
}

#[test]
fn credentials_are_never_patched_and_become_notes() {
    let id = "a0000000-0000-4000-8000-0000000000a1";
    let secret = json!([{"keyId": "k1", "displayName": "ci", "hint": "abc",
                         "endDateTime": "2027-01-01T00:00:00Z"}]);
    let key_cred = json!([{"keyId": "k2", "type": "AsymmetricX509Cert", "usage": "Verify"}]);
    let mut desired = Snapshot::default();
    let mut live = Snapshot::default();
    desired.insert(app(id, secret, key_cred, "restored notes"));
    live.insert(app(id, json!([]), json!([]), "changed notes"));
    let plan = plan(&PlanInput::new(&desired, &live));
    let b = body(find(&plan, id, "update"));
    assert_eq!(b.keys().collect::<Vec<_>>(), ["notes"]);
    let notes: Vec<&str> = plan.notes.iter().map(|n| n.message.as_str()).collect();
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("passwordCredentials") && n.contains("cannot restore secrets")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("keyCredentials") && n.contains("cannot restore secrets")),
        "{notes:?}"
    );
}

#[test]
fn matching_states_give_an_empty_plan() {
    let (backup, _, _) = fixture::scenario();
    let plan = plan(&PlanInput::new(&backup, &backup).prune(true));
    assert!(plan.is_empty());
    assert!(plan.kept.is_empty() && plan.refusals.is_empty() && plan.fingerprints.is_empty());
    let empty = Snapshot::default();
    let nothing = super::plan(&PlanInput::new(&empty, &empty).live_counts(BTreeMap::new()));
    assert!(nothing.is_empty());
}

/// `n` users live, the first `changed` of them with another department in the backup.
fn users_plan(n: usize, changed: usize, safety: SafetySettings) -> Plan {
    let mut desired = Snapshot::default();
    let mut live = Snapshot::default();
    for i in 0..n {
        let id = format!("00000000-0000-4000-8000-{i:012}");
        let upn = format!("user{i}@contoso.com");
        let dept = if i < changed { "Sales" } else { "Ops" };
        desired.insert(fixture::user(
            &id,
            &upn,
            &upn,
            json!(dept),
            Value::Null,
            Value::Null,
        ));
        live.insert(fixture::user(
            &id,
            &upn,
            &upn,
            json!("Ops"),
            Value::Null,
            Value::Null,
        ));
    }
    plan(&PlanInput::new(&desired, &live).safety(safety))
}

#[test]
fn a_plan_touching_more_than_the_threshold_share_of_a_kind_is_refused() {
    let plan = users_plan(10, 4, SafetySettings::default());
    assert_eq!(
        plan.refusals,
        [Refusal::Threshold {
            kind: crate::schema::Kind::named("users").unwrap(),
            affected: 4,
            live: 10,
            threshold: 0.3
        }]
    );
    assert!(plan.refusals[0].message().contains("4 of 10"));
    let err = ensure_allowed(&plan, false).unwrap_err();
    assert!(err.to_string().contains("4 of 10"), "{err}");
    assert!(err.hint().unwrap().contains("--force"));
    ensure_allowed(&plan, true).unwrap();
    // At the threshold: allowed.
    assert!(users_plan(10, 3, SafetySettings::default())
        .refusals
        .is_empty());
    // Fewer live objects than the minimum: no threshold.
    assert!(users_plan(9, 9, SafetySettings::default())
        .refusals
        .is_empty());
    // A per-kind override.
    let mut strict = SafetySettings::default();
    strict.kinds.insert(
        "users".into(),
        KindThreshold {
            threshold: Some(0.1),
            min_objects: Some(5),
        },
    );
    assert_eq!(users_plan(10, 2, strict).refusals.len(), 1);
}

#[test]
fn any_action_on_a_protected_object_is_refused() {
    let mut safety = SafetySettings::default();
    safety.protected.insert(format!("users/{ALICE}"));
    safety.protected.insert(format!("users/{CAROL}"));
    let plan = scenario_plan(false, safety);
    // Carol is protected but untouched.
    assert_eq!(
        plan.refusals,
        [Refusal::Protected {
            kind: crate::schema::Kind::named("users").unwrap(),
            id: ALICE.into(),
            display_name: "Alice Smith".into()
        }]
    );
}

#[test]
fn safety_settings_come_from_the_config_file() {
    let config = crate::config::FileConfig::parse(
        "[safety]\nthreshold = 0.5\nprotected = [\"users/x\"]\n[safety.kinds.groups]\nmin-objects = 3\n",
        "tenantgit.toml",
    )
    .unwrap();
    let s = config.safety.settings();
    assert_eq!(s.for_kind("users"), (0.5, 10));
    assert_eq!(s.for_kind("groups"), (0.5, 3));
    assert!(s.protected.contains("users/x"));
}

#[test]
fn fingerprints_notice_live_changes_since_the_plan() {
    let plan = scenario_plan(false, SafetySettings::default());
    let (_, live, _) = fixture::scenario();
    assert_eq!(plan.fingerprints[&format!("users/{DAVE}")], ABSENT);
    assert_ne!(plan.fingerprints[&format!("users/{ALICE}")], ABSENT);
    assert!(stale_objects(&plan, &live).is_empty());
    ensure_fresh(&plan, &live).unwrap();

    // Someone edits Alice, someone re-creates the VPN group by hand, Lisbon (not touched by
    // the plan) changes too.
    let mut now = live.clone();
    now.objects.get_mut(&key("users", ALICE)).unwrap().props["jobTitle"] = json!("CEO");
    now.insert(fixture::group(VPN, "Legacy VPN users", "by hand", &[]));
    now.objects
        .get_mut(&key("namedLocations", LISBON))
        .unwrap()
        .props["isTrusted"] = json!(false);
    assert_eq!(
        stale_objects(&plan, &now),
        [format!("groups/{VPN}"), format!("users/{ALICE}")]
    );
    assert!(
        matches!(ensure_fresh(&plan, &now), Err(PlanError::Stale { objects }) if objects.len() == 2)
    );

    // A link end's display name is not state.
    let mut renamed = live.clone();
    for r in renamed
        .objects
        .get_mut(&key("groups", SALES))
        .unwrap()
        .links
        .get_mut("members")
        .unwrap()
    {
        r.display_name = Some("someone else".into());
    }
    assert!(stale_objects(&plan, &renamed).is_empty());
    // An object the plan updates that is gone now.
    let mut gone = live;
    gone.objects.remove(&key("users", BOB));
    assert_eq!(stale_objects(&plan, &gone), [format!("users/{BOB}")]);
}

#[test]
fn saved_plans_load_back_identical_and_edits_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    let plan = scenario_plan(true, SafetySettings::default());
    save(&plan, &path).unwrap();
    assert_eq!(load(&path).unwrap(), plan);

    // Someone edits a value in the body.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"SALES-EU\""));
    std::fs::write(&path, text.replace("\"SALES-EU\"", "\"SALES-XX\"")).unwrap();
    let err = load(&path).unwrap_err();
    assert!(matches!(err, PlanError::Checksum { .. }), "{err:?}");
    assert!(err.to_string().contains("changed after it was made"));
    assert!(err.hint().unwrap().contains("tenantgit plan --out"));

    // Cut off.
    std::fs::write(&path, &text[..text.len() / 2]).unwrap();
    assert!(matches!(
        load(&path).unwrap_err(),
        PlanError::Corrupt { .. }
    ));
    // Another format version.
    let version = format!("\"version\": {PLAN_VERSION}");
    assert!(text.contains(&version));
    std::fs::write(&path, text.replacen(&version, "\"version\": 99", 1)).unwrap();
    assert!(matches!(
        load(&path).unwrap_err(),
        PlanError::Version { found: 99, .. }
    ));
    assert!(matches!(
        load(&dir.path().join("missing.json")).unwrap_err(),
        PlanError::Read { .. }
    ));
}

#[test]
fn desired_objects_round_trip_to_model_objects() {
    let plan = scenario_plan(false, SafetySettings::default());
    let (backup, _, _) = fixture::scenario();
    for d in &plan.desired_objects {
        let o = d.to_object().unwrap();
        let original = backup.get(&o.key()).unwrap();
        assert!(o.same_state(original), "{}", o.key());
    }
    // Every touched object that exists on the desired side has its desired state.
    for (kind, id) in plan.touched() {
        assert!(plan.desired_object(kind, &id).is_some(), "{kind}/{id}");
    }
}

#[test]
fn a_re_created_object_is_matched_by_name_and_references_follow_it() {
    // The first restore re-created the VPN group as NEW_VPN; the CA policy excludes it.
    const NEW_VPN: &str = "7e470000-0000-4000-8000-0000000000ff";
    let (backup, mut live, _) = fixture::scenario();
    let mut backup = backup;
    backup
        .objects
        .get_mut(&key("conditionalAccessPolicies", MFA_POLICY))
        .unwrap()
        .props["conditions"]["users"]["excludeGroups"] = json!([VPN]);
    let mut recreated = backup.get(&key("groups", VPN)).unwrap().clone();
    recreated.id = NEW_VPN.into();
    recreated.props["id"] = json!(NEW_VPN);
    live.insert(recreated);
    let mut policy = backup
        .get(&key("conditionalAccessPolicies", MFA_POLICY))
        .unwrap()
        .clone();
    policy.props["conditions"]["users"]["excludeGroups"] = json!([NEW_VPN]);
    live.insert(policy);
    let plan = plan(&PlanInput::new(&backup, &live).prune(true));
    assert_eq!(plan.id_map.get(VPN).map(String::as_str), Some(NEW_VPN));
    // Neither created again nor pruned, and the policy needs no change.
    assert!(
        plan.actions.iter().all(|a| a.id != VPN && a.id != NEW_VPN),
        "{:#?}",
        plan.actions
    );
    assert!(plan.actions.iter().all(|a| a.id != MFA_POLICY));
    assert!(plan
        .notes
        .iter()
        .any(|n| n.id == NEW_VPN && n.message.contains("re-created")));

    // Two live candidates with the name: ambiguous, so no match (the group is created).
    let mut twin = live.get(&key("groups", NEW_VPN)).unwrap().clone();
    twin.id = "7e470000-0000-4000-8000-0000000000fe".into();
    live.insert(twin);
    let plan = super::plan(&PlanInput::new(&backup, &live));
    assert!(plan.id_map.is_empty());
    find(&plan, VPN, "create");
}

#[test]
fn a_user_lacking_what_graph_requires_on_create_is_not_re_created() {
    let (backup, mut live, _) = fixture::scenario();
    live.objects.remove(&key("users", ALICE));
    let plan = plan(&PlanInput::new(&backup, &live));
    assert!(
        !plan.actions.iter().any(|a| a.id == ALICE),
        "{:?}",
        plan.actions
    );
    assert!(plan
        .notes
        .iter()
        .any(|n| n.id == ALICE && n.message.contains("requires mailNickname")));
}

/// A kind Graph cannot update (as role assignments are): `update: replace`.
fn replace_kind() -> &'static schema::KindSpec {
    let mut spec: schema::KindSpec = serde_yaml::from_str(
        "kind: assignments\ngraphType: \"#x\"\npath: assignments\ndir: assignments\n\
         nameProperty: displayName\napplyOrder: 90\ncreate: true\ndelete: true\nupdate: replace\n\
         permissions: {read: R, write: W}\nmanaged: [displayName, scope]\nreadOnly: []\n",
    )
    .unwrap();
    spec.read_only.push("displayName".into());
    Box::leak(Box::new(spec))
}

#[test]
fn an_object_graph_cannot_update_is_deleted_and_created_again() {
    let kind = replace_kind();
    let object = |scope: &str| crate::model::Object {
        kind: kind.into(),
        id: "a1".into(),
        props: json!({"id": "a1", "displayName": "Reader", "scope": scope})
            .as_object()
            .unwrap()
            .clone(),
        links: BTreeMap::new(),
        names: BTreeMap::new(),
    };
    let mut desired = Snapshot::default();
    desired.insert(object("/"));
    let mut live = Snapshot::default();
    live.insert(object("/administrativeUnits/x"));
    let plan = plan(&PlanInput::new(&desired, &live));
    let ops: Vec<(Phase, String)> = plan
        .actions
        .iter()
        .map(|a| (a.phase, a.op.label()))
        .collect();
    assert_eq!(
        ops,
        [
            (Phase::Replace, "delete".into()),
            (Phase::Recover, "create".into())
        ]
    );
    // Not a deletion the recycle bin cannot undo: the object comes straight back.
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    // A difference only in what cannot be written changes nothing.
    let mut live = Snapshot::default();
    let mut renamed = object("/");
    renamed.props.insert("displayName".into(), json!("Other"));
    live.insert(renamed);
    assert!(plan_of(&desired, &live).actions.is_empty());
}

fn plan_of(desired: &Snapshot, live: &Snapshot) -> Plan {
    plan(&PlanInput::new(desired, live))
}

#[test]
fn the_last_owner_is_kept_because_graph_refuses_to_remove_it() {
    let (backup, mut live, _) = fixture::scenario();
    let (g, mut desired) = (key("groups", SALES), backup.clone());
    let owners = live.get(&g).unwrap().links["owners"].clone();
    assert!(!owners.is_empty());
    desired
        .objects
        .get_mut(&g)
        .unwrap()
        .links
        .insert("owners".into(), Vec::new());
    live.objects
        .get_mut(&g)
        .unwrap()
        .links
        .insert("owners".into(), owners.clone());
    let plan = plan(&PlanInput::new(&desired, &live));
    let removed: usize = plan
        .actions
        .iter()
        .filter(|a| a.id == SALES)
        .map(|a| match &a.op {
            Op::RemoveLinks { link, ends } if link == "owners" => ends.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(removed, owners.len() - 1);
    assert!(plan
        .notes
        .iter()
        .any(|n| n.id == SALES && n.message.contains("keeps the last of the owners")));
}
