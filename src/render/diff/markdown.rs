//! The difference report in Markdown, for pull-request comments (GitHub-flavoured): a title
//! naming both sides, a summary table, then one collapsible section per object with a table of
//! attribute changes (path | backup | current) and tables of link changes.

use std::io::{self, Write};

use super::super::change::markdown::object;
use super::super::md::{code, text};
use crate::diff::{KindSummary, Report, Side};

pub(in crate::render) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "## tenantgit diff")?;
    writeln!(out)?;
    writeln!(out, "**Backup:** {}  ", side(&report.from))?;
    writeln!(out, "**Current:** {}", side(&report.to))?;
    writeln!(out)?;
    if report.is_empty() {
        return writeln!(out, "No differences.");
    }
    writeln!(out, "| kind | added | removed | modified |")?;
    writeln!(out, "| --- | ---: | ---: | ---: |")?;
    let row = |s: &KindSummary| format!("{} | {} | {}", s.added, s.removed, s.modified);
    for (kind, s) in report.summary_in_order() {
        writeln!(out, "| {} | {} |", text(&kind), row(&s))?;
    }
    let t = report.totals();
    writeln!(
        out,
        "| **total** | **{}** | **{}** | **{}** |",
        t.added, t.removed, t.modified
    )?;
    let new_side = super::new_side(report);
    for change in &report.changes {
        writeln!(out)?;
        object(change, new_side, ("backup", "current"), out)?;
    }
    Ok(())
}

fn side(s: &Side) -> String {
    let mut out = code(&s.label);
    if let Some(t) = &s.time {
        out.push_str(", ");
        out.push_str(&text(t));
    }
    out
}
