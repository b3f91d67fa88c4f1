//! `tenantgit snapshot` when things go wrong around it: a lock left by a killed run, `kill -9` at
//! every step of the commit (armed through failpoints), a `git commit` of the user in the middle,
//! and desired changes merged into the branch but not yet applied.

mod common;

use common::*;

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
    let h = Harness::synthetic(SMALL);
    assert_status(&h.run(&["snapshot"]), 0);
    let lock = h.repo.join(".git/tenantgit.lock");

    // A live holder (this test process) still refuses.
    let me = std::process::id();
    std::fs::write(&lock, lock_text(me, start_time(me))).unwrap();
    let out = h.run(&["snapshot"]);
    assert_status(&out, 2);
    assert!(
        stderr(&out).contains(&format!("locked by another tenantgit (pid {me}")),
        "{}",
        stderr(&out)
    );

    // A holder that is gone: taken over, said so, and the snapshot runs.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    std::fs::write(&lock, lock_text(dead, 1)).unwrap();
    let out = h.run(&["snapshot"]);
    assert_status(&out, 0);
    assert!(
        stderr(&out).contains(&format!(
            "notice: took over the lock of a tenantgit snapshot (pid {dead}) that is no longer running"
        )),
        "{}",
        stderr(&out)
    );
    assert!(!lock.exists(), "released at the end");
}
