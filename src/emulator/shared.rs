//! State every request shares: the tenant behind a read-write lock, the token issuer, the
//! throttle, the fault rules, what seals delta tokens and the counters of `GET /_emulator/stats`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::auth::Auth;
use super::config::{DeltaConfig, EmulatorConfig, TENANT_DOMAIN};
use super::faults::{FaultRule, Faults};
use super::model::{model, TenantFacts};
use super::state::Tenant;
use super::throttle::Throttle;

/// Counters of `GET /_emulator/stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Graph calls, each `$batch` item counted as one (the `$batch` envelope itself is not).
    pub requests: u64,
    /// POST/PATCH/PUT/DELETE Graph calls received, whatever their outcome.
    pub writes: u64,
    /// Calls answered 429 (by the throttle or a throttle fault).
    pub throttled: u64,
    /// Calls a fault rule fired on.
    pub faulted: u64,
    /// `$batch` envelopes.
    pub batches: u64,
    /// Access tokens issued.
    pub tokens: u64,
    /// Resource units of the reads the throttle admitted (what a run cost of Graph's read
    /// quota; the quota's refill rate turns it into a lower bound of the run's time).
    #[serde(default, rename = "readUnits")]
    pub read_units: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub requests: AtomicU64,
    pub writes: AtomicU64,
    pub throttled: AtomicU64,
    pub faulted: AtomicU64,
    pub batches: AtomicU64,
    pub tokens: AtomicU64,
    pub read_units: AtomicU64,
    /// Admitted reads by route (`GET /groups/{id}/owners`), for `GET /_emulator/stats/reads`.
    pub reads_by_route: Mutex<BTreeMap<String, RouteReads>>,
}

/// What the admitted reads of one route cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteReads {
    pub requests: u64,
    pub units: u64,
}

/// `path` with every segment that names an object replaced by `{id}` (ids hold digits or
/// hyphens; collection and property names never do).
pub(crate) fn route_of(method: &str, path: &str) -> String {
    let segments: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .map(|s| {
            if s.contains(|c: char| c.is_ascii_digit() || c == '-') {
                "{id}"
            } else {
                s
            }
        })
        .collect();
    format!("{method} /{}", segments.join("/"))
}

pub(crate) fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    pub fn snapshot(&self) -> Stats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            requests: g(&self.requests),
            writes: g(&self.writes),
            throttled: g(&self.throttled),
            faulted: g(&self.faulted),
            batches: g(&self.batches),
            tokens: g(&self.tokens),
            read_units: g(&self.read_units),
        }
    }

    pub fn reset(&self) {
        for c in [
            &self.requests,
            &self.writes,
            &self.throttled,
            &self.faulted,
            &self.batches,
            &self.tokens,
            &self.read_units,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        lock(&self.reads_by_route).clear();
    }

    /// Counts one admitted read of `cost` units.
    pub fn admitted_read(&self, method: &str, path: &str, cost: u32) {
        self.read_units
            .fetch_add(u64::from(cost), Ordering::Relaxed);
        let mut routes = lock(&self.reads_by_route);
        let route = routes.entry(route_of(method, path)).or_default();
        route.requests += 1;
        route.units += u64::from(cost);
    }

    pub fn reads_by_route(&self) -> BTreeMap<String, RouteReads> {
        lock(&self.reads_by_route).clone()
    }
}

/// What delta tokens need across requests: this emulator's sealing key, and the epoch
/// `POST /_emulator/delta/expire` moves on (every token of an older epoch has expired).
pub(crate) struct DeltaKeys {
    pub key: [u8; 32],
    pub epoch: AtomicU64,
    pub config: DeltaConfig,
}

impl DeltaKeys {
    fn new(config: DeltaConfig) -> DeltaKeys {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        DeltaKeys {
            key,
            epoch: AtomicU64::new(0),
            config,
        }
    }

    /// Makes every delta token issued so far expire.
    pub fn expire_all(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }
}

/// State shared by every request.
pub(crate) struct Shared {
    /// `http://127.0.0.1:PORT`, for absolute nextLinks and contexts.
    pub base: String,
    pub tenant_id: String,
    /// The tenant as the write rules see it (its id and verified domains).
    pub facts: TenantFacts,
    pub latency: Duration,
    tenant: RwLock<Tenant>,
    pub auth: Mutex<Auth>,
    pub throttle: Mutex<Throttle>,
    pub faults: Mutex<Faults>,
    pub delta: DeltaKeys,
    pub stats: Counters,
}

/// The domains a tenant has verified, which the emulator does not model as objects: its own
/// domain and every domain its members' principal names already use (a tenant seeded from a
/// real snapshot keeps its domains). Guests' `#EXT#` names do not count.
fn verified_domains(t: &Tenant) -> Vec<String> {
    let mut domains = vec![TENANT_DOMAIN.to_string()];
    if let Some(users) = model().collection("users") {
        for slot in t.live(users).values().chain(t.recycle(users).values()) {
            let Some(e) = t.entry(*slot) else { continue };
            let Some(upn) = e.str_prop("userPrincipalName") else {
                continue;
            };
            if upn.contains('#') || e.str_prop("userType") == Some("Guest") {
                continue;
            }
            if let Some((_, d)) = upn.rsplit_once('@') {
                domains.push(d.to_ascii_lowercase());
            }
        }
    }
    domains.sort();
    domains.dedup();
    domains
}

/// A panic while a lock is held leaves data that is still consistent enough for a test server.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn new(config: &EmulatorConfig, base: String, tenant: Tenant) -> Shared {
        let facts = TenantFacts {
            id: config.tenant_id.clone(),
            domains: verified_domains(&tenant),
        };
        Shared {
            base,
            tenant_id: config.tenant_id.clone(),
            facts,
            latency: config.latency,
            tenant: RwLock::new(tenant),
            auth: Mutex::new(Auth::new(
                config.tenant_id.clone(),
                config.client_id.clone(),
                config.client_secret.clone(),
                config.token_lifetime,
            )),
            throttle: Mutex::new(Throttle::new(config.read_throttle, config.write_throttle)),
            faults: Mutex::new(Faults::new(config.faults.clone())),
            delta: DeltaKeys::new(config.delta),
            stats: Counters::default(),
        }
    }

    pub fn read(&self) -> RwLockReadGuard<'_, Tenant> {
        self.tenant.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, Tenant> {
        self.tenant.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_faults(&self, rules: Vec<FaultRule>) {
        lock(&self.faults).set(rules);
    }
}
