//! The commands' work, independent of the command line (the demo runs the same functions):
//! reading the tenant into a snapshot and committing it; computing a restore/apply plan from a
//! desired state (a commit or the working tree) and the live tenant.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Instant;

use serde_json::Value;

use crate::compare::Selection;
use crate::error::{Error, YamlError};
use crate::graph::GraphClient;
use crate::model::{Object, ObjectKey, Snapshot};
use crate::plan::{self, DeletedObject, Plan, PlanInput, SafetySettings};
use crate::read::{self, ReadProgress};
use crate::schema::{self, KindSpec};
use crate::store::{CommitOptions, CommitOutcome, Store};
use crate::{layout, yaml};

/// What one `snapshot` did.
pub struct SnapshotRun {
    pub outcome: CommitOutcome,
    pub objects: usize,
    pub read_seconds: f64,
}

/// Reads every object of `kinds` and commits the result (only when the tree changed). A failed
/// read returns the error before anything is written.
pub async fn snapshot(
    store: &Store,
    client: &GraphClient,
    kinds: &[&'static KindSpec],
    extra_files: &[(String, Vec<u8>)],
    options: &CommitOptions,
    progress: &dyn ReadProgress,
) -> Result<SnapshotRun, Error> {
    let started = Instant::now();
    let snapshot = read::read_tenant(client, kinds, progress).await?;
    let read_seconds = started.elapsed().as_secs_f64();
    let objects = snapshot.len();
    let outcome = store.commit_snapshot(&snapshot, kinds, extra_files, options)?;
    Ok(SnapshotRun {
        outcome,
        objects,
        read_seconds,
    })
}

/// Where the desired state of a restore or apply comes from.
pub enum Desired {
    /// A commit: `restore REV`.
    Commit { rev: String, commit: git2::Oid },
    /// The checked-out files: `apply`.
    Worktree,
}

/// Everything a plan was computed from, for the CLI's narration.
pub struct Planned {
    pub plan: Plan,
    /// Objects selected on either side (0: the selection matched nothing).
    pub selected: usize,
}

/// Desired state + live state + selection → plan. Every desired file is parsed and validated
/// first; one bad file is an error before anything else happens.
pub async fn make_plan(
    store: &Store,
    client: &GraphClient,
    desired: &Desired,
    selection: &Selection,
    safety: SafetySettings,
    prune: bool,
    progress: &dyn ReadProgress,
) -> Result<Planned, Error> {
    let filter = |kind: &KindSpec, path: &str| selection.path_selected(kind, path);
    let (desired_snapshot, label, commit, root) = match desired {
        Desired::Commit { rev, commit } => (
            store.load_snapshot(*commit, &filter)?,
            format!("{rev} ({})", &commit.to_string()[..10]),
            Some(commit.to_string()),
            None,
        ),
        Desired::Worktree => {
            let root = store.workdir().map(Path::to_path_buf);
            if let Some(root) = &root {
                check_worktree_folders(root)?;
            }
            (
                store.load_worktree(&filter)?,
                "working tree".to_string(),
                None,
                root,
            )
        }
    };
    let desired_snapshot = selection.filter(desired_snapshot);
    let live_all = read::read_tenant(client, &selection.kinds, progress).await?;
    let mut live_counts: BTreeMap<String, usize> = BTreeMap::new();
    for key in live_all.objects.keys() {
        *live_counts.entry(key.kind.to_string()).or_default() += 1;
    }
    let live = selection.filter(live_all);
    validate_desired(&desired_snapshot, &live, root.as_deref())?;
    let missing: Vec<&'static KindSpec> = desired_snapshot
        .objects
        .keys()
        .filter(|k| !live.objects.contains_key(*k))
        .filter_map(|k| schema::kind(k.kind))
        .filter(|k| k.soft_delete)
        .collect();
    let deleted: HashMap<ObjectKey, DeletedObject> = if missing.is_empty() {
        HashMap::new()
    } else {
        let mut kinds = missing;
        kinds.sort_by_key(|k| k.apply_order);
        kinds.dedup_by_key(|k| k.kind.as_str());
        read::read_deleted(client, &kinds)
            .await?
            .into_iter()
            .map(|d| (d.key.clone(), DeletedObject::from(d)))
            .collect()
    };
    let selected = desired_snapshot.len().max(live.len());
    let plan = plan::plan(&PlanInput {
        desired: &desired_snapshot,
        live: &live,
        live_counts: &live_counts,
        deleted: &deleted,
        desired_label: label,
        desired_commit: commit,
        prune,
        safety,
    });
    Ok(Planned { plan, selected })
}

/// YAML files in a folder that no kind owns would be silently skipped: refuse instead.
fn check_worktree_folders(root: &Path) -> Result<(), Error> {
    let entries = std::fs::read_dir(root)
        .map_err(|e| Error::io(format!("cannot read {}", root.display()), e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.')
            || !entry.path().is_dir()
            || schema::kinds().iter().any(|k| k.dir == name)
        {
            continue;
        }
        let has_yaml = walkdir::WalkDir::new(entry.path())
            .into_iter()
            .flatten()
            .any(|e| {
                e.path()
                    .extension()
                    .is_some_and(|x| x == "yaml" || x == "yml")
            });
        if has_yaml {
            return Err(Error::usage(
                format!("{name}/ holds YAML files but is not the folder of any kind"),
                format!(
                    "object files live in the kinds' folders: {}",
                    folder_names().join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn folder_names() -> Vec<String> {
    let mut dirs: Vec<String> = schema::kinds()
        .iter()
        .map(|k| format!("{}/", k.dir))
        .collect();
    dirs.dedup();
    dirs
}

/// Desired objects may only carry the kind's managed properties, and a property set on both
/// sides must have the live value's JSON type (a hand edit that writes `accountEnabled: "yes"`
/// is caught here, not by Graph halfway through a restore).
fn validate_desired(desired: &Snapshot, live: &Snapshot, root: Option<&Path>) -> Result<(), Error> {
    for (key, object) in &desired.objects {
        let kind = object.kind;
        let odata_type = object.odata_type();
        if kind.has_variants() && odata_type.is_none_or(|t| !kind.variants.contains_key(t)) {
            return Err(bad_file(
                object,
                root,
                "@odata.type",
                format!(
                    "`@odata.type` must be one of {}",
                    kind.variants.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        let managed = kind.managed_for(odata_type);
        for (prop, value) in &object.props {
            if prop == "id" || prop == "@odata.type" {
                continue;
            }
            if !managed.contains(&prop.as_str()) {
                return Err(bad_file(
                    object,
                    root,
                    prop,
                    format!("unknown property `{prop}` for {}", kind.kind),
                ));
            }
            let Some(current) = live.get(key).and_then(|l| l.props.get(prop)) else {
                continue;
            };
            if !value.is_null() && !current.is_null() && json_type(value) != json_type(current) {
                return Err(bad_file(
                    object,
                    root,
                    prop,
                    format!(
                        "`{prop}` is {} here but {} in the tenant",
                        json_type(value),
                        json_type(current)
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// An error at the line of `prop` in the object's file (read from the working tree when there is
/// one, else as tenantgit would write it).
fn bad_file(object: &Object, root: Option<&Path>, prop: &str, message: String) -> Error {
    let path = layout::path_for(object.kind, &object.id, object.name_for_path());
    let text = root
        .and_then(|r| std::fs::read_to_string(r.join(&path)).ok())
        .unwrap_or_else(|| yaml::emit_object(object));
    let quoted = format!("\"{prop}\":");
    let line = text
        .lines()
        .position(|l| l.starts_with(&format!("{prop}:")) || l.starts_with(&quoted))
        .map_or(1, |i| i + 1);
    Error::Yaml(YamlError {
        path: path.into(),
        line,
        column: 1,
        message,
    })
}
