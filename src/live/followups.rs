//! What delta rounds do not report, read afterwards: link ends named as a full read names them,
//! renamed objects followed into the files that name them, and objects that name one that left
//! or link to one that arrived read again.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

use git2::Oid;
use serde_json::{json, Value};

use crate::error::Error;
use crate::graph::{GraphClient, GraphError};
use crate::layout;
use crate::model::{LinkRef, Object};
use crate::read::{self};
use crate::schema::KindSpec;
use crate::store::Store;
use crate::yaml;

use super::ids::{IdMap, IdSet};
use super::Live;

/// `directoryObjects/getByIds` takes at most this many ids.
pub(super) const GET_BY_IDS: usize = 1000;

/// What the rounds of a run leave for later passes, once every kind is assembled.
#[derive(Default)]
pub(super) struct Followups {
    /// Link ends added this round: named afterwards (with every end of the kinds read in full,
    /// see [`super::LiveKind::unnamed_ends`]).
    pub(super) unnamed: IdSet,
    /// Objects renamed this round, with their new name: files naming them are written again.
    pub(super) renamed: HashMap<String, (&'static KindSpec, Option<String>)>,
    /// Objects that left the tenant this round. Graph keeps a soft-deleted object's memberships
    /// (hidden from member lists) and reports nothing about them in delta, and it does not
    /// report untracked links at all: files that name it are read again.
    pub(super) left: Vec<(String, &'static KindSpec)>,
    /// Objects new to the snapshot (created, or restored with their memberships, which delta
    /// does not report either): the objects that link to them are read again.
    pub(super) arrived: Vec<(String, &'static KindSpec)>,
}

/// Parses the file of an object in the base snapshot.
pub(super) fn parse_file(
    store: &Store,
    kind: &'static KindSpec,
    path: &str,
    oid: Oid,
) -> Result<Object, Error> {
    let bytes = store.read_blob(oid)?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(yaml::parse_object(kind, Path::new(path), &text)?)
}

/// An object's links by name, as in [`Object::links`].
type Links = BTreeMap<String, Vec<LinkRef>>;

/// Names by object id, the names in one buffer: the ends of a large tenant look up a million
/// names, and this keeps them within a few megabytes.
#[derive(Default)]
struct NameBook {
    at: IdMap<Option<std::ops::Range<usize>>>,
    text: String,
}

impl NameBook {
    fn add(&mut self, id: &str, name: Option<&str>) {
        let range = name.map(|n| {
            self.text.push_str(n);
            self.text.len() - n.len()..self.text.len()
        });
        self.at.insert(id, range);
    }

    /// `None`: not known; `Some(None)`: known, without a name.
    fn get(&self, id: &str) -> Option<Option<&str>> {
        let range = self.at.get(id)?;
        Some(range.clone().map(|r| &self.text[r]))
    }
}

/// Names link ends as a full read would: every end of a kind read in full this run (an initial
/// round names none), and the ends in `unnamed` (added this round) of the other kinds. Names
/// come from the objects of this run, else from `directoryObjects/getByIds`; an end Graph does
/// not resolve is dropped.
pub(super) async fn name_ends(
    client: &GraphClient,
    live: &mut Live,
    unnamed: &IdSet,
) -> Result<(), Error> {
    let tracked: Vec<Vec<String>> = live
        .kinds
        .iter()
        .map(|k| {
            let delta = k.kind.links.iter().filter(|l| l.delta);
            delta.map(|l| l.name.clone()).collect()
        })
        .collect();
    let whole = |k: &super::LiveKind, tracked: &[String]| k.unnamed_ends && !tracked.is_empty();
    let any_whole = live.kinds.iter().zip(&tracked).any(|(k, t)| whole(k, t));
    if unnamed.is_empty() && !any_whole {
        return Ok(());
    }
    let mut names = NameBook::default();
    for k in &live.kinds {
        for o in &k.objects {
            if any_whole || unnamed.contains(&o.id) {
                names.add(&o.id, o.end_name().as_deref());
            }
        }
        for f in &k.frozen {
            if any_whole || unnamed.contains(&f.id) {
                names.add(&f.id, f.display_name.as_deref());
            }
        }
    }
    let missing: Vec<String> = unnamed.ids().filter(|id| names.get(id).is_none()).collect();
    read_names(client, &missing, &mut names).await?;
    // One lookup per end (1.2M in the 100k benchmark tenant), on all cores. Ends of a whole
    // kind that no object of the run names are named afterwards.
    let mut work: Vec<(&[String], bool, &mut Links, Vec<String>)> = Vec::new();
    for (k, tracked) in live.kinds.iter_mut().zip(&tracked) {
        let all = whole(k, tracked);
        let links = k.objects.iter_mut().map(|o| &mut o.links);
        for links in links.chain(k.frozen.iter_mut().map(|f| &mut f.links)) {
            work.push((tracked, all, links, Vec::new()));
        }
    }
    crate::parallel::each_mut(&mut work, 1024, |(tracked, all, links, unknown)| {
        for name in tracked.iter() {
            let Some(ends) = links.get_mut(name) else {
                continue;
            };
            ends.retain_mut(|end| match names.get(&end.id) {
                Some(name) => {
                    set_name(&mut end.display_name, name);
                    true
                }
                None if *all => {
                    unknown.push(end.id.clone());
                    true
                }
                // An end Graph does not resolve is not live: an initial round still lists
                // soft-deleted members, which member lists (and so a full read) leave out.
                None => !unnamed.contains(&end.id),
            });
        }
    });
    let mut unknown = IdSet::default();
    for (_, _, _, ids) in &work {
        unknown.extend(ids);
    }
    if unknown.is_empty() {
        return Ok(());
    }
    let missing: Vec<String> = unknown.ids().collect();
    read_names(client, &missing, &mut names).await?;
    for (tracked, _, links, ids) in &mut work {
        if ids.is_empty() {
            continue;
        }
        for name in tracked.iter() {
            let Some(ends) = links.get_mut(name) else {
                continue;
            };
            ends.retain_mut(|end| {
                if !unknown.contains(&end.id) {
                    return true;
                }
                match names.get(&end.id) {
                    Some(name) => {
                        set_name(&mut end.display_name, name);
                        true
                    }
                    None => false,
                }
            });
        }
    }
    Ok(())
}

/// The names of objects by id, through `directoryObjects/getByIds`; an id Graph does not
/// resolve is left out.
async fn read_names(
    client: &GraphClient,
    ids: &[String],
    names: &mut NameBook,
) -> Result<(), Error> {
    for chunk in ids.chunks(GET_BY_IDS) {
        let body = json!({ "ids": chunk });
        let answer = client.post_read("directoryObjects/getByIds", &body).await?;
        for item in answer
            .get("value")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(id) = item.get("id").and_then(Value::as_str) {
                names.add(id, item.get("displayName").and_then(Value::as_str));
            }
        }
    }
    Ok(())
}

/// Sets an end's name, reusing its buffer.
fn set_name(slot: &mut Option<String>, name: Option<&str>) {
    match (slot.as_mut(), name) {
        (Some(old), Some(new)) => {
            old.clear();
            old.push_str(new);
        }
        (None, Some(new)) => *slot = Some(new.to_string()),
        (_, None) => *slot = None,
    }
}

/// Objects renamed this round are named in other objects' links: in changed objects the name
/// is set; kept files that name them are found through the reverse navigation of each link
/// (`memberOf`, `ownedObjects`, …) and written again.
pub(super) async fn follow_renames(
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
    let ends = renamed.iter().map(|(id, (kind, _))| (id.as_str(), *kind));
    let referrers = linking_to(client, live, ends).await?;
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
pub(super) async fn reread_referrers(
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
    let ends = follow.arrived.iter().map(|(id, kind)| (id.as_str(), *kind));
    for (t, ids) in linking_to(client, live, ends).await? {
        if let Some(k) = live
            .kinds
            .iter()
            .find(|k| k.incremental && k.kind.graph_type.trim_start_matches('#') == t)
        {
            referrers
                .entry(k.kind.kind.clone())
                .or_default()
                .extend(ids.iter().map(|id| layout::safe_component(id)));
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

/// The objects of incrementally read kinds that link to any of `ends` (id and kind), found
/// through each link's reverse navigation (`memberOf`, `ownedObjects`, …): their ids by Graph
/// type (without `#`).
async fn linking_to<'a>(
    client: &GraphClient,
    live: &Live,
    ends: impl Iterator<Item = (&'a str, &'static KindSpec)>,
) -> Result<HashMap<String, HashSet<String>>, Error> {
    let ends: Vec<(&str, &'static KindSpec)> = ends.collect();
    let mut paths: BTreeSet<String> = BTreeSet::new();
    for k in live.kinds.iter().filter(|k| k.incremental) {
        for link in &k.kind.links {
            let Some(reverse) = &link.reverse else {
                continue;
            };
            for (id, end_kind) in &ends {
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
    Ok(referrers)
}
