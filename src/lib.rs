//! tenantgit keeps a Microsoft Entra ID tenant in git: `snapshot` commits one normalized YAML file
//! per directory object, `diff` reports attribute- and link-level differences between the live
//! tenant and any commit, `restore`/`apply` put chosen objects back. See DESIGN.md for the flow:
//! Graph → normalize → Snapshot → (git tree | diff | plan).

pub mod apply;
pub mod cli;
pub mod compare;
pub mod config;
pub mod diff;
pub mod emulator;
pub mod equality;
pub mod error;
pub mod failpoint;
pub mod frozen;
pub mod graph;
pub mod layout;
pub mod live;
pub mod model;
pub mod normalize;
pub mod ops;
pub mod parallel;
pub mod plan;
pub mod problem;
pub mod read;
pub mod render;
pub mod restore;
pub mod schema;
pub mod select;
pub mod store;
pub mod suggest;
pub mod write_rules;
pub mod yaml;

#[cfg(test)]
mod schema_check;

pub use error::{Error, Result};
