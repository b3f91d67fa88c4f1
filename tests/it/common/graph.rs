//! Microsoft Graph as an administrator (or a script) reaches the emulator: a token from the
//! emulator's token endpoint, then plain HTTP requests with reqwest. The one place that holds the
//! emulator's credentials, also for tests that drive tenantgit's own `GraphClient`.

use std::ops::Deref;

use reqwest::header::HeaderMap;
use serde_json::Value;
use tenantgit::emulator::{Emulator, EmulatorConfig, SyntheticSpec};
use tenantgit::graph::{Credential, GraphSettings, Secret};

/// The tenant, application and secret the emulator accepts.
pub const TENANT: &str = "contoso-test";
pub const CLIENT_ID: &str = "tenantgit-emulator";
pub const SECRET: &str = "emulator-secret";

/// One Graph answer: status, headers, and the body as JSON (`Null` when empty, a string when
/// not JSON).
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }
}

/// An emulator configuration with a synthetic tenant (`users=60,groups=12,…`), or an empty one.
pub fn config(spec: Option<&str>) -> EmulatorConfig {
    EmulatorConfig {
        synthetic: spec.map(|s| s.parse::<SyntheticSpec>().expect("valid spec")),
        ..EmulatorConfig::default()
    }
}

/// A client-credentials token from the emulator at `url`.
pub async fn token_for(http: &reqwest::Client, url: &str) -> String {
    let r: Value = http
        .post(format!("{url}/{TENANT}/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("token body");
    r["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

/// An administrator's session with the emulator at `base`: an HTTP client and a bearer token.
#[derive(Clone)]
pub struct Admin {
    pub base: String,
    pub http: reqwest::Client,
    pub token: String,
}

impl Admin {
    pub async fn connect(base: &str) -> Admin {
        let http = reqwest::Client::new();
        let token = token_for(&http, base).await;
        Admin {
            base: base.to_string(),
            http,
            token,
        }
    }

    /// `path` is below `/v1.0/` (e.g. `users?$top=5`) or an absolute nextLink.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}/v1.0/{}", self.base, path.trim_start_matches('/'))
        }
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let mut req = self
            .http
            .request(m, self.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call("GET", path, None).await
    }

    /// Follows nextLinks; returns every item and the number of pages.
    pub async fn get_all(&self, path: &str) -> (Vec<Value>, usize) {
        let mut items = Vec::new();
        let mut pages = 0;
        let mut next = Some(path.to_string());
        while let Some(p) = next {
            let r = self.get(&p).await;
            assert_eq!(r.status, 200, "{p}: {}", r.body);
            pages += 1;
            items.extend(r.body["value"].as_array().unwrap().iter().cloned());
            next = r.body["@odata.nextLink"].as_str().map(str::to_string);
        }
        (items, pages)
    }

    /// The ends of one link of one object: every page of a collection link, or the one end of a
    /// single-valued one (`manager`; none when Graph answers 404).
    pub async fn link_items(&self, path: &str, single: bool) -> Vec<Value> {
        if !single {
            return self.get_all(path).await.0;
        }
        let r = self.get(path).await;
        match r.status {
            200 => {
                // As a collection's items carry it: without the response's context URL.
                let mut item = r.body;
                if let Some(m) = item.as_object_mut() {
                    m.remove("@odata.context");
                }
                vec![item]
            }
            404 => Vec::new(),
            other => panic!("{path}: {other} {}", r.body),
        }
    }

    /// Ids of a collection (every page).
    pub async fn ids(&self, path: &str) -> Vec<String> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let (items, _) = self
            .get_all(&format!("{path}{sep}$select=id&$top=999"))
            .await;
        items
            .iter()
            .map(|v| v["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// Changes a user's properties the way a change reaches a hybrid tenant: for a user synced
    /// from Active Directory (most of the generated ones) through the emulator's Entra Connect
    /// (`POST /_emulator/sync`), because Graph refuses to write its on-premises-mastered
    /// attributes; for a cloud-only user through a Graph PATCH. Panics when it fails.
    pub async fn change_user(&self, id: &str, props: Value) {
        let user = self
            .get(&format!("users/{id}?$select=onPremisesSyncEnabled"))
            .await;
        assert_eq!(user.status, 200, "{}", user.body);
        if user.body["onPremisesSyncEnabled"] == true {
            let resp = self
                .http
                .post(format!("{}/_emulator/sync", self.base))
                .json(&serde_json::json!({"changes": [{"id": id, "set": props}]}))
                .send()
                .await
                .expect("sync request");
            let status = resp.status().as_u16();
            assert_eq!(status, 200, "{}", resp.text().await.unwrap_or_default());
        } else {
            let r = self
                .call("PATCH", &format!("users/{id}"), Some(props))
                .await;
            assert_eq!(r.status, 204, "{}", r.body);
        }
    }
}

/// An in-process emulator and an administrator's session with it: what the emulator's own
/// tests start from. Derefs to the session (`g.call(…)`, `g.token`).
pub struct Graph {
    pub emu: Emulator,
    pub admin: Admin,
}

impl Graph {
    pub async fn start(config: EmulatorConfig) -> Graph {
        let emu = Emulator::start(config).expect("emulator starts");
        let admin = Admin::connect(&emu.url()).await;
        Graph { emu, admin }
    }
}

impl Deref for Graph {
    type Target = Admin;

    fn deref(&self) -> &Admin {
        &self.admin
    }
}

pub fn directory_object(id: &str) -> Value {
    serde_json::json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}")})
}

/// Settings for tenantgit's own `GraphClient` against the emulator at `url` (concurrency 8,
/// 3 retries; adjust the fields a test cares about).
pub fn client_settings(url: &str) -> GraphSettings {
    GraphSettings {
        graph_url: url.to_string(),
        authority_host: url.to_string(),
        tenant_id: TENANT.into(),
        client_id: CLIENT_ID.into(),
        credential: Credential::ClientSecret(Secret::new(SECRET)),
        concurrency: 8,
        max_retries: 3,
    }
}

/// Ids of cloud-only members (neither synced from AD nor guests): the users an administrator
/// can change through Graph. The generated tenant syncs most users from AD.
pub async fn cloud_members(g: &Graph) -> Vec<String> {
    let (users, _) = g
        .get_all("users?$select=id,userType,onPremisesSyncEnabled&$top=999")
        .await;
    users
        .iter()
        .filter(|u| u["onPremisesSyncEnabled"] != true && u["userType"] != "Guest")
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect()
}

/// Creates a cloud security group with these owners and members; returns its id.
pub async fn cloud_group(g: &Graph, name: &str, owners: &[String], members: &[String]) -> String {
    let bind = |ids: &[String]| -> Vec<Value> {
        ids.iter()
            .map(|id| {
                Value::String(format!(
                    "https://graph.microsoft.com/v1.0/directoryObjects/{id}"
                ))
            })
            .collect()
    };
    let nick: String = name.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let mut body = serde_json::json!({"displayName": name, "mailEnabled": false, "mailNickname": nick,
        "securityEnabled": true, "owners@odata.bind": bind(owners)});
    if !members.is_empty() {
        body["members@odata.bind"] = Value::Array(bind(members));
    }
    let r = g.call("POST", "groups", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}
