//! Reads the live tenant through Graph into a [`Snapshot`]: every kind's collection (or
//! singleton) with `$select` from its schema and `$top=999`, each object's links through
//! `$batch`, then normalization. Kinds are read concurrently. A read either returns every object
//! of every kind asked for or fails naming the kind and the request — a failed read is never
//! mistaken for absent objects. The one exception is an object deleted between the list and the
//! read of its links (404 `Request_ResourceNotFound`): it is left out, as if the list had been
//! read a moment later, and reported through [`ReadProgress::vanished`]. Also reads the recycle
//! bin (`directory/deletedItems`) and re-reads chosen objects after a restore.

pub mod children;
pub mod delta;
pub mod extensions;
pub mod incremental;
pub mod lists;
pub mod round;

pub use children::read_untracked;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::frozen::Frozen;
use crate::graph::{GraphClient, GraphError};
use crate::model::{LinkRef, Object, ObjectKey, Snapshot};
use crate::normalize::normalize;
use crate::schema::{KindSpec, LinkRead};

/// Objects whose links are read in one round of `$batch` calls: enough to keep every
/// connection busy, few enough that raw link pages never pile up in memory.
const LINK_ROUND_OBJECTS: usize = 1000;
/// How long Entra keeps soft-deleted objects.
const RECYCLE_BIN_DAYS: i64 = 30;

/// Progress of a read, for progress bars. Called from the task that awaits the read.
pub trait ReadProgress: Send + Sync {
    fn started(&self, kind: &str);
    /// `objects` of the kind have been read so far.
    fn read(&self, kind: &str, objects: usize);
    fn finished(&self, kind: &str, objects: usize);
    /// An object of `kind` was listed but was gone when its links were read: deleted in
    /// between. It is left out of the result, as if the list had not returned it.
    fn vanished(&self, _kind: &str, _id: &str) {}
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl ReadProgress for NoProgress {
    fn started(&self, _kind: &str) {}
    fn read(&self, _kind: &str, _objects: usize) {}
    fn finished(&self, _kind: &str, _objects: usize) {}
}

enum Event {
    Started(&'static str),
    Read(&'static str, usize),
    Finished(&'static str, usize),
    Vanished(&'static str, String),
}

/// Every object of the given kinds, with links.
pub async fn read_tenant(
    client: &GraphClient,
    kinds: &[&'static KindSpec],
    progress: &dyn ReadProgress,
) -> Result<Snapshot, ReadError> {
    let plans = kinds.iter().map(|&k| (k, Fetch::Full)).collect();
    let mut snapshot = Snapshot::default();
    for (_, fetched) in fetch(client, plans, "", progress).await? {
        match fetched {
            Fetched::Objects(objects) => objects.into_iter().for_each(|o| snapshot.insert(o)),
            Fetched::Round(_) | Fetched::Rejected(_) => {
                unreachable!("a full read asks for no delta round")
            }
        }
    }
    Ok(snapshot)
}

/// How to read one kind.
#[derive(Debug, Clone)]
pub enum Fetch {
    /// Every object, by its collection (or singleton), links through `$batch`.
    Full,
    /// An initial delta round: every object, tracked links with it (their ends still unnamed),
    /// untracked links by lists or through `$batch`; and a token for the next round. With
    /// `freeze`, the objects come as [`Frozen`] text (for a snapshot, which only writes them).
    Initial { freeze: bool },
    /// The changes since a token.
    Since(round::DeltaToken),
}

/// What reading one kind gave.
pub enum Fetched {
    Objects(Vec<Object>),
    /// A delta round: from a token, or an initial one made into objects.
    Round(FetchedRound),
    /// Graph refused the stored token: the caller reads the kind again from scratch.
    Rejected(ReadError),
}

/// A delta round with the objects of an initial round.
pub struct FetchedRound {
    pub round: round::Round,
    /// For an initial round: every object (links tracked by delta not yet named); empty when
    /// the round froze them.
    pub objects: Option<Vec<Object>>,
    /// For an initial round that froze its objects: every object.
    pub frozen: Vec<Frozen>,
}

/// Reads kinds concurrently as `plans` says, reporting progress; `now` (RFC 3339) dates the
/// tokens of initial rounds. Results come in the order of `plans`.
pub async fn fetch(
    client: &GraphClient,
    plans: Vec<(&'static KindSpec, Fetch)>,
    now: &str,
    progress: &dyn ReadProgress,
) -> Result<Vec<(&'static KindSpec, Fetched)>, ReadError> {
    // Kinds run as tasks (real parallelism for normalization); their progress comes back over
    // a channel because `progress` is borrowed and cannot move into a task.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut tasks = JoinSet::new();
    let count = plans.len();
    for (i, (kind, plan)) in plans.into_iter().enumerate() {
        let client = client.clone();
        let tx = tx.clone();
        let now = now.to_string();
        tasks.spawn(async move {
            let fetched = match plan {
                Fetch::Full => Fetched::Objects(read_kind(&client, kind, &tx).await?),
                Fetch::Initial { freeze } => {
                    Fetched::Round(initial_round(&client, kind, &now, freeze, &tx).await?)
                }
                Fetch::Since(token) => {
                    let name = kind.kind.as_str();
                    let _ = tx.send(Event::Started(name));
                    match delta::round(&client, kind, Some(&token), &now, false).await {
                        Ok(round) => {
                            let _ = tx.send(Event::Finished(name, round.objects.len()));
                            Fetched::Round(FetchedRound {
                                round,
                                objects: None,
                                frozen: Vec::new(),
                            })
                        }
                        Err(e @ ReadError::DeltaToken { .. }) => Fetched::Rejected(e),
                        Err(e) => return Err(e),
                    }
                }
            };
            Ok((i, kind, fetched))
        });
    }
    drop(tx);
    let forward = |event: Event| match event {
        Event::Started(k) => progress.started(k),
        Event::Read(k, n) => progress.read(k, n),
        Event::Finished(k, n) => progress.finished(k, n),
        Event::Vanished(k, id) => progress.vanished(k, &id),
    };
    let mut results: Vec<Option<(&'static KindSpec, Fetched)>> = (0..count).map(|_| None).collect();
    loop {
        tokio::select! {
            // Events first, so that a kind's progress is reported before its result is taken.
            biased;
            Some(event) = rx.recv() => forward(event),
            joined = tasks.join_next() => match joined {
                None => break,
                // Returning drops the other tasks, which aborts their reads.
                Some(result) => {
                    let (i, kind, fetched) = join_result(result)?;
                    results[i] = Some((kind, fetched));
                }
            },
        }
    }
    while let Ok(event) = rx.try_recv() {
        forward(event);
    }
    Ok(results.into_iter().flatten().collect())
}

/// An initial delta round of one kind, made into objects; what delta does not carry is read by
/// lists or through `$batch`. With `freeze` the objects are frozen: as their pages are folded
/// when the round carries all there is of them (every link tracked, no children), else once
/// the rest is read.
async fn initial_round(
    client: &GraphClient,
    kind: &'static KindSpec,
    now: &str,
    freeze: bool,
    tx: &mpsc::UnboundedSender<Event>,
) -> Result<FetchedRound, ReadError> {
    let name = kind.kind.as_str();
    let _ = tx.send(Event::Started(name));
    let complete = kind.links.iter().all(|l| l.delta) && kind.children.is_empty();
    let mut round = delta::round(client, kind, None, now, freeze && complete).await?;
    let _ = tx.send(Event::Read(name, round.objects.len()));
    if freeze && complete {
        let frozen = incremental::frozen(kind, &mut round)?;
        let _ = tx.send(Event::Finished(name, frozen.len()));
        return Ok(FetchedRound {
            round,
            objects: Some(Vec::new()),
            frozen,
        });
    }
    let applied = incremental::apply(kind, &mut round, true, &mut |_| Ok(None))?;
    let mut objects: Vec<Object> = applied.into_values().flatten().collect();
    for id in lists::read_untracked_of_all(client, kind, &mut objects).await? {
        let _ = tx.send(Event::Vanished(name, id));
    }
    let _ = tx.send(Event::Finished(name, objects.len()));
    let (objects, frozen) = if freeze {
        (
            Vec::new(),
            objects.into_iter().map(Frozen::freeze).collect(),
        )
    } else {
        (objects, Vec::new())
    };
    Ok(FetchedRound {
        round,
        objects: Some(objects),
        frozen,
    })
}

fn join_result<T>(
    result: Result<Result<T, ReadError>, tokio::task::JoinError>,
) -> Result<T, ReadError> {
    match result {
        Ok(r) => r,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(ReadError::Cancelled(e.to_string())),
    }
}

/// Why reading the tenant failed: no read is ever taken for an absence of objects.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Boxed: a Graph error is large, and every read returns this type.
    #[error(transparent)]
    Graph(Box<GraphError>),
    #[error(transparent)]
    Normalize(#[from] crate::normalize::NormalizeError),
    #[error("a read task was cancelled: {0}")]
    Cancelled(String),
    /// Graph no longer honours the stored delta token of a kind.
    #[error("Graph refused the stored delta token of {kind}")]
    DeltaToken {
        kind: String,
        #[source]
        source: Box<GraphError>,
    },
}

impl From<GraphError> for ReadError {
    fn from(e: GraphError) -> Self {
        ReadError::Graph(Box::new(e))
    }
}

impl ReadError {
    pub fn hint(&self) -> Option<String> {
        match self {
            ReadError::Graph(e) => e.hint(),
            ReadError::Normalize(e) => e.hint(),
            ReadError::Cancelled(_) => Some("run again".into()),
            ReadError::DeltaToken { .. } => {
                Some("run again: a full read starts a new chain".into())
            }
        }
    }

    /// The HTTP status Graph answered with, when it did.
    pub fn status(&self) -> Option<u16> {
        match self {
            ReadError::Graph(e) => e.status(),
            _ => None,
        }
    }
}

pub(crate) fn read_error(kind: &KindSpec, error: GraphError) -> ReadError {
    ReadError::from(GraphError::Read {
        kind: kind.kind.clone(),
        source: Box::new(error),
    })
}

/// The collection read of a kind: `$select` of the managed properties (and the directory
/// extension attributes `extensions` names), pages of 999, and the link read with `$expand` when
/// there is one.
pub fn collection_path(kind: &KindSpec, extensions: &[String]) -> String {
    let mut query = Vec::new();
    if kind.select {
        query.push(format!("$select={}", kind.select_list_with(extensions)));
    }
    query.extend(expand_query(kind));
    query.push("$top=999".into());
    format!("{}?{}", kind.path, query.join("&"))
}

/// `$expand={path}($select=id,displayName)` of the kind's link read that way, or
/// `$expand={path}` of its children read that way (at most one: Graph expands one relationship
/// per request).
fn expand_query(kind: &KindSpec) -> Option<String> {
    let link = kind
        .links
        .iter()
        .find(|l| l.read == LinkRead::Expand)
        .map(|l| format!("$expand={}($select=id,displayName)", l.path));
    link.or_else(|| {
        kind.children
            .iter()
            .find(|c| c.read == LinkRead::Expand)
            .map(|c| format!("$expand={}", c.path))
    })
}

/// Graph expands at most this many ends of a collection relationship; a link with that many is
/// read again on its own.
pub(crate) const EXPAND_LIMIT: usize = 20;

/// Takes the expanded link out of a raw object: its ends, or `None` when the expansion may have
/// been cut short (a collection of [`EXPAND_LIMIT`] ends or more).
fn take_expanded(
    kind: &KindSpec,
    raw: &mut Value,
) -> Result<(BTreeMap<String, Vec<LinkRef>>, bool), String> {
    let mut links = BTreeMap::new();
    let mut complete = true;
    for link in kind.links.iter().filter(|l| l.read == LinkRead::Expand) {
        let value = raw
            .as_object_mut()
            .and_then(|m| m.remove(&link.name))
            .unwrap_or(Value::Null);
        let items = match value {
            Value::Null => Vec::new(),
            Value::Array(items) => {
                complete &= items.len() < EXPAND_LIMIT;
                items
            }
            one @ Value::Object(_) => vec![one],
            _ => {
                return Err(format!(
                    "the expanded {} is neither an object nor a list",
                    link.name
                ))
            }
        };
        let refs = items
            .into_iter()
            .map(|item| {
                link_ref(item).ok_or_else(|| format!("an expanded {} without an id", link.name))
            })
            .collect::<Result<Vec<_>, _>>()?;
        links.insert(link.name.clone(), refs);
    }
    Ok((links, complete))
}

/// Normalizes a raw object with its expanded link; `cut` collects the ids of objects whose
/// expansion was cut short (their links are read again).
fn normalize_expanded(
    kind: &'static KindSpec,
    mut raw: Value,
    cut: &mut Vec<String>,
) -> Result<Object, ReadError> {
    let (links, complete) = take_expanded(kind, &mut raw).map_err(|detail| {
        read_error(
            kind,
            GraphError::InvalidResponse {
                method: "GET",
                path: kind.path.clone(),
                detail,
            },
        )
    })?;
    let object = normalize(kind, &raw, links)?;
    if !complete {
        cut.push(object.id.clone());
    }
    Ok(object)
}

/// The path of one link of one object.
pub fn link_path(kind: &KindSpec, id: &str, link_path: &str) -> String {
    format!(
        "{}/{}/{}?$select=id,displayName&$top=999",
        kind.path, id, link_path
    )
}

async fn read_kind(
    client: &GraphClient,
    kind: &'static KindSpec,
    tx: &mpsc::UnboundedSender<Event>,
) -> Result<Vec<Object>, ReadError> {
    let name = kind.kind.as_str();
    // A closed channel only means nobody watches progress any more.
    let _ = tx.send(Event::Started(name));
    if kind.singleton {
        let raw = client
            .get(&kind.path)
            .await
            .map_err(|e| read_error(kind, e))?;
        let object = normalize(kind, &raw, BTreeMap::new())?;
        let _ = tx.send(Event::Read(name, 1));
        let _ = tx.send(Event::Finished(name, 1));
        return Ok(vec![object]);
    }
    let path = collection_path(kind, &extensions::names(client, kind).await?);
    let mut objects = Vec::new();
    let mut failed: Option<ReadError> = None;
    let mut cut = Vec::new();
    // Each page is normalized as it arrives, so raw pages never outlive their callback.
    let paged = client
        .get_pages(&path, |items| {
            for raw in items {
                match normalize_expanded(kind, raw, &mut cut) {
                    Ok(o) => objects.push(o),
                    Err(e) => {
                        failed = Some(e);
                        return Err(GraphError::Stopped);
                    }
                }
            }
            let _ = tx.send(Event::Read(name, objects.len()));
            Ok(())
        })
        .await;
    match (paged, failed) {
        (_, Some(e)) => return Err(e),
        (Err(e), None) => return Err(read_error(kind, e)),
        (Ok(()), None) => {}
    }
    for id in read_links_where(client, kind, &mut objects, &|l| l.read == LinkRead::Batch).await? {
        let _ = tx.send(Event::Vanished(name, id));
    }
    for id in
        children::read_children(client, kind, &mut objects, &|c| c.read == LinkRead::Batch).await?
    {
        let _ = tx.send(Event::Vanished(name, id));
    }
    let listed = lists::relationships(kind, |read, _| read == LinkRead::List);
    for id in lists::read_by_lists(client, kind, &mut objects, &listed).await? {
        let _ = tx.send(Event::Vanished(name, id));
    }
    for id in reread_cut(client, kind, &mut objects, &cut).await? {
        let _ = tx.send(Event::Vanished(name, id));
    }
    let _ = tx.send(Event::Finished(name, objects.len()));
    Ok(objects)
}

/// Reads again, through `$batch`, the expanded links Graph may have cut short.
async fn reread_cut(
    client: &GraphClient,
    kind: &'static KindSpec,
    objects: &mut Vec<Object>,
    cut: &[String],
) -> Result<Vec<String>, ReadError> {
    if cut.is_empty() {
        return Ok(Vec::new());
    }
    let cut: BTreeSet<&str> = cut.iter().map(String::as_str).collect();
    let (mut again, rest): (Vec<Object>, Vec<Object>) = std::mem::take(objects)
        .into_iter()
        .partition(|o| cut.contains(o.id.as_str()));
    let gone = read_links_where(client, kind, &mut again, &|l| l.read == LinkRead::Expand).await?;
    *objects = rest;
    objects.extend(again);
    objects.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(gone)
}

/// Fills the links `which` picks (the others keep what the objects have) of objects of one kind,
/// through `$batch`. An object whose link read finds it gone (404 `Request_ResourceNotFound`: deleted since the list) is
/// removed from `objects`, as if the list had not returned it; their ids are returned. Any other
/// failure fails the read.
pub async fn read_links_where(
    client: &GraphClient,
    kind: &'static KindSpec,
    objects: &mut Vec<Object>,
    which: &(dyn Fn(&crate::schema::LinkSpec) -> bool + Sync),
) -> Result<Vec<String>, ReadError> {
    let mut gone = Vec::new();
    let wanted: Vec<&crate::schema::LinkSpec> = kind.links.iter().filter(|l| which(l)).collect();
    if wanted.is_empty() {
        return Ok(gone);
    }
    for round in objects.chunks_mut(LINK_ROUND_OBJECTS) {
        let paths: Vec<String> = round
            .iter()
            .flat_map(|o| wanted.iter().map(|l| link_path(kind, &o.id, &l.path)))
            .collect();
        let results = client
            .batch_get_each(&paths, &GraphError::is_resource_not_found)
            .await
            .map_err(|e| read_error(kind, e))?;
        let mut results = results.into_iter().zip(paths);
        for object in round.iter_mut() {
            let mut links = std::mem::take(&mut object.links);
            let mut deleted = false;
            for link in &wanted {
                let (items, path) = results
                    .next()
                    .expect("batch_get_each answers every path it is given");
                let Ok(items) = items else {
                    deleted = true;
                    continue;
                };
                let refs = items
                    .into_iter()
                    .map(|item| link_ref(item).ok_or_else(|| path.clone()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|path| {
                        read_error(
                            kind,
                            GraphError::InvalidResponse {
                                method: "GET",
                                path,
                                detail: "a linked object without an id".into(),
                            },
                        )
                    })?;
                links.insert(link.name.clone(), refs);
            }
            if deleted {
                gone.push(object.id.clone());
                continue;
            }
            // The properties were normalized with the page; the links get the same order.
            object.links = crate::normalize::canonical_links(kind, links);
        }
    }
    if !gone.is_empty() {
        let ids: BTreeSet<&str> = gone.iter().map(String::as_str).collect();
        objects.retain(|o| !ids.contains(o.id.as_str()));
    }
    Ok(gone)
}

pub(crate) fn link_ref(item: Value) -> Option<LinkRef> {
    let id = item.get("id")?.as_str()?.to_string();
    let name = item
        .get("displayName")
        .and_then(Value::as_str)
        .map(str::to_string);
    Some(LinkRef::new(id, name))
}

/// An object in the recycle bin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedItem {
    pub key: ObjectKey,
    pub display_name: String,
    /// `deletedDateTime` as Graph gives it.
    pub deleted_at: Option<String>,
    /// Deleted + 30 days, RFC 3339 (UTC).
    pub restorable_until: Option<String>,
}

/// The recycle bin (`directory/deletedItems/microsoft.graph.{type}`) for the soft-deleted kinds
/// among `kinds`, sorted by key.
pub async fn read_deleted(
    client: &GraphClient,
    kinds: &[&'static KindSpec],
) -> Result<Vec<DeletedItem>, ReadError> {
    let mut out = Vec::new();
    for &kind in kinds.iter().filter(|k| k.soft_delete) {
        let cast = kind.graph_type.trim_start_matches('#');
        let mut select = vec!["id", "displayName", "deletedDateTime"];
        if !select.contains(&kind.name_property.as_str()) {
            select.push(&kind.name_property);
        }
        let path = format!(
            "directory/deletedItems/{cast}?$select={}&$top=999",
            select.join(",")
        );
        let items = client
            .get_all(&path)
            .await
            .map_err(|e| read_error(kind, e))?;
        for item in items {
            let Some(id) = item.get("id").and_then(Value::as_str) else {
                return Err(read_error(
                    kind,
                    GraphError::InvalidResponse {
                        method: "GET",
                        path,
                        detail: "a deleted item without an id".into(),
                    },
                ));
            };
            let text = |p: &str| {
                item.get(p)
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
            };
            let deleted_at = text("deletedDateTime");
            let restorable_until = deleted_at.as_deref().and_then(|d| {
                let at = chrono::DateTime::parse_from_rfc3339(d).ok()?;
                let until =
                    at.with_timezone(&chrono::Utc) + chrono::Duration::days(RECYCLE_BIN_DAYS);
                Some(until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            });
            out.push(DeletedItem {
                key: ObjectKey {
                    kind: kind.into(),
                    id: id.to_string(),
                },
                display_name: text("displayName")
                    .or_else(|| text(&kind.name_property))
                    .unwrap_or_else(|| id.to_string()),
                deleted_at,
                restorable_until,
            });
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// Reads the given objects by id, through `$batch` (restore, and objects new to an incremental
/// snapshot). Objects Graph does not have (404) are simply missing from the result; any other
/// failure fails the read.
pub async fn read_objects(client: &GraphClient, keys: &[ObjectKey]) -> Result<Snapshot, ReadError> {
    let mut by_kind: BTreeMap<&'static str, (&'static KindSpec, BTreeSet<&str>)> = BTreeMap::new();
    for key in keys {
        let kind = key.kind.spec();
        by_kind
            .entry(kind.kind.as_str())
            .or_insert((kind, BTreeSet::new()))
            .1
            .insert(&key.id);
    }
    let mut snapshot = Snapshot::default();
    for (_, (kind, ids)) in by_kind {
        for o in read_by_id(client, kind, ids.into_iter()).await? {
            snapshot.insert(o);
        }
    }
    Ok(snapshot)
}

/// Objects of one kind by id, with their links, sorted by id; those Graph does not have are
/// missing.
pub async fn read_by_id(
    client: &GraphClient,
    kind: &'static KindSpec,
    ids: impl Iterator<Item = &str>,
) -> Result<Vec<Object>, ReadError> {
    let select = kind.select_list_with(&extensions::names(client, kind).await?);
    let paths: Vec<String> = ids
        .map(|id| {
            if kind.singleton {
                kind.path.clone()
            } else {
                let mut query = Vec::new();
                if kind.select {
                    query.push(format!("$select={select}"));
                }
                query.extend(expand_query(kind));
                if query.is_empty() {
                    format!("{}/{}", kind.path, id)
                } else {
                    format!("{}/{}?{}", kind.path, id, query.join("&"))
                }
            }
        })
        .collect();
    let answers = client
        .batch_get_objects(&paths, &|e| e.status() == Some(404))
        .await
        .map_err(|e| read_error(kind, e))?;
    let mut objects = Vec::new();
    let mut cut = Vec::new();
    for raw in answers.into_iter().flatten() {
        objects.push(normalize_expanded(kind, raw, &mut cut)?);
    }
    objects.sort_by(|a, b| a.id.cmp(&b.id));
    // Objects deleted since their read are missing, like those Graph answered 404 for.
    read_links_where(client, kind, &mut objects, &|l| l.read != LinkRead::Expand).await?;
    children::read_children(client, kind, &mut objects, &|c| c.read != LinkRead::Expand).await?;
    reread_cut(client, kind, &mut objects, &cut).await?;
    Ok(objects)
}

#[cfg(test)]
mod tests;
