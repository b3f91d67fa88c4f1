//! Changed objects as JSON, in the shape `schema/diff-report.schema.json` gives the `changes`
//! of a diff report (the apply report's `remainingDrift` reuses it). Keys come in a fixed order
//! and changes stream one at a time. Link changes list plain id strings in `added` and `removed`
//! (what a script needs); the names beside them are in `displayNames`.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use crate::diff::{Change, ChangeKind, DeletedInfo, LinkChange};
use crate::write_rules::WriteRule;

/// A list of changes, serialized without copying.
pub(in crate::render) struct Changes<'a>(pub(in crate::render) &'a [Change]);

impl Serialize for Changes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(JsonChange))
    }
}

struct JsonChange<'a>(&'a Change);

impl Serialize for JsonChange<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("kind", &c.key.kind)?;
        m.serialize_entry("id", &c.key.id)?;
        m.serialize_entry("displayName", &c.display_name)?;
        m.serialize_entry("change", c.change.as_str())?;
        if let ChangeKind::Removed { restorable } = &c.change {
            m.serialize_entry("restorable", &restorable.as_ref().map(Restorable))?;
        }
        m.serialize_entry(
            "attributes",
            &Seq(c.attributes.iter().map(|a| Attribute {
                path: &a.path,
                old: &a.old,
                new: &a.new,
                set_like: a.set_like,
                cannot_restore: a.cannot_restore,
            })),
        )?;
        m.serialize_entry("links", &Seq(c.links.iter().map(Link)))?;
        m.end()
    }
}

struct Restorable<'a>(&'a DeletedInfo);

impl Serialize for Restorable<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("deletedAt", &self.0.deleted_at)?;
        m.serialize_entry("restorableUntil", &self.0.restorable_until)?;
        m.end()
    }
}

struct Attribute<'a> {
    path: &'a str,
    old: &'a Value,
    new: &'a Value,
    set_like: bool,
    cannot_restore: Option<&'static WriteRule>,
}

impl Serialize for Attribute<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("path", self.path)?;
        m.serialize_entry("old", self.old)?;
        m.serialize_entry("new", self.new)?;
        m.serialize_entry("setLike", &self.set_like)?;
        if let Some(rule) = self.cannot_restore {
            m.serialize_entry("cannotRestore", &Held(rule))?;
        }
        m.end()
    }
}

struct Link<'a>(&'a LinkChange);

impl Serialize for Link<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let l = self.0;
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("name", &l.name)?;
        m.serialize_entry("added", &Seq(l.added.iter().map(|r| &r.id)))?;
        m.serialize_entry("removed", &Seq(l.removed.iter().map(|r| &r.id)))?;
        // Names of the ends that have one, added first then removed, each by id.
        let named = l
            .added
            .iter()
            .chain(&l.removed)
            .filter_map(|r| r.display_name.as_ref().map(|n| (&r.id, n)));
        m.serialize_entry("displayNames", &Pairs(named))?;
        if let Some(rule) = l.cannot_restore {
            m.serialize_entry("cannotRestore", &Held(rule))?;
        }
        m.end()
    }
}

/// Why a restore cannot write a change back through Graph: the write rule's name, Graph's
/// reason and where to fix it instead.
struct Held(&'static WriteRule);

impl Serialize for Held {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("rule", &self.0.name)?;
        m.serialize_entry("reason", &self.0.reason)?;
        m.serialize_entry("fix", &self.0.fix)?;
        m.end()
    }
}

/// Serializes an iterator as a sequence without collecting it.
struct Seq<I>(I);

impl<I> Serialize for Seq<I>
where
    I: Iterator + Clone,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.clone())
    }
}

/// Serializes an iterator of pairs as a map without collecting it.
struct Pairs<I>(I);

impl<I, K, V> Serialize for Pairs<I>
where
    I: Iterator<Item = (K, V)> + Clone,
    K: Serialize,
    V: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.clone())
    }
}
