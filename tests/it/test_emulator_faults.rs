//! Throttling, fault injection and counters of the Graph emulator.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tenantgit::emulator::{EmulatorConfig, FaultAction, FaultRule, SyntheticSpec};

use crate::common::graph::*;

fn small() -> EmulatorConfig {
    config(Some("users=30,groups=14,members=4,apps=2,policies=2"))
}

#[tokio::test]
async fn read_throttle_answers_429_with_fractional_retry_after() {
    let g = Graph::start(EmulatorConfig {
        read_throttle: Some(10),
        ..small()
    })
    .await;
    // GET users costs 2 units: five fit in a bucket of 10, the sixth does not.
    for _ in 0..5 {
        assert_eq!(g.get("users").await.status, 200);
    }
    let r = g.get("users").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.code(), "TooManyRequests");
    let retry: f64 = r.header("Retry-After").unwrap().parse().unwrap();
    assert!(retry > 0.0 && retry <= 2.0, "{retry}");
    assert!(
        r.header("Retry-After").unwrap().contains('.'),
        "fractional: {:?}",
        r.header("Retry-After")
    );
    assert_eq!(
        r.header("x-ms-throttle-information"),
        Some("ResourceUnitLimitExceeded")
    );
    assert!(r
        .header("x-ms-throttle-scope")
        .unwrap()
        .starts_with("Tenant_Application/ReadWrite/tenantgit-emulator/"));
    tokio::time::sleep(Duration::from_secs_f64(retry + 0.05)).await;
    assert_eq!(
        g.get("users").await.status,
        200,
        "waiting Retry-After is enough"
    );
    assert_eq!(g.emu.stats().throttled, 1);

    // Batch items are throttled one by one, each with its own Retry-After.
    let g = Graph::start(EmulatorConfig {
        read_throttle: Some(5),
        ..small()
    })
    .await;
    let requests: Vec<Value> = (0..8)
        .map(|i| json!({"id": format!("{i}"), "method": "GET", "url": "/users?$select=id"}))
        .collect();
    let r = g
        .call("POST", "$batch", Some(json!({"requests": requests})))
        .await;
    assert_eq!(r.status, 200);
    let items = r.body["responses"].as_array().unwrap();
    let throttled: Vec<&Value> = items.iter().filter(|i| i["status"] == 429).collect();
    assert_eq!(throttled.len(), 3, "5 units for 8 items of 1 unit");
    for t in throttled {
        let ra: f64 = t["headers"]["Retry-After"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(ra > 0.0);
    }
}

#[tokio::test]
async fn write_throttle_counts_writes_only() {
    let g = Graph::start(EmulatorConfig {
        write_throttle: Some(2),
        ..small()
    })
    .await;
    // A cloud-only user (a synced one's profile is mastered in AD).
    let uid = cloud_members(&g).await[0].clone();
    for _ in 0..2 {
        assert_eq!(
            g.call(
                "PATCH",
                &format!("users/{uid}"),
                Some(json!({"jobTitle": "x"}))
            )
            .await
            .status,
            204
        );
    }
    let r = g
        .call(
            "PATCH",
            &format!("users/{uid}"),
            Some(json!({"jobTitle": "y"})),
        )
        .await;
    assert_eq!(r.status, 429);
    assert_eq!(
        r.header("x-ms-throttle-information"),
        Some("WriteLimitExceeded")
    );
    let retry: f64 = r.header("Retry-After").unwrap().parse().unwrap();
    assert!(
        retry > 10.0 && retry <= 75.0,
        "a write every 75 s refills: {retry}"
    );
    assert_eq!(
        g.get(&format!("users/{uid}")).await.status,
        200,
        "reads are not write-limited"
    );
    assert_eq!(g.emu.stats().writes, 3);
}

#[tokio::test]
async fn status_throttle_and_latency_faults_with_after_and_times() {
    let mut rule = FaultRule::new(
        Some("GET"),
        Some("/groups"),
        FaultAction::Status {
            status: 503,
            retry_after: Some(0.25),
        },
    );
    rule.after = 1;
    rule.times = Some(2);
    let g = Graph::start(EmulatorConfig {
        faults: vec![rule],
        ..small()
    })
    .await;
    let statuses = [
        g.get("groups").await,
        g.get("groups").await,
        g.get("groups").await,
        g.get("groups").await,
    ];
    assert_eq!(
        statuses.iter().map(|r| r.status).collect::<Vec<_>>(),
        [200, 503, 503, 200]
    );
    assert_eq!(statuses[1].code(), "serviceNotAvailable");
    assert_eq!(statuses[1].header("Retry-After"), Some("0.25"));
    assert!(statuses[1].body["error"]["innerError"]["request-id"].is_string());
    assert_eq!(g.get("users").await.status, 200, "other paths unaffected");
    let s = g.emu.stats();
    assert_eq!((s.faulted, s.requests), (2, 5));

    // Replace rules at run time through the control endpoint.
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/_emulator/faults", g.emu.url()))
        .json(
            &json!([{"path": "/users", "action": {"type": "throttle", "retryAfter": 0.5}},
                      {"path": "/applications", "action": {"type": "latency", "ms": 300}}]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let r = g.get("users").await;
    assert_eq!((r.status, r.header("Retry-After")), (429, Some("0.5")));
    assert_eq!(g.get("groups").await.status, 200, "old rules are gone");
    let t = Instant::now();
    assert_eq!(g.get("applications").await.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    // Status faults apply to batch items whose URL matches.
    let r = g.call("POST", "$batch", Some(json!({"requests": [{"id": "1", "method": "GET", "url": "/users"}, {"id": "2", "method": "GET", "url": "/groups"}]}))).await;
    let items = r.body["responses"].as_array().unwrap();
    let status = |id: &str| {
        items.iter().find(|i| i["id"] == id).unwrap()["status"]
            .as_u64()
            .unwrap()
    };
    assert_eq!((status("1"), status("2")), (429, 200));
    let r = http
        .delete(format!("{}/_emulator/faults", g.emu.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(g.get("users").await.status, 200);
    let bad = http
        .post(format!("{}/_emulator/faults", g.emu.url()))
        .json(&json!([{"action": {"type": "explode"}}]))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
}

#[tokio::test]
async fn broken_bodies_and_dropped_connections() {
    let g = Graph::start(small()).await;
    g.emu.set_faults(vec![FaultRule::new(
        None,
        Some("/users"),
        FaultAction::TruncatedBody,
    )]);
    let r = g
        .http
        .get(g.url("users"))
        .bearer_auth(&g.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        200,
        "the status line and headers arrive"
    );
    assert!(r.bytes().await.is_err(), "the body is cut off");
    g.emu.set_faults(vec![FaultRule::new(
        None,
        Some("/users"),
        FaultAction::NonJson { status: None },
    )]);
    let r = g
        .http
        .get(g.url("users"))
        .bearer_auth(&g.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(r.text().await.unwrap().starts_with("<html>"));
    g.emu.set_faults(vec![FaultRule::new(
        None,
        Some("/users"),
        FaultAction::DropConnection,
    )]);
    let r = g
        .http
        .get(g.url("users"))
        .bearer_auth(&g.token)
        .send()
        .await;
    let failed = match r {
        Err(_) => true,
        Ok(resp) => resp.bytes().await.is_err(),
    };
    assert!(failed, "a dropped connection is an error for the client");
    g.emu.set_faults(Vec::new());
    assert_eq!(g.get("users").await.status, 200, "the server survives");
    assert_eq!(g.emu.stats().faulted, 3);
}

#[tokio::test]
async fn probability_faults_repeat_with_the_seed() {
    let run = || async {
        let mut rule = FaultRule::new(
            None,
            None,
            FaultAction::Status {
                status: 500,
                retry_after: None,
            },
        );
        rule.probability = Some(0.5);
        rule.seed = 42;
        let g = Graph::start(EmulatorConfig {
            faults: vec![rule],
            ..small()
        })
        .await;
        let mut out = Vec::new();
        for _ in 0..30 {
            out.push(g.get("users?$top=1").await.status);
        }
        out
    };
    let a = run().await;
    assert_eq!(a, run().await);
    let failures = a.iter().filter(|s| **s == 500).count();
    assert!(failures > 5 && failures < 25, "{failures}");
}

#[tokio::test]
async fn stats_endpoint_matches_and_resets() {
    let g = Graph::start(small()).await;
    g.get("users").await;
    g.call(
        "PATCH",
        "policies/authorizationPolicy",
        Some(json!({"blockMsolPowerShell": true})),
    )
    .await;
    let http = reqwest::Client::new();
    let s: Value = http
        .get(format!("{}/_emulator/stats", g.emu.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (s["requests"].as_u64(), s["writes"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(s, serde_json::to_value(g.emu.stats()).unwrap());
    let r = http
        .post(format!("{}/_emulator/stats/reset", g.emu.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(g.emu.stats().requests, 0);
    assert!("users=1,bogus=2".parse::<SyntheticSpec>().is_err());
}

/// Spends Graph's read quota through `$batch` (20 × `transitiveMembers` at 5 resource units = 100
/// units a batch) until an item is answered 429; the batches sent before that, or `None` when
/// `max` batches went through.
async fn batches_until_throttled(url: &str, token: &str, max: usize) -> Option<usize> {
    let http = reqwest::Client::new();
    let requests: Vec<Value> = (0..20)
        .map(|i| {
            json!({"id": i.to_string(), "method": "GET",
            "url": "/groups/00000000-0000-0000-0000-000000000001/transitiveMembers"})
        })
        .collect();
    for sent in 0..max {
        let r: Value = http
            .post(format!("{url}/v1.0/$batch"))
            .bearer_auth(token)
            .json(&json!({ "requests": requests }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let items = r["responses"].as_array().expect("a batch answer");
        if let Some(t) = items.iter().find(|i| i["status"] == 429) {
            assert!(t["headers"]["Retry-After"].is_string(), "{t}");
            return Some(sent);
        }
    }
    None
}

#[tokio::test]
async fn the_read_throttle_is_on_by_default_at_graphs_large_tenant_quota() {
    assert_eq!(EmulatorConfig::default().read_throttle, Some(8000));
    let g = Graph::start(small()).await;
    // 8,000 units go through at once, refilling at 800 a second: the 81st batch at the earliest,
    // and long before 150 batches, is throttled.
    let sent = batches_until_throttled(&g.emu.url(), &g.token, 150).await;
    assert!(sent.is_some_and(|n| n >= 80), "{sent:?}");
}

/// `tenantgit emulator serve ARGS`, killed when dropped.
struct Served(std::process::Child, String);

impl Served {
    fn start(args: &[&str]) -> Served {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tenantgit"))
            .args(["-q", "emulator", "serve", "--synthetic", "users=5,groups=2"])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the emulator starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("the listening line");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("{line:?}"))
            .to_string();
        Served(child, url)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn emulator_serve_throttles_reads_unless_told_not_to() {
    let on = Served::start(&[]);
    let token = token_for(&reqwest::Client::new(), &on.1).await;
    let sent = batches_until_throttled(&on.1, &token, 150).await;
    assert!(sent.is_some_and(|n| n >= 80), "{sent:?}");

    let off = Served::start(&["--read-throttle", "0"]);
    let token = token_for(&reqwest::Client::new(), &off.1).await;
    assert_eq!(batches_until_throttled(&off.1, &token, 150).await, None);

    let help = std::process::Command::new(env!("CARGO_BIN_EXE_tenantgit"))
        .args(["emulator", "serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("--read-throttle") && help.contains("0 = off") && help.contains("8000"),
        "{help}"
    );
}
