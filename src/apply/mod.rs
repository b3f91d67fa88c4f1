//! Executes a plan (`crate::plan`) against Graph: the writes of each phase run concurrently
//! (bounded), phases and — where kinds depend on each other — kinds one after the other; every
//! write's outcome is recorded with Graph's request id; and afterwards the touched objects are
//! read back and compared with the desired state. Nothing here prints.
//!
//! Re-runs must converge, so a link that is already there (400 "…already exist…") or already
//! gone (404), and an object already deleted (404), count as done. A failed write does not stop
//! the others; only writes that depend on it (the attributes and links of an object whose
//! restore failed) are skipped. Re-created objects get new ids: an id map rewrites every later
//! path, body and link end that names the old id (a CA policy that excludes a re-created group
//! names the new group).

pub mod journal;
mod work;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use reqwest::Method;
use serde::Serialize;
use serde_json::{json, Map, Value};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::diff::{self, Change, DiffOptions};
use crate::graph::{GraphClient, GraphError};
use crate::model::{ObjectKey, Snapshot};
use crate::plan::{Action, Op, Phase, Plan};
use crate::schema::{Kind, KindSpec};

use journal::Journal;
use work::{directory_object_url, works, Tolerate, Work};

/// At most this many link ends in one `@odata.bind` PATCH (GRAPH.md A.2).
pub const BIND_MAX: usize = 20;

/// How to execute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Writes in flight at most.
    pub concurrency: usize,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions { concurrency: 8 }
    }
}

/// The outcome of one write (or of a write that was skipped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteOutcome {
    pub kind: Kind,
    /// The object's id in the plan (the old id of a re-created object).
    pub id: String,
    pub display_name: String,
    /// `update`, `add members`, `remove owners`, `restore`, `create`, `delete`.
    pub action: String,
    pub method: String,
    /// Relative to the Graph version root.
    pub path: String,
    /// HTTP status Graph answered with (the last attempt's), when there was an answer.
    pub status: Option<u16>,
    /// The object is as the write wanted it (written, or already so).
    pub ok: bool,
    /// The write found the tenant already as wanted (a link already there, an object already
    /// gone): nothing changed, nothing failed.
    pub converged: bool,
    /// Not sent because a write it depends on failed.
    pub skipped: bool,
    pub error: Option<String>,
    /// Graph's `request-id` of a failed write, for a support case.
    pub request_id: Option<String>,
    /// The id Graph gave a re-created object.
    pub new_id: Option<String>,
    /// What the person must do next (a re-created user's password must be reset).
    pub note: Option<String>,
}

/// What an execution did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApplyReport {
    /// In plan order.
    pub outcomes: Vec<WriteOutcome>,
    /// Write requests sent (retries not counted).
    pub writes: usize,
    /// Outcomes that did not reach the wanted state: failed writes and skipped ones.
    pub failed: usize,
    pub seconds: f64,
    /// After the writes, differences between the desired state (backup side) and the objects
    /// as read back (current side), in the differ's terms.
    pub remaining_drift: Vec<Change>,
    /// The read-back failed: the writes' outcomes stand, but nothing was verified.
    pub verify_error: Option<String>,
}

impl ApplyReport {
    pub fn all_ok(&self) -> bool {
        self.failed == 0
    }
}

/// What the stages share: the id map of re-created objects and the objects whose restore or
/// create failed.
#[derive(Default)]
struct State {
    ids: HashMap<String, String>,
    failed: HashSet<String>,
}

impl State {
    fn id(&self, id: &str) -> String {
        self.ids.get(id).cloned().unwrap_or_else(|| id.to_string())
    }

    /// A JSON value with every string that is an old id replaced by the new id.
    fn value(&self, v: &Value) -> Value {
        if self.ids.is_empty() {
            return v.clone();
        }
        match v {
            Value::String(s) => Value::String(self.id(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.value(x)).collect()),
            Value::Object(m) => {
                Value::Object(m.iter().map(|(k, x)| (k.clone(), self.value(x))).collect())
            }
            other => other.clone(),
        }
    }
}

/// Who an outcome is about.
#[derive(Clone)]
struct Origin {
    kind: Kind,
    id: String,
    display_name: String,
    label: String,
}

impl Origin {
    fn outcome(&self, method: &str, path: &str) -> WriteOutcome {
        WriteOutcome {
            kind: self.kind,
            id: self.id.clone(),
            display_name: self.display_name.clone(),
            action: self.label.clone(),
            method: method.to_string(),
            path: path.to_string(),
            status: None,
            ok: false,
            converged: false,
            skipped: false,
            error: None,
            request_id: None,
            new_id: None,
            note: None,
        }
    }

    fn skipped(&self, method: &str, path: &str, why: String) -> WriteOutcome {
        WriteOutcome {
            skipped: true,
            error: Some(why),
            ..self.outcome(method, path)
        }
    }
}

/// What a unit of work returns.
struct Done {
    outcomes: Vec<WriteOutcome>,
    writes: usize,
    mapped: Vec<(String, String)>,
}

/// Executes every action of the plan, then reads back the touched objects. Refusals and stale
/// fingerprints are the caller's to check first: this writes.
///
/// With a journal, every request is recorded before it is sent and its outcome when it arrives.
pub async fn execute(
    client: &GraphClient,
    plan: &Plan,
    options: &ApplyOptions,
    journal: Option<Arc<Journal>>,
) -> ApplyReport {
    let started = Instant::now();
    let mut state = State::default();
    let mut report = ApplyReport::default();
    let limit = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let graph_root = client.base_url().to_string();

    for stage in stages(&plan.actions) {
        let mut tasks = JoinSet::new();
        // (action, unit, outcome within the unit): plan order, whatever order tasks finish in.
        let mut outcomes: Vec<((usize, usize, usize), WriteOutcome)> = Vec::new();
        for &i in &stage {
            let action = &plan.actions[i];
            let mut skipped = Vec::new();
            let units = works(action, plan, &state, &graph_root, &mut |o| skipped.push(o));
            outcomes.extend(skipped.into_iter().enumerate().map(|(n, o)| ((i, 0, n), o)));
            for (unit, work) in units.into_iter().enumerate() {
                let client = client.clone();
                let limit = limit.clone();
                let root = graph_root.clone();
                let journal = journal.clone();
                tasks.spawn(async move {
                    let _permit = limit
                        .acquire_owned()
                        .await
                        .expect("the semaphore is never closed");
                    (
                        i,
                        unit + 1,
                        run(&client, work, &root, journal.as_deref()).await,
                    )
                });
            }
        }
        while let Some(joined) = tasks.join_next().await {
            let (i, unit, done) = match joined {
                Ok(r) => r,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => continue,
            };
            report.writes += done.writes;
            for (old, new) in done.mapped {
                state.ids.insert(old, new);
            }
            let action = &plan.actions[i];
            if action.phase == Phase::Recover && done.outcomes.iter().any(|o| !o.ok) {
                state.failed.insert(action.key());
            }
            outcomes.extend(
                done.outcomes
                    .into_iter()
                    .enumerate()
                    .map(|(n, o)| ((i, unit, n), o)),
            );
        }
        outcomes.sort_by_key(|(order, _)| *order);
        report.outcomes.extend(outcomes.into_iter().map(|(_, o)| o));
    }
    report.failed = report.outcomes.iter().filter(|o| !o.ok).count();
    if let Some(j) = &journal {
        crate::failpoint::hit("restore.before-verify", j.git_dir());
    }

    match verify(client, plan, &state).await {
        Ok(drift) => report.remaining_drift = drift,
        Err(e) => report.verify_error = Some(e.to_string()),
    }
    report.seconds = started.elapsed().as_secs_f64();
    report
}

/// Indexes of actions grouped into stages that run one after the other: one per phase, and one
/// per kind in the phases where kinds depend on each other.
fn stages(actions: &[Action]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut last: Option<(Phase, &str)> = None;
    for (i, a) in actions.iter().enumerate() {
        let key = (
            a.phase,
            if a.phase.by_kind() {
                a.kind.as_str()
            } else {
                ""
            },
        );
        if last != Some(key) {
            out.push(Vec::new());
            last = Some(key);
        }
        out.last_mut().expect("pushed above").push(i);
    }
    out
}

/// Sends one unit of work.
async fn run(
    client: &GraphClient,
    work: Work,
    graph_root: &str,
    journal: Option<&Journal>,
) -> Done {
    match work {
        Work::Request {
            origin,
            method,
            path,
            body,
            tolerate,
            create,
            prefer,
        } => {
            let mut body = body;
            if let (Some(c), Some(Value::Object(b))) = (&create, body.as_mut()) {
                if let Some(secret) = c.secret {
                    b.insert(secret.property.clone(), generated_secret(&secret.property));
                }
            }
            let (mut outcome, response) = send(
                client,
                &origin,
                method,
                &path,
                body.as_ref(),
                prefer,
                tolerate,
                create.is_some(),
                journal,
            )
            .await;
            let mut mapped = Vec::new();
            if let (Some(c), Some(resp)) = (&create, response) {
                match created_id(&resp) {
                    Some(new_id) => {
                        outcome.new_id = Some(new_id.to_string());
                        mapped.push((origin.id.clone(), new_id.to_string()));
                    }
                    None => {
                        outcome.ok = false;
                        outcome.error = Some("Graph's answer to the create has no id".into());
                    }
                }
                for (prop, old) in &c.old_keys {
                    if let Some(new) = resp.get(*prop).and_then(Value::as_str) {
                        if old != new {
                            mapped.push((old.clone(), new.to_string()));
                        }
                    }
                }
                if let Some(secret) = c.secret {
                    outcome.note = Some(secret.note.clone());
                }
            }
            Done {
                outcomes: vec![outcome],
                writes: 1,
                mapped,
            }
        }
        Work::Bind {
            origin,
            owner_path,
            link,
            link_path,
            ends,
        } => {
            let urls: Vec<Value> = ends
                .iter()
                .map(|id| Value::String(directory_object_url(graph_root, id)))
                .collect();
            let mut body = Map::new();
            body.insert(format!("{link}@odata.bind"), Value::Array(urls));
            let (outcome, _) = send(
                client,
                &origin,
                Method::PATCH,
                &owner_path,
                Some(&Value::Object(body)),
                None,
                Tolerate::Nothing,
                false,
                journal,
            )
            .await;
            // All or nothing: one end already there (400) or gone (404) fails the lot. Then
            // each end on its own, so that the others still get in and the culprit is named.
            if outcome.ok || !matches!(outcome.status, Some(400 | 404)) {
                return Done {
                    outcomes: vec![outcome],
                    writes: 1,
                    mapped: Vec::new(),
                };
            }
            let mut outcomes = Vec::new();
            let ref_path = format!("{owner_path}/{link_path}/$ref");
            for id in &ends {
                let body = json!({ "@odata.id": directory_object_url(graph_root, id) });
                let (o, _) = send(
                    client,
                    &origin,
                    Method::POST,
                    &ref_path,
                    Some(&body),
                    None,
                    Tolerate::Existing,
                    false,
                    journal,
                )
                .await;
                outcomes.push(o);
            }
            Done {
                writes: 1 + outcomes.len(),
                outcomes,
                mapped: Vec::new(),
            }
        }
    }
}

/// One write and its outcome; the response body on success. With a journal, the request is
/// recorded before it is sent (a body without secrets) and its outcome after; a request the
/// journal cannot record is not sent.
#[allow(clippy::too_many_arguments)]
async fn send(
    client: &GraphClient,
    origin: &Origin,
    method: Method,
    path: &str,
    body: Option<&Value>,
    prefer: Option<&'static str>,
    tolerate: Tolerate,
    create: bool,
    journal: Option<&Journal>,
) -> (WriteOutcome, Option<Value>) {
    let mut outcome = origin.outcome(method.as_str(), path);
    let seq = match journal {
        None => None,
        Some(j) => {
            let recorded = body.map(|b| without_secrets(b, origin.kind.spec()));
            match j.send(
                origin.kind.name(),
                &origin.id,
                method.as_str(),
                path,
                recorded.as_ref(),
                create,
            ) {
                Ok(seq) => Some(seq),
                Err(e) => {
                    outcome.error = Some(format!("not sent: {e}"));
                    return (outcome, None);
                }
            }
        }
    };
    // Graph's request id of a successful write, for the journal only (reports show the ids
    // of failed writes).
    let mut answered_id = None;
    let is_update = method == Method::PATCH;
    let (outcome, response) = match client.send_with(method, path, body, prefer).await {
        Ok(resp) => {
            if let Some(j) = journal {
                if create {
                    crate::failpoint::hit("restore.create-answered", j.git_dir());
                } else if is_update {
                    crate::failpoint::hit("restore.update-answered", j.git_dir());
                }
            }
            outcome.status = Some(resp.status);
            outcome.ok = true;
            answered_id = resp.request_id.clone();
            (outcome, Some(resp.body))
        }
        Err(e) => {
            let (status, code, message, request_id) = http_parts(&e);
            outcome.status = status;
            let converged = match tolerate {
                Tolerate::Nothing => false,
                Tolerate::Missing => status == Some(404),
                // Graph has no dedicated code for this (it is Request_BadRequest); the message
                // is the only thing that tells it from other bad requests.
                Tolerate::Existing => {
                    status == Some(400)
                        && code == "Request_BadRequest"
                        && message.contains("already exist")
                }
            };
            if converged {
                outcome.ok = true;
                outcome.converged = true;
            } else {
                outcome.error = Some(error_chain(&e));
                outcome.request_id = request_id;
            }
            (outcome, None)
        }
    };
    if let (Some(j), Some(seq)) = (journal, seq) {
        let new_id = response.as_ref().filter(|_| create).and_then(created_id);
        // The write happened whatever the journal says now; its failure is reported with it.
        if let Err(e) = j.outcome(
            seq,
            outcome.status,
            outcome.ok,
            outcome.request_id.as_deref().or(answered_id.as_deref()),
            new_id,
            outcome.error.as_deref(),
        ) {
            let mut outcome = outcome;
            outcome.note = Some(format!("the journal could not record this outcome: {e}"));
            return (outcome, response);
        }
    }
    (outcome, response)
}

/// The id of the object a create made: the answer's own id, or, for an invitation (the
/// `invitation` hook re-creating a guest), the invited user's (`invitedUser.id`,
/// invitation-post.md) — the invitation's own id names no directory object.
fn created_id(resp: &Value) -> Option<&str> {
    resp.pointer("/invitedUser/id")
        .or_else(|| resp.get("id"))
        .and_then(Value::as_str)
}

/// A request body as the journal keeps it: a generated secret (a re-created user's password)
/// never leaves memory.
fn without_secrets(body: &Value, kind: &KindSpec) -> Value {
    let mut body = body.clone();
    if let (Value::Object(m), Some(secret)) = (&mut body, &kind.create_secret) {
        m.remove(&secret.property);
    }
    body
}

/// Status, code, message and request id of the HTTP answer behind an error.
fn http_parts(e: &GraphError) -> (Option<u16>, String, String, Option<String>) {
    match e {
        GraphError::Http {
            status,
            code,
            message,
            request_id,
            ..
        } => (
            Some(*status),
            code.clone(),
            message.clone(),
            request_id.clone(),
        ),
        GraphError::RetriesExhausted { last, .. } | GraphError::Read { source: last, .. } => {
            http_parts(last)
        }
        _ => (None, String::new(), String::new(), None),
    }
}

/// The error and its causes on one line.
fn error_chain(e: &GraphError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Named hook: the value of a generated create secret. Only `passwordProfile` (users) exists:
/// a fresh random password that meets Entra's complexity rules, which lives only in the request
/// body — never stored, logged, or shown.
fn generated_secret(property: &str) -> Value {
    debug_assert_eq!(
        property, "passwordProfile",
        "the only create secret Graph has"
    );
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    // Hex digits and letters of both cases plus symbols: all four character classes, 36 chars.
    let password = format!("{}-{}!{}", &a[..16], &b[..16], &a[16..18]);
    json!({ "forceChangePasswordNextSignIn": true, "password": password })
}

/// Reads back every object the plan touched and compares it with the desired state (ids
/// rewritten for re-created objects).
async fn verify(
    client: &GraphClient,
    plan: &Plan,
    state: &State,
) -> Result<Vec<Change>, crate::read::ReadError> {
    let touched = plan.touched();
    if touched.is_empty() {
        return Ok(Vec::new());
    }
    let mut keys = Vec::new();
    let mut want = Snapshot::default();
    let mut created: HashSet<String> = HashSet::new();
    for a in &plan.actions {
        if matches!(a.op, Op::Create { .. } | Op::Invite { .. }) {
            created.insert(state.id(&a.id));
        }
    }
    for (kind, id) in &touched {
        let spec = kind.spec();
        let new_id = state.id(id);
        keys.push(ObjectKey {
            kind: spec.into(),
            id: new_id.clone(),
        });
        let Some(mut object) = plan.desired_object(*kind, id).and_then(|d| d.to_object()) else {
            // Pruned: the desired state is "not there".
            continue;
        };
        object.id = new_id.clone();
        object.props = object
            .props
            .iter()
            .map(|(k, v)| (k.clone(), state.value(v)))
            .collect();
        object
            .props
            .insert("id".into(), Value::String(new_id.clone()));
        for refs in object.links.values_mut() {
            for r in refs.iter_mut() {
                r.id = state.id(&r.id);
            }
            refs.sort_by(|a, b| a.id.cmp(&b.id));
        }
        want.insert(object);
    }
    let got = crate::read::read_objects(client, &keys).await?;
    let mut kinds: Vec<&'static crate::schema::KindSpec> =
        keys.iter().map(|k| k.kind.spec()).collect();
    kinds.sort_by_key(|k| k.apply_order);
    kinds.dedup_by_key(|k| k.kind.as_str());
    let extensions = crate::read::extensions::Selected::discover(client, &kinds).await?;
    let options = DiffOptions {
        rules: crate::write_rules::RuleContext {
            tenant: client.token_tenant().await.ok().flatten(),
            on_premises_extensions: extensions.on_premises().clone(),
        },
        ..DiffOptions::default()
    };
    let mut drift = diff::diff(&want, &got, &HashMap::new(), &options);
    // What Graph does not let tenantgit write was listed in the plan, not attempted: it still
    // differs, as expected.
    for c in &mut drift {
        c.attributes.retain(|a| a.cannot_restore.is_none());
        c.links.retain(|l| l.cannot_restore.is_none());
    }
    // A re-created object has new server-set values (creation time, appId) that no write can
    // match: the read-only differences of created objects are expected, not drift.
    for c in &mut drift {
        if created.contains(&c.key.id) {
            if let Some(spec) = Some(c.key.kind.spec()) {
                c.attributes.retain(|a| {
                    let top = a.path.split('.').next().unwrap_or(&a.path);
                    !(spec.is_read_only(top) || spec.is_create_only(top))
                });
            }
        }
    }
    drift.retain(|c| {
        !(c.attributes.is_empty() && c.links.is_empty() && c.change == diff::ChangeKind::Modified)
    });
    Ok(drift)
}

/// Outcomes per action label, for summaries: label → (ok, failed).
pub fn tally(report: &ApplyReport) -> BTreeMap<String, (usize, usize)> {
    let mut out: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for o in &report.outcomes {
        let e = out.entry(o.action.clone()).or_default();
        if o.ok {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    out
}
