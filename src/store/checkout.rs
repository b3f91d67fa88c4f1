//! Checking a new snapshot out into the working tree so that neither `kill -9` nor a failure can
//! leave it half done, and nothing of it staged for the user's next commit.
//!
//! 1. Before any file is touched, `<gitdir>/tenantgit/checkout.json` records the old tree, the
//!    new tree, the new commit and a token.
//! 2. `<gitdir>/index.lock` is created holding the token, as git itself locks the index: while
//!    the files change, a `git commit` (or `git add`, `git stash`) in the repository waits for
//!    nothing and fails, instead of committing half-written files.
//! 3. The branch must still be where the snapshot started; then the changed files are written
//!    and the new index is prepared in `<gitdir>/tenantgit/index.next` (the real index untouched).
//! 4. The caller moves the branch (compare-and-swap). Moved: the new index replaces the old one,
//!    then the lock and the record go. Not moved, or any failure in between: the files go back to
//!    the old tree and the lock and the record go; the index was never replaced.
//!
//! A run that finds the record ([`Store::recover_interrupted`], before anything else) knows a
//! checkout was interrupted. Every path that differs between the recorded trees and whose file
//! holds the old content, the new content, the start of the new content (a write cut short) or
//! nothing is the snapshot's own: it and its index entry are brought to what `HEAD` holds now,
//! which rolls back or forward depending on whether the branch had moved. Any other content is
//! the user's and is left alone (the dirty check then names it). Our `index.lock` is recognised by
//! the token and removed.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use git2::{Oid, Repository};
use serde::{Deserialize, Serialize};

use super::pack::{blob_id, Spool};
use super::worktree::{self, Change, IndexUpdates};
use super::{Store, StoreError};
use crate::failpoint;

/// Folder of tenantgit's own state inside the git dir.
const DIR: &str = "tenantgit";
const RECORD: &str = "checkout.json";
const NEXT_INDEX: &str = "index.next";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    /// `None`: the branch was unborn.
    old_tree: Option<String>,
    new_tree: String,
    commit: String,
    /// What our `index.lock` holds, to tell it from git's.
    token: String,
}

impl Record {
    fn trees(&self) -> Result<(Option<Oid>, Oid), StoreError> {
        let parse = |s: &str| {
            Oid::from_str(s).map_err(StoreError::git(format!(
                "reading the record of an interrupted snapshot: bad id {s}"
            )))
        };
        Ok((
            self.old_tree.as_deref().map(parse).transpose()?,
            parse(&self.new_tree)?,
        ))
    }

    fn lock_text(&self) -> String {
        format!("tenantgit snapshot {}\n", self.token)
    }
}

/// What a recovery did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Files the interrupted snapshot had written that had to be brought to `HEAD`.
    pub restored: usize,
    /// Files among those it would have changed that hold something else: the user's, left alone.
    pub kept: usize,
}

struct Paths {
    record: PathBuf,
    next_index: PathBuf,
    index: PathBuf,
    index_lock: PathBuf,
}

fn paths(repo: &Repository) -> Paths {
    let git_dir = repo.path();
    Paths {
        record: git_dir.join(DIR).join(RECORD),
        next_index: git_dir.join(DIR).join(NEXT_INDEX),
        index: git_dir.join("index"),
        index_lock: git_dir.join("index.lock"),
    }
}

fn remove_if_present(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io("removing", path)(e)),
    }
}

fn write_record(path: &Path, record: &Record) -> Result<(), StoreError> {
    let dir = path.parent().expect("the record is inside the git dir");
    std::fs::create_dir_all(dir).map_err(StoreError::io("creating a folder", dir))?;
    let text = serde_json::to_string_pretty(record).expect("the record serializes");
    // Written aside and renamed, so that a reader never sees half a record.
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(StoreError::io("writing", &tmp))?;
    std::fs::rename(&tmp, path).map_err(StoreError::io("writing", path))
}

fn read_record(path: &Path) -> Result<Option<Record>, StoreError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io("reading", path)(e)),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| StoreError::io("reading", path)(std::io::Error::other(e)))
}

/// Creates `index.lock` holding `text`; [`StoreError::IndexLocked`] when git holds it.
fn lock_index(path: &Path, text: &str) -> Result<(), StoreError> {
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(StoreError::IndexLocked {
                path: path.to_path_buf(),
            })
        }
        Err(e) => return Err(StoreError::io("locking the index", path)(e)),
    };
    file.write_all(text.as_bytes())
        .map_err(StoreError::io("locking the index", path))
}

/// Whether the working-tree file at `path` holds what the checkout of `change` may have left:
/// the old content, the new content, the start of the new content, or nothing.
fn is_ours(repo: &Repository, workdir: &Path, change: &Change) -> Result<bool, StoreError> {
    let full = workdir.join(&change.path);
    let bytes = match std::fs::read(&full) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
        // A folder where the file should be, or unreadable: not ours to touch.
        Err(_) => return Ok(false),
    };
    let id = blob_id(&bytes);
    if change.old == Some(id) || change.new.map(|(n, _)| n) == Some(id) {
        return Ok(true);
    }
    let Some((new, _)) = change.new else {
        return Ok(false);
    };
    let blob = repo
        .find_blob(new)
        .map_err(StoreError::git(format!("reading {}", change.path)))?;
    Ok(blob.content().starts_with(&bytes))
}

/// Brings every path of `changes` that is ours to its content in `target` (`None`: the empty
/// tree). Returns the index entries those paths must have (for the caller that replaces the
/// index) and what was done.
fn settle(
    repo: &Repository,
    workdir: &Path,
    changes: &[Change],
    target: Option<Oid>,
) -> Result<(IndexUpdates, Recovered), StoreError> {
    let tree = target
        .map(|t| repo.find_tree(t))
        .transpose()
        .map_err(StoreError::git("reading HEAD's tree"))?;
    let mut updates = IndexUpdates::new();
    let mut done = Recovered::default();
    for change in changes {
        if !is_ours(repo, workdir, change)? {
            done.kept += 1;
            continue;
        }
        let wanted = match &tree {
            Some(tree) => match tree.get_path(Path::new(&change.path)) {
                Ok(e) if e.kind() == Some(git2::ObjectType::Blob) => {
                    Some((e.id(), e.filemode() as u32))
                }
                Ok(_) => None,
                Err(e) if e.code() == git2::ErrorCode::NotFound => None,
                Err(e) => return Err(StoreError::git(format!("looking up {}", change.path))(e)),
            },
            None => None,
        };
        let full = workdir.join(&change.path);
        let current = std::fs::read(&full).ok().map(|b| blob_id(&b));
        if current != wanted.map(|(oid, _)| oid) {
            done.restored += 1;
        }
        let entry = match wanted {
            None => {
                worktree::remove_file(workdir, &change.path)?;
                None
            }
            Some((oid, mode)) => {
                if current != Some(oid) {
                    let blob = repo
                        .find_blob(oid)
                        .map_err(StoreError::git(format!("reading {}", change.path)))?;
                    if let Some(parent) = full.parent() {
                        std::fs::create_dir_all(parent)
                            .map_err(StoreError::io("creating a folder", parent))?;
                    }
                    std::fs::write(&full, blob.content())
                        .map_err(StoreError::io("writing a file", &full))?;
                }
                let meta = std::fs::metadata(&full).ok();
                Some(worktree::entry(&change.path, oid, mode, meta.as_ref()))
            }
        };
        updates.insert(change.path.as_bytes().to_vec(), entry);
    }
    Ok((updates, done))
}

/// A snapshot commit's move of its branch: `branch` goes from `parent` (commit, tree) to
/// `commit` (tree `tree`).
#[derive(Clone, Copy)]
pub(super) struct BranchMove<'a> {
    pub branch: &'a str,
    pub parent: Option<(Oid, Oid)>,
    pub commit: Oid,
    pub tree: Oid,
}

impl BranchMove<'_> {
    pub fn old_tree(&self) -> Option<Oid> {
        self.parent.map(|(_, t)| t)
    }

    pub fn old_commit(&self) -> Option<Oid> {
        self.parent.map(|(c, _)| c)
    }
}

/// A checkout between its steps 3 and 4 (see the module doc): files written, the new index
/// prepared, the index lock held.
pub(super) struct Checkout<'r> {
    repo: &'r Repository,
    workdir: PathBuf,
    old_tree: Option<Oid>,
    changes: Vec<Change>,
}

impl<'r> Checkout<'r> {
    /// Steps 1 to 3 for the move `to`: its branch must still point at its parent. `changes` are
    /// the files that differ between the two trees when the caller knows them and has checked them with `worktree::check_clean` (which refuses an
    /// untracked file in the way); else the trees are compared and that is checked here. A
    /// failure after step 1 undoes what was done before returning.
    pub(super) fn prepare(
        repo: &'r Repository,
        workdir: &Path,
        to: BranchMove<'_>,
        changes: Option<Vec<Change>>,
        spool: &Spool,
    ) -> Result<Checkout<'r>, StoreError> {
        let (old_tree, new_tree, commit) = (to.old_tree(), to.tree, to.commit);
        let changes = match changes {
            Some(changes) => changes,
            None => {
                let changes = worktree::changes(repo, old_tree, Some(new_tree))?;
                worktree::check_untracked(repo, workdir, &changes)?;
                changes
            }
        };
        let p = paths(repo);
        let record = Record {
            old_tree: old_tree.map(|t| t.to_string()),
            new_tree: new_tree.to_string(),
            commit: commit.to_string(),
            token: uuid::Uuid::new_v4().to_string(),
        };
        write_record(&p.record, &record)?;
        if let Err(e) = lock_index(&p.index_lock, &record.lock_text()) {
            remove_if_present(&p.record)?;
            return Err(e);
        }
        let checkout = Checkout {
            repo,
            workdir: workdir.to_path_buf(),
            old_tree,
            changes,
        };
        let at = repo.find_reference(to.branch).ok().and_then(|r| r.target());
        if at != to.old_commit() {
            checkout.roll_back()?;
            return Err(StoreError::BranchMoved {
                branch: to.branch.to_string(),
            });
        }
        let stats = match worktree::write_files(repo, workdir, &checkout.changes, spool) {
            Ok(stats) => stats,
            Err(e) => return Err(checkout.fail(e)),
        };
        failpoint::hit("snapshot.worktree-written", repo.path());
        super::timing::mark("checkout: write_files");
        let updates = checkout
            .changes
            .iter()
            .map(|c| {
                let entry = c
                    .new
                    .map(|(oid, mode)| worktree::entry(&c.path, oid, mode, stats.get(&c.path)));
                (c.path.as_bytes().to_vec(), entry)
            })
            .collect();
        if let Err(e) = worktree::rebuild_index(&p.index, &p.next_index, updates) {
            return Err(checkout.fail(e));
        }
        failpoint::hit("snapshot.index-written", repo.path());
        super::timing::mark("checkout: rebuild_index");
        Ok(checkout)
    }

    /// Step 4 once the branch moved: the new index replaces the old, the lock and the record go.
    pub(super) fn finish(self) -> Result<(), StoreError> {
        let p = paths(self.repo);
        std::fs::rename(&p.next_index, &p.index)
            .map_err(StoreError::io("putting the new index in place", &p.index))?;
        remove_if_present(&p.index_lock)?;
        remove_if_present(&p.record)
    }

    /// Step 4 when the branch did not move: the files go back to the old tree; the index was
    /// never replaced. When that fails, the record stays for the next run to finish it.
    pub(super) fn roll_back(self) -> Result<(), StoreError> {
        let p = paths(self.repo);
        let settled = settle(self.repo, &self.workdir, &self.changes, self.old_tree);
        remove_if_present(&p.next_index)?;
        remove_if_present(&p.index_lock)?;
        settled?;
        remove_if_present(&p.record)
    }

    /// Rolls back after `error` and returns it (a failing roll-back leaves the record behind,
    /// which the next run finishes; the first error is the one to report).
    fn fail(self, error: StoreError) -> StoreError {
        let _ = self.roll_back();
        error
    }
}

impl Store {
    /// Finishes a checkout that a previous run left half done (killed, or its roll-back failed):
    /// see the module doc. `None` when there was none. Call it with the repository lock held,
    /// before reading anything from the working tree.
    pub fn recover_interrupted(&self) -> Result<Option<Recovered>, StoreError> {
        let repo = &self.repo;
        let (Some(workdir), p) = (repo.workdir(), paths(repo)) else {
            return Ok(None);
        };
        let Some(record) = read_record(&p.record)? else {
            return Ok(None);
        };
        if std::fs::read_to_string(&p.index_lock).is_ok_and(|t| t == record.lock_text()) {
            remove_if_present(&p.index_lock)?;
        }
        remove_if_present(&p.next_index)?;
        let (old_tree, new_tree) = record.trees()?;
        let changes = worktree::changes(repo, old_tree, Some(new_tree))?;
        let head_tree = match repo.head() {
            Ok(r) => Some(
                r.peel_to_tree()
                    .map_err(StoreError::git("reading HEAD's tree"))?
                    .id(),
            ),
            Err(e)
                if matches!(
                    e.code(),
                    git2::ErrorCode::UnbornBranch | git2::ErrorCode::NotFound
                ) =>
            {
                None
            }
            Err(e) => return Err(StoreError::git("reading HEAD")(e)),
        };
        let (updates, done) = settle(repo, workdir, &changes, head_tree)?;
        lock_index(&p.index_lock, &record.lock_text())?;
        let rebuilt = worktree::rebuild_index(&p.index, &p.next_index, updates).and_then(|()| {
            std::fs::rename(&p.next_index, &p.index)
                .map_err(StoreError::io("putting the index in place", &p.index))
        });
        remove_if_present(&p.index_lock)?;
        rebuilt?;
        remove_if_present(&p.record)?;
        Ok(Some(done))
    }
}
