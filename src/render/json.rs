//! The JSON rendering: the report as versioned data, documented by
//! `schema/diff-report.schema.json`. Keys come in a fixed order, changes stream one at a time,
//! and the document ends with a newline. Link changes list plain id strings in `added` and
//! `removed` (what a script needs); the names beside them are in `displayNames`.

use std::io::{self, Write};

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use crate::diff::{Change, ChangeKind, DeletedInfo, KindSummary, Report, Side};

/// Bumped whenever the shape changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;

pub(super) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &JsonReport(report)).map_err(io::Error::other)?;
    writeln!(out)
}

struct JsonReport<'a>(&'a Report);

impl Serialize for JsonReport<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut m = s.serialize_map(Some(6))?;
        m.serialize_entry("version", &FORMAT_VERSION)?;
        m.serialize_entry("from", &JsonSide(&r.from))?;
        m.serialize_entry("to", &JsonSide(&r.to))?;
        m.serialize_entry("summary", &Summary(r.summary_in_order()))?;
        m.serialize_entry("totals", &r.totals())?;
        m.serialize_entry("changes", &Changes(&r.changes))?;
        m.end()
    }
}

struct JsonSide<'a>(&'a Side);

impl Serialize for JsonSide<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("label", &self.0.label)?;
        m.serialize_entry("commit", &self.0.commit)?;
        m.serialize_entry("time", &self.0.time)?;
        m.end()
    }
}

/// Kind → counts, in apply order.
struct Summary(Vec<(String, KindSummary)>);

impl Serialize for Summary {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

struct Changes<'a>(&'a [Change]);

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
        m.serialize_entry("kind", c.key.kind)?;
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
}

impl Serialize for Attribute<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("path", self.path)?;
        m.serialize_entry("old", self.old)?;
        m.serialize_entry("new", self.new)?;
        m.serialize_entry("setLike", &self.set_like)?;
        m.end()
    }
}

struct Link<'a>(&'a crate::diff::LinkChange);

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
