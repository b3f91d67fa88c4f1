//! Delta tokens and query options in the Graph emulator, over HTTP: opaque tokens tied to their
//! collection, tampering, expiry (by age and forced), `$deltatoken=latest`, the options delta
//! refuses, and resource units.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::delta::*;
use crate::common::graph::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;
use tenantgit::emulator::{DeltaConfig, EmulatorConfig};

const SPEC: &str = "users=30,groups=6,members=4,apps=2,policies=1";

fn token_of(link: &str) -> &str {
    link.split_once("token=").expect("a token").1
}

#[tokio::test]
async fn tokens_are_opaque_and_refused_when_tampered_or_for_another_collection() {
    let g = Graph::start(small_pages(SPEC, 10, 100)).await;
    let first = g.get("users/delta?$select=displayName,jobTitle").await;
    let next = first.body["@odata.nextLink"].as_str().unwrap().to_string();
    let r = round(&g, "users/delta?$select=displayName,jobTitle").await;
    for link in [&next, &r.delta_link] {
        let raw = URL_SAFE_NO_PAD.decode(token_of(link)).expect("base64url");
        let text = String::from_utf8_lossy(&raw);
        assert!(
            !text.contains("displayName") && !text.contains("users"),
            "{text}"
        );
    }
    // A character changed anywhere: not a token this emulator issued.
    let tok = token_of(&r.delta_link).to_string();
    let mut bytes = tok.clone().into_bytes();
    bytes[tok.len() / 2] = if bytes[tok.len() / 2] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let tampered = String::from_utf8(bytes).unwrap();
    // In the signature only: the state itself reads as before, the seal no longer fits.
    let mut bytes = tok.clone().into_bytes();
    let at = tok.len() - 5;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    let resigned = String::from_utf8(bytes).unwrap();
    for bad in [
        format!("users/delta?$deltatoken={tampered}"),
        format!("users/delta?$deltatoken={resigned}"),
        "users/delta?$deltatoken=garbage".to_string(),
        "users/delta?$skiptoken=garbage".to_string(),
        // A deltaLink's token is no skiptoken, a nextLink's no deltatoken.
        format!("users/delta?$skiptoken={tok}"),
        format!("users/delta?$deltatoken={}", token_of(&next)),
        // Another collection's token.
        format!("groups/delta?$deltatoken={tok}"),
        format!("applications/delta?$skiptoken={}", token_of(&next)),
    ] {
        let resp = g.get(&bad).await;
        assert_eq!(resp.status, 400, "{bad}: {}", resp.body);
        assert_eq!(resp.code(), "Request_BadRequest", "{bad}");
        assert!(
            resp.message().starts_with("Invalid $"),
            "{}",
            resp.message()
        );
    }
    // Another emulator's tokens are not this one's.
    let other = Graph::start(config(Some(SPEC))).await;
    assert_eq!(
        other
            .get(&format!("users/delta?$deltatoken={tok}"))
            .await
            .status,
        400
    );
    // The untouched token still works.
    assert_eq!(g.get(&r.delta_link).await.status, 200);
}

#[tokio::test]
async fn forced_expiry_answers_graphs_resync_and_the_location_starts_over() {
    let g = Graph::start(small_pages(SPEC, 10, 100)).await;
    let first = g.get("users/delta?$select=displayName,jobTitle").await;
    let next = first.body["@odata.nextLink"].as_str().unwrap().to_string();
    let r = round(&g, "users/delta?$select=displayName,jobTitle").await;
    let resp = g
        .http
        .post(format!("{}/_emulator/delta/expire", g.emu.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    for link in [&r.delta_link, &next] {
        let gone = g.get(link).await;
        assert_eq!(gone.status, 410, "{}", gone.body);
        assert_eq!(gone.code(), "syncStateNotFound");
        assert!(gone.message().contains("expired"), "{}", gone.message());
        let location = gone.header("Location").unwrap().to_string();
        assert!(
            location.starts_with(&format!("{}/v1.0/users/delta?", g.emu.url())),
            "{location}"
        );
        assert!(!location.contains("token"), "{location}");
        // The Location is the initial request: a full round with the same selection.
        let again = round(&g, &location).await;
        assert_eq!(again.items.len(), 30);
        assert!(again.pages[0]["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("users(displayName,jobTitle)"));
        assert!(again.items.iter().all(|u| keys(u).iter().all(|k| [
            "id",
            "displayName",
            "jobTitle"
        ]
        .contains(&k.as_str()))));
    }
    // Tokens issued after the expiry work; the in-process handle expires them too.
    let fresh = round(&g, "groups/delta").await;
    assert_eq!(g.get(&fresh.delta_link).await.status, 200);
    g.emu.expire_delta_tokens();
    assert_eq!(g.get(&fresh.delta_link).await.status, 410);
}

#[tokio::test]
async fn tokens_older_than_the_lifetime_expire() {
    let g = Graph::start(EmulatorConfig {
        delta: DeltaConfig {
            token_lifetime: Duration::from_millis(300),
            ..DeltaConfig::default()
        },
        ..config(Some(SPEC))
    })
    .await;
    let r = round(&g, "groups/delta").await;
    assert_eq!(g.get(&r.delta_link).await.status, 200);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let gone = g.get(&r.delta_link).await;
    assert_eq!(gone.status, 410);
    assert_eq!(gone.code(), "syncStateNotFound");
    assert_eq!(
        gone.header("Location"),
        Some(format!("{}/v1.0/groups/delta", g.emu.url()).as_str())
    );
    // The default lifetime is Graph's seven days.
    assert_eq!(
        DeltaConfig::default().token_lifetime,
        Duration::from_secs(7 * 24 * 3600)
    );
}

#[tokio::test]
async fn deltatoken_latest_syncs_from_now() {
    let g = Graph::start(config(Some(SPEC))).await;
    let r = g
        .get("users/delta?$select=displayName&$deltatoken=latest")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["value"], json!([]));
    assert!(r.body.get("@odata.nextLink").is_none());
    let link = r.body["@odata.deltaLink"].as_str().unwrap().to_string();
    assert_eq!(g.get(&link).await.body["value"], json!([]));
    let u = create_user(&g, "latest").await;
    let later = round(&g, &link).await;
    assert_eq!(later.ids(), BTreeSet::from([u.clone()]));
    assert_eq!(
        keys(&later.get(&u).unwrap()),
        ["displayName", "id"],
        "the selection holds"
    );
}

#[tokio::test]
async fn options_delta_does_not_take_answer_as_graph_does() {
    let g = Graph::start(small_pages(SPEC, 5, 100)).await;
    for (path, status, code) in [
        ("users/delta?$top=5", 400, "Request_UnsupportedQuery"),
        (
            "users/delta?$orderby=displayName",
            400,
            "Request_UnsupportedQuery",
        ),
        (
            "users/delta?$expand=manager",
            400,
            "Request_UnsupportedQuery",
        ),
        (
            "groups/delta?$expand=owners",
            400,
            "Request_UnsupportedQuery",
        ),
        (
            "users/delta?$filter=department%20eq%20'Sales'",
            400,
            "Request_UnsupportedQuery",
        ),
        ("users/delta?$select=nosuch", 400, "Request_BadRequest"),
        // Exchange-backed group properties are not tracked (stored outside the directory).
        (
            "groups/delta?$select=allowExternalSenders",
            501,
            "NotImplemented",
        ),
    ] {
        let r = g.get(path).await;
        assert_eq!((r.status, r.code()), (status, code), "{path}: {}", r.body);
    }
    let r = g.get("users/delta?$filter=department%20eq%20'Sales'").await;
    assert_eq!(
        r.message(),
        "Unsupported or invalid query filter clause specified for property 'department' of resource 'User'."
    );
    let many: Vec<String> = (0..51).map(|i| format!("id%20eq%20'{i}'")).collect();
    let r = g
        .get(&format!("users/delta?$filter={}", many.join("%20or%20")))
        .await;
    assert_eq!(r.status, 400, "at most 50 ids");
    // Options go with the first request only: with a token they are refused.
    let first = g.get("users/delta?$select=displayName").await;
    let next = first.body["@odata.nextLink"].as_str().unwrap();
    let r = g.get(&format!("{next}&$select=jobTitle")).await;
    assert_eq!(r.status, 400, "$select with $skiptoken");
    let done = round(&g, "users/delta?$select=displayName").await;
    let r = g.get(&format!("{}&$top=2", done.delta_link)).await;
    assert_eq!(r.status, 400, "$top with $deltatoken");
    // `$select` with a deltaLink changes what is tracked from then on.
    let ids = g.ids("users").await;
    g.change_user(&ids[0], json!({"jobTitle": "Reselected"}))
        .await;
    let r = round(&g, &format!("{}&$select=jobTitle", done.delta_link)).await;
    assert_eq!(
        r.get(&ids[0]).unwrap(),
        json!({"id": ids[0], "jobTitle": "Reselected"})
    );
    // `$expand=members` of older docs tracks members; the fully qualified name works too.
    let r = round(
        &g,
        "groups/microsoft.graph.delta?$select=displayName&$expand=members",
    )
    .await;
    assert!(r.items.iter().any(|i| i.get("members@delta").is_some()));
    assert!(r
        .delta_link
        .contains("/groups/microsoft.graph.delta?$deltatoken="));
    // Only GET.
    assert_eq!(
        g.call("POST", "users/delta", Some(json!({}))).await.status,
        405
    );
}

#[tokio::test]
async fn delta_requests_cost_resource_units_and_are_throttled() {
    let g = Graph::start(EmulatorConfig {
        read_throttle: Some(12),
        ..small_pages(SPEC, 5, 100)
    })
    .await;
    // users/delta is "any other GET" in Graph's table: one unit (GRAPH.md B.5).
    let r = g.get("users/delta").await;
    assert_eq!(r.header("x-ms-resource-unit"), Some("1"));
    let next = r.body["@odata.nextLink"].as_str().unwrap().to_string();
    let mut throttled = None;
    for _ in 0..30 {
        let r = g.get(&next).await;
        if r.status == 429 {
            throttled = Some(r);
            break;
        }
        assert_eq!(r.header("x-ms-resource-unit"), Some("1"));
    }
    let t = throttled.expect("a delta round meets the read throttle");
    assert!(t.header("Retry-After").is_some());
    assert_eq!(t.code(), "TooManyRequests");
}

#[tokio::test]
async fn stats_add_up_the_resource_units_of_admitted_reads() {
    let g = Graph::start(EmulatorConfig {
        read_throttle: Some(1000),
        ..small_pages(SPEC, 5, 100)
    })
    .await;
    g.emu.reset_stats();
    let mut units = 0;
    for path in ["users?$select=id", "users", "users/delta", "groups?$top=5"] {
        let r = g.get(path).await;
        assert_eq!(r.status, 200, "{path}");
        units += r
            .header("x-ms-resource-unit")
            .unwrap()
            .parse::<u64>()
            .unwrap();
    }
    // A write costs a write, not read units.
    let user = g.get("users?$top=1&$select=id").await.body["value"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    units += 1;
    let r = g
        .call(
            "PATCH",
            &format!("users/{user}"),
            Some(json!({"usageLocation": "NO"})),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(units, 1 + 2 + 1 + 1 + 1);
    assert_eq!(g.emu.stats().read_units, units);
    // The same reads by route, ids masked; the write is not among them.
    let routes: Vec<(String, u64, u64)> = g
        .emu
        .reads_by_route()
        .into_iter()
        .map(|(route, r)| (route, r.requests, r.units))
        .collect();
    let want = [
        ("GET /groups", 1, 1),
        ("GET /users", 3, 4),
        ("GET /users/delta", 1, 1),
    ];
    assert_eq!(
        routes,
        want.map(|(r, n, u)| (r.to_string(), n, u)),
        "the first-user lookup is a GET /users too"
    );
}
