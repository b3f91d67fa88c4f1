//! The git store: a snapshot written as a tree and committed, and read back from any revision or
//! from the working tree.
//!
//! Writing ([`Store::commit_snapshot`]) hashes every file it writes in memory, compares the ids
//! with the current branch's tree (whose folders are read, never its blobs), and hands only the
//! objects the repository lacks to libgit2 as one pack. An unchanged tenant therefore writes
//! nothing and makes no commit, and a small change costs about what it changes. What happens,
//! in order:
//!
//! 0. A checkout that a killed run left half done is finished first
//!    ([`Store::recover_interrupted`], see `checkout`).
//! 1. `HEAD` must name a branch (it may be unborn); a detached `HEAD` is refused.
//! 2. The new tree is the branch's tree with every object file of the kinds being written
//!    replaced by the snapshot's files; other files (`tenantgit.toml`, `README.md`, other
//!    kinds, anything unknown) are kept, then `extra_files` are laid over it. Only the files
//!    that differ are placed (`build`), which also gives the list of paths that change.
//! 3. With a working tree, each of those paths must hold the branch's version, in the working
//!    tree and in the index — else it holds the user's edit (staged or not), which would be
//!    overwritten, and nothing happens ([`StoreError::DirtyWorktree`]); an untracked file where
//!    a new file must go is refused too ([`StoreError::UntrackedInTheWay`]). Files the snapshot
//!    does not change are never looked at, nor touched, as with `git checkout`.
//! 4. Objects the repository does not have are written as one pack, then the commit object.
//! 5. With a working tree, the files that changed between the two trees are written and a new
//!    index prepared, under the index lock and a record of the checkout (`checkout`); every
//!    other file, and every index entry of another path (a change the user staged), is left as
//!    it is.
//! 6. The branch moves to the new commit, compare-and-swap against the commit it was at in step
//!    1, with a reflog entry (also in bare repositories); then the new index is put in place.
//!
//! A failure anywhere before step 6, or step 6 itself failing (a commit was made on the branch
//! meanwhile: [`StoreError::BranchMoved`]), leaves every ref where it was and the working tree
//! and the index as they were: the written files are rolled back. Objects already written are
//! unreferenced and harmless (`git gc` prunes them). `kill -9` at any point leaves either the
//! old commit or the complete new one, and the next run's step 0 brings the files and the index
//! to it. The failpoints of [`crate::failpoint`] stop a run between these steps for the tests.
//!
//! Reading ([`Store::tree_index`], [`Store::load_snapshot`]) is split so that callers compare
//! blob ids first and parse only the files that differ: parsing YAML is the expensive part.

mod build;
mod checkout;
mod commit;
mod desired;
mod lock;
mod message;
mod pack;
mod pending;
mod read;
pub mod timing;
mod tree;
mod worktree;

#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use git2::{Oid, Repository, RepositoryInitOptions, RepositoryOpenFlags};

pub use build::KindState;
pub use checkout::Recovered;
pub use commit::CommitOutcome;
pub use desired::{DesiredFiles, DesiredObjects, FileRef};
pub use lock::{LockOwner, RepoLock};
pub use message::{parse_git_date, ChangeSummary, CommitOptions, KindChanges};
pub use pack::blob_id;
pub use pending::{observed_kinds, DesiredChange, TRAILER};
pub use read::{FileChange, TreeIndex};

/// A typed failure of the store, with a hint for the person at the keyboard.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{} is not a git repository", path.display())]
    NotARepository { path: PathBuf },
    #[error("the repository has no commits yet")]
    NoCommits,
    #[error("unknown revision `{rev}`")]
    UnknownRevision { rev: String },
    #[error("the repository is locked by another tenantgit ({})", lock_owner(*pid, path))]
    Locked { pid: Option<u32>, path: PathBuf },
    #[error("an untracked file is where the snapshot must write {path}")]
    UntrackedInTheWay { path: String },
    #[error("HEAD is detached; tenantgit commits snapshots on a branch")]
    DetachedHead,
    #[error("uncommitted changes in managed files: {}{}", paths.join(", "), more_suffix(*more))]
    DirtyWorktree { paths: Vec<String>, more: usize },
    #[error("objects {} map to the same file {path}", ids.join(" and "))]
    PathCollision { path: String, ids: Vec<String> },
    #[error("moving {branch} to the new commit (did another program change it meanwhile?)")]
    BranchMoved { branch: String },
    #[error("the index is locked by another git command ({})", path.display())]
    IndexLocked { path: PathBuf },
    #[error(
        "HEAD holds {count} desired change{} that the tenant does not have: {}{} ({})",
        if *count == 1 { "" } else { "s" },
        objects.join(", "),
        more_suffix(count.saturating_sub(objects.len())),
        commits.join(", ")
    )]
    Unapplied {
        count: usize,
        /// The first few, by path.
        objects: Vec<String>,
        /// The commits that made them: `commit 1a2b3c4d5e "title"`.
        commits: Vec<String>,
    },
    #[error("{} is a bare repository and has no working tree", path.display())]
    NoWorktree { path: PathBuf },
    /// An object file that is not a valid object file.
    #[error("invalid object file {0}")]
    File(#[from] crate::yaml::YamlError),
    /// The index is in a form libgit2 cannot read (git's sparse index), so tenantgit cannot tell
    /// which files are checked out.
    #[error("cannot read the index: {detail}")]
    UnreadableIndex { detail: String },
    #[error("{context}")]
    Git {
        context: String,
        #[source]
        source: git2::Error,
    },
    #[error("{context}: {}", path.display())]
    Io {
        context: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn lock_owner(pid: Option<u32>, path: &Path) -> String {
    match pid {
        Some(pid) => format!("pid {pid}, {}", path.display()),
        None => path.display().to_string(),
    }
}

fn more_suffix(more: usize) -> String {
    if more == 0 {
        String::new()
    } else {
        format!(" and {more} more")
    }
}

impl StoreError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            StoreError::NotARepository { .. } => {
                "run `tenantgit snapshot` in an empty folder to create one, or pass -C DIR".into()
            }
            StoreError::NoCommits => "run `tenantgit snapshot` first to make one".into(),
            StoreError::UntrackedInTheWay { .. } => {
                "move the file away (nothing was committed) and run the snapshot again".into()
            }
            StoreError::UnknownRevision { .. } => {
                "use a commit id, a branch, a tag or an expression like HEAD~1; `git log --oneline` lists commits".into()
            }
            StoreError::Locked { path, .. } => format!(
                "another tenantgit is running on this repository; if none is (a lock of a process that is gone on this machine is taken over by itself, so it may be another machine's), remove {}",
                path.display()
            ),
            StoreError::DetachedHead => {
                "check out a branch first, e.g. `git switch main`".into()
            }
            StoreError::DirtyWorktree { .. } => {
                "these are edits made outside tenantgit (the files of an interrupted snapshot are recognised and repaired by itself), and the snapshot would overwrite them: stash them (`git stash`) or discard them (`git checkout -- PATH`), or commit them if they are changes to apply, then run again".into()
            }
            StoreError::Unapplied { .. } => {
                "a snapshot now would revert them; apply them first (`tenantgit apply --yes`), or discard them and record the tenant as it is with `tenantgit snapshot --record-drift`; nothing was committed".into()
            }
            StoreError::BranchMoved { .. } => {
                "a commit was made on the branch during the snapshot; nothing was committed and the working tree is as it was: run the snapshot again".into()
            }
            StoreError::IndexLocked { path } => format!(
                "wait for that git command to finish and run again; if none is running, remove {}",
                path.display()
            ),
            StoreError::PathCollision { .. } => {
                "this is a bug in tenantgit; please report it with the two ids".into()
            }
            StoreError::NoWorktree { .. } => {
                "use a clone with a working tree, or compare commits with `tenantgit diff REV1 REV2`".into()
            }
            StoreError::File(_) => {
                "fix the file (or restore it with `git checkout -- PATH`) and run again".into()
            }
            StoreError::UnreadableIndex { .. } => {
                "git's sparse index is not supported: `git config index.sparse false && git sparse-checkout reapply` keeps the sparse checkout with a full index".into()
            }
            StoreError::Git { .. } | StoreError::Io { .. } => return None,
        })
    }

    pub(crate) fn git(context: impl Into<String>) -> impl FnOnce(git2::Error) -> StoreError {
        let context = context.into();
        move |source| StoreError::Git { context, source }
    }

    pub(crate) fn io(
        context: impl Into<String>,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> StoreError {
        let context = context.into();
        let path = path.into();
        move |source| StoreError::Io {
            context,
            path,
            source,
        }
    }
}

/// Where tenantgit keeps its notes on snapshot commits (the delta tokens of the next round).
pub const NOTES_REF: &str = "refs/notes/tenantgit";

/// A snapshot repository, bare or with a working tree.
pub struct Store {
    repo: Repository,
    /// The last [`Store::tree_index`] made, by commit.
    last_index: RefCell<Option<(Oid, Rc<TreeIndex>)>>,
}

impl Store {
    fn new(repo: Repository) -> Store {
        Store {
            repo,
            last_index: RefCell::new(None),
        }
    }

    /// The repository at DIR, found as `git -C DIR` finds it (DIR or a folder above it).
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        match Repository::open_ext(
            dir,
            RepositoryOpenFlags::empty(),
            std::iter::empty::<&str>(),
        ) {
            Ok(repo) => Ok(Store::new(repo)),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Err(StoreError::NotARepository {
                path: dir.to_path_buf(),
            }),
            Err(e) => Err(StoreError::git(format!("opening {}", dir.display()))(e)),
        }
    }

    /// The repository at DIR, or a new non-bare one on branch `main` (DIR is created when
    /// missing). The boolean says whether it was created. A repository above DIR is used only
    /// when it is a tenantgit repository (it has `tenantgit.toml`), so that a snapshot never
    /// lands in some unrelated enclosing project.
    pub fn open_or_init(dir: &Path) -> Result<(Store, bool), StoreError> {
        if let Ok(repo) = Repository::open_ext(
            dir,
            RepositoryOpenFlags::NO_SEARCH,
            std::iter::empty::<&str>(),
        ) {
            return Ok((Store::new(repo), false));
        }
        if let Ok(store) = Store::open(dir) {
            if store.read_file("tenantgit.toml")?.is_some() {
                return Ok((store, false));
            }
        }
        let mut opts = RepositoryInitOptions::new();
        opts.initial_head("main").mkpath(true);
        let repo = Repository::init_opts(dir, &opts).map_err(StoreError::git(format!(
            "creating a repository in {}",
            dir.display()
        )))?;
        Ok((Store::new(repo), true))
    }

    /// The underlying libgit2 repository, for what the store does not cover.
    pub fn repository(&self) -> &Repository {
        &self.repo
    }

    pub fn is_bare(&self) -> bool {
        self.repo.is_bare()
    }

    pub fn workdir(&self) -> Option<&Path> {
        self.repo.workdir()
    }

    /// The git folder shared by every worktree of the repository: where tenantgit keeps its
    /// lock and its restore journals.
    pub fn common_dir(&self) -> &Path {
        self.repo.commondir()
    }

    /// The note tenantgit keeps on `commit` (`refs/notes/tenantgit`), when there is one.
    pub fn note(&self, commit: Oid) -> Result<Option<String>, StoreError> {
        match self.repo.find_note(Some(NOTES_REF), commit) {
            Ok(note) => Ok(note.message().map(str::to_string)),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
            Err(e) => Err(StoreError::git(format!("reading the note of {commit}"))(e)),
        }
    }

    /// Sets tenantgit's note on `commit`, replacing any earlier one.
    pub fn set_note(&self, commit: Oid, text: &str) -> Result<(), StoreError> {
        let sig = git2::Signature::now("tenantgit", "tenantgit@localhost")
            .map_err(StoreError::git("making the note's signature"))?;
        self.repo
            .note(&sig, &sig, Some(NOTES_REF), commit, text, true)
            .map_err(StoreError::git(format!("writing the note of {commit}")))?;
        Ok(())
    }

    /// The first commit on `HEAD`'s first-parent chain (`HEAD` included) that carries a note,
    /// looking at most `depth` commits back.
    pub fn last_noted(&self, depth: usize) -> Result<Option<(Oid, String)>, StoreError> {
        let Some(head) = self.head()? else {
            return Ok(None);
        };
        let mut next = Some(
            self.repo
                .find_commit(head)
                .map_err(StoreError::git("reading HEAD"))?,
        );
        for _ in 0..depth {
            let Some(commit) = next else { break };
            if let Some(text) = self.note(commit.id())? {
                return Ok(Some((commit.id(), text)));
            }
            next = commit.parent(0).ok();
        }
        Ok(None)
    }

    /// The `.git` folder (or the bare repository itself).
    pub fn git_dir(&self) -> &Path {
        self.repo.path()
    }

    /// The commit a revision names: `HEAD`, `main~2`, a sha prefix, `origin/main`, a tag.
    pub fn resolve(&self, rev: &str) -> Result<Oid, StoreError> {
        match self.repo.revparse_single(rev) {
            Ok(obj) => obj
                .peel_to_commit()
                .map(|c| c.id())
                .map_err(|_| StoreError::UnknownRevision { rev: rev.into() }),
            Err(_) if self.head()?.is_none() => Err(StoreError::NoCommits),
            Err(_) => Err(StoreError::UnknownRevision { rev: rev.into() }),
        }
    }

    /// The commit `HEAD` points at; `None` on an unborn branch.
    pub fn head(&self) -> Result<Option<Oid>, StoreError> {
        match self.repo.head() {
            Ok(r) => Ok(r.target()),
            Err(e)
                if matches!(
                    e.code(),
                    git2::ErrorCode::UnbornBranch | git2::ErrorCode::NotFound
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(StoreError::git("reading HEAD")(e)),
        }
    }

    /// Text of a file that is not an object file, e.g. `tenantgit.toml`: from the working tree
    /// when there is one, else from `HEAD`. `None` when it does not exist.
    pub fn read_file(&self, path: &str) -> Result<Option<String>, StoreError> {
        if let Some(workdir) = self.repo.workdir() {
            let full = workdir.join(path);
            return match std::fs::read_to_string(&full) {
                Ok(text) => Ok(Some(text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(StoreError::io("reading", full)(e)),
            };
        }
        let Some(head) = self.head()? else {
            return Ok(None);
        };
        let tree = self
            .repo
            .find_commit(head)
            .and_then(|c| c.tree())
            .map_err(StoreError::git("reading HEAD's tree"))?;
        let entry = match tree.get_path(Path::new(path)) {
            Ok(e) => e,
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::git(format!("looking up {path}"))(e)),
        };
        let bytes = self.read_blob(entry.id())?;
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// The bytes of a blob.
    pub fn read_blob(&self, oid: Oid) -> Result<Vec<u8>, StoreError> {
        let blob = self
            .repo
            .find_blob(oid)
            .map_err(StoreError::git(format!("reading blob {oid}")))?;
        Ok(blob.content().to_vec())
    }
}
