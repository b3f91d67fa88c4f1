//! The apply report in Markdown, for pull requests: a table of counts, the failed or skipped
//! writes with their errors, every write in a collapsible section, then what reading the touched
//! objects back found.

use std::io::{self, Write};

use super::super::change::{markdown::object, NewSide};
use super::super::md::{code, text};
use super::{counts, error_text, request_text, verdict};
use crate::apply::{ApplyReport, WriteOutcome};
use crate::plan::plural;

pub(in crate::render) fn render(report: &ApplyReport, out: &mut dyn Write) -> io::Result<()> {
    let c = counts(report);
    writeln!(out, "## tenantgit apply")?;
    writeln!(out)?;
    writeln!(
        out,
        "| written | already as wanted | failed | skipped | requests |"
    )?;
    writeln!(out, "| ---: | ---: | ---: | ---: | ---: |")?;
    writeln!(
        out,
        "| {} | {} | {} | {} | {} |",
        c.written, c.converged, c.failed, c.skipped, report.writes
    )?;
    let problems: Vec<&WriteOutcome> = report.outcomes.iter().filter(|o| !o.ok).collect();
    if !problems.is_empty() {
        writeln!(out)?;
        writeln!(out, "**Failed or skipped writes:**")?;
        writeln!(out)?;
        writeln!(
            out,
            "| outcome | object | action | request | error | request-id |"
        )?;
        writeln!(out, "| --- | --- | --- | --- | --- | --- |")?;
        for o in problems {
            writeln!(
                out,
                "| {} | {} {} | {} | {} | {} | {} |",
                verdict(o).0,
                code(&o.kind),
                text(&o.display_name),
                text(&o.action),
                code(&request_text(o)),
                error_text(o).as_deref().map(text).unwrap_or_default(),
                o.request_id.as_deref().map(code).unwrap_or_default()
            )?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "<details><summary>All writes ({})</summary>",
        report.outcomes.len()
    )?;
    writeln!(out)?;
    writeln!(out, "| outcome | object | action | request |")?;
    writeln!(out, "| --- | --- | --- | --- |")?;
    for o in &report.outcomes {
        writeln!(
            out,
            "| {} | {} {} | {} | {} |",
            verdict(o).0,
            code(&o.kind),
            text(&o.display_name),
            text(&o.action),
            code(&request_text(o))
        )?;
    }
    writeln!(out)?;
    writeln!(out, "</details>")?;
    writeln!(out)?;
    match (&report.verify_error, report.remaining_drift.is_empty()) {
        (Some(e), _) => writeln!(out, "**Not verified:** {}", text(e)),
        (None, true) => writeln!(
            out,
            "**Read back:** every touched object matches the desired state."
        ),
        (None, false) => {
            writeln!(
                out,
                "**Read back:** {} from the desired state:",
                plural(
                    report.remaining_drift.len(),
                    "object differs",
                    "objects differ"
                )
            )?;
            for change in &report.remaining_drift {
                writeln!(out)?;
                object(change, NewSide::ReadBack, ("desired", "live"), out)?;
            }
            Ok(())
        }
    }
}
