//! A user name and password in the Graph URL or the authority host: never shown, never sent to
//! Graph.

use super::*;
use crate::graph::settings::{redact_url, without_userinfo};

const PASSWORD: &str = "pw-in-the-url";

/// `http://user:PASSWORD@host:port` from `http://host:port`.
fn with_password(url: &str) -> String {
    url.replacen("://", &format!("://svc:{PASSWORD}@"), 1)
}

#[test]
fn userinfo_is_redacted_and_removed() {
    for (url, shown) in [
        (
            "https://user:s3cret@graph.example/v1.0?$top=1",
            "https://[redacted]@graph.example/v1.0?$top=1",
        ),
        ("http://user@127.0.0.1:9", "http://[redacted]@127.0.0.1:9"),
        // An @ in the path is no user name.
        (
            "https://graph.microsoft.com/v1.0/users/a@b.example",
            "https://graph.microsoft.com/v1.0/users/a@b.example",
        ),
        // No valid URL: everything up to the last @ goes.
        ("https://user:pa/ss@host", "https://[redacted]@host"),
        ("user:s3cret@host", "[redacted]@host"),
        ("https://graph.microsoft.com", "https://graph.microsoft.com"),
    ] {
        assert_eq!(redact_url(url), shown, "{url}");
    }
    assert_eq!(
        without_userinfo("https://user:s3cret@graph.example/root"),
        "https://graph.example/root"
    );
    assert_eq!(
        without_userinfo("https://graph.microsoft.com/v1.0/users/a@b.example"),
        "https://graph.microsoft.com/v1.0/users/a@b.example"
    );
}

#[test]
fn settings_and_config_errors_never_show_the_password() {
    let s = GraphSettings {
        authority_host: with_password("https://login.example"),
        ..settings(
            &with_password("https://graph.example"),
            Credential::ClientSecret(Secret::new(SECRET)),
        )
    };
    let text = format!("{s:?}");
    assert!(!text.contains(PASSWORD), "{text}");
    assert!(text.contains("https://[redacted]@graph.example"), "{text}");
    let c = GraphClient::new(s).unwrap();
    assert!(!format!("{c:?}").contains(PASSWORD));

    for (variable, value) in [
        ("TENANTGIT_GRAPH_URL", format!("ftp://svc:{PASSWORD}@host")),
        ("AZURE_AUTHORITY_HOST", format!("https://svc:{PASSWORD}@")),
    ] {
        let env = |name: &str| match name {
            "AZURE_CLIENT_SECRET" => Some(SECRET.to_string()),
            "AZURE_TENANT_ID" | "AZURE_CLIENT_ID" => Some("x".to_string()),
            n if n == variable => Some(value.clone()),
            _ => None,
        };
        let err = resolve_settings(&env, &GraphFileSettings::default()).unwrap_err();
        let all = format!("{err:?} {} {:?}", chain(&err), err.hint());
        assert!(all.contains(variable), "{all}");
        assert!(!all.contains(PASSWORD), "{all}");
    }
}

#[tokio::test]
async fn graph_gets_only_the_bearer_token() {
    let server = start(
        |_c: &Call| Reply::json(json!({"value": [{"id": "u1"}]})),
        token_counter(),
    )
    .await;
    let s = settings(
        &with_password(&server.url),
        Credential::ClientSecret(Secret::new(SECRET)),
    );
    let c = GraphClient::with_timing(s, fast()).unwrap();
    assert_eq!(c.get_all("users").await.unwrap().len(), 1);
    assert_eq!(
        c.batch_get_all(&["users".into()]).await.unwrap()[0].len(),
        1
    );
    let calls: Vec<Call> = server
        .calls()
        .into_iter()
        .filter(|c| c.path == "users")
        .collect();
    assert_eq!(calls.len(), 2);
    for call in calls {
        assert_eq!(call.headers["authorization"], "Bearer token-1");
    }
    // The token is asked for the Graph root, not for a URL with a password in it.
    let token = &server.calls_to("token")[0];
    assert_eq!(token.form["scope"], format!("{}/.default", server.url));
    assert!(!c.base_url().contains(PASSWORD));
}

#[tokio::test]
async fn unreachable_endpoints_are_named_without_the_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nowhere = format!("http://127.0.0.1:{port}");
    let server = start(
        |_c: &Call| Reply::json(json!({"value": []})),
        token_counter(),
    )
    .await;
    // Graph unreachable (a ready token, so no token request is needed).
    let c = GraphClient::with_timing(
        settings(&with_password(&nowhere), token_credential()),
        fast(),
    )
    .unwrap();
    let err = c.get("users").await.unwrap_err();
    // The authority unreachable, and an authority that keeps failing.
    let to = |authority: &str| GraphSettings {
        authority_host: with_password(authority),
        ..settings(&server.url, Credential::ClientSecret(Secret::new(SECRET)))
    };
    let no_token = GraphClient::with_timing(to(&nowhere), fast()).unwrap();
    let err2 = no_token.get("users").await.unwrap_err();
    let failing = start(
        |_c: &Call| Reply::json(json!({})),
        Arc::new(|_c: &Call| Reply::graph_error(503, "unavailable", "down")),
    )
    .await;
    let failing = GraphClient::with_timing(to(&failing.url), fast()).unwrap();
    let err3 = failing.get("users").await.unwrap_err();
    // Graph is asked without the user name and password, and named so.
    let all = format!("{err:?} {} {:?}", chain(&err), err.hint());
    assert!(!all.contains(PASSWORD), "{all}");
    assert!(
        all.contains(&format!("cannot reach {nowhere}/v1.0/users")),
        "{all}"
    );
    for err in [err2, err3] {
        let all = format!("{err:?} {} {:?}", chain(&err), err.hint());
        assert!(!all.contains(PASSWORD), "{all}");
        assert!(all.contains("[redacted]@127.0.0.1:"), "{all}");
    }
}
