//! Applying a delta round to the objects of the last snapshot: each object the round reported
//! is its previous state (from the snapshot's file) with the reported properties laid over it
//! and the reported link ends added and removed, normalized again — the same object a full read
//! gives. Objects the round did not report are untouched (their files stay as they are).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::{Map, Value};

use crate::frozen::Frozen;
use crate::model::{LinkRef, Object};
use crate::normalize::{canonical_links, normalize_owned};
use crate::schema::KindSpec;

use super::round::{ObjectDelta, Round};
use super::ReadError;

/// What a round does to one object: its new state, or `None` when it left the tenant.
pub type Applied = BTreeMap<String, Option<Object>>;

/// The objects a round changes, from their previous state (`base(id)`: the last snapshot's
/// object, `None` for an object new to the snapshot). In an initial round every object comes
/// whole (folded page by page) and `base` is not asked. The round's objects are taken out of it,
/// so that each object's report is freed as soon as its object is made.
pub fn apply(
    kind: &'static KindSpec,
    round: &mut Round,
    initial: bool,
    base: &mut dyn FnMut(&str) -> Result<Option<Object>, ReadError>,
) -> Result<Applied, ReadError> {
    let mut out = Applied::new();
    for (id, mut delta) in std::mem::take(&mut round.objects) {
        if delta.removed.is_some() {
            out.insert(id, None);
            continue;
        }
        let object = match (initial, delta.whole.take()) {
            // Folded from its pages, properties normalized: only its link ends are laid over it.
            (true, Some(mut whole)) if delta.props.is_empty() => {
                whole.links = laid_links(kind, std::mem::take(&mut whole.links), &mut delta);
                whole
            }
            (true, whole) => updated(kind, &id, whole, &delta)?,
            (false, _) => updated(kind, &id, base(&id)?, &delta)?,
        };
        out.insert(id, Some(object));
    }
    Ok(out)
}

/// The objects of an initial round that froze them (see [`crate::read::delta::round`]), each
/// with its link ends laid over it, in id order; taken out of the round.
pub fn frozen(kind: &'static KindSpec, round: &mut Round) -> Result<Vec<Frozen>, ReadError> {
    let mut out = Vec::with_capacity(round.objects.len());
    for (id, mut delta) in std::mem::take(&mut round.objects) {
        if delta.removed.is_some() {
            continue;
        }
        let mut frozen = match delta.frozen.take() {
            Some(frozen) => frozen,
            None => Frozen::freeze(updated(kind, &id, delta.whole.take(), &delta)?),
        };
        frozen.links = laid_links(kind, std::mem::take(&mut frozen.links), &mut delta);
        out.push(frozen);
    }
    Ok(out)
}

/// `links` with the link ends `delta` reports laid over them (moved out of it), in canonical
/// order.
fn laid_links(
    kind: &KindSpec,
    mut links: BTreeMap<String, Vec<LinkRef>>,
    delta: &mut ObjectDelta,
) -> BTreeMap<String, Vec<LinkRef>> {
    for (name, change) in std::mem::take(&mut delta.links) {
        let single = is_single(kind, &name);
        let refs = links.entry(name).or_default();
        lay_link(single, refs, &change.removed, change.added.into_iter());
    }
    canonical_links(kind, links)
}

/// `previous` with `delta` laid over it, normalized.
pub fn updated(
    kind: &'static KindSpec,
    id: &str,
    previous: Option<Object>,
    delta: &ObjectDelta,
) -> Result<Object, ReadError> {
    let (mut props, mut links) = match previous {
        Some(p) => (p.props, p.links),
        None => (Map::new(), BTreeMap::new()),
    };
    props.insert("id".into(), Value::String(id.to_string()));
    for (k, v) in &delta.props {
        props.insert(k.clone(), v.clone());
    }
    for (name, change) in &delta.links {
        let refs = links.entry(name.clone()).or_default();
        lay_link(
            is_single(kind, name),
            refs,
            &change.removed,
            change.added.iter().cloned(),
        );
    }
    Ok(normalize_owned(kind, props, links)?)
}

fn is_single(kind: &KindSpec, link: &str) -> bool {
    kind.link(link).is_some_and(|l| l.single)
}

/// One link's reported ends laid over the ends it had.
fn lay_link(
    single: bool,
    refs: &mut Vec<LinkRef>,
    removed: &BTreeSet<String>,
    added: impl ExactSizeIterator<Item = String>,
) {
    refs.retain(|r: &LinkRef| !removed.contains(&r.id));
    // A single link (`manager`) holds one end: a reported one replaces it, whether or not
    // the round also reported the old one's removal.
    if single && added.len() > 0 {
        refs.clear();
    }
    if refs.is_empty() {
        refs.extend(added.map(|id| LinkRef::new(id, None)));
        return;
    }
    let there: HashSet<String> = refs.iter().map(|r| r.id.clone()).collect();
    refs.extend(
        added
            .filter(|a| !there.contains(a))
            .map(|id| LinkRef::new(id, None)),
    );
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::normalize::normalize;
    use crate::read::round::{DeltaToken, LinkDelta, Removed};
    use crate::schema;

    fn round(objects: Vec<(&str, ObjectDelta)>) -> Round {
        Round {
            objects: objects
                .into_iter()
                .map(|(id, d)| (id.to_string(), d))
                .collect(),
            token: DeltaToken {
                link: "x".into(),
                query: "q".into(),
                since: "t".into(),
            },
        }
    }

    #[test]
    fn changes_are_laid_over_the_previous_state() {
        let groups = schema::kind("groups").unwrap();
        let before = normalize(
            groups,
            &json!({"id": "g1", "displayName": "Sales", "description": "old", "mailEnabled": false}),
            BTreeMap::from([(
                "members".to_string(),
                vec![LinkRef::new("u1", Some("Ann".into())), LinkRef::new("u2", None)],
            )]),
        )
        .unwrap();
        let mut changed = ObjectDelta::default();
        changed.props.insert("description".into(), json!("new"));
        changed.links.insert(
            "members".into(),
            LinkDelta {
                added: ["u3".to_string()].into(),
                removed: ["u2".to_string()].into(),
            },
        );
        let gone = ObjectDelta {
            removed: Some(Removed::Changed),
            ..ObjectDelta::default()
        };
        let mut fresh = ObjectDelta::default();
        fresh.props.insert("displayName".into(), json!("New group"));
        let mut r = round(vec![("g1", changed), ("g2", gone), ("g3", fresh)]);
        let mut asked = Vec::new();
        let applied = apply(groups, &mut r, false, &mut |id| {
            asked.push(id.to_string());
            Ok((id == "g1").then(|| before.clone()))
        })
        .unwrap();
        let g1 = applied["g1"].as_ref().unwrap();
        assert_eq!(g1.props["description"], "new");
        assert_eq!(
            g1.props["displayName"], "Sales",
            "unreported properties stay"
        );
        assert_eq!(g1.props["mailEnabled"], false);
        assert_eq!(g1.link_ids("members").collect::<Vec<_>>(), ["u1", "u3"]);
        assert_eq!(
            g1.links["members"][0].display_name.as_deref(),
            Some("Ann"),
            "names of ends already there are kept"
        );
        assert!(applied["g2"].is_none());
        assert_eq!(
            applied["g3"].as_ref().unwrap().props["description"],
            Value::Null
        );
        assert_eq!(
            asked,
            ["g1", "g3"],
            "a removed object needs no previous state"
        );
    }

    #[test]
    fn a_reported_manager_replaces_the_one_there() {
        let users = schema::kind("users").unwrap();
        let before = normalize(
            users,
            &json!({"id": "u1", "displayName": "Ann"}),
            BTreeMap::from([("manager".to_string(), vec![LinkRef::new("m1", None)])]),
        )
        .unwrap();
        let mut changed = ObjectDelta::default();
        changed.links.insert(
            "manager".into(),
            LinkDelta {
                added: ["m2".to_string()].into(),
                removed: Default::default(),
            },
        );
        let mut r = round(vec![("u1", changed)]);
        let applied = apply(users, &mut r, false, &mut |_| Ok(Some(before.clone()))).unwrap();
        assert_eq!(
            applied["u1"]
                .as_ref()
                .unwrap()
                .link_ids("manager")
                .collect::<Vec<_>>(),
            ["m2"]
        );
    }
}
