//! One changed object, drawn in each format: the building block that the diff report, the plan
//! (attributes and links) and the apply report (what still differs after the writes) share.

use crate::diff::Change;
use crate::write_rules::WriteRule;

pub(super) mod human;
pub(super) mod json;
pub(super) mod markdown;

/// What the new side of a change is, which decides how an object present on one side only is
/// worded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NewSide {
    /// A commit: an object missing from it was removed, for whatever reason.
    Commit,
    /// The live tenant read with the recycle bin: a removed object not in the bin is gone.
    Live,
    /// The touched objects read back after an apply (the old side is the desired state; the
    /// recycle bin was not read).
    ReadBack,
}

impl NewSide {
    /// The word for an object only on the new side.
    fn added(self) -> &'static str {
        match self {
            NewSide::Commit | NewSide::Live => "added",
            NewSide::ReadBack => "still in the tenant",
        }
    }

    /// The word for an object only on the old side and not known to be in the recycle bin.
    fn removed(self) -> &'static str {
        match self {
            NewSide::Commit => "removed",
            NewSide::Live => "removed: gone (not in the recycle bin)",
            NewSide::ReadBack => "missing from the tenant",
        }
    }
}

/// The changes a restore cannot write through Graph, by rule (in order of first appearance):
/// the rule and the attribute paths and link names it holds back.
pub(super) fn cannot_restore(change: &Change) -> Vec<(&'static WriteRule, Vec<&str>)> {
    let mut out: Vec<(&'static WriteRule, Vec<&str>)> = Vec::new();
    let held = change
        .attributes
        .iter()
        .filter_map(|a| Some((a.cannot_restore?, a.path.as_str())))
        .chain(
            change
                .links
                .iter()
                .filter_map(|l| Some((l.cannot_restore?, l.name.as_str()))),
        );
    for (rule, what) in held {
        match out.iter_mut().find(|(r, _)| std::ptr::eq(*r, rule)) {
            Some((_, list)) => list.push(what),
            None => out.push((rule, vec![what])),
        }
    }
    out
}
