//! The integration tests: one test binary (`cargo test --test it`), one module per area.
//!
//! Where a new test goes:
//! - what a user sees from a command (`snapshot`, `diff`, `restore`, `apply`, `plan`): the
//!   `test_<command>*.rs` module of that command (or `test_<kind or topic>.rs`), using
//!   `TestEnvironment` (`use crate::common::*;`, and `use crate::common::tenant::*;` for the
//!   example tenant and the Graph reads and writes the restore tests share);
//! - the Graph emulator on its own (HTTP in, HTTP out): `test_emulator_*.rs`, using
//!   `use crate::common::graph::*;` and `Graph::start(config(Some("users=60,…"))).await`;
//! - the library against the emulator without the binary: `test_apply_engine.rs`
//!   (`common::graph::client_settings` points tenantgit's `GraphClient` at an emulator);
//! - benchmarks: `bench_*.rs`, `#[ignore]`d, run with
//!   `cargo test --release --test it bench_ -- --ignored --nocapture`.
//!
//! A file that was `tests/x.rs` with `mod common;` becomes `tests/it/test_x.rs`, added below as
//! `mod test_x;`: drop its `mod` lines, `use crate::common::…` instead, `Harness` is
//! `TestEnvironment`, and `stdout(&out)` is `out.stdout`. Helpers live in `common/`: add to
//! them rather than copying a helper into a test module.
//!
//! How a command test looks:
//!
//! ```ignore
//! use crate::assert_snapshot;
//! use crate::common::*;
//!
//! #[test]
//! fn a_locked_repository_is_refused() {
//!     let h = TestEnvironment::synthetic("users=60,groups=12");
//!     assert_status(&h.run(&["snapshot"]), 0);      // run the real binary in h.repo
//!     h.graph("PATCH", "users/…", Some(json!({})));  // change the tenant as an admin would
//!     let out = h.run(&["snapshot"]);
//!     assert_snapshot!(out);                         // status + stdout + stderr, redacted
//! }
//! ```
//!
//! Snapshots are files in the top-level `snapshots/` folder, `it__<module>__<test>.snap`; a
//! changed output shows up as a `.snap.new` file beside it to review (`cargo insta review`, or
//! `INSTA_UPDATE=always` and `git diff`). Redacted are: the emulator's URL (`$EMULATOR`), the
//! temporary folder (`$ROOT`), commit ids, durations, timestamps and request ids; register any
//! other value that differs per run with `h.redact(value, "<name>")`, or a pattern of one
//! output with `out.redact_matches(regex, "<name>")`. Keep a `contains` check only for output
//! that stays variable after that, and for what must never be printed (secrets), which a
//! snapshot would show but not forbid.

mod common;

mod bench_apply;
mod bench_e2e;
mod bench_emulator;
mod test_administrative_units;
mod test_apply_engine;
mod test_cli_reference;
mod test_demo;
mod test_diff;
mod test_emulator_auth;
mod test_emulator_batch;
mod test_emulator_delta;
mod test_emulator_delta_links;
mod test_emulator_delta_tokens;
mod test_emulator_faults;
mod test_emulator_hybrid;
mod test_emulator_reads;
mod test_emulator_routes;
mod test_emulator_rules;
mod test_emulator_validation;
mod test_emulator_writes;
mod test_extension_attributes;
#[cfg(unix)]
mod test_fault_matrix;
mod test_incremental;
mod test_module_graph;
mod test_normalize_samples;
mod test_restore;
mod test_restore_hazards;
mod test_restore_links_and_children;
mod test_restore_policies;
mod test_restore_safety;
mod test_snapshot;
mod test_snapshot_read;
#[cfg(unix)]
mod test_snapshot_safety;
mod test_write_rules;
mod test_yaml_files;
mod test_yaml_roundtrip;
