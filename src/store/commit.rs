//! Writing a snapshot: files and trees hashed in memory, only new objects packed, a commit only
//! when the tree changed (the module doc of `store` lists the steps and what a failure leaves).

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use git2::{Oid, Signature};

use super::checkout::Checkout;
use super::message::{self, ChangeSummary, CommitOptions, NewFile, OldFile};
use super::pack::{blob_id, write_pack, Deflater, ObjKind, PackEntry};
use super::pending::{self, DesiredChange};
use super::tree::{empty_tree_id, Dir, Node, FILE_MODE};
use super::{Store, StoreError};
use crate::failpoint;
use crate::layout;
use crate::model::{Object, Snapshot};
use crate::schema::KindSpec;
use crate::yaml;

/// Objects in a first snapshot above which its pack is stored uncompressed.
const LARGE_FIRST_SNAPSHOT: usize = 20_000;

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

/// The new state of one kind's files: files carried over unchanged from an earlier snapshot
/// (an incremental read changes only what Graph reported), and the objects whose files are
/// written. A full read has no kept files.
pub struct KindState<'a> {
    pub kind: &'static KindSpec,
    /// (path, blob id) of files kept as they are.
    pub kept: Vec<(String, Oid)>,
    pub objects: Vec<&'a Object>,
}

impl<'a> KindState<'a> {
    /// Every object of the kind in `snapshot`, nothing kept.
    pub fn full(kind: &'static KindSpec, snapshot: &'a Snapshot) -> KindState<'a> {
        KindState {
            kind,
            kept: Vec::new(),
            objects: snapshot
                .objects
                .values()
                .filter(|o| o.kind.name() == kind.kind)
                .collect(),
        }
    }
}

/// The new tree and what it takes to write it.
struct Built {
    tree: Oid,
    /// Objects the repository lacks, compressed.
    pack: Vec<PackEntry>,
    summary: ChangeSummary,
}

/// One object's file, hashed, compressed when the old tree does not have it.
struct Prepared<'a> {
    object: &'a Object,
    path: String,
    oid: Oid,
    entry: Option<PackEntry>,
}

fn in_scope(kinds: &[&'static KindSpec], kind: &KindSpec) -> bool {
    kinds.iter().any(|k| k.kind == kind.kind)
}

/// Whether a folder may hold object files of the kinds being written.
fn may_own(kinds: &[&'static KindSpec], folder: &str) -> bool {
    let below = format!("{folder}/");
    kinds.iter().any(|k| match &k.file {
        Some(file) => file.starts_with(&below),
        None => {
            k.dir == folder
                || k.dir.starts_with(&below)
                || folder.starts_with(&format!("{}/", k.dir))
        }
    })
}

/// Removes the object files of the kinds being written from a tree copied from the old
/// commit, expanding only folders that may hold them; records what was removed and every id
/// seen on the way.
fn prune(
    repo: &git2::Repository,
    dir: &mut Dir,
    prefix: &str,
    kinds: &[&'static KindSpec],
    known: &mut HashSet<Oid>,
    old: &mut Vec<OldFile>,
) -> Result<(), git2::Error> {
    let entries = std::mem::take(&mut dir.entries);
    for (name, node) in entries {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        let node = match node {
            Node::Leaf { oid, mode } => {
                known.insert(oid);
                match layout::kind_for_path(&path).filter(|k| in_scope(kinds, k)) {
                    Some(kind) => {
                        old.push(OldFile { kind, path, oid });
                        continue;
                    }
                    None => Node::Leaf { oid, mode },
                }
            }
            Node::Tree(oid) if may_own(kinds, &path) => {
                known.insert(oid);
                let mut sub = Dir::from_tree(repo, oid)?;
                prune(repo, &mut sub, &path, kinds, known, old)?;
                Node::Dir(sub)
            }
            Node::Dir(mut sub) => {
                prune(repo, &mut sub, &path, kinds, known, old)?;
                Node::Dir(sub)
            }
            other => other,
        };
        dir.entries.insert(name, node);
    }
    Ok(())
}

/// Paths and hashes of every object file, computed on all cores; file bytes the old tree does
/// not have are compressed for the pack right away, so that only compressed data is kept.
fn prepare<'a>(objects: &[&'a Object], known: &HashSet<Oid>, level: u32) -> Vec<Prepared<'a>> {
    let one = |object: &&'a Object, deflater: &mut Deflater| {
        let path = layout::path_for(object.kind.spec(), &object.id, object.name_for_path());
        let text = yaml::emit_object(object);
        let oid = blob_id(text.as_bytes());
        let entry = (!known.contains(&oid))
            .then(|| PackEntry::new(ObjKind::Blob, text.as_bytes(), deflater));
        Prepared {
            object,
            path,
            oid,
            entry,
        }
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if threads == 1 || objects.len() < 512 {
        let mut deflater = Deflater::with_level(level);
        return objects.iter().map(|o| one(o, &mut deflater)).collect();
    }
    let chunk = objects.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = objects
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut deflater = Deflater::with_level(level);
                    part.iter()
                        .map(|o| one(o, &mut deflater))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("hashing threads do not panic"))
            .collect()
    })
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
        self.recover_interrupted()?;
        let branch = self.current_branch()?;
        let parent = match repo.find_reference(&branch) {
            Ok(r) => Some(
                r.peel_to_commit()
                    .map_err(StoreError::git(format!("reading {branch}")))?,
            ),
            Err(e) if e.code() == git2::ErrorCode::NotFound => None,
            Err(e) => return Err(StoreError::git(format!("reading {branch}"))(e)),
        };
        if repo.workdir().is_some() {
            self.check_clean(kinds)?;
        }
        let live = |kind: &'static KindSpec, id: &str| self.live_object(states, kind, id);
        let desired = match &parent {
            Some(p) => self.desired_changes(p.id(), kinds, &live, &options.recreated)?,
            None => Vec::new(),
        };
        let unapplied: Vec<&DesiredChange> = desired.iter().filter(|d| !d.applied).collect();
        if !unapplied.is_empty() && !options.record_drift {
            return Err(pending::refusal(&unapplied));
        }
        let parent_tree = parent.as_ref().map(|c| c.tree_id());
        let Built {
            tree,
            pack,
            summary,
        } = self.build(states, extra_files, parent_tree, options.max_named)?;
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
        let bytes_written = write_pack(&odb, &pack).map_err(StoreError::git("writing the pack"))?;
        let objects_written = pack.len();
        drop(pack);
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

        let log_message = format!("tenantgit: {}", options.message_title);
        let worktree_seconds = self.publish(
            &branch,
            parent.as_ref().map(|p| (p.id(), p.tree_id())),
            commit,
            tree,
            &sig,
            &log_message,
        )?;
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

    /// The new tree: the old one without the object files of `kinds`, the snapshot's files and
    /// `extra_files` laid over it. Objects the repository lacks are compressed for the pack.
    fn build(
        &self,
        states: &[KindState<'_>],
        extra_files: &[(String, Vec<u8>)],
        parent_tree: Option<Oid>,
        max_named: usize,
    ) -> Result<Built, StoreError> {
        let kinds: Vec<&'static KindSpec> = states.iter().map(|s| s.kind).collect();
        let kinds = kinds.as_slice();
        let repo = &self.repo;
        // The old tree without the object files being replaced.
        let mut known = HashSet::new();
        let mut old = Vec::new();
        let mut root = match parent_tree {
            Some(t) => Dir::from_tree(repo, t).map_err(StoreError::git("reading HEAD's tree"))?,
            None => Dir::default(),
        };
        prune(repo, &mut root, "", kinds, &mut known, &mut old)
            .map_err(StoreError::git("reading HEAD's tree"))?;

        let objects: Vec<&Object> = states
            .iter()
            .flat_map(|s| s.objects.iter().copied())
            .collect();
        // The first snapshot of a large tenant is stored uncompressed in its pack: it is written
        // in well under half the time, and git's own maintenance (`git gc`) compresses it.
        let level = if parent_tree.is_none() && objects.len() > LARGE_FIRST_SNAPSHOT {
            Deflater::STORED
        } else {
            Deflater::FAST
        };
        let mut prepared = prepare(&objects, &known, level);

        let odb = repo
            .odb()
            .map_err(StoreError::git("opening the object database"))?;
        let is_new = |oid: Oid, queued: &HashSet<Oid>| {
            !known.contains(&oid)
                && !queued.contains(&oid)
                && !odb.exists_ext(oid, git2::OdbLookupFlags::NO_REFRESH)
        };
        let mut queued: HashSet<Oid> = HashSet::new();
        let mut pack: Vec<PackEntry> = Vec::new();
        let mut placed: HashMap<String, String> = HashMap::new();
        let mut deflater = Deflater::new();
        let insert_err = |path: &str| StoreError::git(format!("building the tree at {path}"));

        for (path, bytes) in extra_files {
            let oid = blob_id(bytes);
            if is_new(oid, &queued) {
                queued.insert(oid);
                pack.push(PackEntry::new(ObjKind::Blob, bytes, &mut deflater));
            }
            root.insert(repo, path, oid, FILE_MODE)
                .map_err(insert_err(path))?;
            placed.insert(path.clone(), format!("file {path}"));
        }
        // Kept files: already in the repository, placed as they are.
        let kept: Vec<(&'static KindSpec, &str, Oid, String, String)> = states
            .iter()
            .flat_map(|s| {
                s.kept.iter().map(move |(path, oid)| {
                    let id = layout::id_hint_from_path(s.kind, path).unwrap_or_default();
                    (
                        s.kind,
                        path.as_str(),
                        *oid,
                        id,
                        message::name_from_path(path),
                    )
                })
            })
            .collect();
        for (_, path, oid, id, _) in &kept {
            if let Some(other) = placed.insert(path.to_string(), id.clone()) {
                return Err(StoreError::PathCollision {
                    path: path.to_string(),
                    ids: vec![other, id.clone()],
                });
            }
            root.insert(repo, path, *oid, FILE_MODE)
                .map_err(insert_err(path))?;
        }
        for p in &mut prepared {
            if let Some(other) = placed.insert(p.path.clone(), p.object.id.clone()) {
                return Err(StoreError::PathCollision {
                    path: p.path.clone(),
                    ids: vec![other, p.object.id.clone()],
                });
            }
            root.insert(repo, &p.path, p.oid, FILE_MODE)
                .map_err(insert_err(&p.path))?;
            if let Some(entry) = p.entry.take() {
                if is_new(p.oid, &queued) {
                    queued.insert(p.oid);
                    pack.push(entry);
                }
            }
        }

        let mut trees: Vec<(Oid, Vec<u8>)> = Vec::new();
        let tree = root
            .hash(&mut |oid, data| trees.push((oid, data)))
            .unwrap_or_else(|| {
                trees.push((empty_tree_id(), Vec::new()));
                empty_tree_id()
            });
        let names: Vec<String> = prepared
            .iter()
            .map(|p| p.object.name_for_path().to_string())
            .collect();
        let new_files: Vec<NewFile<'_>> = prepared
            .iter()
            .zip(&names)
            .map(|(p, name)| NewFile {
                kind: p.object.kind.spec(),
                id: &p.object.id,
                name,
                path: &p.path,
                oid: p.oid,
            })
            .chain(kept.iter().map(|(kind, path, oid, id, name)| NewFile {
                kind,
                id,
                name,
                path,
                oid: *oid,
            }))
            .collect();
        let summary = self.summarize(kinds, &new_files, old, max_named);
        if parent_tree != Some(tree) {
            for (oid, data) in &trees {
                if is_new(*oid, &queued) {
                    queued.insert(*oid);
                    pack.push(PackEntry::new(ObjKind::Tree, data, &mut deflater));
                }
            }
        }
        Ok(Built {
            tree,
            pack,
            summary,
        })
    }

    /// Checks the new tree out (with a working tree; see `checkout`) and moves `branch` from
    /// `parent` (commit, tree) to `commit`, compare-and-swap. When the branch cannot move, the
    /// working tree is rolled back before the error returns. Returns the seconds spent on the
    /// working tree.
    fn publish(
        &self,
        branch: &str,
        parent: Option<(Oid, Oid)>,
        commit: Oid,
        tree: Oid,
        sig: &Signature<'_>,
        log_message: &str,
    ) -> Result<f64, StoreError> {
        let repo = &self.repo;
        let started = Instant::now();
        let checkout = match repo.workdir() {
            // A commit that only marks desired changes as observed changes no file.
            Some(_) if parent.map(|(_, t)| t) == Some(tree) => None,
            Some(workdir) => Some(Checkout::prepare(
                repo,
                workdir,
                parent.map(|(_, t)| t),
                tree,
                commit,
                branch,
                parent.map(|(c, _)| c),
            )?),
            None => None,
        };
        let worktree_seconds = started.elapsed().as_secs_f64();
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
