//! Raw Graph JSON → canonical [`Object`]. Pure and idempotent: normalizing a normalized object
//! gives it back unchanged. Managed properties are kept (absent ones as null), then the set
//! directory extension attributes of the kinds that carry them; everything else — volatile
//! timestamps, OData bookkeeping, secret values — is dropped; nested mappings get sorted keys and
//! set-like arrays are sorted, so the same tenant always gives the same bytes.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::model::{LinkRef, Object};
use crate::schema::{ChildSpec, Kind, KindSpec};

#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    #[error("Graph returned a {kind} entry that is not a JSON object")]
    NotAnObject { kind: String },
    #[error("Graph returned a {kind} object without an id")]
    MissingId { kind: String },
    #[error("{kind} object {id} has an unknown @odata.type {odata_type:?}")]
    UnknownType {
        kind: String,
        id: String,
        odata_type: String,
        known: Vec<String>,
    },
}

impl NormalizeError {
    pub fn hint(&self) -> Option<String> {
        match self {
            NormalizeError::UnknownType { known, .. } => Some(format!(
                "tenantgit knows the types {}; a newer tenantgit may know this one",
                known.join(", ")
            )),
            _ => Some(
                "this is a Graph response tenantgit does not understand; please report it".into(),
            ),
        }
    }
}

/// Canonical form of one raw Graph object and its links.
pub fn normalize(
    kind: impl Into<Kind>,
    raw: &Value,
    links: BTreeMap<String, Vec<LinkRef>>,
) -> Result<Object, NormalizeError> {
    let kind: Kind = kind.into();
    let Value::Object(raw) = raw else {
        return Err(NormalizeError::NotAnObject {
            kind: kind.kind.clone(),
        });
    };
    normalize_owned(kind, raw.clone(), links)
}

/// [`normalize`] of a raw object the caller gives up: its values are moved, not copied.
pub fn normalize_owned(
    kind: impl Into<Kind>,
    mut raw: Map<String, Value>,
    links: BTreeMap<String, Vec<LinkRef>>,
) -> Result<Object, NormalizeError> {
    let kind: Kind = kind.into();
    let id = match raw.get("id") {
        Some(Value::String(id)) if !id.is_empty() => id.clone(),
        _ if kind.singleton => kind.kind.clone(),
        _ => {
            return Err(NormalizeError::MissingId {
                kind: kind.kind.clone(),
            })
        }
    };
    // Sized exactly: a map left to grow keeps up to half its room unused, which across 100k
    // users is a few hundred MB.
    let variant_len = kind.variants.values().map(Vec::len).max().unwrap_or(0);
    let mut props = Map::with_capacity(2 + kind.managed.len() + variant_len);
    props.insert("id".into(), Value::String(id.clone()));
    let odata_type = if kind.has_variants() {
        let t = raw
            .get("@odata.type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !kind.variants.contains_key(t) {
            return Err(NormalizeError::UnknownType {
                kind: kind.kind.clone(),
                id,
                odata_type: t.to_string(),
                known: kind.variants.keys().cloned().collect(),
            });
        }
        props.insert("@odata.type".into(), Value::String(t.to_string()));
        Some(t.to_string())
    } else {
        None
    };
    let mut names = BTreeMap::new();
    for p in kind.managed_for(odata_type.as_deref()) {
        // A property named twice (by the kind and a variant) keeps its first place and value.
        if kind.is_secret(p) || props.contains_key(p) {
            continue;
        }
        // The raw map's key moves along with its value.
        let (key, value) = match (raw.remove_entry(p), kind.child(p)) {
            (None, _) => (p.to_string(), Value::Null),
            (Some((k, v)), Some(child)) => (k, canonical_children(&kind, child, &v)),
            (Some((k, v)), None) => (k, clean(&kind, p, v, &mut names)),
        };
        props.insert(key, value);
    }
    keep_extensions(&kind, &raw, &mut props, &mut names);
    let links = canonical_links(&kind, links);
    Ok(Object {
        kind,
        id,
        props,
        links,
        names,
    })
}

/// Directory extension attributes, for kinds that carry them: after the managed properties,
/// sorted by name. Graph returns one only when it is selected, and a null one is unset (a delta
/// round sends null for a removed value), so null ones are left out.
fn keep_extensions(
    kind: &KindSpec,
    raw: &Map<String, Value>,
    props: &mut Map<String, Value>,
    names: &mut BTreeMap<String, String>,
) {
    if kind.extension_target.is_none() {
        return;
    }
    let mut found: Vec<&String> = raw
        .iter()
        .filter(|(k, v)| kind.stores_extension(k) && !v.is_null())
        .map(|(k, _)| k)
        .collect();
    found.sort();
    for name in found {
        props.insert(name.clone(), clean(kind, name, raw[name].clone(), names));
    }
}

/// A contained collection as stored: each child with the kept properties only, nulls included
/// (Graph's id and bookkeeping dropped), sorted by the child's key.
pub fn canonical_children(kind: &KindSpec, child: &ChildSpec, value: &Value) -> Value {
    let Value::Array(items) = value else {
        return Value::Null;
    };
    let mut out: Vec<Value> = items
        .iter()
        .map(|item| {
            let mut kept = Map::new();
            // Every kept property, nulls included, as for the object itself.
            for p in &child.properties {
                kept.insert(p.clone(), item.get(p).cloned().unwrap_or(Value::Null));
            }
            // Keys sorted and set-like arrays sorted, like any nested mapping.
            clean(kind, &child.name, Value::Object(kept), &mut BTreeMap::new())
        })
        .collect();
    let key = |v: &Value| {
        v.get(&child.key)
            .map(|k| k.as_str().map_or_else(|| k.to_string(), str::to_string))
            .unwrap_or_default()
    };
    out.sort_by_cached_key(|v| (key(v), v.to_string()));
    Value::Array(out)
}

/// Every link of the kind (absent ones empty), each sorted by id without duplicates.
pub fn canonical_links(
    kind: &KindSpec,
    mut links: BTreeMap<String, Vec<LinkRef>>,
) -> BTreeMap<String, Vec<LinkRef>> {
    kind.links
        .iter()
        .map(|l| {
            let mut refs = links.remove(&l.name).unwrap_or_default();
            refs.sort_by(|a, b| a.id.cmp(&b.id));
            refs.dedup_by(|a, b| a.id == b.id);
            (l.name.clone(), refs)
        })
        .collect()
}

/// Re-normalizes an object read from a file (its properties already in object form).
pub fn renormalize(object: &Object) -> Result<Object, NormalizeError> {
    let mut again = normalize(
        object.kind.spec(),
        &Value::Object(object.props.clone()),
        object.links.clone(),
    )?;
    // A reference read from a file is its id alone: the name stays the file's.
    for (path, name) in &object.names {
        again
            .names
            .entry(path.clone())
            .or_insert_with(|| name.clone());
    }
    Ok(again)
}

/// OData bookkeeping that is never part of an object's state.
fn is_bookkeeping(key: &str) -> bool {
    if key == "@odata.type" {
        return false;
    }
    key.starts_with("@odata.")
        || key == "@removed"
        || key.ends_with("@delta")
        || key.ends_with("@odata.context")
        || key.ends_with("@odata.nextLink")
        || key.ends_with("@odata.deltaLink")
        || key.ends_with("@odata.count")
}

/// A value in canonical form; the names of references met on the way go to `names`.
fn clean(kind: &KindSpec, path: &str, value: Value, names: &mut BTreeMap<String, String>) -> Value {
    if kind.is_reference(path) {
        return reference(path, &value, names);
    }
    match value {
        Value::Object(map) if !kind.has_rules_below(path) => clean_plain(Value::Object(map)),
        Value::Object(map) => {
            let entries = sorted_entries(map);
            let mut out = Map::with_capacity(entries.len());
            for (k, v) in entries {
                let child = format!("{path}.{k}");
                if kind.is_secret(&child) {
                    continue;
                }
                let v = clean(kind, &child, v, names);
                out.insert(k, v);
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            let mut items: Vec<Value> = items
                .into_iter()
                .map(|v| clean(kind, path, v, names))
                .collect();
            if kind.is_set_like(path) {
                sort_set(&mut items);
            }
            Value::Array(items)
        }
        other => other,
    }
}

/// An object's entries sorted by key, OData bookkeeping left out.
fn sorted_entries(map: Map<String, Value>) -> Vec<(String, Value)> {
    let mut entries: Vec<(String, Value)> = map
        .into_iter()
        .filter(|(k, _)| !is_bookkeeping(k))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries
}

/// [`clean`] of a value no rule reaches into: keys sorted, bookkeeping left out.
fn clean_plain(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            sorted_entries(map)
                .into_iter()
                .map(|(k, v)| (k, clean_plain(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(clean_plain).collect()),
        other => other,
    }
}

/// A reference Graph returns expanded (the whole strength policy, timestamps and all) reduced to
/// what it is, `{id: …}`; the target's name is kept for the file's comment.
fn reference(path: &str, value: &Value, names: &mut BTreeMap<String, String>) -> Value {
    let Some(id) = value.get("id").and_then(Value::as_str) else {
        // Null, or something no reference is: kept for validation and Graph to refuse.
        return value.clone();
    };
    if let Some(name) = value.get("displayName").and_then(Value::as_str) {
        names.insert(path.to_string(), name.to_string());
    }
    let mut out = Map::new();
    out.insert("id".into(), Value::String(id.to_string()));
    Value::Object(out)
}

/// Sorts a set-like array and drops duplicates: scalars by value, objects by `id` or `keyId`
/// and then by their whole canonical text.
fn sort_set(items: &mut Vec<Value>) {
    if items.len() < 2 {
        return;
    }
    // Strings only (most sets): sorting by the string is sorting by the key below.
    if items.iter().all(Value::is_string) {
        items.sort_unstable_by(|a, b| a.as_str().cmp(&b.as_str()));
        items.dedup();
        return;
    }
    let key = |v: &Value| -> (String, String) {
        let primary = match v {
            Value::Object(m) => m
                .get("id")
                .or_else(|| m.get("keyId"))
                .or_else(|| m.get("resourceAppId"))
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                .unwrap_or_default(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        (primary, v.to_string())
    };
    let mut keyed: Vec<((String, String), Value)> = items.drain(..).map(|v| (key(&v), v)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.dedup_by(|a, b| a.0 == b.0);
    items.extend(keyed.into_iter().map(|(_, v)| v));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema;
    use serde_json::json;

    #[test]
    fn drops_secrets_and_volatile_sorts_sets_and_fills_nulls() {
        let apps = schema::kind("applications").unwrap();
        let raw = json!({
            "@odata.context": "x", "id": "a1", "displayName": "App", "deletedDateTime": "2020-01-01",
            "passwordCredentials": [
                {"keyId": "k2", "hint": "abc", "secretText": "s3cr3t"},
                {"keyId": "k1", "hint": "xyz", "secretText": null}
            ],
            "keyCredentials": [{"keyId": "c1", "key": "AAAA", "type": "AsymmetricX509Cert"}],
            "identifierUris": ["b", "a", "b"]
        });
        let o = normalize(apps, &raw, BTreeMap::new()).unwrap();
        let text = serde_json::to_string(&o.props).unwrap();
        assert!(!text.contains("s3cr3t") && !text.contains("AAAA") && !text.contains("secretText"));
        assert!(!text.contains("deletedDateTime") && !text.contains("@odata.context"));
        assert_eq!(o.props["identifierUris"], json!(["a", "b"]));
        assert_eq!(o.props["passwordCredentials"][0]["keyId"], "k1");
        assert_eq!(o.props["notes"], Value::Null);
        assert_eq!(o.props.keys().next().unwrap(), "id");
        let again = renormalize(&o).unwrap();
        assert_eq!(again.props, o.props);
    }

    #[test]
    fn extension_attributes_follow_the_managed_properties_sorted_and_nulls_go() {
        let users = schema::kind("users").unwrap();
        let raw = json!({
            "id": "u1", "displayName": "Ann",
            "extension_b2_zone": "north", "extension_a1_costCenter": "CC-1",
            "extension_c3_badge": null, "notAnExtension": 1,
        });
        let o = normalize(users, &raw, BTreeMap::new()).unwrap();
        let keys: Vec<&String> = o.props.keys().collect();
        let managed = 1 + users.managed.len();
        assert_eq!(
            keys[managed..],
            ["extension_a1_costCenter", "extension_b2_zone"]
        );
        assert_eq!(renormalize(&o).unwrap().props, o.props);
        // Only kinds with an extension target store them.
        let apps = schema::kind("applications").unwrap();
        let app = normalize(
            apps,
            &json!({"id": "a", "extension_a1_x": "v"}),
            BTreeMap::new(),
        );
        assert!(!app.unwrap().props.contains_key("extension_a1_x"));
    }

    #[test]
    fn v1_set_like_arrays_are_sorted() {
        let auth = schema::kind("authorizationPolicy").unwrap();
        let o = normalize(
            auth,
            &json!({"id": "authorizationPolicy", "defaultUserRolePermissions":
                {"permissionGrantPoliciesAssigned": ["b", "a"]}}),
            BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(
            o.props["defaultUserRolePermissions"]["permissionGrantPoliciesAssigned"],
            json!(["a", "b"])
        );
        let apps = schema::kind("applications").unwrap();
        let o = normalize(
            apps,
            &json!({"id": "a1", "web": {"redirectUriSettings": [
                {"uri": "https://b", "index": null}, {"uri": "https://a", "index": null}]}}),
            BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(o.props["web"]["redirectUriSettings"][0]["uri"], "https://a");
        let ca = schema::kind("conditionalAccessPolicies").unwrap();
        let o = normalize(
            ca,
            &json!({"id": "p1", "conditions": {"users": {"includeGuestsOrExternalUsers": {
                "guestOrExternalUserTypes": "b2bCollaborationGuest",
                "externalTenants": {
                    "@odata.type": "#microsoft.graph.conditionalAccessEnumeratedExternalTenants",
                    "membershipKind": "enumerated", "members": ["t2", "t1"]}}}}}),
            BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(
            o.props["conditions"]["users"]["includeGuestsOrExternalUsers"]["externalTenants"]
                ["members"],
            json!(["t1", "t2"])
        );
        // Duplicates go; a set of strings and other values sorts by each value's key.
        let users = schema::kind("users").unwrap();
        let o = normalize(
            users,
            &json!({"id": "u1", "businessPhones": ["2", "1", "2"], "otherMails": ["b", 3, "a", "b"]}),
            BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(o.props["businessPhones"], json!(["1", "2"]));
        assert_eq!(o.props["otherMails"], json!([3, "a", "b"]));
    }

    #[test]
    fn an_expanded_reference_is_its_id_and_names_the_target() {
        let ca = schema::kind("conditionalAccessPolicies").unwrap();
        let raw = |modified: &str| {
            json!({"id": "p1", "grantControls": {"operator": "OR", "builtInControls": [],
                "authenticationStrength@odata.context": "https://graph.microsoft.com/v1.0/$metadata#x",
                "authenticationStrength": {"id": "s4", "displayName": "Phishing resistant MFA",
                    "createdDateTime": "2022-01-01T00:00:00Z", "modifiedDateTime": modified,
                    "policyType": "builtIn", "allowedCombinations": ["fido2"]}}})
        };
        let a = normalize(ca, &raw("2023-01-01T00:00:00Z"), BTreeMap::new()).unwrap();
        let b = normalize(ca, &raw("2024-06-01T00:00:00Z"), BTreeMap::new()).unwrap();
        assert_eq!(
            a.props["grantControls"],
            json!({"authenticationStrength": {"id": "s4"}, "builtInControls": [], "operator": "OR"})
        );
        assert_eq!(
            a.props, b.props,
            "the strength's own timestamps are not the policy's"
        );
        assert_eq!(
            a.names["grantControls.authenticationStrength"],
            "Phishing resistant MFA"
        );
        // Read back from a file, the reference is its id alone; the file's name stays.
        let again = renormalize(&a).unwrap();
        assert_eq!(again.props, a.props);
        assert_eq!(again.names, a.names);
    }

    #[test]
    fn contained_children_keep_their_properties_sorted_by_key() {
        let apps = schema::kind("applications").unwrap();
        let raw = json!({"id": "a1", "federatedIdentityCredentials": [
            {"id": "g2", "name": "zeta", "issuer": "i", "subject": "s2", "audiences": ["x"],
             "description": null, "@odata.type": "#microsoft.graph.federatedIdentityCredential"},
            {"id": "g1", "name": "alpha", "issuer": "i", "subject": "s1", "audiences": ["x"]}]});
        let o = normalize(apps, &raw, BTreeMap::new()).unwrap();
        assert_eq!(
            o.props["federatedIdentityCredentials"],
            json!([
                {"audiences": ["x"], "description": null, "issuer": "i", "name": "alpha",
                 "subject": "s1"},
                {"audiences": ["x"], "description": null, "issuer": "i", "name": "zeta",
                 "subject": "s2"}
            ]),
            "Graph's own ids and annotations dropped"
        );
    }

    #[test]
    fn unknown_variant_is_an_error() {
        let nl = schema::kind("namedLocations").unwrap();
        let err = normalize(
            nl,
            &json!({"id": "x", "@odata.type": "#microsoft.graph.fooLocation"}),
            BTreeMap::new(),
        );
        assert!(matches!(err, Err(NormalizeError::UnknownType { .. })));
    }
}
