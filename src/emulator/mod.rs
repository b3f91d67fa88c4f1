//! A Microsoft Graph v1.0 stand-in for tests, demos and benchmarks: the real client talks to it
//! over real HTTP exactly as it would to Graph and Entra ID. It serves every kind in `schema/`
//! (list/get with `$select`, `$top` and opaque nextLinks; PATCH/POST/DELETE; `$ref` links and
//! `@odata.bind`; soft delete and restore through `directory/deletedItems`), the client
//! credentials token endpoint, `$batch`, Graph's resource-unit and write throttles, and fault
//! injection. Where it differs from Graph (GRAPH.md), the emulator is wrong.
//!
//! Layout: `config` (what to start with), `state` (the tenant in memory), `routes` (Graph
//! semantics), `batch`, `auth`, `throttle`, `faults`, `seed` (from a snapshot repository),
//! `synthetic` (generated tenants), `server` (HTTP, the running [`Emulator`]).

mod auth;
mod batch;
mod config;
mod faults;
mod odata;
mod routes;
mod seed;
mod server;
mod state;
mod synthetic;
#[cfg(test)]
mod tests;
mod throttle;

pub use config::{EmulatorConfig, EmulatorError, SyntheticSpec, READ_THROTTLE_LARGE_TENANT};
pub use faults::{FaultAction, FaultRule};
pub use seed::SeedReport;
pub use server::{serve, Emulator, Stats};
