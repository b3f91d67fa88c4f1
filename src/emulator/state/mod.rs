//! The emulated tenant in memory: every directory object once, addressed by a slot number, with
//! per-collection ordered indexes of live and soft-deleted objects, references (members, owners,
//! manager) as sets of slots and contained children inside their parent. Properties are kept as
//! JSON without nulls (null and absent are one fact in Graph). Every change takes the next number
//! of one tenant-wide sequence (objects remember theirs; property, lifecycle and link changes and
//! permanent deletes are logged with theirs), which is what delta queries are served from.

mod render;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value};

use super::model::{model, Collection, EntityType};

pub(crate) use render::{render_child, Render};

/// A soft-deleted object's bookkeeping.
#[derive(Debug, Clone)]
pub(crate) struct Deleted {
    pub at: String,
    /// Link sets of other objects this one was removed from, put back on restore.
    pub removed_from: Vec<(u32, usize)>,
}

/// Contained children by position in the collection's `children`, each in creation order.
pub(crate) type Children = Vec<Vec<Map<String, Value>>>;

/// One object.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// Index of its collection in the model.
    pub kind: u16,
    /// Its entity type (a derived type where the collection holds several).
    pub ty: u16,
    pub id: String,
    /// Non-null properties other than `id` (and `@odata.type` only for a type the model does
    /// not know).
    pub props: Map<String, Value>,
    /// Reference sets by position in the collection's `links`.
    pub links: Vec<BTreeSet<u32>>,
    /// Contained children by position in the collection's `children`, in creation order.
    pub children: Option<Box<Children>>,
    pub deleted: Option<Deleted>,
    /// Sequence number of the object's last change.
    pub changed: u64,
}

impl Entry {
    pub fn collection(&self) -> &'static Collection {
        &model().collections[self.kind as usize]
    }

    pub fn ty(&self) -> &'static EntityType {
        model().ty(self.ty as usize)
    }

    pub fn str_prop(&self, name: &str) -> Option<&str> {
        self.props.get(name).and_then(Value::as_str)
    }

    pub fn children(&self, child: usize) -> &[Map<String, Value>] {
        self.children
            .as_ref()
            .and_then(|c| c.get(child))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

/// A reference added or removed, in sequence order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LinkChange {
    pub seq: u64,
    pub owner: u32,
    pub link: u8,
    pub target: u32,
    pub added: bool,
    /// Made by a soft delete (or undone by a restore) of the target. Graph's delta keeps a
    /// soft-deleted member in its groups until it is purged (concepts/delta-query-groups.md
    /// @b7c64905), so delta skips these; the purge logs the removal that delta reports.
    pub recycle: bool,
}

/// Properties a change gave another value (a removed one included), in sequence order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PropChange {
    pub seq: u64,
    pub slot: u32,
    pub names: Vec<String>,
}

/// What happened to an object as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Life {
    Created,
    SoftDeleted,
    Restored,
}

/// An object created, soft-deleted or restored, in sequence order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LifeChange {
    pub seq: u64,
    pub slot: u32,
    pub what: Life,
}

/// An object deleted for good (its slot is gone, so its id and type are kept here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Purged {
    pub seq: u64,
    pub kind: u16,
    pub ty: u16,
    pub slot: u32,
    pub id: String,
}

/// Every change in sequence order: the ground for delta queries. Each log is ordered by `seq`,
/// so the changes after a delta token are found by binary search.
#[derive(Debug, Default)]
pub(crate) struct ChangeLog {
    seq: u64,
    pub links: Vec<LinkChange>,
    pub props: Vec<PropChange>,
    pub life: Vec<LifeChange>,
    pub purged: Vec<Purged>,
}

impl ChangeLog {
    fn next(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// The last sequence number given out (what a delta token records).
    pub fn seq(&self) -> u64 {
        self.seq
    }
}

/// Every object of the tenant.
#[derive(Debug)]
pub(crate) struct Tenant {
    entries: Vec<Option<Entry>>,
    by_id: HashMap<String, u32>,
    /// Per collection: live objects ordered by id (the order lists and paging use).
    live: Vec<BTreeMap<String, u32>>,
    /// Per collection: soft-deleted objects ordered by id.
    recycle: Vec<BTreeMap<String, u32>>,
    pub changes: ChangeLog,
}

impl Default for Tenant {
    fn default() -> Self {
        Tenant::new()
    }
}

impl Tenant {
    pub fn new() -> Tenant {
        let n = model().collections.len();
        Tenant {
            entries: Vec::new(),
            by_id: HashMap::new(),
            live: vec![BTreeMap::new(); n],
            recycle: vec![BTreeMap::new(); n],
            changes: ChangeLog::default(),
        }
    }

    /// Adds a live object of collection `kind` (nulls dropped; an `@odata.type` property picks
    /// the derived type, or is kept when the model does not know it); replaces one with the same
    /// id.
    pub fn insert(&mut self, kind: usize, id: String, mut props: Map<String, Value>) -> u32 {
        let m = model();
        let coll = &m.collections[kind];
        let named = props.get("@odata.type").and_then(Value::as_str);
        let known = named
            .and_then(|t| m.entity(t))
            .filter(|t| m.is_a(*t, &m.ty(coll.ty).name));
        // A type newer than the metadata excerpt keeps its name and is served as stored.
        if known.is_some() || named.is_none() {
            props.remove("@odata.type");
        }
        let ty = known.unwrap_or(coll.ty);
        props.retain(|k, v| k != "id" && !v.is_null());
        if let Some(slot) = self.by_id.get(&id).copied() {
            self.purge(slot);
        }
        let slot = u32::try_from(self.entries.len()).expect("fewer than 4 billion objects");
        let changed = self.changes.next();
        self.changes.life.push(LifeChange {
            seq: changed,
            slot,
            what: Life::Created,
        });
        self.live[kind].insert(id.clone(), slot);
        self.by_id.insert(id.clone(), slot);
        self.entries.push(Some(Entry {
            kind: u16::try_from(kind).expect("few collections"),
            ty: u16::try_from(ty).expect("few types"),
            id,
            props,
            links: vec![BTreeSet::new(); coll.links.len()],
            children: None,
            deleted: None,
            changed,
        }));
        slot
    }

    pub fn entry(&self, slot: u32) -> Option<&Entry> {
        self.entries.get(slot as usize).and_then(Option::as_ref)
    }

    /// Direct access for building a tenant (seed, generator): changes made through it are part
    /// of the initial state and not logged.
    pub fn entry_mut(&mut self, slot: u32) -> Option<&mut Entry> {
        self.entries.get_mut(slot as usize).and_then(Option::as_mut)
    }

    /// Slot of any object (live or soft-deleted) with this id.
    pub fn slot(&self, id: &str) -> Option<u32> {
        self.by_id.get(id).copied()
    }

    /// Slot of a live object.
    pub fn live_slot(&self, id: &str) -> Option<u32> {
        self.slot(id).filter(|s| self.is_live(*s))
    }

    pub fn is_live(&self, slot: u32) -> bool {
        self.entry(slot).is_some_and(|e| e.deleted.is_none())
    }

    pub fn live(&self, kind: usize) -> &BTreeMap<String, u32> {
        &self.live[kind]
    }

    pub fn recycle(&self, kind: usize) -> &BTreeMap<String, u32> {
        &self.recycle[kind]
    }

    pub fn count_live(&self, kind: usize) -> usize {
        self.live[kind].len()
    }

    fn touch(&mut self, slot: u32) -> u64 {
        let seq = self.changes.next();
        if let Some(e) = self.entry_mut(slot) {
            e.changed = seq;
        }
        seq
    }

    fn log_life(&mut self, slot: u32, what: Life) {
        let seq = self.touch(slot);
        self.changes.life.push(LifeChange { seq, slot, what });
    }

    /// Sets properties (a null removes one) as one change; logs the names whose value changed.
    pub fn set_props(&mut self, slot: u32, props: Vec<(String, Value)>) {
        let Some(e) = self.entry_mut(slot) else {
            return;
        };
        let mut names = Vec::new();
        for (k, v) in props {
            let old = if v.is_null() {
                e.props.remove(&k)
            } else {
                e.props.insert(k.clone(), v.clone())
            };
            if old.unwrap_or(Value::Null) != v && !names.contains(&k) {
                names.push(k);
            }
        }
        let seq = self.touch(slot);
        if !names.is_empty() {
            self.changes.props.push(PropChange { seq, slot, names });
        }
    }

    /// The children of one contained collection, to change them (one change of the parent).
    pub fn children_mut(
        &mut self,
        slot: u32,
        child: usize,
    ) -> Option<&mut Vec<Map<String, Value>>> {
        self.touch(slot);
        let e = self.entry_mut(slot)?;
        let n = e.collection().children.len();
        let all = e
            .children
            .get_or_insert_with(|| Box::new(vec![Vec::new(); n]));
        all.get_mut(child)
    }

    /// Adds a reference (logged); false when it was there already.
    pub fn add_link(&mut self, owner: u32, link: usize, target: u32) -> bool {
        self.add_link_as(owner, link, target, false)
    }

    fn add_link_as(&mut self, owner: u32, link: usize, target: u32, recycle: bool) -> bool {
        let added = self
            .entry_mut(owner)
            .is_some_and(|e| e.links[link].insert(target));
        if added {
            self.log_link(owner, link, target, true, recycle);
        }
        added
    }

    /// Removes a reference (logged); false when it was not there.
    pub fn remove_link(&mut self, owner: u32, link: usize, target: u32) -> bool {
        self.remove_link_as(owner, link, target, false)
    }

    fn remove_link_as(&mut self, owner: u32, link: usize, target: u32, recycle: bool) -> bool {
        let removed = self
            .entry_mut(owner)
            .is_some_and(|e| e.links[link].remove(&target));
        if removed {
            self.log_link(owner, link, target, false, recycle);
        }
        removed
    }

    fn log_link(&mut self, owner: u32, link: usize, target: u32, added: bool, recycle: bool) {
        let seq = self.changes.next();
        self.changes.links.push(LinkChange {
            seq,
            owner,
            link: u8::try_from(link).expect("few links per collection"),
            target,
            added,
            recycle,
        });
    }

    /// Soft delete: the object leaves its collection's list and every reference set it was in.
    pub fn soft_delete(&mut self, slot: u32, at: String) {
        let removed_from = self.unlink_everywhere(slot, true);
        let Some(entry) = self.entry_mut(slot) else {
            return;
        };
        entry.deleted = Some(Deleted { at, removed_from });
        let (kind, id) = (entry.kind as usize, entry.id.clone());
        self.live[kind].remove(&id);
        self.recycle[kind].insert(id, slot);
        self.log_life(slot, Life::SoftDeleted);
    }

    /// Back from the recycle bin, with the references it had.
    pub fn restore(&mut self, slot: u32) {
        let Some(entry) = self.entry_mut(slot) else {
            return;
        };
        let Some(deleted) = entry.deleted.take() else {
            return;
        };
        let (kind, id) = (entry.kind as usize, entry.id.clone());
        self.recycle[kind].remove(&id);
        self.live[kind].insert(id, slot);
        self.log_life(slot, Life::Restored);
        for (owner, link) in deleted.removed_from {
            self.add_link_as(owner, link, slot, true);
        }
    }

    /// Permanent delete. The memberships a soft delete took away end now, and are logged so.
    pub fn purge(&mut self, slot: u32) {
        self.unlink_everywhere(slot, false);
        let Some(entry) = self.entries.get_mut(slot as usize).and_then(Option::take) else {
            return;
        };
        for (owner, link) in entry.deleted.iter().flat_map(|d| &d.removed_from) {
            if self.entry(*owner).is_some() {
                self.log_link(*owner, *link, slot, false, false);
            }
        }
        self.live[entry.kind as usize].remove(&entry.id);
        self.recycle[entry.kind as usize].remove(&entry.id);
        self.by_id.remove(&entry.id);
        let seq = self.changes.next();
        self.changes.purged.push(Purged {
            seq,
            kind: entry.kind,
            ty: entry.ty,
            slot,
            id: entry.id,
        });
    }

    /// Removes a slot from every reference set; returns where it was.
    fn unlink_everywhere(&mut self, slot: u32, recycle: bool) -> Vec<(u32, usize)> {
        let mut removed = Vec::new();
        for (owner, entry) in self.entries.iter().enumerate() {
            let Some(entry) = entry else { continue };
            for (i, set) in entry.links.iter().enumerate() {
                if set.contains(&slot) {
                    removed.push((owner as u32, i));
                }
            }
        }
        for (owner, link) in &removed {
            self.remove_link_as(*owner, *link, slot, recycle);
        }
        removed
    }

    /// Live objects of collection `kind` whose string property `prop` equals `value`
    /// (case-insensitively, as Graph compares keys).
    pub fn find_by(&self, kind: usize, prop: &str, value: &str) -> Option<u32> {
        self.live[kind].values().copied().find(|s| {
            self.entry(*s)
                .and_then(|e| e.str_prop(prop))
                .is_some_and(|v| v.eq_ignore_ascii_case(value))
        })
    }
}
