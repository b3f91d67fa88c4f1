//! The end-to-end benchmark (issue 2 item 11, issue 3 item 7, issue 4 item 8). Ignored in the
//! test suite; run it on a quiet machine with
//!
//!     cargo test --release --test it bench_e2e -- --ignored --nocapture
//!
//! `TENANTGIT_BENCH_SPEC` overrides the tenant (default: 100k users, 20k groups × 50 members,
//! 5k apps, 300 policies). The emulator runs as its own process (`tenantgit emulator serve`) so
//! that the peak memory measured is tenantgit's alone, with its default throttles — Graph's
//! quotas for one app in a large tenant, reads included — so that every read waits for Graph's
//! quota as it would in that tenant; every step is the release binary run as a user would run
//! it, timed from outside.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::graph::Admin;

const BIN: &str = env!("CARGO_BIN_EXE_tenantgit");

struct Emulator {
    child: Child,
    url: String,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_emulator(spec: &str) -> Emulator {
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .args(["-q", "emulator", "serve", "--synthetic", spec])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("emulator starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect("listening line")
        .to_string();
    println!(
        "emulator: {spec} generated and listening in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Emulator { child, url }
}

/// Runs tenantgit, measuring wall time and peak resident memory (VmHWM, polled).
fn run(url: &str, repo: &Path, args: &[&str]) -> (Output, f64, u64) {
    let started = Instant::now();
    let child = Command::new(BIN)
        .env("TENANTGIT_GRAPH_URL", url)
        .env("AZURE_AUTHORITY_HOST", url)
        .env("AZURE_TENANT_ID", "bench")
        .env("AZURE_CLIENT_ID", "tenantgit-emulator")
        .env("AZURE_CLIENT_SECRET", "emulator-secret")
        .env("NO_COLOR", "1")
        .arg("-C")
        .arg(repo)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tenantgit runs");
    let pid = child.id();
    let mut peak_kb = 0;
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let out = child.wait_with_output();
        let _ = tx.send(());
        out
    });
    while rx.recv_timeout(Duration::from_millis(20)).is_err() {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            if let Some(kb) = status.lines().find_map(|l| l.strip_prefix("VmHWM:")) {
                peak_kb = peak_kb.max(
                    kb.trim()
                        .trim_end_matches(" kB")
                        .trim()
                        .parse()
                        .unwrap_or(0),
                );
            }
        }
    }
    let out = waiter.join().unwrap().unwrap();
    (out, started.elapsed().as_secs_f64(), peak_kb / 1024)
}

/// `git count-objects -v`: what the repository holds.
fn count_objects(repo: &Path) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["count-objects", "-v"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

fn stats(url: &str) -> Value {
    reqwest::blocking::get(format!("{url}/_emulator/stats"))
        .unwrap()
        .json()
        .unwrap()
}

fn requests(url: &str) -> u64 {
    stats(url)["requests"].as_u64().unwrap()
}

fn writes(url: &str) -> u64 {
    stats(url)["writes"].as_u64().unwrap()
}

/// Resource units of the reads the emulator admitted so far.
fn read_units(url: &str) -> u64 {
    stats(url)["readUnits"].as_u64().unwrap()
}

/// Prints the routes the reads so far went to, costliest first.
fn read_routes(url: &str) {
    let reads: Value = reqwest::blocking::get(format!("{url}/_emulator/stats/reads"))
        .unwrap()
        .json()
        .unwrap();
    let mut routes: Vec<(&String, u64, u64)> = reads
        .as_object()
        .unwrap()
        .iter()
        .map(|(route, r)| {
            let n = |k: &str| r[k].as_u64().unwrap();
            (route, n("requests"), n("units"))
        })
        .collect();
    routes.sort_by_key(|r| std::cmp::Reverse(r.2));
    for (route, requests, units) in routes.iter().take(6) {
        println!("   {route}: {requests} requests, {units} units");
    }
}

/// Prints what a read cost of the read quota and the least time the quota allows for it: the
/// emulator's default (Graph's large-tenant quota) is a bucket of 8,000 units refilled over 10 s.
fn read_floor(units: u64) {
    let quota = tenantgit::emulator::READ_THROTTLE_LARGE_TENANT as f64;
    let floor = (units as f64 - quota).max(0.0) / (quota / 10.0);
    println!("   read cost {units} resource units: at least {floor:.1} s at the read quota");
}

/// Calls the emulator answered 429 so far (the read and write throttles).
fn throttled(url: &str) -> u64 {
    stats(url)["throttled"].as_u64().unwrap()
}

fn show(step: &str, out: &Output, secs: f64, peak_mb: u64, requests: u64) {
    let err = String::from_utf8_lossy(&out.stderr);
    println!(
        "\n== {step}: exit {:?}, {secs:.2}s wall, peak {peak_mb} MB, {requests} Graph requests",
        out.status.code()
    );
    for line in err.lines().filter(|l| !l.trim().is_empty()).take(12) {
        println!("   | {line}");
    }
    if !out.status.success() {
        let stdout = String::from_utf8_lossy(&out.stdout);
        for line in err
            .lines()
            .chain(stdout.lines())
            .filter(|l| l.contains("FAILED") || (l.contains("\"error\"") && !l.contains("null")))
            .take(20)
        {
            println!("   ! {}", line.chars().take(400).collect::<String>());
        }
    }
}

/// Refills the emulator's throttle quotas.
async fn reset_throttle(admin: &Admin) {
    admin
        .http
        .post(format!("{}/_emulator/throttle/reset", admin.base))
        .send()
        .await
        .expect("throttle reset");
}

/// Graph calls made "by another application": a bad script. The quota is refilled afterwards so
/// that the measured tenantgit run starts with a full write quota, as it would in Graph.
fn script(url: &str, calls: Vec<(reqwest::Method, String, Option<Value>)>) {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        let admin = Admin::connect(url).await;
        let mut workers = tokio::task::JoinSet::new();
        for chunk in calls.chunks(calls.len().div_ceil(8).max(1)) {
            let (admin, chunk) = (admin.clone(), chunk.to_vec());
            workers.spawn(async move {
                for (method, path, body) in chunk {
                    loop {
                        let resp = admin.call(method.as_str(), &path, body.clone()).await;
                        if resp.status == 429 {
                            // The script is another application with a quota of its own.
                            reset_throttle(&admin).await;
                            continue;
                        }
                        assert!((200..300).contains(&resp.status), "{path}: {}", resp.body);
                        break;
                    }
                }
            });
        }
        while let Some(done) = workers.join_next().await {
            done.expect("a script worker");
        }
        reset_throttle(&admin).await;
    });
}

/// One user or group of the repository, as the bench's scripts need it.
struct Entry {
    id: String,
    /// Synced from Active Directory: Graph refuses writes to its on-premises attributes, so
    /// the scripts change it the way Entra Connect does (`POST /_emulator/sync`).
    synced: bool,
    /// Group members (empty for users).
    members: Vec<String>,
    /// A group whose members Graph writes (assigned, not mail-enabled, not synced, not
    /// role-assignable).
    writable_members: bool,
}

fn entries(repo: &Path, dir: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(repo.join(dir)).sort_by_file_name() {
        let entry = entry.unwrap();
        if !entry.file_type().is_file() {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        let str_of = |v: &serde_yaml::Value| v.as_str().unwrap_or_default().to_string();
        let members: Vec<String> = doc["members"]
            .as_sequence()
            .map(|m| m.iter().map(str_of).collect())
            .unwrap_or_default();
        let dynamic = doc["groupTypes"]
            .as_sequence()
            .is_some_and(|t| t.iter().any(|t| t.as_str() == Some("DynamicMembership")));
        let synced = doc["onPremisesSyncEnabled"].as_bool() == Some(true);
        out.push(Entry {
            id: str_of(&doc["id"]),
            synced,
            members,
            // Members of a role-assignable group need RoleManagement.ReadWrite.Directory, which
            // the app does not hold (403 Authorization_RequestDenied, as in Graph).
            writable_members: !synced
                && !dynamic
                && doc["mailEnabled"].as_bool() == Some(false)
                && doc["isAssignableToRole"].as_bool() != Some(true),
        });
    }
    out
}

/// Changes objects as the tenant's own admins would: synced ones through the simulated Entra
/// Connect (one request per 1,000 changes), cloud ones through Graph.
fn change(url: &str, synced: Vec<Value>, graph: Vec<(reqwest::Method, String, Option<Value>)>) {
    let http = reqwest::blocking::Client::new();
    for chunk in synced.chunks(1000) {
        let resp = http
            .post(format!("{url}/_emulator/sync"))
            .json(&json!({ "changes": chunk }))
            .send()
            .expect("sync request");
        assert_eq!(resp.status().as_u16(), 200, "{}", resp.text().unwrap());
    }
    script(url, graph);
}

/// HEAD's top-level entries but `tenantgit.toml` (which a bare repository's first snapshot
/// does not write): one tree id per kind folder, so equal lines mean byte-identical objects.
fn head_tree(repo: &Path) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["ls-tree", "HEAD"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.ends_with("\ttenantgit.toml"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
#[ignore = "benchmark: run with --release --ignored --nocapture"]
fn bench_snapshot_diff_restore() {
    let spec = std::env::var("TENANTGIT_BENCH_SPEC")
        .unwrap_or_else(|_| "users=100000,groups=20000,members=50,apps=5000,policies=300".into());
    let emulator = start_emulator(&spec);
    let url = emulator.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("tenant");

    // 1. First snapshot into a bare repository: the read, the objects, the pack and the commit.
    let bare = dir.path().join("bare");
    assert!(Command::new("git")
        .args(["init", "-q", "--bare"])
        .arg(&bare)
        .status()
        .unwrap()
        .success());
    let (r0, t0, u0) = (requests(&url), throttled(&url), read_units(&url));
    let (out, secs, peak) = run(&url, &bare, &["snapshot"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    show(
        "first snapshot, bare repository",
        &out,
        secs,
        peak,
        requests(&url) - r0,
    );
    println!(
        "   answered 429 by the read throttle: {}",
        throttled(&url) - t0
    );
    read_floor(read_units(&url) - u0);
    read_routes(&url);

    // 1b. The same with a working tree (what `tenantgit snapshot` in a new folder makes); the
    //     later steps use this repository.
    let r0 = requests(&url);
    let (out, secs, peak) = run(&url, &repo, &["snapshot"]);
    assert!(out.status.success());
    let snapshot_requests = requests(&url) - r0;
    show(
        "first snapshot, with a working tree",
        &out,
        secs,
        peak,
        snapshot_requests,
    );
    let pack = count_objects(&repo);
    println!("   git: {}", pack.replace('\n', "  "));

    // 2. Unchanged tenant: no commit, no objects.
    let r0 = requests(&url);
    let (out, secs, peak) = run(&url, &repo, &["snapshot"]);
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "an unchanged tenant makes no commit"
    );
    show(
        "re-snapshot, unchanged",
        &out,
        secs,
        peak,
        requests(&url) - r0,
    );
    // The branch is untouched; only the delta tokens' note moves (a blob, a tree and a commit
    // under refs/notes/tenantgit).
    let loose = |counts: &str| -> u64 {
        counts
            .lines()
            .find_map(|l| l.strip_prefix("count: "))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let pack2 = count_objects(&repo);
    let written = loose(&pack2) - loose(&pack);
    println!("   git objects written: {written} (the tokens' note)");
    assert!(written <= 3, "only the note is written: {pack2}");

    // 3. diff HEAD against live.
    let (r0, t0) = (requests(&url), throttled(&url));
    let (out, secs, peak) = run(&url, &repo, &["diff", "--exit-code"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let diff_requests = requests(&url) - r0;
    show(
        "diff HEAD vs live (no drift)",
        &out,
        secs,
        peak,
        diff_requests,
    );
    println!("   requests: diff {diff_requests} vs snapshot {snapshot_requests}");
    println!(
        "   answered 429 by the read throttle: {}",
        throttled(&url) - t0
    );

    // 4. 1% churn: 1% of users change a property (every tenth also its manager), 1% of groups
    //    lose a member; synced objects change on-premises, cloud ones through Graph.
    let users = entries(&repo, "users");
    let groups = entries(&repo, "groups");
    let (mut synced, mut calls) = (Vec::new(), Vec::new());
    let n_users = users.len() / 100;
    for (i, user) in users.iter().step_by(100).enumerate() {
        let title = json!({"jobTitle": format!("Changed {i}")});
        if user.synced {
            let mut change = json!({"id": user.id, "set": title});
            if i % 10 == 0 {
                change["manager"] = Value::Null;
            }
            synced.push(change);
        } else {
            calls.push((
                reqwest::Method::PATCH,
                format!("users/{}", user.id),
                Some(title),
            ));
        }
    }
    for group in groups.iter().step_by(100) {
        let Some(m) = group.members.first() else {
            continue;
        };
        if group.synced {
            synced.push(json!({"id": group.id, "removeMembers": [m]}));
        } else if group.writable_members {
            let path = format!("groups/{}/members/{m}/$ref", group.id);
            calls.push((reqwest::Method::DELETE, path, None));
        }
    }
    println!(
        "\n(1% churn: {} synced changes, {} Graph writes)",
        synced.len(),
        calls.len()
    );
    change(&url, synced, calls);
    let r0 = requests(&url);
    let (out, secs, peak) = run(&url, &repo, &["snapshot"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    show(
        "re-snapshot after 1% churn",
        &out,
        secs,
        peak,
        requests(&url) - r0,
    );

    // 4b. The same tenant read in full (the bare repository, `--full`) gives the same tree.
    let (r0, u0) = (requests(&url), read_units(&url));
    let (out, secs, peak) = run(&url, &bare, &["snapshot", "--full"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    show(
        "full re-snapshot after 1% churn (bare)",
        &out,
        secs,
        peak,
        requests(&url) - r0,
    );
    read_floor(read_units(&url) - u0);
    if head_tree(&repo) != head_tree(&bare) {
        let git = |args: &[&str]| {
            let out = Command::new("git")
                .arg("-C")
                .arg(&repo)
                .args(args)
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).to_string()
        };
        git(&[
            "fetch",
            "-q",
            bare.to_str().unwrap(),
            "HEAD:refs/bench/full",
        ]);
        let stat = git(&["diff", "--stat", "HEAD", "refs/bench/full"]);
        let patch = git(&["diff", "HEAD", "refs/bench/full"]);
        panic!(
            "the incremental tree differs from the full read's:\n{stat}\n{}",
            patch.chars().take(4000).collect::<String>()
        );
    }
    println!(
        "   incremental and full trees identical: {}",
        head_tree(&repo)
    );
    let (out, secs, peak) = run(&url, &repo, &["diff", "HEAD~1", "HEAD", "--format", "json"]);
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    show("diff HEAD~1 HEAD (1% differ)", &out, secs, peak, 0);
    println!(
        "   objects in report: {}",
        report["changes"].as_array().unwrap().len()
    );

    // 5. A bad script wipes 5 attributes of 500 cloud-only users (Graph writes those) and
    //    removes them from their assigned groups; tenantgit restores them from the previous
    //    commit.
    let users = entries(&repo, "users");
    let groups = entries(&repo, "groups");
    let victims: Vec<&String> = users
        .iter()
        .filter(|u| !u.synced)
        .skip(n_users)
        .take(500)
        .map(|u| &u.id)
        .collect();
    assert_eq!(victims.len(), 500, "the tenant has 500 cloud-only users");
    let started = Instant::now();
    let victim_set: std::collections::HashSet<&str> = victims.iter().map(|s| s.as_str()).collect();
    let mut calls = Vec::new();
    for id in &victims {
        calls.push((
            reqwest::Method::PATCH,
            format!("users/{id}"),
            Some(json!({"department": null, "jobTitle": null, "officeLocation": null, "city": null, "employeeType": null})),
        ));
    }
    let mut links = 0;
    for group in groups.iter().filter(|g| g.writable_members) {
        for m in group
            .members
            .iter()
            .filter(|m| victim_set.contains(m.as_str()))
        {
            calls.push((
                reqwest::Method::DELETE,
                format!("groups/{}/members/{m}/$ref", group.id),
                None,
            ));
            links += 1;
        }
    }
    script(&url, calls);
    println!(
        "\n(the bad script took {:.1}s)",
        started.elapsed().as_secs_f64()
    );
    let (out, _, _) = run(&url, &repo, &["snapshot"]);
    assert!(out.status.success());
    // 5a. The plan alone (what a reviewer sees first): reads only the selected objects that
    //     differ.
    let r0 = requests(&url);
    let (out, secs, peak) = run(
        &url,
        &repo,
        &[
            "restore", "HEAD~1", "--kind", "users", "--kind", "groups", "--format", "json",
        ],
    );
    show(
        "restore plan of 500 users",
        &out,
        secs,
        peak,
        requests(&url) - r0,
    );
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (r0, w0) = (requests(&url), writes(&url));
    let (out, secs, peak) = run(
        &url,
        &repo,
        &[
            "restore", "HEAD~1", "--kind", "users", "--kind", "groups", "--yes", "--force",
            "--format", "json",
        ],
    );
    let (req, wr) = (requests(&url) - r0, writes(&url) - w0);
    show(
        "restore 500 users (5 attributes + memberships)",
        &out,
        secs,
        peak,
        req,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent: f64 = String::from_utf8_lossy(&out.stderr)
        .lines()
        .find_map(|l| {
            l.split(" writes in ")
                .next()
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0.0);
    println!(
        "   {links} memberships removed by the script; the restore sent {sent} writes \
         ({wr} write attempts reached the emulator, 429s included)"
    );
    println!(
        "   write throttle (3000 per 150 s, refilling at 20/s): lower bound {:.1} s for {sent} writes",
        ((sent - 3000.0) / 20.0).max(0.0)
    );
    let (out, secs, _) = run(
        &url,
        &repo,
        &[
            "diff",
            "HEAD~1",
            "--exit-code",
            "--kind",
            "users",
            "--kind",
            "groups",
        ],
    );
    println!(
        "\n== diff HEAD~1 after the restore: exit {:?} in {secs:.2}s",
        out.status.code()
    );
    assert_eq!(out.status.code(), Some(0), "the restore converged");
}
