//! One delta round of one kind (GRAPH.md B.3): every page of `{collection}/delta` from a stored
//! deltaLink (or, for an initial round, from the query), merged per object, since Graph may
//! repeat an object across pages — a large group comes once per slice of its members. The result
//! says, per object, what the round reported: its properties (all selected ones in an initial
//! round, only the changed ones later), whether it was removed (and how), and the ends added to
//! and removed from each tracked link.

use std::collections::BTreeMap;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::frozen::Frozen;
use crate::graph::{DeltaItem, GraphClient, GraphError, LinkEnds};
use crate::schema::KindSpec;

use super::round::{DeltaToken, ObjectDelta, Removed, Round};
use super::{read_error, ReadError};

/// The query of a kind's initial round: its managed properties, the directory extension
/// attributes it selects (`extensions`, see `read::extensions`) and the links delta tracks.
pub fn query(kind: &KindSpec, extensions: &[String]) -> String {
    let mut select: Vec<&str> = vec!["id"];
    select.extend(kind.all_managed());
    select.extend(extensions.iter().map(String::as_str));
    select.extend(
        kind.links
            .iter()
            .filter(|l| l.delta)
            .map(|l| l.name.as_str()),
    );
    if kind.select {
        format!("{}/delta?$select={}", kind.path, select.join(","))
    } else {
        format!("{}/delta", kind.path)
    }
}

/// A short hash of a query, stored with the token.
pub fn query_hash(query: &str) -> String {
    let digest = Sha256::digest(query.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs one round: from `token` when given (changes since it), else an initial round (every
/// object; with `freeze`, each kept as the text of its properties once they are read). A token
/// Graph refuses comes back as [`ReadError::DeltaToken`].
pub async fn round(
    client: &GraphClient,
    kind: &'static KindSpec,
    token: Option<&DeltaToken>,
    now: &str,
    freeze: bool,
) -> Result<Round, ReadError> {
    let q = query(kind, &super::extensions::names(client, kind).await?);
    let (start, minimal, since) = match token {
        Some(t) => (t.link.clone(), true, t.since.clone()),
        None => (q.clone(), false, now.to_string()),
    };
    let mut objects: BTreeMap<String, ObjectDelta> = BTreeMap::new();
    let mut bad: Option<PageError> = None;
    let link = client
        .get_delta_pages(&start, minimal, |items| {
            for item in items {
                let folded = merge(kind, &mut objects, item).and_then(|id| match id {
                    Some(id) if token.is_none() => fold(kind, &id, &mut objects, freeze),
                    _ => Ok(()),
                });
                if let Err(e) = folded {
                    bad = Some(e);
                    return Err(GraphError::Stopped);
                }
            }
            Ok(())
        })
        .await;
    if let Some(e) = bad {
        return Err(e.into_read_error(kind));
    }
    let link = match link {
        Ok(link) => link,
        Err(e) if token.is_some() && e.is_delta_token_rejected() => {
            return Err(ReadError::DeltaToken {
                kind: kind.kind.clone(),
                source: Box::new(e),
            })
        }
        Err(e) => return Err(read_error(kind, e)),
    };
    Ok(Round {
        objects,
        token: DeltaToken {
            link,
            query: query_hash(&q),
            since,
        },
    })
}

/// Why a page could not be taken.
enum PageError {
    Invalid(String),
    Normalize(crate::normalize::NormalizeError),
}

impl From<String> for PageError {
    fn from(detail: String) -> Self {
        PageError::Invalid(detail)
    }
}

impl PageError {
    fn into_read_error(self, kind: &KindSpec) -> ReadError {
        match self {
            PageError::Invalid(detail) => read_error(
                kind,
                GraphError::InvalidResponse {
                    method: "GET",
                    path: format!("{}/delta", kind.path),
                    detail,
                },
            ),
            PageError::Normalize(e) => e.into(),
        }
    }
}

/// Initial rounds: the object's properties so far, normalized into `whole` (an object repeated
/// on a later page has its new properties laid over what it had), or with `freeze` into
/// `frozen` (thawed again for an object repeated with new properties, which is rare).
fn fold(
    kind: &'static KindSpec,
    id: &str,
    objects: &mut BTreeMap<String, ObjectDelta>,
    freeze: bool,
) -> Result<(), PageError> {
    let entry = objects.get_mut(id).expect("merge made the entry");
    if entry.props.is_empty() && (entry.whole.is_some() || entry.frozen.is_some()) {
        return Ok(());
    }
    let mut props = std::mem::take(&mut entry.props);
    let previous = match entry.frozen.take() {
        Some(frozen) => Some(
            frozen
                .thaw()
                .map_err(|e| PageError::Invalid(format!("{id} read back: {e}")))?,
        ),
        None => entry.whole.take(),
    };
    let whole = match previous {
        // First seen: normalized straight from what the page carried.
        None => {
            props.insert("id".into(), Value::String(id.to_string()));
            crate::normalize::normalize_owned(kind, props, BTreeMap::new())
                .map_err(PageError::Normalize)?
        }
        previous => {
            let props = ObjectDelta {
                props,
                ..ObjectDelta::default()
            };
            super::incremental::updated(kind, id, previous, &props).map_err(|e| match e {
                ReadError::Normalize(n) => PageError::Normalize(n),
                other => PageError::Invalid(other.to_string()),
            })?
        }
    };
    if freeze {
        entry.frozen = Some(Frozen::freeze(whole));
    } else {
        entry.whole = Some(whole);
    }
    Ok(())
}

/// Folds one item of a delta page into what the round knows of its object; returns its id
/// when the item carried the object (not its removal).
fn merge(
    kind: &KindSpec,
    objects: &mut BTreeMap<String, ObjectDelta>,
    item: DeltaItem,
) -> Result<Option<String>, PageError> {
    let DeltaItem::Object {
        props: mut item,
        links,
    } = item
    else {
        return Err(format!("a {} delta item that is not an object", kind.kind).into());
    };
    let Some(id) = item.get("id").and_then(Value::as_str).map(str::to_string) else {
        return Err(format!("a {} delta item without an id", kind.kind).into());
    };
    let entry = objects.entry(id.clone()).or_default();
    if let Some(removed) = item.remove("@removed") {
        entry.removed = Some(match removed.get("reason").and_then(Value::as_str) {
            Some("changed") => Removed::Changed,
            _ => Removed::Deleted,
        });
        return Ok(None);
    }
    // Present again after a removal earlier in the round: it is back.
    entry.removed = None;
    for (name, ends) in links {
        // Links the kind does not track are not read.
        let Some(link) = kind.links.iter().find(|l| l.name == name) else {
            continue;
        };
        let LinkEnds::List(ends) = ends else {
            return Err(format!("{name}@delta is not a list").into());
        };
        let delta = entry.links.entry(link.name.clone()).or_default();
        for end in ends {
            let Some(end_id) = end.id else {
                return Err(format!("a {name}@delta entry without an id").into());
            };
            if end.removed {
                delta.remove(end_id);
            } else {
                delta.add(end_id);
            }
        }
    }
    let kept = |k: &str| k != "id" && (!k.starts_with("@odata.") || k == "@odata.type");
    if entry.props.is_empty() {
        // The usual case, an object's first page: its map is taken as it is.
        item.retain(|k, _| kept(k));
        entry.props = item;
    } else {
        entry
            .props
            .extend(item.into_iter().filter(|(k, _)| kept(k)));
    }
    Ok(Some(id))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema;

    fn groups() -> &'static KindSpec {
        schema::kind("groups").unwrap()
    }

    /// A page item as the client reads it.
    fn item(v: Value) -> DeltaItem {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn pages_merge_per_object_and_links_net_out() {
        let mut objects = BTreeMap::new();
        for item in [
            json!({"id": "g1", "displayName": "Sales", "members@delta": [
                {"@odata.type": "#microsoft.graph.user", "id": "u1"},
                {"@odata.type": "#microsoft.graph.user", "id": "u2"}]}),
            // The same group again on the next page, with another slice of members.
            json!({"id": "g1", "members@delta": [
                {"@odata.type": "#microsoft.graph.user", "id": "u3"},
                {"@odata.type": "#microsoft.graph.user", "id": "u1", "@removed": {"reason": "deleted"}}]}),
            json!({"id": "g2", "@removed": {"reason": "changed"}}),
            json!({"id": "g3", "@removed": {"reason": "deleted"}}),
            json!({"id": "g4", "@removed": {"reason": "deleted"}}),
            json!({"id": "g4", "displayName": "Back"}),
        ] {
            assert!(merge(groups(), &mut objects, self::item(item)).is_ok());
        }
        let g1 = &objects["g1"];
        assert_eq!(g1.props["displayName"], "Sales");
        assert_eq!(
            g1.links["members"].added.iter().collect::<Vec<_>>(),
            ["u2", "u3"]
        );
        assert_eq!(
            g1.links["members"].removed.iter().collect::<Vec<_>>(),
            ["u1"]
        );
        assert_eq!(objects["g2"].removed, Some(Removed::Changed));
        assert_eq!(objects["g3"].removed, Some(Removed::Deleted));
        assert_eq!(objects["g4"].removed, None, "the last word counts");
        for bad in [
            json!({"displayName": "x"}),
            json!({"id": "g", "members@delta": 3}),
            json!({"id": "g", "members@delta": [{"@odata.type": "#microsoft.graph.user"}]}),
            json!("g"),
        ] {
            assert!(
                merge(groups(), &mut objects, item(bad.clone())).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_object_repeated_with_new_properties_is_thawed_and_frozen_again() {
        for freeze in [false, true] {
            let mut objects = BTreeMap::new();
            for item in [
                json!({"id": "g1", "displayName": "Sales", "description": "old",
                       "members@delta": [{"@odata.type": "#microsoft.graph.user", "id": "u1"}]}),
                json!({"id": "g1", "members@delta": [
                    {"@odata.type": "#microsoft.graph.user", "id": "u2"}]}),
                json!({"id": "g1", "description": "new"}),
            ] {
                let id = merge(groups(), &mut objects, self::item(item))
                    .ok()
                    .flatten()
                    .unwrap();
                assert!(fold(groups(), &id, &mut objects, freeze).is_ok());
            }
            let g1 = &objects["g1"];
            let object = match (&g1.whole, &g1.frozen) {
                (Some(whole), None) if !freeze => whole.clone(),
                (None, Some(frozen)) if freeze => frozen.thaw().unwrap(),
                other => panic!("freeze {freeze}: {other:?}"),
            };
            assert_eq!(object.props["displayName"], "Sales");
            assert_eq!(object.props["description"], "new", "freeze {freeze}");
            assert_eq!(g1.links["members"].added.len(), 2);
        }
    }

    #[test]
    fn the_query_selects_managed_properties_and_tracked_links() {
        let q = query(groups(), &[]);
        assert!(q.starts_with("groups/delta?$select=id,displayName,"), "{q}");
        assert!(q.ends_with(",members,owners"), "{q}");
        assert_eq!(query_hash(&q), query_hash(&q));
        assert_ne!(query_hash(&q), query_hash("users/delta"));
    }

    #[test]
    fn registered_extensions_join_the_query_and_change_its_hash() {
        let users = schema::kind("users").unwrap();
        let plain = query(users, &[]);
        let with = query(users, &["extension_ab12_costCenter".to_string()]);
        assert!(with.contains(",extension_ab12_costCenter"), "{with}");
        assert_ne!(query_hash(&plain), query_hash(&with));
    }
}
