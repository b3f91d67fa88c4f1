//! Reads the live tenant through Graph into a [`Snapshot`]: every kind's collection (or
//! singleton) with `$select` from its schema and `$top=999`, each object's links through
//! `$batch`, then normalization. Kinds are read concurrently. A read either returns every object
//! of every kind asked for or fails naming the kind and the request — a failed read is never
//! mistaken for absent objects. Also reads the recycle bin (`directory/deletedItems`) and
//! re-reads chosen objects after a restore.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::graph::{GraphClient, GraphError};
use crate::model::{LinkRef, Object, ObjectKey, Snapshot};
use crate::normalize::{normalize, NormalizeError};
use crate::schema::KindSpec;

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
}

/// Every object of the given kinds, with links.
pub async fn read_tenant(
    client: &GraphClient,
    kinds: &[&'static KindSpec],
    progress: &dyn ReadProgress,
) -> Result<Snapshot, crate::Error> {
    // Kinds run as tasks (real parallelism for normalization); their progress comes back over
    // a channel because `progress` is borrowed and cannot move into a task.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut tasks = JoinSet::new();
    for &kind in kinds {
        let client = client.clone();
        let tx = tx.clone();
        tasks.spawn(async move { read_kind(&client, kind, &tx).await });
    }
    drop(tx);
    let forward = |event: Event| match event {
        Event::Started(k) => progress.started(k),
        Event::Read(k, n) => progress.read(k, n),
        Event::Finished(k, n) => progress.finished(k, n),
    };
    let mut snapshot = Snapshot::default();
    loop {
        tokio::select! {
            // Events first, so that a kind's progress is reported before its result is taken.
            biased;
            Some(event) = rx.recv() => forward(event),
            joined = tasks.join_next() => match joined {
                None => break,
                // Returning drops the other tasks, which aborts their reads.
                Some(result) => {
                    for object in join_result(result)? {
                        snapshot.insert(object);
                    }
                }
            },
        }
    }
    while let Ok(event) = rx.try_recv() {
        forward(event);
    }
    Ok(snapshot)
}

fn join_result<T>(
    result: Result<Result<T, crate::Error>, tokio::task::JoinError>,
) -> Result<T, crate::Error> {
    match result {
        Ok(r) => r,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(crate::Error::config(
            format!("a read task was cancelled: {e}"),
            "run again",
        )),
    }
}

fn read_error(kind: &KindSpec, error: GraphError) -> crate::Error {
    crate::Error::Graph(GraphError::Read {
        kind: kind.kind.clone(),
        source: Box::new(error),
    })
}

/// The collection read of a kind: `$select` of the managed properties, pages of 999.
pub fn collection_path(kind: &KindSpec) -> String {
    if kind.select {
        format!("{}?$select={}&$top=999", kind.path, kind.select_list())
    } else {
        format!("{}?$top=999", kind.path)
    }
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
) -> Result<Vec<Object>, crate::Error> {
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
    let mut objects = Vec::new();
    let mut failed: Option<NormalizeError> = None;
    // Each page is normalized as it arrives, so raw pages never outlive their callback.
    let paged = client
        .get_pages(&collection_path(kind), |items| {
            for raw in items {
                match normalize(kind, &raw, BTreeMap::new()) {
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
        (_, Some(e)) => return Err(e.into()),
        (Err(e), None) => return Err(read_error(kind, e)),
        (Ok(()), None) => {}
    }
    read_links(client, kind, &mut objects).await?;
    let _ = tx.send(Event::Finished(name, objects.len()));
    Ok(objects)
}

/// Fills the links of objects of one kind (read with empty links) through `$batch`.
async fn read_links(
    client: &GraphClient,
    kind: &'static KindSpec,
    objects: &mut [Object],
) -> Result<(), crate::Error> {
    if kind.links.is_empty() {
        return Ok(());
    }
    for round in objects.chunks_mut(LINK_ROUND_OBJECTS) {
        let paths: Vec<String> = round
            .iter()
            .flat_map(|o| kind.links.iter().map(|l| link_path(kind, &o.id, &l.path)))
            .collect();
        let results = client
            .batch_get_all(&paths)
            .await
            .map_err(|e| read_error(kind, e))?;
        let mut results = results.into_iter().zip(paths);
        for object in round.iter_mut() {
            let mut links = BTreeMap::new();
            for link in &kind.links {
                let (items, path) = results
                    .next()
                    .expect("batch_get_all answers every path it is given");
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
            // The properties were normalized with the page; the links get the same order.
            object.links = crate::normalize::canonical_links(kind, links);
        }
    }
    Ok(())
}

fn link_ref(item: Value) -> Option<LinkRef> {
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
) -> Result<Vec<DeletedItem>, crate::Error> {
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
                    kind: kind.kind.as_str(),
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

/// Reads the given objects again (restore verification). Objects Graph does not have (404) are
/// simply missing from the result; any other failure fails the read.
pub async fn read_objects(
    client: &GraphClient,
    keys: &[ObjectKey],
) -> Result<Snapshot, crate::Error> {
    let keys: BTreeSet<&ObjectKey> = keys.iter().collect();
    let mut tasks = JoinSet::new();
    for key in keys {
        let kind = crate::schema::kind(key.kind).ok_or_else(|| {
            crate::Error::usage(
                format!("unknown kind {:?}", key.kind),
                format!("known kinds: {}", crate::schema::kind_names().join(", ")),
            )
        })?;
        let client = client.clone();
        let id = key.id.clone();
        tasks.spawn(async move {
            let path = if kind.singleton {
                kind.path.clone()
            } else if kind.select {
                format!("{}/{}?$select={}", kind.path, id, kind.select_list())
            } else {
                format!("{}/{}", kind.path, id)
            };
            match client.get(&path).await {
                Ok(raw) => Ok(Some((kind, normalize(kind, &raw, BTreeMap::new())?))),
                Err(e) if e.status() == Some(404) => Ok(None),
                Err(e) => Err(read_error(kind, e)),
            }
        });
    }
    let mut by_kind: BTreeMap<&'static str, (&'static KindSpec, Vec<Object>)> = BTreeMap::new();
    while let Some(result) = tasks.join_next().await {
        if let Some((kind, object)) = join_result(result)? {
            by_kind
                .entry(kind.kind.as_str())
                .or_insert((kind, Vec::new()))
                .1
                .push(object);
        }
    }
    let mut snapshot = Snapshot::default();
    for (_, (kind, mut objects)) in by_kind {
        objects.sort_by(|a, b| a.id.cmp(&b.id));
        read_links(client, kind, &mut objects).await?;
        for o in objects {
            snapshot.insert(o);
        }
    }
    Ok(snapshot)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::graph::test_server::{start, token_counter, Call, FakeGraph, Reply};
    use crate::graph::{Credential, GraphSettings, RetryTiming, Secret};
    use crate::schema;

    fn sample(name: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/graph-samples")
            .join(name);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).unwrap()
    }

    fn client(server: &FakeGraph) -> GraphClient {
        let settings = GraphSettings {
            graph_url: server.url.clone(),
            authority_host: server.url.clone(),
            tenant_id: "t".into(),
            client_id: "c".into(),
            credential: Credential::ClientSecret(Secret::new("s")),
            concurrency: 4,
            max_retries: 2,
        };
        let timing = RetryTiming {
            backoff_base: Duration::from_millis(1),
            backoff_max: Duration::from_millis(5),
            retry_after_max: Duration::from_secs(1),
            throttle_budget: Duration::from_millis(50),
        };
        GraphClient::with_timing(settings, timing).unwrap()
    }

    fn kinds(names: &[&str]) -> Vec<&'static KindSpec> {
        names.iter().map(|n| schema::kind(n).unwrap()).collect()
    }

    fn ids(list: &Value) -> Vec<String> {
        list["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["id"].as_str().unwrap().to_string())
            .collect()
    }

    const SECOND_GROUP_MEMBERS: &str = r##"{"value": [
        {"@odata.type": "#microsoft.graph.user", "id": "b-user", "displayName": "Bea"},
        {"@odata.type": "#microsoft.graph.group", "id": "a-group", "displayName": "Nested"}]}"##;

    /// Serves the Graph doc samples: users, groups (first group's members from the members
    /// sample, the second group with two members), CA policies, the authorization policy.
    fn sample_tenant(c: &Call) -> Reply {
        let groups = sample("group-list-response.json");
        let group_ids = ids(&groups);
        match c.path.as_str() {
            "users" => Reply::json(sample("users-list-response.json")),
            "groups" => Reply::json(groups),
            "identity/conditionalAccess/policies" => {
                Reply::json(sample("conditionalaccess-policy-list-response.json"))
            }
            "policies/authorizationPolicy" => Reply::json(json!({
                "id": "authorizationPolicy", "displayName": "Authorization Policy",
                "allowInvitesFrom": "everyone", "blockMsolPowerShell": false})),
            p if p == format!("groups/{}/members", group_ids[0]) => {
                Reply::json(sample("group-members-list-response.json"))
            }
            p if p == format!("groups/{}/members", group_ids[1]) => {
                Reply::json(serde_json::from_str(SECOND_GROUP_MEMBERS).unwrap())
            }
            p if p.starts_with("groups/") && p.ends_with("/owners") => {
                Reply::json(json!({"value": []}))
            }
            _ => Reply::graph_error(404, "Request_ResourceNotFound", "no such resource"),
        }
    }

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl ReadProgress for Recorder {
        fn started(&self, kind: &str) {
            self.0.lock().unwrap().push(format!("started {kind}"));
        }
        fn read(&self, _kind: &str, _objects: usize) {}
        fn finished(&self, kind: &str, objects: usize) {
            self.0
                .lock()
                .unwrap()
                .push(format!("finished {kind} {objects}"));
        }
    }

    #[tokio::test]
    async fn reads_the_sample_tenant_into_a_snapshot() {
        let server = start(sample_tenant, token_counter()).await;
        let kinds = kinds(&[
            "users",
            "groups",
            "conditionalAccessPolicies",
            "authorizationPolicy",
        ]);
        let progress = Recorder::default();
        let snapshot = read_tenant(&client(&server), &kinds, &progress)
            .await
            .unwrap();

        let users = sample("users-list-response.json");
        let groups = sample("group-list-response.json");
        let policies = sample("conditionalaccess-policy-list-response.json");
        assert_eq!(
            snapshot.len(),
            ids(&users).len() + ids(&groups).len() + ids(&policies).len() + 1
        );
        let users_kind = schema::kind("users").unwrap();
        for raw in users["value"].as_array().unwrap() {
            let key = ObjectKey {
                kind: "users",
                id: raw["id"].as_str().unwrap().into(),
            };
            let got = snapshot.get(&key).expect("every sample user is read");
            let want = normalize(users_kind, raw, BTreeMap::new()).unwrap();
            assert_eq!(got.props, want.props);
        }
        let group_ids = ids(&groups);
        let first = snapshot
            .get(&ObjectKey {
                kind: "groups",
                id: group_ids[0].clone(),
            })
            .unwrap();
        let member_ids = ids(&sample("group-members-list-response.json"));
        assert_eq!(first.link_ids("members").collect::<Vec<_>>(), member_ids);
        assert_eq!(first.link_ids("owners").count(), 0);
        let second = snapshot
            .get(&ObjectKey {
                kind: "groups",
                id: group_ids[1].clone(),
            })
            .unwrap();
        let members = &second.links["members"];
        assert_eq!(
            members
                .iter()
                .map(|l| (l.id.as_str(), l.display_name.as_deref()))
                .collect::<Vec<_>>(),
            [("a-group", Some("Nested")), ("b-user", Some("Bea"))],
            "sorted by id, display names kept"
        );
        assert!(snapshot
            .get(&ObjectKey {
                kind: "authorizationPolicy",
                id: "authorizationPolicy".into()
            })
            .is_some());

        let user_reads = server.calls_to("users");
        assert_eq!(user_reads.len(), 1);
        assert_eq!(user_reads[0].query["$select"], users_kind.select_list());
        assert_eq!(user_reads[0].query["$top"], "999");
        let member_reads = server.calls_to(&format!("groups/{}/members", group_ids[0]));
        assert!(member_reads[0].in_batch);
        assert_eq!(member_reads[0].query["$select"], "id,displayName");
        assert!(!server.calls_to("policies/authorizationPolicy")[0]
            .query
            .contains_key("$select"));

        let events = progress.0.lock().unwrap().clone();
        for kind in &kinds {
            let n = snapshot.of_kind(&kind.kind).count();
            let started = events
                .iter()
                .position(|e| *e == format!("started {}", kind.kind));
            let finished = events
                .iter()
                .position(|e| *e == format!("finished {} {n}", kind.kind));
            assert!(started.is_some() && started < finished, "{events:?}");
        }
    }

    #[tokio::test]
    async fn a_persistent_5xx_fails_the_read_naming_kind_and_request() {
        let server = start(
            |c: &Call| match c.path.as_str() {
                "groups" => Reply::graph_error(503, "serviceNotAvailable", "try later"),
                _ => sample_tenant(c),
            },
            token_counter(),
        )
        .await;
        let err = read_tenant(&client(&server), &kinds(&["users", "groups"]), &NoProgress)
            .await
            .unwrap_err();
        let crate::Error::Graph(GraphError::Read { kind, source }) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(kind, "groups");
        assert!(
            matches!(**source, GraphError::RetriesExhausted { ref path, .. } if path.starts_with("groups?$select="))
        );
        assert_eq!(server.calls_to("groups").len(), 3);
        assert!(err.to_string().contains("groups"));
        assert!(err.hint().is_some());

        // A failure reading links fails the whole read too.
        let server = start(
            |c: &Call| match c.path.as_str() {
                p if p.ends_with("/owners") => Reply::graph_error(500, "generalException", "boom"),
                _ => sample_tenant(c),
            },
            token_counter(),
        )
        .await;
        let err = read_tenant(&client(&server), &kinds(&["groups"]), &NoProgress)
            .await
            .unwrap_err();
        let crate::Error::Graph(GraphError::Read { kind, source }) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(kind, "groups");
        assert!(
            matches!(**source, GraphError::RetriesExhausted { ref path, .. } if path.contains("/owners")),
            "{source:?}"
        );
    }

    #[tokio::test]
    async fn unknown_odata_type_is_a_normalize_error() {
        let server = start(
            |c: &Call| match c.path.as_str() {
                "identity/conditionalAccess/namedLocations" => Reply::json(json!({"value": [
                    {"id": "n1", "@odata.type": "#microsoft.graph.fancyLocation"}]})),
                _ => sample_tenant(c),
            },
            token_counter(),
        )
        .await;
        let err = read_tenant(&client(&server), &kinds(&["namedLocations"]), &NoProgress)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                crate::Error::Normalize(NormalizeError::UnknownType { .. })
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn recycle_bin_items_carry_their_restore_deadline() {
        let server = start(
            |c: &Call| match c.path.as_str() {
                "directory/deletedItems/microsoft.graph.group" => {
                    Reply::json(sample("deleteditems-list-count-response.json"))
                }
                p if p.starts_with("directory/deletedItems/") => Reply::json(json!({"value": []})),
                _ => Reply::graph_error(404, "Request_ResourceNotFound", "no"),
            },
            token_counter(),
        )
        .await;
        let items = read_deleted(
            &client(&server),
            &kinds(&["users", "groups", "conditionalAccessPolicies"]),
        )
        .await
        .unwrap();
        let sample_ids = ids(&sample("deleteditems-list-count-response.json"));
        let mut sorted = sample_ids.clone();
        sorted.sort();
        assert_eq!(
            items.iter().map(|i| i.key.id.clone()).collect::<Vec<_>>(),
            sorted
        );
        let first = items.iter().find(|i| i.key.id == sample_ids[0]).unwrap();
        assert_eq!(first.key.kind, "groups");
        assert_eq!(first.display_name, "Role assignable group");
        assert_eq!(first.deleted_at.as_deref(), Some("2021-10-26T16:56:36Z"));
        assert_eq!(
            first.restorable_until.as_deref(),
            Some("2021-11-25T16:56:36Z")
        );
        // Only soft-deleted kinds are asked for, each with its OData cast.
        let mut paths: Vec<String> = server
            .calls()
            .into_iter()
            .map(|c| c.path)
            .filter(|p| p != "token")
            .collect();
        paths.sort();
        assert_eq!(
            paths,
            [
                "directory/deletedItems/microsoft.graph.group",
                "directory/deletedItems/microsoft.graph.user"
            ]
        );
    }

    #[tokio::test]
    async fn read_objects_skips_missing_objects_and_reads_links() {
        let user = sample("user-get-response.json");
        let user_id = user["id"].as_str().unwrap().to_string();
        let group_id = ids(&sample("group-list-response.json"))[1].clone();
        let (u, g) = (user_id.clone(), group_id.clone());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let r = requests.clone();
        let server = start(
            move |c: &Call| {
                r.lock().unwrap().push(c.path.clone());
                if c.path == format!("users/{u}") {
                    Reply::json(user.clone())
                } else if c.path == format!("groups/{g}") {
                    Reply::json(json!({"id": g, "displayName": "Golf Discussion"}))
                } else {
                    sample_tenant(c)
                }
            },
            token_counter(),
        )
        .await;
        let keys = [
            ObjectKey {
                kind: "users",
                id: user_id.clone(),
            },
            ObjectKey {
                kind: "users",
                id: "gone".into(),
            },
            ObjectKey {
                kind: "groups",
                id: group_id.clone(),
            },
            ObjectKey {
                kind: "users",
                id: user_id.clone(),
            },
        ];
        let snapshot = read_objects(&client(&server), &keys).await.unwrap();
        assert_eq!(snapshot.len(), 2);
        let group = snapshot.get(&keys[2]).unwrap();
        assert_eq!(
            group.link_ids("members").collect::<Vec<_>>(),
            ["a-group", "b-user"]
        );
        assert!(snapshot.get(&keys[0]).is_some() && snapshot.get(&keys[1]).is_none());
        assert_eq!(
            server.calls_to(&format!("users/{user_id}")).len(),
            1,
            "duplicate keys read once"
        );
    }
}
