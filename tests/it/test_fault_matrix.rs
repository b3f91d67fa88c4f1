//! The fault matrix (issue 7, "Prove it"): kill -9 at every failpoint of snapshot and restore;
//! 5xx, dropped connections, cut-off bodies and 429 storms on half of the reads and of the
//! writes; a snapshot, an apply and a restore at once. After each fault the same command is run
//! again, as an operator would, and the matrix checks what must hold: no partial commit (HEAD is
//! the old commit or a complete new one, `git fsck` is clean), the re-run converges (a further
//! run has nothing to do), no object exists twice, and the user's own edits are untouched.
//! Each row prints `tried / survived / lost`; a lost row fails the test.

use std::os::unix::process::ExitStatusExt;

use serde_json::{json, Value};
use tenantgit::emulator::{FaultAction, FaultRule};

use crate::common::tenant::*;
use crate::common::*;

/// One row of the matrix.
struct Row {
    fault: String,
    tried: usize,
    survived: usize,
    lost: Vec<String>,
}

impl Row {
    fn new(fault: impl Into<String>) -> Row {
        Row {
            fault: fault.into(),
            tried: 0,
            survived: 0,
            lost: Vec::new(),
        }
    }

    /// Records one try; `checks` lists what failed (empty: survived).
    fn record(&mut self, checks: Vec<String>) {
        self.tried += 1;
        if checks.is_empty() {
            self.survived += 1;
        } else {
            self.lost.extend(checks);
        }
    }
}

fn report(rows: &[Row]) {
    eprintln!(
        "{:<58} {:>5} {:>8} {:>4}",
        "fault", "tried", "survived", "lost"
    );
    for r in rows {
        eprintln!(
            "{:<58} {:>5} {:>8} {:>4}",
            r.fault,
            r.tried,
            r.survived,
            r.tried - r.survived
        );
    }
    let lost: Vec<&String> = rows.iter().flat_map(|r| &r.lost).collect();
    assert!(
        lost.is_empty(),
        "lost:\n{}",
        lost.iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn killed(out: &CommandOutput) -> bool {
    out.status.signal() == Some(9)
}

fn points(prefix: &str) -> Vec<&'static str> {
    tenantgit::failpoint::POINTS
        .iter()
        .map(|(name, _)| *name)
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// The user's own work in the repository: an edit to an unmanaged file and an untracked file.
fn user_edits(h: &TestEnvironment) {
    std::fs::write(h.repo.join("NOTES.md"), "my notes\n").unwrap();
    let readme = h.repo.join("README.md");
    if readme.exists() {
        let mut text = std::fs::read_to_string(&readme).unwrap();
        text.push_str("\nlocal edit\n");
        std::fs::write(&readme, text).unwrap();
    }
}

/// What must hold after any fault, and after the re-run: the repository is whole, HEAD is one
/// of the expected commits, the user's edits are as they were.
fn repository_checks(h: &TestEnvironment, heads: &[Option<String>]) -> Vec<String> {
    let mut lost = Vec::new();
    let fsck = h.git_output_in(&h.repo, &["fsck", "--no-progress"]);
    if !fsck.status.success() {
        lost.push(format!(
            "git fsck: {}",
            String::from_utf8_lossy(&fsck.stderr)
        ));
    }
    let head = h.head();
    if !heads.contains(&head) {
        lost.push(format!("HEAD is {head:?}, none of {heads:?}"));
    }
    if std::fs::read_to_string(h.repo.join("NOTES.md"))
        .ok()
        .as_deref()
        != Some("my notes\n")
    {
        lost.push("the untracked NOTES.md changed".into());
    }
    if h.repo.join("README.md").exists()
        && !std::fs::read_to_string(h.repo.join("README.md"))
            .unwrap()
            .ends_with("\nlocal edit\n")
    {
        lost.push("the edit to README.md is gone".into());
    }
    let committed = h.git(&["log", "--all", "--format=%H", "--", "NOTES.md"]);
    if !committed.trim().is_empty() {
        lost.push("the user's untracked file was committed".into());
    }
    lost
}

/// Live groups per display name that occur more than once.
fn duplicates(h: &TestEnvironment) -> Vec<String> {
    let mut names = std::collections::BTreeMap::<String, usize>::new();
    for g in get(h, "groups?$select=displayName&$top=999")["value"]
        .as_array()
        .unwrap()
    {
        *names
            .entry(g["displayName"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let upns = get(h, "users?$select=userPrincipalName&$top=999")["value"]
        .as_array()
        .unwrap()
        .len();
    let mut out: Vec<String> = names
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(name, n)| format!("{n} groups named {name}"))
        .collect();
    if upns != live_ids(h, "users").len() {
        out.push("two users with one UPN".into());
    }
    out
}

/// Damage a restore repairs: departments of cloud-only users wiped, a member removed from a
/// cloud-only department group, a security group deleted for good (so that the restore
/// re-creates it). Returns the deleted group's name.
fn damage(h: &TestEnvironment) -> String {
    for u in cloud_only_users(h).iter().take(3) {
        patch_user(h, u, json!({"department": null}));
    }
    let groups = get(
        h,
        "groups?$select=id,displayName,groupTypes,mailEnabled,onPremisesSyncEnabled&$top=999",
    );
    let security: Vec<&Value> = groups["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["groupTypes"].as_array().is_none_or(|t| t.is_empty()))
        .filter(|g| g["mailEnabled"] == false)
        .filter(|g| !g["displayName"].as_str().unwrap().starts_with("Dept"))
        .collect();
    let dept = groups["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| {
            g["displayName"].as_str().unwrap().starts_with("Dept")
                && g["onPremisesSyncEnabled"] != true
        })
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    if let Some(m) = link_ids(h, &dept, "members").into_iter().next() {
        remove_member(h, &dept, &m);
    }
    let gone = security[0];
    let id = gone["id"].as_str().unwrap();
    graph_ok(h, "DELETE", &format!("groups/{id}"), None, 204);
    gone["displayName"].as_str().unwrap().to_string()
}

/// After a restore converged: a further run has nothing to do and writes nothing.
fn converged(h: &TestEnvironment) -> Vec<String> {
    let before = writes(h);
    let out = h.run(&["restore", "HEAD", "--yes", "--force"]);
    let mut lost = Vec::new();
    if out.status.code() != Some(0) {
        lost.push(format!(
            "a further restore exits {:?}: {}",
            out.status.code(),
            out.stderr
        ));
    }
    if writes(h) != before {
        lost.push(format!(
            "a further restore wrote {} times",
            writes(h) - before
        ));
    }
    lost
}

/// Runs `args` until it exits 0 (at most `tries` times): what an operator does after a failure.
fn until_ok(h: &TestEnvironment, args: &[&str], tries: usize) -> Result<usize, String> {
    let mut last = String::new();
    for n in 1..=tries {
        let out = h.run(args);
        if out.status.code() == Some(0) {
            return Ok(n);
        }
        last = format!("exit {:?}: {}", out.status.code(), out.stderr);
        if !matches!(out.status.code(), Some(2 | 3)) || !out.stderr.contains("error:") {
            return Err(format!("{args:?} ended without a clear error: {last}"));
        }
    }
    Err(format!("{args:?} did not converge in {tries} runs: {last}"))
}

#[test]
fn kill_9_at_every_failpoint_then_the_same_command_just_works() {
    let mut rows = Vec::new();

    // Snapshot: a changed tenant, killed at each point, then the same command.
    let mut row = Row::new("kill -9 during snapshot (each snapshot failpoint)");
    for point in points("snapshot.") {
        let h = healthy();
        user_edits(&h);
        let before = h.head();
        patch_user(&h, &cloud_only_users(&h)[0], json!({"department": "Moved"}));
        let out = h.run_with(&["snapshot"], |c| c.env("TENANTGIT_FAILPOINT", point));
        let mut lost = Vec::new();
        if !killed(&out) {
            lost.push(format!("{point}: not killed: {}", out.stderr));
        }
        let after_kill = h.head();
        lost.extend(
            repository_checks(&h, &[before.clone(), after_kill.clone()])
                .into_iter()
                .map(|l| format!("{point}: {l}")),
        );
        let again = h.run(&["snapshot"]);
        if again.status.code() != Some(0) {
            lost.push(format!(
                "{point}: the re-run exits {:?}: {}",
                again.status.code(),
                again.stderr
            ));
        }
        let head = h.head();
        lost.extend(
            repository_checks(&h, std::slice::from_ref(&head))
                .into_iter()
                .map(|l| format!("{point}: after the re-run: {l}")),
        );
        // The tree is the tenant's: a diff against live finds nothing.
        if h.run(&["diff", "--exit-code"]).status.code() != Some(0) {
            lost.push(format!(
                "{point}: HEAD does not match the tenant after the re-run"
            ));
        }
        row.record(lost);
    }
    rows.push(row);

    // Restore: damage, a restore killed at each point, then the same command.
    let mut row = Row::new("kill -9 during restore (each restore failpoint)");
    for point in points("restore.") {
        let h = healthy();
        user_edits(&h);
        let head = h.head();
        let name = damage(&h);
        let out = h.run_with(&["restore", "HEAD", "--yes", "--force"], |c| {
            c.env("TENANTGIT_FAILPOINT", point)
        });
        let mut lost = Vec::new();
        if !killed(&out) {
            lost.push(format!("{point}: not killed: {}", out.stderr));
        }
        lost.extend(repository_checks(&h, std::slice::from_ref(&head)));
        match until_ok(&h, &["restore", "HEAD", "--yes", "--force"], 2) {
            Ok(_) => {}
            Err(e) => lost.push(format!("{point}: {e}")),
        }
        lost.extend(converged(&h).into_iter().map(|l| format!("{point}: {l}")));
        lost.extend(duplicates(&h).into_iter().map(|l| format!("{point}: {l}")));
        if get(&h, "groups?$select=displayName&$top=999")["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["displayName"] != json!(name))
        {
            lost.push(format!(
                "{point}: the deleted group {name} was not re-created"
            ));
        }
        lost.extend(repository_checks(&h, std::slice::from_ref(&head)));
        row.record(lost);
    }
    rows.push(row);
    report(&rows);
}

/// A fault rule on half of the requests of `methods`.
fn half(methods: &[&str], action: FaultAction, seed: u64) -> Vec<FaultRule> {
    methods
        .iter()
        .map(|m| FaultRule {
            probability: Some(0.5),
            seed: seed + m.len() as u64,
            ..FaultRule::new(Some(m), None, action.clone())
        })
        .collect()
}

#[test]
fn network_faults_on_half_of_the_reads_and_writes_never_lose_anything() {
    let faults: Vec<(&str, FaultAction)> = vec![
        (
            "5xx",
            FaultAction::Status {
                status: 503,
                retry_after: None,
            },
        ),
        ("dropped connections", FaultAction::DropConnection),
        ("cut-off bodies", FaultAction::TruncatedBody),
        ("429 storm", FaultAction::Throttle { retry_after: 0.05 }),
    ];
    let mut rows = Vec::new();
    for (name, action) in &faults {
        // Reads: a snapshot of a changed tenant.
        let mut row = Row::new(format!("{name} on 50% of reads (snapshot, diff)"));
        let h = healthy();
        user_edits(&h);
        let before = h.head();
        patch_user(&h, &cloud_only_users(&h)[1], json!({"jobTitle": "Changed"}));
        h.emulator.set_faults(half(&["GET"], action.clone(), 7));
        let mut lost = Vec::new();
        let mut heads = vec![before.clone()];
        for _ in 0..6 {
            let out = h.run(&["snapshot"]);
            heads.push(h.head());
            lost.extend(repository_checks(&h, &heads));
            if out.status.code() == Some(0) {
                break;
            }
            if out.status.code() != Some(2) || !out.stderr.contains("error:") {
                lost.push(format!(
                    "snapshot ended without a clear error: {}",
                    out.stderr
                ));
                break;
            }
        }
        h.emulator.set_faults(Vec::new());
        if h.run(&["diff", "--exit-code"]).status.code() != Some(0) {
            lost.push("the snapshot never converged on the tenant".into());
        }
        row.record(lost);
        rows.push(row);

        // Writes: a restore of damage.
        let mut row = Row::new(format!("{name} on 50% of writes (restore)"));
        let h = healthy();
        user_edits(&h);
        let head = h.head();
        let group = damage(&h);
        h.emulator
            .set_faults(half(&["POST", "PATCH", "DELETE"], action.clone(), 11));
        let mut lost = Vec::new();
        if let Err(e) = until_ok(&h, &["restore", "HEAD", "--yes", "--force"], 8) {
            lost.push(e);
        }
        h.emulator.set_faults(Vec::new());
        lost.extend(converged(&h));
        lost.extend(duplicates(&h));
        if named_count(&h, &group) != 1 {
            lost.push(format!("{} groups named {group}", named_count(&h, &group)));
        }
        lost.extend(repository_checks(&h, std::slice::from_ref(&head)));
        row.record(lost);
        rows.push(row);
    }
    report(&rows);
}

fn named_count(h: &TestEnvironment, name: &str) -> usize {
    get(h, "groups?$select=displayName&$top=999")["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["displayName"] == json!(name))
        .count()
}

#[test]
fn a_snapshot_an_apply_and_a_restore_at_once_never_interleave() {
    let mut rows = Vec::new();
    let mut row = Row::new("snapshot + apply + restore started together");
    for round in 0..3 {
        let h = healthy();
        user_edits(&h);
        let head = h.head();
        damage(&h);
        let children: Vec<_> = [
            vec!["snapshot"],
            vec!["apply", "--yes", "--force"],
            vec!["restore", "HEAD", "--yes", "--force"],
        ]
        .into_iter()
        .map(|args| {
            h.command(&args)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
        let mut lost = Vec::new();
        let mut heads = vec![head.clone()];
        for child in children {
            let out = h.output(child.wait_with_output().unwrap());
            let code = out.status.code();
            if !matches!(code, Some(0 | 2)) {
                lost.push(format!("round {round}: exit {code:?}: {}", out.stderr));
            }
            if code == Some(2) && !out.stderr.contains("locked") {
                lost.push(format!(
                    "round {round}: failed for another reason: {}",
                    out.stderr
                ));
            }
        }
        heads.push(h.head());
        lost.extend(repository_checks(&h, &heads));
        lost.extend(duplicates(&h));
        // Whatever order they ran in, the operator's next restore converges.
        let _ = h.run(&["restore", "HEAD", "--yes", "--force"]);
        lost.extend(converged(&h));
        row.record(lost);
    }
    rows.push(row);

    // A user's `git commit` in the middle of a snapshot (it waits before the branch moves).
    let mut row = Row::new("git commit by the user during a snapshot");
    let h = healthy();
    let head = h.head();
    patch_user(&h, &cloud_only_users(&h)[2], json!({"jobTitle": "Racing"}));
    let marker = h
        .repo
        .join(".git/tenantgit-failpoint.snapshot.commit-written");
    let child = h
        .command(&["snapshot"])
        .env("TENANTGIT_FAILPOINT", "snapshot.commit-written=wait")
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !marker.exists() && started.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::fs::write(h.repo.join("NOTES.md"), "my notes\n").unwrap();
    h.git(&["add", "NOTES.md"]);
    h.git(&["commit", "-q", "-m", "my notes"]);
    let mine = h.head();
    std::fs::remove_file(&marker).unwrap();
    let out = h.output(child.wait_with_output().unwrap());
    let mut lost = Vec::new();
    if out.status.code() != Some(2) {
        lost.push(format!("the racing snapshot exits {:?}", out.status.code()));
    }
    if h.head() != mine || mine == head {
        lost.push("the user's commit is not HEAD".into());
    }
    let status = h.git(&["status", "--porcelain"]);
    if !status.trim().is_empty() {
        lost.push(format!("tenantgit left changes behind: {status}"));
    }
    let again = h.run(&["snapshot"]);
    if again.status.code() != Some(0) {
        lost.push(format!(
            "the next snapshot exits {:?}: {}",
            again.status.code(),
            again.stderr
        ));
    }
    row.record(lost);
    rows.push(row);
    report(&rows);
}
