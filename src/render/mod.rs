//! Renderers for difference reports, restore/apply plans and apply reports: human, json and
//! markdown. This is the only place that formats output; everything it draws comes from [`crate::diff::Report`], and
//! each renderer streams to a writer so that a 100k-object report costs one pass.

mod human;
mod json;
mod markdown;
mod plan;

use std::io::{self, BufWriter, Write};

use serde_json::Value;

use crate::diff::Report;

pub use json::FORMAT_VERSION;
pub use plan::{render_apply, render_plan, APPLY_FORMAT_VERSION};

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
    // Renderers write many small pieces; the caller's writer may be unbuffered stdout.
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    match format {
        Format::Human => human::render(report, style, &mut out)?,
        Format::Json => json::render(report, &mut out)?,
        Format::Markdown => markdown::render(report, &mut out)?,
    }
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

/// `HEAD (3f2a1c0)` or `HEAD (3f2a1c0), 2026-11-27T06:00:00Z`.
fn side_text(side: &crate::diff::Side) -> String {
    match &side.time {
        Some(t) => format!("{}, {}", sanitize(&side.label), sanitize(t)),
        None => sanitize(&side.label).into_owned(),
    }
}

#[cfg(test)]
mod tests;
