//! The restore journal: every write a restore sends, appended to a file in the repository's git
//! folder as it happens — the request before it is sent, its outcome (status, Graph's request
//! id, the id a create was given) when the answer arrives. A crash in the middle of a restore
//! leaves a journal that says exactly what was sent and what is known of it; the ids of
//! re-created objects are read back from it, so that a re-run never creates an object twice.
//! Create records are flushed to disk before the answer is trusted. Bodies are recorded as sent,
//! less anything secret (a re-created user's password is never in them).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Error;
use crate::plan::CreateRecord;

/// The journal folder below the repository's (common) git folder.
pub const DIR: &str = "tenantgit/journal";

/// One line of a journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum Record {
    #[serde(rename_all = "camelCase")]
    Start {
        at: String,
        desired: String,
        actions: usize,
        pid: u32,
    },
    /// A request about to be sent.
    #[serde(rename_all = "camelCase")]
    Send {
        seq: u64,
        at: String,
        kind: String,
        /// The object's id in the plan (a re-created object's old id).
        id: String,
        method: String,
        path: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<Value>,
        /// The request creates the object `id`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        create: bool,
    },
    /// What became of request `seq`.
    #[serde(rename_all = "camelCase")]
    Outcome {
        seq: u64,
        at: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        /// The id Graph gave a created object.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        new_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    End {
        at: String,
        writes: usize,
        failed: usize,
    },
}

/// An open journal of one restore.
pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
    seq: AtomicU64,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Journal {
    /// A new journal file in `<git dir>/tenantgit/journal/`.
    pub fn create(git_dir: &Path, desired: &str, actions: usize) -> Result<Journal, Error> {
        let dir = git_dir.join(DIR);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
        let path = dir.join(format!("{stamp}-{}.jsonl", std::process::id()));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(format!("cannot create {}", path.display()), e))?;
        let journal = Journal {
            path,
            file: Mutex::new(file),
            seq: AtomicU64::new(0),
        };
        journal.append(
            &Record::Start {
                at: now(),
                desired: desired.to_string(),
                actions,
                pid: std::process::id(),
            },
            true,
        )?;
        Ok(journal)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The repository's git folder the journal lives in (for failpoints' wait files).
    pub fn git_dir(&self) -> &Path {
        self.path
            .ancestors()
            .nth(3)
            .expect("journals live in <git dir>/tenantgit/journal/")
    }

    fn append(&self, record: &Record, durable: bool) -> Result<(), Error> {
        let mut line = serde_json::to_string(record).expect("records always serialize");
        line.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let io = |e| {
            Error::io(
                format!("cannot write the journal {}", self.path.display()),
                e,
            )
        };
        file.write_all(line.as_bytes()).map_err(io)?;
        if durable {
            file.sync_data().map_err(io)?;
        }
        Ok(())
    }

    /// Records a request before it is sent; returns its sequence number. A create is flushed to
    /// disk first: if the answer is lost, the next run knows to look for the object.
    pub fn send(
        &self,
        kind: &str,
        id: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
        create: bool,
    ) -> Result<u64, Error> {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        self.append(
            &Record::Send {
                seq,
                at: now(),
                kind: kind.to_string(),
                id: id.to_string(),
                method: method.to_string(),
                path: path.to_string(),
                body: body.cloned(),
                create,
            },
            create,
        )?;
        Ok(seq)
    }

    /// Records what became of request `seq`; a create's new id is flushed to disk before the
    /// caller goes on to use it.
    pub fn outcome(
        &self,
        seq: u64,
        status: Option<u16>,
        ok: bool,
        request_id: Option<&str>,
        new_id: Option<&str>,
        error: Option<&str>,
    ) -> Result<(), Error> {
        self.append(
            &Record::Outcome {
                seq,
                at: now(),
                status,
                ok,
                request_id: request_id.map(str::to_string),
                new_id: new_id.map(str::to_string),
                error: error.map(str::to_string),
            },
            new_id.is_some(),
        )
    }

    pub fn end(&self, writes: usize, failed: usize) -> Result<(), Error> {
        self.append(
            &Record::End {
                at: now(),
                writes,
                failed,
            },
            true,
        )
    }
}

/// Every record of every journal in the folder, file by file in the order they were written.
pub fn read_all(git_dir: &Path) -> Result<Vec<Vec<Record>>, Error> {
    let dir = git_dir.join(DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("cannot read {}", dir.display()), e)),
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    paths.sort();
    let mut out = Vec::with_capacity(paths.len());
    for path in paths {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
        // A line cut off by a crash is the only one that can be malformed; it is skipped.
        let records = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Record>(l).ok())
            .collect();
        out.push(records);
    }
    Ok(out)
}

/// The creates every journal recorded, oldest first: the new id when the answer arrived, none
/// when it was lost (sent, then no outcome, or an outcome without an HTTP answer).
pub fn creates(journals: &[Vec<Record>]) -> Vec<CreateRecord> {
    let mut out = Vec::new();
    for records in journals {
        let mut sent: Vec<(u64, CreateRecord)> = Vec::new();
        for r in records {
            match r {
                Record::Send {
                    seq,
                    at,
                    kind,
                    id,
                    create: true,
                    ..
                } => sent.push((
                    *seq,
                    CreateRecord {
                        kind: kind.clone(),
                        old_id: id.clone(),
                        new_id: None,
                        sent_at: at.clone(),
                    },
                )),
                Record::Outcome {
                    seq,
                    status,
                    new_id,
                    ..
                } => {
                    let Some(pos) = sent.iter().position(|(s, _)| s == seq) else {
                        continue;
                    };
                    match (new_id, status) {
                        (Some(new), _) => {
                            let (_, mut c) = sent.remove(pos);
                            c.new_id = Some(new.clone());
                            out.push(c);
                        }
                        // Graph answered and created nothing.
                        (None, Some(_)) => {
                            sent.remove(pos);
                        }
                        // No answer: the create may have happened.
                        (None, None) => {}
                    }
                }
                _ => {}
            }
        }
        out.extend(sent.into_iter().map(|(_, c)| c));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_are_read_back_with_their_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::create(dir.path(), "HEAD~1", 3).unwrap();
        let a = j
            .send("groups", "old-a", "POST", "groups", None, true)
            .unwrap();
        let b = j
            .send("groups", "old-b", "POST", "groups", None, true)
            .unwrap();
        let c = j
            .send("groups", "old-c", "POST", "groups", None, true)
            .unwrap();
        let d = j
            .send("users", "u", "PATCH", "users/u", None, false)
            .unwrap();
        j.outcome(a, Some(201), true, Some("r1"), Some("new-a"), None)
            .unwrap();
        j.outcome(b, None, false, None, None, Some("connection reset"))
            .unwrap();
        j.outcome(d, Some(204), true, None, None, None).unwrap();
        j.send("groups", "old-e", "POST", "groups", None, true)
            .unwrap();
        let f = j
            .send("groups", "old-f", "POST", "groups", None, true)
            .unwrap();
        j.outcome(f, Some(400), false, Some("r2"), None, Some("bad"))
            .unwrap();
        drop(j);
        let all = read_all(dir.path()).unwrap();
        let found = creates(&all);
        let by = |id: &str| found.iter().find(|c| c.old_id == id).cloned();
        assert_eq!(by("old-a").unwrap().new_id.as_deref(), Some("new-a"));
        assert!(
            by("old-b").unwrap().new_id.is_none(),
            "no answer: may exist"
        );
        assert!(
            by("old-c").unwrap().new_id.is_none(),
            "sent, never answered"
        );
        assert!(by("old-e").is_some());
        assert!(
            by("old-f").is_none(),
            "Graph refused it: nothing was created"
        );
        assert!(by("u").is_none());
        let _ = c;
    }

    #[test]
    fn a_line_cut_off_by_a_crash_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::create(dir.path(), "HEAD", 1).unwrap();
        j.send("groups", "g", "POST", "groups", None, true).unwrap();
        let path = j.path().to_path_buf();
        drop(j);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"event\":\"outcome\",\"seq\":1,\"at\":\"2")
            .unwrap();
        let found = creates(&read_all(dir.path()).unwrap());
        assert_eq!(found.len(), 1);
        assert!(found[0].new_id.is_none());
    }
}
