//! What an emulator is started with: [`EmulatorConfig`] (address, credentials, seed, throttle,
//! faults, delta queries) and [`SyntheticSpec`] (the size of a generated tenant), plus the
//! emulator's error type.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::faults::FaultRule;

/// How to start an emulator. `Default` gives an empty tenant with the default credentials and
/// Graph's throttles for one app in a large tenant: 8,000 resource units per 10 s for reads,
/// 3,000 writes per 150 s.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// 0 = any free port; the emulator always binds 127.0.0.1.
    pub port: u16,
    /// Tenant id the objects belong to; the token path accepts any tenant segment.
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    /// Load the object files of a snapshot repository.
    pub seed_dir: Option<PathBuf>,
    /// Generate a tenant (added to whatever `seed_dir` loads).
    pub synthetic: Option<SyntheticSpec>,
    /// Resource units per 10 s (GRAPH.md B.5); `None` = no read throttle.
    /// Default: [`READ_THROTTLE_LARGE_TENANT`].
    pub read_throttle: Option<u32>,
    /// Writes per 150 s; Graph's limit for one app in one tenant is 3000.
    pub write_throttle: Option<u32>,
    /// Added to every Graph request.
    pub latency: Duration,
    /// Initial fault rules (the control endpoint `/_emulator/faults` replaces them).
    pub faults: Vec<FaultRule>,
    pub token_lifetime: Duration,
    /// Delta tokens and pages.
    pub delta: DeltaConfig,
}

/// How delta queries page and how long their tokens live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeltaConfig {
    /// Age at which a `$deltatoken` or `$skiptoken` is refused with Graph's resync answer;
    /// Graph's limit for directory objects is seven days (concepts/delta-query-overview.md
    /// @1c6fb603, "Token duration").
    pub token_lifetime: Duration,
    /// Objects on one page (Graph pages users/delta by about 200 [obs]).
    pub page_objects: usize,
    /// `members@delta`/`owners@delta`/`manager@delta` entries on one page; a group with more
    /// spans pages (the count is the emulator's choice; Graph does not document one).
    pub page_links: usize,
}

impl Default for DeltaConfig {
    fn default() -> Self {
        DeltaConfig {
            token_lifetime: Duration::from_secs(7 * 24 * 3600),
            page_objects: 200,
            page_links: 1000,
        }
    }
}

/// The emulated tenant's verified domain: its users' principal names, group mail addresses and
/// invited guests' `#EXT#` names use it.
pub(crate) const TENANT_DOMAIN: &str = "contoso.example";

/// Graph's resource-unit quota for one application in a large tenant (more than 500 users), per
/// 10 s (GRAPH.md B.5). On by default, so that tests and the benchmark meet the throttling a
/// real tenant of that size answers with.
pub const READ_THROTTLE_LARGE_TENANT: u32 = 8000;

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            port: 0,
            tenant_id: "00000000-0000-0000-0000-0000000000e1".into(),
            client_id: "tenantgit-emulator".into(),
            client_secret: "emulator-secret".into(),
            seed_dir: None,
            synthetic: None,
            read_throttle: Some(READ_THROTTLE_LARGE_TENANT),
            write_throttle: Some(3000),
            latency: Duration::ZERO,
            faults: Vec::new(),
            token_lifetime: Duration::from_secs(3599),
            delta: DeltaConfig::default(),
        }
    }
}

/// Size of a generated tenant: `users=100000,groups=20000,members=50,apps=5000,policies=300`.
/// Every key is optional; missing keys take the small defaults of `Default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticSpec {
    pub users: usize,
    pub groups: usize,
    /// Average members per (non-department) group.
    pub members: usize,
    /// Applications, each with a service principal.
    pub apps: usize,
    /// Conditional access policies.
    pub policies: usize,
}

impl Default for SyntheticSpec {
    fn default() -> Self {
        SyntheticSpec {
            users: 50,
            groups: 10,
            members: 5,
            apps: 3,
            policies: 3,
        }
    }
}

impl FromStr for SyntheticSpec {
    type Err = EmulatorError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut spec = SyntheticSpec::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = || EmulatorError::BadSpec {
                spec: text.to_string(),
                part: part.to_string(),
            };
            let (key, value) = part.split_once('=').ok_or_else(bad)?;
            let value: usize = value.trim().replace('_', "").parse().map_err(|_| bad())?;
            match key.trim() {
                "users" => spec.users = value,
                "groups" => spec.groups = value,
                "members" => spec.members = value,
                "apps" => spec.apps = value,
                "policies" => spec.policies = value,
                _ => return Err(bad()),
            }
        }
        Ok(spec)
    }
}

/// Why an emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot listen on 127.0.0.1:{port}")]
    Bind {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid synthetic tenant spec {spec:?}: cannot use {part:?}")]
    BadSpec { spec: String, part: String },
    #[error("cannot read seed folder {path}")]
    SeedIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: invalid object file in seed folder: {message}")]
    SeedFile { path: PathBuf, message: String },
    #[error("cannot start the emulator's runtime")]
    Runtime {
        #[source]
        source: std::io::Error,
    },
    #[error("the emulator stopped while starting")]
    Stopped,
}

impl EmulatorError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            EmulatorError::Bind { port, .. } => Some(format!(
                "another program uses port {port}; pick another with --port, or 0 for any free port"
            )),
            EmulatorError::BadSpec { .. } => Some(
                "write KEY=NUMBER pairs separated by commas, keys users, groups, members, apps, \
                 policies, e.g. users=1000,groups=100"
                    .into(),
            ),
            EmulatorError::SeedIo { .. } => {
                Some("--seed takes a snapshot repository folder, e.g. example-repo/".into())
            }
            EmulatorError::SeedFile { .. } => {
                Some("fix the file (or remove it from the seed folder) and start again".into())
            }
            EmulatorError::Runtime { .. } | EmulatorError::Stopped => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_parses_partial_and_rejects_unknown_keys() {
        let s: SyntheticSpec = "users=100000,groups=20000,members=50,apps=5000,policies=300"
            .parse()
            .unwrap();
        assert_eq!(
            (s.users, s.groups, s.members, s.apps, s.policies),
            (100000, 20000, 50, 5000, 300)
        );
        let s: SyntheticSpec = "groups=7".parse().unwrap();
        assert_eq!(s.groups, 7);
        assert_eq!(s.users, SyntheticSpec::default().users);
        assert!("userz=1".parse::<SyntheticSpec>().is_err());
        assert!("users=many".parse::<SyntheticSpec>().is_err());
        assert!("users".parse::<SyntheticSpec>().is_err());
    }
}
