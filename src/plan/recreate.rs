//! Re-created objects: a desired object that is gone live but has a live counterpart created in
//! its place (by an earlier restore, or by hand) is read as that counterpart, so that re-runs
//! converge instead of creating the object again. Three kinds of evidence, strongest first:
//! 1. the restore journal recorded the create and the id Graph gave it;
//! 2. the journal recorded a create whose answer was lost: the object is found by a key Graph
//!    enforces (`uniqueKey` in the schema: a user's UPN, a service principal's appId), else by
//!    its name and a creation time after the create was sent;
//! 3. no journal (another clone, a re-create by hand): one live object with the same unique key,
//!    or the same name, that the desired side does not have.
//!
//! Candidates are live objects the desired side does not claim — judged against every file of
//! the desired side, not only the selected ones, so that `--id` never maps an object onto a
//! live object the backup holds in its own right.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use crate::model::{Object, ObjectKey, Snapshot};
use crate::schema::KindSpec;

use super::model::DeletedObject;

/// Allowed difference between this machine's clock and Graph's when a creation time is compared
/// with the time a create was sent.
const CLOCK_SKEW_SECONDS: i64 = 300;

/// What the restore journal knows about one create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRecord {
    pub kind: String,
    /// The object's id on the desired side.
    pub old_id: String,
    /// The id Graph gave it; `None` when the answer never arrived.
    pub new_id: Option<String>,
    /// When the create was sent, RFC 3339.
    pub sent_at: String,
}

/// Everything re-created objects are recognised from.
pub struct RecreateInput<'a> {
    /// The selected desired objects.
    pub desired: &'a Snapshot,
    /// Every live object of the kinds in question, selected or not.
    pub live: &'a Snapshot,
    pub deleted: &'a HashMap<ObjectKey, DeletedObject>,
    /// Whether the desired side (all of it) has an object of this kind with this id.
    pub claimed: &'a dyn Fn(&'static KindSpec, &str) -> bool,
    /// Creates recorded by earlier restores, oldest first.
    pub journal: &'a [CreateRecord],
}

/// Old (desired-side) id → live id of every missing desired object that was re-created.
pub fn recreated(input: &RecreateInput) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut taken: HashSet<&str> = HashSet::new();
    // The latest journal entry per object wins.
    let mut journal: HashMap<(&str, &str), &CreateRecord> = HashMap::new();
    for r in input.journal {
        journal.insert((r.kind.as_str(), r.old_id.as_str()), r);
    }
    let unclaimed: Vec<&Object> = input
        .live
        .objects
        .values()
        .filter(|o| !o.kind.singleton && !(input.claimed)(o.kind.spec(), &o.id))
        .collect();
    let mut ambiguous = Vec::new();
    for (key, want) in &input.desired.objects {
        let kind = want.kind;
        if kind.singleton || input.live.get(key).is_some() || input.deleted.contains_key(key) {
            continue;
        }
        let candidates: Vec<&Object> = unclaimed
            .iter()
            .copied()
            .filter(|o| o.kind.kind == kind.kind)
            .collect();
        let found = match journal.get(&(kind.kind.as_str(), want.id.as_str())) {
            Some(CreateRecord {
                new_id: Some(new), ..
            }) => candidates.iter().find(|o| &o.id == new).copied(),
            Some(CreateRecord {
                new_id: None,
                sent_at,
                ..
            }) => by_key(want, &candidates)
                .or_else(|| by_name_created_after(want, &candidates, sent_at)),
            None => by_key(want, &candidates).or_else(|| by_name(want, &candidates)),
        };
        if let Some(live) = found {
            if taken.insert(live.id.as_str()) {
                out.insert(want.id.clone(), live.id.clone());
            } else {
                ambiguous.push(live.id.clone());
            }
        }
    }
    // Two missing objects pointing at one live object: neither is certain.
    out.retain(|_, new| !ambiguous.contains(new));
    out
}

fn text(o: &Object, prop: &str) -> Option<String> {
    let s = o.props.get(prop)?.as_str()?;
    (!s.is_empty()).then(|| s.to_lowercase())
}

/// The one candidate whose unique key (a property Graph keeps unique) equals the wanted one's.
fn by_key<'a>(want: &Object, candidates: &[&'a Object]) -> Option<&'a Object> {
    let prop = want.kind.unique_key.as_deref()?;
    let value = text(want, prop)?;
    one(candidates
        .iter()
        .filter(|o| text(o, prop).as_ref() == Some(&value)))
}

/// The one candidate with the same name.
fn by_name<'a>(want: &Object, candidates: &[&'a Object]) -> Option<&'a Object> {
    let prop = want.kind.name_property.as_str();
    let name = text(want, prop)?;
    one(candidates
        .iter()
        .filter(|o| text(o, prop).as_ref() == Some(&name)))
}

/// The one candidate with the same name created after the create was sent.
fn by_name_created_after<'a>(
    want: &Object,
    candidates: &[&'a Object],
    sent_at: &str,
) -> Option<&'a Object> {
    let prop = want.kind.name_property.as_str();
    let name = text(want, prop)?;
    let sent = chrono::DateTime::parse_from_rfc3339(sent_at).ok()?;
    let after = |o: &Object| {
        o.props
            .get("createdDateTime")
            .and_then(Value::as_str)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .is_some_and(|t| t.timestamp() >= sent.timestamp() - CLOCK_SKEW_SECONDS)
    };
    one(candidates
        .iter()
        .filter(|o| text(o, prop).as_ref() == Some(&name) && after(o)))
}

fn one<'a, 'b>(mut it: impl Iterator<Item = &'b &'a Object>) -> Option<&'a Object>
where
    'a: 'b,
{
    let first = it.next()?;
    it.next().is_none().then_some(*first)
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
