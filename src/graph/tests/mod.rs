//! Client behaviour over real HTTP against the servers in `test_server`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Digest as _;

use super::test_server::{start, start_raw, token_counter, Call, FakeGraph, RawReply, Reply};
use super::*;

mod batch;
mod delta;
mod urls;

const SECRET: &str = "s3cret-Value~that-must-not-leak";

fn fast() -> RetryTiming {
    RetryTiming {
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(10),
        retry_after_max: Duration::from_secs(2),
        throttle_budget: Duration::from_millis(50),
    }
}

fn settings(url: &str, credential: Credential) -> GraphSettings {
    GraphSettings {
        graph_url: url.into(),
        authority_host: url.into(),
        tenant_id: "tenant-1".into(),
        client_id: "client-1".into(),
        credential,
        concurrency: 4,
        max_retries: 3,
    }
}

fn client(url: &str) -> GraphClient {
    let s = settings(url, Credential::ClientSecret(Secret::new(SECRET)));
    GraphClient::with_timing(s, fast()).expect("client")
}

fn users(from: usize, to: usize) -> Vec<Value> {
    (from..to)
        .map(|i| json!({"id": format!("u{i}"), "displayName": format!("User {i}")}))
        .collect()
}

/// The full error text as the CLI prints it: the error and its source chain.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

#[tokio::test]
async fn pages_follow_next_links_and_resend_headers() {
    let base = Arc::new(Mutex::new(String::new()));
    let b = base.clone();
    let server = start(
        move |c: &Call| {
            let base = b.lock().unwrap().clone();
            let page = c.query.get("$skiptoken").map_or(0, |t| t.parse().unwrap());
            let mut body = json!({"@odata.context": "x", "value": users(page * 2, page * 2 + 2)});
            if page < 2 {
                body["@odata.nextLink"] =
                    json!(format!("{base}/v1.0/users?$skiptoken={}", page + 1));
            }
            Reply::json(body)
        },
        token_counter(),
    )
    .await;
    *base.lock().unwrap() = server.url.clone();
    let c = client(&server.url);
    let all = c
        .get_all("users?$select=id,displayName&$top=2")
        .await
        .unwrap();
    let ids: Vec<&str> = all.iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["u0", "u1", "u2", "u3", "u4", "u5"]);
    let calls = server.calls_to("users");
    assert_eq!(calls.len(), 3);
    let mut request_ids = std::collections::HashSet::new();
    for call in &calls {
        assert_eq!(call.headers["authorization"], "Bearer token-1");
        assert!(request_ids.insert(call.headers["client-request-id"].clone()));
    }
    assert_eq!(calls[0].query["$select"], "id,displayName");
    let token_calls = server.calls_to("token");
    assert_eq!(token_calls.len(), 1);
    let form = &token_calls[0].form;
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_secret"], SECRET);
    assert_eq!(form["scope"], format!("{}/.default", server.url));
    let m = c.metrics();
    assert_eq!((m.requests, m.retries, m.throttled), (4, 0, 0));
    assert!(m.bytes_read > 0);
}

#[tokio::test]
async fn next_link_to_another_host_is_refused() {
    let server = start(
        |_c: &Call| {
            Reply::json(json!({"value": [], "@odata.nextLink": "https://evil.example/v1.0/users"}))
        },
        token_counter(),
    )
    .await;
    let err = client(&server.url).get_all("users").await.unwrap_err();
    assert!(matches!(err, GraphError::InvalidResponse { .. }), "{err:?}");
    assert!(err.to_string().contains("outside"), "{err}");
}

#[tokio::test]
async fn throttling_honours_fractional_retry_after() {
    let n = AtomicUsize::new(0);
    let server = start(
        move |_c: &Call| {
            if n.fetch_add(1, Ordering::SeqCst) == 0 {
                Reply::graph_error(429, "TooManyRequests", "Please retry again later.")
                    .header("Retry-After", "0.25")
            } else {
                Reply::json(json!({"id": "x"}))
            }
        },
        token_counter(),
    )
    .await;
    let c = client(&server.url);
    let started = Instant::now();
    let v = c.get("organization/x").await.unwrap();
    assert_eq!(v["id"], "x");
    assert!(started.elapsed() >= Duration::from_millis(250));
    let m = c.metrics();
    assert_eq!((m.retries, m.throttled), (1, 1));
    assert_eq!(server.calls_to("organization/x").len(), 2);
}

#[tokio::test]
async fn persistent_503_exhausts_retries_with_a_clear_error() {
    let server = start(
        |_c: &Call| Reply::graph_error(503, "serviceNotAvailable", "Service unavailable"),
        token_counter(),
    )
    .await;
    let c = client(&server.url);
    let err = c.get("users?$top=999").await.unwrap_err();
    match &err {
        GraphError::RetriesExhausted {
            attempts,
            last,
            path,
            ..
        } => {
            assert_eq!(*attempts, 4);
            assert_eq!(path, "users?$top=999");
            assert!(matches!(**last, GraphError::Http { status: 503, .. }));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(server.calls_to("users").len(), 4);
    let text = chain(&err);
    assert!(
        text.contains("gave up after 4 attempts") && text.contains("503"),
        "{text}"
    );
    assert!(text.contains("inner-req-id"), "request id missing: {text}");
    assert!(err.hint().is_some());
}

#[tokio::test]
async fn writes_are_retried_only_when_safe() {
    let server = start(
        |c: &Call| match c.path.as_str() {
            "users/a" => Reply::graph_error(504, "GatewayTimeout", "timeout"),
            _ => Reply::graph_error(503, "serviceNotAvailable", "busy"),
        },
        token_counter(),
    )
    .await;
    let c = client(&server.url);
    let body = json!({"department": "Sales"});
    let err = c
        .send(Method::PATCH, "users/a", Some(&body))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(504));
    assert_eq!(
        server.calls_to("users/a").len(),
        1,
        "a 504 write may have happened"
    );
    let err = c
        .send(Method::PATCH, "users/b", Some(&body))
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::RetriesExhausted { .. }));
    assert_eq!(server.calls_to("users/b").len(), 4);
    assert_eq!(server.calls_to("users/b")[0].body, body);
}

#[tokio::test]
async fn error_bodies_that_are_not_graph_json_keep_an_excerpt() {
    let server = start(
        |_c: &Call| {
            Reply::text(400, "<html>Bad Request from proxy</html>").header("request-id", "r-400")
        },
        token_counter(),
    )
    .await;
    let err = client(&server.url).get("users").await.unwrap_err();
    let GraphError::Http {
        status,
        message,
        request_id,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!((*status, request_id.as_deref()), (400, Some("r-400")));
    assert!(message.contains("Bad Request from proxy"), "{message}");
}

#[tokio::test]
async fn send_returns_status_body_and_request_id() {
    let server = start(
        |c: &Call| match c.method.as_str() {
            "PATCH" => Reply::empty(204).header("request-id", "req-204"),
            _ => Reply::json(json!({"id": "new"}))
                .status(201)
                .header("request-id", "req-201"),
        },
        token_counter(),
    )
    .await;
    let c = client(&server.url);
    let r = c
        .send(Method::PATCH, "groups/g", Some(&json!({"a": 1})))
        .await
        .unwrap();
    assert_eq!((r.status, r.body.clone()), (204, Value::Null));
    assert_eq!(r.request_id.as_deref(), Some("req-204"));
    let r = c
        .send(Method::POST, "groups", Some(&json!({"displayName": "G"})))
        .await
        .unwrap();
    assert_eq!(r.status, 201);
    assert_eq!(r.body["id"], "new");
}

fn token_credential() -> Credential {
    Credential::AccessToken(Secret::new("static-token"))
}

#[tokio::test]
async fn dropped_connections_and_truncated_bodies_are_retried_on_gets() {
    let good = json!({"value": [{"id": "1"}]}).to_string();
    let (url, connections) = start_raw(vec![
        RawReply::Drop,
        RawReply::Truncated(good.clone()),
        RawReply::Full(200, good),
    ])
    .await;
    let c = GraphClient::with_timing(settings(&url, token_credential()), fast()).unwrap();
    let items = c.get_all("users").await.unwrap();
    assert_eq!(items, vec![json!({"id": "1"})]);
    assert_eq!(connections.load(Ordering::SeqCst), 3);
    assert_eq!(c.metrics().retries, 2);
}

#[tokio::test]
async fn a_dropped_write_is_not_sent_twice() {
    let (url, connections) = start_raw(vec![RawReply::Drop]).await;
    let c = GraphClient::with_timing(settings(&url, token_credential()), fast()).unwrap();
    let err = c
        .send(Method::POST, "groups", Some(&json!({})))
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::InvalidResponse { .. }), "{err:?}");
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn non_json_bodies_end_in_an_invalid_response_error() {
    let (url, _) = start_raw(vec![RawReply::Full(200, "<html>proxy</html>".into())]).await;
    let c = GraphClient::with_timing(settings(&url, token_credential()), fast()).unwrap();
    let err = c.get("users").await.unwrap_err();
    let GraphError::RetriesExhausted { last, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        matches!(**last, GraphError::InvalidResponse { .. }),
        "{last:?}"
    );
    assert!(chain(&err).contains("not JSON"), "{}", chain(&err));
}

#[tokio::test]
async fn unreachable_graph_names_the_url_and_hints_at_the_setting() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let c = GraphClient::with_timing(settings(&url, token_credential()), fast()).unwrap();
    let err = c.get("users").await.unwrap_err();
    let GraphError::RetriesExhausted { last, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(matches!(**last, GraphError::Unreachable { .. }), "{last:?}");
    assert!(chain(&err).contains(&url));
    assert!(err.hint().unwrap().contains("TENANTGIT_GRAPH_URL"));
}

#[tokio::test]
async fn expired_token_is_refreshed_once() {
    let server = start(
        |c: &Call| {
            if c.headers["authorization"] == "Bearer token-1" {
                Reply::graph_error(
                    401,
                    "InvalidAuthenticationToken",
                    "Access token has expired.",
                )
            } else {
                Reply::json(json!({"id": "me"}))
            }
        },
        token_counter(),
    )
    .await;
    let c = client(&server.url);
    assert_eq!(c.get("organization/1").await.unwrap()["id"], "me");
    assert_eq!(server.calls_to("token").len(), 2);
    // A 401 that persists is an error with a hint, after exactly one refresh.
    let server = start(
        |_c: &Call| Reply::graph_error(401, "InvalidAuthenticationToken", "Access token is empty."),
        token_counter(),
    )
    .await;
    let c = client(&server.url);
    let err = c.get("users").await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert_eq!(server.calls_to("token").len(), 2);
    assert!(err.hint().unwrap().contains("AZURE_CLIENT_SECRET"));
    assert!(!format!("{err:?} {err}").contains("token-"), "{err:?}");
}

#[tokio::test]
async fn concurrent_requests_share_one_token_and_respect_the_limit() {
    let server = start(
        |_c: &Call| Reply::json(json!({"ok": true})).delay(Duration::from_millis(30)),
        token_counter(),
    )
    .await;
    let mut s = settings(&server.url, Credential::ClientSecret(Secret::new(SECRET)));
    s.concurrency = 2;
    let c = GraphClient::with_timing(s, fast()).unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let c = c.clone();
        tasks.push(tokio::spawn(
            async move { c.get(&format!("users/{i}")).await },
        ));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(server.calls_to("token").len(), 1);
    let max = server.max_in_flight.load(Ordering::SeqCst);
    assert!(max <= 2, "{max} requests in flight with a limit of 2");
}

#[tokio::test]
async fn forbidden_names_the_permission() {
    let server = start(
        |c: &Call| match c.path.as_str() {
            "identity/conditionalAccess/policies" => Reply::graph_error(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges. Required scopes: Policy.Read.All, Policy.ReadWrite.ConditionalAccess.",
            ),
            _ => Reply::graph_error(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            ),
        },
        token_counter(),
    )
    .await;
    let c = client(&server.url);
    let err = c
        .get("identity/conditionalAccess/policies")
        .await
        .unwrap_err();
    let hint = err.hint().unwrap();
    assert!(
        hint.contains("Policy.Read.All or Policy.ReadWrite.ConditionalAccess"),
        "{hint}"
    );
    let err = c.get("users?$top=999").await.unwrap_err();
    assert!(err.hint().unwrap().contains("User.Read.All"));
    let err = c.get("groups/g1/members").await.unwrap_err();
    assert!(err.hint().unwrap().contains("GroupMember.Read.All"));
    assert!(err.to_string().contains("Authorization_RequestDenied"));
    assert_eq!(server.calls_to("users").len(), 1, "403 is not retried");
}

#[tokio::test]
async fn token_endpoint_errors_never_show_the_secret() {
    let token: super::test_server::Handler = Arc::new(|c: &Call| {
        let sent = c.form.get("client_secret").cloned().unwrap_or_default();
        Reply::json(json!({
            "error": "invalid_client",
            "error_description": format!("AADSTS7000215: Invalid client secret provided: {sent}\r\nTrace ID: abc\r\nCorrelation ID: def"),
            "error_codes": [7000215],
            "trace_id": "abc", "correlation_id": "def"
        }))
        .status(401)
    });
    let server = start(|_c: &Call| Reply::json(json!({})), token).await;
    let c = client(&server.url);
    let err = c.get("users").await.unwrap_err();
    let GraphError::Auth { code, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(code, "invalid_client AADSTS7000215");
    let all = format!("{err:?} {} {:?}", chain(&err), err.hint());
    assert!(!all.contains(SECRET), "{all}");
    assert!(!all.contains("Trace ID"), "{all}");
    assert!(err.hint().unwrap().contains("AZURE_CLIENT_SECRET"));
    assert_eq!(server.calls_to("users").len(), 0);
}

#[test]
fn secrets_are_redacted_in_debug_output() {
    let s = settings(
        "https://graph.microsoft.com",
        Credential::ClientSecret(Secret::new(SECRET)),
    );
    let text = format!("{s:?} {} {:?}", Secret::new(SECRET), Secret::new(SECRET));
    assert!(!text.contains(SECRET), "{text}");
    assert!(text.contains("[redacted]"));
    let c = GraphClient::new(s).unwrap();
    assert!(!format!("{c:?}").contains(SECRET));
}

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/graph/testdata")
        .join(name)
}

#[tokio::test]
async fn certificate_credential_sends_a_signed_assertion() {
    let server = start(|_c: &Call| Reply::json(json!({"id": "o"})), token_counter()).await;
    let pem = testdata("client-cert.pem");
    let s = settings(
        &server.url,
        Credential::Certificate {
            pem_path: pem.clone(),
        },
    );
    let c = GraphClient::with_timing(s, fast()).unwrap();
    c.get("organization").await.unwrap();
    let form = server.calls_to("token")[0].form.clone();
    assert!(!form.contains_key("client_secret"));
    assert_eq!(
        form["client_assertion_type"],
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    let assertion = &form["client_assertion"];
    let token_url = format!("{}/tenant-1/oauth2/v2.0/token", server.url);
    let public = std::fs::read(testdata("public.pem")).unwrap();
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(&public).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::PS256);
    validation.set_audience(&[&token_url]);
    validation.set_issuer(&["client-1"]);
    validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
    let data = jsonwebtoken::decode::<HashMap<String, Value>>(assertion, &key, &validation)
        .expect("assertion verifies with the certificate's public key");
    let claims = data.claims;
    assert_eq!(claims["sub"], "client-1");
    let exp = claims["exp"].as_u64().unwrap();
    let nbf = claims["nbf"].as_u64().unwrap();
    assert!(exp > nbf && exp - nbf <= 600);
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 32));
    assert!(claims.contains_key("iat"));
    // x5t#S256 is the SHA-256 of the certificate's DER, computed here from the file.
    let text = std::fs::read_to_string(&pem).unwrap();
    let b64: String = text
        .split("-----BEGIN CERTIFICATE-----")
        .nth(1)
        .unwrap()
        .split("-----END CERTIFICATE-----")
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let expected =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&der));
    assert_eq!(data.header.x5t_s256.as_deref(), Some(expected.as_str()));
    assert_eq!(data.header.alg, jsonwebtoken::Algorithm::PS256);
}

#[test]
fn unusable_certificate_files_are_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    let only_public = dir.path().join("pub.pem");
    std::fs::copy(testdata("public.pem"), &only_public).unwrap();
    for path in [only_public, dir.path().join("missing.pem")] {
        let s = settings(
            "https://graph.microsoft.com",
            Credential::Certificate { pem_path: path },
        );
        let err = GraphClient::new(s).unwrap_err();
        assert!(
            matches!(
                err,
                GraphError::CredentialFile {
                    variable: "AZURE_CLIENT_CERTIFICATE_PATH",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err
            .hint()
            .unwrap()
            .contains("AZURE_CLIENT_CERTIFICATE_PATH"));
    }
}

#[tokio::test]
async fn federated_token_file_is_reread_for_each_token_request() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "assertion-1\n").unwrap();
    let f = file.clone();
    let server = start(
        move |c: &Call| {
            if c.headers["authorization"] == "Bearer token-1" {
                // The platform rotates the file while the first token is in use.
                std::fs::write(&f, "assertion-2").unwrap();
                Reply::graph_error(
                    401,
                    "InvalidAuthenticationToken",
                    "Access token has expired.",
                )
            } else {
                Reply::json(json!({"id": "o"}))
            }
        },
        token_counter(),
    )
    .await;
    let s = settings(&server.url, Credential::FederatedTokenFile(file));
    GraphClient::with_timing(s, fast())
        .unwrap()
        .get("organization")
        .await
        .unwrap();
    let assertions: Vec<String> = server
        .calls_to("token")
        .iter()
        .map(|c| c.form["client_assertion"].clone())
        .collect();
    assert_eq!(assertions, ["assertion-1", "assertion-2"]);
}

#[test]
fn settings_from_environment_and_file() {
    let env_of = |pairs: &[(&str, &str)]| {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| map.get(k).cloned()
    };
    let file = GraphFileSettings::default();
    let env = env_of(&[
        ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
        ("AZURE_CLIENT_ID", "app-1"),
        ("AZURE_CLIENT_SECRET", SECRET),
    ]);
    let s = resolve_settings(&env, &file).unwrap();
    assert_eq!(s.graph_url, DEFAULT_GRAPH_URL);
    assert_eq!(s.authority_host, DEFAULT_AUTHORITY_HOST);
    assert_eq!(
        (s.tenant_id.as_str(), s.client_id.as_str()),
        ("contoso.onmicrosoft.com", "app-1")
    );
    assert!(matches!(&s.credential, Credential::ClientSecret(x) if x.expose() == SECRET));
    assert_eq!((s.concurrency, s.max_retries), (8, 8));

    // Environment wins over the file; trailing slashes and /v1.0 are tolerated.
    let file: GraphFileSettings = toml::from_str(
        "graph-url = \"https://graph.microsoft.us\"\ntenant-id = \"file-tenant\"\nclient-id = \"file-app\"\nconcurrency = 3\ncloud = \"usgov\"\n",
    )
    .unwrap();
    let env = env_of(&[
        ("TENANTGIT_GRAPH_URL", "http://127.0.0.1:9999/v1.0/"),
        ("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com/"),
        (
            "AZURE_FEDERATED_TOKEN_FILE",
            "/var/run/secrets/azure/tokens/azure-identity-token",
        ),
    ]);
    let s = resolve_settings(&env, &file).unwrap();
    assert_eq!(s.graph_url, "http://127.0.0.1:9999");
    assert_eq!(s.authority_host, "https://login.microsoftonline.com");
    assert_eq!(
        (s.tenant_id.as_str(), s.client_id.as_str(), s.concurrency),
        ("file-tenant", "file-app", 3)
    );
    assert!(matches!(s.credential, Credential::FederatedTokenFile(_)));

    // The cloud sets both endpoints when nothing more explicit does.
    let file: GraphFileSettings = toml::from_str("cloud = \"china\"").unwrap();
    let env = env_of(&[("TENANTGIT_ACCESS_TOKEN", "eyJ0")]);
    let s = resolve_settings(&env, &file).unwrap();
    assert_eq!(s.graph_url, "https://microsoftgraph.chinacloudapi.cn");
    assert_eq!(s.authority_host, "https://login.chinacloudapi.cn");
    assert!(matches!(s.credential, Credential::AccessToken(_)));
}

#[test]
fn bad_settings_name_the_variable_to_fix() {
    let file = GraphFileSettings::default();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("AZURE_TENANT_ID", "t"), ("AZURE_CLIENT_ID", "c")],
            "AZURE_CLIENT_SECRET",
        ),
        (
            &[("AZURE_CLIENT_ID", "c"), ("AZURE_CLIENT_SECRET", "x")],
            "AZURE_TENANT_ID",
        ),
        (
            &[("AZURE_TENANT_ID", "t"), ("AZURE_CLIENT_SECRET", "x")],
            "AZURE_CLIENT_ID",
        ),
        (
            &[
                ("AZURE_TENANT_ID", "t"),
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_CLIENT_SECRET", ""),
                ("AZURE_CLIENT_CERTIFICATE_PATH", "  "),
            ],
            "AZURE_CLIENT_SECRET",
        ),
        (
            &[
                ("AZURE_TENANT_ID", "t"),
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_CLIENT_SECRET", "x"),
                ("AZURE_CLIENT_CERTIFICATE_PATH", "/c.pem"),
            ],
            "AZURE_CLIENT_CERTIFICATE_PATH",
        ),
        (
            &[
                ("TENANTGIT_ACCESS_TOKEN", "t"),
                ("TENANTGIT_GRAPH_URL", "graph.microsoft.com"),
            ],
            "TENANTGIT_GRAPH_URL",
        ),
        (
            &[
                ("TENANTGIT_ACCESS_TOKEN", "t"),
                ("AZURE_AUTHORITY_HOST", "ftp://x"),
            ],
            "AZURE_AUTHORITY_HOST",
        ),
    ];
    for (pairs, variable) in cases {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        let env = |k: &str| map.get(k).map(|v| v.to_string());
        match resolve_settings(&env, &file) {
            Err(e @ GraphError::Config { .. }) => {
                let GraphError::Config { variable: v, .. } = &e else {
                    unreachable!()
                };
                assert_eq!(v, variable, "{pairs:?}");
                assert!(
                    e.hint().unwrap().contains(variable) || e.to_string().contains(variable),
                    "{e}"
                );
                assert!(!format!("{e:?}").contains("/c.pem") || *variable != "AZURE_CLIENT_SECRET");
            }
            other => panic!("{pairs:?}: {other:?}"),
        }
    }
    let file: GraphFileSettings = toml::from_str("cloud = \"mars\"").unwrap();
    let env = |k: &str| (k == "TENANTGIT_ACCESS_TOKEN").then(|| "t".to_string());
    assert!(matches!(
        resolve_settings(&env, &file),
        Err(GraphError::Config { .. })
    ));
}

#[test]
fn errors_stay_small() {
    // Every crate function returns crate::Error, which holds a GraphError; clippy's
    // result_large_err starts at 128 bytes.
    assert!(std::mem::size_of::<crate::Error>() < 128);
}

#[tokio::test]
async fn tokens_are_refreshed_before_they_expire() {
    let n = Arc::new(AtomicUsize::new(0));
    let token: super::test_server::Handler = Arc::new(move |_c: &Call| {
        let i = n.fetch_add(1, Ordering::SeqCst) + 1;
        // A one-second token: refreshed after half its lifetime.
        Reply::json(
            json!({"token_type": "Bearer", "expires_in": 1, "access_token": format!("short-{i}")}),
        )
    });
    let server = start(|_c: &Call| Reply::json(json!({"ok": true})), token).await;
    let c = client(&server.url);
    c.get("a").await.unwrap();
    c.get("b").await.unwrap();
    assert_eq!(server.calls_to("token").len(), 1, "a fresh token is reused");
    tokio::time::sleep(Duration::from_millis(600)).await;
    c.get("c").await.unwrap();
    assert_eq!(server.calls_to("token").len(), 2);
    assert_eq!(
        server.calls_to("c")[0].headers["authorization"],
        "Bearer short-2"
    );
}

#[tokio::test]
async fn after_a_throttled_write_writes_go_one_at_a_time() {
    let first = Arc::new(AtomicUsize::new(0));
    let seen = first.clone();
    let server = start(
        move |c: &Call| {
            if c.path == "users/first" && seen.fetch_add(1, Ordering::SeqCst) == 0 {
                return Reply::graph_error(429, "TooManyRequests", "Please retry again later.")
                    .header("Retry-After", "0.01");
            }
            Reply::empty(204).delay(Duration::from_millis(20))
        },
        token_counter(),
    )
    .await;
    let c = client(&server.url);
    let body = json!({"department": "Sales"});
    let burst = |c: GraphClient| async move {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..8 {
            let c = c.clone();
            tasks.spawn(async move {
                c.send(
                    Method::PATCH,
                    &format!("users/u{i}"),
                    Some(&json!({"city": "x"})),
                )
                .await
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap().unwrap();
        }
    };
    // Unthrottled writes run side by side.
    burst(c.clone()).await;
    assert!(server.max_in_flight.load(Ordering::SeqCst) > 1);
    // One 429 on a write, and the next writes queue.
    c.send(Method::PATCH, "users/first", Some(&body))
        .await
        .unwrap();
    assert_eq!(
        server.calls_to("users/first").len(),
        2,
        "retried after its Retry-After"
    );
    server.max_in_flight.store(0, Ordering::SeqCst);
    burst(c.clone()).await;
    assert_eq!(server.max_in_flight.load(Ordering::SeqCst), 1);
}

#[test]
fn permission_hints_come_from_the_kinds_data() {
    use super::least_privilege_permission as p;
    assert_eq!(p("GET", "users?$select=id"), "User.Read.All");
    assert_eq!(p("PATCH", "users/x"), "User.ReadWrite.All");
    assert_eq!(
        p("GET", "groups/g/members?$top=999"),
        "GroupMember.Read.All"
    );
    assert_eq!(
        p("POST", "groups/g/members/$ref"),
        "GroupMember.ReadWrite.All"
    );
    assert_eq!(p("DELETE", "groups/g/owners/u/$ref"), "Group.ReadWrite.All");
    assert_eq!(p("PATCH", "groups/g"), "Group.ReadWrite.All");
    assert_eq!(
        p("PATCH", "identity/conditionalAccess/policies/x"),
        "Policy.ReadWrite.ConditionalAccess (with Policy.Read.All)"
    );
    assert_eq!(
        p("PATCH", "policies/authorizationPolicy"),
        "Policy.ReadWrite.Authorization"
    );
    assert_eq!(
        p("GET", "directory/deletedItems/microsoft.graph.group"),
        "Group.Read.All"
    );
    assert_eq!(
        p("GET", "directory/deletedItems/microsoft.graph.user"),
        "User.Read.All"
    );
    assert_eq!(p("GET", "organization"), "Directory.Read.All");
    assert_eq!(
        p("POST", "directoryObjects/getAvailableExtensionProperties"),
        "Directory.Read.All",
        "a POST that only reads needs a read permission"
    );
}
