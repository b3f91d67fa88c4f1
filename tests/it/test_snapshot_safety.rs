//! `tenantgit snapshot` when things go wrong around it: a lock left by a killed run, `kill -9` at
//! every step of the commit (armed through failpoints), a `git commit` of the user in the middle,
//! and desired changes merged into the branch but not yet applied.

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::assert_snapshot;
use crate::common::*;

const SMALL: &str = "users=60,groups=12,members=8,apps=4,policies=4";

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("Linux has /proc")
        .trim()
        .to_string()
}

/// Field 22 of /proc/<pid>/stat: the start time that tells a reused pid apart.
fn start_time(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &text[text.rfind(')').unwrap() + 1..];
    rest.split_whitespace().nth(19).unwrap().parse().unwrap()
}

fn lock_text(pid: u32, started: u64) -> String {
    format!(
        "pid: {pid}\nhost: {}\nstarted: {started}\ncommand: snapshot\n",
        host()
    )
}

#[test]
#[cfg(target_os = "linux")]
fn a_lock_left_by_a_dead_run_is_taken_over_with_a_notice() {
    let h = TestEnvironment::synthetic(SMALL);
    assert_status(&h.run(&["snapshot"]), 0);
    let lock = h.repo.join(".git/tenantgit.lock");

    // A live holder (this test process) still refuses.
    let me = std::process::id();
    std::fs::write(&lock, lock_text(me, start_time(me))).unwrap();
    h.redact(&format!("pid {me}"), "pid <the test>");
    assert_snapshot!("live_holder", h.run(&["snapshot"]));

    // A holder that is gone: taken over, said so, and the snapshot runs.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    std::fs::write(&lock, lock_text(dead, 1)).unwrap();
    h.redact(&format!("pid {dead}"), "pid <a process that is gone>");
    // A notice that the lock was taken over, then the usual narration.
    assert_snapshot!("taken_over", h.run(&["snapshot"]));
    assert!(!lock.exists(), "released at the end");
}

/// The failpoints on the snapshot path, from the one list in the library.
fn snapshot_points() -> Vec<&'static str> {
    tenantgit::failpoint::POINTS
        .iter()
        .map(|(name, _)| *name)
        .filter(|n| n.starts_with("snapshot."))
        .collect()
}

fn killed(out: &CommandOutput) -> bool {
    use std::os::unix::process::ExitStatusExt;
    out.status.signal() == Some(9)
}

/// `tenantgit snapshot` with a failpoint armed.
fn snapshot_with(h: &TestEnvironment, failpoint: &str) -> CommandOutput {
    h.run_with(&["snapshot"], |c| c.env("TENANTGIT_FAILPOINT", failpoint))
}

/// The tree an uninterrupted snapshot of the emulator's current tenant gives, in a fresh
/// repository next to the one under test.
fn reference_tree(h: &TestEnvironment, name: &str) -> String {
    let dir = h.root().join(name);
    let out = h.run_in(&dir, &["snapshot"]);
    assert_status(&out, 0);
    h.git_in(&dir, &["rev-parse", "HEAD^{tree}"])
}

fn tree_of(h: &TestEnvironment, rev: &str) -> String {
    h.git(&["rev-parse", &format!("{rev}^{{tree}}")])
}

/// Nothing of tenantgit's is left in the git dir.
#[track_caller]
fn no_leftovers(repo: &Path) {
    for file in [
        "index.lock",
        "tenantgit.lock",
        "tenantgit/checkout.json",
        "tenantgit/index.next",
    ] {
        assert!(!repo.join(".git").join(file).exists(), "{file} left behind");
    }
}

/// Changes the tenant: new departments for some users (file changes) and one user deleted (a
/// file removed).
fn change_tenant(h: &TestEnvironment, n: usize) {
    let users: Vec<String> = h
        .git(&["ls-tree", "-r", "--name-only", "HEAD", "users/"])
        .lines()
        .map(str::to_string)
        .collect();
    assert!(users.len() > n, "enough users");
    for (i, path) in users.iter().take(n).enumerate() {
        let id = h.id_of(path);
        h.change_user(&id, json!({"department": format!("Reorganised {i}")}));
    }
    let gone = h.id_of(&users[n]);
    let (status, body) = h.graph("DELETE", &format!("users/{gone}"), None);
    assert_eq!(status, 204, "{body}");
}

#[test]
fn kill_9_during_a_first_snapshot_then_the_same_command_just_works() {
    for point in snapshot_points() {
        let h = TestEnvironment::synthetic(SMALL);
        let reference = reference_tree(&h, "reference");
        // The user's repository: initialised, an untracked file of theirs in it.
        std::fs::create_dir_all(&h.repo).unwrap();
        h.git(&["init", "-q", "-b", "main"]);
        std::fs::write(h.repo.join("notes.txt"), "mine\n").unwrap();

        let out = snapshot_with(&h, point);
        assert!(killed(&out), "{point}: not killed\n{}", out.stderr);
        h.git(&["fsck", "--full", "--strict", "--no-dangling"]);
        if h.head().is_some() {
            assert_eq!(tree_of(&h, "HEAD"), reference, "{point}: a complete commit");
        }

        let out = h.run(&["snapshot"]);
        assert_status(&out, 0);
        assert_eq!(tree_of(&h, "HEAD"), reference, "{point}");
        assert_eq!(
            h.git(&["rev-list", "--count", "HEAD"]).trim(),
            "1",
            "{point}"
        );
        assert_eq!(
            h.git(&["status", "--porcelain"]),
            "?? notes.txt\n",
            "{point}"
        );
        assert_eq!(
            std::fs::read_to_string(h.repo.join("notes.txt")).unwrap(),
            "mine\n"
        );
        h.git(&["fsck", "--full", "--strict", "--no-dangling"]);
        no_leftovers(&h.repo);
    }
}

#[test]
fn kill_9_during_a_re_snapshot_then_the_same_command_just_works() {
    for point in snapshot_points() {
        let h = TestEnvironment::synthetic(SMALL);
        assert_status(&h.run(&["snapshot"]), 0);
        let before = h.head().unwrap();
        // The user's own edits: a change to a tracked file outside the managed folders and an
        // untracked file.
        let toml = h.repo.join("tenantgit.toml");
        let edited = format!("{}# my note\n", std::fs::read_to_string(&toml).unwrap());
        std::fs::write(&toml, &edited).unwrap();
        std::fs::write(h.repo.join("notes.txt"), "mine\n").unwrap();
        change_tenant(&h, 20);
        let reference = reference_tree(&h, "reference");

        let out = snapshot_with(&h, point);
        assert!(killed(&out), "{point}: not killed\n{}", out.stderr);
        h.git(&["fsck", "--full", "--strict", "--no-dangling"]);
        let head = h.head().unwrap();
        if head != before {
            assert_eq!(tree_of(&h, "HEAD"), reference, "{point}: a complete commit");
            assert_eq!(h.git(&["rev-parse", "HEAD~1"]).trim(), before);
        }
        if point == "snapshot.worktree-mid" {
            // The kill left half-written files behind: what the next run must repair.
            let status = h.git(&["status", "--porcelain", "users/"]);
            assert!(status.lines().count() > 5, "{status}");
        }

        let out = h.run(&["snapshot"]);
        assert_status(&out, 0);
        assert_eq!(tree_of(&h, "HEAD"), reference, "{point}");
        assert_eq!(h.git(&["rev-parse", "HEAD~1"]).trim(), before, "{point}");
        assert_eq!(
            h.git(&["status", "--porcelain"]),
            " M tenantgit.toml\n?? notes.txt\n",
            "{point}: only the user's edits"
        );
        assert_eq!(std::fs::read_to_string(&toml).unwrap(), edited);
        assert_eq!(
            std::fs::read_to_string(h.repo.join("notes.txt")).unwrap(),
            "mine\n"
        );
        h.git(&["fsck", "--full", "--strict", "--no-dangling"]);
        no_leftovers(&h.repo);
    }
}

/// Starts `snapshot` with a `wait` failpoint and returns once it waits there.
fn start_waiting(h: &TestEnvironment, point: &str) -> (Child, std::path::PathBuf) {
    let child = h
        .command(&["snapshot"])
        .env("TENANTGIT_FAILPOINT", format!("{point}=wait"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let file = h.repo.join(format!(".git/tenantgit-failpoint.{point}"));
    let started = Instant::now();
    while !file.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{point} not reached"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    (child, file)
}

/// A snapshotted repository where the user has an edit, a staged new file and an untracked
/// file, and a tenant that changed since.
fn busy_user() -> TestEnvironment {
    let h = TestEnvironment::synthetic(SMALL);
    assert_status(&h.run(&["snapshot"]), 0);
    let toml = h.repo.join("tenantgit.toml");
    let edited = format!("{}# my note\n", std::fs::read_to_string(&toml).unwrap());
    std::fs::write(&toml, edited).unwrap();
    std::fs::write(h.repo.join("docs.md"), "# docs\n").unwrap();
    h.git(&["add", "docs.md"]);
    std::fs::write(h.repo.join("notes.txt"), "mine\n").unwrap();
    change_tenant(&h, 20);
    h
}

#[test]
fn a_user_commit_during_a_snapshot_fails_it_and_stages_nothing() {
    let h = busy_user();
    let (child, file) = start_waiting(&h, "snapshot.commit-written");
    h.git(&[
        "-c",
        "user.name=u",
        "-c",
        "user.email=u@u",
        "commit",
        "-qm",
        "docs",
    ]);
    let users_commit = h.head().unwrap();
    let status = h.git(&["status", "--porcelain"]);
    assert_eq!(status, " M tenantgit.toml\n?? notes.txt\n");
    std::fs::remove_file(&file).unwrap();
    let out = h.output(child.wait_with_output().unwrap());
    // "did another program change it meanwhile?", with a hint.
    assert_snapshot!(out);
    assert_eq!(h.head().unwrap(), users_commit, "the user's commit stays");
    assert_eq!(
        h.git(&["status", "--porcelain"]),
        status,
        "nothing staged or written"
    );
    no_leftovers(&h.repo);
    // The next run commits on top of the user's commit.
    assert_status(&h.run(&["snapshot"]), 0);
    assert_eq!(h.git(&["rev-parse", "HEAD~1"]).trim(), users_commit);
    assert_eq!(h.git(&["status", "--porcelain"]), status);
}

#[test]
fn the_branch_moving_after_the_files_were_written_rolls_them_back() {
    let h = busy_user();
    let before = h.head().unwrap();
    let status = h.git(&["status", "--porcelain"]);
    assert_eq!(status, "A  docs.md\n M tenantgit.toml\n?? notes.txt\n");
    let (child, file) = start_waiting(&h, "snapshot.index-written");
    // The files are written and the index is locked: `git commit` cannot absorb them.
    let commit = h.git_output_in(
        &h.repo,
        &[
            "-c",
            "user.name=u",
            "-c",
            "user.email=u@u",
            "commit",
            "-qam",
            "all",
        ],
    );
    assert!(
        !commit.status.success(),
        "git commit must wait for the index"
    );
    assert!(
        String::from_utf8_lossy(&commit.stderr).contains("index.lock"),
        "{}",
        String::from_utf8_lossy(&commit.stderr)
    );
    assert_eq!(h.head().unwrap(), before);
    // Another program moves the branch (same tree, one commit on top).
    let other = h
        .git(&[
            "commit-tree",
            "HEAD^{tree}",
            "-p",
            "HEAD",
            "-m",
            "elsewhere",
        ])
        .trim()
        .to_string();
    h.git(&["update-ref", "refs/heads/main", &other]);
    std::fs::remove_file(&file).unwrap();
    let out = h.output(child.wait_with_output().unwrap());
    assert_snapshot!(out);
    assert_eq!(h.head().unwrap(), other);
    assert_eq!(
        h.git(&["status", "--porcelain"]),
        status,
        "the snapshot's files are rolled back, the user's edits kept"
    );
    assert_eq!(h.git(&["diff", "--cached", "--name-only"]), "docs.md\n");
    no_leftovers(&h.repo);
}

#[test]
fn an_edit_made_after_an_interrupted_snapshot_is_kept_and_named() {
    let h = TestEnvironment::synthetic(SMALL);
    assert_status(&h.run(&["snapshot"]), 0);
    let before = h.head().unwrap();
    change_tenant(&h, 20);
    let reference = reference_tree(&h, "reference");
    let out = snapshot_with(&h, "snapshot.worktree-mid");
    assert!(killed(&out), "{}", out.stderr);
    // The user edits one of the files the snapshot had rewritten.
    let changed = h.git(&["status", "--porcelain", "users/"]);
    let path = changed.lines().next().unwrap()[3..].to_string();
    let mine = format!(
        "{}# my own edit\n",
        h.git(&["show", &format!("HEAD:{path}")])
    );
    std::fs::write(h.repo.join(&path), &mine).unwrap();

    let out = h.run(&["snapshot"]);
    // The interrupted snapshot is finished (a notice), then the user's file, and only it, is
    // named as an uncommitted change.
    assert!(out.stderr.contains(&path), "{out}");
    assert_snapshot!(out.redact_matches(r"\(pid \d+\)", "(pid <the killed run>)"));
    assert_eq!(h.head().unwrap(), before);
    assert_eq!(std::fs::read_to_string(h.repo.join(&path)).unwrap(), mine);
    assert_eq!(h.git(&["status", "--porcelain"]), format!(" M {path}\n"));

    h.git(&["checkout", "--", &path]);
    assert_status(&h.run(&["snapshot"]), 0);
    assert_eq!(tree_of(&h, "HEAD"), reference);
    assert_eq!(h.git(&["status", "--porcelain"]), "");
}

/// Edits the department of the user in `path` with a normal git commit (as merging a pull
/// request does); returns the commit id.
fn commit_department(h: &TestEnvironment, path: &str, department: &str, title: &str) -> String {
    let file = h.repo.join(path);
    let text = std::fs::read_to_string(&file).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("department:"))
        .unwrap()
        .to_string();
    std::fs::write(
        &file,
        text.replace(&line, &format!("department: {department}")),
    )
    .unwrap();
    h.git(&[
        "-c",
        "user.name=u",
        "-c",
        "user.email=u@u",
        "commit",
        "-qam",
        title,
    ]);
    h.head().unwrap()
}

#[test]
fn a_merged_change_not_yet_applied_is_never_reverted_by_a_snapshot() {
    let h = TestEnvironment::synthetic(SMALL);
    assert_status(&h.run(&["snapshot"]), 0);
    let path = h.file("users/", "");
    let id = h.id_of(&path);
    let desired = commit_department(&h, &path, "Desired Dept", "Move a user to Desired Dept");

    // Not applied: refused, nothing written. The one error names the file and the commit that
    // made the change; the hint says how to apply or discard it.
    h.redact(&desired[..10], "<the desired commit>");
    assert_snapshot!("refused", h.run(&["snapshot"]));
    assert_eq!(h.head().unwrap(), desired);
    assert_eq!(h.git(&["status", "--porcelain"]), "");

    // Drift elsewhere does not unblock it either.
    let other_path = h
        .git(&["ls-tree", "-r", "--name-only", "HEAD", "users/"])
        .lines()
        .find(|p| *p != path)
        .unwrap()
        .to_string();
    let other = h.id_of(&other_path);
    h.change_user(&other, json!({"city": "Drifted"}));
    assert_status(&h.run(&["snapshot"]), 2);

    // Applied (here by hand, as `apply` would): the snapshot records the drift and keeps the
    // desired change.
    h.change_user(&id, json!({"department": "Desired Dept"}));
    assert_snapshot!("applied", h.run(&["snapshot"]));
    assert_eq!(h.git(&["rev-parse", "HEAD~1"]).trim(), desired);
    assert!(h
        .git(&["show", &format!("HEAD:{path}")])
        .contains("department: Desired Dept"));
    let changed = h.git(&["diff", "--name-only", "HEAD~1", "HEAD"]);
    assert_eq!(
        changed.lines().count(),
        1,
        "only the drifted user: {changed}"
    );
    // From now on that object is observed: a later change in the tenant is drift, recorded.
    h.change_user(&id, json!({"department": "Changed In The Portal"}));
    assert_status(&h.run(&["snapshot"]), 0);
    assert!(h
        .git(&["show", &format!("HEAD:{path}")])
        .contains("Changed In The Portal"));
}

#[test]
fn a_confirmed_change_with_an_unchanged_tenant_still_marks_it_observed() {
    let h = TestEnvironment::synthetic(SMALL);
    assert_status(&h.run(&["snapshot"]), 0);
    let path = h.file("users/", "");
    let id = h.id_of(&path);
    let desired = commit_department(&h, &path, "Desired Dept", "Move a user");
    h.change_user(&id, json!({"department": "Desired Dept"}));
    // The tenant is exactly HEAD: a commit with the same tree marks the change observed.
    let out = h.run(&["snapshot"]);
    assert_status(&out, 0);
    assert_eq!(h.git(&["rev-parse", "HEAD~1"]).trim(), desired);
    assert_eq!(tree_of(&h, "HEAD"), tree_of(&h, "HEAD~1"));
    let message = h.git(&["log", "-1", "--format=%B"]);
    assert!(
        message.starts_with("snapshot: 1 desired changes applied\n")
            && message.contains("Desired changes now in the tenant: 1\n")
            && message.contains("Tenantgit-Snapshot: "),
        "{message}"
    );
    // And then the next run has nothing to do.
    let head = h.head();
    let out = h.run(&["snapshot"]);
    assert_status(&out, 0);
    assert_eq!(h.head(), head);
}

#[test]
fn record_drift_commits_the_tenant_and_names_what_it_discarded() {
    let h = TestEnvironment::synthetic(SMALL);
    assert_status(&h.run(&["snapshot"]), 0);
    let observed = h.head().unwrap();
    let path = h.file("users/", "");
    let before = h.git(&["show", &format!("HEAD:{path}")]);
    let desired = commit_department(&h, &path, "Desired Dept", "Move a user to Desired Dept");
    assert_status(&h.run(&["snapshot"]), 2);

    // "discarded 1 desired changes".
    assert_snapshot!(h.run(&["snapshot", "--record-drift"]));
    assert_eq!(h.git(&["rev-parse", "HEAD~1"]).trim(), desired);
    // The tenant as it is: the desired change is gone from HEAD.
    assert_eq!(h.git(&["show", &format!("HEAD:{path}")]), before);
    assert_eq!(tree_of(&h, "HEAD"), tree_of(&h, &observed));
    let message = h.git(&["log", "-1", "--format=%B"]);
    assert!(
        message.contains(&format!(
            "Desired changes discarded (--record-drift), not in the tenant: 1\n  {path} ({} Move a user to Desired Dept)\n",
            &desired[..10]
        )),
        "{message}"
    );
    assert_eq!(h.git(&["status", "--porcelain"]), "");
    // Nothing is pending any more.
    let head = h.head();
    assert_status(&h.run(&["snapshot"]), 0);
    assert_eq!(h.head(), head);
}
