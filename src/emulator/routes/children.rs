//! Contained children, written at their parent's path: an application's
//! `federatedIdentityCredentials` (list, get, create, update, delete) and `extensionProperties`
//! (list, create, delete), and the authentication methods policy's
//! `authenticationMethodConfigurations` (list, get, PATCH with `@odata.type`).

use serde_json::{json, Map, Value};

use super::reply::{bad_request, error, not_allowed, not_found, Reply};
use super::request::Req;
use super::validate::{parse_writes, Target};
use crate::emulator::model::{model, Child};
use crate::emulator::state::render_child;

/// Routes `{parent}/{child}[/{id}]`.
pub(crate) fn route(req: &Req, parent: u32, ci: usize, rest: &[&str]) -> Reply {
    let ctx = req.ctx;
    let (kind, parent_id) = {
        let t = req.shared.read();
        match t.entry(parent) {
            Some(e) => (e.kind as usize, e.id.clone()),
            None => return not_found(ctx, ""),
        }
    };
    let coll = &model().collections[kind];
    let child = &coll.children[ci];
    let base = match &coll.singleton {
        Some(_) => format!("{}/{}", coll.path, child.name),
        None => format!("{}('{parent_id}')/{}", coll.path, child.name),
    };
    match (rest, req.method) {
        ([], "GET") => list(req, parent, ci, &base),
        ([], "POST") if child.create => create(req, parent, ci, &base),
        ([id], m) => {
            let Some(index) = find(req, parent, ci, child, id) else {
                if m == "PATCH" && child.create && creates_if_missing(req) {
                    if let Some((alt, key)) = alternate_key(child, id) {
                        return upsert_create(req, parent, ci, &base, alt, key);
                    }
                }
                return not_found(ctx, id);
            };
            match m {
                "GET" => {
                    let t = req.shared.read();
                    let item = t.entry(parent).map(|e| e.children(ci)[index].clone());
                    let mut body = Map::new();
                    body.insert(
                        "@odata.context".into(),
                        json!(req.context(&format!("{base}/$entity"))),
                    );
                    body.extend(item.as_ref().map(render_child).unwrap_or_default());
                    Reply::json(200, Value::Object(body))
                }
                "PATCH" if child.update => update(req, parent, ci, index),
                "DELETE" if child.delete => {
                    let mut t = req.shared.write();
                    if let Some(children) = t.children_mut(parent, ci) {
                        children.remove(index);
                    }
                    Reply::empty(204)
                }
                _ => not_allowed(ctx),
            }
        }
        ([], _) | ([_, ..], _) => not_allowed(ctx),
    }
}

/// `Prefer: create-if-missing`: a PATCH by alternate key that finds no child creates it
/// ("Required for upsert behavior, otherwise the request is treated as an update",
/// federatedidentitycredential-upsert.md @24221596).
fn creates_if_missing(req: &Req) -> bool {
    req.ctx.prefer.as_deref().is_some_and(|p| {
        p.split(',')
            .any(|v| v.trim().eq_ignore_ascii_case("create-if-missing"))
    })
}

/// The value of an alternate-key segment `(name='x')` for the child's alternate key.
fn alternate_key<'a, 'c>(child: &'c Child, segment: &'a str) -> Option<(&'c str, &'a str)> {
    let alt = child.alternate_key.as_deref()?;
    segment
        .strip_prefix('(')
        .and_then(|k| k.strip_suffix(')'))
        .and_then(|k| k.split_once('='))
        .filter(|(p, _)| p.trim() == alt)
        .map(|(_, v)| (alt, v.trim().trim_matches('\'')))
}

/// The create half of an upsert: the body with the key from the path (a body naming another
/// key is refused: the path says which child this is).
fn upsert_create(req: &Req, parent: u32, ci: usize, base: &str, alt: &str, key: &str) -> Reply {
    let mut body = match req.json_body() {
        Ok(b) => b,
        Err(r) => return r,
    };
    match body.get(alt) {
        None => {
            body.insert(alt.to_string(), json!(key));
        }
        Some(Value::String(v)) if v == key => {}
        Some(_) => {
            return bad_request(
                req.ctx,
                &format!("The value of '{alt}' in the body does not match the key in the path."),
            )
        }
    }
    create_from(req, parent, ci, base, body)
}

/// Position of a child by id, or by its alternate key written `(name='x')`.
fn find(req: &Req, parent: u32, ci: usize, child: &Child, key: &str) -> Option<usize> {
    let t = req.shared.read();
    let items = t.entry(parent)?.children(ci);
    let by = |prop: &str, value: &str| {
        items.iter().position(|c| {
            c.get(prop)
                .and_then(Value::as_str)
                .is_some_and(|v| v.eq_ignore_ascii_case(value))
        })
    };
    if let Some((alt, v)) = alternate_key(child, key) {
        return by(alt, v);
    }
    by("id", key)
}

fn list(req: &Req, parent: u32, ci: usize, base: &str) -> Reply {
    let t = req.shared.read();
    let items: Vec<Value> = t
        .entry(parent)
        .map(|e| {
            e.children(ci)
                .iter()
                .map(|c| Value::Object(render_child(c)))
                .collect()
        })
        .unwrap_or_default();
    Reply::json(
        200,
        json!({"@odata.context": req.context(base), "value": items}),
    )
}

fn create(req: &Req, parent: u32, ci: usize, base: &str) -> Reply {
    match req.json_body() {
        Ok(body) => create_from(req, parent, ci, base, body),
        Err(r) => r,
    }
}

fn create_from(req: &Req, parent: u32, ci: usize, base: &str, body: Map<String, Value>) -> Reply {
    let m = model();
    let mut t = req.shared.write();
    let Some(entry) = t.entry(parent) else {
        return not_found(req.ctx, "");
    };
    let child = &entry.collection().children[ci];
    let target = Target {
        coll: None,
        base: child.ty,
        existing: None,
        creating: true,
        require_odata_type: child.require_odata_type,
    };
    let w = match parse_writes(req.ctx, &t, &target, body) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let mut item: Map<String, Value> = Map::new();
    item.insert("@odata.type".into(), json!(m.ty(w.ty).odata_type));
    item.insert("id".into(), json!(uuid::Uuid::new_v4().to_string()));
    item.extend(w.props.into_iter().filter(|(_, v)| !v.is_null()));
    if let Err(r) = server_side(
        req,
        entry.str_prop("appId"),
        entry.str_prop("displayName"),
        &child.name,
        &mut item,
    ) {
        return r;
    }
    let existing = entry.children(ci);
    if child.max.is_some_and(|max| existing.len() >= max) {
        return bad_request(
            req.ctx,
            &format!(
                "The maximum number of {} ({}) has been reached.",
                child.name,
                child.max.unwrap_or_default()
            ),
        );
    }
    if let Some(r) = clash(req, child, existing, &item, None) {
        return r;
    }
    let rendered = render_child(&item);
    if let Some(children) = t.children_mut(parent, ci) {
        children.push(item);
    }
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        json!(req.context(&format!("{base}/$entity"))),
    );
    body.extend(rendered);
    Reply::json(201, Value::Object(body))
}

/// A child that would share a unique property set with another child of the same parent.
fn clash(
    req: &Req,
    child: &Child,
    existing: &[Map<String, Value>],
    item: &Map<String, Value>,
    skip: Option<usize>,
) -> Option<Reply> {
    for set in &child.unique {
        let same = existing.iter().enumerate().any(|(i, other)| {
            Some(i) != skip
                && set.iter().all(|p| match (other.get(p), item.get(p)) {
                    (Some(Value::String(a)), Some(Value::String(b))) => a.eq_ignore_ascii_case(b),
                    (Some(a), Some(b)) => a == b,
                    _ => false,
                })
        });
        if same {
            return Some(error(
                req.ctx,
                409,
                "Request_MultipleObjectsWithSameKeyValue",
                &format!(
                    "Another object with the same value for property {} already exists.",
                    set.join(", ")
                ),
            ));
        }
    }
    None
}

fn update(req: &Req, parent: u32, ci: usize, index: usize) -> Reply {
    let m = model();
    let mut body = match req.json_body() {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut t = req.shared.write();
    let Some(entry) = t.entry(parent) else {
        return not_found(req.ctx, "");
    };
    let child = &entry.collection().children[ci];
    let current = entry.children(ci)[index].clone();
    // An upsert carries the whole child, its immutable key included: the key as it stands is
    // no change (the upsert page's update sample sends `name`).
    if creates_if_missing(req) {
        if let Some(alt) = &child.alternate_key {
            if body.get(alt).is_some_and(|v| Some(v) == current.get(alt)) {
                body.remove(alt);
            }
        }
    }
    let existing = current
        .get("@odata.type")
        .and_then(Value::as_str)
        .and_then(|ty| m.entity(ty))
        .unwrap_or(child.ty);
    let target = Target {
        coll: None,
        base: child.ty,
        existing: Some(existing),
        creating: false,
        require_odata_type: child.require_odata_type,
    };
    let w = match parse_writes(req.ctx, &t, &target, body) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let mut item = current;
    for (k, v) in w.props.into_iter().chain(w.inline) {
        if v.is_null() {
            item.remove(&k);
        } else {
            item.insert(k, v);
        }
    }
    if let Some(r) = clash(req, child, entry.children(ci), &item, Some(index)) {
        return r;
    }
    if let Some(children) = t.children_mut(parent, ci) {
        children[index] = item;
    }
    Reply::empty(204)
}

/// What the service sets on a new child, per contained collection.
fn server_side(
    req: &Req,
    app_id: Option<&str>,
    app_name: Option<&str>,
    child: &str,
    item: &mut Map<String, Value>,
) -> Result<(), Reply> {
    if child == "extensionProperties" {
        // `extension_{appIdWithoutDashes}_{name}` (application-post-extensionproperty.md).
        let name = item.get("name").and_then(Value::as_str).unwrap_or_default();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(bad_request(
                req.ctx,
                "Invalid value specified for property 'name' of resource 'ExtensionProperty'.",
            ));
        }
        let full = format!(
            "extension_{}_{name}",
            app_id.unwrap_or_default().replace('-', "")
        );
        item.insert("name".into(), json!(full));
        item.insert("appDisplayName".into(), json!(app_name));
        item.insert("isSyncedFromOnPremises".into(), json!(false));
        item.entry("isMultiValued").or_insert(json!(false));
    }
    Ok(())
}
