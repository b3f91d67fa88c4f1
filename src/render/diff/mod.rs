//! The difference report (`tenantgit diff`): backup on the left, current on the right, in the
//! three formats.

pub(super) mod human;
pub(super) mod json;
pub(super) mod markdown;

pub use json::FORMAT_VERSION;

use super::change::NewSide;
use crate::diff::Report;

/// "Gone" is only known when the current side is the live tenant (not a commit).
fn new_side(report: &Report) -> NewSide {
    if report.to.commit.is_none() {
        NewSide::Live
    } else {
        NewSide::Commit
    }
}

#[cfg(test)]
mod tests;
