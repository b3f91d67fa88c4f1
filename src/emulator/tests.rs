//! Unit tests of the emulator's tenant model and generator (HTTP behaviour is tested in
//! `tests/emulator_*.rs`).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::config::SyntheticSpec;
use super::model::{check_value, model};
use super::state::{Life, Render, Tenant};
use super::synthetic::generate;

fn kind_index(name: &str) -> Option<usize> {
    model().collection(name)
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A JSON object literal as a property map (test helper shared by the emulator's modules).
pub(crate) fn props(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

#[test]
fn soft_delete_unlinks_and_restore_relinks() {
    let mut t = Tenant::new();
    let users = kind_index("users").unwrap();
    let groups = kind_index("groups").unwrap();
    let u = t.insert(
        users,
        "u1".into(),
        props(json!({"displayName": "U", "department": null})),
    );
    let g = t.insert(groups, "g1".into(), props(json!({"displayName": "G"})));
    t.entry_mut(g).unwrap().links[0].insert(u);
    assert!(
        !t.entry(u).unwrap().props.contains_key("department"),
        "nulls are not stored"
    );
    t.soft_delete(u, "2024-01-01T00:00:00Z".into());
    assert!(t.entry(g).unwrap().links[0].is_empty());
    assert!(t.live_slot("u1").is_none() && t.recycle(users).contains_key("u1"));
    let rendered = t.render(u, None, Render::default());
    assert_eq!(rendered["deletedDateTime"], "2024-01-01T00:00:00Z");
    t.restore(u);
    assert!(t.entry(g).unwrap().links[0].contains(&u));
    assert!(t.live_slot("u1").is_some() && t.recycle(users).is_empty());
    t.entry_mut(u).unwrap().props.insert(
        "onPremisesExtensionAttributes".into(),
        json!({"extensionAttribute2": "x"}),
    );
    let ext = &t.render(
        u,
        Some(&names(&["onPremisesExtensionAttributes"])[..]),
        Render::default(),
    )["onPremisesExtensionAttributes"];
    assert_eq!(ext.as_object().unwrap().len(), 15);
    assert_eq!(
        (
            ext["extensionAttribute2"].as_str(),
            ext["extensionAttribute15"].is_null()
        ),
        (Some("x"), true)
    );
    t.purge(u);
    assert!(t.slot("u1").is_none() && t.entry(g).unwrap().links[0].is_empty());
}

#[test]
fn render_fills_nulls_and_hides_secrets() {
    let mut t = Tenant::new();
    let apps = kind_index("applications").unwrap();
    let a = t.insert(
        apps,
        "a1".into(),
        props(json!({"displayName": "A", "passwordCredentials": [{"keyId": "k", "hint": "abc", "secretText": "s3cr3t"}],
                     "keyCredentials": [{"keyId": "c", "key": "AAAA"}]})),
    );
    let all = t.render(a, None, Render::default());
    assert!(all["notes"].is_null() && all.contains_key("notes"));
    assert!(all["passwordCredentials"][0]["secretText"].is_null());
    assert!(all["keyCredentials"][0]["key"].is_null());
    let with_key = t.render(
        a,
        Some(&names(&["keyCredentials"])[..]),
        Render {
            odata_type: false,
            keep_key: true,
            omit_null: false,
        },
    );
    assert_eq!(with_key["keyCredentials"][0]["key"], "AAAA");
    assert!(!serde_json::to_string(&with_key).unwrap().contains("s3cr3t"));
}

#[test]
fn synthetic_departments_are_skewed_and_groups_reference_real_objects() {
    let mut t = Tenant::new();
    let spec = SyntheticSpec {
        users: 3000,
        groups: 40,
        members: 10,
        apps: 5,
        policies: 12,
    };
    generate(&spec, "tenant", &mut t);
    let users = kind_index("users").unwrap();
    let mut sizes: BTreeMap<String, usize> = BTreeMap::new();
    for slot in t.live(users).values() {
        let e = t.entry(*slot).unwrap();
        // Invited guests belong to no department.
        if e.str_prop("userType") == Some("Guest") {
            continue;
        }
        let d = e.str_prop("department").unwrap().to_string();
        *sizes.entry(d).or_default() += 1;
    }
    let largest = *sizes.values().max().unwrap();
    let smallest = *sizes.values().min().unwrap();
    assert!((10..=15).contains(&sizes.len()), "{sizes:?}");
    assert!(largest >= 300 && largest > 5 * smallest, "{sizes:?}");
    assert_eq!(t.count_live(kind_index("groups").unwrap()), 40);
    // One per application, and Microsoft's first-party ones every tenant has.
    let sps = kind_index("servicePrincipals").unwrap();
    let microsoft = t
        .live(sps)
        .values()
        .filter(|s| {
            t.entry(**s).unwrap().str_prop("appOwnerOrganizationId")
                == Some("f8cdef31-a31e-4b4a-93e4-5f571e91255a")
        })
        .count();
    assert_eq!((t.count_live(sps), microsoft), (5 + 4, 4));
    assert_eq!(
        t.count_live(kind_index("conditionalAccessPolicies").unwrap()),
        12
    );
    // Every CA policy's group and location references name live objects.
    let ca = kind_index("conditionalAccessPolicies").unwrap();
    for slot in t.live(ca).values() {
        let c = &t.entry(*slot).unwrap().props["conditions"];
        for id in c["users"]["includeGroups"].as_array().unwrap() {
            assert!(t.live_slot(id.as_str().unwrap()).is_some());
        }
        for id in c
            .pointer("/locations/includeLocations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let id = id.as_str().unwrap();
            assert!(id == "All" || t.live_slot(id).is_some());
        }
    }
}

#[test]
fn every_change_takes_the_next_sequence_number() {
    let mut t = Tenant::new();
    let users = kind_index("users").unwrap();
    let groups = kind_index("groups").unwrap();
    let members = model().collections[groups].link("members").unwrap();
    let u = t.insert(users, "u1".into(), props(json!({"displayName": "U"})));
    let g = t.insert(groups, "g1".into(), props(json!({"displayName": "G"})));
    let start = t.changes.seq();
    assert!(t.entry(g).unwrap().changed > t.entry(u).unwrap().changed);
    assert!(t.add_link(g, members, u));
    assert!(!t.add_link(g, members, u), "already there: no change");
    t.set_props(u, vec![("jobTitle".into(), json!("Boss"))]);
    assert_eq!(t.entry(u).unwrap().changed, start + 2);
    t.soft_delete(u, "2024-01-01T00:00:00Z".into());
    t.restore(u);
    t.purge(u);
    let log: Vec<(bool, u64)> = t.changes.links.iter().map(|c| (c.added, c.seq)).collect();
    // Added, removed by the soft delete, put back by the restore, removed by the purge.
    assert_eq!(
        log.iter().map(|(a, _)| *a).collect::<Vec<_>>(),
        [true, false, true, false]
    );
    assert!(log.windows(2).all(|w| w[0].1 < w[1].1), "{log:?}");
    assert_eq!(t.changes.purged.len(), 1);
    assert_eq!(t.changes.purged[0].id, "u1");
    assert_eq!(t.changes.purged[0].seq, t.changes.seq());
}

#[test]
fn the_change_logs_say_what_delta_reports() {
    let mut t = Tenant::new();
    let users = kind_index("users").unwrap();
    let groups = kind_index("groups").unwrap();
    let members = model().collections[groups].link("members").unwrap();
    let u = t.insert(
        users,
        "u1".into(),
        props(json!({"displayName": "U", "jobTitle": "A"})),
    );
    let g = t.insert(groups, "g1".into(), props(json!({"displayName": "G"})));
    assert!(t.add_link(g, members, u));
    let since = t.changes.seq();
    // Only the names whose value changed; the same value again is no change.
    t.set_props(
        u,
        vec![
            ("jobTitle".into(), json!("B")),
            ("displayName".into(), json!("U")),
            ("city".into(), Value::Null),
        ],
    );
    t.set_props(u, vec![("jobTitle".into(), json!("B"))]);
    t.set_props(u, vec![("jobTitle".into(), Value::Null)]);
    let changed: Vec<(u32, Vec<String>)> = t
        .changes
        .props
        .iter()
        .filter(|c| c.seq > since)
        .map(|c| (c.slot, c.names.clone()))
        .collect();
    assert_eq!(
        changed,
        [(u, names(&["jobTitle"])), (u, names(&["jobTitle"]))]
    );
    // A soft delete and a restore move the member out and back as recycle-bin changes; the
    // purge of a soft-deleted member ends its memberships as an ordinary removal.
    t.soft_delete(u, "2024-01-01T00:00:00Z".into());
    t.restore(u);
    t.soft_delete(u, "2024-01-02T00:00:00Z".into());
    t.purge(u);
    let links: Vec<(bool, bool)> = t
        .changes
        .links
        .iter()
        .filter(|c| c.seq > since)
        .map(|c| (c.added, c.recycle))
        .collect();
    assert_eq!(
        links,
        [(false, true), (true, true), (false, true), (false, false)]
    );
    let life: Vec<Life> = t
        .changes
        .life
        .iter()
        .filter(|c| c.seq > since)
        .map(|c| c.what)
        .collect();
    assert_eq!(life, [Life::SoftDeleted, Life::Restored, Life::SoftDeleted]);
    let p = t.changes.purged.last().unwrap();
    assert_eq!((p.slot, p.id.as_str(), p.kind as usize), (u, "u1", users));
    assert!(t
        .changes
        .life
        .iter()
        .any(|c| c.slot == g && c.what == Life::Created));
}

#[test]
fn the_generated_tenant_holds_only_what_the_model_knows() {
    let mut t = Tenant::new();
    let spec = SyntheticSpec {
        users: 200,
        groups: 30,
        members: 5,
        apps: 10,
        policies: 12,
    };
    generate(&spec, "00000000-0000-0000-0000-0000000000e1", &mut t);
    super::defaults::insert(&mut t);
    let m = model();
    let apps = kind_index("applications").unwrap();
    let ext_child = m.collections[apps].child("extensionProperties").unwrap();
    let extensions: Vec<String> = t
        .live(apps)
        .values()
        .flat_map(|a| t.entry(*a).unwrap().children(ext_child).to_vec())
        .filter_map(|d| d["name"].as_str().map(str::to_string))
        .collect();
    // One registered in the cloud, one synced from Active Directory.
    assert_eq!(extensions.len(), 2);
    let mut checked = 0;
    for k in 0..m.collections.len() {
        for slot in t.live(k).values() {
            let e = t.entry(*slot).unwrap();
            let ty = e.ty();
            for (name, value) in &e.props {
                // Directory extension values, of an extension an application defines.
                if name.starts_with("extension_") {
                    assert!(extensions.contains(name), "{name} is not defined");
                    checked += 1;
                    continue;
                }
                let p = ty
                    .prop(name)
                    .unwrap_or_else(|| panic!("{} has no property {name}", ty.name));
                assert_eq!(&p.name, name, "stored in Graph's spelling");
                if let Err(bad) = check_value(m, &p.ty, value, name) {
                    panic!("{} {}: {bad:?}", ty.name, e.id);
                }
                checked += 1;
            }
            for (ci, child) in e.collection().children.iter().enumerate() {
                for item in e.children(ci) {
                    let item_ty = item
                        .get("@odata.type")
                        .and_then(Value::as_str)
                        .and_then(|x| m.entity(x))
                        .unwrap_or(child.ty);
                    let r = super::model::TypeRef {
                        collection: false,
                        nullable: true,
                        base: super::model::TypeBase::Named(m.ty(item_ty).name.clone()),
                    };
                    check_value(m, &r, &Value::Object(item.clone()), &child.name).unwrap();
                }
            }
        }
    }
    assert!(checked > 3000, "{checked}");
}
