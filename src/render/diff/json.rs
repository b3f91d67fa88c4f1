//! The difference report as versioned JSON, documented by `schema/diff-report.schema.json`:
//! version, both sides, a summary per kind, totals, then the changes (streamed one at a time).
//! The document ends with a newline.

use std::io::{self, Write};

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::super::change::json::Changes;
use crate::diff::{KindSummary, Report, Side};

/// Bumped whenever the shape changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;

pub(in crate::render) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
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
