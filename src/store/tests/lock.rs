//! The repository lock: a lock whose process is gone is taken over, a live one never, and two
//! runs finding one stale lock never both win.

use std::sync::{Arc, Barrier};

use super::*;

/// The pid of a process that has exited and been reaped.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().expect("`true` runs");
    let pid = child.id();
    child.wait().expect("waits");
    pid
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("Linux has /proc")
        .trim()
        .to_string()
}

/// Field 22 of /proc/self/stat.
fn my_start_time() -> u64 {
    let text = std::fs::read_to_string("/proc/self/stat").unwrap();
    let rest = &text[text.rfind(')').unwrap() + 1..];
    rest.split_whitespace().nth(19).unwrap().parse().unwrap()
}

fn write_lock(store: &Store, text: &str) -> std::path::PathBuf {
    let path = store.git_dir().join("tenantgit.lock");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn lock_is_exclusive() {
    let (_dir, store) = bare_repo();
    let lock = store.lock("snapshot").unwrap();
    let text = std::fs::read_to_string(lock.path()).unwrap();
    let owner = LockOwner::parse(&text);
    assert_eq!(owner.pid, Some(std::process::id()));
    assert_eq!(owner.command.as_deref(), Some("snapshot"));
    let other = Store::open(store.git_dir()).unwrap();
    match other.lock("restore") {
        Err(StoreError::Locked { pid, path }) => {
            assert_eq!(pid, Some(std::process::id()));
            assert_eq!(path, lock.path());
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(lock);
    assert!(other.lock("restore").is_ok());
}

#[test]
#[cfg(target_os = "linux")]
fn the_lock_records_pid_host_start_time_and_command() {
    let (_dir, store) = bare_repo();
    let lock = store.lock("snapshot").unwrap();
    assert!(lock.took_over().is_none());
    let owner = LockOwner::parse(&std::fs::read_to_string(lock.path()).unwrap());
    assert_eq!(
        owner,
        LockOwner {
            pid: Some(std::process::id()),
            host: Some(host()),
            started: Some(my_start_time()),
            command: Some("snapshot".into()),
        }
    );
    assert!(!owner.is_gone());
}

#[test]
#[cfg(target_os = "linux")]
fn a_lock_whose_process_is_gone_is_taken_over() {
    let (_dir, store) = bare_repo();
    let pid = dead_pid();
    let path = write_lock(
        &store,
        &format!(
            "pid: {pid}\nhost: {}\nstarted: 12345\ncommand: snapshot\n",
            host()
        ),
    );
    let lock = store
        .lock("snapshot")
        .expect("the stale lock is taken over");
    assert_eq!(lock.took_over().unwrap().pid, Some(pid));
    assert_eq!(
        lock.notice().unwrap(),
        format!("took over the lock of a tenantgit snapshot (pid {pid}) that is no longer running")
    );
    let now = LockOwner::parse(&std::fs::read_to_string(&path).unwrap());
    assert_eq!(now.pid, Some(std::process::id()));
    drop(lock);
    assert!(!path.exists());
}

#[test]
#[cfg(target_os = "linux")]
fn a_reused_pid_is_told_apart_by_its_start_time() {
    let (_dir, store) = bare_repo();
    // This very process, but started at another time: the pid was reused.
    write_lock(
        &store,
        &format!(
            "pid: {}\nhost: {}\nstarted: {}\ncommand: restore\n",
            std::process::id(),
            host(),
            my_start_time() + 1
        ),
    );
    let lock = store.lock("snapshot").expect("taken over");
    assert!(lock.notice().unwrap().contains("tenantgit restore"));
}

#[test]
#[cfg(target_os = "linux")]
fn a_live_foreign_or_unknown_lock_is_refused() {
    let (_dir, store) = bare_repo();
    let dead = dead_pid();
    for text in [
        // Running: this process.
        format!(
            "pid: {}\nhost: {}\nstarted: {}\ncommand: snapshot\n",
            std::process::id(),
            host(),
            my_start_time()
        ),
        // Another machine's: its processes cannot be checked from here.
        format!(
            "pid: {dead}\nhost: not-{}\nstarted: 1\ncommand: snapshot\n",
            host()
        ),
        // An older lock without host.
        format!("{dead}\nsnapshot\n"),
        "garbage".to_string(),
    ] {
        let path = write_lock(&store, &text);
        match store.lock("snapshot") {
            Err(StoreError::Locked { .. }) => {}
            other => panic!("{text:?}: expected Locked, got {other:?}"),
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "untouched");
    }
}

#[test]
#[cfg(target_os = "linux")]
fn two_runs_finding_one_stale_lock_do_not_both_win() {
    for _ in 0..20 {
        let (_dir, store) = bare_repo();
        write_lock(
            &store,
            &format!(
                "pid: {}\nhost: {}\nstarted: 1\ncommand: snapshot\n",
                dead_pid(),
                host()
            ),
        );
        let dir = store.git_dir().to_path_buf();
        let barrier = Arc::new(Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let dir = dir.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    let store = Store::open(&dir).unwrap();
                    barrier.wait();
                    store.lock("snapshot").ok()
                })
            })
            .collect();
        let won: Vec<RepoLock> = handles
            .into_iter()
            .filter_map(|h| h.join().unwrap())
            .collect();
        assert_eq!(won.len(), 1, "exactly one run takes the lock over");
        assert!(!dir.join("tenantgit.lock.takeover").exists());
    }
}
