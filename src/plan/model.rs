//! The plan document's data: actions, notes, refusals, the desired objects and the request a
//! plan answers. Plain serializable data; building, safety and fingerprints live beside it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::diff::AttributeChange;
use crate::model::{LinkRef, Object, ObjectKey};
use crate::schema::Kind;

/// Bumped whenever the plan document's shape changes incompatibly.
pub const PLAN_VERSION: u32 = 2;

/// A selection as the user gave it: what a plan records so that it can be computed again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SelectionSpec {
    /// Kind names; empty means every kind in scope.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
    /// Path patterns in gitignore syntax.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patterns: Vec<String>,
}

/// Where a plan's desired state comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "camelCase")]
pub enum DesiredSource {
    /// A commit (`restore REV`, `plan --from REV`): the revision as given and the commit it named.
    #[serde(rename_all = "camelCase")]
    Commit { rev: String, commit: String },
    /// The checked-out files (`apply`, `plan` without `--from`).
    WorkingTree,
}

/// What a plan answers: the desired state, the selection and whether to prune. A saved plan is
/// checked against a fresh plan of the same request before anything of it is carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanRequest {
    pub desired: DesiredSource,
    #[serde(flatten)]
    pub selection: SelectionSpec,
    pub prune: bool,
}

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

/// The stages of a plan, in execution order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    /// Deletes of objects Graph cannot update (`update: replace`), before they are created again.
    Replace,
    /// Restores from the recycle bin and re-creates, kind by kind in apply order, so that
    /// objects exist before anything references them.
    Recover,
    /// Enabled app roles and permission scopes that change or go are disabled, each object's
    /// in one PATCH, before the PATCH that changes them (Graph refuses otherwise).
    Disable,
    /// PATCHes of attributes, after every object exists (a CA policy may name a re-created
    /// group).
    Update,
    /// Contained children removed (before others are written: a renamed child would clash
    /// with its old self over the properties Graph keeps unique).
    RemoveChildren,
    /// Contained children written, created where missing.
    WriteChildren,
    /// Link ends added (before removals, so that a group never loses its last owner on the way).
    AddLinks,
    RemoveLinks,
    /// Deletes, kind by kind in reverse apply order (policies before the locations they name).
    Prune,
}

impl Phase {
    /// Whether the phase runs kind by kind (dependencies between kinds) rather than all at once.
    pub fn by_kind(self) -> bool {
        matches!(self, Phase::Replace | Phase::Recover | Phase::Prune)
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
    /// `POST invitations` with `body` (`sendInvitationMessage: false`): a guest invited again,
    /// which gets a new id (`invitedUser.id`); its other properties follow in an update.
    Invite { body: Map<String, Value> },
    /// A contained child written whole by its key: `PATCH {object}/{path}({key}='…')` with
    /// `Prefer: create-if-missing`, which creates it when it is missing (an upsert).
    WriteChild {
        child: String,
        key: String,
        body: Map<String, Value>,
    },
    /// `DELETE {object}/{path}({key}='…')`.
    RemoveChild { child: String, key: String },
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
            Op::Invite { .. } => "invite".into(),
            Op::WriteChild { child, .. } => format!("write {child}"),
            Op::RemoveChild { child, .. } => format!("remove {child}"),
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
    /// A difference the differ found.
    pub fn of_change(a: &AttributeChange) -> PlanAttribute {
        PlanAttribute {
            path: a.path.clone(),
            old: a.old.clone(),
            new: a.new.clone(),
            set_like: a.set_like,
        }
    }

    /// A property a create sets: there is no live value.
    pub fn created(kind: &crate::schema::KindSpec, path: &str, value: &Value) -> PlanAttribute {
        PlanAttribute {
            path: path.to_string(),
            old: Value::Null,
            new: value.clone(),
            set_like: kind.is_set_like(path),
        }
    }

    /// As the differ's type, for renderers that show set-like arrays as elements added/removed.
    pub fn as_change(&self) -> AttributeChange {
        AttributeChange {
            path: self.path.clone(),
            old: self.old.clone(),
            new: self.new.clone(),
            set_like: self.set_like,
            cannot_restore: None,
        }
    }
}

/// One step of a plan: one operation on one object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    pub phase: Phase,
    pub kind: Kind,
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
    pub kind: Kind,
    pub id: String,
    pub display_name: String,
}

/// Something the plan cannot do or only partly does (secrets, read-only properties, kinds that
/// cannot be created), for the person reviewing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    pub kind: Kind,
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
        kind: Kind,
        /// Objects of the kind the plan modifies or deletes.
        affected: usize,
        live: usize,
        threshold: f64,
    },
    /// The plan acts on a protected object.
    #[serde(rename_all = "camelCase")]
    Protected {
        kind: Kind,
        id: String,
        display_name: String,
    },
    /// The plan deletes objects that no recycle bin can bring back (named locations, Conditional
    /// Access policies, security groups), whatever the kind's size.
    #[serde(rename_all = "camelCase")]
    Unrecoverable {
        kind: Kind,
        /// How many such deletions.
        count: usize,
        /// Display names of the first few.
        names: Vec<String>,
    },
    /// The plan deletes every live object of a kind.
    #[serde(rename_all = "camelCase")]
    WholeKind { kind: Kind, live: usize },
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
            Refusal::Unrecoverable { kind, count, names } => format!(
                "{kind}: the plan deletes {} that no recycle bin can bring back ({}{})",
                plural(*count, "object", "objects"),
                names.join(", "),
                if *count > names.len() {
                    format!(" and {} more", count - names.len())
                } else {
                    String::new()
                }
            ),
            Refusal::WholeKind { kind, live } => format!(
                "{kind}: the plan deletes all {} of the kind",
                plural(*live, "live object", "live objects")
            ),
        }
    }
}

/// `1 object`, `2 objects`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
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
    pub kind: Kind,
    pub id: String,
    pub props: Map<String, Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub links: BTreeMap<String, Vec<PlanLink>>,
}

impl DesiredObject {
    pub(super) fn from_object(o: &Object) -> Self {
        DesiredObject {
            kind: o.kind,
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
        let kind = self.kind;
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
            // Names beside reference ids are comments for reviewers; a plan needs none.
            names: BTreeMap::new(),
        })
    }
}

/// A restore or apply plan. Serialized as the plan file (JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub version: u32,
    /// What the plan answers; a saved plan is re-checked against a fresh plan of it.
    pub request: PlanRequest,
    /// What the desired state is, for people: `HEAD~3 (3f2a1c0)`, `working tree`.
    pub desired: String,
    /// When the plan was computed, RFC 3339 UTC.
    pub created: String,
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
    /// Differences Graph does not let tenantgit write (on-premises attributes of synced
    /// objects, members of dynamic groups, mail-enabled groups, …), with where to fix them.
    /// Listed, never sent, and not failures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cannot_restore: Vec<CannotRestore>,
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
                Op::Create { .. } | Op::Invite { .. } => s.create += 1,
                Op::Update { .. } => s.update += 1,
                Op::AddLinks { ends, .. } => s.links_add += ends.len(),
                Op::RemoveLinks { ends, .. } => s.links_remove += ends.len(),
                Op::Delete { .. } => s.delete += 1,
                Op::WriteChild { .. } => s.children_write += 1,
                Op::RemoveChild { .. } => s.children_remove += 1,
            }
        }
        s
    }

    /// The desired state of an object the plan acts on.
    pub fn desired_object(&self, kind: Kind, id: &str) -> Option<&DesiredObject> {
        self.desired_objects
            .iter()
            .find(|d| d.kind == kind && d.id == id)
    }

    /// Keys of every object the plan acts on, in action order, without repeats.
    pub fn touched(&self) -> Vec<(Kind, String)> {
        let mut seen = BTreeSet::new();
        self.actions
            .iter()
            .filter(|a| seen.insert(a.key()))
            .map(|a| (a.kind, a.id.clone()))
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
    /// Contained children written (created or updated) and removed; absent from the plan
    /// document when none.
    #[serde(skip_serializing_if = "is_zero")]
    pub children_write: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub children_remove: usize,
    pub kept: usize,
    pub notes: usize,
    pub refusals: usize,
}

/// Differences of one object that one write rule keeps from being written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CannotRestore {
    pub kind: Kind,
    pub id: String,
    pub display_name: String,
    /// The rule's name in `schema/<kind>.yaml` (`syncedFromActiveDirectory`).
    pub rule: String,
    /// Why Graph refuses.
    pub reason: String,
    /// Where the change has to be made instead (`change on-premises (synced from Active
    /// Directory)`, `managed in Exchange Online`, `computed from the membership rule`).
    pub fix: String,
    /// The object is missing live and Graph cannot create it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub missing: bool,
    /// Attributes that differ, live → desired.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<PlanAttribute>,
    /// Link ends that differ.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<CannotRestoreLink>,
}

/// The ends of one link that the desired side adds or removes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CannotRestoreLink {
    pub link: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<PlanLink>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<PlanLink>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Lower-case hexadecimal of a digest (checksums and fingerprints).
pub(super) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
