//! Fingerprints of live objects: a plan records the state of every object it acts on, so that a
//! saved plan is refused when the tenant changed since it was made.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::model::{Object, ObjectKey, Snapshot};
use crate::schema;

use super::model::{hex, Plan};
use super::PlanError;

/// Fingerprint of an object that does not exist live.
pub const ABSENT: &str = "absent";

/// sha256 of an object's state: its properties and the ids of its links, as canonical JSON.
/// Link ends' display names are left out on purpose: renaming a member is not a change of the
/// group the plan would overwrite.
pub fn fingerprint(object: &Object) -> String {
    let links: BTreeMap<&String, Vec<&str>> = object
        .links
        .iter()
        .map(|(n, refs)| (n, refs.iter().map(|r| r.id.as_str()).collect()))
        .collect();
    let state = serde_json::json!({ "props": object.props, "links": links });
    hex(&Sha256::digest(
        serde_json::to_vec(&state).expect("JSON values always serialize"),
    ))
}

/// [`stale_objects`] as an error when any object changed.
pub fn ensure_fresh(plan: &Plan, live_now: &Snapshot) -> Result<(), PlanError> {
    let objects = stale_objects(plan, live_now);
    if objects.is_empty() {
        Ok(())
    } else {
        Err(PlanError::Stale { objects })
    }
}

/// Objects the plan acts on whose live state differs from when the plan was made, as `kind/id`:
/// `live_now` must hold the current live state of every object of the plan's kinds that is
/// live (an object it lacks counts as absent). Empty means the plan is safe to execute.
pub fn stale_objects(plan: &Plan, live_now: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for (key, expected) in &plan.fingerprints {
        let Some((kind, id)) = key.split_once('/') else {
            out.push(key.clone());
            continue;
        };
        let Some(spec) = schema::kind(kind) else {
            out.push(key.clone());
            continue;
        };
        let now = live_now
            .get(&ObjectKey {
                kind: spec.into(),
                id: id.to_string(),
            })
            .map(fingerprint)
            .unwrap_or_else(|| ABSENT.to_string());
        if &now != expected {
            out.push(key.clone());
        }
    }
    out
}
