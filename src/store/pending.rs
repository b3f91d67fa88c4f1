//! Desired changes not yet applied. A snapshot commit records what the tenant was observed to be;
//! any other commit on the branch (a merged pull request, a hand edit) that changes object files
//! states what the tenant should become. A snapshot that overwrote such a change before it was
//! applied would revert it silently, so the snapshot looks for them first:
//!
//! - Snapshot commits carry the trailer `Tenantgit-Snapshot: <kinds observed>` (in any clone).
//! - Per kind being snapshotted, the last observation is the first commit on `HEAD`'s
//!   first-parent chain (`HEAD` included) whose trailer names the kind; none, no check.
//! - The desired changes are the kind's object files that differ between that commit's tree and
//!   `HEAD`'s, joined by object id (a renamed file is one change).
//! - One is applied when the tenant as just read has the object in the same state as `HEAD`'s
//!   file (parsed and normalized again), or both lack it.
//!
//! The caller refuses when any is not applied, unless told to record the tenant as it is (see
//! `CommitOptions::record_drift`).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use git2::{DiffOptions, Oid};

use super::{Store, StoreError};
use crate::layout;
use crate::model::Object;
use crate::normalize;
use crate::schema::KindSpec;
use crate::yaml;

/// The trailer that marks a snapshot commit; its value lists the kinds observed.
pub const TRAILER: &str = "Tenantgit-Snapshot";

/// One object whose file `HEAD` holds differently from the last snapshot of its kind.
#[derive(Debug, Clone)]
pub struct DesiredChange {
    pub kind: &'static KindSpec,
    pub id: String,
    /// Its file in `HEAD`, or in the last snapshot when `HEAD` deleted it.
    pub path: String,
    /// Whether the tenant as read has it.
    pub applied: bool,
    /// For a change not applied: the commits after the last snapshot that changed its file,
    /// newest first, as (commit, title).
    pub commits: Vec<(Oid, String)>,
}

/// The refusal of a snapshot that would revert `unapplied` (not empty).
pub(super) fn refusal(unapplied: &[&DesiredChange]) -> StoreError {
    const NAMED: usize = 3;
    let objects = unapplied
        .iter()
        .take(NAMED)
        .map(|d| d.path.clone())
        .collect();
    let mut seen: Vec<Oid> = Vec::new();
    for d in unapplied {
        for (commit, _) in &d.commits {
            if !seen.contains(commit) {
                seen.push(*commit);
            }
        }
    }
    let title = |oid: &Oid| {
        unapplied
            .iter()
            .flat_map(|d| &d.commits)
            .find(|(c, _)| c == oid)
            .map(|(_, t)| t.clone())
            .unwrap_or_default()
    };
    let mut commits: Vec<String> = seen
        .iter()
        .take(NAMED)
        .map(|c| format!("commit {} \"{}\"", &c.to_string()[..10], title(c)))
        .collect();
    if seen.len() > NAMED {
        commits.push(format!("and {} more commits", seen.len() - NAMED));
    }
    StoreError::Unapplied {
        count: unapplied.len(),
        objects,
        commits,
    }
}

/// The kinds a snapshot commit's trailer names; `None` for any other commit.
pub fn observed_kinds(message: &str) -> Option<Vec<String>> {
    let trailers = git2::message_trailers_strs(message).ok()?;
    let value = trailers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(TRAILER))
        .map(|(_, value)| value.to_string())?;
    Some(
        value
            .split([',', ' '])
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

/// The trailer line of a snapshot of `kinds`.
pub fn trailer(kinds: &[&KindSpec]) -> String {
    let names: Vec<&str> = kinds.iter().map(|k| k.kind.as_str()).collect();
    format!("{TRAILER}: {}", names.join(", "))
}

/// A commit on the first-parent chain, newest first.
struct Link {
    id: Oid,
    title: String,
}

/// One side of a desired change: path and blob.
#[derive(Default)]
struct Sides {
    kind: Option<&'static KindSpec>,
    head: Option<(String, Oid)>,
    observed: Option<(String, Oid)>,
    /// Index in the chain of the last snapshot of its kind.
    since: usize,
}

impl Store {
    /// The desired changes of `kinds` that `head` holds, each checked against `live`.
    pub(super) fn desired_changes(
        &self,
        head: Oid,
        kinds: &[&'static KindSpec],
        live: &dyn Fn(&'static KindSpec, &str) -> Option<Object>,
        recreated: &BTreeMap<String, String>,
    ) -> Result<Vec<DesiredChange>, StoreError> {
        let repo = &self.repo;
        let git = |what: &str| StoreError::git(format!("looking for desired changes: {what}"));
        // The first-parent chain down to the oldest last snapshot of a kind in scope.
        let mut chain: Vec<Link> = Vec::new();
        let mut last: HashMap<&str, usize> = HashMap::new();
        let mut next = Some(repo.find_commit(head).map_err(git("reading HEAD"))?);
        while let Some(commit) = next {
            if let Some(observed) = commit.message().and_then(observed_kinds) {
                for k in kinds {
                    if observed.contains(&k.kind) {
                        last.entry(k.kind.as_str()).or_insert(chain.len());
                    }
                }
            }
            chain.push(Link {
                id: commit.id(),
                title: commit.summary().unwrap_or_default().to_string(),
            });
            if kinds.iter().all(|k| last.contains_key(k.kind.as_str())) {
                break;
            }
            next = commit.parent(0).ok();
        }

        // Files that differ between each last snapshot and HEAD, by object.
        let mut by_snapshot: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
        for (kind, at) in &last {
            by_snapshot.entry(*at).or_default().push(kind);
        }
        let mut sides: BTreeMap<(String, String), Sides> = BTreeMap::new();
        for (at, kind_names) in by_snapshot {
            if at == 0 {
                continue;
            }
            for change in self.changed_object_files(chain[at].id, head)? {
                if !kind_names.contains(&change.kind.kind.as_str()) {
                    continue;
                }
                let id = layout::id_hint_from_path(change.kind, &change.path)
                    .unwrap_or_else(|| change.path.clone());
                let entry = sides.entry((change.kind.kind.clone(), id)).or_default();
                entry.kind = Some(change.kind);
                entry.since = at;
                if let Some(oid) = change.new {
                    entry.head = Some((change.path.clone(), oid));
                }
                if let Some(oid) = change.old {
                    entry.observed = Some((change.path.clone(), oid));
                }
            }
        }

        let mut out = Vec::new();
        // Changes not applied: (index in `out`, their paths, index of the last snapshot).
        let mut blame: Vec<(usize, Vec<String>, usize)> = Vec::new();
        for ((_, hinted_id), side) in sides {
            let kind = side.kind.expect("every entry has its kind");
            let head_object = side
                .head
                .as_ref()
                .map(|(path, oid)| self.parse_blob(kind, path, *oid));
            // The id in the file, when it can be read; else the one in the name.
            let id = head_object
                .as_ref()
                .and_then(|o| o.as_ref().map(|o| o.id.clone()))
                .or_else(|| {
                    let (path, oid) = side.observed.as_ref()?;
                    self.parse_blob(kind, path, *oid).map(|o| o.id)
                })
                .unwrap_or(hinted_id);
            let live_object = live(kind, &id);
            let applied = match (&head_object, live_object) {
                (None, None) => true,
                (Some(Some(desired)), Some(live)) => {
                    normalize::renormalize(desired).is_ok_and(|desired| desired.same_state(&live))
                }
                // Created by a restore: Graph gave it a new id and set what only Graph sets.
                (Some(Some(desired)), None) => recreated
                    .get(&id)
                    .and_then(|new| live(kind, new))
                    .is_some_and(|live| created_as_desired(desired, &live, recreated)),
                _ => false,
            };
            let path = side
                .head
                .as_ref()
                .or(side.observed.as_ref())
                .map(|(p, _)| p.clone())
                .expect("a change has a file on one side");
            if !applied {
                let paths = [&side.head, &side.observed]
                    .into_iter()
                    .flatten()
                    .map(|(p, _)| p.clone())
                    .collect();
                blame.push((out.len(), paths, side.since));
            }
            out.push(DesiredChange {
                kind,
                id,
                path,
                applied,
                commits: Vec::new(),
            });
        }
        self.attach_commits(&chain, &blame, &mut out)?;
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// An object file as an object; `None` when it cannot be read or parsed (such a file cannot
    /// have been applied either).
    fn parse_blob(&self, kind: &'static KindSpec, path: &str, oid: Oid) -> Option<Object> {
        let bytes = self.read_blob(oid).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        yaml::parse_object(kind, Path::new(path), &text).ok()
    }

    /// Names, for each change in `blame`, the commits after its last snapshot that changed one
    /// of its paths, compared with their first parent: one diff per commit for all of them.
    fn attach_commits(
        &self,
        chain: &[Link],
        blame: &[(usize, Vec<String>, usize)],
        out: &mut [DesiredChange],
    ) -> Result<(), StoreError> {
        let Some(oldest) = blame.iter().map(|(_, _, since)| *since).max() else {
            return Ok(());
        };
        let repo = &self.repo;
        let git = |what: &str| StoreError::git(format!("looking for desired changes: {what}"));
        let mut by_path: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, (_, paths, _)) in blame.iter().enumerate() {
            for p in paths {
                by_path.entry(p.as_str()).or_default().push(i);
            }
        }
        for (at, link) in chain[..oldest].iter().enumerate() {
            let commit = repo.find_commit(link.id).map_err(git("reading a commit"))?;
            let tree = commit.tree().map_err(git("reading a tree"))?;
            let parent_tree = match commit.parent(0) {
                Ok(p) => Some(p.tree().map_err(git("reading a tree"))?),
                Err(_) => None,
            };
            let mut opts = DiffOptions::new();
            opts.disable_pathspec_match(true);
            for p in by_path.keys() {
                opts.pathspec(p);
            }
            let diff = repo
                .diff_tree_to_tree(parent_tree.as_ref(), Some(&tree), Some(&mut opts))
                .map_err(git("comparing commits"))?;
            let mut hit: Vec<usize> = Vec::new();
            for delta in diff.deltas() {
                for file in [delta.old_file(), delta.new_file()] {
                    let Some(path) = file.path().and_then(|p| p.to_str()) else {
                        continue;
                    };
                    hit.extend(by_path.get(path).into_iter().flatten().copied());
                }
            }
            hit.sort_unstable();
            hit.dedup();
            for i in hit {
                let (index, _, since) = &blame[i];
                if at < *since {
                    out[*index].commits.push((link.id, link.title.clone()));
                }
            }
        }
        Ok(())
    }
}

/// Whether `live`, which a restore created for `desired`, holds what the restore could write:
/// every writable property and every link, with the ids of re-created objects followed.
fn created_as_desired(
    desired: &Object,
    live: &Object,
    recreated: &BTreeMap<String, String>,
) -> bool {
    let Ok(desired) = normalize::renormalize(desired) else {
        return false;
    };
    let kind = desired.kind;
    let follow = |v: &serde_json::Value| remap(v, recreated);
    let writable = |p: &str| {
        p != "id"
            && !kind.is_read_only(p)
            && !kind.is_create_only(p)
            && kind.credential(p).is_none()
    };
    let props_match = desired
        .props
        .iter()
        .filter(|(p, _)| writable(p))
        .all(|(p, v)| {
            crate::model::values_equal(
                &follow(v),
                live.props.get(p).unwrap_or(&serde_json::Value::Null),
            )
        });
    let links_match = desired.links.keys().all(|name| {
        let mut want: Vec<String> = desired
            .link_ids(name)
            .map(|id| recreated.get(id).cloned().unwrap_or_else(|| id.to_string()))
            .collect();
        want.sort();
        want.iter().map(String::as_str).eq(live.link_ids(name))
    });
    props_match && links_match
}

fn remap(v: &serde_json::Value, ids: &BTreeMap<String, String>) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) => Value::String(ids.get(s).cloned().unwrap_or_else(|| s.clone())),
        Value::Array(a) => Value::Array(a.iter().map(|x| remap(x, ids)).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, x)| (k.clone(), remap(x, ids))).collect())
        }
        other => other.clone(),
    }
}
