//! Builds the two sides of a difference report cheaply, for the objects a selection resolves to
//! on either side (joined by id, so a renamed object is compared with itself). A commit's objects are addressed by
//! blob id, and the live side is hashed the same way after normalization, so only objects whose
//! bytes differ are ever parsed (YAML parsing is the expensive step, ~0.2 ms per object).

use std::collections::{HashMap, HashSet};

use git2::Oid;

use crate::diff::{self, DeletedInfo, DiffOptions, Report, Side};
use crate::error::Error;
use crate::graph::GraphClient;
use crate::layout;
use crate::live;
use crate::model::{ObjectKey, Snapshot};
use crate::read::{self, ReadProgress};
use crate::schema::KindSpec;
use crate::select::{FileRef, Selection};
use crate::store::{self, Store};
use crate::yaml;

/// The object files of a commit index as selection inputs: (path, kind, id from the name).
fn file_refs(index: &store::TreeIndex) -> Vec<(String, &'static KindSpec, String)> {
    index
        .iter()
        .map(|(path, kind, _)| {
            let hint = layout::id_hint_from_path(kind, path).unwrap_or_default();
            (path.to_string(), kind, hint)
        })
        .collect()
}

fn as_refs<'a>(
    files: &'a [(String, &'static KindSpec, String)],
) -> impl Iterator<Item = FileRef<'a>> {
    files.iter().map(|(path, kind, hint)| FileRef {
        path,
        kind,
        id_hint: hint,
    })
}

/// A commit as a report side.
pub fn commit_side(store: &Store, rev: &str, commit: Oid) -> Result<Side, Error> {
    let found =
        store
            .repository()
            .find_commit(commit)
            .map_err(|source| store::StoreError::Git {
                context: format!("cannot read commit {commit}"),
                source,
            })?;
    let time = chrono::DateTime::from_timestamp(found.time().seconds(), 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    Ok(Side {
        label: format!("{rev} ({})", &commit.to_string()[..10]),
        commit: Some(commit.to_string()),
        time,
    })
}

/// Report of commit `old` (the backup) against the live tenant. The live side is read
/// incrementally where the last snapshot's delta tokens allow (see `live`); files it keeps
/// from that snapshot are compared by blob id and parsed only when they differ.
#[allow(clippy::too_many_arguments)]
pub async fn commit_vs_live(
    store: &Store,
    client: &GraphClient,
    rev: &str,
    commit: Oid,
    selection: &Selection,
    options: &DiffOptions,
    read: &live::Options,
    progress: &dyn ReadProgress,
) -> Result<(Report, Vec<String>), Error> {
    store::timing::mark("diff: start");
    let index = store.tree_index(commit)?;
    store::timing::mark("diff: tree_index");
    let mut live = live::read(store, client, &selection.kinds, read, progress).await?;
    store::timing::mark("diff: live::read");
    let notices = live.notices.clone();
    let mut read_objects = Snapshot::default();
    for k in &mut live.kinds {
        for o in std::mem::take(&mut k.objects) {
            read_objects.insert(o);
        }
    }
    let files = file_refs(&index);
    let kept: Vec<(&str, &'static KindSpec, String, Oid)> = live
        .kinds
        .iter()
        .flat_map(|k| {
            k.kept.iter().map(move |(path, oid)| {
                let hint = layout::id_hint_from_path(k.kind, path).unwrap_or_default();
                (path.as_str(), k.kind, hint, *oid)
            })
        })
        .collect();
    // A kept file at a path the commit has is the same selection input as the commit's file.
    let kept_refs = kept
        .iter()
        .filter(|(path, ..)| index.get(path).is_none())
        .map(|(path, kind, hint, _)| FileRef {
            path,
            kind,
            id_hint: hint,
        });
    store::timing::mark("diff: file refs, kept");
    let resolved = selection.resolve(as_refs(&files).chain(kept_refs), &read_objects)?;
    let read_objects = resolved.filter(read_objects);
    store::timing::mark("diff: resolve");
    // Objects whose canonical bytes equal the commit's blob at the same path are identical.
    let mut same_paths: HashSet<&str> = HashSet::new();
    let mut same_read: HashSet<String> = HashSet::new();
    let mut changed = Snapshot::default();
    for (path, kind, hint, oid) in &kept {
        if !resolved.contains(kind, hint) {
            continue;
        }
        if index.get(path) == Some(*oid) {
            same_paths.insert(path);
        } else {
            let bytes = store.read_blob(*oid)?;
            let text = String::from_utf8_lossy(&bytes);
            changed.insert(yaml::parse_object(
                *kind,
                std::path::Path::new(path),
                &text,
            )?);
        }
    }
    for (key, object) in read_objects.objects {
        let path = layout::path_for(object.kind.spec(), &object.id, object.name_for_path());
        if index.get(&path) == Some(store::blob_id(yaml::emit_object(&object).as_bytes())) {
            same_read.insert(path);
        } else {
            changed.objects.insert(key, object);
        }
    }
    store::timing::mark("diff: compare ids, emit read objects");
    let old = store.load_indexed(&index, &|kind, path| {
        !same_paths.contains(path)
            && !same_read.contains(path)
            && layout::id_hint_from_path(kind, path).is_some_and(|h| resolved.contains(kind, &h))
    })?;
    let old = resolved.filter(old);
    let removed: Vec<&'static KindSpec> = old
        .objects
        .keys()
        .filter(|k| !changed.objects.contains_key(*k))
        .map(|k| k.kind.spec())
        .filter(|k| k.soft_delete)
        .collect();
    let deleted: HashMap<ObjectKey, DeletedInfo> = if removed.is_empty() {
        HashMap::new()
    } else {
        let mut kinds = removed;
        kinds.sort_by_key(|k| k.apply_order);
        kinds.dedup_by_key(|k| k.kind.as_str());
        read::read_deleted(client, &kinds)
            .await?
            .into_iter()
            .map(|d| {
                (
                    d.key,
                    DeletedInfo {
                        deleted_at: d.deleted_at,
                        restorable_until: d.restorable_until,
                    },
                )
            })
            .collect()
    };
    store::timing::mark("diff: load_snapshot, deleted");
    let changes = diff::diff(&old, &changed, &deleted, options);
    store::timing::mark("diff: diff");
    let report = Report {
        from: commit_side(store, rev, commit)?,
        to: Side {
            label: "live tenant".into(),
            commit: None,
            time: Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        },
        changes,
    };
    Ok((report, notices))
}

/// Report of commit `old` against commit `new`, without touching the tenant.
pub fn commit_vs_commit(
    store: &Store,
    revs: (&str, Oid),
    news: (&str, Oid),
    selection: &Selection,
    options: &DiffOptions,
) -> Result<Report, Error> {
    let (old_rev, old_commit) = revs;
    let (new_rev, new_commit) = news;
    let old_index = store.tree_index(old_commit)?;
    let new_index = store.tree_index(new_commit)?;
    let (old_files, new_files) = (file_refs(&old_index), file_refs(&new_index));
    let resolved = selection.resolve(
        as_refs(&old_files).chain(as_refs(&new_files)),
        &Snapshot::default(),
    )?;
    let differs = |path: &str, other: &store::TreeIndex, this: &store::TreeIndex| {
        this.get(path) != other.get(path)
    };
    let selected = |kind: &KindSpec, path: &str| {
        layout::id_hint_from_path(kind, path).is_some_and(|h| resolved.contains(kind, &h))
    };
    let old = store.load_snapshot(old_commit, &|kind, path| {
        differs(path, &new_index, &old_index) && selected(kind, path)
    })?;
    let new = store.load_snapshot(new_commit, &|kind, path| {
        differs(path, &old_index, &new_index) && selected(kind, path)
    })?;
    let changes = diff::diff(
        &resolved.filter(old),
        &resolved.filter(new),
        &HashMap::new(),
        options,
    );
    Ok(Report {
        from: commit_side(store, old_rev, old_commit)?,
        to: commit_side(store, new_rev, new_commit)?,
        changes,
    })
}
