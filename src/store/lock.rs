//! The repository's tenantgit lock: one writing command at a time, and a lock left behind by a
//! process that is gone (killed, crashed, the machine restarted) taken over instead of blocking
//! every later run.
//!
//! The lock is `<common git dir>/tenantgit.lock`, created exclusively, holding the pid, the host
//! name, the process start time (Linux: field 22 of `/proc/<pid>/stat`, so that a reused pid is
//! told apart) and the command. When it exists, it is stale if it names this host and its
//! process is gone (no `/proc/<pid>`, a zombie, or another start time). Where that cannot be
//! known (another host, no `/proc`, an older lock without host), it is never taken over.
//!
//! A takeover happens under `tenantgit.lock.takeover`, created exclusively: its holder re-reads
//! the lock, removes it only if it is still the stale one it judged, and creates its own. Two
//! runs finding one stale lock therefore never both win: the second sees the first one's live
//! lock, or the takeover file, and is refused.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Store, StoreError};

const LOCK_FILE: &str = "tenantgit.lock";
const TAKEOVER_SUFFIX: &str = ".takeover";
/// A takeover takes microseconds; a takeover file this old was left by a killed process.
const STALE_TAKEOVER: Duration = Duration::from_secs(10);

/// The exclusive lock of a writing command; removes its file when dropped.
#[derive(Debug)]
pub struct RepoLock {
    path: PathBuf,
    took_over: Option<LockOwner>,
}

impl RepoLock {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The process whose stale lock this one replaced, if any.
    pub fn took_over(&self) -> Option<&LockOwner> {
        self.took_over.as_ref()
    }

    /// What to tell the user when a stale lock was taken over.
    pub fn notice(&self) -> Option<String> {
        let owner = self.took_over.as_ref()?;
        let what = owner.command.as_deref().unwrap_or("command");
        let pid = owner.pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
        Some(format!(
            "took over the lock of a tenantgit {what}{pid} that is no longer running"
        ))
    }
}

impl Drop for RepoLock {
    fn drop(&mut self) {
        // Nothing useful can be done if it is already gone.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// What a lock file says about the process holding it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LockOwner {
    pub pid: Option<u32>,
    pub host: Option<String>,
    /// Start time of the process in clock ticks after boot (Linux).
    pub started: Option<u64>,
    pub command: Option<String>,
}

impl LockOwner {
    /// This process, running `command`.
    fn current(command: &str) -> LockOwner {
        let pid = std::process::id();
        LockOwner {
            pid: Some(pid),
            host: host_name(),
            started: process_state(pid).map(|s| s.started),
            command: Some(command.to_string()),
        }
    }

    fn render(&self) -> String {
        let mut out = String::new();
        if let Some(pid) = self.pid {
            out.push_str(&format!("pid: {pid}\n"));
        }
        if let Some(host) = &self.host {
            out.push_str(&format!("host: {host}\n"));
        }
        if let Some(started) = self.started {
            out.push_str(&format!("started: {started}\n"));
        }
        if let Some(command) = &self.command {
            out.push_str(&format!("command: {command}\n"));
        }
        out
    }

    /// Reads `key: value` lines; an older lock held the pid on its first line and the command on
    /// the second.
    pub fn parse(text: &str) -> LockOwner {
        let mut owner = LockOwner::default();
        let mut lines = text.lines();
        if !text.contains(": ") {
            owner.pid = lines.next().and_then(|l| l.trim().parse().ok());
            owner.command = lines.next().map(|l| l.trim().to_string());
            return owner;
        }
        for line in lines {
            let Some((key, value)) = line.split_once(": ") else {
                continue;
            };
            let value = value.trim();
            match key {
                "pid" => owner.pid = value.parse().ok(),
                "host" => owner.host = Some(value.to_string()),
                "started" => owner.started = value.parse().ok(),
                "command" => owner.command = Some(value.to_string()),
                _ => {}
            }
        }
        owner
    }

    /// Whether the process is known to be gone. Unknown counts as running.
    pub fn is_gone(&self) -> bool {
        let (Some(pid), Some(host)) = (self.pid, &self.host) else {
            return false;
        };
        if host_name().as_ref() != Some(host) {
            return false;
        }
        if !Path::new("/proc/self/stat").exists() {
            return false;
        }
        match process_state(pid) {
            None => true,
            Some(state) => state.zombie || self.started.is_some_and(|s| s != state.started),
        }
    }
}

/// The host name, from the kernel (Linux); `None` elsewhere.
fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

struct ProcessState {
    started: u64,
    zombie: bool,
}

/// State and start time of a running process from `/proc/<pid>/stat`; `None` when there is no
/// such process (or no `/proc`).
fn process_state(pid: u32) -> Option<ProcessState> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 2 is the command name in parentheses and may itself hold spaces and parentheses:
    // fields are counted after the last `)`; that is field 3 (the state), so field 22 (the start
    // time) is the 20th after it.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(ProcessState {
        zombie: matches!(fields.first(), Some(&"Z") | Some(&"X")),
        started: fields.get(19)?.parse().ok()?,
    })
}

fn create_exclusive(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

impl Store {
    /// Takes the repository's tenantgit lock for a writing command (see the module doc). A lock
    /// of a process that is gone is taken over ([`RepoLock::notice`] says so); a live one, or
    /// one whose process cannot be checked, is [`StoreError::Locked`].
    pub fn lock(&self, command: &str) -> Result<RepoLock, StoreError> {
        // The common dir, so that linked worktrees of one repository share the lock.
        let path = self.repo.commondir().join(LOCK_FILE);
        let me = LockOwner::current(command);
        // A lock released or taken over between two steps makes the loop go round again.
        for _ in 0..4 {
            match create_exclusive(&path) {
                Ok(file) => return write_lock(file, path, &me, None),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(StoreError::io("creating the lock file", path)(e)),
            }
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StoreError::io("reading the lock file", path)(e)),
            };
            let owner = LockOwner::parse(&text);
            if !owner.is_gone() {
                return Err(StoreError::Locked {
                    pid: owner.pid,
                    path,
                });
            }
            if let Some(lock) = take_over(&path, &text, &me, owner)? {
                return Ok(lock);
            }
        }
        let pid = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| LockOwner::parse(&t).pid);
        Err(StoreError::Locked { pid, path })
    }
}

fn write_lock(
    mut file: std::fs::File,
    path: PathBuf,
    me: &LockOwner,
    took_over: Option<LockOwner>,
) -> Result<RepoLock, StoreError> {
    let lock = RepoLock { path, took_over };
    file.write_all(me.render().as_bytes())
        .map_err(StoreError::io("writing the lock file", lock.path.clone()))?;
    Ok(lock)
}

/// Replaces the stale lock whose text is `stale` with ours, under the takeover file. `None` when
/// another run got there first (the caller looks again).
fn take_over(
    path: &Path,
    stale: &str,
    me: &LockOwner,
    owner: LockOwner,
) -> Result<Option<RepoLock>, StoreError> {
    let mut takeover = path.as_os_str().to_owned();
    takeover.push(TAKEOVER_SUFFIX);
    let takeover = PathBuf::from(takeover);
    if let Err(e) = create_exclusive(&takeover) {
        if e.kind() != std::io::ErrorKind::AlreadyExists {
            return Err(StoreError::io("creating the lock file", takeover)(e));
        }
        let old = std::fs::metadata(&takeover)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_TAKEOVER);
        if !old {
            // Another run is taking over right now.
            return Err(StoreError::Locked {
                pid: owner.pid,
                path: path.to_path_buf(),
            });
        }
        let _ = std::fs::remove_file(&takeover);
        return Ok(None);
    }
    let result = (|| {
        match std::fs::read_to_string(path) {
            Ok(text) if text == stale => std::fs::remove_file(path)
                .map_err(StoreError::io("removing the stale lock file", path))?,
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io("reading the lock file", path)(e)),
        }
        match create_exclusive(path) {
            Ok(file) => write_lock(file, path.to_path_buf(), me, Some(owner)).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(None),
            Err(e) => Err(StoreError::io("creating the lock file", path)(e)),
        }
    })();
    let _ = std::fs::remove_file(&takeover);
    result
}
