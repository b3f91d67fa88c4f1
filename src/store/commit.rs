//! Writing a snapshot: files and trees hashed in memory, only new objects packed, a commit only
//! when the tree changed (the module doc of `store` lists the steps and what a failure leaves).

use std::time::Instant;

use git2::{Oid, Signature};

use super::build::{Built, KindState};
use super::checkout::{BranchMove, Checkout};
use super::message::{self, ChangeSummary, CommitOptions};
use super::pack::{write_pack, Spool};
use super::pending::{self, DesiredChange};
use super::worktree::{self, Change};
use super::{Store, StoreError};
use crate::failpoint;
use crate::layout;
use crate::model::{Object, Snapshot};
use crate::schema::KindSpec;
use crate::yaml;

/// What a snapshot commit did.
#[derive(Debug, Clone)]
pub struct CommitOutcome {
    /// The new commit; `None` when the tree was unchanged and nothing was written.
    pub commit: Option<Oid>,
    /// The snapshot's tree (the current one when unchanged).
    pub tree: Oid,
    pub summary: ChangeSummary,
    /// The desired changes `HEAD` held for the kinds written (see `pending`): all applied, or
    /// some discarded with `record_drift`.
    pub desired: Vec<DesiredChange>,
    /// Objects written to the pack (blobs and trees; the commit object not counted).
    pub objects_written: usize,
    /// Size of the pack written, in bytes.
    pub bytes_written: u64,
    /// Wall time of the whole commit, in seconds.
    pub git_seconds: f64,
    /// Of `git_seconds`, the time spent writing files into the working tree (0 when bare): it
    /// depends on the file system more than on tenantgit.
    pub worktree_seconds: f64,
}

impl Store {
    /// The branch `HEAD` names (possibly unborn); a detached `HEAD` is refused.
    fn current_branch(&self) -> Result<String, StoreError> {
        let head = self
            .repo
            .find_reference("HEAD")
            .map_err(StoreError::git("reading HEAD"))?;
        match head.symbolic_target() {
            Some(name) => Ok(name.to_string()),
            None => Err(StoreError::DetachedHead),
        }
    }

    /// Writes `snapshot` as the new state of `kinds` and commits it on the current branch when
    /// the tree changed. Objects of other kinds in `snapshot` are ignored; files of other kinds
    /// and files that are not object files are carried over from `HEAD`; `extra_files` are laid
    /// over the result. See the module doc for the steps and their failure modes. Callers hold
    /// the repository lock ([`Store::lock`]).
    pub fn commit_snapshot(
        &self,
        snapshot: &Snapshot,
        kinds: &[&'static KindSpec],
        extra_files: &[(String, Vec<u8>)],
        options: &CommitOptions,
    ) -> Result<CommitOutcome, StoreError> {
        let states: Vec<KindState<'_>> =
            kinds.iter().map(|k| KindState::full(k, snapshot)).collect();
        self.commit_states(&states, extra_files, options)
    }

    /// [`Store::commit_snapshot`] from the new state of each kind's files.
    pub fn commit_states(
        &self,
        states: &[KindState<'_>],
        extra_files: &[(String, Vec<u8>)],
        options: &CommitOptions,
    ) -> Result<CommitOutcome, StoreError> {
        let kinds: Vec<&'static KindSpec> = states.iter().map(|s| s.kind).collect();
        let kinds = kinds.as_slice();
        let start = Instant::now();
        let repo = &self.repo;
        super::timing::mark("commit: start");
        self.recover_interrupted()?;
        super::timing::mark("commit: recover_interrupted");
        let branch = self.current_branch()?;
        let parent = match repo.find_reference(&branch) {
            Ok(r) => Some(
                r.peel_to_commit()
                    .map_err(StoreError::git(format!("reading {branch}")))?,
            ),
            Err(e) if e.code() == git2::ErrorCode::NotFound => None,
            Err(e) => return Err(StoreError::git(format!("reading {branch}"))(e)),
        };
        let parent_tree = parent.as_ref().map(|c| c.tree_id());
        let Built {
            tree,
            mut pack,
            summary,
            changes,
        } = self.build(
            states,
            extra_files,
            parent.as_ref().map(|p| (p.id(), p.tree_id())),
            options.max_named,
        )?;
        super::timing::mark("commit: build");
        // Files the snapshot writes or removes must hold what the branch has (else they are the
        // user's edits, which it would overwrite); the others are never touched.
        if let Some(workdir) = repo.workdir() {
            match &changes {
                Some(changes) => worktree::check_clean(repo, workdir, changes)?,
                None => self.check_clean_kinds(kinds)?,
            }
        }
        super::timing::mark("commit: check_clean");
        let live = |kind: &'static KindSpec, id: &str| self.live_object(states, kind, id);
        let desired = match &parent {
            Some(p) => self.desired_changes(p.id(), kinds, &live, &options.recreated)?,
            None => Vec::new(),
        };
        super::timing::mark("commit: desired_changes");
        let unapplied: Vec<&DesiredChange> = desired.iter().filter(|d| !d.applied).collect();
        if !unapplied.is_empty() && !options.record_drift {
            return Err(pending::refusal(&unapplied));
        }
        // Desired changes now in the tenant need a snapshot commit even when the tree is the same:
        // it marks them observed, so that a later change of those objects in the tenant is
        // recorded as drift, not mistaken for a change still to apply.
        if parent_tree == Some(tree) && desired.is_empty() {
            return Ok(CommitOutcome {
                commit: None,
                tree,
                summary,
                desired,
                objects_written: 0,
                bytes_written: 0,
                git_seconds: start.elapsed().as_secs_f64(),
                worktree_seconds: 0.0,
            });
        }
        let odb = repo
            .odb()
            .map_err(StoreError::git("opening the object database"))?;
        let objects_written = pack.len();
        let pack_dir = repo.commondir().join("objects").join("pack");
        let bytes_written =
            write_pack(&odb, &pack_dir, &mut pack).map_err(StoreError::git("writing the pack"))?;
        super::timing::mark("commit: write_pack");
        failpoint::hit("snapshot.pack-written", repo.path());

        let tree_obj = repo
            .find_tree(tree)
            .map_err(StoreError::git("reading the new tree back"))?;
        let sig = self.signature(options)?;
        let message = message::compose(
            &options.message_title,
            &summary,
            kinds,
            options.max_named,
            &desired,
        );
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        let commit = repo
            .commit(None, &sig, &sig, &message, &tree_obj, &parents)
            .map_err(StoreError::git("writing the commit"))?;
        failpoint::hit("snapshot.commit-written", repo.path());
        super::timing::mark("commit: commit object");

        let log_message = format!("tenantgit: {}", options.message_title);
        let to = BranchMove {
            branch: &branch,
            parent: parent.as_ref().map(|p| (p.id(), p.tree_id())),
            commit,
            tree,
        };
        let worktree_seconds = self.publish(to, changes, &pack, &sig, &log_message)?;
        super::timing::mark("commit: publish");
        Ok(CommitOutcome {
            commit: Some(commit),
            tree,
            summary,
            desired,
            objects_written,
            bytes_written,
            git_seconds: start.elapsed().as_secs_f64(),
            worktree_seconds,
        })
    }

    /// Checks the new tree out (with a working tree; see `checkout`) and moves the branch,
    /// compare-and-swap. When the branch cannot move, the
    /// working tree is rolled back before the error returns. Returns the seconds spent on the
    /// working tree.
    fn publish(
        &self,
        to: BranchMove<'_>,
        changes: Option<Vec<Change>>,
        spool: &Spool,
        sig: &Signature<'_>,
        log_message: &str,
    ) -> Result<f64, StoreError> {
        let repo = &self.repo;
        let BranchMove {
            branch,
            parent,
            commit,
            tree,
        } = to;
        let started = Instant::now();
        let checkout = match repo.workdir() {
            // A commit that only marks desired changes as observed changes no file.
            Some(_) if parent.map(|(_, t)| t) == Some(tree) => None,
            Some(workdir) => Some(Checkout::prepare(repo, workdir, to, changes, spool)?),
            None => None,
        };
        let worktree_seconds = started.elapsed().as_secs_f64();
        super::timing::mark("publish: checkout prepare");
        let moved = match parent {
            Some((p, _)) => repo.reference_matching(branch, commit, true, p, log_message),
            None => repo.reference(branch, commit, false, log_message),
        };
        if let Err(e) = moved {
            if let Some(checkout) = checkout {
                // A failed roll-back leaves its record for the next run; this error is the news.
                let _ = checkout.roll_back();
            }
            return Err(match e.code() {
                git2::ErrorCode::Modified | git2::ErrorCode::Exists => StoreError::BranchMoved {
                    branch: branch.to_string(),
                },
                _ => StoreError::git(format!("moving {branch} to the new commit"))(e),
            });
        }
        // libgit2 logs ref updates only where core.logAllRefUpdates says so, which is off in
        // bare repositories; the history of snapshots should be in the reflog everywhere.
        for name in [branch, "HEAD"] {
            self.ensure_reflog_entry(name, commit, sig, log_message)
                .map_err(StoreError::git(format!("writing the reflog of {name}")))?;
        }
        failpoint::hit("snapshot.ref-moved", repo.path());
        super::timing::mark("publish: ref + reflog");
        let finish_started = Instant::now();
        if let Some(checkout) = checkout {
            checkout.finish()?;
        }
        Ok(worktree_seconds + finish_started.elapsed().as_secs_f64())
    }

    /// The object of `kind` with this id as the new state has it: written anew, kept from an
    /// earlier snapshot (read from its file), or absent.
    fn live_object(
        &self,
        states: &[KindState<'_>],
        kind: &'static KindSpec,
        id: &str,
    ) -> Option<Object> {
        let state = states.iter().find(|s| s.kind.kind == kind.kind)?;
        if let Some(o) = state.objects.iter().find(|o| o.id == id) {
            return Some((*o).clone());
        }
        if let Some(f) = state.frozen.iter().find(|f| f.id == id) {
            return f.thaw().ok();
        }
        let safe = layout::safe_component(id);
        let (path, oid) = state
            .kept
            .iter()
            .find(|(path, _)| layout::id_hint_from_path(kind, path).as_deref() == Some(&safe))?;
        let text = String::from_utf8(self.read_blob(*oid).ok()?).ok()?;
        yaml::parse_object(kind, std::path::Path::new(path), &text).ok()
    }

    fn ensure_reflog_entry(
        &self,
        name: &str,
        new: Oid,
        sig: &Signature<'_>,
        message: &str,
    ) -> Result<(), git2::Error> {
        let mut reflog = self.repo.reflog(name)?;
        if reflog.get(0).is_some_and(|e| e.id_new() == new) {
            return Ok(());
        }
        reflog.append(new, sig, Some(message))?;
        reflog.write()
    }
}
