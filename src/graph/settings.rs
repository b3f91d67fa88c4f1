//! Graph connection settings: the azure-identity environment conventions (GRAPH.md B.8) plus
//! `tenantgit.toml [graph]`, resolved once into [`GraphSettings`]. The environment is passed in as
//! a lookup function so the core never reads it itself.

use std::path::PathBuf;

use serde::Deserialize;

use super::GraphError;

pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com";
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";

/// A secret string (client secret, access token) whose `Debug` and `Display` print
/// `[redacted]`, so it cannot leak through an error or a log line by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// How the client authenticates.
#[derive(Debug, Clone)]
pub enum Credential {
    /// `AZURE_CLIENT_SECRET`.
    ClientSecret(Secret),
    /// `AZURE_CLIENT_CERTIFICATE_PATH`: a PEM file with the RSA private key and the certificate;
    /// the client proves itself with a signed JWT assertion.
    Certificate { pem_path: PathBuf },
    /// `AZURE_FEDERATED_TOKEN_FILE`: a JWT from another identity provider (Kubernetes, GitHub
    /// Actions). Re-read before each token request because kubelet and CI rotate it.
    FederatedTokenFile(PathBuf),
    /// `TENANTGIT_ACCESS_TOKEN`: a Graph access token used as is and never refreshed.
    AccessToken(Secret),
}

impl Credential {
    /// The environment variable that configures this credential (for hints).
    pub fn variable(&self) -> &'static str {
        match self {
            Credential::ClientSecret(_) => "AZURE_CLIENT_SECRET",
            Credential::Certificate { .. } => "AZURE_CLIENT_CERTIFICATE_PATH",
            Credential::FederatedTokenFile(_) => "AZURE_FEDERATED_TOKEN_FILE",
            Credential::AccessToken(_) => "TENANTGIT_ACCESS_TOKEN",
        }
    }
}

/// Everything the Graph client needs. `Debug` hides a user name and password in the URLs.
#[derive(Clone)]
pub struct GraphSettings {
    /// Graph root without version, e.g. `https://graph.microsoft.com`; requests go to
    /// `{graph_url}/v1.0/...`, the token scope is `{graph_url}/.default`.
    pub graph_url: String,
    /// Token authority, e.g. `https://login.microsoftonline.com`.
    pub authority_host: String,
    pub tenant_id: String,
    pub client_id: String,
    pub credential: Credential,
    /// HTTP requests in flight at most.
    pub concurrency: usize,
    /// Retries of one request after a retryable failure.
    pub max_retries: u32,
}

impl std::fmt::Debug for GraphSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphSettings")
            .field("graph_url", &redact_url(&self.graph_url))
            .field("authority_host", &redact_url(&self.authority_host))
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("credential", &self.credential)
            .field("concurrency", &self.concurrency)
            .field("max_retries", &self.max_retries)
            .finish()
    }
}

/// A URL as it may be shown: a user name and password in it (`https://user:pw@host/…`) become
/// `[redacted]` (`https://[redacted]@host/…`). Text that is no valid URL is redacted too, up to
/// its last `@`, so that any value is safe to print.
pub fn redact_url(url: &str) -> String {
    let start = scheme_end(url);
    let rest = &url[start..];
    let at = match reqwest::Url::parse(url) {
        // The authority ends where the path, query or fragment starts (WHATWG URL).
        Ok(_) => {
            let end = rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len());
            rest[..end].rfind('@')
        }
        Err(_) => rest.rfind('@'),
    };
    match at {
        Some(at) => format!("{}[redacted]{}", &url[..start], &rest[at..]),
        None => url.to_string(),
    }
}

/// The URL without a user name and password. Graph takes only the bearer token: credentials in
/// the URL would go out as a second `Authorization` header, which Graph refuses.
pub(crate) fn without_userinfo(url: &str) -> String {
    let start = scheme_end(url);
    let rest = &url[start..];
    let end = rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{}{}", &url[..start], &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// Where the authority starts: after `scheme://`, or at 0 when the text has no scheme.
fn scheme_end(url: &str) -> usize {
    match url.find("://") {
        Some(i) if !url[..i].contains(['/', '?', '#', '@']) => i + 3,
        _ => 0,
    }
}

/// `[graph]` in tenantgit.toml.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct GraphFileSettings {
    pub graph_url: Option<String>,
    pub authority_host: Option<String>,
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub concurrency: Option<usize>,
    /// National cloud (GRAPH.md B.9): `global`, `usgov` (GCC High), `usgov-dod`, `china`. Sets
    /// both endpoints; explicit `graph-url` / `authority-host` still win.
    pub cloud: Option<String>,
}

const DEFAULT_CONCURRENCY: usize = 8;
const DEFAULT_MAX_RETRIES: u32 = 8;

/// The endpoints (authority, Graph root) of a national cloud.
fn cloud_endpoints(cloud: &str) -> Option<(&'static str, &'static str)> {
    Some(match cloud.to_ascii_lowercase().as_str() {
        "global" | "public" | "gcc" => (DEFAULT_AUTHORITY_HOST, DEFAULT_GRAPH_URL),
        "usgov" | "gcch" | "usgov-l4" => (
            "https://login.microsoftonline.us",
            "https://graph.microsoft.us",
        ),
        "usgov-dod" | "dod" | "usgov-l5" => (
            "https://login.microsoftonline.us",
            "https://dod-graph.microsoft.us",
        ),
        "china" => (
            "https://login.chinacloudapi.cn",
            "https://microsoftgraph.chinacloudapi.cn",
        ),
        _ => return None,
    })
}

/// Resolves settings from environment values (looked up through `env`) and the file settings.
/// Environment wins over the file. Exactly one credential must be given.
pub fn resolve_settings(
    env: &dyn Fn(&str) -> Option<String>,
    file: &GraphFileSettings,
) -> Result<GraphSettings, GraphError> {
    // An empty variable counts as unset: CI systems export missing secrets as "".
    let get = |name: &str| {
        env(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let file_value = |v: &Option<String>| {
        v.as_ref()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };

    let cloud = match file_value(&file.cloud) {
        Some(name) => Some(cloud_endpoints(&name).ok_or_else(|| GraphError::Config {
            variable: "cloud in tenantgit.toml [graph]".into(),
            message: format!("unknown cloud {name:?}; known: global, usgov, usgov-dod, china"),
        })?),
        None => None,
    };
    let graph_url = match get("TENANTGIT_GRAPH_URL") {
        Some(v) => endpoint("TENANTGIT_GRAPH_URL", &v)?,
        None => match file_value(&file.graph_url) {
            Some(v) => endpoint("graph-url in tenantgit.toml [graph]", &v)?,
            None => cloud.map_or(DEFAULT_GRAPH_URL, |c| c.1).to_string(),
        },
    };
    // Users paste the versioned URL they see in Graph Explorer; requests add the version.
    let graph_url = graph_url
        .strip_suffix("/v1.0")
        .map(str::to_string)
        .unwrap_or(graph_url);
    let authority_host = match get("AZURE_AUTHORITY_HOST") {
        Some(v) => endpoint("AZURE_AUTHORITY_HOST", &v)?,
        None => match file_value(&file.authority_host) {
            Some(v) => endpoint("authority-host in tenantgit.toml [graph]", &v)?,
            None => cloud.map_or(DEFAULT_AUTHORITY_HOST, |c| c.0).to_string(),
        },
    };

    let candidates = [
        "TENANTGIT_ACCESS_TOKEN",
        "AZURE_CLIENT_SECRET",
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_FEDERATED_TOKEN_FILE",
    ];
    let given: Vec<&str> = candidates
        .iter()
        .copied()
        .filter(|v| get(v).is_some())
        .collect();
    if given.len() > 1 {
        return Err(GraphError::Config {
            variable: given[1].into(),
            message: format!(
                "contradictory credentials: {} are all set; tenantgit uses exactly one",
                given.join(" and ")
            ),
        });
    }
    let Some(&which) = given.first() else {
        return Err(GraphError::Config {
            variable: "AZURE_CLIENT_SECRET".into(),
            message: "no Graph credential: none of AZURE_CLIENT_SECRET, \
                      AZURE_CLIENT_CERTIFICATE_PATH, AZURE_FEDERATED_TOKEN_FILE, \
                      TENANTGIT_ACCESS_TOKEN is set"
                .into(),
        });
    };
    let value = get(which).expect("filtered on being set above");
    let credential = match which {
        "TENANTGIT_ACCESS_TOKEN" => Credential::AccessToken(Secret::new(value)),
        "AZURE_CLIENT_SECRET" => Credential::ClientSecret(Secret::new(value)),
        "AZURE_CLIENT_CERTIFICATE_PATH" => Credential::Certificate {
            pem_path: PathBuf::from(value),
        },
        _ => Credential::FederatedTokenFile(PathBuf::from(value)),
    };

    let tenant_id = get("AZURE_TENANT_ID").or_else(|| file_value(&file.tenant_id));
    let client_id = get("AZURE_CLIENT_ID").or_else(|| file_value(&file.client_id));
    // A ready token needs neither: it already names its tenant and app.
    let needs_ids = !matches!(credential, Credential::AccessToken(_));
    let tenant_id = match tenant_id {
        Some(t) => t,
        None if needs_ids => {
            return Err(GraphError::Config {
                variable: "AZURE_TENANT_ID".into(),
                message: format!("{which} is set but the tenant is not (AZURE_TENANT_ID)"),
            })
        }
        None => String::new(),
    };
    let client_id = match client_id {
        Some(c) => c,
        None if needs_ids => {
            return Err(GraphError::Config {
                variable: "AZURE_CLIENT_ID".into(),
                message: format!("{which} is set but the application is not (AZURE_CLIENT_ID)"),
            })
        }
        None => String::new(),
    };

    let concurrency = file.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
    if concurrency == 0 {
        return Err(GraphError::Config {
            variable: "concurrency in tenantgit.toml [graph]".into(),
            message: "concurrency must be at least 1".into(),
        });
    }
    Ok(GraphSettings {
        graph_url,
        authority_host,
        tenant_id,
        client_id,
        credential,
        concurrency,
        max_retries: DEFAULT_MAX_RETRIES,
    })
}

/// An http(s) URL without trailing slash.
fn endpoint(variable: &str, value: &str) -> Result<String, GraphError> {
    let trimmed = value.trim_end_matches('/');
    match reqwest::Url::parse(trimmed) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            Ok(trimmed.to_string())
        }
        _ => Err(GraphError::Config {
            variable: variable.into(),
            message: format!("{variable} is not an http(s) URL: {:?}", redact_url(value)),
        }),
    }
}
