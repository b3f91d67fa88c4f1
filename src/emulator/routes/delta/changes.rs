//! What a later delta round reports, read from the tenant's change logs between two sequence
//! numbers (so a round costs what changed, not what exists), and the relationships of an object
//! as delta sees them: a soft-deleted member stays in its groups until it is purged
//! (concepts/delta-query-groups.md @b7c64905: "Users that have been temporary deleted keep their
//! group memberships and won't appear in the delta result until they're permanently deleted").

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::emulator::model::model;
use crate::emulator::state::{Life, Purged, Tenant};

/// One `{link}@delta` entry, borrowed from the tenant: a page of groups lays a million of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LinkEntry<'a> {
    /// Link index in the owner's collection.
    pub link: u8,
    pub id: &'a str,
    /// `#microsoft.graph.user`.
    pub ty: &'a str,
    pub removed: bool,
}

impl<'a> LinkEntry<'a> {
    /// Position in an object's entries (and in a page cursor).
    pub fn key(&self) -> (u8, &'a str) {
        (self.link, self.id)
    }
}

/// What happened to one object in a round's window.
#[derive(Debug, Default)]
pub(crate) struct Change<'a> {
    /// Created or restored: reported whole.
    pub whole: bool,
    /// Tracked properties given another value.
    pub props: BTreeSet<String>,
    /// Net relationship changes, in entry order.
    pub links: Vec<LinkEntry<'a>>,
}

/// What a round tracks.
pub(crate) struct Tracking<'a> {
    pub kind: usize,
    /// Selected properties; `None` = each object's default set.
    pub sel: Option<&'a [String]>,
    pub links: &'a [u8],
}

/// The part of a sequence-ordered log in `(since, upto]`.
fn window<T>(log: &[T], seq: impl Fn(&T) -> u64, since: u64, upto: u64) -> &[T] {
    let lo = log.partition_point(|c| seq(c) <= since);
    let hi = log.partition_point(|c| seq(c) <= upto).max(lo);
    &log[lo..hi]
}

/// Objects of the tracked collection with a tracked change in `(since, upto]`, by id. A
/// purged object's id comes from the purge log.
pub(crate) fn collect<'a>(
    t: &'a Tenant,
    tr: &Tracking,
    since: u64,
    upto: u64,
) -> BTreeMap<String, Change<'a>> {
    let log = &t.changes;
    let m = model();
    // Purged after `since`: their slots are gone, their ids and types are here.
    let purged: HashMap<u32, &Purged> = window(&log.purged, |p| p.seq, since, u64::MAX)
        .iter()
        .map(|p| (p.slot, p))
        .collect();
    let ident = |slot: u32| -> Option<(usize, &'a str, usize)> {
        match t.entry(slot) {
            Some(e) => Some((e.kind as usize, e.id.as_str(), e.ty as usize)),
            None => purged
                .get(&slot)
                .map(|p| (p.kind as usize, p.id.as_str(), p.ty as usize)),
        }
    };
    let mut out: HashMap<u32, Change<'a>> = HashMap::new();
    let mut life: BTreeSet<u32> = BTreeSet::new();
    for c in window(&log.life, |c| c.seq, since, upto) {
        if ident(c.slot).is_some_and(|(k, _, _)| k == tr.kind) {
            life.insert(c.slot);
            let ch = out.entry(c.slot).or_default();
            ch.whole |= matches!(c.what, Life::Created | Life::Restored);
        }
    }
    for p in window(&log.purged, |p| p.seq, since, upto) {
        if p.kind as usize == tr.kind {
            life.insert(p.slot);
            out.entry(p.slot).or_default();
        }
    }
    for c in window(&log.props, |c| c.seq, since, upto) {
        let Some((k, _, ty)) = ident(c.slot) else {
            continue;
        };
        if k != tr.kind {
            continue;
        }
        let default;
        let tracked: &[String] = match tr.sel {
            Some(s) => s,
            None => {
                default = m
                    .ty(ty)
                    .default_props()
                    .into_iter()
                    .map(str::to_string)
                    .collect::<Vec<_>>();
                &default
            }
        };
        let names: Vec<&String> = c.names.iter().filter(|n| tracked.contains(n)).collect();
        if !names.is_empty() {
            let ch = out.entry(c.slot).or_default();
            ch.props.extend(names.into_iter().cloned());
        }
    }
    // Per (owner, link, target): present before the window, present after it.
    let mut net: BTreeMap<(u32, u8, u32), (bool, bool)> = BTreeMap::new();
    for c in window(&log.links, |c| c.seq, since, upto) {
        if c.recycle || !tr.links.contains(&c.link) {
            continue;
        }
        if ident(c.owner).is_none_or(|(k, _, _)| k != tr.kind) {
            continue;
        }
        net.entry((c.owner, c.link, c.target))
            .and_modify(|(_, after)| *after = c.added)
            .or_insert((!c.added, c.added));
    }
    for ((owner, link, target), (before, after)) in net {
        if before == after {
            continue;
        }
        let Some((_, id, ty)) = ident(target) else {
            continue;
        };
        out.entry(owner).or_default().links.push(LinkEntry {
            link,
            id,
            ty: &m.ty(ty).odata_type,
            removed: !after,
        });
    }
    out.into_iter()
        .filter(|(slot, ch)| life.contains(slot) || !ch.props.is_empty() || !ch.links.is_empty())
        .filter_map(|(slot, mut ch)| {
            ch.links.sort_unstable_by_key(LinkEntry::key);
            ident(slot).map(|(_, id, _)| (id.to_string(), ch))
        })
        .collect()
}

/// Soft-deleted objects that relationship sets of collection `kind` still hold for delta:
/// (owner, link) → targets.
pub(crate) fn recycled(t: &Tenant, kind: usize) -> HashMap<(u32, usize), Vec<u32>> {
    let mut out: HashMap<(u32, usize), Vec<u32>> = HashMap::new();
    for k in 0..model().collections.len() {
        for slot in t.recycle(k).values() {
            let Some(d) = t.entry(*slot).and_then(|e| e.deleted.as_ref()) else {
                continue;
            };
            for (owner, link) in &d.removed_from {
                if t.entry(*owner).is_some_and(|e| e.kind as usize == kind) {
                    out.entry((*owner, *link)).or_default().push(*slot);
                }
            }
        }
    }
    out
}

/// Every relationship entry of an object as delta sees it, in entry order.
pub(crate) fn current_links<'a>(
    t: &'a Tenant,
    slot: u32,
    links: &[u8],
    recycled: &HashMap<(u32, usize), Vec<u32>>,
) -> Vec<LinkEntry<'a>> {
    let Some(e) = t.entry(slot) else {
        return Vec::new();
    };
    let m = model();
    // Sorted by a copy of each id's first bytes, so that sorting seldom reaches into the
    // targets' entries, which lie all over the tenant.
    let mut out: Vec<(u8, [u8; 8], LinkEntry<'a>)> = Vec::new();
    for li in links {
        let l = *li as usize;
        let Some(set) = e.links.get(l) else {
            continue;
        };
        let held = recycled.get(&(slot, l)).map(Vec::as_slice).unwrap_or(&[]);
        // A single-valued reference set anew while its old target was soft-deleted has one.
        let single = e.collection().links[l].single;
        let extra: &[u32] = if single && !set.is_empty() { &[] } else { held };
        for target in set.iter().chain(extra) {
            if let Some(te) = t.entry(*target) {
                let mut head = [0u8; 8];
                let n = te.id.len().min(8);
                head[..n].copy_from_slice(&te.id.as_bytes()[..n]);
                let entry = LinkEntry {
                    link: *li,
                    id: &te.id,
                    ty: &m.ty(te.ty as usize).odata_type,
                    removed: false,
                };
                out.push((*li, head, entry));
            }
        }
    }
    out.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)).then_with(|| a.2.id.cmp(b.2.id)));
    out.into_iter().map(|(_, _, e)| e).collect()
}
