//! Canonical YAML for object files. The emitter is our own so that the bytes are exactly
//! determined by the object (same tenant, same bytes, same git tree id) and so that every file
//! reads back, in tenantgit and in any other YAML 1.1 or 1.2 reader, as exactly what was written:
//! a string is plain only when no YAML version would take it for anything but that string,
//! double-quoted otherwise, with every character a reader rejects or folds escaped (`scalar`).
//! Reading goes through serde_yaml and rejects duplicate keys (`parse`).

mod emit;
mod legacy;
mod parse;
mod scalar;

use std::path::PathBuf;

pub use emit::{emit_links, emit_object, emit_props, emit_value};
pub use parse::{link_names, parse_object};
pub use scalar::emit_scalar_str;

/// A file that is not a valid object file, at the place that says why.
#[derive(Debug, thiserror::Error)]
#[error("{path}:{line}:{column}: {message}")]
pub struct YamlError {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}
