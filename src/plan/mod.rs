//! Restore and apply plans: the desired state (a commit or the working tree) and the live tenant
//! in, an ordered list of Graph writes out, with the safety findings that need `--force`, the
//! fingerprints that tell whether the live objects changed since, and a checksum that tells
//! whether a saved plan was edited. Computing a plan is pure — no I/O — so the same data feeds
//! the renderers, the plan file and the executor (`crate::apply`).
//!
//! What each difference becomes follows Entra's own recovery model (GRAPH.md A.1–A.8, C.4–C.5):
//! a modified object is one PATCH of the writable top-level properties that differ; link changes
//! are `$ref` writes (`@odata.bind` in batches of 20 where the link allows it); an object missing
//! live comes back from the recycle bin when it is there, else is re-created; a live object the
//! desired side does not have is kept unless pruning. Secrets are never written: credentials
//! that differ become notes.

mod build;
mod cannot_restore;
#[cfg(test)]
mod extension_tests;
mod file;
mod fingerprint;
mod model;
mod recreate;
mod safety;
#[cfg(test)]
mod tests;

pub use build::{plan, PlanInput};
pub use file::{load, save, to_json, PlanError};
pub use fingerprint::{ensure_fresh, fingerprint, stale_objects, ABSENT};
pub use model::*;
pub use model::{CannotRestore, CannotRestoreLink};
pub use recreate::{recreated, CreateRecord, RecreateInput};
pub use safety::{ensure_allowed, refusals, KindThreshold, SafetySettings};
