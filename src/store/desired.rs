//! The desired side of a restore or apply: the object files of a commit, or of the working tree
//! as git sees it. Files are indexed by path and by the id their name carries, and parsed only
//! when asked for. Paths a sparse checkout leaves out (index entries marked skip-worktree) are
//! read from the index, so that a file that is not checked out is never mistaken for a deleted
//! object; an index tenantgit cannot read (git's sparse index) is an error, never a guess.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use git2::{IndexEntryExtendedFlag, Oid};

use super::read::parse_all;
use super::{Store, StoreError};
use crate::layout;
use crate::model::{ObjectKey, Snapshot};
use crate::schema::{self, KindSpec};
use crate::yaml::YamlError;

/// One object file on the side of a comparison that is read from files: its path, kind, and the
/// id its name carries (made file-name safe; confirmed against the file's `id:` when parsed).
pub struct FileRef<'a> {
    pub path: &'a str,
    pub kind: &'static KindSpec,
    pub id_hint: &'a str,
}

/// Where a desired file's bytes are.
#[derive(Debug, Clone)]
enum Source {
    Blob(Oid),
    File(PathBuf),
}

/// The object files of the desired side.
#[derive(Debug, Default)]
pub struct DesiredFiles {
    /// path → (kind, id from the file name, bytes' location)
    files: BTreeMap<String, (&'static KindSpec, String, Source)>,
    /// Files read from the index because the working tree does not have them checked out.
    pub not_checked_out: usize,
}

/// Desired objects with the path each was read from.
#[derive(Debug, Default)]
pub struct DesiredObjects {
    pub snapshot: Snapshot,
    pub paths: HashMap<ObjectKey, String>,
}

impl DesiredFiles {
    fn insert(&mut self, path: String, kind: &'static KindSpec, source: Source) {
        let hint = layout::id_hint_from_path(kind, &path).unwrap_or_default();
        self.files.insert(path, (kind, hint, source));
    }

    /// Every file, for [`crate::select::Selection::resolve`].
    pub fn refs(&self) -> impl Iterator<Item = FileRef<'_>> + '_ {
        self.files.iter().map(|(path, (kind, hint, _))| FileRef {
            path,
            kind,
            id_hint: hint,
        })
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The blob id of a file of a commit (`None` for working-tree files).
    pub fn blob(&self, path: &str) -> Option<Oid> {
        match self.files.get(path) {
            Some((_, _, Source::Blob(oid))) => Some(*oid),
            _ => None,
        }
    }
}

impl Store {
    /// The object files of a commit.
    pub fn desired_commit(&self, commit: Oid) -> Result<DesiredFiles, StoreError> {
        let index = self.tree_index(commit)?;
        let mut out = DesiredFiles::default();
        for (path, kind, oid) in index.iter() {
            out.insert(path.to_string(), kind, Source::Blob(oid));
        }
        Ok(out)
    }

    /// The object files of the working tree, with the index's version of every path the
    /// checkout leaves out.
    pub fn desired_worktree(&self) -> Result<DesiredFiles, StoreError> {
        let root = self
            .repo
            .workdir()
            .ok_or_else(|| StoreError::NoWorktree {
                path: self.repo.path().to_path_buf(),
            })?
            .to_path_buf();
        let mut out = DesiredFiles::default();
        let index = self.repo.index().map_err(|e| StoreError::UnreadableIndex {
            detail: e.message().to_string(),
        })?;
        for entry in index.iter() {
            let skip =
                IndexEntryExtendedFlag::from_bits_truncate(entry.flags_extended).is_skip_worktree();
            if !skip {
                continue;
            }
            let path = String::from_utf8_lossy(&entry.path).into_owned();
            if let Some(kind) = layout::kind_for_path(&path) {
                out.insert(path, kind, Source::Blob(entry.id));
                out.not_checked_out += 1;
            }
        }
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
                let Ok(rel) = entry.path().strip_prefix(&root) else {
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
                // The index's version wins for a path outside the checkout, as with git.
                if out.files.contains_key(&rel) {
                    continue;
                }
                out.insert(rel, kind, Source::File(entry.path().to_path_buf()));
            }
        }
        Ok(out)
    }

    /// The blob id of one desired file: a commit's as stored, a working-tree file's hashed from
    /// its bytes (`None` when it cannot be read; the parse that follows says why).
    pub fn desired_blob(&self, files: &DesiredFiles, path: &str) -> Option<Oid> {
        match &files.files.get(path)?.2 {
            Source::Blob(oid) => Some(*oid),
            Source::File(full) => std::fs::read(full).ok().map(|b| super::blob_id(&b)),
        }
    }

    /// The text of one desired file, for error messages that quote a line of it.
    pub fn desired_text(&self, files: &DesiredFiles, path: &str) -> Option<String> {
        let bytes = match &files.files.get(path)?.2 {
            Source::Blob(oid) => self.read_blob(*oid).ok()?,
            Source::File(full) => std::fs::read(full).ok()?,
        };
        String::from_utf8(bytes).ok()
    }

    /// Parses the files `wanted(kind, path, id_hint)` accepts. Two files claiming one object, and
    /// a file whose `id:` is not the id its name carries, are errors naming the file.
    pub fn load_desired(
        &self,
        files: &DesiredFiles,
        wanted: &dyn Fn(&KindSpec, &str, &str) -> bool,
    ) -> Result<DesiredObjects, StoreError> {
        let mut raw = Vec::new();
        for (path, (kind, hint, source)) in &files.files {
            if !wanted(kind, path, hint) {
                continue;
            }
            let bytes = match source {
                Source::Blob(oid) => self.read_blob(*oid)?,
                Source::File(full) => {
                    std::fs::read(full).map_err(StoreError::io("reading", full))?
                }
            };
            raw.push((path.clone(), *kind, bytes));
        }
        let paths: Vec<String> = raw.iter().map(|f| f.0.clone()).collect();
        let objects = parse_all(raw)?;
        let mut out = DesiredObjects::default();
        for (path, object) in paths.into_iter().zip(objects) {
            let kind = object.kind;
            if !kind.singleton {
                let hint = &files.files[&path].1;
                if *hint != layout::safe_component(&object.id) {
                    return Err(YamlError {
                        path: PathBuf::from(&path),
                        line: 1,
                        column: 1,
                        message: format!(
                            "the file name says the object is {hint}, but its `id:` is {}; a file is named after the object it holds",
                            object.id
                        ),
                    }
                    .into());
                }
            }
            let key = object.key();
            if let Some(first) = out.paths.get(&key) {
                return Err(YamlError {
                    path: PathBuf::from(&path),
                    line: 1,
                    column: 1,
                    message: format!(
                        "object {key} is also in {first}: one object, two files (a rename checked out \
                         next to the new name?); keep one, e.g. `git rm` the other"
                    ),
                }
                .into());
            }
            out.paths.insert(key, path);
            out.snapshot.insert(object);
        }
        Ok(out)
    }
}
