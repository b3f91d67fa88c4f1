//! The apply report (what `restore --yes` and `apply` did) in the three formats, and what those
//! share: each write's outcome in a word, the request it sent, and the counts.

pub(super) mod human;
pub(super) mod json;
pub(super) mod markdown;

use super::paint::{DIM, GREEN, RED, YELLOW};
use super::sanitize;
use crate::apply::{ApplyReport, WriteOutcome};

pub use json::APPLY_FORMAT_VERSION;

/// `ok`, `already`, `skipped` or `FAILED`: the outcome in a word (colour only underlines it).
fn verdict(o: &WriteOutcome) -> (&'static str, &'static str) {
    if o.skipped {
        ("skipped", YELLOW)
    } else if !o.ok {
        ("FAILED", RED)
    } else if o.converged {
        ("already", DIM)
    } else {
        ("ok", GREEN)
    }
}

/// `PATCH users/… → 204`, or `users/… (not sent)` for a write that was never sent (the
/// executor leaves its method empty).
fn request_text(o: &WriteOutcome) -> String {
    if o.method.is_empty() {
        return if o.path.is_empty() {
            "not sent".into()
        } else {
            format!("{} (not sent)", sanitize(&o.path))
        };
    }
    let mut s = format!("{} {}", o.method, sanitize(&o.path));
    if let Some(status) = o.status {
        s.push_str(&format!(" → {status}"));
    }
    s
}

/// A failed or skipped write's error as the reports show it, without what they already show
/// beside it: the request (Graph errors open with `PATCH users/…: `, once per attempt),
/// Graph's request id (Graph errors end with `(request-id …)`; the reports give it on its own)
/// and the word `skipped` (the outcome says it). The JSON report keeps the error as it is.
fn error_text(o: &WriteOutcome) -> Option<String> {
    let mut e = o.error.clone()?;
    if o.skipped {
        if let Some(why) = e.strip_prefix("skipped: ") {
            e = why.to_string();
        }
    }
    if !o.method.is_empty() {
        e = e.replace(&format!("{} {}: ", o.method, o.path), "");
    }
    if let Some(id) = &o.request_id {
        e = e.replace(&format!(" (request-id {id})"), "");
    }
    Some(e).filter(|e| !e.is_empty())
}

/// Counts of an apply report's outcomes.
struct Counts {
    written: usize,
    converged: usize,
    failed: usize,
    skipped: usize,
}

fn counts(report: &ApplyReport) -> Counts {
    let o = &report.outcomes;
    Counts {
        written: o.iter().filter(|o| o.ok && !o.converged).count(),
        converged: o.iter().filter(|o| o.ok && o.converged).count(),
        failed: o.iter().filter(|o| !o.ok && !o.skipped).count(),
        skipped: o.iter().filter(|o| o.skipped).count(),
    }
}

#[cfg(test)]
mod tests;
