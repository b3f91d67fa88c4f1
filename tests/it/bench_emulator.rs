//! Server-side cost of the lead's benchmark tenant, measured, never asserted on time:
//! `cargo test --release --test it bench_emulator -- --ignored --nocapture`
//! (EMULATOR_BENCH_SPEC overrides the tenant size).

use std::time::Instant;

use serde_json::{json, Value};
use tenantgit::emulator::{Emulator, EmulatorConfig};

use crate::common::graph::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn big_tenant_listing_and_batched_links() {
    let spec = std::env::var("EMULATOR_BENCH_SPEC")
        .unwrap_or_else(|_| "users=100000,groups=20000,members=50,apps=5000,policies=300".into());
    let t = Instant::now();
    let emu = Emulator::start(EmulatorConfig {
        synthetic: Some(spec.parse().unwrap()),
        // The server's own cost is measured here, not Graph's quota.
        read_throttle: None,
        ..EmulatorConfig::default()
    })
    .unwrap();
    eprintln!("generate + start {spec}: {:?}", t.elapsed());
    let rss = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let rss = rss
        .lines()
        .find(|l| l.starts_with("VmRSS"))
        .unwrap_or("VmRSS: ?");
    eprintln!("process memory with the tenant loaded: {rss}");
    let admin = Admin::connect(&emu.url()).await;
    let g = Graph { emu, admin };

    let select = tenantgit::schema::kind("users").unwrap().select_list();
    // Raw pages first: the server's time plus transfer, with the client only finding the nextLink.
    #[derive(serde::Deserialize)]
    struct Page {
        #[serde(rename = "@odata.nextLink")]
        next: Option<String>,
    }
    let t = Instant::now();
    let mut next = Some(g.url(&format!("users?$select={select}&$top=999")));
    let (mut pages, mut bytes) = (0, 0);
    while let Some(url) = next {
        let body = g
            .http
            .get(url)
            .bearer_auth(&g.token)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        bytes += body.len();
        pages += 1;
        next = serde_json::from_slice::<Page>(&body).unwrap().next;
    }
    eprintln!(
        "raw: {pages} pages of users, {bytes} bytes: {:?}",
        t.elapsed()
    );
    let t = Instant::now();
    let (users, pages) = g.get_all(&format!("users?$select={select}&$top=999")).await;
    eprintln!(
        "list {} users in {pages} pages with $select: {:?}",
        users.len(),
        t.elapsed()
    );

    let t = Instant::now();
    let groups = g.ids("groups").await;
    eprintln!("list {} group ids: {:?}", groups.len(), t.elapsed());

    // Members and owners of every group, 20 per $batch, one batch at a time (the time includes
    // the test client's own JSON parsing).
    let t = Instant::now();
    let mut requests: Vec<Value> = Vec::new();
    for (i, gid) in groups.iter().enumerate() {
        for link in ["members", "owners"] {
            requests.push(json!({"id": format!("{i}-{link}"), "method": "GET", "url": format!("/groups/{gid}/{link}?$select=id,displayName&$top=999")}));
        }
    }
    let n = requests.len();
    let mut links = 0usize;
    for chunk in requests.chunks(20) {
        let r = g
            .call("POST", "$batch", Some(json!({"requests": chunk})))
            .await;
        for item in r.body["responses"].as_array().unwrap() {
            assert_eq!(item["status"], 200);
            links += item["body"]["value"].as_array().unwrap().len();
        }
    }
    eprintln!(
        "{n} link lists ({links} links) via $batch: {:?}",
        t.elapsed()
    );
    eprintln!("stats: {:?}", g.emu.stats());
}
