//! The apply report as versioned JSON: `{"version", "type": "apply", "writes", "failed",
//! "seconds", "outcomes": [{"kind", "id", "displayName", "action", "method", "path", "status",
//! "ok", "converged", "skipped", "error", "requestId", "newId", "note"}], "verified",
//! "verifyError", "remainingDrift": [changes as in the diff report]}`.

use std::io::{self, Write};

use serde_json::json;

use super::super::change::json::Changes;
use crate::apply::ApplyReport;

/// Bumped whenever the JSON shape of apply reports changes incompatibly.
pub const APPLY_FORMAT_VERSION: u32 = 1;

pub(in crate::render) fn render(report: &ApplyReport, out: &mut dyn Write) -> io::Result<()> {
    let doc = json!({
        "version": APPLY_FORMAT_VERSION,
        "type": "apply",
        "writes": report.writes,
        "failed": report.failed,
        "seconds": report.seconds,
        "outcomes": report.outcomes,
        "verified": report.verify_error.is_none(),
        "verifyError": report.verify_error,
        "remainingDrift": Changes(&report.remaining_drift),
    });
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::other)?;
    writeln!(out)
}
