//! On-premises synchronization, simulated: `POST /_emulator/sync` changes synced objects the
//! way Entra Connect does when Active Directory changes — properties, a user's manager, a
//! group's members — bypassing the write rules that refuse such changes through Graph, and
//! recorded in the change log like any other change (so delta queries see them). Connect writes
//! only the objects it synchronizes, so every object named (and every manager or member it
//! points to) must have `onPremisesSyncEnabled: true`; of the directory extension attributes it
//! writes only those it registered (`isSyncedFromOnPremises`). Each changed object gets a new
//! `onPremisesLastSyncDateTime`; users move in and out of dynamic groups as their properties
//! change. All changes are checked before any is applied. Exchange Online, the other authority
//! that changes objects Graph refuses to write, uses the same request and path with its own
//! [`Authority`] (module `exchange`).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::dynamic;
use super::extensions;
use super::model::{check_value, model};
use super::state::Tenant;

/// Who changes objects behind Graph's back, and what it may change.
pub(crate) struct Authority {
    /// Whether it masters an object; the error says why not.
    pub masters: fn(&Tenant, u32) -> Result<(), String>,
    /// Whether it may name an object as a member or manager; the error says why not.
    pub may_name: fn(&Tenant, u32) -> Result<(), String>,
    /// It writes users' managers.
    pub manager: bool,
    /// It writes the directory extension attributes synced from on-premises.
    pub synced_extensions: bool,
    /// It stamps `onPremisesLastSyncDateTime` on what it changes.
    pub stamps_sync: bool,
}

/// Entra Connect: only the objects it synchronizes, pointing only at such objects.
const CONNECT: Authority = Authority {
    masters: only_synced,
    may_name: only_synced,
    manager: true,
    synced_extensions: true,
    stamps_sync: true,
};

fn only_synced(t: &Tenant, slot: u32) -> Result<(), String> {
    if synced(t, slot) {
        return Ok(());
    }
    let id = t.entry(slot).map(|e| e.id.as_str()).unwrap_or_default();
    Err(format!(
        "{id:?} is not synchronized from on-premises (onPremisesSyncEnabled is not true); \
         Entra Connect changes only the objects it synchronizes"
    ))
}

/// The body of `POST /_emulator/sync`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SyncRequest {
    pub changes: Vec<SyncChange>,
}

/// What AD changed about one synced object.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SyncChange {
    /// Object id, or a user's principal name.
    pub id: String,
    /// Properties to set (null clears one).
    #[serde(default)]
    pub set: Map<String, Value>,
    /// A user's new manager (id or principal name); null removes it. Absent = unchanged.
    #[serde(default, deserialize_with = "some_value")]
    pub manager: Option<Value>,
    /// Members a group gains.
    #[serde(default)]
    pub add_members: Vec<String>,
    /// Members a group loses.
    #[serde(default)]
    pub remove_members: Vec<String>,
}

/// Keeps an explicit `null` apart from an absent field.
fn some_value<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// One change, checked and resolved to slots.
struct Planned {
    slot: u32,
    props: Vec<(String, Value)>,
    /// `Some(None)` removes the manager.
    manager: Option<Option<u32>>,
    add: Vec<u32>,
    remove: Vec<u32>,
}

fn synced(t: &Tenant, slot: u32) -> bool {
    t.entry(slot)
        .is_some_and(|e| e.props.get("onPremisesSyncEnabled") == Some(&Value::Bool(true)))
}

/// A live object by id or user principal name.
fn find(t: &Tenant, id: &str) -> Result<u32, String> {
    let m = model();
    let slot = t.live_slot(id).or_else(|| {
        let users = m.collection("users")?;
        t.find_by(users, "userPrincipalName", id)
    });
    slot.ok_or_else(|| format!("no live directory object {id:?}"))
}

fn kind_of(t: &Tenant, slot: u32) -> Option<&'static str> {
    t.entry(slot).map(|e| e.collection().name.as_str())
}

fn plan(t: &Tenant, c: &SyncChange, who: &Authority) -> Result<Planned, String> {
    let m = model();
    let slot = find(t, &c.id)?;
    (who.masters)(t, slot)?;
    let named = |id: &str| -> Result<u32, String> {
        let s = find(t, id)?;
        (who.may_name)(t, s)?;
        Ok(s)
    };
    let entry = t
        .entry(slot)
        .ok_or_else(|| format!("no object {:?}", c.id))?;
    let ty = entry.ty();
    let mut props = Vec::new();
    for (name, value) in &c.set {
        if let Some(ext) = extensions::definition(t, name, ty) {
            if !ext.synced || !who.synced_extensions {
                return Err(format!(
                    "{}: {} is not a directory extension synced from on-premises by Entra \
                     Connect; this source does not write it",
                    c.id, ext.name
                ));
            }
            ext.check(value)
                .map_err(|bad| format!("{}: invalid value for {}: {bad:?}", c.id, ext.name))?;
            props.push((ext.name, value.clone()));
            continue;
        }
        let p = ty
            .prop(name)
            .ok_or_else(|| format!("{}: {} has no property {name:?}", c.id, ty.name))?;
        check_value(m, &p.ty, value, &p.name)
            .map_err(|bad| format!("{}: invalid value for {}: {bad:?}", c.id, p.name))?;
        props.push((p.name.clone(), value.clone()));
    }
    let kind = kind_of(t, slot);
    let manager = match &c.manager {
        None => None,
        Some(_) if !who.manager => {
            return Err(format!("{}: this source does not write managers", c.id));
        }
        Some(_) if kind != Some("users") => {
            return Err(format!("{}: only users have a manager", c.id));
        }
        Some(Value::Null) => Some(None),
        Some(Value::String(id)) => {
            let target = named(id)?;
            if target == slot || kind_of(t, target) != Some("users") {
                return Err(format!("{}: the manager must be another synced user", c.id));
            }
            Some(Some(target))
        }
        Some(other) => {
            return Err(format!(
                "{}: manager must be an id or null, not {other}",
                c.id
            ))
        }
    };
    let members = |ids: &[String]| -> Result<Vec<u32>, String> {
        if !ids.is_empty() && kind != Some("groups") {
            return Err(format!("{}: only groups have members", c.id));
        }
        ids.iter()
            .map(|id| {
                let s = named(id)?;
                match kind_of(t, s) {
                    Some("users" | "groups") if s != slot => Ok(s),
                    _ => Err(format!("{}: {id:?} cannot be a member", c.id)),
                }
            })
            .collect()
    };
    Ok(Planned {
        slot,
        props,
        manager,
        add: members(&c.add_members)?,
        remove: members(&c.remove_members)?,
    })
}

/// Applies a sync; returns the ids of the objects it changed, or why nothing was applied.
pub(crate) fn apply(t: &mut Tenant, req: &SyncRequest) -> Result<Vec<String>, String> {
    apply_as(t, req, &CONNECT)
}

/// Applies changes made by `who`; returns the ids of the objects changed, or why nothing was
/// applied.
pub(crate) fn apply_as(
    t: &mut Tenant,
    req: &SyncRequest,
    who: &Authority,
) -> Result<Vec<String>, String> {
    let m = model();
    let planned = req
        .changes
        .iter()
        .map(|c| plan(t, c, who))
        .collect::<Result<Vec<_>, String>>()?;
    let users = m.collection("users").ok_or("the model has users")?;
    let groups = m.collection("groups").ok_or("the model has groups")?;
    let manager = m.collections[users]
        .link("manager")
        .ok_or("users have a manager")?;
    let members = m.collections[groups]
        .link("members")
        .ok_or("groups have members")?;
    let stamp = Value::String(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string());
    let mut changed = Vec::new();
    for p in planned {
        let mut props = p.props;
        if who.stamps_sync {
            props.push(("onPremisesLastSyncDateTime".into(), stamp.clone()));
        }
        if !props.is_empty() {
            t.set_props(p.slot, props);
        }
        if let Some(new) = p.manager {
            let old: Vec<u32> = t
                .entry(p.slot)
                .map(|e| e.links[manager].iter().copied().collect())
                .unwrap_or_default();
            for o in old.into_iter().filter(|o| Some(*o) != new) {
                t.remove_link(p.slot, manager, o);
            }
            if let Some(n) = new {
                t.add_link(p.slot, manager, n);
            }
        }
        for s in p.add {
            t.add_link(p.slot, members, s);
        }
        for s in p.remove {
            t.remove_link(p.slot, members, s);
        }
        dynamic::after_write(t, p.slot);
        if let Some(e) = t.entry(p.slot) {
            changed.push(e.id.clone());
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::emulator::tests::props;

    #[test]
    fn a_sync_is_logged_like_any_change() {
        let m = model();
        let (users, groups) = (
            m.collection("users").unwrap(),
            m.collection("groups").unwrap(),
        );
        let mut t = Tenant::new();
        let synced = json!({"onPremisesSyncEnabled": true, "department": "IT"});
        let a = t.insert(users, "a".into(), props(synced.clone()));
        let b = t.insert(users, "b".into(), props(synced.clone()));
        let g = t.insert(groups, "g".into(), props(synced));
        let start = t.changes.seq();
        let request: SyncRequest = serde_json::from_value(json!({"changes": [
            {"id": "a", "set": {"department": "Legal"}, "manager": "b"},
            {"id": "g", "addMembers": ["a", "b"]}
        ]}))
        .unwrap();
        assert_eq!(apply(&mut t, &request).unwrap(), ["a", "g"]);
        // Properties take a new sequence number; references are logged link changes.
        assert!(t.entry(a).unwrap().changed > start);
        assert!(t.entry(g).unwrap().changed > start);
        assert_eq!(t.entry(a).unwrap().str_prop("department"), Some("Legal"));
        assert!(t
            .entry(a)
            .unwrap()
            .props
            .contains_key("onPremisesLastSyncDateTime"));
        let logged: Vec<(u32, u32, bool)> = t
            .changes
            .links
            .iter()
            .filter(|c| c.seq > start)
            .map(|c| (c.owner, c.target, c.added))
            .collect();
        assert_eq!(logged, [(a, b, true), (g, a, true), (g, b, true)]);
        // A refused sync changes nothing.
        let seq = t.changes.seq();
        let bad: SyncRequest = serde_json::from_value(json!({"changes": [
            {"id": "b", "set": {"jobTitle": "x"}}, {"id": "nobody", "set": {}}
        ]}))
        .unwrap();
        assert!(apply(&mut t, &bad).is_err());
        assert_eq!(t.changes.seq(), seq);
    }

    #[test]
    fn connect_writes_the_extensions_it_syncs_and_no_cloud_one() {
        let m = model();
        let (users, apps) = (
            m.collection("users").unwrap(),
            m.collection("applications").unwrap(),
        );
        let defs = m.collections[apps].child("extensionProperties").unwrap();
        let mut t = Tenant::new();
        let app = t.insert(apps, "app".into(), props(json!({"displayName": "A"})));
        *t.children_mut(app, defs).unwrap() = [("division", true), ("costCenter", false)]
            .into_iter()
            .map(|(name, synced)| {
                props(json!({"id": name, "name": format!("extension_abc_{name}"),
                    "dataType": "String", "targetObjects": ["User"],
                    "isSyncedFromOnPremises": synced}))
            })
            .collect();
        let u = t.insert(
            users,
            "u".into(),
            props(json!({"onPremisesSyncEnabled": true})),
        );
        let sync = |set: Value| -> SyncRequest {
            serde_json::from_value(json!({"changes": [{"id": "u", "set": set}]})).unwrap()
        };
        apply(&mut t, &sync(json!({"EXTENSION_abc_division": "Retail"}))).unwrap();
        assert_eq!(
            t.entry(u).unwrap().str_prop("extension_abc_division"),
            Some("Retail")
        );
        let err = apply(&mut t, &sync(json!({"extension_abc_costCenter": "CC-1"}))).unwrap_err();
        assert!(err.contains("not a directory extension synced"), "{err}");
        assert!(apply(&mut t, &sync(json!({"extension_abc_division": 7}))).is_err());
    }
}
