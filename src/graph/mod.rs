//! Microsoft Graph client: settings from the azure-identity environment conventions, OAuth2
//! client credentials (secret, certificate, federated token file, ready token), `@odata.nextLink`
//! paging, `$batch`, retries honouring `Retry-After`, bounded concurrency, and the typed errors
//! every Graph failure becomes. Nothing here prints; secrets and tokens never reach an error,
//! a `Debug` string or a log line. GRAPH.md section B is the contract this module follows.

mod auth;
mod batch;
mod client;
mod delta;
mod delta_page;
mod extensions;
mod retry;
mod settings;
mod transport;

#[cfg(test)]
pub(crate) mod test_server;
#[cfg(test)]
mod tests;

pub use client::{GraphClient, GraphResponse, Metrics};
pub use delta_page::{DeltaEnd, DeltaItem, LinkEnds};
pub use extensions::{ExtensionProperties, ExtensionProperty};
pub use retry::RetryTiming;
pub use settings::{
    resolve_settings, Credential, GraphFileSettings, GraphSettings, Secret, DEFAULT_AUTHORITY_HOST,
    DEFAULT_GRAPH_URL,
};

/// Every way a Graph interaction fails. `path` is relative to the Graph version root, with the
/// values of opaque paging tokens elided.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// Graph answered with an error status.
    #[error(
        "{method} {path}: HTTP {status}{}: {message}{}",
        code_suffix(code),
        request_id_suffix(request_id)
    )]
    Http {
        method: &'static str,
        path: String,
        status: u16,
        /// Graph's error code (`Authorization_RequestDenied`); may be empty.
        code: String,
        message: String,
        request_id: Option<String>,
    },
    /// The token endpoint refused to issue a token.
    #[error("could not get a token for tenant {tenant_id:?} and client {client_id:?}: {code}: {description}")]
    Auth {
        tenant_id: String,
        client_id: String,
        /// How the client authenticated, by the variable that configures it
        /// (`AZURE_CLIENT_SECRET`, `AZURE_CLIENT_CERTIFICATE_PATH`, `AZURE_FEDERATED_TOKEN_FILE`).
        credential_variable: &'static str,
        status: u16,
        /// OAuth2 error (`invalid_client`) and the first AADSTS code, when present.
        code: String,
        /// `error_description` without its trace and correlation lines.
        description: String,
    },
    /// No HTTP exchange happened: connection refused, DNS, TLS, timeout while connecting.
    #[error("cannot reach {url}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// An answer that is not what Graph sends: not JSON, cut off, missing `value`, a connection
    /// dropped mid-response, a nextLink pointing elsewhere.
    #[error("{method} {path}: invalid response: {detail}")]
    InvalidResponse {
        method: &'static str,
        path: String,
        detail: String,
    },
    /// A retryable failure that persisted; `last` is the final attempt's error.
    #[error("{method} {path}: gave up after {attempts} attempts")]
    RetriesExhausted {
        method: &'static str,
        path: String,
        attempts: u32,
        #[source]
        last: Box<GraphError>,
    },
    /// Settings are missing or contradictory; `variable` is what to set or fix.
    #[error("{message}")]
    Config { variable: String, message: String },
    /// A credential file (certificate, federated token) could not be used.
    #[error("cannot use {variable} {path}: {detail}", path = path.display())]
    CredentialFile {
        variable: &'static str,
        path: std::path::PathBuf,
        detail: String,
    },
    /// Reading one kind failed; the source names the request.
    #[error("reading {kind} from Graph failed")]
    Read {
        kind: String,
        #[source]
        source: Box<GraphError>,
    },
    /// A page callback stopped the paging; the caller holds its own error.
    #[error("paging stopped by the caller")]
    Stopped,
}

fn code_suffix(code: &str) -> String {
    if code.is_empty() {
        String::new()
    } else {
        format!(" {code}")
    }
}

fn request_id_suffix(request_id: &Option<String>) -> String {
    request_id
        .as_ref()
        .map(|id| format!(" (request-id {id})"))
        .unwrap_or_default()
}

impl GraphError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            GraphError::Http {
                method,
                path,
                status,
                message,
                ..
            } => match status {
                401 => Some(
                    "Graph refused the access token: check AZURE_TENANT_ID, AZURE_CLIENT_ID and the \
                     credential (AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH, \
                     AZURE_FEDERATED_TOKEN_FILE), or get a fresh TENANTGIT_ACCESS_TOKEN"
                        .into(),
                ),
                403 => {
                    let permission = permission_in_message(message)
                        .unwrap_or_else(|| least_privilege_permission(method, path));
                    Some(format!(
                        "grant the application the Microsoft Graph application permission \
                         {permission} and give admin consent"
                    ))
                }
                404 => Some("the object does not exist (any more) in the tenant".into()),
                429 => Some(throttle_hint()),
                _ => None,
            },
            GraphError::Auth {
                credential_variable,
                code,
                ..
            } => Some(auth_hint(code, credential_variable)),
            GraphError::Unreachable { .. } => Some(
                "check TENANTGIT_GRAPH_URL / AZURE_AUTHORITY_HOST (or graph-url / authority-host in \
                 tenantgit.toml), the network and any proxy"
                    .into(),
            ),
            GraphError::InvalidResponse { .. } => Some(
                "Graph (or a proxy in between) sent an answer tenantgit does not understand; run \
                 again, and report it if it persists"
                    .into(),
            ),
            GraphError::RetriesExhausted { last, .. } => match last.as_ref() {
                GraphError::Http { status: 429, .. } => Some(throttle_hint()),
                GraphError::Http { .. } => Some(
                    "Graph kept failing; run again later (https://status.cloud.microsoft lists \
                     incidents)"
                        .into(),
                ),
                other => other.hint(),
            },
            GraphError::Config { variable, .. } => Some(config_hint(variable)),
            GraphError::CredentialFile { variable, .. } => Some(format!(
                "set {variable} to a readable file (see README: pointing tenantgit at a tenant)"
            )),
            GraphError::Read { source, .. } => source.hint(),
            GraphError::Stopped => None,
        }
    }

    /// Whether Graph said the object does not exist: 404 `Request_ResourceNotFound`, which is
    /// what a read of an object deleted since it was listed gets. Other 404s (a wrong path) are
    /// not taken for a deleted object.
    pub fn is_resource_not_found(&self) -> bool {
        matches!(self, GraphError::Http { status: 404, code, .. } if code == "Request_ResourceNotFound")
    }

    /// The HTTP status, when Graph answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            GraphError::Http { status, .. } => Some(*status),
            GraphError::Read { source, .. } => source.status(),
            GraphError::RetriesExhausted { last, .. } => last.status(),
            _ => None,
        }
    }
}

/// Only a throttling that outlasts the client's patience reaches the user: 429s with a
/// `Retry-After` are waited out for up to 15 minutes per request (`RetryTiming::throttle_budget`)
/// and 429s without one are retried `max-retries` times. Lowering `concurrency` does not help
/// then — Graph's quota counts resource units per 10 s, however many requests are in flight —
/// but other programs using the same app registration share that quota.
fn throttle_hint() -> String {
    "Graph kept throttling this application longer than tenantgit waits; its quota is per app \
     registration and tenant, shared with every other program using the same app: run again \
     when they are quiet, or give tenantgit an app registration of its own"
        .into()
}

fn config_hint(variable: &str) -> String {
    match variable {
        "AZURE_TENANT_ID" => "set AZURE_TENANT_ID to the tenant id (a GUID) or a verified domain, \
                              or tenant-id in tenantgit.toml [graph]"
            .into(),
        "AZURE_CLIENT_ID" => "set AZURE_CLIENT_ID to the application (client) id of the app \
                              registration, or client-id in tenantgit.toml [graph]"
            .into(),
        "AZURE_CLIENT_SECRET" => "set exactly one credential: AZURE_CLIENT_SECRET, \
                                  AZURE_CLIENT_CERTIFICATE_PATH (PEM with key and certificate), \
                                  AZURE_FEDERATED_TOKEN_FILE, or TENANTGIT_ACCESS_TOKEN"
            .into(),
        other => format!("fix {other}"),
    }
}

fn auth_hint(code: &str, credential_variable: &str) -> String {
    // AADSTS codes are stable and documented; they say which setting is wrong.
    let aadsts = code.split_whitespace().find(|w| w.starts_with("AADSTS"));
    match aadsts {
        Some("AADSTS7000215" | "AADSTS7000222") => {
            "the client secret is wrong or expired: set AZURE_CLIENT_SECRET to a current secret \
             of the app registration"
                .into()
        }
        Some("AADSTS700016") => "no application with this client id in the tenant: check \
                                 AZURE_CLIENT_ID and AZURE_TENANT_ID"
            .into(),
        Some("AADSTS90002" | "AADSTS900023") => {
            "the tenant was not found: check AZURE_TENANT_ID and AZURE_AUTHORITY_HOST (cloud)"
                .into()
        }
        Some("AADSTS70021" | "AADSTS700211" | "AADSTS700212" | "AADSTS700213") => {
            "the federated token does not match a federated credential of the app: check the \
             issuer, subject and audience (api://AzureADTokenExchange) of the app's federated \
             credential and AZURE_FEDERATED_TOKEN_FILE"
                .into()
        }
        Some("AADSTS700027" | "AADSTS700024") => "the client assertion was rejected: upload the \
                                                  certificate in AZURE_CLIENT_CERTIFICATE_PATH to \
                                                  the app registration and check the clock"
            .into(),
        Some("AADSTS70011") => "invalid scope: check TENANTGIT_GRAPH_URL matches the cloud of \
                                AZURE_AUTHORITY_HOST"
            .into(),
        _ => format!(
            "check AZURE_TENANT_ID, AZURE_CLIENT_ID and {credential_variable} (the credential \
             must belong to the app registration)"
        ),
    }
}

/// A Graph permission named in an error message (`… requires User.Read.All …`).
fn permission_in_message(message: &str) -> Option<String> {
    let is_permission = |w: &str| {
        let parts: Vec<&str> = w.split('.').collect();
        parts.len() >= 2
            && parts[0]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_uppercase())
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()))
            && parts[1..]
                .iter()
                .any(|p| p.starts_with("Read") || p.starts_with("ReadWrite"))
    };
    let found: Vec<&str> = message
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
        .map(|w| w.trim_end_matches('.'))
        .filter(|w| is_permission(w))
        .collect();
    if found.is_empty() {
        None
    } else {
        Some(found.join(" or "))
    }
}

/// The least-privileged application permission for a request: the `permissions` of the kind
/// whose Graph path the request's path starts with (a link's own write permission for link
/// writes), from `schema/`.
fn least_privilege_permission(method: &str, path: &str) -> String {
    let p = path.trim_start_matches('/');
    let p = p.split('?').next().unwrap_or(p);
    // The POST actions that only read (`GraphClient::post_read`) need a read permission.
    let read = method.eq_ignore_ascii_case("GET")
        || (method.eq_ignore_ascii_case("POST")
            && ["/getByIds", "/getAvailableExtensionProperties"]
                .iter()
                .any(|a| p.ends_with(a)));
    let segments: Vec<&str> = p.split('/').collect();
    let kinds = crate::schema::kinds();
    // The recycle bin is addressed by type: `directory/deletedItems/microsoft.graph.group`.
    if let ["directory", "deletedItems", rest @ ..] = segments.as_slice() {
        let cast = rest.first().copied().unwrap_or_default();
        let matching: Vec<&crate::schema::KindSpec> = kinds
            .iter()
            .filter(|k| k.soft_delete)
            .filter(|k| cast.is_empty() || k.graph_type.trim_start_matches('#') == cast)
            .collect();
        let mut names: Vec<&str> = matching
            .iter()
            .map(|k| match (read, &k.permissions.recycle_bin) {
                (true, Some(bin)) => bin.as_str(),
                (true, None) => k.permissions.read.as_str(),
                (false, _) => k.permissions.write.as_str(),
            })
            .collect();
        names.dedup();
        return if names.is_empty() {
            fallback(read).into()
        } else {
            names.join(" or ")
        };
    }
    let best = kinds
        .iter()
        .filter_map(|k| {
            let kp: Vec<&str> = k.path.split('/').collect();
            (segments.len() >= kp.len() && segments[..kp.len()] == kp[..]).then_some((k, kp.len()))
        })
        .max_by_key(|(_, n)| *n);
    let Some((kind, n)) = best else {
        return fallback(read).into();
    };
    if read {
        return kind.permissions.read.clone();
    }
    // `{collection}/{id}/{link}/…`: a link with its own write permission.
    let link = segments
        .get(n + 1)
        .and_then(|seg| kind.links.iter().find(|l| l.path == *seg));
    link.and_then(|l| l.write_permission.clone())
        .unwrap_or_else(|| kind.permissions.write.clone())
}

/// For a path no kind owns.
fn fallback(read: bool) -> &'static str {
    if read {
        "Directory.Read.All"
    } else {
        "Directory.ReadWrite.All"
    }
}
