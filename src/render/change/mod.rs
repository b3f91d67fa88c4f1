//! One changed object, drawn in each format: the building block that the diff report, the plan
//! (attributes and links) and the apply report (what still differs after the writes) share.

pub(super) mod human;
pub(super) mod json;
pub(super) mod markdown;
