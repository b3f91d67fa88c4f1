//! Failpoints: named places in the write paths where a test makes the process die as `kill -9`
//! would, or pause it so that the test can act in the middle (run `git commit` during a snapshot).
//!
//! `TENANTGIT_FAILPOINT` (read once, the one variable the core reads itself: it exists for tests
//! only) arms them, comma-separated: `NAME` or `NAME=kill` sends SIGKILL to this process when the
//! point is hit; `NAME=wait` creates `<dir>/tenantgit-failpoint.NAME` (dir: the git dir of the
//! repository being written) and waits until that file is removed. Unarmed points cost one
//! lookup in an empty list.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

/// Every failpoint and what has happened when it is hit.
pub const POINTS: &[(&str, &str)] = &[
    (
        "snapshot.pack-written",
        "snapshot: the pack of new objects is written; no commit object yet",
    ),
    (
        "snapshot.commit-written",
        "snapshot: the commit object is written; the working tree and the index are untouched",
    ),
    (
        "snapshot.worktree-mid",
        "snapshot: half of the changed files are written, the next one cut in the middle",
    ),
    (
        "snapshot.worktree-written",
        "snapshot: every changed file is written; the new index not yet",
    ),
    (
        "snapshot.index-written",
        "snapshot: the new index is prepared (not yet in place); the branch has not moved",
    ),
    (
        "snapshot.ref-moved",
        "snapshot: the branch and its reflog moved; the new index not yet in place",
    ),
    (
        "restore.journal-started",
        "restore: the plan is made and the journal opened; nothing sent",
    ),
    (
        "restore.create-answered",
        "restore: Graph created an object and answered; the journal has not recorded the new id",
    ),
    (
        "restore.update-answered",
        "restore: a PATCH was answered; the journal has not recorded its outcome",
    ),
    (
        "restore.before-verify",
        "restore: every write was sent and journalled; the read-back has not started",
    ),
];

/// The variable that arms failpoints.
pub const ENV: &str = "TENANTGIT_FAILPOINT";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Kill,
    Wait,
}

fn armed() -> &'static [(String, Action)] {
    static ARMED: OnceLock<Vec<(String, Action)>> = OnceLock::new();
    ARMED.get_or_init(|| std::env::var(ENV).map(|v| parse(&v)).unwrap_or_default())
}

fn parse(spec: &str) -> Vec<(String, Action)> {
    spec.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| match item.split_once('=') {
            Some((name, "wait")) => (name.to_string(), Action::Wait),
            Some((name, _)) => (name.to_string(), Action::Kill),
            None => (item.to_string(), Action::Kill),
        })
        .collect()
}

fn action(name: &str) -> Option<Action> {
    debug_assert!(
        POINTS.iter().any(|(n, _)| *n == name),
        "failpoint {name} is not in POINTS"
    );
    armed().iter().find(|(n, _)| n == name).map(|(_, a)| *a)
}

/// Whether the point is armed, for the few places that prepare something first (a file cut in
/// the middle).
pub fn is_armed(name: &str) -> bool {
    action(name).is_some()
}

/// The failpoint `name`: nothing unless armed; then the process dies with SIGKILL, or waits
/// (see the module doc) with its file in `dir`.
pub fn hit(name: &str, dir: &Path) {
    match action(name) {
        None => {}
        Some(Action::Kill) => kill_self(),
        Some(Action::Wait) => wait(name, dir),
    }
}

fn kill_self() -> ! {
    // SIGKILL from outside, exactly what `kill -9` does: no destructor, no buffer flush, no
    // lock file removed. (`unsafe` is forbidden in this crate, so no direct `kill(2)`; the
    // shell's built-in `kill` needs no procps.)
    let pid = std::process::id();
    let _ = std::process::Command::new("sh")
        .args(["-c", &format!("kill -9 {pid}")])
        .status();
    // The signal may take a moment to land; without a shell, the closest: no destructors either.
    std::thread::sleep(Duration::from_secs(2));
    std::process::abort()
}

fn wait(name: &str, dir: &Path) {
    let file = dir.join(format!("tenantgit-failpoint.{name}"));
    if std::fs::write(&file, std::process::id().to_string()).is_err() {
        return;
    }
    while file.exists() {
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        assert_eq!(
            parse("snapshot.pack-written, snapshot.ref-moved=wait,x=kill,"),
            vec![
                ("snapshot.pack-written".to_string(), Action::Kill),
                ("snapshot.ref-moved".to_string(), Action::Wait),
                ("x".to_string(), Action::Kill),
            ]
        );
        assert!(parse("").is_empty());
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = POINTS.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), POINTS.len());
    }
}
