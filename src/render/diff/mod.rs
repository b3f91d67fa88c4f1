//! The difference report (`tenantgit diff`): backup on the left, current on the right, in the
//! three formats.

pub(super) mod human;
pub(super) mod json;
pub(super) mod markdown;

pub use json::FORMAT_VERSION;

#[cfg(test)]
mod tests;
