//! One changed object, drawn in each format: the building block that the diff report, the plan
//! (attributes and links) and the apply report (what still differs after the writes) share.

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
