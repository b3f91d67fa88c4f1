//! The Entra ID token endpoint (client credentials, GRAPH.md B.7) and bearer-token checks.
//! Access tokens are shaped as Entra's app-only v1.0 tokens are: a JWT (base64url header,
//! claims and signature) whose claims carry the tenant id (`tid`), the client (`appid`), the
//! audience and the expiry (`exp`), so that a client can learn its tenant from its token as it
//! can from a real one. The signature is random bytes: the emulator remembers each token it
//! issued with its expiry, and Graph calls need one that is known and unexpired. Client
//! assertions (certificate or federated credentials) are checked for shape and claims only: the
//! signature is not verified, because the emulator has no key registry and tests sign with
//! throwaway keys.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An Entra token-endpoint error: HTTP status and the JSON body.
#[derive(Debug)]
pub(crate) struct TokenError {
    pub status: u16,
    pub body: Value,
}

fn token_error(status: u16, error: &str, code: u32, text: &str) -> TokenError {
    let trace_id = uuid::Uuid::new_v4().to_string();
    let correlation_id = uuid::Uuid::new_v4().to_string();
    let timestamp = chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
    TokenError {
        status,
        body: json!({
            "error": error,
            "error_description": format!(
                "AADSTS{code}: {text} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {timestamp}"
            ),
            "error_codes": [code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
        }),
    }
}

/// Issued tokens and the credentials that get one.
#[derive(Debug)]
pub(crate) struct Auth {
    /// The emulator's tenant, named in every token's `tid`.
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub lifetime: Duration,
    /// The client's service principal in the tenant (`oid`, `sub`), one per emulator.
    principal_id: String,
    tokens: HashMap<String, Instant>,
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenProblem {
    Missing,
    Unknown,
    Expired,
}

impl TokenProblem {
    pub fn message(self) -> &'static str {
        match self {
            TokenProblem::Missing => "Access token is empty.",
            TokenProblem::Unknown => {
                "Invalid JWT token. The token is malformed or was not issued by this authority."
            }
            TokenProblem::Expired => "Access token has expired or is not yet valid.",
        }
    }
}

impl Auth {
    pub fn new(
        tenant_id: String,
        client_id: String,
        client_secret: String,
        lifetime: Duration,
    ) -> Auth {
        Auth {
            tenant_id,
            client_id,
            client_secret,
            lifetime,
            principal_id: uuid::Uuid::new_v4().to_string(),
            tokens: HashMap::new(),
        }
    }

    /// Answers a token request (form fields already decoded).
    pub fn issue(
        &mut self,
        tenant: &str,
        form: &HashMap<String, String>,
    ) -> Result<Value, TokenError> {
        let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
        let grant = field("grant_type");
        if grant != "client_credentials" {
            return Err(token_error(
                400,
                "unsupported_grant_type",
                70003,
                &format!("The app requested an unsupported grant type '{grant}'."),
            ));
        }
        let client_id = field("client_id");
        if client_id.is_empty() {
            return Err(token_error(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'client_id'.",
            ));
        }
        if client_id != self.client_id {
            return Err(token_error(
                400,
                "unauthorized_client",
                700016,
                &format!(
                    "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
                ),
            ));
        }
        let scope = field("scope");
        if scope.is_empty() || !scope.split(' ').all(|s| s.ends_with("/.default")) {
            return Err(token_error(
                400,
                "invalid_scope",
                70011,
                &format!("The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid. The .default scope is required for the client credentials flow."),
            ));
        }
        if let Some(secret) = form.get("client_secret") {
            if *secret != self.client_secret {
                return Err(token_error(
                    401,
                    "invalid_client",
                    7000215,
                    &format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."),
                ));
            }
        } else if form.contains_key("client_assertion") {
            if field("client_assertion_type") != ASSERTION_TYPE {
                return Err(token_error(
                    400,
                    "invalid_request",
                    50027,
                    &format!("The client_assertion_type must be '{ASSERTION_TYPE}'."),
                ));
            }
            check_assertion(field("client_assertion"), client_id)?;
        } else {
            return Err(token_error(
                401,
                "invalid_client",
                7000216,
                "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
            ));
        }
        let token = self.access_token(scope);
        let now = Instant::now();
        self.tokens.retain(|_, exp| *exp > now);
        self.tokens.insert(token.clone(), now + self.lifetime);
        let secs = self.lifetime.as_secs();
        Ok(json!({
            "token_type": "Bearer",
            "expires_in": secs,
            "ext_expires_in": secs,
            "access_token": token,
        }))
    }

    /// A new access token: a JWT with the claims of an Entra app-only v1.0 token (ver, aud, iss,
    /// iat, nbf, exp, appid, appidacr, idp, idtyp, oid, sub, tid, uti, roles) and a random
    /// signature that makes it unique.
    fn access_token(&self, scope: &str) -> String {
        let now = chrono::Utc::now().timestamp();
        let lifetime = i64::try_from(self.lifetime.as_secs()).unwrap_or(i64::MAX / 2);
        // The resource of the first `.default` scope: `https://graph.microsoft.com`.
        let aud = scope
            .split(' ')
            .next()
            .and_then(|s| s.strip_suffix("/.default"))
            .unwrap_or("https://graph.microsoft.com");
        let issuer = format!("https://sts.windows.net/{}/", self.tenant_id);
        let header = json!({"typ": "JWT", "alg": "RS256", "kid": "tenantgit-emulator"});
        let claims = json!({
            "aud": aud,
            "iss": issuer,
            "iat": now,
            "nbf": now,
            "exp": now.saturating_add(lifetime),
            "appid": self.client_id,
            "appidacr": "1",
            "idp": issuer,
            "idtyp": "app",
            "oid": self.principal_id,
            "roles": [],
            "sub": self.principal_id,
            "tid": self.tenant_id,
            "uti": URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes()),
            "ver": "1.0",
        });
        let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let mut signature = Vec::with_capacity(64);
        for _ in 0..4 {
            signature.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        }
        format!(
            "{}.{}.{}",
            part(&header),
            part(&claims),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    /// Checks an `Authorization` header value.
    pub fn check(&self, header: Option<&str>) -> Result<(), TokenProblem> {
        let token = header
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .unwrap_or("");
        if token.is_empty() {
            return Err(TokenProblem::Missing);
        }
        match self.tokens.get(token) {
            None => Err(TokenProblem::Unknown),
            Some(exp) if *exp <= Instant::now() => Err(TokenProblem::Expired),
            Some(_) => Ok(()),
        }
    }
}

/// A client assertion must be a JWT (three base64url parts) whose claims name the client as
/// issuer and subject, are meant for a token endpoint, and have not expired. The signature is
/// deliberately not verified (see the module comment).
fn check_assertion(jwt: &str, client_id: &str) -> Result<(), TokenError> {
    let malformed = |why: &str| {
        token_error(
            401,
            "invalid_client",
            50027,
            &format!("JWT token is invalid or malformed: {why}."),
        )
    };
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
        return Err(malformed("expected three base64url parts"));
    }
    let decode = |p: &str| -> Option<Value> {
        let bytes = URL_SAFE_NO_PAD.decode(p.trim_end_matches('=')).ok()?;
        serde_json::from_slice(&bytes).ok()
    };
    decode(parts[0]).ok_or_else(|| malformed("the header is not base64url JSON"))?;
    let claims = decode(parts[1]).ok_or_else(|| malformed("the claims are not base64url JSON"))?;
    let claim = |k: &str| claims.get(k).and_then(Value::as_str).unwrap_or("");
    if claim("iss") != client_id || claim("sub") != client_id {
        return Err(token_error(
            401,
            "invalid_client",
            700021,
            &format!("Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/certificate-credentials . (iss/sub must be '{client_id}')"),
        ));
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a.contains("/oauth2/v2.0/token"),
        Some(Value::Array(a)) => a
            .iter()
            .any(|x| x.as_str().is_some_and(|s| s.contains("/oauth2/v2.0/token"))),
        _ => false,
    };
    if !aud_ok {
        return Err(token_error(
            401,
            "invalid_client",
            700212,
            "No matching federated identity record found for presented assertion audience. The audience must be the token endpoint.",
        ));
    }
    let now = chrono::Utc::now().timestamp();
    match claims.get("exp").and_then(Value::as_i64) {
        Some(exp) if exp > now => Ok(()),
        _ => Err(token_error(
            401,
            "invalid_client",
            700024,
            "Client assertion is not within its valid time range.",
        )),
    }
}
