//! Restore and apply plans: the desired state (a commit or the working tree) and the live tenant
//! in, an ordered list of Graph writes out, with the safety findings that need `--force`, the
//! fingerprints that tell whether the live objects changed since, and a checksum that tells
//! whether a saved plan was edited. Computing a plan is pure — no I/O — so the same data feeds
//! the renderers, the plan file and the executor (`crate::apply`).
//!
//! What each difference becomes follows Entra's own recovery model (GRAPH.md A.1–A.8, C.4–C.5):
//! a modified object is one PATCH of the writable top-level properties that differ; link changes
//! are `$ref` writes (`@odata.bind` in batches of 20 where the link allows it); an object missing
//! live comes back from the recycle bin when it is there, else is re-created; a live object the
//! desired side does not have is kept unless pruning. Secrets are never written: credentials
//! that differ become notes.

mod file;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::diff::{self, AttributeChange, ChangeKind, DiffOptions};
use crate::model::{LinkRef, Object, ObjectKey, Snapshot};
use crate::schema::{self, KindSpec};

pub use file::{load, save, PlanError};

/// Bumped whenever the plan file's shape changes incompatibly.
pub const PLAN_VERSION: u32 = 1;

/// Fingerprint of an object that does not exist live.
pub const ABSENT: &str = "absent";

/// Properties that hold credentials: never PATCHed (GRAPH.md A.3–A.5, C.10). Password secrets
/// only change through addPassword/removePassword; a key credential PATCH replaces the whole
/// collection and would need every key's bytes, which a snapshot never holds.
const CREDENTIAL_PROPERTIES: &[&str] = &["passwordCredentials", "keyCredentials"];

/// An object in the recycle bin (`directory/deletedItems`).
#[derive(Debug, Clone)]
pub struct DeletedObject {
    pub key: ObjectKey,
    pub display_name: String,
    /// `deletedDateTime` as Graph gives it.
    pub deleted_at: Option<String>,
    /// The object's state when it was deleted, when known (normalized like a live object).
    /// With it, a restore writes only what differs from it; without it, every writable
    /// property and every link of the desired side is written after the restore.
    pub state: Option<Object>,
}

impl From<crate::read::DeletedItem> for DeletedObject {
    fn from(item: crate::read::DeletedItem) -> Self {
        DeletedObject {
            key: item.key,
            display_name: item.display_name,
            deleted_at: item.deleted_at,
            state: None,
        }
    }
}

/// Threshold of one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct KindThreshold {
    pub threshold: Option<f64>,
    pub min_objects: Option<usize>,
}

/// Safety settings from `tenantgit.toml [safety]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SafetySettings {
    /// Share of a kind's live objects a plan may change or delete without `--force`.
    pub threshold: f64,
    /// The threshold applies only to kinds with at least this many live objects.
    pub min_objects: usize,
    /// Per-kind overrides.
    pub kinds: BTreeMap<String, KindThreshold>,
    /// `kind/id` of objects any action on needs `--force` (break-glass accounts, named CA
    /// policies).
    pub protected: BTreeSet<String>,
}

impl Default for SafetySettings {
    fn default() -> Self {
        SafetySettings {
            threshold: 0.3,
            min_objects: 10,
            kinds: BTreeMap::new(),
            protected: BTreeSet::new(),
        }
    }
}

impl SafetySettings {
    /// The settings `tenantgit.toml` gives, defaults where it says nothing.
    pub fn from_config(config: &crate::config::SafetyConfig) -> Self {
        let default = SafetySettings::default();
        SafetySettings {
            threshold: config.threshold.unwrap_or(default.threshold),
            min_objects: config.min_objects.unwrap_or(default.min_objects),
            kinds: config
                .kinds
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        KindThreshold {
                            threshold: v.threshold,
                            min_objects: v.min_objects,
                        },
                    )
                })
                .collect(),
            protected: config.protected.iter().cloned().collect(),
        }
    }

    /// Threshold share and minimum object count for one kind.
    pub fn for_kind(&self, kind: &str) -> (f64, usize) {
        let k = self.kinds.get(kind).copied().unwrap_or_default();
        (
            k.threshold.unwrap_or(self.threshold),
            k.min_objects.unwrap_or(self.min_objects),
        )
    }
}

/// What a plan is computed from. Both snapshots are already filtered to the selection.
pub struct PlanInput<'a> {
    pub desired: &'a Snapshot,
    pub live: &'a Snapshot,
    /// All live objects per kind before filtering (the base of the thresholds).
    pub live_counts: &'a BTreeMap<String, usize>,
    pub deleted: &'a HashMap<ObjectKey, DeletedObject>,
    /// `HEAD~3 (3f2a1c0)` or `working tree`.
    pub desired_label: String,
    pub desired_commit: Option<String>,
    /// Delete live objects the desired side does not have.
    pub prune: bool,
    pub safety: SafetySettings,
}

/// The stages of a plan, in execution order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    /// Restores from the recycle bin and re-creates, kind by kind in apply order, so that
    /// objects exist before anything references them.
    Recover,
    /// PATCHes of attributes, after every object exists (a CA policy may name a re-created
    /// group).
    Update,
    /// Link ends added (before removals, so that a group never loses its last owner on the way).
    AddLinks,
    RemoveLinks,
    /// Deletes, kind by kind in reverse apply order (policies before the locations they name).
    Prune,
}

impl Phase {
    /// Whether the phase runs kind by kind (dependencies between kinds) rather than all at once.
    pub fn by_kind(self) -> bool {
        matches!(self, Phase::Recover | Phase::Prune)
    }
}

/// One end of a link in a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanLink {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

impl From<&LinkRef> for PlanLink {
    fn from(r: &LinkRef) -> Self {
        PlanLink {
            id: r.id.clone(),
            display_name: r.display_name.clone(),
        }
    }
}

/// What one action writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum Op {
    /// `POST directory/deletedItems/{id}/restore`.
    Restore,
    /// `POST {collection}` with `body`; the new object gets a new id. `password`: the executor
    /// adds a `passwordProfile` with a random password that is never stored or shown (users).
    #[serde(rename_all = "camelCase")]
    Create {
        body: Map<String, Value>,
        password: bool,
    },
    /// `PATCH {collection}/{id}` (or the singleton) with `body`.
    Update { body: Map<String, Value> },
    /// Link ends to add.
    AddLinks { link: String, ends: Vec<PlanLink> },
    /// Link ends to remove with `DELETE …/{id}/$ref`.
    RemoveLinks { link: String, ends: Vec<PlanLink> },
    /// `DELETE {collection}/{id}`: to the recycle bin where the kind has one.
    Delete { soft: bool },
}

impl Op {
    /// `restore`, `create`, `update`, `add members`, `remove owners`, `delete`.
    pub fn label(&self) -> String {
        match self {
            Op::Restore => "restore".into(),
            Op::Create { .. } => "create".into(),
            Op::Update { .. } => "update".into(),
            Op::AddLinks { link, .. } => format!("add {link}"),
            Op::RemoveLinks { link, .. } => format!("remove {link}"),
            Op::Delete { .. } => "delete".into(),
        }
    }
}

/// One attribute an action changes, live value → desired value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanAttribute {
    /// Dotted path (`conditions.users.excludeGroups`).
    pub path: String,
    /// The live value (null when none).
    pub old: Value,
    /// The desired value.
    pub new: Value,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub set_like: bool,
}

impl PlanAttribute {
    /// As the differ's type, for renderers that show set-like arrays as elements added/removed.
    pub fn as_change(&self) -> AttributeChange {
        AttributeChange {
            path: self.path.clone(),
            old: self.old.clone(),
            new: self.new.clone(),
            set_like: self.set_like,
        }
    }
}

/// One step of a plan: one operation on one object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    pub phase: Phase,
    pub kind: String,
    /// The object's id on the desired side (a re-created object gets a new one).
    pub id: String,
    pub display_name: String,
    #[serde(flatten)]
    pub op: Op,
    /// What an update changes, attribute by attribute (for people; `op` is what is sent).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<PlanAttribute>,
}

impl Action {
    pub fn key(&self) -> String {
        format!("{}/{}", self.kind, self.id)
    }
}

/// An object shown in a plan without an action on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    pub kind: String,
    pub id: String,
    pub display_name: String,
}

/// Something the plan cannot do or only partly does (secrets, read-only properties, kinds that
/// cannot be created), for the person reviewing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    pub kind: String,
    pub id: String,
    pub display_name: String,
    pub message: String,
}

/// A finding that makes executing the plan need `--force`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "camelCase")]
pub enum Refusal {
    /// The plan changes or deletes more than the threshold share of a kind's live objects.
    #[serde(rename_all = "camelCase")]
    Threshold {
        kind: String,
        /// Objects of the kind the plan modifies or deletes.
        affected: usize,
        live: usize,
        threshold: f64,
    },
    /// The plan acts on a protected object.
    #[serde(rename_all = "camelCase")]
    Protected {
        kind: String,
        id: String,
        display_name: String,
    },
}

impl Refusal {
    /// One line for people.
    pub fn message(&self) -> String {
        match self {
            Refusal::Threshold {
                kind,
                affected,
                live,
                threshold,
            } => format!(
                "{kind}: the plan changes or deletes {affected} of {live} live objects ({:.0}%), more than the threshold of {:.0}%",
                percent(*affected, *live),
                threshold * 100.0
            ),
            Refusal::Protected {
                kind,
                id,
                display_name,
            } => format!("{kind}/{id} ({display_name}) is protected"),
        }
    }
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        100.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// The desired state of an object the plan touches, kept in the plan so that a saved plan can be
/// executed and verified without the repository it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DesiredObject {
    pub kind: String,
    pub id: String,
    pub props: Map<String, Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub links: BTreeMap<String, Vec<PlanLink>>,
}

impl DesiredObject {
    fn from_object(o: &Object) -> Self {
        DesiredObject {
            kind: o.kind.kind.clone(),
            id: o.id.clone(),
            props: o.props.clone(),
            links: o
                .links
                .iter()
                .map(|(n, refs)| (n.clone(), refs.iter().map(PlanLink::from).collect()))
                .collect(),
        }
    }

    /// Back to a model object; `None` for a kind this build does not know.
    pub fn to_object(&self) -> Option<Object> {
        let kind = schema::kind(&self.kind)?;
        Some(Object {
            kind,
            id: self.id.clone(),
            props: self.props.clone(),
            links: self
                .links
                .iter()
                .map(|(n, ends)| {
                    (
                        n.clone(),
                        ends.iter()
                            .map(|e| LinkRef::new(e.id.clone(), e.display_name.clone()))
                            .collect(),
                    )
                })
                .collect(),
        })
    }
}

/// A restore or apply plan. Serialized as the plan file (JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub version: u32,
    /// What the desired state is: `HEAD~3 (3f2a1c0)`, `working tree`.
    pub desired: String,
    pub desired_commit: Option<String>,
    /// When the plan was computed, RFC 3339 UTC.
    pub created: String,
    pub prune: bool,
    /// Desired-side ids of objects that were re-created (by an earlier run or by hand) → the
    /// ids they have live now. The actions and desired objects already use the live ids.
    pub id_map: BTreeMap<String, String>,
    /// In execution order.
    pub actions: Vec<Action>,
    /// Live objects the desired side does not have, left alone (no `prune`).
    pub kept: Vec<ObjectRef>,
    pub notes: Vec<Note>,
    /// Findings that need `--force`.
    pub refusals: Vec<Refusal>,
    /// `kind/id` → sha256 of the live object's canonical state when the plan was made, or
    /// [`ABSENT`], for every object the plan acts on.
    pub fingerprints: BTreeMap<String, String>,
    /// Desired state of every object the plan acts on (for verification after writing).
    pub desired_objects: Vec<DesiredObject>,
    /// sha256 over everything above.
    pub checksum: String,
}

impl Plan {
    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    pub fn summary(&self) -> PlanSummary {
        let mut s = PlanSummary {
            kept: self.kept.len(),
            notes: self.notes.len(),
            refusals: self.refusals.len(),
            ..PlanSummary::default()
        };
        for a in &self.actions {
            match &a.op {
                Op::Restore => s.restore += 1,
                Op::Create { .. } => s.create += 1,
                Op::Update { .. } => s.update += 1,
                Op::AddLinks { ends, .. } => s.links_add += ends.len(),
                Op::RemoveLinks { ends, .. } => s.links_remove += ends.len(),
                Op::Delete { .. } => s.delete += 1,
            }
        }
        s
    }

    /// The desired state of an object the plan acts on.
    pub fn desired_object(&self, kind: &str, id: &str) -> Option<&DesiredObject> {
        self.desired_objects
            .iter()
            .find(|d| d.kind == kind && d.id == id)
    }

    /// Keys of every object the plan acts on, in action order, without repeats.
    pub fn touched(&self) -> Vec<(String, String)> {
        let mut seen = BTreeSet::new();
        self.actions
            .iter()
            .filter(|a| seen.insert(a.key()))
            .map(|a| (a.kind.clone(), a.id.clone()))
            .collect()
    }

    /// The checksum the plan should carry: sha256 over the plan with an empty checksum.
    pub fn compute_checksum(&self) -> String {
        let mut unsigned = self.clone();
        unsigned.checksum = String::new();
        let bytes = serde_json::to_vec(&unsigned).expect("a plan always serializes");
        hex(&Sha256::digest(&bytes))
    }
}

/// Counts for a plan's summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanSummary {
    pub update: usize,
    pub restore: usize,
    pub create: usize,
    pub delete: usize,
    pub links_add: usize,
    pub links_remove: usize,
    pub kept: usize,
    pub notes: usize,
    pub refusals: usize,
}

/// Computes the plan that makes the live objects match the desired ones.
pub fn plan(input: &PlanInput) -> Plan {
    let mut b = Builder::default();
    let ids = recreated(input);
    let remapped;
    let desired = if ids.is_empty() {
        input.desired
    } else {
        remapped = remap_snapshot(input.desired, &ids);
        &remapped
    };
    for (old, new) in &ids {
        if let Some(o) = input.live.objects.values().find(|o| &o.id == new) {
            b.note(
                o,
                format!(
                    "the desired side's {} {old} is gone; this live object with the same {} takes its place (it was re-created), and references to {old} are read as {new}",
                    o.kind.kind, o.kind.name_property
                ),
            );
        }
    }
    // old = live, new = desired: `added` objects are missing live, `removed` ones exist live
    // only, attribute changes read live → desired.
    let changes = diff::diff(
        input.live,
        desired,
        &HashMap::new(),
        &DiffOptions::default(),
    );
    for change in &changes {
        let key = &change.key;
        let Some(kind) = schema::kind(key.kind) else {
            continue;
        };
        match &change.change {
            ChangeKind::Modified => {
                let (Some(live), Some(desired)) = (input.live.get(key), desired.get(key)) else {
                    continue;
                };
                b.modified(kind, live, desired, &change.attributes, &change.links);
            }
            ChangeKind::Added => {
                let Some(desired) = desired.get(key) else {
                    continue;
                };
                b.missing(kind, desired, input.deleted.get(key));
            }
            ChangeKind::Removed { .. } => {
                let Some(live) = input.live.get(key) else {
                    continue;
                };
                b.extra(kind, live, input.prune);
            }
        }
    }
    b.repoint(desired, input.live);
    let mut actions = b.actions;
    actions.sort_by_cached_key(|a| {
        let rank = schema::kinds()
            .iter()
            .position(|k| k.kind == a.kind)
            .unwrap_or(usize::MAX);
        // Prunes go in reverse apply order: dependants first.
        let kind_rank = if a.phase == Phase::Prune {
            usize::MAX - rank
        } else {
            rank
        };
        (a.phase, kind_rank)
    });

    let refusals = safety(&actions, input);
    let mut fingerprints = BTreeMap::new();
    let mut desired_objects = Vec::new();
    let mut seen = BTreeSet::new();
    for a in &actions {
        let Some(kind) = schema::kind(&a.kind) else {
            continue;
        };
        let key = ObjectKey {
            kind: kind.kind.as_str(),
            id: a.id.clone(),
        };
        if !seen.insert(key.clone()) {
            continue;
        }
        fingerprints.insert(
            key.to_string(),
            input
                .live
                .get(&key)
                .map(fingerprint)
                .unwrap_or_else(|| ABSENT.to_string()),
        );
        if let Some(d) = desired.get(&key) {
            desired_objects.push(DesiredObject::from_object(d));
        }
    }
    let mut plan = Plan {
        version: PLAN_VERSION,
        desired: input.desired_label.clone(),
        desired_commit: input.desired_commit.clone(),
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        prune: input.prune,
        id_map: ids,
        actions,
        kept: b.kept,
        notes: b.notes,
        refusals,
        fingerprints,
        desired_objects,
        checksum: String::new(),
    };
    plan.checksum = plan.compute_checksum();
    plan
}

/// Desired objects that are missing live (and not in the recycle bin) but have a live
/// counterpart of the same kind with the same name property that the desired side lacks:
/// re-created objects (by an earlier restore, or by hand), old id → live id. Only unambiguous
/// matches count: one candidate for one missing object. Without this, a second restore would
/// create the same group again instead of converging.
fn recreated(input: &PlanInput) -> BTreeMap<String, String> {
    let name_of = |o: &Object| -> Option<String> {
        let name = o.props.get(&o.kind.name_property)?.as_str()?;
        (!name.is_empty()).then(|| name.to_lowercase())
    };
    let mut missing: HashMap<(&str, String), Vec<&Object>> = HashMap::new();
    for (key, o) in &input.desired.objects {
        if o.kind.singleton || input.live.get(key).is_some() || input.deleted.contains_key(key) {
            continue;
        }
        if let Some(name) = name_of(o) {
            missing.entry((key.kind, name)).or_default().push(o);
        }
    }
    if missing.is_empty() {
        return BTreeMap::new();
    }
    let mut extra: HashMap<(&str, String), Vec<&Object>> = HashMap::new();
    for (key, o) in &input.live.objects {
        if input.desired.get(key).is_some() {
            continue;
        }
        if let Some(name) = name_of(o) {
            if missing.contains_key(&(key.kind, name.clone())) {
                extra.entry((key.kind, name)).or_default().push(o);
            }
        }
    }
    let mut out = BTreeMap::new();
    for (k, gone) in &missing {
        if let (Some(live), [old]) = (extra.get(k), gone.as_slice()) {
            if let [new] = live.as_slice() {
                out.insert(old.id.clone(), new.id.clone());
            }
        }
    }
    out
}

/// A snapshot with ids replaced: object ids, link ends, and every string property value that
/// is one of the old ids (a CA policy's `excludeGroups`).
fn remap_snapshot(snapshot: &Snapshot, ids: &BTreeMap<String, String>) -> Snapshot {
    fn value(v: &Value, ids: &BTreeMap<String, String>) -> Value {
        match v {
            Value::String(s) => Value::String(ids.get(s).cloned().unwrap_or_else(|| s.clone())),
            Value::Array(a) => Value::Array(a.iter().map(|x| value(x, ids)).collect()),
            Value::Object(m) => {
                Value::Object(m.iter().map(|(k, x)| (k.clone(), value(x, ids))).collect())
            }
            other => other.clone(),
        }
    }
    let mut out = Snapshot::default();
    for o in snapshot.objects.values() {
        let mut o = o.clone();
        if let Some(new) = ids.get(&o.id) {
            o.id = new.clone();
        }
        o.props = o
            .props
            .iter()
            .map(|(k, v)| (k.clone(), value(v, ids)))
            .collect();
        for refs in o.links.values_mut() {
            for r in refs.iter_mut() {
                if let Some(new) = ids.get(&r.id) {
                    r.id = new.clone();
                }
            }
            refs.sort_by(|a, b| a.id.cmp(&b.id));
            refs.dedup_by(|a, b| a.id == b.id);
        }
        out.insert(o);
    }
    out
}

/// Threshold and protected-object findings.
fn safety(actions: &[Action], input: &PlanInput) -> Vec<Refusal> {
    let mut refusals = Vec::new();
    // Objects of each kind that are modified or deleted (restores and creates bring objects
    // back; they never make a tenant smaller).
    let recovered: BTreeSet<String> = actions
        .iter()
        .filter(|a| a.phase == Phase::Recover)
        .map(Action::key)
        .collect();
    let mut affected: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for a in actions {
        if !recovered.contains(&a.key()) {
            affected.entry(&a.kind).or_default().insert(&a.id);
        }
    }
    for (kind, ids) in &affected {
        let live = input.live_counts.get(*kind).copied().unwrap_or(0);
        let (threshold, min_objects) = input.safety.for_kind(kind);
        if live >= min_objects && (ids.len() as f64) > threshold * live as f64 {
            refusals.push(Refusal::Threshold {
                kind: kind.to_string(),
                affected: ids.len(),
                live,
                threshold,
            });
        }
    }
    let mut seen = BTreeSet::new();
    for a in actions {
        let key = a.key();
        if input.safety.protected.contains(&key) && seen.insert(key) {
            refusals.push(Refusal::Protected {
                kind: a.kind.clone(),
                id: a.id.clone(),
                display_name: a.display_name.clone(),
            });
        }
    }
    refusals
}

/// sha256 of an object's state: its properties and the ids of its links, as canonical JSON.
/// Link ends' display names are left out on purpose: renaming a member is not a change of the
/// group the plan would overwrite.
pub fn fingerprint(object: &Object) -> String {
    let links: BTreeMap<&String, Vec<&str>> = object
        .links
        .iter()
        .map(|(n, refs)| (n, refs.iter().map(|r| r.id.as_str()).collect()))
        .collect();
    let state = serde_json::json!({ "props": object.props, "links": links });
    hex(&Sha256::digest(
        serde_json::to_vec(&state).expect("JSON values always serialize"),
    ))
}

/// Whether the plan may be executed: an error naming every refusal unless `force`.
pub fn ensure_allowed(plan: &Plan, force: bool) -> Result<(), PlanError> {
    if plan.refusals.is_empty() || force {
        return Ok(());
    }
    Err(PlanError::Refused {
        reasons: plan.refusals.iter().map(Refusal::message).collect(),
    })
}

/// [`stale_objects`] as an error when any object changed.
pub fn ensure_fresh(plan: &Plan, live_now: &Snapshot) -> Result<(), PlanError> {
    let objects = stale_objects(plan, live_now);
    if objects.is_empty() {
        Ok(())
    } else {
        Err(PlanError::Stale { objects })
    }
}

/// Objects the plan acts on whose live state differs from when the plan was made, as `kind/id`:
/// `live_now` must hold the current live state of every object of the plan's kinds that is
/// live (an object it lacks counts as absent). Empty means the plan is safe to execute.
pub fn stale_objects(plan: &Plan, live_now: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for (key, expected) in &plan.fingerprints {
        let Some((kind, id)) = key.split_once('/') else {
            out.push(key.clone());
            continue;
        };
        let Some(spec) = schema::kind(kind) else {
            out.push(key.clone());
            continue;
        };
        let now = live_now
            .get(&ObjectKey {
                kind: spec.kind.as_str(),
                id: id.to_string(),
            })
            .map(fingerprint)
            .unwrap_or_else(|| ABSENT.to_string());
        if &now != expected {
            out.push(key.clone());
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[derive(Default)]
struct Builder {
    actions: Vec<Action>,
    kept: Vec<ObjectRef>,
    notes: Vec<Note>,
}

impl Builder {
    fn note(&mut self, o: &Object, message: impl Into<String>) {
        self.notes.push(Note {
            kind: o.kind.kind.clone(),
            id: o.id.clone(),
            display_name: o.display_name().to_string(),
            message: message.into(),
        });
    }

    fn push(&mut self, o: &Object, phase: Phase, op: Op, attributes: Vec<PlanAttribute>) {
        self.actions.push(Action {
            phase,
            kind: o.kind.kind.clone(),
            id: o.id.clone(),
            display_name: o.display_name().to_string(),
            op,
            attributes,
        });
    }

    /// A live object whose attributes or links differ from the desired ones.
    fn modified(
        &mut self,
        kind: &'static KindSpec,
        live: &Object,
        desired: &Object,
        attributes: &[AttributeChange],
        links: &[diff::LinkChange],
    ) {
        self.update(kind, live, desired, attributes);
        for l in links {
            self.link_changes(desired, l.name.as_str(), &l.added, &l.removed);
        }
    }

    /// The PATCH (and notes) that take `live`'s attributes to `desired`'s.
    fn update(
        &mut self,
        kind: &'static KindSpec,
        live: &Object,
        desired: &Object,
        attributes: &[AttributeChange],
    ) {
        if attributes.is_empty() {
            return;
        }
        if kind.update == schema::UpdateMode::None {
            self.note(
                desired,
                format!("{} cannot be updated in Graph; not changed", kind.kind),
            );
            return;
        }
        let mut body = Map::new();
        let mut shown = Vec::new();
        let mut skipped: BTreeMap<&str, &'static str> = BTreeMap::new();
        for a in attributes {
            let top = top_level(&a.path, live, desired);
            if let Some(reason) = not_writable(kind, top) {
                skipped.entry(top).or_insert(reason);
                continue;
            }
            body.entry(top.to_string())
                .or_insert_with(|| desired.props.get(top).cloned().unwrap_or(Value::Null));
            shown.push(PlanAttribute {
                path: a.path.clone(),
                old: a.old.clone(),
                new: a.new.clone(),
                set_like: a.set_like,
            });
        }
        for (prop, reason) in skipped {
            self.note(
                desired,
                format!("{prop} differs but is not restored: {reason}"),
            );
        }
        if body.is_empty() {
            return;
        }
        if kind.odata_type_on_patch {
            if let Some(t) = desired.odata_type() {
                body.insert("@odata.type".into(), Value::String(t.to_string()));
            }
        }
        self.push(desired, Phase::Update, Op::Update { body }, shown);
    }

    fn link_changes(&mut self, o: &Object, name: &str, added: &[LinkRef], removed: &[LinkRef]) {
        if o.kind.link(name).is_none() {
            self.note(
                o,
                format!(
                    "link {name} is not known to the {} schema; not changed",
                    o.kind.kind
                ),
            );
            return;
        }
        if !added.is_empty() {
            let ends = added.iter().map(PlanLink::from).collect();
            self.push(
                o,
                Phase::AddLinks,
                Op::AddLinks {
                    link: name.to_string(),
                    ends,
                },
                Vec::new(),
            );
        }
        if !removed.is_empty() {
            let ends = removed.iter().map(PlanLink::from).collect();
            self.push(
                o,
                Phase::RemoveLinks,
                Op::RemoveLinks {
                    link: name.to_string(),
                    ends,
                },
                Vec::new(),
            );
        }
    }

    /// A desired object that is not live: restore it from the recycle bin, else re-create it.
    fn missing(
        &mut self,
        kind: &'static KindSpec,
        desired: &Object,
        deleted: Option<&DeletedObject>,
    ) {
        if let Some(deleted) = deleted.filter(|_| kind.soft_delete) {
            self.push(desired, Phase::Recover, Op::Restore, Vec::new());
            match &deleted.state {
                Some(state) => {
                    let change = diff::diff(
                        &single(state),
                        &single(desired),
                        &HashMap::new(),
                        &DiffOptions::default(),
                    );
                    if let Some(c) = change.first() {
                        self.modified(kind, state, desired, &c.attributes, &c.links);
                    }
                }
                None => {
                    // The state in the bin is unknown: write every writable property and add
                    // every link; links already there count as converged when executed.
                    let empty = Object {
                        kind,
                        id: desired.id.clone(),
                        props: Map::new(),
                        links: BTreeMap::new(),
                    };
                    let attributes: Vec<AttributeChange> = desired
                        .props
                        .iter()
                        .filter(|(k, _)| k.as_str() != "id" && k.as_str() != "@odata.type")
                        .map(|(k, v)| AttributeChange {
                            path: k.clone(),
                            old: Value::Null,
                            new: v.clone(),
                            set_like: kind.is_set_like(k),
                        })
                        .collect();
                    self.update(kind, &empty, desired, &attributes);
                    for (name, refs) in &desired.links {
                        self.link_changes(desired, name, refs, &[]);
                    }
                }
            }
            return;
        }
        if !kind.create || kind.singleton {
            self.note(
                desired,
                format!(
                    "missing live and {} objects cannot be re-created by tenantgit; not restored",
                    kind.kind
                ),
            );
            return;
        }
        let mut body = Map::new();
        let mut shown = Vec::new();
        let mut credentials = Vec::new();
        for (k, v) in &desired.props {
            if k == "id" {
                continue;
            }
            if k == "@odata.type" {
                body.insert(k.clone(), v.clone());
                continue;
            }
            if CREDENTIAL_PROPERTIES.contains(&k.as_str()) {
                if !is_empty_value(v) {
                    credentials.push(k.as_str());
                }
                continue;
            }
            if kind.is_read_only(k) && !kind.is_create_only(k) || kind.is_secret(k) {
                continue;
            }
            if v.is_null() {
                continue;
            }
            body.insert(k.clone(), v.clone());
            if is_empty_value(v) {
                continue;
            }
            shown.push(PlanAttribute {
                path: k.clone(),
                old: Value::Null,
                new: v.clone(),
                set_like: kind.is_set_like(k),
            });
        }
        let password = kind.kind == "users";
        self.push(
            desired,
            Phase::Recover,
            Op::Create { body, password },
            shown,
        );
        self.note(
            desired,
            "re-created with a new id (the old one is gone for good); references to the old id in this plan use the new one",
        );
        if password {
            self.note(
                desired,
                "the re-created user gets a random password nobody knows: reset it (or issue a Temporary Access Pass) before the user signs in",
            );
        }
        for c in credentials {
            self.note(desired, format!("cannot restore secrets: {c} are not re-created; add them again to the new object"));
        }
        for (name, refs) in &desired.links {
            self.link_changes(desired, name, refs, &[]);
        }
    }

    /// Live objects that still name a re-created object by its old id: Graph leaves a
    /// hard-deleted group's id in a CA policy's `excludeGroups`, so live and desired agree and
    /// the differ sees nothing, yet after the re-create the policy would exclude nobody. Such
    /// properties are PATCHed as desired; the executor rewrites the old id to the new one.
    fn repoint(&mut self, desired: &Snapshot, live: &Snapshot) {
        let created: BTreeMap<String, String> = self
            .actions
            .iter()
            .filter(|a| matches!(a.op, Op::Create { .. }))
            .map(|a| (a.id.clone(), a.display_name.clone()))
            .collect();
        if created.is_empty() {
            return;
        }
        for (key, want) in &desired.objects {
            let kind = want.kind;
            if live.get(key).is_none() || kind.update == schema::UpdateMode::None {
                continue;
            }
            let mut repointed = Vec::new();
            for (prop, value) in &want.props {
                if prop == "id" || not_writable(kind, prop).is_some() {
                    continue;
                }
                let mut named = BTreeSet::new();
                ids_in(value, &created, &mut named);
                if !named.is_empty() {
                    repointed.push((prop.clone(), value.clone(), named));
                }
            }
            if repointed.is_empty() {
                continue;
            }
            let existing = self.actions.iter().position(|a| {
                a.kind == kind.kind && a.id == want.id && matches!(a.op, Op::Update { .. })
            });
            let index = existing.unwrap_or_else(|| {
                let mut body = Map::new();
                if kind.odata_type_on_patch {
                    if let Some(t) = want.odata_type() {
                        body.insert("@odata.type".into(), Value::String(t.to_string()));
                    }
                }
                self.push(want, Phase::Update, Op::Update { body }, Vec::new());
                self.actions.len() - 1
            });
            for (prop, value, named) in repointed {
                if let Op::Update { body } = &mut self.actions[index].op {
                    body.entry(prop.clone()).or_insert(value);
                }
                for old in named {
                    self.note(
                        want,
                        format!(
                            "{prop} names {} ({old}), which is re-created: it will name the new id",
                            created[&old]
                        ),
                    );
                }
            }
        }
    }

    /// A live object the desired side does not have.
    fn extra(&mut self, kind: &'static KindSpec, live: &Object, prune: bool) {
        let keep = ObjectRef {
            kind: kind.kind.clone(),
            id: live.id.clone(),
            display_name: live.display_name().to_string(),
        };
        if !prune {
            self.kept.push(keep);
            return;
        }
        if !kind.delete || kind.singleton {
            self.note(
                live,
                format!("{} objects cannot be deleted by tenantgit; kept", kind.kind),
            );
            self.kept.push(keep);
            return;
        }
        let soft = kind.soft_delete
            && (kind.kind != "groups"
                || live
                    .props
                    .get("groupTypes")
                    .and_then(Value::as_array)
                    .is_some_and(|a| a.iter().any(|v| v == "Unified")));
        self.push(live, Phase::Prune, Op::Delete { soft }, Vec::new());
    }
}

/// The keys of `ids` that occur as string values anywhere in `v`.
fn ids_in(v: &Value, ids: &BTreeMap<String, String>, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) if ids.contains_key(s) => {
            out.insert(s.clone());
        }
        Value::Array(a) => a.iter().for_each(|x| ids_in(x, ids, out)),
        Value::Object(m) => m.values().for_each(|x| ids_in(x, ids, out)),
        _ => {}
    }
}

/// A snapshot of one object.
fn single(o: &Object) -> Snapshot {
    let mut s = Snapshot::default();
    s.insert(o.clone());
    s
}

/// The top-level property a dotted attribute path belongs to. Property names can hold dots
/// themselves (`@odata.type`), so the longest name either object has that prefixes the path wins.
fn top_level<'a>(path: &'a str, a: &Object, b: &Object) -> &'a str {
    let mut best: Option<&'a str> = None;
    for k in a.props.keys().chain(b.props.keys()) {
        let matches = path == k
            || (path.len() > k.len()
                && path.starts_with(k.as_str())
                && path.as_bytes()[k.len()] == b'.');
        if matches && best.is_none_or(|b| b.len() < k.len()) {
            best = Some(&path[..k.len()]);
        }
    }
    best.unwrap_or_else(|| path.split('.').next().unwrap_or(path))
}

/// Why a top-level property is never sent in a PATCH, or `None` when it may be.
fn not_writable(kind: &KindSpec, prop: &str) -> Option<&'static str> {
    if prop == "passwordCredentials" {
        return Some("cannot restore secrets (Graph only adds and removes passwords with addPassword/removePassword)");
    }
    if prop == "keyCredentials" {
        return Some("cannot restore secrets (a key credential PATCH needs every key's bytes, which snapshots never hold)");
    }
    if prop == "id" || prop == "@odata.type" {
        return Some("identity, not an attribute");
    }
    if kind.is_create_only(prop) {
        return Some("Graph only sets it when the object is created");
    }
    if kind.is_read_only(prop) {
        return Some("read-only in Graph");
    }
    if kind.is_secret(prop) {
        return Some("secret, never stored");
    }
    None
}

fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}
