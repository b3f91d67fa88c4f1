//! Builds the two sides of a difference report cheaply. A commit's objects are addressed by
//! blob id, and the live side is hashed the same way after normalization, so only objects whose
//! bytes differ are ever parsed (YAML parsing is the expensive step, ~0.2 ms per object).

use std::collections::{HashMap, HashSet};

use git2::Oid;

use crate::diff::{self, DeletedInfo, DiffOptions, Report, Side};
use crate::error::Error;
use crate::graph::GraphClient;
use crate::layout;
use crate::model::{ObjectKey, Snapshot};
use crate::read::{self, ReadProgress};
use crate::schema::KindSpec;
use crate::store::{self, Store};
use crate::yaml;

/// Which objects a command works on: kinds, ids, and repository path globs (gitignore syntax).
pub struct Selection {
    pub kinds: Vec<&'static KindSpec>,
    pub ids: HashSet<String>,
    /// The ids as they appear in file names.
    safe_ids: HashSet<String>,
    globs: Option<ignore::gitignore::Gitignore>,
    /// Paths never written (`.tenantgitignore`).
    excluded: Option<ignore::gitignore::Gitignore>,
}

impl Selection {
    /// `kinds` empty means every kind in `scope`.
    pub fn new(
        scope: &[&'static KindSpec],
        kinds: Vec<&'static KindSpec>,
        ids: Vec<String>,
        globs: &[String],
    ) -> Result<Selection, Error> {
        let kinds = if kinds.is_empty() {
            scope.to_vec()
        } else {
            kinds
        };
        let globs = if globs.is_empty() {
            None
        } else {
            let mut builder = ignore::gitignore::GitignoreBuilder::new("");
            for glob in globs {
                builder.add_line(None, glob).map_err(|e| {
                    Error::usage(
                        format!("invalid path pattern `{glob}`: {e}"),
                        "patterns use gitignore syntax, e.g. 'users/**' or 'conditionalAccessPolicies/*mfa*'",
                    )
                })?;
            }
            Some(builder.build().map_err(|e| {
                Error::usage(
                    format!("invalid path patterns: {e}"),
                    "patterns use gitignore syntax",
                )
            })?)
        };
        let safe_ids = ids.iter().map(|id| layout::safe_component(id)).collect();
        Ok(Selection {
            kinds,
            ids: ids.into_iter().collect(),
            safe_ids,
            globs,
            excluded: None,
        })
    }

    /// Leaves out the paths a `.tenantgitignore` (gitignore syntax) names: restore and apply
    /// never write them.
    pub fn exclude(&mut self, ignore_file: &str) -> Result<(), Error> {
        let mut builder = ignore::gitignore::GitignoreBuilder::new("");
        for (n, line) in ignore_file.lines().enumerate() {
            builder.add_line(None, line).map_err(|e| {
                Error::config(
                    format!(".tenantgitignore:{}: invalid pattern `{line}`: {e}", n + 1),
                    "the file uses gitignore syntax, e.g. `users/*/breakglass*` or `conditionalAccessPolicies/`",
                )
            })?;
        }
        self.excluded = Some(builder.build().map_err(|e| {
            Error::config(
                format!(".tenantgitignore: {e}"),
                "the file uses gitignore syntax",
            )
        })?);
        Ok(())
    }

    /// Whether a file of `kind` at `path` (with the id its name suggests) is selected.
    pub fn path_selected(&self, kind: &KindSpec, path: &str) -> bool {
        if !self.kinds.iter().any(|k| k.kind == kind.kind) {
            return false;
        }
        if let Some(excluded) = &self.excluded {
            if excluded
                .matched_path_or_any_parents(path, false)
                .is_ignore()
            {
                return false;
            }
        }
        if let Some(globs) = &self.globs {
            if !globs.matched_path_or_any_parents(path, false).is_ignore() {
                return false;
            }
        }
        if !self.safe_ids.is_empty() {
            // The file name carries the id (made file-name safe); the object check is exact.
            if let Some(hint) = layout::id_hint_from_path(kind, path) {
                return self.safe_ids.contains(&hint);
            }
        }
        true
    }

    /// Whether an object is selected (after its file, if any, was read).
    pub fn object_selected(&self, key: &ObjectKey, path: &str) -> bool {
        let Some(kind) = self.kinds.iter().find(|k| k.kind == key.kind) else {
            return false;
        };
        (self.ids.is_empty() || self.ids.contains(&key.id)) && self.path_selected(kind, path)
    }

    /// Keeps only the selected objects.
    pub fn filter(&self, snapshot: Snapshot) -> Snapshot {
        let objects = snapshot
            .objects
            .into_iter()
            .filter(|(key, o)| {
                self.object_selected(key, &layout::path_for(o.kind, &o.id, o.name_for_path()))
            })
            .collect();
        Snapshot { objects }
    }
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

/// Report of commit `old` (the backup) against the live tenant.
pub async fn commit_vs_live(
    store: &Store,
    client: &GraphClient,
    rev: &str,
    commit: Oid,
    selection: &Selection,
    options: &DiffOptions,
    progress: &dyn ReadProgress,
) -> Result<Report, Error> {
    let index = store.tree_index(commit)?;
    let live = selection.filter(read::read_tenant(client, &selection.kinds, progress).await?);
    // Objects whose canonical bytes equal the commit's blob at the same path are identical.
    let mut same_paths: HashSet<String> = HashSet::new();
    let mut changed = Snapshot::default();
    for (key, object) in live.objects {
        let path = layout::path_for(object.kind, &object.id, object.name_for_path());
        if index.get(&path) == Some(store::blob_id(yaml::emit_object(&object).as_bytes())) {
            same_paths.insert(path);
        } else {
            changed.objects.insert(key, object);
        }
    }
    let old = store.load_snapshot(commit, &|kind, path| {
        !same_paths.contains(path) && selection.path_selected(kind, path)
    })?;
    let old = selection.filter(old);
    let removed: Vec<&'static KindSpec> = old
        .objects
        .keys()
        .filter(|k| !changed.objects.contains_key(*k))
        .filter_map(|k| crate::schema::kind(k.kind))
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
    let changes = diff::diff(&old, &changed, &deleted, options);
    Ok(Report {
        from: commit_side(store, rev, commit)?,
        to: Side {
            label: "live tenant".into(),
            commit: None,
            time: Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        },
        changes,
    })
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
    let differs = |path: &str, other: &store::TreeIndex, this: &store::TreeIndex| {
        this.get(path) != other.get(path)
    };
    let old = store.load_snapshot(old_commit, &|kind, path| {
        differs(path, &new_index, &old_index) && selection.path_selected(kind, path)
    })?;
    let new = store.load_snapshot(new_commit, &|kind, path| {
        differs(path, &old_index, &new_index) && selection.path_selected(kind, path)
    })?;
    let changes = diff::diff(
        &selection.filter(old),
        &selection.filter(new),
        &HashMap::new(),
        options,
    );
    Ok(Report {
        from: commit_side(store, old_rev, old_commit)?,
        to: commit_side(store, new_rev, new_commit)?,
        changes,
    })
}
