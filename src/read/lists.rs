//! Relationships read by lists of their own: `GET {collection}?$select=id&$expand={path}…`,
//! one request per page of objects instead of one per object. A delta page carries no
//! expansion, so an initial round reads the owners and children of every object this way: for
//! 5,000 applications that is 50 requests instead of 5,000.
//!
//! Graph returns at most 20 ends of an expanded relationship and no nextLink
//! (concepts/query-parameters.md), so an object listed with 20 or more is read again on its
//! own, and so is an object the list did not return (created or deleted since the round; a
//! deleted one is then found gone and reported).

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::children::read_children;
use super::{link_ref, read_error, read_links_where, ReadError, EXPAND_LIMIT};
use crate::graph::{GraphClient, GraphError};
use crate::model::{LinkRef, Object};
use crate::normalize::{canonical_children, canonical_links};
use crate::schema::{ChildSpec, KindSpec, LinkRead, LinkSpec};

/// One relationship of a kind read by a list.
#[derive(Clone, Copy)]
pub enum Relationship<'a> {
    Link(&'a LinkSpec),
    Child(&'a ChildSpec),
}

impl Relationship<'_> {
    fn name(&self) -> &str {
        match self {
            Relationship::Link(l) => &l.name,
            Relationship::Child(c) => &c.name,
        }
    }

    /// The list's path: ids only, the relationship expanded (references with id and name).
    fn list_path(&self, kind: &KindSpec) -> String {
        let expand = match self {
            Relationship::Link(l) => format!("{}($select=id,displayName)", l.path),
            Relationship::Child(c) => c.path.clone(),
        };
        format!("{}?$select=id&$expand={expand}&$top=999", kind.path)
    }
}

/// The relationships of `kind` that `pick` chooses by how a full read gets them and whether
/// delta tracks them (children: never).
pub fn relationships(
    kind: &KindSpec,
    pick: impl Fn(LinkRead, bool) -> bool,
) -> Vec<Relationship<'_>> {
    let links = kind
        .links
        .iter()
        .filter(|l| pick(l.read, l.delta))
        .map(Relationship::Link);
    let children = kind
        .children
        .iter()
        .filter(|c| pick(c.read, false))
        .map(Relationship::Child);
    links.chain(children).collect()
}

/// What a delta round does not carry, read for every object of an initial round: by lists
/// where Graph expands the relationship, per object where it does not. Objects found gone are
/// removed; their ids are returned.
pub async fn read_untracked_of_all(
    client: &GraphClient,
    kind: &'static KindSpec,
    objects: &mut Vec<Object>,
) -> Result<Vec<String>, ReadError> {
    let mut gone = read_links_where(client, kind, objects, &|l| {
        !l.delta && l.read == LinkRead::Batch
    })
    .await?;
    gone.extend(read_children(client, kind, objects, &|c| c.read == LinkRead::Batch).await?);
    let listed = relationships(kind, |read, delta| !delta && read != LinkRead::Batch);
    gone.extend(read_by_lists(client, kind, objects, &listed).await?);
    Ok(gone)
}

/// What a list gave for one object.
enum Listed {
    Ends(Vec<LinkRef>),
    Children(Value),
}

/// Fills `relationships` of `objects` from one list each; objects a list could not answer
/// for are read on their own through `$batch`. Objects found gone are removed; their ids are
/// returned.
pub async fn read_by_lists(
    client: &GraphClient,
    kind: &'static KindSpec,
    objects: &mut Vec<Object>,
    relationships: &[Relationship<'_>],
) -> Result<Vec<String>, ReadError> {
    let mut gone = Vec::new();
    for &relationship in relationships {
        let mut listed = list(client, kind, relationship).await?;
        let mut again = BTreeSet::new();
        for object in objects.iter_mut() {
            match listed.remove(object.id.as_str()) {
                Some(Listed::Ends(ends)) => {
                    let mut links = std::mem::take(&mut object.links);
                    links.insert(relationship.name().to_string(), ends);
                    object.links = canonical_links(kind, links);
                }
                Some(Listed::Children(value)) => {
                    object.props.insert(relationship.name().to_string(), value);
                }
                None => {
                    again.insert(object.id.clone());
                }
            }
        }
        drop(listed);
        gone.extend(read_again(client, kind, objects, relationship, &again).await?);
    }
    Ok(gone)
}

/// One relationship of every object of the kind, by id; an object whose expansion may have
/// been cut short is left out (read again on its own).
async fn list(
    client: &GraphClient,
    kind: &'static KindSpec,
    relationship: Relationship<'_>,
) -> Result<HashMap<String, Listed>, ReadError> {
    let path = relationship.list_path(kind);
    let mut listed = HashMap::new();
    let mut invalid = None;
    let paged = client
        .get_pages(&path, |items| {
            for mut raw in items {
                let id = raw.get("id").and_then(Value::as_str).map(str::to_string);
                let value = raw
                    .as_object_mut()
                    .and_then(|m| m.remove(relationship.name()))
                    .unwrap_or(Value::Null);
                let items = match value {
                    Value::Null => Vec::new(),
                    Value::Array(items) => items,
                    _ => {
                        invalid = Some(format!(
                            "the expanded {} is not a list",
                            relationship.name()
                        ));
                        return Err(GraphError::Stopped);
                    }
                };
                let Some(id) = id else {
                    invalid = Some("an object without an id".to_string());
                    return Err(GraphError::Stopped);
                };
                if items.len() >= EXPAND_LIMIT {
                    continue;
                }
                let entry = match relationship {
                    Relationship::Link(_) => {
                        let Some(ends) = items.into_iter().map(link_ref).collect() else {
                            invalid =
                                Some(format!("an expanded {} without an id", relationship.name()));
                            return Err(GraphError::Stopped);
                        };
                        Listed::Ends(ends)
                    }
                    Relationship::Child(child) => {
                        Listed::Children(canonical_children(kind, child, &Value::Array(items)))
                    }
                };
                listed.insert(id, entry);
            }
            Ok(())
        })
        .await;
    match (paged, invalid) {
        (_, Some(detail)) => Err(read_error(
            kind,
            GraphError::InvalidResponse {
                method: "GET",
                path,
                detail,
            },
        )),
        (Err(e), None) => Err(read_error(kind, e)),
        (Ok(()), None) => Ok(listed),
    }
}

/// Reads `relationship` of the objects in `ids` on their own.
async fn read_again(
    client: &GraphClient,
    kind: &'static KindSpec,
    objects: &mut Vec<Object>,
    relationship: Relationship<'_>,
    ids: &BTreeSet<String>,
) -> Result<Vec<String>, ReadError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let (mut again, rest): (Vec<Object>, Vec<Object>) = std::mem::take(objects)
        .into_iter()
        .partition(|o| ids.contains(&o.id));
    let gone = match relationship {
        Relationship::Link(link) => {
            read_links_where(client, kind, &mut again, &|l| l.name == link.name).await?
        }
        Relationship::Child(child) => {
            read_children(client, kind, &mut again, &|c| c.name == child.name).await?
        }
    };
    *objects = rest;
    objects.extend(again);
    objects.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(gone)
}
