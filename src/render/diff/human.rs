//! The difference report for the terminal: a title naming both sides, one block per object
//! (backup on the left, current on the right), then a summary per kind and a total. Colour only
//! underlines what the signs already say.

use std::io::{self, Write};

use super::super::change::human::object;
use super::super::paint::{Painter, BOLD};
use super::super::{sanitize, Style};
use crate::diff::{KindSummary, Report, Side};
use crate::plan::plural;

pub(in crate::render) fn render(
    report: &Report,
    style: &Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    let p = Painter { color: style.color };
    writeln!(
        out,
        "{}",
        p.paint(
            BOLD,
            &format!(
                "Differences from {} (backup) to {} (current)",
                side_text(&report.from),
                side_text(&report.to)
            )
        )
    )?;
    if report.is_empty() {
        writeln!(out)?;
        return writeln!(out, "No differences.");
    }
    let new_side = super::new_side(report);
    for change in &report.changes {
        writeln!(out)?;
        object(change, new_side, &p, out)?;
    }
    writeln!(out)?;
    summary(report, &p, out)
}

/// `HEAD (3f2a1c0)` or `HEAD (3f2a1c0), 2026-11-27T06:00:00Z`.
fn side_text(side: &Side) -> String {
    match &side.time {
        Some(t) => format!("{}, {}", sanitize(&side.label), sanitize(t)),
        None => sanitize(&side.label).into_owned(),
    }
}

fn summary(report: &Report, p: &Painter, out: &mut dyn Write) -> io::Result<()> {
    let line = |s: &KindSummary| {
        format!(
            "{} added, {} removed, {} modified",
            s.added, s.removed, s.modified
        )
    };
    writeln!(out, "{}", p.paint(BOLD, "Summary:"))?;
    for (kind, s) in report.summary_in_order() {
        writeln!(out, "  {kind}: {}", line(&s))?;
    }
    let totals = report.totals();
    writeln!(
        out,
        "{}",
        p.paint(
            BOLD,
            &format!(
                "Total: {} ({})",
                plural(totals.total(), "object differs", "objects differ"),
                line(&totals)
            )
        )
    )
}
