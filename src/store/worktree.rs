//! The working tree and the index of a non-bare repository, as plain operations: the check that
//! managed files have no uncommitted changes, the files that differ between two trees, writing
//! them, and rebuilding the index with new entries for exactly those paths. The order these run
//! in, and how an interruption is undone, is `checkout`'s business.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use git2::{Oid, StatusOptions};

use super::pack::Spool;
use super::{Store, StoreError};
use crate::failpoint;
use crate::schema::KindSpec;

/// New index entries by path; `None` removes the path from the index.
pub(super) type IndexUpdates = BTreeMap<Vec<u8>, Option<git2::IndexEntry>>;

/// A file that differs between two trees; `None` on the side that lacks it.
#[derive(Debug, Clone)]
pub(super) struct Change {
    pub path: String,
    pub old: Option<Oid>,
    pub new: Option<(Oid, u32)>,
}

impl Store {
    /// Refuses when tracked files under the folders of `kinds` differ from `HEAD`: the check for
    /// when the files a snapshot changes are not known one by one (see [`check_clean`]).
    pub(super) fn check_clean_kinds(&self, kinds: &[&'static KindSpec]) -> Result<(), StoreError> {
        if kinds.is_empty() {
            return Ok(());
        }
        let mut opts = StatusOptions::new();
        opts.include_untracked(false)
            .include_ignored(false)
            .exclude_submodules(true);
        for k in kinds {
            opts.pathspec(k.file.as_deref().unwrap_or(&k.dir));
        }
        let statuses = self
            .repo
            .statuses(Some(&mut opts))
            .map_err(StoreError::git("checking the working tree for changes"))?;
        let paths: Vec<String> = statuses
            .iter()
            .filter(|s| s.status() != git2::Status::CURRENT && !s.status().is_ignored())
            .filter_map(|s| s.path().map(str::to_string))
            .collect();
        refuse_dirty(paths)
    }
}

/// [`StoreError::DirtyWorktree`] naming the first few of `paths`, when there are any.
fn refuse_dirty(mut paths: Vec<String>) -> Result<(), StoreError> {
    if paths.is_empty() {
        return Ok(());
    }
    paths.sort();
    let more = paths.len().saturating_sub(5);
    paths.truncate(5);
    Err(StoreError::DirtyWorktree { paths, more })
}

/// Refuses when a file the snapshot writes or removes (`changes`, against the branch's tree)
/// holds anything but the branch's version: changed or deleted in the working tree, staged
/// differently, in conflict, or added to the index where the branch has no file
/// ([`StoreError::DirtyWorktree`]); then when an untracked file stands where a new file goes
/// ([`StoreError::UntrackedInTheWay`]). As with `git checkout`, only those files are looked at,
/// so the check costs what the snapshot changes; other files, edited or not, are never touched
/// (and never committed: the commit is made from trees, not from the index).
pub(super) fn check_clean(
    repo: &git2::Repository,
    workdir: &Path,
    changes: &[Change],
) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Ok(());
    }
    let index_path = repo.path().join("index");
    super::timing::mark("check_clean: start");
    let index = match std::fs::metadata(&index_path) {
        Ok(_) => git2::Index::open(&index_path).map_err(|e| StoreError::UnreadableIndex {
            detail: e.message().to_string(),
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            git2::Index::new().map_err(StoreError::git("making an empty index"))?
        }
        Err(e) => return Err(StoreError::io("reading the index", &index_path)(e)),
    };
    // Entries written in the same second as the index may hide a later edit of the same size
    // ("racily clean", in git's words): their files are hashed whatever their status says.
    let index_time = std::fs::metadata(&index_path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    super::timing::mark("check_clean: index read");
    let mut dirty = Vec::new();
    let mut in_the_way = None;
    for c in changes {
        let path = Path::new(&c.path);
        let conflicted = (1..=3).any(|stage| index.get_path(path, stage).is_some());
        let clean = !conflicted
            && match (c.old, index.get_path(path, 0)) {
                (None, None) => {
                    if c.new.is_some()
                        && in_the_way.is_none()
                        && std::fs::symlink_metadata(workdir.join(&c.path)).is_ok()
                    {
                        in_the_way = Some(c.path.clone());
                    }
                    true
                }
                (None, Some(_)) | (Some(_), None) => false,
                (Some(old), Some(entry)) => {
                    entry.id == old && file_matches(workdir, &c.path, &entry, index_time)
                }
            };
        if !clean {
            dirty.push(c.path.clone());
        }
    }
    refuse_dirty(dirty)?;
    match in_the_way {
        Some(path) => Err(StoreError::UntrackedInTheWay { path }),
        None => Ok(()),
    }
}

/// Whether the working-tree file of an index entry holds the entry's content (a file left out
/// of a sparse checkout does).
fn file_matches(workdir: &Path, path: &str, entry: &git2::IndexEntry, index_time: u64) -> bool {
    if git2::IndexEntryExtendedFlag::from_bits_truncate(entry.flags_extended).is_skip_worktree() {
        return true;
    }
    let full = workdir.join(path);
    let Ok(meta) = std::fs::symlink_metadata(&full) else {
        return false;
    };
    if !meta.file_type().is_file() || executable(&meta) != (entry.mode & 0o111 != 0) {
        return false;
    }
    if stat_matches(entry, &meta) && u64::from(entry.mtime.seconds() as u32) < index_time {
        return true;
    }
    std::fs::read(&full).is_ok_and(|bytes| super::blob_id(&bytes) == entry.id)
}

#[cfg(unix)]
fn executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn executable(_meta: &std::fs::Metadata) -> bool {
    false
}

/// Whether a file's status is the one its index entry recorded (as git compares them: the
/// 32-bit fields, truncated).
fn stat_matches(entry: &git2::IndexEntry, meta: &std::fs::Metadata) -> bool {
    let now = self::entry("", entry.id, entry.mode, Some(meta));
    now.mtime == entry.mtime
        && now.ctime == entry.ctime
        && now.ino == entry.ino
        && now.dev == entry.dev
        && now.file_size == entry.file_size
}

/// The files that differ between two trees (`None`: the empty tree), in path order.
pub(super) fn changes(
    repo: &git2::Repository,
    old: Option<Oid>,
    new: Option<Oid>,
) -> Result<Vec<Change>, StoreError> {
    let tree = |t: Option<Oid>| -> Result<Option<git2::Tree<'_>>, StoreError> {
        t.map(|t| repo.find_tree(t))
            .transpose()
            .map_err(StoreError::git(format!(
                "reading tree {}",
                t.unwrap_or(Oid::zero())
            )))
    };
    let (old_tree, new_tree) = (tree(old)?, tree(new)?);
    let diff = repo
        .diff_tree_to_tree(old_tree.as_ref(), new_tree.as_ref(), None)
        .map_err(StoreError::git("comparing the trees"))?;
    let present = |f: &git2::DiffFile<'_>| (!f.id().is_zero()).then(|| f.id());
    let mut out = Vec::with_capacity(diff.deltas().len());
    for delta in diff.deltas() {
        let Some(path) = delta.new_file().path().or(delta.old_file().path()) else {
            continue;
        };
        out.push(Change {
            path: path.to_string_lossy().replace('\\', "/"),
            old: present(&delta.old_file()),
            new: present(&delta.new_file()).map(|id| (id, u32::from(delta.new_file().mode()))),
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Refuses when an untracked file stands where a new file must go, before anything is written.
pub(super) fn check_untracked(
    repo: &git2::Repository,
    workdir: &Path,
    changes: &[Change],
) -> Result<(), StoreError> {
    let index = repo.index().map_err(StoreError::git("reading the index"))?;
    for c in changes {
        if c.old.is_none()
            && c.new.is_some()
            && index.get_path(Path::new(&c.path), 0).is_none()
            && workdir.join(&c.path).exists()
        {
            return Err(StoreError::UntrackedInTheWay {
                path: c.path.clone(),
            });
        }
    }
    Ok(())
}

/// Removes a file and the folders it leaves empty, as git does; a missing file is fine.
pub(super) fn remove_file(workdir: &Path, path: &str) -> Result<(), StoreError> {
    let full = workdir.join(path);
    match std::fs::remove_file(&full) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(StoreError::io("removing a file", &full)(e)),
    }
    let mut dir = full.parent();
    while let Some(d) = dir.filter(|d| *d != workdir) {
        if std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
    Ok(())
}

/// Writes the new side of `changes` into the working tree (removing what the new tree lacks)
/// and returns each written file's status for the index. libgit2's checkout does the same but
/// spends hundreds of microseconds of system time per new file (6 s for 13k files here, against
/// 0.4 s for `git clone`), which the first snapshot of a large tenant cannot afford.
pub(super) fn write_files(
    repo: &git2::Repository,
    workdir: &Path,
    changes: &[Change],
    spool: &Spool,
) -> Result<HashMap<String, std::fs::Metadata>, StoreError> {
    for c in changes.iter().filter(|c| c.new.is_none()) {
        remove_file(workdir, &c.path)?;
    }
    let odb = repo
        .odb()
        .map_err(StoreError::git("opening the object database"))?;
    // The pack was just written: let the object database see it once.
    odb.refresh()
        .map_err(StoreError::git("refreshing the object database"))?;
    let writes: Vec<(&str, Oid)> = changes
        .iter()
        .filter_map(|c| c.new.map(|(oid, _)| (c.path.as_str(), oid)))
        .collect();
    let mut stats = HashMap::with_capacity(writes.len());
    let mut made: HashSet<PathBuf> = HashSet::new();
    for (i, (path, oid)) in writes.iter().enumerate() {
        let full = workdir.join(path);
        if let Some(parent) = full.parent() {
            if made.insert(parent.to_path_buf()) {
                std::fs::create_dir_all(parent)
                    .map_err(StoreError::io("creating a folder", parent))?;
            }
        }
        // New objects come from the spooled pack; what the repository had, from its database.
        let data = match spool.object(*oid) {
            Some(read) => read.map_err(StoreError::io("reading the spooled pack", repo.path()))?,
            None => odb
                .read(*oid)
                .map_err(StoreError::git(format!("reading {path}")))?
                .data()
                .to_vec(),
        };
        if i == writes.len() / 2 && failpoint::is_armed("snapshot.worktree-mid") {
            // A write cut by kill -9: the first half of the file is there.
            let half = &data[..data.len() / 2];
            std::fs::write(&full, half).map_err(StoreError::io("writing a file", &full))?;
            failpoint::hit("snapshot.worktree-mid", repo.path());
        }
        std::fs::write(&full, &data).map_err(StoreError::io("writing a file", &full))?;
        stats.insert(
            path.to_string(),
            std::fs::metadata(&full).map_err(StoreError::io("reading a file's status", &full))?,
        );
    }
    Ok(stats)
}

/// An index entry for `path` at blob `oid`, with the file's status when known (else zeros, which
/// makes git look at the file again).
pub(super) fn entry(
    path: &str,
    oid: Oid,
    mode: u32,
    meta: Option<&std::fs::Metadata>,
) -> git2::IndexEntry {
    let zero = git2::IndexTime::new(0, 0);
    let mut entry = git2::IndexEntry {
        ctime: zero,
        mtime: zero,
        dev: 0,
        ino: 0,
        mode,
        uid: 0,
        gid: 0,
        file_size: 0,
        id: oid,
        flags: 0,
        flags_extended: 0,
        path: path.as_bytes().to_vec(),
    };
    if let Some(meta) = meta {
        set_stat(&mut entry, meta);
    }
    entry
}

/// Writes to `target` (a new file) the index at `source` with the entries of the paths in
/// `updates` replaced (`None`: removed). Every other entry (a user's staged change outside the
/// managed folders, a conflict) is kept as it is, with its file status. A few updates are made
/// in a copy of the index, which costs what they change; many are merged into a sorted list
/// the index is built from, since libgit2 inserts an entry in the middle of its list by moving
/// all that follow.
pub(super) fn rebuild_index(
    source: &Path,
    target: &Path,
    updates: IndexUpdates,
) -> Result<(), StoreError> {
    match std::fs::remove_file(target) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(StoreError::io("removing an unfinished index", target)(e)),
    }
    super::timing::mark("rebuild_index: start");
    // Opened from a copy, so that writing it leaves the real index as it is.
    let copied = match std::fs::copy(source, target) {
        Ok(_) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(StoreError::io("copying the index", target)(e)),
    };
    let mut index = git2::Index::open(target).map_err(StoreError::git("reading the index"))?;
    super::timing::mark("rebuild_index: opened copy");
    if copied && updates.len() <= index.len() / 8 {
        let git = StoreError::git;
        for (path, entry) in updates {
            let path = Path::new(std::str::from_utf8(&path).map_err(|_| {
                StoreError::git("updating the index")(git2::Error::from_str("a path is not UTF-8"))
            })?);
            for stage in 1..=3 {
                if index.get_path(path, stage).is_some() {
                    index
                        .remove(path, stage)
                        .map_err(git("updating the index"))?;
                }
            }
            match entry {
                Some(entry) => index.add(&entry).map_err(git("updating the index"))?,
                None if index.get_path(path, 0).is_some() => {
                    index.remove(path, 0).map_err(git("updating the index"))?
                }
                None => {}
            }
        }
        super::timing::mark("rebuild_index: updated");
        let r = index.write().map_err(StoreError::git("writing the index"));
        super::timing::mark("rebuild_index: written");
        return r;
    }
    let mut entries: Vec<git2::IndexEntry> = index
        .iter()
        .filter(|e| !updates.contains_key(&e.path))
        .collect();
    drop(index);
    entries.extend(updates.into_values().flatten());
    let stage = |e: &git2::IndexEntry| (e.flags >> 12) & 3;
    entries.sort_by(|a, b| a.path.cmp(&b.path).then(stage(a).cmp(&stage(b))));
    match std::fs::remove_file(target) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(StoreError::io("removing an unfinished index", target)(e)),
    }
    let mut index = git2::Index::open(target).map_err(StoreError::git("creating the index"))?;
    for e in &entries {
        index
            .add(e)
            .map_err(StoreError::git("building the index"))?;
    }
    index
        .write()
        .map_err(StoreError::git("writing the index"))?;
    Ok(())
}

#[cfg(unix)]
fn set_stat(entry: &mut git2::IndexEntry, meta: &std::fs::Metadata) {
    use std::os::unix::fs::MetadataExt;
    // The index stores 32-bit fields; git truncates the same way.
    entry.ctime = git2::IndexTime::new(meta.ctime() as i32, meta.ctime_nsec() as u32);
    entry.mtime = git2::IndexTime::new(meta.mtime() as i32, meta.mtime_nsec() as u32);
    entry.dev = meta.dev() as u32;
    entry.ino = meta.ino() as u32;
    entry.uid = meta.uid();
    entry.gid = meta.gid();
    entry.file_size = meta.size() as u32;
}

#[cfg(not(unix))]
fn set_stat(entry: &mut git2::IndexEntry, meta: &std::fs::Metadata) {
    entry.file_size = meta.len() as u32;
}
