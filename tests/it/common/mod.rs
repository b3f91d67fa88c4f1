//! What the integration tests share: `TestEnvironment` (the real binary, hermetic, against an
//! in-process emulator), `CommandOutput` (status, stdout and stderr snapshotted together), the
//! administrator's Graph session (`graph`), changes to the tenant behind tenantgit's back
//! (`tenant`), and PyYAML as an independent YAML reader (`pyyaml`).

pub mod command_output;
pub mod delta;
pub mod graph;
pub mod pyyaml;
pub mod tenant;
pub mod test_environment;

pub use command_output::{assert_status, json_docs, CommandOutput};
pub use test_environment::TestEnvironment;
