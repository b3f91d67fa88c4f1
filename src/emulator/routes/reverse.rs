//! Reverse lookups: `users/{id}/memberOf`, `users/{id}/ownedObjects`,
//! `users/{id}/directReports`, `groups/{id}/memberOf`, `servicePrincipals/{id}/memberOf` and
//! `…/ownedObjects` (facts.yaml `reverse`). Graph keeps these relationships itself; the emulator
//! finds the live objects whose references name the object, and lists them like members:
//! directory objects with `@odata.type`, `$select`, `$top` and opaque paging. Read-only.

use std::collections::BTreeSet;

use super::links::list_slots;
use super::reply::{not_allowed, Reply};
use super::request::Req;
use crate::emulator::model::Reverse;
use crate::emulator::state::Tenant;

/// The owners (slots) of every source reference that names `target`.
pub(crate) fn referrers(t: &Tenant, target: u32, reverse: &Reverse) -> BTreeSet<u32> {
    let mut out = BTreeSet::new();
    for (k, li) in &reverse.sources {
        for slot in t.live(*k).values() {
            if t.entry(*slot)
                .is_some_and(|e| e.links[*li].contains(&target))
            {
                out.insert(*slot);
            }
        }
    }
    out
}

/// `GET {object}/{reverse}`.
pub(crate) fn route(req: &Req, slot: u32, reverse: &Reverse, tail: &[&str]) -> Reply {
    if req.method != "GET" || !tail.is_empty() {
        return not_allowed(req.ctx);
    }
    let t = req.shared.read();
    let found = referrers(&t, slot, reverse);
    list_slots(req, &t, &found)
}
