//! The live tenant as the files of a snapshot, read as cheaply as Graph allows.
//!
//! Kinds with a delta query (users, groups, applications, service principals, administrative
//! units) follow the deltaLinks kept with the last snapshot — a git note on its commit
//! (`refs/notes/tenantgit`), so a clone that fetches the note continues where the last run
//! stopped — and lay the changes over that snapshot's files. The other kinds are read in full,
//! concurrently. Either way the result is the set of files a full read gives, byte for byte:
//!
//! * objects a round did not report keep their files (their blob ids, unread);
//! * a changed object is its file with the reported properties and link ends laid over it;
//! * an object new to the snapshot (created, or back from the recycle bin) is read whole by id,
//!   since a round may carry only some of its properties;
//! * links delta does not track (owners of applications and service principals) are read again
//!   for the changed objects;
//! * link ends are named as a full read names them: from the objects of the run, else through
//!   `directoryObjects/getByIds`; a renamed object is looked up backwards (`memberOf`,
//!   `ownedObjects`, `directReports`) and the files that name it are written again.
//!
//! A kind is read incrementally only when its note is trustworthy: readable, for this Graph and
//! this tenant, taken for the same query, not older than `[snapshot] full-every`, and when every
//! kind its links point to is read incrementally from the same note too (otherwise a rename
//! could go unseen). Anything else is a full round with a one-line notice — a stored token never
//! blocks a snapshot. Graph refusing a token (expired, reset) is the same.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

use git2::Oid;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::Error;
use crate::graph::{GraphClient, GraphError};
use crate::layout;
use crate::model::{Object, Snapshot};
use crate::read::delta::{self, DeltaToken, Round};
use crate::read::{self, incremental, Fetch, Fetched, ReadProgress};
use crate::schema::KindSpec;
use crate::store::{KindState, Store, TreeIndex};
use crate::yaml;

/// The version of the note's format; a note of another version is not trusted.
const NOTE_VERSION: u32 = 1;
/// How far back on `HEAD`'s first-parent chain the last noted snapshot is looked for.
const NOTE_DEPTH: usize = 10_000;
/// `directoryObjects/getByIds` takes at most this many ids.
const GET_BY_IDS: usize = 1000;

/// What the note on a snapshot commit says: the delta tokens of the kinds read in that run, all
/// relative to that commit's files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Note {
    version: u32,
    /// The Graph root the tokens were taken from (`{graph_url}/v1.0`).
    graph: String,
    /// The tenant of the access token that took them (`tid`), when the token said.
    tenant: Option<String>,
    kinds: BTreeMap<String, DeltaToken>,
}

/// What the rounds of a run leave for later passes, once every kind is assembled.
#[derive(Default)]
struct Followups {
    /// Link ends added this round (or every end of an initial round): named afterwards.
    unnamed: HashSet<String>,
    /// Objects renamed this round, with their new name: files naming them are written again.
    renamed: HashMap<String, (&'static KindSpec, Option<String>)>,
    /// Objects that left the tenant this round. Graph keeps a soft-deleted object's memberships
    /// (hidden from member lists) and reports nothing about them in delta, and it does not
    /// report untracked links at all: files that name it are read again.
    left: Vec<(String, &'static KindSpec)>,
    /// Objects new to the snapshot (created, or restored with their memberships, which delta
    /// does not report either): the objects that link to them are read again.
    arrived: Vec<(String, &'static KindSpec)>,
}

/// How this run reads the live tenant.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Full rounds for every kind (`--full`).
    pub full: bool,
    /// `[snapshot] full-every`: a chain whose initial round is older gets a full round.
    pub full_every: Option<chrono::Duration>,
}

/// How one kind is read this run.
#[derive(Debug, Clone)]
enum Plan {
    Full,
    Initial,
    Since { token: DeltaToken, base: Oid },
}

/// One kind of the live tenant: files kept as they are in the base snapshot, and the objects
/// whose files are written.
pub struct LiveKind {
    pub kind: &'static KindSpec,
    /// (path, blob id) of the base snapshot's files that are still the tenant's.
    pub kept: Vec<(String, Oid)>,
    pub objects: Vec<Object>,
    /// The token of the next round (kinds read with delta).
    token: Option<DeltaToken>,
    /// Read incrementally: its kept files may name link ends that were renamed since.
    incremental: bool,
}

/// The live tenant, for the kinds asked for.
pub struct Live {
    pub kinds: Vec<LiveKind>,
    /// One-line notices: tokens not trusted or refused, full rounds and why.
    pub notices: Vec<String>,
    graph: String,
    tenant: Option<String>,
}

impl Live {
    /// Objects in the live tenant (kept files and read objects).
    pub fn len(&self) -> usize {
        self.kinds
            .iter()
            .map(|k| k.kept.len() + k.objects.len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The new state of each kind's files, for [`Store::commit_states`].
    pub fn states(&self) -> Vec<KindState<'_>> {
        self.kinds
            .iter()
            .map(|k| KindState {
                kind: k.kind,
                kept: &k.kept,
                objects: k.objects.iter().collect(),
            })
            .collect()
    }

    /// Whether every kind was read in full (nothing kept from an earlier snapshot).
    pub fn is_full(&self) -> bool {
        self.kinds.iter().all(|k| !k.incremental)
    }

    /// The note to keep on the commit whose files are these (the new snapshot, or `HEAD` when
    /// nothing changed): the tokens of the next round. `None` when no kind has one.
    pub fn note(&self) -> Option<String> {
        let kinds: BTreeMap<String, DeltaToken> = self
            .kinds
            .iter()
            .filter_map(|k| Some((k.kind.kind.clone(), k.token.clone()?)))
            .collect();
        if kinds.is_empty() {
            return None;
        }
        let note = Note {
            version: NOTE_VERSION,
            graph: self.graph.clone(),
            tenant: self.tenant.clone(),
            kinds,
        };
        Some(serde_json::to_string_pretty(&note).expect("a note serializes"))
    }

    /// Every object of the live tenant, kept files parsed (for callers that need them all).
    pub fn into_snapshot(self, store: &Store) -> Result<Snapshot, Error> {
        let mut snapshot = Snapshot::default();
        for k in self.kinds {
            for (path, oid) in &k.kept {
                snapshot.insert(parse_file(store, k.kind, path, *oid)?);
            }
            for o in k.objects {
                snapshot.insert(o);
            }
        }
        Ok(snapshot)
    }
}

/// Reads the live tenant for `kinds`: incrementally where the last snapshot's note allows,
/// otherwise in full (see the module's documentation).
pub async fn read(
    store: &Store,
    client: &GraphClient,
    kinds: &[&'static KindSpec],
    options: &Options,
    progress: &dyn ReadProgress,
) -> Result<Live, Error> {
    let now = chrono::Utc::now();
    let graph = client.base_url().to_string();
    let tenant = if kinds.iter().any(|k| k.delta) {
        client.token_tenant().await?
    } else {
        None
    };
    let mut notices = Vec::new();
    let note = if options.full {
        None
    } else {
        load_note(store, &mut notices)?
    };
    let mut plans = decide(
        kinds,
        note.as_ref(),
        &graph,
        tenant.as_deref(),
        options,
        now,
        &mut notices,
    );
    let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut fetched = read::fetch(client, fetches(&plans), &stamp, progress).await?;
    crate::store::timing::mark("live: fetch");
    // Graph refused some tokens: those kinds, and the kinds that link to them, read in full.
    let refused: Vec<(usize, String)> = fetched
        .iter()
        .enumerate()
        .filter_map(|(i, (kind, f))| match f {
            Fetched::Rejected(e) => Some((
                i,
                format!(
                    "{}: Graph no longer accepts the stored delta token ({}); reading {} in full",
                    kind.kind,
                    rejection_reason(e),
                    kind.kind
                ),
            )),
            _ => None,
        })
        .collect();
    if !refused.is_empty() {
        for (i, notice) in &refused {
            notices.push(notice.clone());
            plans[*i].1 = Plan::Initial;
        }
        cascade(&mut plans);
        let again: Vec<usize> = (0..plans.len())
            .filter(|&i| {
                matches!(plans[i].1, Plan::Initial)
                    && !matches!(fetched[i].1, Fetched::Round(ref r) if r.objects.is_some())
            })
            .collect();
        let redo: Vec<(&'static KindSpec, Fetch)> = again
            .iter()
            .map(|&i| (plans[i].0, Fetch::Initial))
            .collect();
        for (i, result) in again
            .into_iter()
            .zip(read::fetch(client, redo, &stamp, progress).await?)
        {
            fetched[i] = result;
        }
    }

    let mut indexes: HashMap<Oid, std::rc::Rc<TreeIndex>> = HashMap::new();
    let mut live = Live {
        kinds: Vec::new(),
        notices,
        graph,
        tenant,
    };
    let mut follow = Followups::default();
    for ((kind, plan), (_, result)) in plans.into_iter().zip(fetched) {
        let lk = match (plan, result) {
            (_, Fetched::Objects(objects)) => LiveKind {
                kind,
                kept: Vec::new(),
                objects,
                token: None,
                incremental: false,
            },
            (_, Fetched::Round(r)) if r.objects.is_some() => {
                let objects = r.objects.expect("checked");
                for o in &objects {
                    for link in kind.links.iter().filter(|l| l.delta) {
                        follow
                            .unnamed
                            .extend(o.link_ids(&link.name).map(str::to_string));
                    }
                }
                LiveKind {
                    kind,
                    kept: Vec::new(),
                    objects,
                    token: Some(r.round.token),
                    incremental: false,
                }
            }
            (Plan::Since { base, .. }, Fetched::Round(r)) => {
                if let std::collections::hash_map::Entry::Vacant(e) = indexes.entry(base) {
                    e.insert(store.tree_index(base)?);
                }
                let index = &indexes[&base];
                since(store, client, kind, index, r.round, &mut follow, progress).await?
            }
            (_, Fetched::Round(_)) | (_, Fetched::Rejected(_)) => {
                unreachable!(
                    "a round without objects follows a token; refused tokens were read again"
                )
            }
        };
        live.kinds.push(lk);
    }
    crate::store::timing::mark("live: assemble kinds (since)");
    name_ends(client, &mut live, &follow.unnamed).await?;
    crate::store::timing::mark("live: name_ends");
    if !follow.renamed.is_empty() {
        follow_renames(store, client, &mut live, &follow.renamed).await?;
    }
    if !follow.left.is_empty() || !follow.arrived.is_empty() {
        reread_referrers(store, client, &mut live, &follow).await?;
    }
    Ok(live)
}

/// The note of the last noted snapshot, when it can be trusted to be one.
fn load_note(store: &Store, notices: &mut Vec<String>) -> Result<Option<(Oid, Note)>, Error> {
    let Some((commit, text)) = store.last_noted(NOTE_DEPTH)? else {
        return Ok(None);
    };
    match serde_json::from_str::<Note>(&text) {
        Ok(note) if note.version == NOTE_VERSION => Ok(Some((commit, note))),
        Ok(note) => {
            notices.push(format!(
                "the delta tokens on {} are of format {} (this tenantgit reads {NOTE_VERSION}); reading in full",
                short(commit),
                note.version
            ));
            Ok(None)
        }
        Err(e) => {
            notices.push(format!(
                "the delta tokens on {} are unreadable ({e}); reading in full",
                short(commit)
            ));
            Ok(None)
        }
    }
}

fn short(commit: Oid) -> String {
    commit.to_string()[..10].to_string()
}

/// How each kind is read, with a notice for every token not trusted.
fn decide(
    kinds: &[&'static KindSpec],
    note: Option<&(Oid, Note)>,
    graph: &str,
    tenant: Option<&str>,
    options: &Options,
    now: chrono::DateTime<chrono::Utc>,
    notices: &mut Vec<String>,
) -> Vec<(&'static KindSpec, Plan)> {
    let mut plans: Vec<(&'static KindSpec, Plan)> = kinds
        .iter()
        .map(|&k| (k, if k.delta { Plan::Initial } else { Plan::Full }))
        .collect();
    let Some((commit, note)) = note else {
        return plans;
    };
    let at = short(*commit);
    if note.graph != graph {
        notices.push(format!(
            "the delta tokens on {at} were taken from {}, not {graph}; reading in full",
            note.graph
        ));
        return plans;
    }
    if note.tenant.as_deref() != tenant {
        notices.push(format!(
            "the delta tokens on {at} belong to tenant {}, not {}; reading in full",
            note.tenant.as_deref().unwrap_or("(unknown)"),
            tenant.unwrap_or("(unknown)")
        ));
        return plans;
    }
    let oldest = note.kinds.values().map(|t| t.since.as_str()).min();
    if let (Some(every), Some(oldest)) = (options.full_every, oldest) {
        let started = chrono::DateTime::parse_from_rfc3339(oldest).ok();
        let due = started.is_none_or(|s| now.signed_duration_since(s) >= every);
        if due {
            notices.push(format!(
                "reconciling with a full read: the last one was at {oldest} ([snapshot] full-every)"
            ));
            return plans;
        }
    }
    for (kind, plan) in plans.iter_mut().filter(|(k, _)| k.delta) {
        let Some(token) = note.kinds.get(&kind.kind) else {
            continue;
        };
        let name = &kind.kind;
        let expected = delta::query_hash(&delta::query(kind));
        // Graph answers `directory/administrativeUnits/delta` with `administrativeUnits/delta`
        // links: the link must be a delta link on this Graph, whatever its collection path.
        let prefix = format!("{graph}/");
        let is_delta = |link: &str| {
            link.split('?')
                .next()
                .is_some_and(|p| p.ends_with("/delta") || p.ends_with("/microsoft.graph.delta"))
        };
        if token.query != expected {
            notices.push(format!(
                "{name}: the stored delta token was taken for other properties; reading {name} in full"
            ));
        } else if !token.link.starts_with(&prefix)
            || !is_delta(&token.link)
            || chrono::DateTime::parse_from_rfc3339(&token.since).is_err()
        {
            notices.push(format!(
                "{name}: the stored delta token is not a deltaLink of this Graph; reading {name} in full"
            ));
        } else {
            *plan = Plan::Since {
                token: token.clone(),
                base: *commit,
            };
        }
    }
    cascade(&mut plans);
    plans
}

/// A kind read incrementally keeps files that name the ends of its links; when a kind those
/// ends belong to is not itself read incrementally (or not read at all), a rename there would go
/// unseen, so the kind is read in full too. Repeats until nothing changes.
fn cascade(plans: &mut [(&'static KindSpec, Plan)]) {
    loop {
        let incremental: HashSet<&str> = plans
            .iter()
            .filter(|(_, p)| matches!(p, Plan::Since { .. }))
            .map(|(k, _)| k.kind.as_str())
            .collect();
        let mut changed = false;
        for (kind, plan) in plans.iter_mut() {
            if !matches!(plan, Plan::Since { .. }) {
                continue;
            }
            let blind = kind
                .links
                .iter()
                .flat_map(|l| &l.ends)
                .any(|end| !incremental.contains(end.as_str()));
            if blind {
                *plan = Plan::Initial;
                changed = true;
            }
        }
        if !changed {
            return;
        }
    }
}

fn fetches(plans: &[(&'static KindSpec, Plan)]) -> Vec<(&'static KindSpec, Fetch)> {
    plans
        .iter()
        .map(|(k, p)| {
            (
                *k,
                match p {
                    Plan::Full => Fetch::Full,
                    Plan::Initial => Fetch::Initial,
                    Plan::Since { token, .. } => Fetch::Since(token.clone()),
                },
            )
        })
        .collect()
}

fn rejection_reason(e: &read::ReadError) -> String {
    match e {
        read::ReadError::DeltaToken { source, .. } => match source.as_ref() {
            GraphError::Http { status, code, .. } if code.is_empty() => format!("HTTP {status}"),
            GraphError::Http { status, code, .. } => format!("HTTP {status} {code}"),
            other => other.to_string(),
        },
        other => other.to_string(),
    }
}

/// Parses the file of an object in the base snapshot.
fn parse_file(
    store: &Store,
    kind: &'static KindSpec,
    path: &str,
    oid: Oid,
) -> Result<Object, Error> {
    let bytes = store.read_blob(oid)?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(yaml::parse_object(kind, Path::new(path), &text)?)
}

/// The display name a full read gives an object as a link end.
fn end_name(object: &Object) -> Option<String> {
    object
        .props
        .get("displayName")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// A kind after a round from a token: the base snapshot's files, the round's changes laid over
/// them.
#[allow(clippy::too_many_arguments)]
async fn since(
    store: &Store,
    client: &GraphClient,
    kind: &'static KindSpec,
    index: &TreeIndex,
    round: Round,
    follow: &mut Followups,
    progress: &dyn ReadProgress,
) -> Result<LiveKind, Error> {
    let touched: HashSet<String> = round
        .objects
        .keys()
        .map(|id| layout::safe_component(id))
        .collect();
    let kept: Vec<(String, Oid)> = index
        .iter()
        .filter(|(path, k, _)| {
            k.kind == kind.kind
                && !layout::id_hint_from_path(kind, path).is_some_and(|h| touched.contains(&h))
        })
        .map(|(path, _, oid)| (path.to_string(), oid))
        .collect();
    let mut objects = Vec::new();
    let mut new = Vec::new();
    for (id, change) in &round.objects {
        if change.removed.is_some() {
            follow.left.push((id.clone(), kind));
            continue;
        }
        let base = match index.find(&kind.kind, &layout::safe_component(id)) {
            Some((path, oid)) => Some(parse_file(store, kind, path, oid)?).filter(|o| &o.id == id),
            None => None,
        };
        let Some(base) = base else {
            new.push(id.as_str());
            continue;
        };
        let before = end_name(&base);
        let object = incremental::updated(kind, id, Some(base), change)?;
        if end_name(&object) != before {
            follow.renamed.insert(id.clone(), (kind, end_name(&object)));
        }
        for ends in change.links.values() {
            follow.unnamed.extend(ends.added.iter().cloned());
        }
        objects.push(object);
    }
    // Links delta does not track, read again for the changed objects.
    for id in read::read_links_where(client, kind, &mut objects, &|l| !l.delta).await? {
        progress.vanished(&kind.kind, &id);
    }
    // Objects new to the snapshot, read whole: a round may carry only some of their properties.
    let arrived = read::read_by_id(client, kind, new.into_iter()).await?;
    follow
        .arrived
        .extend(arrived.iter().map(|o| (o.id.clone(), kind)));
    objects.extend(arrived);
    Ok(LiveKind {
        kind,
        kept,
        objects,
        token: Some(round.token),
        incremental: true,
    })
}

/// Names the link ends in `unnamed` as a full read would: from the objects of this run, else
/// through `directoryObjects/getByIds`; and renames ends of objects renamed this round.
async fn name_ends(
    client: &GraphClient,
    live: &mut Live,
    unnamed: &HashSet<String>,
) -> Result<(), Error> {
    if unnamed.is_empty() {
        return Ok(());
    }
    let mut names: HashMap<String, Option<String>> = HashMap::new();
    for k in &live.kinds {
        for o in &k.objects {
            if unnamed.contains(&o.id) {
                names.insert(o.id.clone(), end_name(o));
            }
        }
    }
    let missing: Vec<&String> = unnamed
        .iter()
        .filter(|id| !names.contains_key(*id))
        .collect();
    for chunk in missing.chunks(GET_BY_IDS) {
        let body = json!({ "ids": chunk });
        let answer = client.post_read("directoryObjects/getByIds", &body).await?;
        for item in answer
            .get("value")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(id) = item.get("id").and_then(Value::as_str) {
                let name = item
                    .get("displayName")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                names.insert(id.to_string(), name);
            }
        }
    }
    for k in &mut live.kinds {
        let tracked: Vec<String> = k
            .kind
            .links
            .iter()
            .filter(|l| l.delta)
            .map(|l| l.name.clone())
            .collect();
        for o in &mut k.objects {
            for name in &tracked {
                let Some(ends) = o.links.get_mut(name) else {
                    continue;
                };
                // An end Graph does not resolve is not live: an initial round still lists
                // soft-deleted members, which member lists (and so a full read) leave out.
                ends.retain(|e| !unnamed.contains(&e.id) || names.contains_key(&e.id));
                for end in ends.iter_mut() {
                    if let Some(n) = names.get(&end.id) {
                        end.display_name = n.clone();
                    }
                }
            }
        }
    }
    Ok(())
}

/// Objects renamed this round are named in other objects' links: in changed objects the name
/// is set; kept files that name them are found through the reverse navigation of each link
/// (`memberOf`, `ownedObjects`, …) and written again.
async fn follow_renames(
    store: &Store,
    client: &GraphClient,
    live: &mut Live,
    renamed: &HashMap<String, (&'static KindSpec, Option<String>)>,
) -> Result<(), Error> {
    let rename = |o: &mut Object| {
        for ends in o.links.values_mut() {
            for end in ends.iter_mut() {
                if let Some((_, name)) = renamed.get(&end.id) {
                    end.display_name = name.clone();
                }
            }
        }
    };
    // Reverse lookups: which objects link to each renamed one.
    let mut paths: BTreeSet<String> = BTreeSet::new();
    for k in live.kinds.iter().filter(|k| k.incremental) {
        for link in &k.kind.links {
            let Some(reverse) = &link.reverse else {
                continue;
            };
            for (id, (end_kind, _)) in renamed {
                if link.ends.contains(&end_kind.kind) {
                    paths.insert(format!(
                        "{}/{}/{}?$select=id&$top=999",
                        end_kind.path, id, reverse
                    ));
                }
            }
        }
    }
    let paths: Vec<String> = paths.into_iter().collect();
    let answers = client
        .batch_get_each(&paths, &GraphError::is_resource_not_found)
        .await?;
    let mut referrers: HashMap<String, HashSet<String>> = HashMap::new();
    for item in answers.into_iter().flatten().flatten() {
        let (Some(id), Some(t)) = (
            item.get("id").and_then(Value::as_str),
            item.get("@odata.type").and_then(Value::as_str),
        ) else {
            continue;
        };
        referrers
            .entry(t.trim_start_matches('#').to_string())
            .or_default()
            .insert(id.to_string());
    }
    for k in live.kinds.iter_mut() {
        for o in &mut k.objects {
            rename(o);
        }
        if !k.incremental {
            continue;
        }
        let graph_type = k.kind.graph_type.trim_start_matches('#');
        let Some(ids) = referrers.get(graph_type) else {
            continue;
        };
        let ids: HashSet<String> = ids
            .iter()
            .filter(|id| !k.objects.iter().any(|o| &o.id == *id))
            .map(|id| layout::safe_component(id))
            .collect();
        let mut still = Vec::with_capacity(k.kept.len());
        for (path, oid) in std::mem::take(&mut k.kept) {
            let hit = layout::id_hint_from_path(k.kind, &path).is_some_and(|h| ids.contains(&h));
            if !hit {
                still.push((path, oid));
                continue;
            }
            let mut object = parse_file(store, k.kind, &path, oid)?;
            rename(&mut object);
            k.objects.push(object);
        }
        k.kept = still;
    }
    Ok(())
}

/// Objects whose links name an object that left this round, or that link to one that arrived,
/// read again whole by id: delta reports neither (see [`Followups`]). Files that name a
/// departed object are found by its id in their bytes (only kinds whose links can end at its
/// kind are searched, only when something left); objects an arrived one is linked from are
/// found through its reverse navigations (`memberOf`, …).
async fn reread_referrers(
    store: &Store,
    client: &GraphClient,
    live: &mut Live,
    follow: &Followups,
) -> Result<(), Error> {
    let mut referrers: HashMap<String, HashSet<String>> = HashMap::new();
    for k in live.kinds.iter().filter(|k| k.incremental) {
        let gone: Vec<&str> = follow
            .left
            .iter()
            .filter(|(_, end)| k.kind.links.iter().any(|l| l.ends.contains(&end.kind)))
            .map(|(id, _)| id.as_str())
            .collect();
        if gone.is_empty() {
            continue;
        }
        let hits = referrers.entry(k.kind.kind.clone()).or_default();
        for (path, oid) in &k.kept {
            let bytes = store.read_blob(*oid)?;
            let text = String::from_utf8_lossy(&bytes);
            if gone.iter().any(|id| text.contains(id)) {
                let id = layout::id_hint_from_path(k.kind, path).unwrap_or_default();
                hits.insert(id);
            }
        }
        for o in &k.objects {
            if o.links
                .values()
                .flatten()
                .any(|e| gone.contains(&e.id.as_str()))
            {
                hits.insert(layout::safe_component(&o.id));
            }
        }
    }
    // Reverse navigations of the arrived objects.
    let mut paths: BTreeSet<String> = BTreeSet::new();
    for k in live.kinds.iter().filter(|k| k.incremental) {
        for link in &k.kind.links {
            let Some(reverse) = &link.reverse else {
                continue;
            };
            for (id, end_kind) in &follow.arrived {
                if link.ends.contains(&end_kind.kind) {
                    paths.insert(format!(
                        "{}/{}/{}?$select=id&$top=999",
                        end_kind.path, id, reverse
                    ));
                }
            }
        }
    }
    let paths: Vec<String> = paths.into_iter().collect();
    let answers = client
        .batch_get_each(&paths, &GraphError::is_resource_not_found)
        .await?;
    for item in answers.into_iter().flatten().flatten() {
        let (Some(id), Some(t)) = (
            item.get("id").and_then(Value::as_str),
            item.get("@odata.type").and_then(Value::as_str),
        ) else {
            continue;
        };
        let t = t.trim_start_matches('#');
        if let Some(k) = live
            .kinds
            .iter()
            .find(|k| k.incremental && k.kind.graph_type.trim_start_matches('#') == t)
        {
            referrers
                .entry(k.kind.kind.clone())
                .or_default()
                .insert(layout::safe_component(id));
        }
    }
    for k in live.kinds.iter_mut() {
        let Some(hits) = referrers.get(&k.kind.kind).filter(|h| !h.is_empty()) else {
            continue;
        };
        let mut ids: BTreeSet<String> = BTreeSet::new();
        k.kept.retain(|(path, _)| {
            let hint = layout::id_hint_from_path(k.kind, path).unwrap_or_default();
            if hits.contains(&hint) {
                ids.insert(hint);
                false
            } else {
                true
            }
        });
        k.objects.retain(|o| {
            let hint = layout::safe_component(&o.id);
            if hits.contains(&hint) {
                ids.insert(o.id.clone());
                false
            } else {
                true
            }
        });
        let again = read::read_by_id(client, k.kind, ids.iter().map(String::as_str)).await?;
        k.objects.extend(again);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
