//! Renderers for difference reports, restore/apply plans and apply reports: human, json and
//! markdown. This is the only place that formats output. Each document has its folder (`diff/`,
//! `plan/`, `apply/`) with one file per format; what they share — colour (`paint`), Markdown
//! escaping (`md`) and the drawing of one changed object (`change/`) — sits beside them, and the
//! documents never import each other. Renderers take plain data and compute nothing; each
//! streams to a writer so that a 100k-object report costs one pass.

mod apply;
mod change;
mod diff;
mod md;
mod paint;
mod plan;

use std::io::{self, BufWriter, Write};

use serde_json::Value;

use crate::apply::ApplyReport;
use crate::diff::Report;
use crate::plan::Plan;

pub use apply::APPLY_FORMAT_VERSION;
pub use diff::FORMAT_VERSION;

/// Output format of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// For people at a terminal: one block per object, old → new, a summary at the end.
    #[default]
    Human,
    /// Versioned JSON, documented by `schema/diff-report.schema.json`.
    Json,
    /// For pull-request comments: a summary table, then one collapsible section per object.
    Markdown,
}

/// Presentation choices that do not change what is said.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    /// ANSI colour. Meaning never depends on it.
    pub color: bool,
}

/// Writes a difference report in the given format.
pub fn render_diff(
    report: &Report,
    format: Format,
    style: &Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    buffered(out, |out| match format {
        Format::Human => diff::human::render(report, style, out),
        Format::Json => diff::json::render(report, out),
        Format::Markdown => diff::markdown::render(report, out),
    })
}

/// Writes a plan in the given format.
pub fn render_plan(
    plan: &Plan,
    format: Format,
    style: &Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    buffered(out, |out| match format {
        Format::Human => plan::human::render(plan, style, out),
        Format::Json => plan::json::render(plan, out),
        Format::Markdown => plan::markdown::render(plan, out),
    })
}

/// Writes an apply report in the given format.
pub fn render_apply(
    report: &ApplyReport,
    format: Format,
    style: &Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    buffered(out, |out| match format {
        Format::Human => apply::human::render(report, style, out),
        Format::Json => apply::json::render(report, out),
        Format::Markdown => apply::markdown::render(report, out),
    })
}

/// Runs a renderer over a buffer: renderers write many small pieces, and the caller's writer may
/// be unbuffered stdout.
fn buffered(
    out: &mut dyn Write,
    render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    render(&mut out)?;
    out.flush()
}

/// A value on one line: JSON syntax, so strings are quoted and control characters escaped (a
/// display name cannot smuggle terminal escapes into the output).
fn inline(value: &Value) -> String {
    serde_json::to_string(value).expect("JSON values always serialize")
}

/// Text safe to print as is: control characters (escape sequences, carriage returns) replaced.
fn sanitize(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| if c.is_control() { '\u{fffd}' } else { c })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}
