//! An in-memory git tree under construction. Folders copied from an existing commit stay
//! unexpanded (`Node::Tree`, just an id) until something has to change inside them, so carrying
//! over everything a snapshot does not own costs nothing; new folders are serialized in git's
//! tree format and hashed here, without touching the object database.

use std::collections::BTreeMap;

use git2::{Oid, Repository};

use super::pack::{object_id, ObjKind};

/// Mode of a regular, non-executable file.
pub(crate) const FILE_MODE: i32 = 0o100644;
const TREE_MODE: i32 = 0o040000;

pub(crate) enum Node {
    /// A file (or symlink or submodule entry) with its mode.
    Leaf { oid: Oid, mode: i32 },
    /// An existing tree, not expanded.
    Tree(Oid),
    /// A folder being built.
    Dir(Dir),
}

/// What [`Dir::insert`] displaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Displaced {
    /// Nothing was at the path.
    Nothing,
    /// A file, with its id and mode.
    File { oid: Oid, mode: i32 },
    /// A folder at the path, or a file where a folder on the way had to go: more changed than
    /// the one file.
    Other,
}

#[derive(Default)]
pub(crate) struct Dir {
    pub entries: BTreeMap<String, Node>,
}

impl Dir {
    /// The entries of an existing tree, one level deep.
    pub fn from_tree(repo: &Repository, oid: Oid) -> Result<Dir, git2::Error> {
        let tree = repo.find_tree(oid)?;
        let mut entries = BTreeMap::new();
        for e in tree.iter() {
            let name = String::from_utf8_lossy(e.name_bytes()).into_owned();
            let node = if e.kind() == Some(git2::ObjectType::Tree) {
                Node::Tree(e.id())
            } else {
                Node::Leaf {
                    oid: e.id(),
                    mode: e.filemode(),
                }
            };
            entries.insert(name, node);
        }
        Ok(Dir { entries })
    }

    /// The folder at `name`, expanding an existing tree or replacing a file of that name; the
    /// boolean says whether a file was replaced.
    fn subdir(&mut self, repo: &Repository, name: &str) -> Result<(&mut Dir, bool), git2::Error> {
        let node = self
            .entries
            .entry(name.to_string())
            .or_insert_with(|| Node::Dir(Dir::default()));
        let mut replaced = false;
        match node {
            Node::Dir(_) => {}
            Node::Tree(oid) => *node = Node::Dir(Dir::from_tree(repo, *oid)?),
            Node::Leaf { .. } => {
                replaced = true;
                *node = Node::Dir(Dir::default());
            }
        }
        match node {
            Node::Dir(dir) => Ok((dir, replaced)),
            _ => unreachable!("the node was made a folder just above"),
        }
    }

    /// Puts a file at a slash-separated path, expanding only the folders on the way; says what
    /// it displaced.
    pub fn insert(
        &mut self,
        repo: &Repository,
        path: &str,
        oid: Oid,
        mode: i32,
    ) -> Result<Displaced, git2::Error> {
        let mut dir = self;
        let mut replaced_file = false;
        let mut parts = path.split('/').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                let before = dir
                    .entries
                    .insert(part.to_string(), Node::Leaf { oid, mode });
                return Ok(match before {
                    _ if replaced_file => Displaced::Other,
                    None => Displaced::Nothing,
                    Some(Node::Leaf { oid, mode }) => Displaced::File { oid, mode },
                    Some(_) => Displaced::Other,
                });
            }
            let (sub, replaced) = dir.subdir(repo, part)?;
            replaced_file |= replaced;
            dir = sub;
        }
        Ok(Displaced::Nothing)
    }

    /// Removes the file at a slash-separated path, expanding only the folders on the way; a
    /// folder emptied this way disappears from the hashed tree (git stores no empty folder).
    /// Returns the removed file's id and mode; `None` when no file is there.
    pub fn remove(
        &mut self,
        repo: &Repository,
        path: &str,
    ) -> Result<Option<(Oid, i32)>, git2::Error> {
        let mut dir = self;
        let mut parts = path.split('/').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                if !matches!(dir.entries.get(part), Some(Node::Leaf { .. })) {
                    return Ok(None);
                }
                return Ok(match dir.entries.remove(part) {
                    Some(Node::Leaf { oid, mode }) => Some((oid, mode)),
                    _ => None,
                });
            }
            match dir.entries.get(part) {
                Some(Node::Tree(_)) | Some(Node::Dir(_)) => dir = dir.subdir(repo, part)?.0,
                _ => return Ok(None),
            }
        }
        Ok(None)
    }

    /// Hashes this folder and every folder being built below it, bottom-up, handing each tree
    /// object's id and bytes to `sink`. An empty folder has no id (git stores none).
    pub fn hash(&self, sink: &mut dyn FnMut(Oid, Vec<u8>)) -> Option<Oid> {
        let mut rows: Vec<(Vec<u8>, i32, &str, Oid)> = Vec::with_capacity(self.entries.len());
        for (name, node) in &self.entries {
            let (mode, oid) = match node {
                Node::Leaf { oid, mode } => (*mode, *oid),
                Node::Tree(oid) => (TREE_MODE, *oid),
                Node::Dir(dir) => match dir.hash(sink) {
                    Some(oid) => (TREE_MODE, oid),
                    None => continue,
                },
            };
            // Git orders entries by name bytes, a folder's name as if it ended in '/'.
            let mut key = name.as_bytes().to_vec();
            if mode == TREE_MODE {
                key.push(b'/');
            }
            rows.push((key, mode, name, oid));
        }
        if rows.is_empty() {
            return None;
        }
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        let mut data = Vec::with_capacity(rows.len() * 80);
        for (_, mode, name, oid) in rows {
            data.extend_from_slice(format!("{mode:o} {name}\0").as_bytes());
            data.extend_from_slice(oid.as_bytes());
        }
        let oid = object_id(ObjKind::Tree, &data);
        sink(oid, data);
        Some(oid)
    }
}

/// The id of git's empty tree.
pub(crate) fn empty_tree_id() -> Oid {
    object_id(ObjKind::Tree, b"")
}
