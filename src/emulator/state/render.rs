//! Shaping an object as Graph returns it, so that every route answers alike: the default
//! property set or the `$select`-ed one (null when unset), `@odata.type` where a collection holds
//! several types, contained navigations Graph embeds, references Graph expands, and secret values
//! never returned.

use serde_json::{Map, Value};

use super::{Entry, Tenant};
use crate::emulator::model::{model, EntityType};

/// How [`Tenant::render`] shapes an object.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Render {
    /// Add `@odata.type` (directory-object collections, restore responses).
    pub odata_type: bool,
    /// Keep `keyCredentials[].key` (single GET with `$select=keyCredentials`, GRAPH.md A.5).
    pub keep_key: bool,
    /// Leave out the properties that would be null (delta pages do not carry never-set ones).
    pub omit_null: bool,
}

impl Tenant {
    /// Renders an object. `select` = `None` returns the type's default property set.
    pub fn render(&self, slot: u32, select: Option<&[String]>, opts: Render) -> Map<String, Value> {
        let mut out = Map::with_capacity(select.map_or(16, |s| s.len() + 2));
        let Some(entry) = self.entry(slot) else {
            return out;
        };
        let m = model();
        let ty = entry.ty();
        let opaque = entry.props.get("@odata.type").and_then(Value::as_str);
        if let Some(name) = opaque {
            out.insert("@odata.type".into(), Value::String(name.to_string()));
        } else if opts.odata_type || entry.collection().polymorphic(m) {
            out.insert("@odata.type".into(), Value::String(ty.odata_type.clone()));
        }
        out.insert("id".into(), Value::String(entry.id.clone()));
        let mut put = |name: &str| {
            if name == "id" || out.contains_key(name) {
                return;
            }
            let value = if name == "deletedDateTime" {
                deleted_at(entry)
            } else {
                entry.props.get(name).cloned().unwrap_or(Value::Null)
            };
            let value = shape_secret(ty, name, value, opts.keep_key);
            if !(opts.omit_null && value.is_null()) {
                out.insert(name.to_string(), value);
            }
        };
        match select {
            Some(names) => names.iter().for_each(|p| put(p)),
            None => {
                ty.default_props().into_iter().for_each(&mut put);
                // A recycle-bin item always says when it was deleted.
                if entry.deleted.is_some() {
                    put("deletedDateTime");
                }
                // Of a type the model does not know, everything stored.
                if opaque.is_some() {
                    entry
                        .props
                        .keys()
                        .filter(|k| *k != "@odata.type")
                        .for_each(|k| put(k));
                }
                for nav in &ty.inline_navs {
                    let value = match entry.collection().child(nav) {
                        Some(c) => Value::Array(
                            entry
                                .children(c)
                                .iter()
                                .map(|child| Value::Object(render_child(child)))
                                .collect(),
                        ),
                        None => entry
                            .props
                            .get(nav)
                            .cloned()
                            .unwrap_or(Value::Array(Vec::new())),
                    };
                    out.insert(nav.clone(), value);
                }
            }
        }
        for (path, coll) in &ty.expanded {
            self.expand_reference(&mut out, path, coll);
        }
        out
    }

    /// Replaces the `{"id": …}` reference at `path` by the whole target object of collection
    /// `coll`, as Graph returns `grantControls.authenticationStrength`.
    fn expand_reference(&self, out: &mut Map<String, Value>, path: &[String], coll: &str) {
        let Some((last, parents)) = path.split_last() else {
            return;
        };
        let mut cur = out;
        for p in parents {
            match cur.get_mut(p) {
                Some(Value::Object(o)) => cur = o,
                _ => return,
            }
        }
        let Some(id) = cur
            .get(last)
            .and_then(|r| r.get("id"))
            .and_then(Value::as_str)
        else {
            return;
        };
        let Some(k) = model().collection(coll) else {
            return;
        };
        let Some(target) = self.live(k).get(id).copied() else {
            return;
        };
        let mut full = self.render(target, None, Render::default());
        full.shift_remove("@odata.type");
        cur.insert(last.clone(), Value::Object(full));
    }
}

/// A contained child as Graph returns it: its type, id and every stored property.
pub(crate) fn render_child(child: &Map<String, Value>) -> Map<String, Value> {
    let m = model();
    let mut out = Map::new();
    let ty = child
        .get("@odata.type")
        .and_then(Value::as_str)
        .and_then(|t| m.entity(t));
    if let Some(t) = ty {
        out.insert(
            "@odata.type".into(),
            Value::String(m.ty(t).odata_type.clone()),
        );
    }
    if let Some(id) = child.get("id") {
        out.insert("id".into(), id.clone());
    }
    if let Some(t) = ty.map(|t| m.ty(t)) {
        for p in t.default_props() {
            if p != "id" {
                out.insert(p.into(), child.get(p).cloned().unwrap_or(Value::Null));
            }
        }
        for nav in &t.inline_navs {
            out.insert(
                nav.clone(),
                child.get(nav).cloned().unwrap_or(Value::Array(Vec::new())),
            );
        }
    }
    for (k, v) in child {
        if !out.contains_key(k) {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

fn deleted_at(entry: &Entry) -> Value {
    entry
        .deleted
        .as_ref()
        .map_or(Value::Null, |d| Value::String(d.at.clone()))
}

/// Secret values are never returned on reads: `secretText` is always null, key bytes are null
/// unless asked for one object at a time, write-only properties are null (GRAPH.md A.1, A.5).
fn shape_secret(ty: &EntityType, name: &str, value: Value, keep_key: bool) -> Value {
    if ty.write_only.iter().any(|w| w == name) {
        return Value::Null;
    }
    let field = match name {
        "passwordCredentials" => "secretText",
        "keyCredentials" if !keep_key => "key",
        // Graph always returns all fifteen attributes; only the set ones are stored.
        "onPremisesExtensionAttributes" => return all_fifteen(value),
        _ => return value,
    };
    match value {
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|mut item| {
                    if let Value::Object(m) = &mut item {
                        m.insert(field.to_string(), Value::Null);
                    }
                    item
                })
                .collect(),
        ),
        other => other,
    }
}

fn all_fifteen(value: Value) -> Value {
    let Value::Object(mut m) = value else {
        return value;
    };
    for i in 1..=15 {
        m.entry(format!("extensionAttribute{i}"))
            .or_insert(Value::Null);
    }
    let mut sorted: Vec<(String, Value)> = m.into_iter().collect();
    sorted.sort_by_key(|(k, _)| {
        k.strip_prefix("extensionAttribute")
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(u32::MAX)
    });
    Value::Object(sorted.into_iter().collect())
}
