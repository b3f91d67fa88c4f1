//! Access tokens (GRAPH.md B.7, B.8): the OAuth2 client-credentials grant with a client secret, a
//! certificate-signed JWT assertion, or a federated token file; or a ready token used as is.
//! Tokens are cached and refreshed ahead of expiry; concurrent requests wait for one refresh
//! instead of each starting their own.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;
use sha2::Digest as _;

use super::settings::{without_userinfo, Credential, GraphSettings, Secret};
use super::transport::Transport;
use super::GraphError;

/// Refresh this long before the token expires (or at half its lifetime when that is shorter),
/// so that a long page run never carries a token that expires mid-flight.
const REFRESH_EARLY: Duration = Duration::from_secs(300);
/// Lifetime of a client assertion; Entra recommends at most 10 minutes.
const ASSERTION_LIFETIME_SECS: u64 = 600;

pub(crate) struct TokenSource {
    mode: Mode,
    cache: tokio::sync::Mutex<Option<Cached>>,
}

enum Mode {
    Static(Secret),
    Endpoint(Endpoint),
}

struct Endpoint {
    token_url: String,
    tenant_id: String,
    client_id: String,
    scope: String,
    proof: Proof,
}

enum Proof {
    Secret(Secret),
    Certificate(CertificateKey),
    FederatedFile(PathBuf),
}

impl Proof {
    fn variable(&self) -> &'static str {
        match self {
            Proof::Secret(_) => "AZURE_CLIENT_SECRET",
            Proof::Certificate(_) => "AZURE_CLIENT_CERTIFICATE_PATH",
            Proof::FederatedFile(_) => "AZURE_FEDERATED_TOKEN_FILE",
        }
    }
}

/// The signing key and the certificate thumbprint Entra uses to find the public key.
struct CertificateKey {
    key: jsonwebtoken::EncodingKey,
    /// base64url SHA-256 of the certificate's DER (`x5t#S256`).
    thumbprint_s256: String,
    path: PathBuf,
}

#[derive(Clone)]
struct Cached {
    token: Secret,
    refresh_at: Instant,
}

impl TokenSource {
    /// Prepares the credential; a certificate is loaded and checked here so that a bad file
    /// fails before the first request.
    pub(crate) fn new(settings: &GraphSettings) -> Result<Self, GraphError> {
        let endpoint = |proof| {
            Mode::Endpoint(Endpoint {
                token_url: format!(
                    "{}/{}/oauth2/v2.0/token",
                    settings.authority_host, settings.tenant_id
                ),
                tenant_id: settings.tenant_id.clone(),
                client_id: settings.client_id.clone(),
                scope: format!("{}/.default", without_userinfo(&settings.graph_url)),
                proof,
            })
        };
        let mode = match &settings.credential {
            Credential::AccessToken(t) => Mode::Static(t.clone()),
            Credential::ClientSecret(s) => endpoint(Proof::Secret(s.clone())),
            Credential::FederatedTokenFile(p) => endpoint(Proof::FederatedFile(p.clone())),
            Credential::Certificate { pem_path } => {
                endpoint(Proof::Certificate(load_certificate(pem_path)?))
            }
        };
        Ok(TokenSource {
            mode,
            cache: tokio::sync::Mutex::new(None),
        })
    }

    /// Whether a 401 can be cured by fetching a new token.
    pub(crate) fn refreshable(&self) -> bool {
        matches!(self.mode, Mode::Endpoint(_))
    }

    /// A valid token, fetched when there is none or the cached one is due for refresh.
    pub(crate) async fn token(&self, transport: &Transport) -> Result<Secret, GraphError> {
        let endpoint = match &self.mode {
            Mode::Static(t) => return Ok(t.clone()),
            Mode::Endpoint(e) => e,
        };
        // Holding the lock across the fetch is the point: concurrent callers wait for this
        // refresh and then find the fresh token in the cache.
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref() {
            if Instant::now() < c.refresh_at {
                return Ok(c.token.clone());
            }
        }
        let fresh = endpoint.fetch(transport).await?;
        let token = fresh.token.clone();
        *cache = Some(fresh);
        Ok(token)
    }

    /// Forgets `used` after Graph refused it, unless another caller already replaced it.
    pub(crate) async fn invalidate(&self, used: &Secret) {
        let mut cache = self.cache.lock().await;
        if cache.as_ref().is_some_and(|c| &c.token == used) {
            *cache = None;
        }
    }
}

impl Endpoint {
    async fn fetch(&self, transport: &Transport) -> Result<Cached, GraphError> {
        let mut form: Vec<(&str, String)> = vec![
            ("grant_type", "client_credentials".into()),
            ("client_id", self.client_id.clone()),
            ("scope", self.scope.clone()),
        ];
        match &self.proof {
            Proof::Secret(s) => form.push(("client_secret", s.expose().to_string())),
            Proof::Certificate(cert) => {
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
                ));
                form.push(("client_assertion", self.sign_assertion(cert)?));
            }
            Proof::FederatedFile(path) => {
                // Re-read every time: kubelet and CI runners rotate the file under us.
                let assertion =
                    std::fs::read_to_string(path).map_err(|e| GraphError::CredentialFile {
                        variable: "AZURE_FEDERATED_TOKEN_FILE",
                        path: path.clone(),
                        detail: e.to_string(),
                    })?;
                let assertion = assertion.trim().to_string();
                if assertion.is_empty() {
                    return Err(GraphError::CredentialFile {
                        variable: "AZURE_FEDERATED_TOKEN_FILE",
                        path: path.clone(),
                        detail: "the file is empty".into(),
                    });
                }
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
                ));
                form.push(("client_assertion", assertion));
            }
        }
        let started = Instant::now();
        let (status, body) = transport.post_token_form(&self.token_url, &form).await?;
        let parsed: Option<Value> = serde_json::from_slice(&body).ok();
        if (200..300).contains(&status) {
            let access = parsed
                .as_ref()
                .and_then(|v| v.get("access_token"))
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty());
            let Some(access) = access else {
                return Err(self.auth_error(
                    status,
                    "invalid_response".into(),
                    "the token endpoint answered without an access_token".into(),
                ));
            };
            // `expires_in` is a number from v2.0 endpoints and a string from some older ones.
            let lifetime = parsed
                .as_ref()
                .and_then(|v| v.get("expires_in"))
                .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
                .unwrap_or(3599);
            let lifetime = Duration::from_secs(lifetime);
            let early = REFRESH_EARLY.min(lifetime / 2);
            return Ok(Cached {
                token: Secret::new(access),
                refresh_at: started + lifetime - early,
            });
        }
        let field = |name: &str| {
            parsed
                .as_ref()
                .and_then(|v| v.get(name))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let error = field("error");
        // The description carries "\r\nTrace ID: …\r\nCorrelation ID: …" lines after the
        // message; the first line is the part a person needs.
        let description = field("error_description");
        let first_line = description.lines().next().unwrap_or_default().trim();
        let aadsts = first_line
            .split(|c: char| !c.is_ascii_alphanumeric())
            .find(|w| w.starts_with("AADSTS"))
            .map(str::to_string)
            .or_else(|| {
                let codes = parsed.as_ref()?.get("error_codes")?.as_array()?;
                Some(format!("AADSTS{}", codes.first()?.as_u64()?))
            });
        let code = match (error.is_empty(), aadsts) {
            (false, Some(a)) => format!("{error} {a}"),
            (false, None) => error,
            (true, Some(a)) => a,
            (true, None) => format!("HTTP {status}"),
        };
        let description = if first_line.is_empty() {
            "the token endpoint refused the request".to_string()
        } else {
            first_line.to_string()
        };
        Err(self.auth_error(status, code, description))
    }

    fn auth_error(&self, status: u16, code: String, description: String) -> GraphError {
        // Identity providers do not echo secrets, but an error must never be the way one leaks.
        let description = match &self.proof {
            Proof::Secret(s) if !s.expose().is_empty() => {
                description.replace(s.expose(), "[redacted]")
            }
            _ => description,
        };
        GraphError::Auth {
            tenant_id: self.tenant_id.clone(),
            client_id: self.client_id.clone(),
            credential_variable: self.proof.variable(),
            status,
            code,
            description,
        }
    }

    /// The JWT client assertion of GRAPH.md B.7, signed PS256 with the certificate's key.
    fn sign_assertion(&self, cert: &CertificateKey) -> Result<String, GraphError> {
        #[derive(serde::Serialize)]
        struct Claims<'a> {
            aud: &'a str,
            iss: &'a str,
            sub: &'a str,
            jti: String,
            nbf: u64,
            iat: u64,
            exp: u64,
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
        header.x5t_s256 = Some(cert.thumbprint_s256.clone());
        let claims = Claims {
            aud: &self.token_url,
            iss: &self.client_id,
            sub: &self.client_id,
            jti: uuid::Uuid::new_v4().to_string(),
            nbf: now,
            iat: now,
            exp: now + ASSERTION_LIFETIME_SECS,
        };
        jsonwebtoken::encode(&header, &claims, &cert.key).map_err(|e| GraphError::CredentialFile {
            variable: "AZURE_CLIENT_CERTIFICATE_PATH",
            path: cert.path.clone(),
            detail: format!("signing the client assertion failed: {e}"),
        })
    }
}

/// One `-----BEGIN LABEL-----` block of a PEM file.
struct PemBlock<'a> {
    label: &'a str,
    /// The whole block including its BEGIN/END lines.
    text: &'a str,
    der: Vec<u8>,
}

fn pem_blocks(text: &str) -> Result<Vec<PemBlock<'_>>, String> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + "-----BEGIN ".len()..];
        let label_end = after.find("-----").ok_or("unterminated BEGIN line")?;
        let label = &after[..label_end];
        let end_marker = format!("-----END {label}-----");
        let body_start = start + "-----BEGIN ".len() + label_end + "-----".len();
        let end = rest[body_start..]
            .find(&end_marker)
            .ok_or_else(|| format!("no {end_marker} line"))?
            + body_start;
        let body: String = rest[body_start..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| format!("the {label} block is not base64: {e}"))?;
        blocks.push(PemBlock {
            label,
            text: &rest[start..end + end_marker.len()],
            der,
        });
        rest = &rest[end + end_marker.len()..];
    }
    Ok(blocks)
}

fn load_certificate(path: &Path) -> Result<CertificateKey, GraphError> {
    let fail = |detail: String| GraphError::CredentialFile {
        variable: "AZURE_CLIENT_CERTIFICATE_PATH",
        path: path.to_path_buf(),
        detail,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let blocks = pem_blocks(&text).map_err(&fail)?;
    let cert = blocks
        .iter()
        .find(|b| b.label == "CERTIFICATE")
        .ok_or_else(|| {
            fail(
                "no CERTIFICATE block; the PEM must hold the certificate and its private key"
                    .into(),
            )
        })?;
    let key = blocks
        .iter()
        .find(|b| b.label.ends_with("PRIVATE KEY"))
        .ok_or_else(|| {
            fail(
                "no PRIVATE KEY block; the PEM must hold the certificate and its private key"
                    .into(),
            )
        })?;
    let key = match key.label {
        "PRIVATE KEY" | "RSA PRIVATE KEY" => {
            jsonwebtoken::EncodingKey::from_rsa_pem(key.text.as_bytes()).map_err(|e| {
                fail(format!(
                    "the private key is not an RSA key tenantgit can use: {e}"
                ))
            })?
        }
        "ENCRYPTED PRIVATE KEY" => return Err(fail(
            "the private key is encrypted; export it without a password (openssl pkcs8 -nocrypt)"
                .into(),
        )),
        other => {
            return Err(fail(format!(
                "{other} is not supported; Entra client certificates use RSA keys"
            )))
        }
    };
    let thumbprint_s256 =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&cert.der));
    Ok(CertificateKey {
        key,
        thumbprint_s256,
        path: path.to_path_buf(),
    })
}
