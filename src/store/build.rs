//! The tree of a new snapshot, built as the difference from the branch's tree: only the files
//! that differ are placed, so only the folders holding them are read, rebuilt and hashed, and a
//! snapshot that changes 1% of the files costs about 1% of a full one. Every file is hashed in
//! memory; file bytes the repository lacks are compressed for the pack right away.

use std::collections::{HashMap, HashSet};

use git2::Oid;

use super::message::{name_from_path, ChangeSummary, NewFile, OldFile};
use super::pack::{blob_id, pack_entry, Deflater, ObjKind, Spool};
use super::tree::{empty_tree_id, Dir, Displaced, FILE_MODE};
use super::worktree::Change;
use super::{Store, StoreError};
use crate::frozen::Frozen;
use crate::layout;
use crate::model::{Object, Snapshot};
use crate::schema::KindSpec;
use crate::yaml;

/// Objects in a first snapshot above which its pack is stored uncompressed.
const LARGE_FIRST_SNAPSHOT: usize = 20_000;

/// The new state of one kind's files: files carried over unchanged from an earlier snapshot
/// (an incremental read changes only what Graph reported), and the objects whose files are
/// written. A full read has no kept files.
pub struct KindState<'a> {
    pub kind: &'static KindSpec,
    /// (path, blob id) of files kept as they are.
    pub kept: &'a [(String, Oid)],
    pub objects: Vec<&'a Object>,
    /// Objects whose files are written, kept as text.
    pub frozen: Vec<&'a Frozen>,
}

impl<'a> KindState<'a> {
    /// Every object of the kind in `snapshot`, nothing kept.
    pub fn full(kind: &'static KindSpec, snapshot: &'a Snapshot) -> KindState<'a> {
        KindState {
            kind,
            kept: &[],
            objects: snapshot
                .objects
                .values()
                .filter(|o| o.kind.name() == kind.kind)
                .collect(),
            frozen: Vec::new(),
        }
    }
}

/// The new tree and what it takes to write it.
pub(super) struct Built {
    pub tree: Oid,
    /// Objects the repository lacks, compressed.
    pub pack: Spool,
    pub summary: ChangeSummary,
    /// The files that differ between the branch's tree and the new one, in path order; `None`
    /// when a file took the place of a folder or the other way round, and only comparing the
    /// two trees tells every path that changed.
    pub changes: Option<Vec<Change>>,
}

/// An object whose file is written: as an object, or frozen as text.
#[derive(Clone, Copy)]
enum Source<'a> {
    Object(&'a Object),
    Frozen(&'a Frozen),
}

impl Source<'_> {
    fn kind(&self) -> &'static KindSpec {
        match self {
            Source::Object(o) => o.kind.spec(),
            Source::Frozen(f) => f.kind.spec(),
        }
    }

    fn id(&self) -> &str {
        match self {
            Source::Object(o) => &o.id,
            Source::Frozen(f) => &f.id,
        }
    }

    fn name_for_path(&self) -> &str {
        match self {
            Source::Object(o) => o.name_for_path(),
            Source::Frozen(f) => &f.name_for_path,
        }
    }

    fn text(&self) -> String {
        match self {
            Source::Object(o) => yaml::emit_object(o),
            Source::Frozen(f) => f.file_text(),
        }
    }
}

/// One object's file, hashed.
struct Prepared<'a> {
    object: Source<'a>,
    path: String,
    oid: Oid,
}

/// An object file of the kinds being written, in the branch's tree.
struct Old {
    kind: &'static KindSpec,
    oid: Oid,
    mode: i32,
}

/// What stands at a path of the new tree, to name both sides of a collision.
enum Placed<'a> {
    Extra,
    Kept(&'static KindSpec),
    Object(Source<'a>),
}

impl Placed<'_> {
    fn label(&self, path: &str) -> String {
        match self {
            Placed::Extra => format!("file {path}"),
            Placed::Kept(kind) => layout::id_hint_from_path(kind, path).unwrap_or_default(),
            Placed::Object(o) => o.id().to_string(),
        }
    }
}

fn in_scope(kinds: &[&'static KindSpec], kind: &KindSpec) -> bool {
    kinds.iter().any(|k| k.kind == kind.kind)
}

/// Paths and hashes of every object file, computed on all cores. The file bytes the old tree
/// does not have are handed to `new_blob` as pack entries as soon as they are made (through a
/// bounded channel), so that only paths and ids stay in memory.
fn prepare<'a>(
    objects: &[Source<'a>],
    known: &HashSet<Oid>,
    level: u32,
    new_blob: &mut dyn FnMut(Oid, Vec<u8>) -> Result<(), StoreError>,
) -> Result<Vec<Prepared<'a>>, StoreError> {
    let one = |object: &Source<'a>, deflater: &mut Deflater| {
        let path = layout::path_for(object.kind(), object.id(), object.name_for_path());
        let text = object.text();
        let oid = blob_id(text.as_bytes());
        let entry =
            (!known.contains(&oid)).then(|| pack_entry(ObjKind::Blob, text.as_bytes(), deflater));
        let object = *object;
        (Prepared { object, path, oid }, entry)
    };
    let threads = crate::parallel::threads();
    if threads == 1 || objects.len() < 512 {
        let mut deflater = Deflater::with_level(level);
        let mut out = Vec::with_capacity(objects.len());
        for o in objects {
            let (prepared, entry) = one(o, &mut deflater);
            if let Some(entry) = entry {
                new_blob(prepared.oid, entry)?;
            }
            out.push(prepared);
        }
        return Ok(out);
    }
    let chunk = objects.len().div_ceil(threads);
    // Entries go to the writer in batches: one hand-over per object would wake it 130k times.
    const BATCH: usize = 64;
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<(Oid, Vec<u8>)>>(8);
        let handles: Vec<_> = objects
            .chunks(chunk)
            .map(|part| {
                let tx = tx.clone();
                s.spawn(move || {
                    let mut deflater = Deflater::with_level(level);
                    let mut out = Vec::with_capacity(part.len());
                    let mut batch = Vec::with_capacity(BATCH);
                    for o in part {
                        let (prepared, entry) = one(o, &mut deflater);
                        if let Some(entry) = entry {
                            batch.push((prepared.oid, entry));
                        }
                        if batch.len() == BATCH {
                            // The receiver drains until every worker is done, even after a
                            // failure, so a send never blocks for good.
                            let _ =
                                tx.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
                        }
                        out.push(prepared);
                    }
                    if !batch.is_empty() {
                        let _ = tx.send(batch);
                    }
                    out
                })
            })
            .collect();
        drop(tx);
        let mut failed = None;
        for (oid, entry) in rx.into_iter().flatten() {
            if failed.is_none() {
                failed = new_blob(oid, entry).err();
            }
        }
        let out: Vec<Prepared<'a>> = handles
            .into_iter()
            .flat_map(|h| h.join().expect("hashing threads do not panic"))
            .collect();
        match failed {
            Some(e) => Err(e),
            None => Ok(out),
        }
    })
}

/// The differences from the old tree, gathered while the new files are placed.
struct Delta<'r> {
    repo: &'r git2::Repository,
    root: Dir,
    /// The old tree's object files of the kinds being written, by path, until a new file
    /// takes their place.
    old: HashMap<&'r str, Old>,
    changes: Vec<Change>,
    /// Whether `changes` is every difference (see [`Built::changes`]).
    exact: bool,
    /// For the summary: new files that differ from the old tree's, as (kind, path, oid, id,
    /// name), and the old files they replace or that are gone.
    added: Vec<(&'static KindSpec, String, Oid, String, String)>,
    replaced: Vec<OldFile>,
}

impl Delta<'_> {
    /// Puts the file at `path`; `kind` is `None` for a file that is not an object file.
    fn place(
        &mut self,
        kind: Option<&'static KindSpec>,
        path: &str,
        oid: Oid,
        id: impl FnOnce() -> String,
        name: impl FnOnce() -> String,
    ) -> Result<(), StoreError> {
        let before = self.old.remove(path);
        if before
            .as_ref()
            .is_some_and(|o| o.oid == oid && o.mode == FILE_MODE)
        {
            return Ok(());
        }
        let displaced = self
            .root
            .insert(self.repo, path, oid, FILE_MODE)
            .map_err(StoreError::git(format!("building the tree at {path}")))?;
        let old = match displaced {
            Displaced::Nothing => None,
            Displaced::File { oid: was, mode } if was == oid && mode == FILE_MODE => return Ok(()),
            Displaced::File { oid: was, .. } => Some(was),
            Displaced::Other => {
                self.exact = false;
                None
            }
        };
        self.changes.push(Change {
            path: path.to_string(),
            old,
            new: Some((oid, FILE_MODE as u32)),
        });
        if let Some(o) = before {
            self.replaced.push(OldFile {
                kind: o.kind,
                path: path.to_string(),
                oid: o.oid,
            });
        }
        if let Some(kind) = kind {
            self.added.push((kind, path.to_string(), oid, id(), name()));
        }
        Ok(())
    }

    /// Removes the old files no new file replaced.
    fn remove_rest(&mut self) -> Result<(), StoreError> {
        for (path, o) in std::mem::take(&mut self.old) {
            self.root
                .remove(self.repo, path)
                .map_err(StoreError::git(format!("building the tree without {path}")))?;
            self.changes.push(Change {
                path: path.to_string(),
                old: Some(o.oid),
                new: None,
            });
            self.replaced.push(OldFile {
                kind: o.kind,
                path: path.to_string(),
                oid: o.oid,
            });
        }
        Ok(())
    }
}

impl Store {
    /// The new tree: the old one with the object files of the kinds of `states` replaced by
    /// theirs, and `extra_files` laid over it. Only files that differ are placed; objects the
    /// repository lacks are compressed for the pack.
    pub(super) fn build(
        &self,
        states: &[KindState<'_>],
        extra_files: &[(String, Vec<u8>)],
        parent: Option<(Oid, Oid)>,
        max_named: usize,
    ) -> Result<Built, StoreError> {
        let kinds: Vec<&'static KindSpec> = states.iter().map(|s| s.kind).collect();
        let kinds = kinds.as_slice();
        let repo = &self.repo;
        let parent_tree = parent.map(|(_, tree)| tree);
        let (root, index) = match parent {
            Some((commit, tree)) => (
                Dir::from_tree(repo, tree).map_err(StoreError::git("reading HEAD's tree"))?,
                Some(self.tree_index(commit)?),
            ),
            None => (Dir::default(), None),
        };
        let old: HashMap<&str, Old> = index
            .iter()
            .flat_map(|index| index.iter_with_modes())
            .filter(|(_, kind, _, _)| in_scope(kinds, kind))
            .map(|(path, kind, oid, mode)| (path, Old { kind, oid, mode }))
            .collect();
        super::timing::mark("build: old files");
        let known: HashSet<Oid> = old.values().map(|o| o.oid).collect();

        let objects: Vec<Source<'_>> = states
            .iter()
            .flat_map(|s| {
                let objects = s.objects.iter().map(|o| Source::Object(o));
                objects.chain(s.frozen.iter().map(|f| Source::Frozen(f)))
            })
            .collect();
        // The first snapshot of a large tenant is stored uncompressed in its pack: it is written
        // in well under half the time, and git's own maintenance (`git gc`) compresses it.
        let level = if parent_tree.is_none() && objects.len() > LARGE_FIRST_SNAPSHOT {
            Deflater::STORED
        } else {
            Deflater::FAST
        };
        let odb = repo
            .odb()
            .map_err(StoreError::git("opening the object database"))?;
        // A repository without a single object (before its first snapshot) has none to look
        // up: 130k lookups are 130k file system calls on the one thread that writes the pack.
        let mut odb_empty = true;
        let _ = odb.foreach(|_| {
            odb_empty = false;
            false
        });
        let is_new = |oid: Oid, queued: &HashSet<Oid>| {
            !known.contains(&oid)
                && !queued.contains(&oid)
                && (odb_empty || !odb.exists_ext(oid, git2::OdbLookupFlags::NO_REFRESH))
        };
        let mut queued: HashSet<Oid> = HashSet::new();
        let mut pack = Spool::new(repo.path());
        let spool_err = || StoreError::io("writing the pack", repo.path());
        let prepared = prepare(&objects, &known, level, &mut |oid, entry| {
            if is_new(oid, &queued) {
                queued.insert(oid);
                pack.push(oid, &entry).map_err(spool_err())?;
            }
            Ok(())
        })?;
        super::timing::mark(&format!("build: prepare {} objects", objects.len()));
        let mut deflater = Deflater::new();
        let mut delta = Delta {
            repo,
            root,
            old,
            changes: Vec::new(),
            exact: true,
            added: Vec::new(),
            replaced: Vec::new(),
        };
        let mut placed: HashMap<&str, Placed<'_>> = HashMap::new();
        let collision =
            |path: &str, first: &Placed<'_>, second: &Placed<'_>| StoreError::PathCollision {
                path: path.to_string(),
                ids: vec![first.label(path), second.label(path)],
            };
        let mut totals: HashMap<&str, usize> = HashMap::new();

        for (path, bytes) in extra_files {
            let oid = blob_id(bytes);
            if is_new(oid, &queued) {
                queued.insert(oid);
                pack.push(oid, &pack_entry(ObjKind::Blob, bytes, &mut deflater))
                    .map_err(spool_err())?;
            }
            if let Some(first) = placed.insert(path, Placed::Extra) {
                return Err(collision(path, &first, &Placed::Extra));
            }
            delta.place(None, path, oid, String::new, String::new)?;
        }
        // Kept files: already in the repository, usually where they were.
        for state in states {
            *totals.entry(state.kind.kind.as_str()).or_default() += state.kept.len();
            for (path, oid) in state.kept {
                if let Some(first) = placed.insert(path, Placed::Kept(state.kind)) {
                    return Err(collision(path, &first, &Placed::Kept(state.kind)));
                }
                delta.place(
                    Some(state.kind),
                    path,
                    *oid,
                    || layout::id_hint_from_path(state.kind, path).unwrap_or_default(),
                    || name_from_path(path),
                )?;
            }
        }
        super::timing::mark("build: placed kept files");
        for p in &prepared {
            let kind = p.object.kind();
            *totals.entry(kind.kind.as_str()).or_default() += 1;
            if let Some(first) = placed.insert(&p.path, Placed::Object(p.object)) {
                return Err(collision(&p.path, &first, &Placed::Object(p.object)));
            }
            delta.place(
                Some(kind),
                &p.path,
                p.oid,
                || p.object.id().to_string(),
                || p.object.name_for_path().to_string(),
            )?;
        }
        drop(placed);
        delta.remove_rest()?;
        super::timing::mark("build: place changed files");

        let mut trees: Vec<(Oid, Vec<u8>)> = Vec::new();
        let tree = delta
            .root
            .hash(&mut |oid, data| trees.push((oid, data)))
            .unwrap_or_else(|| {
                trees.push((empty_tree_id(), Vec::new()));
                empty_tree_id()
            });
        super::timing::mark("build: hash trees");
        let new_files: Vec<NewFile<'_>> = delta
            .added
            .iter()
            .map(|(kind, path, oid, id, name)| NewFile {
                kind,
                id,
                name,
                path,
                oid: *oid,
            })
            .collect();
        let summary = self.summarize(kinds, &new_files, delta.replaced, &totals, max_named);
        super::timing::mark("build: summarize");
        if parent_tree != Some(tree) {
            // Trees are mostly object ids, which do not compress: the fastest level will do.
            let mut deflater = Deflater::with_level(Deflater::FASTEST);
            for (oid, data) in &trees {
                if is_new(*oid, &queued) {
                    queued.insert(*oid);
                    pack.push(*oid, &pack_entry(ObjKind::Tree, data, &mut deflater))
                        .map_err(spool_err())?;
                }
            }
        }
        let mut changes = delta.changes;
        changes.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Built {
            tree,
            pack,
            summary,
            changes: delta.exact.then_some(changes),
        })
    }
}
