//! The `directoryObjects` entry points: `GET directoryObjects/{id}` (any live directory object
//! with its `@odata.type`), `POST directoryObjects/getByIds` (directoryobject-getbyids.md
//! @054b9785: up to `limits.getByIds` ids, optionally of some `types`; ids that name nothing
//! are left out) and `POST directoryObjects/getAvailableExtensionProperties`
//! (directoryobject-getavailableextensionproperties.md @0848d3e5: every directory extension
//! definition of the tenant's applications, optionally only those synced from on-premises or
//! only the others).

use serde_json::{json, Map, Value};

use super::read::single;
use super::reply::{bad_request, not_allowed, not_found, Reply};
use super::request::Req;
use super::select::{directory_types, resolve_select};
use crate::emulator::model::model;
use crate::emulator::state::{render_child, Render};

const DIRECTORY: Render = Render {
    odata_type: true,
    keep_key: false,
    omit_null: false,
};

pub(crate) fn route(req: &Req, rest: &[&str]) -> Reply {
    match (rest, req.method) {
        (["getByIds"], "POST") => get_by_ids(req),
        (["getAvailableExtensionProperties"], "POST") => available_extensions(req),
        ([id], "GET") => {
            let t = req.shared.read();
            match t.live_slot(id) {
                Some(slot) => single(req, &t, slot, "directoryObjects/$entity", DIRECTORY),
                None => not_found(req.ctx, id),
            }
        }
        _ => not_allowed(req.ctx),
    }
}

/// The body's string list `name` (absent = empty), or Graph's answer to another shape.
fn strings(req: &Req, body: &Map<String, Value>, name: &str) -> Result<Vec<String>, Reply> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                bad_request(
                    req.ctx,
                    &format!("Invalid value specified for parameter '{name}'."),
                )
            }),
        Some(_) => Err(bad_request(
            req.ctx,
            &format!("Invalid value specified for parameter '{name}'."),
        )),
    }
}

fn get_by_ids(req: &Req) -> Reply {
    let m = model();
    let body = match req.json_body() {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (ids, types) = match (strings(req, &body, "ids"), strings(req, &body, "types")) {
        (Ok(i), Ok(t)) => (i, t),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    if ids.is_empty() {
        return bad_request(
            req.ctx,
            "The parameter 'ids' is required and cannot be empty.",
        );
    }
    let max = m.limits.get_by_ids;
    if ids.len() > max {
        return bad_request(
            req.ctx,
            &format!(
                "The number of ids ({}) exceeds the maximum of {max}.",
                ids.len()
            ),
        );
    }
    // Type names are not case-sensitive and take derived types along (directoryObject = all).
    let mut wanted = Vec::new();
    for name in &types {
        let ty = m
            .types
            .iter()
            .position(|t| {
                t.name
                    .eq_ignore_ascii_case(name.trim_start_matches("microsoft.graph."))
            })
            .filter(|t| m.is_a(*t, "directoryObject"));
        match ty {
            Some(t) => wanted.push(t),
            None => {
                return bad_request(
                    req.ctx,
                    &format!("Invalid value specified for parameter 'types': '{name}'."),
                )
            }
        }
    }
    let t = req.shared.read();
    let select = match &req.query.select {
        Some(s) => match resolve_select(
            req.ctx,
            &t,
            s,
            &directory_types(),
            "microsoft.graph.directoryObject",
        ) {
            Ok(r) => Some(r),
            Err(r) => return r,
        },
        None => None,
    };
    let mut items = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for id in &ids {
        let Some(slot) = t.live_slot(id) else {
            continue;
        };
        let Some(e) = t.entry(slot) else { continue };
        let is_directory = m.is_a(e.ty as usize, "directoryObject");
        let of_type =
            wanted.is_empty() || wanted.iter().any(|w| m.is_a(e.ty as usize, &m.ty(*w).name));
        if is_directory && of_type && seen.insert(slot) {
            items.push(Value::Object(t.render(slot, select.as_deref(), DIRECTORY)));
        }
    }
    Reply::json(
        200,
        json!({"@odata.context": req.context("directoryObjects"), "value": items}),
    )
}

fn available_extensions(req: &Req) -> Reply {
    let m = model();
    // An empty body is allowed here (the docs' first example sends none).
    let body = if req.body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match req.json_body() {
            Ok(b) => b,
            Err(r) => return r,
        }
    };
    let synced = match body.get("isSyncedFromOnPremises") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            return bad_request(
                req.ctx,
                "Invalid value specified for parameter 'isSyncedFromOnPremises'.",
            )
        }
    };
    let Some(apps) = m.collection("applications") else {
        return not_allowed(req.ctx);
    };
    let Some(child) = m.collections[apps].child("extensionProperties") else {
        return not_allowed(req.ctx);
    };
    let t = req.shared.read();
    let items: Vec<Value> = t
        .live(apps)
        .values()
        .filter_map(|s| t.entry(*s))
        .flat_map(|app| app.children(child))
        .filter(|def| {
            let is_synced = def.get("isSyncedFromOnPremises") == Some(&Value::Bool(true));
            synced.is_none_or(|want| want == is_synced)
        })
        .map(|def| {
            let mut out = render_child(def);
            out.entry("deletedDateTime").or_insert(Value::Null);
            Value::Object(out)
        })
        .collect();
    Reply::json(
        200,
        json!({
            "@odata.context": req.context("Collection(microsoft.graph.extensionProperty)"),
            "value": items,
        }),
    )
}
