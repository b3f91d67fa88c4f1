//! The recycle bin, `directory/deletedItems` (GRAPH.md A.15): listing needs a type cast, items
//! are read one by one, restored (200 with the object and its `@odata.type`, references put back)
//! or deleted for good.

use serde_json::{Map, Value};

use super::read::{page_by_id, single, Listing};
use super::reply::{bad_request, no_segment, not_allowed, not_found, Reply};
use super::request::Req;
use super::writes::unique_check;
use crate::emulator::dynamic;
use crate::emulator::model::{model, SoftDelete};
use crate::emulator::state::Render;

const RENDER: Render = Render {
    odata_type: true,
    keep_key: false,
    omit_null: false,
};

pub(crate) fn route(req: &Req, rest: &[&str]) -> Reply {
    let ctx = req.ctx;
    let m = req.method;
    match rest {
        [cast] if cast.starts_with("microsoft.graph.") => {
            if m != "GET" {
                return not_allowed(ctx);
            }
            let model = model();
            let found = model.collections.iter().enumerate().find(|(_, c)| {
                model.ty(c.ty).qualified() == *cast && !matches!(c.soft_delete, SoftDelete::Never)
            });
            let Some((k, coll)) = found else {
                return bad_request(ctx, &format!("'{cast}' is not a type that can be restored from deleted items."));
            };
            let t = req.shared.read();
            let listing = Listing {
                index: t.recycle(k),
                types: vec![coll.ty],
                type_name: cast.to_string(),
                context: format!("directory/deletedItems/{cast}"),
                render: RENDER,
                expand_kind: None,
            };
            page_by_id(req, &t, &listing)
        }
        [] => bad_request(ctx, "Listing deleted items needs a type cast, e.g. /directory/deletedItems/microsoft.graph.user."),
        [id, tail @ ..] => {
            let slot = {
                let t = req.shared.read();
                t.slot(id).filter(|s| t.entry(*s).is_some_and(|e| e.deleted.is_some()))
            };
            let Some(slot) = slot else {
                return not_found(ctx, id);
            };
            match (tail, m) {
                ([], "GET") => {
                    let t = req.shared.read();
                    single(req, &t, slot, "directoryObjects/$entity", RENDER)
                }
                ([], "DELETE") => {
                    req.shared.write().purge(slot);
                    Reply::empty(204)
                }
                (["restore"], "POST") => restore(req, slot, id),
                ([seg, ..], _) => no_segment(ctx, seg),
                ([], _) => not_allowed(ctx),
            }
        }
    }
}

/// Restores an object unless a live one has taken one of its unique keys meanwhile.
fn restore(req: &Req, slot: u32, id: &str) -> Reply {
    let mut t = req.shared.write();
    let Some(e) = t.entry(slot) else {
        return not_found(req.ctx, id);
    };
    let k = e.kind as usize;
    let keys: Vec<(String, Value)> = model().collections[k]
        .unique
        .iter()
        .filter_map(|u| {
            e.props
                .get(&u.property)
                .map(|v| (u.property.clone(), v.clone()))
        })
        .collect();
    if let Err(r) = unique_check(req.ctx, &t, k, Some(slot), &keys) {
        return r;
    }
    t.restore(slot);
    dynamic::after_write(&mut t, slot);
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        Value::String(req.context("directoryObjects/$entity")),
    );
    body.extend(t.render(slot, None, RENDER));
    Reply::json(200, Value::Object(body))
}
