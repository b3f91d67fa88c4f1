//! Restore throughput against the emulator (an ignored test, never a timed assertion):
//!
//! ```text
//! TENANTGIT_BENCH_USERS=100000 cargo test --release --test it bench_apply -- --ignored --nocapture
//! ```
//!
//! A synthetic tenant (default 20,000 users; the variable sets another size) is read; the
//! desired side is that tenant with 500 users changed in 5 attributes each and each of them
//! back in two groups it is not in, the seed scenario of a department wiped by a bulk script.
//! Prints plan and execution times, Graph requests and writes, and the lower bound Graph's write
//! throttle (3,000 writes per 150 s per app and tenant) allows for that many writes.

use std::time::{Duration, Instant};

use serde_json::json;
use tenantgit::apply::{self, ApplyOptions};
use tenantgit::emulator::{Emulator, EmulatorConfig, SyntheticSpec};
use tenantgit::graph::{GraphClient, GraphSettings, RetryTiming};
use tenantgit::model::{LinkRef, ObjectKey};
use tenantgit::plan::{self, PlanInput};
use tenantgit::read::{self, NoProgress};
use tenantgit::schema;

use crate::common::graph::client_settings;

const RESTORED_USERS: usize = 500;
const WRITES_PER_WINDOW: f64 = 3000.0;
const WINDOW_SECONDS: f64 = 150.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn restore_500_users() {
    let users: usize = std::env::var("TENANTGIT_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let spec: SyntheticSpec = format!(
        "users={users},groups={},members=50,apps=50,policies=30",
        users / 5
    )
    .parse()
    .expect("spec");
    let emu = Emulator::start(EmulatorConfig {
        synthetic: Some(spec),
        ..EmulatorConfig::default()
    })
    .expect("emulator");
    let client = GraphClient::with_timing(
        GraphSettings {
            max_retries: 8,
            ..client_settings(&emu.url())
        },
        RetryTiming {
            retry_after_max: Duration::from_secs(150),
            ..RetryTiming::default()
        },
    )
    .expect("client");
    let kinds = vec![
        schema::kind("users").expect("users"),
        schema::kind("groups").expect("groups"),
    ];
    let started = Instant::now();
    let live = read::read_tenant(&client, &kinds, &NoProgress)
        .await
        .expect("read");
    let read_seconds = started.elapsed().as_secs_f64();

    let mut desired = live.clone();
    let user_ids: Vec<String> = live
        .of_kind("users")
        .take(RESTORED_USERS)
        .map(|u| u.id.clone())
        .collect();
    let group_ids: Vec<String> = live
        .of_kind("groups")
        .take(20)
        .map(|g| g.id.clone())
        .collect();
    for (i, id) in user_ids.iter().enumerate() {
        let u = desired
            .objects
            .get_mut(&ObjectKey::named("users", id.clone()))
            .expect("user");
        for (p, v) in [
            ("department", json!("Sales")),
            ("jobTitle", json!(format!("Account Executive {i}"))),
            ("companyName", json!("Contoso")),
            ("officeLocation", json!("Lisbon")),
            ("employeeType", json!("Employee")),
        ] {
            u.props[p] = v;
        }
        let mut added = 0;
        for g in group_ids
            .iter()
            .skip(i % group_ids.len())
            .chain(group_ids.iter())
        {
            let group = desired
                .objects
                .get_mut(&ObjectKey::named("groups", g.clone()))
                .expect("group");
            let members = group.links.entry("members".into()).or_default();
            if members.iter().all(|m| &m.id != id) {
                members.push(LinkRef::new(id.clone(), None));
                members.sort_by(|a, b| a.id.cmp(&b.id));
                added += 1;
            }
            if added == 2 {
                break;
            }
        }
    }
    let started = Instant::now();
    let p = plan::plan(&PlanInput::new(&desired, &live));
    let plan_seconds = started.elapsed().as_secs_f64();
    let summary = p.summary();

    let before = (client.metrics(), emu.stats());
    let report = apply::execute(&client, &p, &ApplyOptions::default(), None).await;
    let after = (client.metrics(), emu.stats());
    assert_eq!(
        report.failed,
        0,
        "{:#?}",
        report
            .outcomes
            .iter()
            .filter(|o| !o.ok)
            .take(5)
            .collect::<Vec<_>>()
    );
    assert!(report.remaining_drift.is_empty());
    let writes = after.1.writes - before.1.writes;
    let bound = if (writes as f64) <= WRITES_PER_WINDOW {
        0.0
    } else {
        (writes as f64 / WRITES_PER_WINDOW).ceil().max(1.0) * WINDOW_SECONDS - WINDOW_SECONDS
    };
    println!(
        "tenant: {users} users, {} groups; read users+groups {read_seconds:.1} s",
        users / 5
    );
    println!(
        "plan: {plan_seconds:.2} s; {} updates, {} links to add",
        summary.update, summary.links_add
    );
    println!(
        "execute (writes + read-back): {:.1} s; Graph requests {} (throttled {}), writes {writes}",
        report.seconds,
        after.0.requests - before.0.requests,
        after.1.throttled - before.1.throttled,
    );
    println!(
        "write-throttle lower bound for {writes} writes at {WRITES_PER_WINDOW} per {WINDOW_SECONDS} s: {bound:.0} s"
    );
}
