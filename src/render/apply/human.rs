//! The apply report for the terminal: one line per write with its outcome, the request and its
//! HTTP status (and, on failure, the error and Graph's request id), then what reading the
//! touched objects back found, and a summary line.

use std::io::{self, Write};

use super::super::change::{human::object, NewSide};
use super::super::paint::{Painter, BOLD, DIM, RED};
use super::super::{sanitize, Style};
use super::{counts, error_text, request_text, verdict};
use crate::apply::ApplyReport;
use crate::plan::plural;

pub(in crate::render) fn render(
    report: &ApplyReport,
    style: &Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    let p = Painter { color: style.color };
    writeln!(out, "{}", p.paint(BOLD, "Writes:"))?;
    for o in &report.outcomes {
        let (word, color) = verdict(o);
        // Padded before painting: the escape codes would count towards the width.
        writeln!(
            out,
            "  {} {} {} {} ({}): {}",
            p.paint(color, &format!("{word:<7}")),
            o.action,
            o.kind,
            sanitize(&o.display_name),
            sanitize(&o.id),
            request_text(o)
        )?;
        if let Some(new_id) = &o.new_id {
            writeln!(out, "          new id: {}", sanitize(new_id))?;
        }
        if !o.ok {
            if let Some(e) = error_text(o) {
                writeln!(out, "          {}", sanitize(&e))?;
            }
            if let Some(r) = &o.request_id {
                writeln!(out, "          request-id: {}", sanitize(r))?;
            }
        }
        if let Some(n) = &o.note {
            writeln!(out, "          {} {}", p.paint(DIM, "note:"), sanitize(n))?;
        }
    }
    writeln!(out)?;
    match (&report.verify_error, report.remaining_drift.is_empty()) {
        (Some(e), _) => writeln!(
            out,
            "{} {}",
            p.paint(RED, "Not verified: reading the objects back failed:"),
            sanitize(e)
        )?,
        (None, true) => writeln!(
            out,
            "Read back: every touched object matches the desired state."
        )?,
        (None, false) => {
            let differ = plural(
                report.remaining_drift.len(),
                "object differs",
                "objects differ",
            );
            writeln!(
                out,
                "{}",
                p.paint(
                    RED,
                    &format!("Read back: {differ} from the desired state (desired → live):")
                )
            )?;
            for change in &report.remaining_drift {
                writeln!(out)?;
                object(change, NewSide::ReadBack, &p, out)?;
            }
        }
    }
    let c = counts(report);
    writeln!(out)?;
    writeln!(
        out,
        "{}",
        p.paint(
            BOLD,
            &format!(
                "Summary: {} written, {} already as wanted, {} failed, {} skipped; {} in {:.1} s",
                c.written,
                c.converged,
                c.failed,
                c.skipped,
                plural(report.writes, "request", "requests"),
                report.seconds
            )
        )
    )
}
