//! A Microsoft Graph v1.0 stand-in for tests, demos and benchmarks: the real client talks to it
//! over real HTTP exactly as it would to Graph and Entra ID. Its idea of Graph is its own — the
//! `model` is built from Microsoft's metadata and the Graph docs, never from tenantgit's
//! `schema/` — and where it differs from Graph (GRAPH.md), the emulator is wrong. It serves
//! list/get with `$select`, `$top`, `$expand` of references and opaque nextLinks;
//! PATCH/POST/DELETE checked against the model and its per-object write rules (synced, dynamic
//! and mail-enabled objects, enabled app roles, mirrored service principals, external users);
//! `$ref` links and `@odata.bind`; reverse lookups (`memberOf`, `ownedObjects`,
//! `directReports`); contained children; soft delete and restore through
//! `directory/deletedItems`; invitations; `directoryObjects/getByIds`; delta queries with opaque,
//! expiring tokens; the client credentials token endpoint with JWT-shaped tokens, `$batch`,
//! Graph's resource-unit and write throttles, fault injection, a simulated Entra Connect
//! (`POST /_emulator/sync`) and changes made in Exchange Online (`POST /_emulator/exchange`).
//!
//! Layers, each importing only those before it: `model` (Graph's types, facts and write rules),
//! `rng`, `faults`, `config`, `odata`, `throttle`, `auth`; `state` (the tenant in memory);
//! `extensions` (directory extension definitions); `dynamic` (dynamic group membership);
//! `seed`, `synthetic`, `defaults` (building a tenant); `sync` (on-premises changes), `exchange`
//! (Exchange Online changes); `shared` (what every request shares); `routes` (Graph
//! semantics); `pipeline` (count → faults → throttle → route); `batch`; `server` (HTTP, the
//! running [`Emulator`]).

mod auth;
mod batch;
mod config;
mod defaults;
mod dynamic;
mod exchange;
mod extensions;
mod faults;
// Crate-visible for the one test that holds schema/ against it (src/schema_check.rs).
pub(crate) mod model;
mod odata;
mod pipeline;
#[cfg(test)]
pub(crate) mod probe;
mod rng;
mod routes;
mod seed;
mod server;
mod shared;
mod state;
mod sync;
mod synthetic;
#[cfg(test)]
mod tests;
mod throttle;

pub use config::{
    DeltaConfig, EmulatorConfig, EmulatorError, SyntheticSpec, READ_THROTTLE_LARGE_TENANT,
};
pub use faults::{FaultAction, FaultRule};
pub use seed::SeedReport;
pub use server::{serve, Emulator};
pub use shared::{RouteReads, Stats};
