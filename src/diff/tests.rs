//! Unit tests of the difference engine and its ignore rules.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};

use super::fixture::{self, *};
use super::*;
use crate::normalize::normalize;

fn run(old: &Snapshot, new: &Snapshot, options: &DiffOptions) -> Vec<Change> {
    diff(old, new, &HashMap::new(), options)
}

fn snap(objects: impl IntoIterator<Item = Object>) -> Snapshot {
    let mut s = Snapshot::default();
    for o in objects {
        s.insert(o);
    }
    s
}

fn find<'a>(changes: &'a [Change], id: &str) -> &'a Change {
    changes
        .iter()
        .find(|c| c.key.id == id)
        .unwrap_or_else(|| panic!("no change for {id}"))
}

fn paths(c: &Change) -> Vec<&str> {
    c.attributes.iter().map(|a| a.path.as_str()).collect()
}

#[test]
fn scenario_changes_sorted_by_apply_order_then_name() {
    let (old, new, deleted) = fixture::scenario();
    let changes = diff(&old, &new, &deleted, &DiffOptions::default());
    let order: Vec<(&str, &str, &str)> = changes
        .iter()
        .map(|c| {
            (
                c.key.kind.name(),
                c.display_name.as_str(),
                c.change.as_str(),
            )
        })
        .collect();
    assert_eq!(
        order,
        vec![
            ("users", "Alice Smith", "modified"),
            ("users", "Bob Jones", "modified"),
            ("users", "Dave Brown", "removed"),
            ("groups", "Legacy VPN users", "removed"),
            ("groups", "Sales Team", "modified"),
            ("namedLocations", "Branch office Lisbon", "added"),
            (
                "conditionalAccessPolicies",
                "Require MFA for all users",
                "modified"
            ),
        ]
    );
}

#[test]
fn wiped_user_attributes_are_leaves_in_schema_order_old_beside_new() {
    let (old, new, deleted) = fixture::scenario();
    let changes = diff(&old, &new, &deleted, &DiffOptions::default());
    let alice = find(&changes, ALICE);
    assert_eq!(
        alice.attributes,
        vec![
            AttributeChange {
                path: "jobTitle".into(),
                old: json!("Account Executive"),
                new: Value::Null,
                set_like: false,
                cannot_restore: None,
            },
            AttributeChange {
                path: "department".into(),
                old: json!("Sales"),
                new: Value::Null,
                set_like: false,
                cannot_restore: None,
            },
            AttributeChange {
                path: "onPremisesExtensionAttributes.extensionAttribute1".into(),
                old: json!("SALES-EU"),
                new: Value::Null,
                set_like: false,
                cannot_restore: None,
            },
        ]
    );
    assert!(alice.links.is_empty());
}

#[test]
fn removed_objects_tell_recycle_bin_from_gone_and_keep_their_old_name() {
    let (old, new, deleted) = fixture::scenario();
    let changes = diff(&old, &new, &deleted, &DiffOptions::default());
    let dave = find(&changes, DAVE);
    assert_eq!(dave.display_name, "Dave Brown");
    assert_eq!(
        dave.change,
        ChangeKind::Removed {
            restorable: deleted.get(&dave.key).cloned()
        }
    );
    assert!(matches!(
        dave.change,
        ChangeKind::Removed {
            restorable: Some(_)
        }
    ));
    // What was lost is listed, null-valued properties aside.
    assert!(dave
        .attributes
        .iter()
        .any(|a| a.path == "department" && a.old == json!("Sales") && a.new.is_null()));
    assert!(dave.attributes.iter().all(|a| !a.old.is_null()));
    let vpn = find(&changes, VPN);
    assert_eq!(vpn.change, ChangeKind::Removed { restorable: None });
    assert_eq!(vpn.display_name, "Legacy VPN users");
    assert_eq!(
        vpn.links[0].removed,
        vec![LinkRef::new(ALICE, Some("Alice Smith".into()))]
    );
}

#[test]
fn group_link_changes_carry_ids_and_names() {
    let (old, new, deleted) = fixture::scenario();
    let changes = diff(&old, &new, &deleted, &DiffOptions::default());
    let sales = find(&changes, SALES);
    assert_eq!(sales.links.len(), 1, "owners did not change");
    let members = &sales.links[0];
    assert_eq!(members.name, "members");
    assert!(members.added.is_empty());
    let removed: Vec<(&str, Option<&str>)> = members
        .removed
        .iter()
        .map(|r| (r.id.as_str(), r.display_name.as_deref()))
        .collect();
    // Sorted by id, as in the files.
    assert_eq!(
        removed,
        vec![
            (ALICE, Some("Alice Smith")),
            (BOB, Some("Bob Jones")),
            (DAVE, Some("Dave Brown"))
        ]
    );
    assert_eq!(paths(sales), vec!["description"]);
}

#[test]
fn link_names_come_from_the_other_side_when_missing() {
    let g = |members: Vec<LinkRef>| {
        let mut o = fixture::group(SALES, "Sales Team", "x", &[]);
        o.links.insert("members".into(), members);
        o
    };
    let alice = fixture::user(
        ALICE,
        "alice@contoso.com",
        "Alice Smith",
        Value::Null,
        Value::Null,
        Value::Null,
    );
    let old = snap([g(vec![]), alice.clone()]);
    let new = snap([
        g(vec![LinkRef::new(ALICE, None), LinkRef::new("ffff", None)]),
        alice,
    ]);
    let changes = run(&old, &new, &DiffOptions::default());
    let added = &find(&changes, SALES).links[0].added;
    assert_eq!(added[0].display_name.as_deref(), Some("Alice Smith"));
    assert_eq!(added[1].display_name, None);
}

#[test]
fn nested_set_like_array_change_has_its_own_path() {
    let (old, new, deleted) = fixture::scenario();
    let changes = diff(&old, &new, &deleted, &DiffOptions::default());
    let policy = find(&changes, MFA_POLICY);
    assert_eq!(
        paths(policy),
        vec!["conditions.users.excludeGroups", "grantControls.operator"]
    );
    let eg = &policy.attributes[0];
    assert!(eg.set_like);
    let (added, removed) = eg.set_delta().unwrap();
    assert_eq!(added, vec![&json!(SALES)]);
    assert!(removed.is_empty());
    assert_eq!(policy.attributes[1].set_delta(), None);
}

#[test]
fn added_object_lists_its_non_null_attributes() {
    let (old, new, deleted) = fixture::scenario();
    let changes = diff(&old, &new, &deleted, &DiffOptions::default());
    let lisbon = find(&changes, LISBON);
    assert_eq!(lisbon.change, ChangeKind::Added);
    assert_eq!(
        paths(lisbon),
        vec![
            "@odata.type",
            "displayName",
            "createdDateTime",
            "isTrusted",
            "ipRanges"
        ]
    );
    assert!(lisbon.attributes.iter().all(|a| a.old.is_null()));
}

#[test]
fn null_absent_empty_object_and_empty_array_are_no_drift() {
    let users = crate::schema::kind("users").unwrap();
    let a = normalize(
        users,
        &json!({"id": "u1", "displayName": "U", "department": null,
                "onPremisesExtensionAttributes": {"extensionAttribute1": null},
                "businessPhones": [], "employeeOrgData": null}),
        BTreeMap::new(),
    )
    .unwrap();
    let mut b = a.clone();
    b.props.remove("department");
    b.props["onPremisesExtensionAttributes"] = Value::Null;
    b.props["businessPhones"] = Value::Null;
    b.props["employeeOrgData"] = json!({"division": null});
    let changes = run(
        &snap([a.clone()]),
        &snap([b.clone()]),
        &DiffOptions::default(),
    );
    assert!(changes.is_empty(), "{changes:#?}");
    // The same objects with a real difference do show it.
    b.props["employeeOrgData"] = json!({"division": "North"});
    let changes = run(&snap([a]), &snap([b]), &DiffOptions::default());
    assert_eq!(paths(&changes[0]), vec!["employeeOrgData.division"]);
}

#[test]
fn set_like_arrays_compare_as_sets_ordered_arrays_by_order() {
    let apps = crate::schema::kind("applications").unwrap();
    let base = normalize(
        apps,
        &json!({"id": "a1", "displayName": "App"}),
        BTreeMap::new(),
    )
    .unwrap();
    let with = |prop: &str, v: Value| {
        let mut o = base.clone();
        o.props.insert(prop.into(), v);
        o
    };
    // identifierUris is set-like for applications; objects inside arrays with keys in another
    // order are the same element.
    assert!(apps.is_set_like("identifierUris"));
    let changes = run(
        &snap([with(
            "identifierUris",
            json!(["api://a", "api://b", "api://b"]),
        )]),
        &snap([with("identifierUris", json!(["api://b", "api://a"]))]),
        &DiffOptions::default(),
    );
    assert!(changes.is_empty(), "{changes:#?}");
    let changes = run(
        &snap([with("identifierUris", json!(["api://a"]))]),
        &snap([with("identifierUris", json!(["api://b"]))]),
        &DiffOptions::default(),
    );
    assert_eq!(paths(&changes[0]), vec!["identifierUris"]);

    // An array that is not set-like: order is meaningful.
    let users = crate::schema::kind("users").unwrap();
    assert!(!users.is_set_like("onPremisesImmutableId"));
    let u = |v: Value| {
        let mut o = fixture::user(ALICE, "a@x", "A", Value::Null, Value::Null, Value::Null);
        o.props.insert("imAddresses".into(), v);
        o
    };
    let changes = run(
        &snap([u(json!(["x", "y"]))]),
        &snap([u(json!(["y", "x"]))]),
        &DiffOptions::default(),
    );
    assert_eq!(paths(&changes[0]), vec!["imAddresses"]);
    assert!(!changes[0].attributes[0].set_like);
}

#[test]
fn identical_snapshots_have_no_changes() {
    let (old, _, _) = fixture::scenario();
    assert!(run(&old, &old.clone(), &DiffOptions::default()).is_empty());
}

fn ignoring(rules: Vec<IgnoreRule>) -> DiffOptions {
    DiffOptions {
        ignore: IgnoreRules::new(rules).unwrap(),
        ..DiffOptions::default()
    }
}

fn rule(kind: &str, paths: &[&str], ids: &[&str]) -> IgnoreRule {
    IgnoreRule {
        kind: kind.into(),
        paths: paths.iter().map(|s| s.to_string()).collect(),
        ids: ids.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn ignore_rules_hide_paths_and_emptied_objects_vanish() {
    let (old, new, deleted) = fixture::scenario();
    let options = ignoring(vec![
        // Kind wildcard: nobody cares about descriptions.
        rule("*", &["description"], &[]),
        // Nested path wildcard.
        rule(
            "users",
            &["onPremisesExtensionAttributes.*", "jobTitle"],
            &[],
        ),
        // By id: Alice's department is known to be in flux.
        rule("users", &["department"], &[&ALICE.to_uppercase()]),
        // A link by name on one object.
        rule("groups", &["members"], &[SALES]),
    ]);
    let changes = diff(&old, &new, &deleted, &options);
    assert!(
        changes.iter().all(|c| c.key.id != ALICE),
        "Alice's changes are all accepted"
    );
    assert!(
        changes.iter().all(|c| c.key.id != SALES),
        "Sales Team's changes are all accepted"
    );
    assert_eq!(paths(find(&changes, BOB)), vec!["department"]);
    // Removed objects stay, whatever their attributes.
    let vpn = find(&changes, VPN);
    assert!(!paths(vpn).contains(&"description"));
    let link_names: Vec<&str> = vpn.links.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(link_names, ["members", "owners"]);
    let dave = find(&changes, DAVE);
    assert!(!paths(dave).contains(&"jobTitle"));
}

#[test]
fn summary_counts_per_kind() {
    let (old, new, deleted) = fixture::scenario();
    let (from, to) = fixture::sides();
    let report = Report {
        from,
        to,
        changes: diff(&old, &new, &deleted, &DiffOptions::default()),
    };
    let s = report.summary();
    assert_eq!(
        s["users"],
        KindSummary {
            added: 0,
            removed: 1,
            modified: 2
        }
    );
    assert_eq!(
        s["groups"],
        KindSummary {
            added: 0,
            removed: 1,
            modified: 1
        }
    );
    assert_eq!(
        s["namedLocations"],
        KindSummary {
            added: 1,
            removed: 0,
            modified: 0
        }
    );
    assert_eq!(
        s["conditionalAccessPolicies"],
        KindSummary {
            added: 0,
            removed: 0,
            modified: 1
        }
    );
    assert_eq!(s.len(), 4);
    assert_eq!(
        report.totals(),
        KindSummary {
            added: 1,
            removed: 2,
            modified: 4
        }
    );
    let order: Vec<String> = report
        .summary_in_order()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        order,
        [
            "users",
            "groups",
            "namedLocations",
            "conditionalAccessPolicies"
        ]
    );
    assert!(!report.is_empty());
}

#[test]
fn variant_change_reports_type_and_both_types_properties() {
    let nl = crate::schema::kind("namedLocations").unwrap();
    let ip = fixture::lisbon();
    let country = normalize(
        nl,
        &json!({"@odata.type": "#microsoft.graph.countryNamedLocation", "id": LISBON,
                "displayName": "Branch office Lisbon", "createdDateTime": "2026-11-27T07:45:00Z",
                "countriesAndRegions": ["PT"], "includeUnknownCountriesAndRegions": false,
                "countryLookupMethod": "clientIpAddress"}),
        BTreeMap::new(),
    )
    .unwrap();
    let changes = run(&snap([ip]), &snap([country]), &DiffOptions::default());
    let p = paths(&changes[0]);
    assert_eq!(p[0], "@odata.type");
    assert!(
        p.contains(&"isTrusted") && p.contains(&"countriesAndRegions"),
        "{p:?}"
    );
}

#[test]
fn renamed_link_end_alone_is_no_drift() {
    let old = snap([fixture::group(
        SALES,
        "Sales Team",
        "x",
        &[(ALICE, "Alice Smith")],
    )]);
    let new = snap([fixture::group(
        SALES,
        "Sales Team",
        "x",
        &[(ALICE, "Alice Smith-Jones")],
    )]);
    assert!(run(&old, &new, &DiffOptions::default()).is_empty());
    let new = snap([fixture::group(
        SALES,
        "Sales Team",
        "x",
        &[(BOB, "Bob Jones")],
    )]);
    let changes = run(&old, &new, &DiffOptions::default());
    assert_eq!(changes[0].links[0].added[0].id, BOB);
    assert_eq!(changes[0].links[0].removed[0].id, ALICE);
}

#[test]
fn unsorted_link_lists_from_hand_edited_files_still_compare_as_sets() {
    let mut a = fixture::group(SALES, "Sales Team", "x", &[]);
    a.links.insert(
        "members".into(),
        vec![
            LinkRef::new(BOB, None),
            LinkRef::new(ALICE, None),
            LinkRef::new(BOB, None),
        ],
    );
    let b = fixture::group(SALES, "Sales Team", "x", &[(ALICE, "A"), (BOB, "B")]);
    assert!(run(&snap([a]), &snap([b]), &DiffOptions::default()).is_empty());
}
