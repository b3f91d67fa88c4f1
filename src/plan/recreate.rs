//! Re-created objects: a desired object that is gone live but has a live counterpart created in
//! its place (by an earlier restore, or by hand) is read as that counterpart, so that re-runs
//! converge instead of creating the object again.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::model::{Object, Snapshot};

use super::build::PlanInput;

/// Desired objects that are missing live (and not in the recycle bin) but have a live
/// counterpart of the same kind with the same name property that the desired side lacks:
/// re-created objects (by an earlier restore, or by hand), old id → live id. Only unambiguous
/// matches count: one candidate for one missing object. Without this, a second restore would
/// create the same group again instead of converging.
pub(super) fn recreated(input: &PlanInput) -> BTreeMap<String, String> {
    let name_of = |o: &Object| -> Option<String> {
        let name = o.props.get(&o.kind.name_property)?.as_str()?;
        (!name.is_empty()).then(|| name.to_lowercase())
    };
    let mut missing: HashMap<(&str, String), Vec<&Object>> = HashMap::new();
    for (key, o) in &input.desired.objects {
        if o.kind.singleton || input.live.get(key).is_some() || input.deleted.contains_key(key) {
            continue;
        }
        if let Some(name) = name_of(o) {
            missing.entry((key.kind, name)).or_default().push(o);
        }
    }
    if missing.is_empty() {
        return BTreeMap::new();
    }
    let mut extra: HashMap<(&str, String), Vec<&Object>> = HashMap::new();
    for (key, o) in &input.live.objects {
        if input.desired.get(key).is_some() {
            continue;
        }
        if let Some(name) = name_of(o) {
            if missing.contains_key(&(key.kind, name.clone())) {
                extra.entry((key.kind, name)).or_default().push(o);
            }
        }
    }
    let mut out = BTreeMap::new();
    for (k, gone) in &missing {
        if let (Some(live), [old]) = (extra.get(k), gone.as_slice()) {
            if let [new] = live.as_slice() {
                out.insert(old.id.clone(), new.id.clone());
            }
        }
    }
    out
}

/// A snapshot with ids replaced: object ids, link ends, and every string property value that
/// is one of the old ids (a CA policy's `excludeGroups`).
pub(super) fn remap_snapshot(snapshot: &Snapshot, ids: &BTreeMap<String, String>) -> Snapshot {
    fn value(v: &Value, ids: &BTreeMap<String, String>) -> Value {
        match v {
            Value::String(s) => Value::String(ids.get(s).cloned().unwrap_or_else(|| s.clone())),
            Value::Array(a) => Value::Array(a.iter().map(|x| value(x, ids)).collect()),
            Value::Object(m) => {
                Value::Object(m.iter().map(|(k, x)| (k.clone(), value(x, ids))).collect())
            }
            other => other.clone(),
        }
    }
    let mut out = Snapshot::default();
    for o in snapshot.objects.values() {
        let mut o = o.clone();
        if let Some(new) = ids.get(&o.id) {
            o.id = new.clone();
        }
        o.props = o
            .props
            .iter()
            .map(|(k, v)| (k.clone(), value(v, ids)))
            .collect();
        for refs in o.links.values_mut() {
            for r in refs.iter_mut() {
                if let Some(new) = ids.get(&r.id) {
                    r.id = new.clone();
                }
            }
            refs.sort_by(|a, b| a.id.cmp(&b.id));
            refs.dedup_by(|a, b| a.id == b.id);
        }
        out.insert(o);
    }
    out
}
