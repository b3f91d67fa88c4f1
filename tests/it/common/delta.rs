//! Helpers for the delta query tests: follow a round page by page (optionally with `Prefer:
//! return=minimal`), merge what a round says about each object as a client must (an object may
//! come on several pages), and make the changes the rounds are to report.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};
use tenantgit::emulator::{DeltaConfig, EmulatorConfig};

use super::graph::*;

/// A round: every page's body, every item in order, the deltaLink that ends it.
pub struct Round {
    pub pages: Vec<Value>,
    pub items: Vec<Value>,
    pub delta_link: String,
}

impl Round {
    /// What the round says about each object, pages merged.
    pub fn merged(&self) -> BTreeMap<String, Value> {
        merge(&self.items)
    }

    /// The object with this id (pages merged).
    pub fn get(&self, id: &str) -> Option<Value> {
        self.merged().remove(id)
    }

    pub fn ids(&self) -> BTreeSet<String> {
        self.merged().into_keys().collect()
    }

    /// How many times an object came in the round.
    pub fn count(&self, id: &str) -> usize {
        self.items.iter().filter(|i| i["id"] == id).count()
    }
}

/// A config with small delta pages, so that a small tenant spans several.
pub fn small_pages(spec: &str, objects: usize, links: usize) -> EmulatorConfig {
    EmulatorConfig {
        delta: DeltaConfig {
            page_objects: objects,
            page_links: links,
            ..DeltaConfig::default()
        },
        ..config(Some(spec))
    }
}

/// A GET with an optional `Prefer` header.
pub async fn get_prefer(g: &Graph, path: &str, prefer: Option<&str>) -> Resp {
    let mut req = g.http.get(g.url(path)).bearer_auth(&g.token);
    if let Some(p) = prefer {
        req = req.header("Prefer", p);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        body,
    }
}

/// Follows a round from `start` (a delta path or a deltaLink) to its deltaLink.
pub async fn round_with(g: &Graph, start: &str, prefer: Option<&str>) -> Round {
    let mut pages = Vec::new();
    let mut items = Vec::new();
    let mut next = start.to_string();
    loop {
        let r = get_prefer(g, &next, prefer).await;
        assert_eq!(r.status, 200, "{next}: {}", r.body);
        items.extend(r.body["value"].as_array().expect("value").iter().cloned());
        let body = r.body.clone();
        pages.push(body);
        if let Some(n) = r.body["@odata.nextLink"].as_str() {
            assert!(r.body.get("@odata.deltaLink").is_none());
            next = n.to_string();
            continue;
        }
        let delta_link = r.body["@odata.deltaLink"]
            .as_str()
            .expect("the last page has a deltaLink")
            .to_string();
        assert!(pages.len() < 10_000, "a round ends");
        return Round {
            pages,
            items,
            delta_link,
        };
    }
}

pub async fn round(g: &Graph, start: &str) -> Round {
    round_with(g, start, None).await
}

pub async fn minimal_round(g: &Graph, start: &str) -> Round {
    round_with(g, start, Some("return=minimal")).await
}

/// Merges repeated objects: later properties win, `*@delta` arrays add up.
pub fn merge(items: &[Value]) -> BTreeMap<String, Value> {
    let mut out: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for it in items {
        let id = it["id"].as_str().expect("every item has an id").to_string();
        let acc = out.entry(id).or_default();
        for (k, v) in it.as_object().expect("items are objects") {
            match (k.ends_with("@delta"), acc.get_mut(k)) {
                (true, Some(Value::Array(a))) => a.extend(v.as_array().unwrap().iter().cloned()),
                _ => {
                    acc.insert(k.clone(), v.clone());
                }
            }
        }
    }
    out.into_iter()
        .map(|(k, v)| (k, Value::Object(v)))
        .collect()
}

/// The ids a `{name}@delta` array adds and removes.
pub fn link_ids(obj: &Value, name: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut added = BTreeSet::new();
    let mut removed = BTreeSet::new();
    for e in obj[format!("{name}@delta")]
        .as_array()
        .into_iter()
        .flatten()
    {
        let id = e["id"].as_str().expect("entries have ids").to_string();
        assert!(
            e["@odata.type"]
                .as_str()
                .is_some_and(|t| t.starts_with("#microsoft.graph.")),
            "{e}"
        );
        if e.get("@removed").is_some() {
            assert_eq!(e["@removed"], json!({"reason": "deleted"}), "{e}");
            removed.insert(id);
        } else {
            added.insert(id);
        }
    }
    (added, removed)
}

/// An object's keys other than the `*@delta` ones, sorted.
pub fn keys(obj: &Value) -> Vec<String> {
    let mut k: Vec<String> = obj
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| !k.ends_with("@delta"))
        .cloned()
        .collect();
    k.sort();
    k
}

/// A list item without its null properties (delta leaves never-set properties out).
pub fn without_nulls(v: &Value) -> Value {
    let mut m = v.as_object().unwrap().clone();
    m.retain(|_, v| !v.is_null());
    Value::Object(m)
}

pub async fn create_user(g: &Graph, nick: &str) -> String {
    let r = g
        .call(
            "POST",
            "users",
            Some(json!({
                "accountEnabled": true,
                "displayName": format!("User {nick}"),
                "mailNickname": nick,
                "userPrincipalName": format!("{nick}@contoso.example"),
                "passwordProfile": {"password": "x!Y12345abc"},
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

/// A security group (deleted for good) or a Microsoft 365 group (to the recycle bin).
pub async fn create_group(g: &Graph, nick: &str, unified: bool) -> String {
    let body = if unified {
        json!({"displayName": format!("Group {nick}"), "mailEnabled": true, "mailNickname": nick,
               "securityEnabled": false, "groupTypes": ["Unified"]})
    } else {
        json!({"displayName": format!("Group {nick}"), "mailEnabled": false, "mailNickname": nick,
               "securityEnabled": true})
    };
    let r = g.call("POST", "groups", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

pub async fn ok(g: &Graph, method: &str, path: &str, body: Option<Value>) {
    let r = g.call(method, path, body).await;
    assert!(
        (200..300).contains(&r.status),
        "{method} {path}: {} {}",
        r.status,
        r.body
    );
}

pub async fn add_ref(g: &Graph, owner: &str, link: &str, target: &str) {
    ok(
        g,
        "POST",
        &format!("{owner}/{link}/$ref"),
        Some(directory_object(target)),
    )
    .await;
}

/// Soft delete, then delete for good from the recycle bin.
pub async fn purge(g: &Graph, path: &str, id: &str) {
    ok(g, "DELETE", &format!("{path}/{id}"), None).await;
    ok(g, "DELETE", &format!("directory/deletedItems/{id}"), None).await;
}
