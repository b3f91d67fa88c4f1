//! Reading snapshots back: the object files of a commit as path → blob id without reading any
//! blob (so callers compare ids first), and the parsed objects of a commit or of the working
//! tree. Parsing is spread over the cores because serde_yaml is the slow step.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use git2::{Oid, TreeWalkMode, TreeWalkResult};

use super::{Store, StoreError};
use crate::layout;
use crate::model::{Object, ObjectKey, Snapshot};
use crate::schema::{self, KindSpec};
use crate::yaml;
use crate::yaml::YamlError;

/// The object files of one commit: path → (kind, blob id), plus a lookup by kind and the id in
/// the file name.
#[derive(Debug, Clone, Default)]
pub struct TreeIndex {
    /// path → (kind, blob id, file mode)
    files: BTreeMap<String, (&'static KindSpec, Oid, i32)>,
    by_id: HashMap<&'static str, HashMap<String, String>>,
}

impl TreeIndex {
    fn insert(&mut self, kind: &'static KindSpec, path: String, oid: Oid, mode: i32) {
        if let Some(id) = layout::id_hint_from_path(kind, &path) {
            self.by_id
                .entry(kind.kind.as_str())
                .or_default()
                .insert(id, path.clone());
        }
        self.files.insert(path, (kind, oid, mode));
    }

    /// Blob id of the object file at `path`.
    pub fn get(&self, path: &str) -> Option<Oid> {
        self.files.get(path).map(|(_, oid, _)| *oid)
    }

    /// Path and blob id of the file whose name carries this id (confirm against the file's
    /// `id:` before relying on it; see `layout::id_hint_from_path`).
    pub fn find(&self, kind: &str, id: &str) -> Option<(&str, Oid)> {
        let path = self.by_id.get(kind)?.get(id)?;
        let (_, oid, _) = self.files.get(path)?;
        Some((path.as_str(), *oid))
    }

    /// Every object file in path order: (path, kind, blob id).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &'static KindSpec, Oid)> + '_ {
        self.files
            .iter()
            .map(|(path, (kind, oid, _))| (path.as_str(), *kind, *oid))
    }

    /// Every object file in path order with its mode: (path, kind, blob id, mode).
    pub(super) fn iter_with_modes(
        &self,
    ) -> impl Iterator<Item = (&str, &'static KindSpec, Oid, i32)> + '_ {
        self.files
            .iter()
            .map(|(path, (kind, oid, mode))| (path.as_str(), *kind, *oid, *mode))
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// An object file that differs between two commits; `None` on the side that lacks it. A
/// renamed object shows as two entries (its id is in both names).
#[derive(Debug, Clone)]
pub struct FileChange {
    pub path: String,
    pub kind: &'static KindSpec,
    pub old: Option<Oid>,
    pub new: Option<Oid>,
}

impl PartialEq for FileChange {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path
            && self.kind.kind == other.kind.kind
            && self.old == other.old
            && self.new == other.new
    }
}

impl Eq for FileChange {}

/// A file to parse: repository-relative path, kind, bytes.
type RawFile = (String, &'static KindSpec, Vec<u8>);

/// Parses files on all cores. The result is in input order, so the first error reported is
/// the first bad file in path order.
pub(super) fn parse_all(files: Vec<RawFile>) -> Result<Vec<Object>, YamlError> {
    let parse = |(path, kind, bytes): &RawFile| -> Result<Object, YamlError> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1;
            YamlError {
                path: PathBuf::from(path),
                line,
                column: 1,
                message: "the file is not valid UTF-8".into(),
            }
        })?;
        yaml::parse_object(*kind, Path::new(path), text)
    };
    let threads = crate::parallel::threads();
    if threads == 1 || files.len() < 64 {
        return files.iter().map(parse).collect();
    }
    let chunk = files.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(parse).collect::<Result<Vec<_>, _>>()))
            .collect();
        let mut out = Vec::with_capacity(files.len());
        for h in handles {
            out.extend(h.join().expect("parsing threads do not panic")?);
        }
        Ok(out)
    })
}

/// Gathers parsed objects, refusing two files that claim one object.
fn into_snapshot(files: &[String], objects: Vec<Object>) -> Result<Snapshot, StoreError> {
    let mut snapshot = Snapshot::default();
    let mut seen: HashMap<ObjectKey, &str> = HashMap::new();
    for (path, object) in files.iter().zip(objects) {
        if let Some(first) = seen.insert(object.key(), path) {
            return Err(YamlError {
                path: PathBuf::from(path),
                line: 1,
                column: 1,
                message: format!(
                    "object {} is also in {first}: one object, two files (a rename checked out \
                     next to the new name?); keep one, e.g. `git rm` the other",
                    object.key()
                ),
            }
            .into());
        }
        snapshot.insert(object);
    }
    Ok(snapshot)
}

impl Store {
    /// Every object file of a commit with its blob id; trees are walked, no blob is read. The
    /// last index made is kept (a commit's files never change), so that the steps of one run
    /// that look at the same commit — the incremental read, the comparison, the new snapshot's
    /// tree — walk it once.
    pub fn tree_index(&self, commit: Oid) -> Result<Rc<TreeIndex>, StoreError> {
        if let Some((at, index)) = &*self.last_index.borrow() {
            if *at == commit {
                return Ok(Rc::clone(index));
            }
        }
        super::timing::mark("tree_index: (miss)");
        let index = Rc::new(self.walk_tree_index(commit)?);
        super::timing::mark("tree_index: walked");
        *self.last_index.borrow_mut() = Some((commit, Rc::clone(&index)));
        Ok(index)
    }

    fn walk_tree_index(&self, commit: Oid) -> Result<TreeIndex, StoreError> {
        let tree = self
            .repo
            .find_commit(commit)
            .and_then(|c| c.tree())
            .map_err(StoreError::git(format!("reading the tree of {commit}")))?;
        let mut index = TreeIndex::default();
        tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
            if entry.kind() != Some(git2::ObjectType::Blob) {
                // Only descend into folders that can hold object files.
                if entry.kind() == Some(git2::ObjectType::Tree) && dir.is_empty() {
                    let name = String::from_utf8_lossy(entry.name_bytes());
                    let wanted = schema::kinds().iter().any(|k| match &k.file {
                        Some(f) => f.starts_with(&format!("{name}/")),
                        None => k.dir == name,
                    });
                    if !wanted {
                        return TreeWalkResult::Skip;
                    }
                }
                return TreeWalkResult::Ok;
            }
            let path = format!("{dir}{}", String::from_utf8_lossy(entry.name_bytes()));
            if let Some(kind) = layout::kind_for_path(&path) {
                index.insert(kind, path, entry.id(), entry.filemode());
            }
            TreeWalkResult::Ok
        })
        .map_err(StoreError::git(format!("walking the tree of {commit}")))?;
        Ok(index)
    }

    /// Object files that differ between two commits, in path order. Folders with equal tree
    /// ids are skipped without being read, so a small change in a large tenant costs little.
    pub fn changed_object_files(&self, from: Oid, to: Oid) -> Result<Vec<FileChange>, StoreError> {
        let tree = |c: Oid| {
            self.repo
                .find_commit(c)
                .and_then(|c| c.tree())
                .map_err(StoreError::git(format!("reading the tree of {c}")))
        };
        let (old, new) = (tree(from)?, tree(to)?);
        let diff = self
            .repo
            .diff_tree_to_tree(Some(&old), Some(&new), None)
            .map_err(StoreError::git(format!("comparing {from} with {to}")))?;
        let present = |f: git2::DiffFile<'_>| (!f.id().is_zero()).then(|| f.id());
        let mut out = Vec::new();
        for delta in diff.deltas() {
            let Some(path) = delta.new_file().path().or(delta.old_file().path()) else {
                continue;
            };
            let path = path.to_string_lossy().replace('\\', "/");
            let Some(kind) = layout::kind_for_path(&path) else {
                continue;
            };
            out.push(FileChange {
                path,
                kind,
                old: present(delta.old_file()),
                new: present(delta.new_file()),
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// The objects of a commit whose files pass `filter(kind, path)`.
    pub fn load_snapshot(
        &self,
        commit: Oid,
        filter: &dyn Fn(&KindSpec, &str) -> bool,
    ) -> Result<Snapshot, StoreError> {
        let index = self.tree_index(commit)?;
        self.load_indexed(&index, filter)
    }

    /// The objects of the files of `index` (a commit's) that pass `filter(kind, path)`.
    pub fn load_indexed(
        &self,
        index: &TreeIndex,
        filter: &dyn Fn(&KindSpec, &str) -> bool,
    ) -> Result<Snapshot, StoreError> {
        let mut files = Vec::new();
        for (path, kind, oid) in index.iter() {
            if filter(kind, path) {
                files.push((path.to_string(), kind, self.read_blob(oid)?));
            }
        }
        let paths: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
        let objects = parse_all(files)?;
        into_snapshot(&paths, objects)
    }

    /// The objects in the working tree whose files pass `filter(kind, path)`; paths are
    /// repository-relative with `/`, as in a commit. Error positions name the file.
    pub fn load_worktree(
        &self,
        filter: &dyn Fn(&KindSpec, &str) -> bool,
    ) -> Result<Snapshot, StoreError> {
        let root = self.repo.workdir().ok_or_else(|| StoreError::NoWorktree {
            path: self.repo.path().to_path_buf(),
        })?;
        let mut files = Vec::new();
        let mut folders: Vec<&str> = Vec::new();
        for k in schema::kinds() {
            let top = match &k.file {
                Some(f) => f.split('/').next().unwrap_or(f),
                None => k.dir.as_str(),
            };
            if !folders.contains(&top) {
                folders.push(top);
            }
        }
        for top in folders {
            let start = root.join(top);
            if !start.exists() {
                continue;
            }
            for entry in walkdir::WalkDir::new(&start).sort_by_file_name() {
                let entry = entry.map_err(|e| {
                    let path = e.path().unwrap_or(&start).to_path_buf();
                    let source = e
                        .into_io_error()
                        .unwrap_or_else(|| std::io::Error::other("file system loop"));
                    StoreError::Io {
                        context: "reading the working tree".into(),
                        path,
                        source,
                    }
                })?;
                if !entry.file_type().is_file() {
                    continue;
                }
                let Ok(rel) = entry.path().strip_prefix(root) else {
                    continue;
                };
                let rel: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                let rel = rel.join("/");
                let Some(kind) = layout::kind_for_path(&rel) else {
                    continue;
                };
                if !filter(kind, &rel) {
                    continue;
                }
                let bytes =
                    std::fs::read(entry.path()).map_err(StoreError::io("reading", entry.path()))?;
                files.push((rel, kind, bytes));
            }
        }
        files.sort_by(|a, b| a.0.cmp(&b.0));
        let paths: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
        let objects = parse_all(files)?;
        into_snapshot(&paths, objects)
    }
}
