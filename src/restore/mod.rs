//! The one restore pipeline: desired state + live tenant → plan → safety → writes → read-back
//! and verification, with a journal of every write. `restore`, `apply`, `apply --plan`, `plan`
//! and the demo all go through here with the repository's settings, so no entry point can skip
//! a check.
//!
//! - [`plan`] reads the desired side (a commit, or the working tree with the index's version of
//!   paths a sparse checkout leaves out), resolves the selection to object ids on both sides,
//!   recognises re-created objects (journal first), validates every desired file and computes
//!   the plan with its refusals.
//! - [`narrow`] holds a saved plan against a fresh plan of the same request: a plan can only
//!   ever narrow what a fresh plan would do, and its refusals are judged again.
//! - [`execute`] refuses what needs `--force`, then writes, journalling each request.

mod validate;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use git2::Oid;

use crate::apply::journal::{self, Journal};
use crate::apply::{self, ApplyOptions, ApplyReport};
use crate::error::Error;
use crate::graph::GraphClient;
use crate::layout;
use crate::live;
use crate::model::{ObjectKey, Snapshot};
use crate::plan::{
    self, Action, DeletedObject, DesiredSource, Op, Plan, PlanError, PlanInput, PlanRequest,
    RecreateInput, SafetySettings,
};
use crate::read::{self, ReadProgress};
use crate::schema::{self, KindSpec};
use crate::select::Selection;
use crate::store::Store;

impl From<read::DeletedItem> for DeletedObject {
    fn from(item: read::DeletedItem) -> Self {
        DeletedObject {
            key: item.key,
            display_name: item.display_name,
            deleted_at: item.deleted_at,
            state: None,
        }
    }
}

/// Where the desired state comes from.
#[derive(Debug, Clone)]
pub enum Desired {
    /// A commit: `restore REV`, `plan --from REV`.
    Commit { rev: String, commit: Oid },
    /// The checked-out files: `apply`, `plan`.
    Worktree,
}

/// What to restore.
pub struct Request {
    pub desired: Desired,
    pub selection: Selection,
    /// Delete live objects the desired state does not have.
    pub prune: bool,
}

impl Request {
    /// The request a saved plan answers, checked against this repository: its selection with
    /// the repository's current `.tenantgitignore`.
    pub fn from_plan(
        store: &Store,
        scope: &[&'static KindSpec],
        saved: &PlanRequest,
        ignore_file: Option<&str>,
    ) -> Result<Request, Error> {
        let desired = match &saved.desired {
            DesiredSource::Commit { rev, commit } => Desired::Commit {
                rev: rev.clone(),
                commit: store.resolve(commit)?,
            },
            DesiredSource::WorkingTree => Desired::Worktree,
        };
        let mut selection = Selection::from_spec(scope, &saved.selection)?;
        if let Some(text) = ignore_file {
            selection.exclude(text)?;
        }
        Ok(Request {
            desired,
            selection,
            prune: saved.prune,
        })
    }
}

/// A computed plan and what it was computed from.
pub struct Planned {
    pub plan: Plan,
    /// Objects selected on either side (0: the selection matched nothing).
    pub selected: usize,
    /// Live objects per kind, for judging a narrowed plan.
    pub live_counts: BTreeMap<String, usize>,
    /// Desired files read from the index because the working tree does not have them.
    pub not_checked_out: usize,
    /// One-line notices of the live read (delta tokens not trusted, full rounds).
    pub notices: Vec<String>,
}

/// A live object's file: its path and blob id, and the object when the read produced it (files
/// kept from the last snapshot are parsed only when needed).
struct LiveFile {
    kind: &'static KindSpec,
    path: String,
    hint: String,
    oid: Oid,
    object: Option<crate::model::Object>,
}

/// Desired state + live state + selection → plan. The live tenant is read as `live` reads it
/// (incrementally where the last snapshot allows); a selected object whose desired file has the
/// blob id of its live file is unchanged and never parsed; the others are read again by id
/// (`$batch`), fresh, and only their desired files are parsed and validated — one bad file is
/// an error before anything else happens.
pub async fn plan(
    store: &Store,
    client: &GraphClient,
    request: &Request,
    safety: &SafetySettings,
    read: &live::Options,
    progress: &dyn ReadProgress,
) -> Result<Planned, Error> {
    let selection = &request.selection;
    let (files, label, source) = match &request.desired {
        Desired::Commit { rev, commit } => (
            store.desired_commit(*commit)?,
            format!("{rev} ({})", &commit.to_string()[..10]),
            DesiredSource::Commit {
                rev: rev.clone(),
                commit: commit.to_string(),
            },
        ),
        Desired::Worktree => {
            if let Some(root) = store.workdir() {
                validate::check_worktree_folders(root)?;
            }
            (
                store.desired_worktree()?,
                "working tree".to_string(),
                DesiredSource::WorkingTree,
            )
        }
    };
    let live = live::read(store, client, &selection.kinds, read, progress).await?;
    let notices = live.notices.clone();
    let mut live_counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut live_files: Vec<LiveFile> = Vec::with_capacity(live.len());
    for k in live.kinds {
        *live_counts.entry(k.kind.kind.clone()).or_default() += k.kept.len() + k.objects.len();
        for (path, oid) in k.kept {
            let hint = layout::id_hint_from_path(k.kind, &path).unwrap_or_default();
            live_files.push(LiveFile {
                kind: k.kind,
                path,
                hint,
                oid,
                object: None,
            });
        }
        for o in k.objects {
            let path = layout::path_for(k.kind, &o.id, o.name_for_path());
            live_files.push(LiveFile {
                kind: k.kind,
                hint: layout::safe_component(&o.id),
                oid: crate::store::blob_id(crate::yaml::emit_object(&o).as_bytes()),
                path,
                object: Some(o),
            });
        }
    }
    let live_refs = || {
        live_files.iter().map(|f| crate::select::FileRef {
            path: &f.path,
            kind: f.kind,
            id_hint: &f.hint,
        })
    };
    check_protected(safety, selection, &files, &live_refs)?;
    let resolved = selection.resolve(files.refs().chain(live_refs()), &Snapshot::default())?;

    // Selected objects whose files differ: on one side only, or other bytes.
    let mut desired_at: HashMap<(&str, &str), Vec<&str>> = HashMap::new();
    for f in files.refs() {
        desired_at
            .entry((f.kind.kind.as_str(), f.id_hint))
            .or_default()
            .push(f.path);
    }
    let live_at: HashMap<(&str, &str), &LiveFile> = live_files
        .iter()
        .map(|f| ((f.kind.kind.as_str(), f.hint.as_str()), f))
        .collect();
    let mut differ: HashSet<(&'static str, String)> = HashSet::new();
    for (kind, hint) in resolved.iter() {
        let desired = desired_at.get(&(kind, hint));
        let live = live_at.get(&(kind, hint));
        let same = match (desired.map(Vec::as_slice), live) {
            (Some([path]), Some(l)) => {
                *path == l.path && store.desired_blob(&files, path) == Some(l.oid)
            }
            _ => false,
        };
        if !same {
            differ.insert((kind, hint.to_string()));
        }
    }
    // With --prune a live object the desired side lacks is deleted: it differs by definition.
    let desired = store.load_desired(&files, &|kind, _path, hint| {
        differ.contains(&(kind.kind.as_str(), hint.to_string()))
    })?;
    let mut paths = desired.paths;
    let mut desired_snapshot = desired.snapshot;

    // The live state of what differs, read again by id: the plan and its fingerprints rest on
    // what Graph says now.
    let mut keys: Vec<ObjectKey> = differ
        .iter()
        .filter(|(kind, hint)| live_at.contains_key(&(*kind, hint.as_str())))
        .map(|(kind, hint)| ObjectKey {
            kind: schema::kind(kind).expect("a selected kind").into(),
            id: live_at[&(*kind, hint.as_str())]
                .object
                .as_ref()
                .map(|o| o.id.clone())
                .unwrap_or_else(|| hint.clone()),
        })
        .collect();
    keys.extend(
        desired_snapshot
            .objects
            .keys()
            .filter(|k| {
                !live_at.contains_key(&(k.kind.as_str(), layout::safe_component(&k.id).as_str()))
            })
            .cloned(),
    );
    let mut live = read::read_objects(client, &keys).await?;

    // A desired object that is gone live gets a new id when it is re-created, and objects that
    // name it by id (a Conditional Access policy's conditions) must be written to name the new
    // one, even when their files match the tenant's: they join the plan.
    let gone: Vec<String> = desired_snapshot
        .objects
        .keys()
        .filter(|k| !live.objects.contains_key(*k))
        .map(|k| k.id.clone())
        .collect();
    if !gone.is_empty() {
        let mut naming: HashSet<(&'static str, String)> = HashSet::new();
        for (kind, hint) in resolved.iter() {
            if differ.contains(&(kind, hint.to_string())) {
                continue;
            }
            let Some([path]) = desired_at.get(&(kind, hint)).map(Vec::as_slice) else {
                continue;
            };
            let text = store.desired_text(&files, path).unwrap_or_default();
            if gone.iter().any(|id| text.contains(id.as_str())) {
                naming.insert((kind, hint.to_string()));
            }
        }
        if !naming.is_empty() {
            let more = store.load_desired(&files, &|kind, _path, hint| {
                naming.contains(&(kind.kind.as_str(), hint.to_string()))
            })?;
            let keys: Vec<ObjectKey> = more.snapshot.objects.keys().cloned().collect();
            for o in read::read_objects(client, &keys)
                .await?
                .objects
                .into_values()
            {
                live.insert(o);
            }
            paths.extend(more.paths);
            for o in more.snapshot.objects.into_values() {
                desired_snapshot.insert(o);
            }
        }
    }

    let claimed: std::collections::HashSet<(String, String)> = files
        .refs()
        .map(|f| (f.kind.kind.clone(), f.id_hint.to_string()))
        .collect();
    let missing: Vec<&ObjectKey> = desired_snapshot
        .objects
        .keys()
        .filter(|k| !live.objects.contains_key(*k))
        .collect();
    let mut missing_kinds: Vec<&'static KindSpec> = missing
        .iter()
        .map(|k| k.kind.spec())
        .filter(|k| k.soft_delete)
        .collect();
    missing_kinds.sort_by_key(|k| k.apply_order);
    missing_kinds.dedup_by_key(|k| k.kind.as_str());
    let deleted: HashMap<ObjectKey, DeletedObject> = if missing_kinds.is_empty() {
        HashMap::new()
    } else {
        read::read_deleted(client, &missing_kinds)
            .await?
            .into_iter()
            .map(|d| (d.key.clone(), DeletedObject::from(d)))
            .collect()
    };
    // Candidates for re-created objects: live objects of the missing objects' kinds that no
    // desired file claims (parsed from the live files; usually few).
    let mut candidates = Snapshot::default();
    let wanted_kinds: HashSet<&str> = missing.iter().map(|k| k.kind.as_str()).collect();
    for f in &live_files {
        if !wanted_kinds.contains(f.kind.kind.as_str())
            || claimed.contains(&(f.kind.kind.clone(), f.hint.clone()))
        {
            continue;
        }
        let object = match &f.object {
            Some(o) => o.clone(),
            None => {
                let bytes = store.read_blob(f.oid)?;
                let text = String::from_utf8_lossy(&bytes);
                crate::yaml::parse_object(f.kind, std::path::Path::new(&f.path), &text)?
            }
        };
        candidates.insert(object);
    }
    for o in live.objects.values() {
        candidates.insert(o.clone());
    }
    let journals = journal::read_all(store.common_dir())?;
    let creates = journal::creates(&journals);
    let id_map = plan::recreated(&RecreateInput {
        desired: &desired_snapshot,
        live: &candidates,
        deleted: &deleted,
        claimed: &|kind, id| claimed.contains(&(kind.kind.clone(), layout::safe_component(id))),
        journal: &creates,
    });
    // The live counterparts of re-created objects, read fresh too.
    let counterparts: Vec<ObjectKey> = id_map
        .iter()
        .filter_map(|(old, new)| {
            let kind = desired_snapshot.objects.keys().find(|k| &k.id == old)?.kind;
            let key = ObjectKey {
                kind,
                id: new.clone(),
            };
            (!live.objects.contains_key(&key)).then_some(key)
        })
        .collect();
    if !counterparts.is_empty() {
        for o in read::read_objects(client, &counterparts)
            .await?
            .objects
            .into_values()
        {
            live.insert(o);
        }
    }
    // Asked once per run: the live read has the answer already.
    let extensions = read::extensions::Selected::discover(client, &selection.kinds).await?;
    validate::desired(&desired_snapshot, &live, &extensions, &paths, &|path| {
        store.desired_text(&files, path)
    })?;
    let selected = resolved.len();
    let input = PlanInput::new(&desired_snapshot, &live)
        .live_counts(live_counts.clone())
        .deleted(deleted)
        .request(
            PlanRequest {
                desired: source,
                selection: selection.spec.clone(),
                prune: request.prune,
            },
            label,
        )
        .id_map(id_map)
        .safety(safety.clone())
        .rules(crate::write_rules::RuleContext {
            tenant: client.token_tenant().await?,
            on_premises_extensions: extensions.on_premises().clone(),
        });
    Ok(Planned {
        plan: plan::plan(&input),
        selected,
        live_counts,
        not_checked_out: files.not_checked_out,
        notices,
    })
}

/// Every `[safety] protected` entry of a selected kind must name an object on one side or the
/// other: a typo would silently protect nothing.
fn check_protected<'a, I: Iterator<Item = crate::select::FileRef<'a>>>(
    safety: &SafetySettings,
    selection: &Selection,
    files: &crate::store::DesiredFiles,
    live: &dyn Fn() -> I,
) -> Result<(), Error> {
    for entry in &safety.protected {
        let Some((kind, id)) = entry.split_once('/') else {
            continue;
        };
        let Some(spec) = schema::kind(kind).filter(|k| selection.kind_selected(k)) else {
            continue;
        };
        let safe = layout::safe_component(id);
        let mut known: Vec<String> = files
            .refs()
            .filter(|f| f.kind.kind == spec.kind)
            .map(|f| f.id_hint.to_string())
            .collect();
        known.extend(
            live()
                .filter(|f| f.kind.kind == spec.kind)
                .map(|f| f.id_hint.to_string()),
        );
        if known.iter().any(|k| *k == safe || k == id) {
            continue;
        }
        let guess = crate::suggest::closest(id, known.iter().map(String::as_str))
            .map(|k| format!("did you mean `{kind}/{k}`? "))
            .unwrap_or_default();
        return Err(Error::config(
            format!(
                "tenantgit.toml: [safety] protected entry `{entry}` names no object (neither in the desired state nor in the tenant)"
            ),
            format!("{guess}use the `id:` of the object's file; a protected entry that names nothing protects nothing"),
        ));
    }
    Ok(())
}

/// A saved plan, held against a fresh plan of the same request: every action of the saved plan
/// must be one the fresh plan makes (or a part of one: fewer properties of an update, fewer link
/// ends), every object it touches must be as it was when the plan was made, and its refusals are
/// judged again from the repository's settings and the live counts. The result is the saved
/// plan as it may be carried out, with the fresh plan's trusted data (desired objects,
/// fingerprints, ids of re-created objects).
pub fn narrow(saved: &Plan, fresh: &Planned, safety: &SafetySettings) -> Result<Plan, PlanError> {
    let fresh_plan = &fresh.plan;
    let exceeding: Vec<&Action> = saved
        .actions
        .iter()
        .filter(|a| !fresh_plan.actions.iter().any(|f| contains(f, a)))
        .collect();
    if let Some(first) = exceeding.first() {
        return Err(PlanError::Exceeds {
            action: format!(
                "{} {} ({})",
                first.op.label(),
                first.key(),
                first.display_name
            ),
            count: exceeding.len(),
        });
    }
    let mut stale = Vec::new();
    let mut fingerprints = BTreeMap::new();
    for (kind, id) in saved.touched() {
        let key = format!("{kind}/{id}");
        let now = fresh_plan.fingerprints.get(&key);
        if saved.fingerprints.get(&key) != now {
            stale.push(key.clone());
        }
        if let Some(now) = now {
            fingerprints.insert(key, now.clone());
        }
    }
    if !stale.is_empty() {
        return Err(PlanError::Stale { objects: stale });
    }
    let touched: std::collections::BTreeSet<(crate::schema::Kind, String)> =
        saved.touched().into_iter().collect();
    let mut narrowed = Plan {
        version: fresh_plan.version,
        request: fresh_plan.request.clone(),
        desired: fresh_plan.desired.clone(),
        created: saved.created.clone(),
        id_map: fresh_plan.id_map.clone(),
        actions: saved.actions.clone(),
        kept: saved.kept.clone(),
        notes: fresh_plan
            .notes
            .iter()
            .filter(|n| touched.contains(&(n.kind, n.id.clone())))
            .cloned()
            .collect(),
        refusals: plan::refusals(&saved.actions, &fresh.live_counts, safety),
        cannot_restore: fresh_plan
            .cannot_restore
            .iter()
            .filter(|c| touched.contains(&(c.kind, c.id.clone())))
            .cloned()
            .collect(),
        fingerprints,
        desired_objects: fresh_plan
            .desired_objects
            .iter()
            .filter(|d| touched.contains(&(d.kind, d.id.clone())))
            .cloned()
            .collect(),
        checksum: String::new(),
    };
    narrowed.checksum = narrowed.compute_checksum();
    Ok(narrowed)
}

/// Whether `part` asks for nothing `whole` does not: the same step on the same object, with at
/// most the properties and link ends of `whole`, each with the same value.
fn contains(whole: &Action, part: &Action) -> bool {
    if whole.phase != part.phase || whole.kind != part.kind || whole.id != part.id {
        return false;
    }
    match (&whole.op, &part.op) {
        (Op::Restore, Op::Restore) => true,
        (Op::Invite { body: a }, Op::Invite { body: b }) => a == b,
        (Op::Delete { soft: a }, Op::Delete { soft: b }) => a == b,
        (
            Op::Create {
                body: a,
                password: pa,
            },
            Op::Create {
                body: b,
                password: pb,
            },
        ) => a == b && pa == pb,
        (Op::Update { body: a }, Op::Update { body: b }) => {
            // `@odata.type` names the object's type; it is not a change by itself.
            b.iter().all(|(k, v)| a.get(k) == Some(v)) && b.keys().any(|k| k != "@odata.type")
        }
        (Op::AddLinks { link: la, ends: a }, Op::AddLinks { link: lb, ends: b })
        | (Op::RemoveLinks { link: la, ends: a }, Op::RemoveLinks { link: lb, ends: b }) => {
            la == lb && !b.is_empty() && b.iter().all(|e| a.iter().any(|f| f.id == e.id))
        }
        _ => false,
    }
}

/// How to carry a plan out.
#[derive(Debug, Clone, Copy)]
pub struct ExecuteOptions {
    /// Carry out a plan that has refusals.
    pub force: bool,
    /// Writes in flight at most.
    pub concurrency: usize,
}

/// What carrying a plan out did.
pub struct Executed {
    pub report: ApplyReport,
    /// The journal of the writes.
    pub journal: PathBuf,
}

/// Carries a plan out: refused without `force` when it has refusals; every request is
/// journalled in the repository's git folder before it is sent.
pub async fn execute(
    store: &Store,
    client: &GraphClient,
    plan: &Plan,
    options: ExecuteOptions,
) -> Result<Executed, Error> {
    plan::ensure_allowed(plan, options.force)?;
    let journal = std::sync::Arc::new(Journal::create(
        store.common_dir(),
        &plan.desired,
        plan.actions.len(),
    )?);
    crate::failpoint::hit("restore.journal-started", store.common_dir());
    let report = apply::execute(
        client,
        plan,
        &ApplyOptions {
            concurrency: options.concurrency.max(1),
        },
        Some(journal.clone()),
    )
    .await;
    journal.end(report.writes, report.failed)?;
    Ok(Executed {
        journal: journal.path().to_path_buf(),
        report,
    })
}

/// The journal folder of a repository, for messages.
pub fn journal_dir(store: &Store) -> PathBuf {
    store.common_dir().join(journal::DIR)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::plan::{Phase, PlanLink};

    fn action(phase: Phase, op: Op) -> Action {
        Action {
            phase,
            kind: crate::schema::Kind::named("groups").unwrap(),
            id: "g1".into(),
            display_name: "Sales".into(),
            op,
            attributes: Vec::new(),
        }
    }

    fn ends(ids: &[&str]) -> Vec<PlanLink> {
        ids.iter()
            .map(|id| PlanLink {
                id: id.to_string(),
                display_name: None,
            })
            .collect()
    }

    fn update(body: serde_json::Value) -> Action {
        let serde_json::Value::Object(body) = body else {
            panic!("a body is a mapping")
        };
        action(Phase::Update, Op::Update { body })
    }

    #[test]
    fn a_saved_action_may_only_narrow_a_fresh_one() {
        let fresh = update(json!({"description": "x", "displayName": "Sales"}));
        assert!(contains(&fresh, &update(json!({"description": "x"}))));
        assert!(contains(&fresh, &fresh));
        assert!(
            !contains(&fresh, &update(json!({"description": "y"}))),
            "another value"
        );
        assert!(
            !contains(&fresh, &update(json!({"mailNickname": "x"}))),
            "another property"
        );
        assert!(
            !contains(&fresh, &update(json!({"@odata.type": "#x"}))),
            "nothing but a type"
        );
        let mut other = update(json!({"description": "x"}));
        other.id = "g2".into();
        assert!(!contains(&fresh, &other), "another object");

        let add = |ids: &[&str]| {
            action(
                Phase::AddLinks,
                Op::AddLinks {
                    link: "members".into(),
                    ends: ends(ids),
                },
            )
        };
        assert!(contains(&add(&["a", "b"]), &add(&["b"])));
        assert!(!contains(&add(&["a"]), &add(&["a", "c"])));
        assert!(!contains(&add(&["a"]), &add(&[])));
        let remove = action(
            Phase::RemoveLinks,
            Op::RemoveLinks {
                link: "members".into(),
                ends: ends(&["a"]),
            },
        );
        assert!(!contains(&add(&["a"]), &remove), "adding is not removing");

        let delete = |soft| action(Phase::Prune, Op::Delete { soft });
        assert!(contains(&delete(true), &delete(true)));
        assert!(!contains(&delete(true), &delete(false)));
        assert!(!contains(&fresh, &delete(true)));
    }
}
