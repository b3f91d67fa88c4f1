//! Building a plan: the differences between the live and the desired snapshot become ordered
//! Graph writes (what each difference becomes is described in the module doc of `plan`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value};

use crate::diff::{self, top_level, AttributeChange, ChangeKind, DiffOptions};
use crate::model::{LinkRef, Object, ObjectKey, Snapshot};
use crate::schema::{self, KindSpec};
use crate::write_rules::{self, RecreateHook, RuleContext};

use super::cannot_restore::{self, Unwritable};
mod children;
mod hooks;

use super::fingerprint::{fingerprint, ABSENT};
use super::model::*;
use super::recreate::{recreated, remap_snapshot, RecreateInput};
use super::safety::{refusals, SafetySettings};

/// What a plan is computed from. Both snapshots are already narrowed to the selection (the
/// live side also holds the live counterparts of re-created objects).
pub struct PlanInput<'a> {
    pub desired: &'a Snapshot,
    pub live: &'a Snapshot,
    /// Live objects per kind before narrowing (the base of the thresholds).
    pub live_counts: BTreeMap<String, usize>,
    pub deleted: HashMap<ObjectKey, DeletedObject>,
    pub request: PlanRequest,
    /// `HEAD~3 (3f2a1c0)` or `working tree`.
    pub desired_label: String,
    /// Re-created objects, old id → live id (see `recreate`); `None`: recognised from these two
    /// snapshots alone.
    pub id_map: Option<BTreeMap<String, String>>,
    pub safety: SafetySettings,
    /// What the kinds' write rules need to know (the tenant written to).
    pub rules: RuleContext,
}

impl<'a> PlanInput<'a> {
    /// A plan of the working tree, no pruning, default safety, live counts from `live`.
    pub fn new(desired: &'a Snapshot, live: &'a Snapshot) -> Self {
        let mut live_counts = BTreeMap::new();
        for key in live.objects.keys() {
            *live_counts.entry(key.kind.to_string()).or_insert(0) += 1;
        }
        PlanInput {
            desired,
            live,
            live_counts,
            deleted: HashMap::new(),
            request: PlanRequest {
                desired: DesiredSource::WorkingTree,
                selection: Default::default(),
                prune: false,
            },
            desired_label: "working tree".into(),
            id_map: None,
            safety: SafetySettings::default(),
            rules: RuleContext::default(),
        }
    }

    pub fn rules(mut self, rules: RuleContext) -> Self {
        self.rules = rules;
        self
    }

    pub fn prune(mut self, prune: bool) -> Self {
        self.request.prune = prune;
        self
    }

    pub fn safety(mut self, safety: SafetySettings) -> Self {
        self.safety = safety;
        self
    }

    pub fn deleted(mut self, deleted: HashMap<ObjectKey, DeletedObject>) -> Self {
        self.deleted = deleted;
        self
    }

    pub fn live_counts(mut self, counts: BTreeMap<String, usize>) -> Self {
        self.live_counts = counts;
        self
    }

    pub fn request(mut self, request: PlanRequest, label: impl Into<String>) -> Self {
        self.request = request;
        self.desired_label = label.into();
        self
    }

    pub fn id_map(mut self, ids: BTreeMap<String, String>) -> Self {
        self.id_map = Some(ids);
        self
    }
}

/// Computes the plan that makes the live objects match the desired ones.
pub fn plan(input: &PlanInput) -> Plan {
    let mut b = Builder {
        cx: input.rules.clone(),
        ..Builder::default()
    };
    let ids = match &input.id_map {
        Some(ids) => ids.clone(),
        None => recreated(&RecreateInput {
            desired: input.desired,
            live: input.live,
            deleted: &input.deleted,
            claimed: &|kind, id| {
                input
                    .desired
                    .get(&ObjectKey {
                        kind: kind.into(),
                        id: id.to_string(),
                    })
                    .is_some()
            },
            journal: &[],
        }),
    };
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
                    "the desired side's {} {old} is gone; this live object takes its place (it was re-created), and references to {old} are read as {new}",
                    o.kind.kind
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
        // The differ only reports keys one side holds; the object knows its kind.
        let (live, want) = (input.live.get(key), desired.get(key));
        match (&change.change, live, want) {
            (ChangeKind::Modified, Some(live), Some(want)) => {
                b.modified(
                    want.kind.spec(),
                    live,
                    want,
                    &change.attributes,
                    &change.links,
                );
            }
            (ChangeKind::Added, _, Some(want)) => {
                b.missing(want.kind.spec(), want, input.deleted.get(key));
            }
            (ChangeKind::Removed { .. }, Some(live), _) => {
                b.extra(live.kind.spec(), live, input.request.prune);
            }
            _ => unreachable!("the differ reports {key} as {:?}", change.change),
        }
    }
    b.repoint(desired, input.live);
    let mut actions = b.actions;
    actions.sort_by_cached_key(|a| {
        let rank = schema::kinds()
            .iter()
            .position(|k| a.kind == k.kind.as_str())
            .unwrap_or(usize::MAX);
        // Prunes go in reverse apply order: dependants first.
        let kind_rank = if a.phase == Phase::Prune {
            usize::MAX - rank
        } else {
            rank
        };
        (a.phase, kind_rank)
    });

    let refusals = refusals(&actions, &input.live_counts, &input.safety);
    let mut fingerprints = BTreeMap::new();
    let mut desired_objects = Vec::new();
    let mut seen = BTreeSet::new();
    for a in &actions {
        let key = ObjectKey {
            kind: a.kind,
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
        request: input.request.clone(),
        desired: input.desired_label.clone(),
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        id_map: ids,
        actions,
        kept: b.kept,
        notes: b.notes,
        refusals,
        cannot_restore: b.unwritable.entries,
        fingerprints,
        desired_objects,
        checksum: String::new(),
    };
    plan.checksum = plan.compute_checksum();
    plan
}

#[derive(Default)]
pub(super) struct Builder {
    actions: Vec<Action>,
    kept: Vec<ObjectRef>,
    notes: Vec<Note>,
    /// What Graph refuses to write (the kinds' write rules), listed instead.
    pub(super) unwritable: Unwritable,
    pub(super) cx: RuleContext,
}

impl Builder {
    pub(super) fn note(&mut self, o: &Object, message: impl Into<String>) {
        self.notes.push(Note {
            kind: o.kind,
            id: o.id.clone(),
            display_name: o.display_name().to_string(),
            message: message.into(),
        });
    }

    pub(super) fn push(
        &mut self,
        o: &Object,
        phase: Phase,
        op: Op,
        attributes: Vec<PlanAttribute>,
    ) {
        self.actions.push(Action {
            phase,
            kind: o.kind,
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
        if kind.update == schema::UpdateMode::Replace
            && attributes
                .iter()
                .any(|a| not_writable(kind, top_level(&a.path, live, desired)).is_none())
        {
            self.push(live, Phase::Replace, Op::Delete { soft: false }, Vec::new());
            self.note(
                desired,
                format!(
                    "Graph cannot update {} objects: deleted and created again with the desired state",
                    kind.kind
                ),
            );
            self.create(kind, desired);
            return;
        }
        self.update(kind, live, desired, attributes);
        let after = cannot_restore::state_after(
            cannot_restore::state(live, desired),
            desired,
            &self.actions,
        );
        for l in links {
            if let Some(rule) = write_rules::link_rule(kind, &after, &l.name, &self.cx) {
                self.unwritable
                    .link(desired, rule, &l.name, &l.added, &l.removed);
                continue;
            }
            let mut removed: &[LinkRef] = &l.removed;
            let keeps_last = kind.link(&l.name).is_some_and(|s| s.keep_last);
            if keeps_last
                && l.added.is_empty()
                && !removed.is_empty()
                && live.link_ids(&l.name).count() == removed.len()
            {
                // Graph refuses to remove the last one: it stays, and the reviewer hears why.
                let kept = &removed[0];
                self.note(
                    desired,
                    format!(
                        "Graph keeps the last of the {}: {} stays",
                        l.name,
                        kept.display_name.as_deref().unwrap_or(&kept.id)
                    ),
                );
                removed = &removed[1..];
            }
            self.link_changes(desired, l.name.as_str(), &l.added, removed);
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
        let mut skipped: BTreeMap<&str, String> = BTreeMap::new();
        let state = cannot_restore::state(live, desired);
        let mut children: BTreeSet<&str> = BTreeSet::new();
        for a in attributes {
            let top = top_level(&a.path, live, desired);
            if kind.child(top).is_some() {
                children.insert(top);
                continue;
            }
            if let Some(reason) = not_writable(kind, top) {
                skipped.entry(top).or_insert(reason);
                continue;
            }
            if let Some(rule) = write_rules::property_rule(kind, state, top, &self.cx) {
                self.unwritable.attribute(desired, rule, a);
                continue;
            }
            body.entry(top.to_string())
                .or_insert_with(|| desired.props.get(top).cloned().unwrap_or(Value::Null));
            shown.push(PlanAttribute::of_change(a));
        }
        for (prop, reason) in skipped {
            self.note(
                desired,
                format!("{prop} differs but is not restored: {reason}"),
            );
        }
        for name in children {
            self.children(kind, live, desired, name);
        }
        if body.is_empty() {
            return;
        }
        if kind.odata_type_on_patch {
            if let Some(t) = desired.odata_type() {
                body.insert("@odata.type".into(), Value::String(t.to_string()));
            }
        }
        if let Some((mut first, disabled)) = hooks::disable_first(kind, live, &body) {
            if let Some(t) = body.get("@odata.type") {
                first.insert("@odata.type".into(), t.clone());
            }
            self.push(
                desired,
                Phase::Disable,
                Op::Update { body: first },
                disabled,
            );
            self.note(
                desired,
                "enabled app roles or permission scopes that change or go are disabled first, in a PATCH of their own (Graph refuses to change or remove an enabled one)",
            );
        }
        self.push(desired, Phase::Update, Op::Update { body }, shown);
    }

    pub(super) fn link_changes(
        &mut self,
        o: &Object,
        name: &str,
        added: &[LinkRef],
        removed: &[LinkRef],
    ) {
        let Some(spec) = o.kind.link(name) else {
            self.note(
                o,
                format!(
                    "link {name} is not known to the {} schema; not changed",
                    o.kind.kind
                ),
            );
            return;
        };
        // Setting a single link (`PUT …/manager/$ref`) replaces the end there: removing the old
        // one afterwards would clear the new one.
        let removed = if spec.single && !added.is_empty() {
            &[]
        } else {
            removed
        };
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
                    let empty = desired.empty_like();
                    let attributes: Vec<AttributeChange> = desired
                        .props
                        .iter()
                        .filter(|(k, _)| k.as_str() != "id" && k.as_str() != "@odata.type")
                        .map(|(k, v)| AttributeChange {
                            path: k.clone(),
                            old: Value::Null,
                            new: v.clone(),
                            set_like: kind.is_set_like(k),
                            cannot_restore: None,
                        })
                        .collect();
                    self.update(kind, &empty, desired, &attributes);
                    self.new_links(kind, desired);
                }
            }
            return;
        }
        self.create(kind, desired);
    }

    /// A create of the desired object (it gets a new id), with its links; or a note saying why
    /// the kind or this object cannot be created.
    fn create(&mut self, kind: &'static KindSpec, desired: &Object) {
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
        if let Some(rule) = write_rules::create_rule(kind, &desired.props, &self.cx) {
            self.unwritable.missing(desired, rule);
            return;
        }
        if write_rules::recreate_hook(kind, &desired.props, &self.cx)
            == Some(RecreateHook::Invitation)
        {
            self.invite(kind, desired);
            return;
        }
        let missing: Vec<&str> = kind
            .required_on_create
            .iter()
            .map(String::as_str)
            .filter(|p| desired.props.get(*p).is_none_or(Value::is_null))
            .collect();
        if !missing.is_empty() {
            self.note(
                desired,
                format!(
                    "cannot be re-created: Graph requires {} to create it, and the desired state has none",
                    missing.join(", ")
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
            if kind.child(k).is_some() {
                // Written one by one once the object exists.
                continue;
            }
            if kind.credential(k).is_some() {
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
            shown.push(PlanAttribute::created(kind, k, v));
        }
        let secret = kind.create_secret.as_ref();
        self.push(
            desired,
            Phase::Recover,
            Op::Create {
                body,
                password: secret.is_some(),
            },
            shown,
        );
        self.note(
            desired,
            "re-created with a new id (the old one is gone for good); references to the old id in this plan use the new one",
        );
        if let Some(secret) = secret {
            self.note(desired, secret.note.clone());
        }
        for c in credentials {
            self.note(desired, format!("cannot restore secrets: {c} are not re-created; add them again to the new object"));
        }
        self.new_links(kind, desired);
        let none = desired.empty_like();
        for child in &kind.children {
            self.children(kind, &none, desired, &child.name);
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
            .filter(|a| matches!(a.op, Op::Create { .. } | Op::Invite { .. }))
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
                if prop == "id"
                    || not_writable(kind.spec(), prop).is_some()
                    || kind.child(prop).is_some()
                {
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
                a.kind == kind.kind.as_str() && a.id == want.id && matches!(a.op, Op::Update { .. })
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
            kind: kind.into(),
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
        let soft = kind.soft_deletes(&live.props);
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

/// Why a top-level property is never sent in a PATCH, or `None` when it may be.
pub(super) fn not_writable(kind: &'static KindSpec, prop: &str) -> Option<String> {
    if let Some(reason) = kind.credential(prop) {
        return Some(format!("cannot restore secrets ({reason})"));
    }
    if prop == "id" || prop == "@odata.type" {
        return Some("identity, not an attribute".into());
    }
    if kind.is_create_only(prop) {
        return Some("Graph only sets it when the object is created".into());
    }
    if kind.is_read_only(prop) {
        return Some("read-only in Graph".into());
    }
    if kind.is_secret(prop) {
        return Some("secret, never stored".into());
    }
    None
}

pub(super) fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}
