//! Token endpoint and bearer-token checks of the Graph emulator.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use tenantgit::emulator::EmulatorConfig;

use crate::common::graph::*;

async fn token_request(g: &Graph, form: &[(&str, &str)]) -> (u16, Value) {
    let r = g
        .http
        .post(format!("{}/any-tenant/oauth2/v2.0/token", g.emu.url()))
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn jwt(claims: Value) -> String {
    let part = |v: Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).unwrap());
    format!(
        "{}.{}.{}",
        part(json!({"alg": "PS256", "typ": "JWT"})),
        part(claims),
        URL_SAFE_NO_PAD.encode(b"not-verified")
    )
}

#[tokio::test]
async fn token_endpoint_success_and_failures() {
    let g = Graph::start(EmulatorConfig::default()).await;
    let scope = "https://graph.microsoft.com/.default";
    let (status, body) = token_request(
        &g,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "tenantgit-emulator"),
            ("client_secret", "emulator-secret"),
            ("scope", scope),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert!(body["access_token"].as_str().unwrap().len() > 30);

    let (status, body) = token_request(
        &g,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "someone-else"),
            ("client_secret", "emulator-secret"),
            ("scope", scope),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "unauthorized_client");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("AADSTS700016:"));
    assert_eq!(body["error_codes"], json!([700016]));
    for k in ["timestamp", "trace_id", "correlation_id"] {
        assert!(body[k].is_string(), "{k} missing: {body}");
    }

    let (status, body) = token_request(
        &g,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "tenantgit-emulator"),
            ("client_secret", "wrong"),
            ("scope", scope),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (401, "invalid_client")
    );
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("AADSTS7000215"));

    let (status, body) = token_request(
        &g,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "tenantgit-emulator"),
            ("client_secret", "emulator-secret"),
            ("scope", "User.Read"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (400, "invalid_scope")
    );

    // Client assertion: shape and claims are checked, the signature is not.
    let now = chrono::Utc::now().timestamp();
    let aud = format!("{}/any-tenant/oauth2/v2.0/token", g.emu.url());
    let good = jwt(
        json!({"iss": "tenantgit-emulator", "sub": "tenantgit-emulator", "aud": aud, "exp": now + 600, "nbf": now, "jti": "x"}),
    );
    let assertion = |a: &str| {
        vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", "tenantgit-emulator".to_string()),
            ("scope", scope.to_string()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string(),
            ),
            ("client_assertion", a.to_string()),
        ]
    };
    let send = |form: Vec<(&'static str, String)>| {
        let http = g.http.clone();
        let url = format!("{}/any-tenant/oauth2/v2.0/token", g.emu.url());
        async move {
            let r = http.post(url).form(&form).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = send(assertion(&good)).await;
    assert_eq!(status, 200, "{body}");
    let expired = jwt(
        json!({"iss": "tenantgit-emulator", "sub": "tenantgit-emulator", "aud": aud, "exp": now - 10}),
    );
    let (status, body) = send(assertion(&expired)).await;
    assert_eq!(status, 401);
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("AADSTS700024"));
    let wrong_iss =
        jwt(json!({"iss": "other", "sub": "tenantgit-emulator", "aud": aud, "exp": now + 600}));
    assert_eq!(send(assertion(&wrong_iss)).await.0, 401);
    let wrong_aud = jwt(
        json!({"iss": "tenantgit-emulator", "sub": "tenantgit-emulator", "aud": "api://AzureADTokenExchange", "exp": now + 600}),
    );
    assert_eq!(send(assertion(&wrong_aud)).await.0, 401);
    assert_eq!(send(assertion("two.parts")).await.0, 401);
    assert_eq!(
        g.emu.stats().tokens,
        3,
        "only successful token requests count"
    );
}

#[tokio::test]
async fn graph_calls_need_a_valid_unexpired_token() {
    let g = Graph::start(EmulatorConfig {
        token_lifetime: Duration::from_millis(300),
        ..EmulatorConfig::default()
    })
    .await;
    let r = g.http.get(g.url("users")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().get("request-id").is_some());
    assert!(r.headers().get("client-request-id").is_some());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    assert_eq!(body["error"]["message"], "Access token is empty.");
    assert!(body["error"]["innerError"]["request-id"].is_string());

    let r = g
        .http
        .get(g.url("users"))
        .bearer_auth("made-up")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);

    // The client-request-id a caller sends comes back.
    let r = g
        .http
        .get(g.url("users"))
        .bearer_auth(&g.token)
        .header("client-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["client-request-id"], "abc-123");

    tokio::time::sleep(Duration::from_millis(400)).await;
    let r = g.get("users").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.message(), "Access token has expired or is not yet valid.");
}

#[tokio::test]
async fn access_tokens_are_jwts_naming_the_tenant_and_the_client() {
    let tenant = "5b1e3c2a-0d4f-4e6a-9b8c-7d6e5f4a3b2c";
    let g = Graph::start(EmulatorConfig {
        tenant_id: tenant.into(),
        ..EmulatorConfig::default()
    })
    .await;
    let (status, body) = token_request(
        &g,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "tenantgit-emulator"),
            ("client_secret", "emulator-secret"),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let token = body["access_token"].as_str().unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "header.payload.signature");
    let decode = |p: &str| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).expect("base64url")).expect("JSON")
    };
    let header = decode(parts[0]);
    assert_eq!(header["typ"], "JWT");
    let claims = decode(parts[1]);
    assert_eq!(
        claims["tid"], tenant,
        "a client learns its tenant from its token"
    );
    assert_eq!(claims["appid"], "tenantgit-emulator");
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    assert_eq!(claims["iss"], format!("https://sts.windows.net/{tenant}/"));
    assert_eq!(claims["idtyp"], "app");
    let now = chrono::Utc::now().timestamp();
    let exp = claims["exp"].as_i64().unwrap();
    assert!((now + 3500..=now + 3600).contains(&exp), "{exp} vs {now}");
    assert!(!URL_SAFE_NO_PAD.decode(parts[2]).unwrap().is_empty());
    // The token is what Graph calls take; a second one differs.
    let r = g
        .http
        .get(format!("{}/v1.0/users", g.emu.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_ne!(token_for(&g.http, &g.emu.url()).await, token);
}
