//! The difference engine: two snapshots in, a sorted list of [`Change`]s out, at the level of
//! nested attribute paths and individual link ends. It is pure (no I/O, no printing) so that the
//! same data feeds every renderer and, later, the restore plan. "No false drift" lives here:
//! null, absent, `{}`-of-nulls and empty arrays compare equal, set-like arrays compare as sets
//! whatever their order, and accepted differences ([`IgnoreRules`]) are dropped before anyone
//! sees them.

mod ignore;
mod labels;

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::model::{values_equal, LinkRef, Object, ObjectKey, Snapshot};
use crate::schema::{self, KindSpec};
use crate::write_rules::{RuleContext, WriteRule};

pub use ignore::{IgnoreRule, IgnoreRules};
pub use labels::top_level;

/// One side of a comparison, as people should read it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Side {
    /// `HEAD (3f2a1c0)`, `live tenant`, `main~1 (…)`.
    pub label: String,
    /// The full commit id, when the side is a commit.
    pub commit: Option<String>,
    /// When the side was taken (commit time or read time), RFC 3339.
    pub time: Option<String>,
}

impl Side {
    pub fn new(label: impl Into<String>) -> Self {
        Side {
            label: label.into(),
            commit: None,
            time: None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct DiffOptions {
    pub ignore: IgnoreRules,
    /// What the kinds' write rules need to know, to label the changes a restore cannot write
    /// through Graph.
    pub rules: RuleContext,
}

/// Where a removed object stands in `directory/deletedItems`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletedInfo {
    pub deleted_at: Option<String>,
    pub restorable_until: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    /// Exists on the newer side only.
    Added,
    /// Exists on the older side only. `restorable` is `Some` when the object sits in the recycle
    /// bin, `None` when it is gone (or the newer side is a commit, where nobody knows).
    Removed {
        restorable: Option<DeletedInfo>,
    },
    Modified,
}

impl ChangeKind {
    /// `added`, `removed` or `modified`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed { .. } => "removed",
            ChangeKind::Modified => "modified",
        }
    }
}

/// One differing attribute. For added objects every non-null attribute appears with `old` null;
/// for removed ones with `new` null, so a reader sees what was created or lost.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeChange {
    /// Dotted path: `department`, `conditions.users.excludeGroups`.
    pub path: String,
    /// The backup (older) side's value; null when it has none.
    pub old: Value,
    /// The current (newer) side's value; null when it has none.
    pub new: Value,
    /// The path is a set-like array: element order carries no meaning, see [`Self::set_delta`].
    pub set_like: bool,
    /// The write rule that keeps a restore from writing the older value back through Graph
    /// (judged by the newer side, the tenant a restore writes to).
    pub cannot_restore: Option<&'static WriteRule>,
}

impl AttributeChange {
    /// For a set-like array: the elements only `new` has, and those only `old` has.
    pub fn set_delta(&self) -> Option<(Vec<&Value>, Vec<&Value>)> {
        if !self.set_like {
            return None;
        }
        fn items(v: &Value) -> Option<Vec<(String, &Value)>> {
            match v {
                Value::Null => Some(Vec::new()),
                Value::Array(a) => Some(a.iter().map(|x| (canonical(x), x)).collect()),
                _ => None,
            }
        }
        let (old, new) = (items(&self.old)?, items(&self.new)?);
        let old_keys: std::collections::HashSet<&str> =
            old.iter().map(|(k, _)| k.as_str()).collect();
        let new_keys: std::collections::HashSet<&str> =
            new.iter().map(|(k, _)| k.as_str()).collect();
        let added = new
            .iter()
            .filter(|(k, _)| !old_keys.contains(k.as_str()))
            .map(|(_, v)| *v)
            .collect();
        let removed = old
            .iter()
            .filter(|(k, _)| !new_keys.contains(k.as_str()))
            .map(|(_, v)| *v)
            .collect();
        Some((added, removed))
    }
}

/// Link ends (members, owners) added to and removed from one link of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkChange {
    pub name: String,
    pub added: Vec<LinkRef>,
    pub removed: Vec<LinkRef>,
    /// As for attributes: the write rule that keeps a restore from writing these ends.
    pub cannot_restore: Option<&'static WriteRule>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub key: ObjectKey,
    /// The current side's name; the old one for removed objects.
    pub display_name: String,
    pub change: ChangeKind,
    pub attributes: Vec<AttributeChange>,
    pub links: Vec<LinkChange>,
}

/// Counts of one kind's changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct KindSummary {
    pub added: usize,
    pub removed: usize,
    pub modified: usize,
}

impl KindSummary {
    pub fn total(&self) -> usize {
        self.added + self.removed + self.modified
    }

    fn count(&mut self, change: &ChangeKind) {
        match change {
            ChangeKind::Added => self.added += 1,
            ChangeKind::Removed { .. } => self.removed += 1,
            ChangeKind::Modified => self.modified += 1,
        }
    }
}

/// A whole difference report: what was compared and what differs.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The backup (older) side.
    pub from: Side,
    /// The current (newer) side.
    pub to: Side,
    pub changes: Vec<Change>,
}

impl Report {
    /// Counts per kind, for kinds with at least one change.
    pub fn summary(&self) -> BTreeMap<String, KindSummary> {
        let mut out: BTreeMap<String, KindSummary> = BTreeMap::new();
        for c in &self.changes {
            out.entry(c.key.kind.to_string())
                .or_default()
                .count(&c.change);
        }
        out
    }

    /// [`Self::summary`] as a list in apply order (the order changes are listed in).
    pub fn summary_in_order(&self) -> Vec<(String, KindSummary)> {
        let mut rows: Vec<(String, KindSummary)> = self.summary().into_iter().collect();
        rows.sort_by_key(|(k, _)| (kind_rank(k), k.clone()));
        rows
    }

    /// Counts over every kind.
    pub fn totals(&self) -> KindSummary {
        let mut total = KindSummary::default();
        for c in &self.changes {
            total.count(&c.change);
        }
        total
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// Position of a kind in apply order; unknown kinds last.
fn kind_rank(kind: &str) -> usize {
    schema::kinds()
        .iter()
        .position(|k| k.kind == kind)
        .unwrap_or(usize::MAX)
}

/// Compares the backup side `old` (a commit) with the current side `new` (the live tenant or a
/// later commit). `deleted` tells, for a live `new` side, which removed objects are in the
/// recycle bin. Changes come sorted by kind apply order, then display name, then id.
pub fn diff(
    old: &Snapshot,
    new: &Snapshot,
    deleted: &HashMap<ObjectKey, DeletedInfo>,
    options: &DiffOptions,
) -> Vec<Change> {
    let mut lookup = Lookup::new(old, new);
    let mut changes = Vec::new();
    // Both maps are ordered by key: one merge pass, no lookups.
    let mut a = old.objects.iter().peekable();
    let mut b = new.objects.iter().peekable();
    loop {
        let step = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some((ka, _)), Some((kb, _))) => ka.cmp(kb),
        };
        let change = match step {
            std::cmp::Ordering::Less => {
                let (key, o) = a.next().expect("peeked");
                removed(key, o, deleted.get(key).cloned(), options, &mut lookup)
            }
            std::cmp::Ordering::Greater => {
                let (_, n) = b.next().expect("peeked");
                added(n, options, &mut lookup)
            }
            std::cmp::Ordering::Equal => {
                let (_, o) = a.next().expect("peeked");
                let (_, n) = b.next().expect("peeked");
                modified(o, n, options, &mut lookup)
            }
        };
        changes.extend(change);
    }
    sort_changes(&mut changes);
    changes
}

/// Sorts changes by kind apply order, then display name (case-insensitively, then exactly),
/// then id.
pub fn sort_changes(changes: &mut [Change]) {
    changes.sort_by_cached_key(|c| {
        (
            kind_rank(c.key.kind.name()),
            c.display_name.to_lowercase(),
            c.display_name.clone(),
            c.key.id.clone(),
        )
    });
}

fn added(n: &Object, options: &DiffOptions, lookup: &mut Lookup) -> Option<Change> {
    let empty = n.empty_like();
    let mut change = compare(&empty, n, options, lookup);
    change.change = ChangeKind::Added;
    Some(change)
}

fn removed(
    key: &ObjectKey,
    o: &Object,
    restorable: Option<DeletedInfo>,
    options: &DiffOptions,
    lookup: &mut Lookup,
) -> Option<Change> {
    let empty = o.empty_like();
    let mut change = compare(o, &empty, options, lookup);
    labels::removed(&mut change, o, &options.rules);
    change.display_name = o.display_name().to_string();
    change.key = key.clone();
    change.change = ChangeKind::Removed { restorable };
    Some(change)
}

fn modified(o: &Object, n: &Object, options: &DiffOptions, lookup: &mut Lookup) -> Option<Change> {
    // Most objects of a tenant are unchanged and then identical, value for value: one deep
    // comparison, no allocation.
    if identical_maps(&o.props, &n.props) && o.links == n.links {
        return None;
    }
    let mut change = compare(o, n, options, lookup);
    labels::modified(&mut change, o, n, &options.rules);
    (!change.attributes.is_empty() || !change.links.is_empty()).then_some(change)
}

/// The attribute and link differences of two versions of one object (named after `new`,
/// unless `new` is the empty stand-in of a removed object — the caller renames it).
fn compare(o: &Object, n: &Object, options: &DiffOptions, lookup: &mut Lookup) -> Change {
    let kind = n.kind;
    let ignore = |path: &str| options.ignore.ignores(&kind.kind, &n.id, path);
    let mut attributes = Vec::new();
    let order = top_level_order(lookup, kind.spec(), o, n);
    let mut path = String::new();
    for &key in &order {
        if key == "id" {
            continue;
        }
        let ov = o.props.get(key).unwrap_or(&Value::Null);
        let nv = n.props.get(key).unwrap_or(&Value::Null);
        path.clear();
        path.push_str(key);
        let start = attributes.len();
        diff_value(kind.spec(), &mut path, ov, nv, &mut attributes);
        // Top-level properties come in schema order; below one, by path.
        attributes[start..].sort_by(|x, y| x.path.cmp(&y.path));
    }
    if !options.ignore.is_empty() {
        attributes.retain(|a| !ignore(&a.path));
    }

    let mut links = Vec::new();
    let mut link_names: Vec<&String> = o.links.keys().chain(n.links.keys()).collect();
    // Schema order first, then any link the schema does not know, by name.
    link_names.sort_by_key(|l| {
        (
            kind.links
                .iter()
                .position(|s| &s.name == *l)
                .unwrap_or(usize::MAX),
            l.as_str(),
        )
    });
    link_names.dedup();
    for name in link_names {
        if ignore(name) {
            continue;
        }
        let empty = Vec::new();
        let ol = o.links.get(name).unwrap_or(&empty);
        let nl = n.links.get(name).unwrap_or(&empty);
        if let Some(lc) = diff_links(name, ol, nl, lookup) {
            links.push(lc);
        }
    }
    Change {
        key: n.key(),
        display_name: n.display_name().to_string(),
        change: ChangeKind::Modified,
        attributes,
        links,
    }
}

/// Top-level property names in file order: `@odata.type`, the schema's managed properties for
/// either side's type, then anything else either side has, by name.
fn top_level_order<'a>(
    lookup: &mut Lookup<'_>,
    kind: &'static KindSpec,
    o: &'a Object,
    n: &'a Object,
) -> Vec<&'a str> {
    let (nt, ot) = (variant(kind, n), variant(kind, o));
    let base = lookup.order(kind, nt);
    let mut order: Vec<&'a str> = base.keys.clone();
    let mut known: Option<&std::collections::HashSet<&'static str>> = Some(&base.set);
    let other;
    if ot != nt {
        other = lookup.order(kind, ot);
        for p in &other.keys {
            if !order.contains(p) {
                order.push(p);
            }
        }
        // Membership now needs the union: fall back to the list.
        known = None;
    }
    let mut extra: Vec<&'a str> = o
        .props
        .keys()
        .chain(n.props.keys())
        .map(String::as_str)
        .filter(|k| match known {
            Some(set) => !set.contains(k),
            None => !order.contains(k),
        })
        .collect();
    extra.sort_unstable();
    extra.dedup();
    order.extend(extra);
    order
}

/// The variant key of an object's `@odata.type` as the schema spells it (so it lives as long as
/// the schema), or `None` for kinds without variants or an unknown type.
fn variant(kind: &'static KindSpec, o: &Object) -> Option<&'static str> {
    let t = o.odata_type()?;
    kind.variants.get_key_value(t).map(|(k, _)| k.as_str())
}

/// A kind's top-level property order for one variant.
struct Order {
    keys: Vec<&'static str>,
    set: std::collections::HashSet<&'static str>,
}

/// Appends the differences between two values at `path` (restored on return).
fn diff_value(
    kind: &KindSpec,
    path: &mut String,
    old: &Value,
    new: &Value,
    out: &mut Vec<AttributeChange>,
) {
    if identical(old, new) {
        return;
    }
    match (old, new) {
        // Recurse so that each changed leaf gets its own line; null stands for "no keys".
        (Value::Object(_), Value::Object(_) | Value::Null) | (Value::Null, Value::Object(_)) => {
            let empty = Map::new();
            let a = old.as_object().unwrap_or(&empty);
            let b = new.as_object().unwrap_or(&empty);
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let len = path.len();
                path.push('.');
                path.push_str(k);
                diff_value(
                    kind,
                    path,
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                    out,
                );
                path.truncate(len);
            }
        }
        (Value::Array(_), Value::Array(_) | Value::Null) | (Value::Null, Value::Array(_)) => {
            let empty = Vec::new();
            let a = old.as_array().unwrap_or(&empty);
            let b = new.as_array().unwrap_or(&empty);
            let set_like = kind.is_set_like(path);
            let equal = if set_like {
                sets_equal(a, b)
            } else {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| values_equal(x, y))
            };
            if !equal {
                out.push(AttributeChange {
                    path: path.clone(),
                    old: old.clone(),
                    new: new.clone(),
                    set_like,
                    cannot_restore: None,
                });
            }
        }
        _ => {
            if !values_equal(old, new) {
                out.push(AttributeChange {
                    path: path.clone(),
                    old: old.clone(),
                    new: new.clone(),
                    set_like: false,
                    cannot_restore: None,
                });
            }
        }
    }
}

/// Exact equality with object keys in the same order: what two normalizations of one object
/// give. Cheaper than `==` on maps (no hashing); a `false` only means "compare properly".
fn identical(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => identical_maps(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| identical(p, q))
        }
        _ => a == b,
    }
}

fn identical_maps(a: &Map<String, Value>, b: &Map<String, Value>) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((ka, va), (kb, vb))| ka == kb && identical(va, vb))
}

/// Set equality of two arrays, element order and duplicates aside.
fn sets_equal(a: &[Value], b: &[Value]) -> bool {
    let mut x: Vec<String> = a.iter().map(canonical).collect();
    let mut y: Vec<String> = b.iter().map(canonical).collect();
    x.sort_unstable();
    x.dedup();
    y.sort_unstable();
    y.dedup();
    x == y
}

/// A text that two values share exactly when they are equal under [`values_equal`] with object
/// keys in any order: keys sorted, null members dropped.
fn canonical(v: &Value) -> String {
    fn strip(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().filter(|k| !m[*k].is_null()).collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), strip(&m[k])))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
            other => other.clone(),
        }
    }
    match v {
        Value::Object(_) | Value::Array(_) => strip(v).to_string(),
        other => other.to_string(),
    }
}

/// Added and removed ends of one link, named from whichever side knows them.
fn diff_links(
    name: &str,
    old: &[LinkRef],
    new: &[LinkRef],
    lookup: &mut Lookup,
) -> Option<LinkChange> {
    let old = sorted(old);
    let new = sorted(new);
    let (mut added, mut removed) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        let ord = match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) => a.id.cmp(&b.id),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        match ord {
            std::cmp::Ordering::Less => {
                removed.push(old[i].clone());
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                added.push(new[j].clone());
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
            }
        }
    }
    for r in added.iter_mut().chain(removed.iter_mut()) {
        if r.display_name.as_deref().is_none_or(str::is_empty) {
            r.display_name = lookup.name_of(&r.id);
        }
    }
    (!added.is_empty() || !removed.is_empty()).then(|| LinkChange {
        name: name.to_string(),
        added,
        removed,
        cannot_restore: None,
    })
}

/// A link list sorted by id without duplicates (normalization already does this; a list read
/// from a hand-edited file may not).
fn sorted(refs: &[LinkRef]) -> std::borrow::Cow<'_, [LinkRef]> {
    if refs.windows(2).all(|w| w[0].id < w[1].id) {
        std::borrow::Cow::Borrowed(refs)
    } else {
        let mut v = refs.to_vec();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v.dedup_by(|a, b| a.id == b.id);
        std::borrow::Cow::Owned(v)
    }
}

/// What a diff looks up repeatedly: display names of objects by id, for link ends whose own name
/// is unknown (built on first use: most reports never need it), and property orders.
struct Lookup<'a> {
    snapshots: [&'a Snapshot; 2],
    index: Option<HashMap<&'a str, &'a str>>,
    /// Property order per kind and variant, computed once per diff rather than per object.
    orders: HashMap<(&'static str, Option<&'static str>), std::rc::Rc<Order>>,
}

impl<'a> Lookup<'a> {
    fn new(old: &'a Snapshot, new: &'a Snapshot) -> Self {
        Lookup {
            snapshots: [old, new],
            index: None,
            orders: HashMap::new(),
        }
    }

    fn order(
        &mut self,
        kind: &'static KindSpec,
        variant: Option<&'static str>,
    ) -> std::rc::Rc<Order> {
        self.orders
            .entry((kind.kind.as_str(), variant))
            .or_insert_with(|| {
                let mut keys = vec!["@odata.type"];
                keys.extend(kind.managed_for(variant));
                let set = keys.iter().copied().collect();
                std::rc::Rc::new(Order { keys, set })
            })
            .clone()
    }

    fn name_of(&mut self, id: &str) -> Option<String> {
        let snapshots = self.snapshots;
        let index = self.index.get_or_insert_with(|| {
            let mut m = HashMap::new();
            // The newer side goes in last so that its (current) names win; link ends' own
            // names, from either side's files, come first in the lookup chain.
            for s in snapshots {
                for o in s.objects.values() {
                    m.insert(o.id.as_str(), o.display_name());
                    for refs in o.links.values() {
                        for r in refs {
                            if let Some(n) = r.display_name.as_deref().filter(|n| !n.is_empty()) {
                                m.entry(r.id.as_str()).or_insert(n);
                            }
                        }
                    }
                }
            }
            m
        });
        index.get(id).map(|s| s.to_string())
    }
}

#[cfg(test)]
pub(crate) mod fixture;
#[cfg(test)]
mod tests;
