//! Reading objects: `$select` resolved against the model, `$top`, opaque `$skiptoken` paging
//! ordered by id (so it stays right while objects come and go), single objects, and `$expand`
//! (module `expand`), which also caps a page at `limits.expandedPage` objects as Graph does.

use std::collections::BTreeMap;
use std::ops::Bound;

use serde_json::{Map, Value};

use super::expand::{add_expanded, parse_expand};
use super::reply::{bad_request, not_found, unsupported_expand, Reply};
use super::request::Req;
use super::select::resolve_select;
use crate::emulator::model::model;
use crate::emulator::odata::{PageToken, DEFAULT_TOP, MAX_TOP};
use crate::emulator::state::{Render, Tenant};

/// `$top`, defaulting to 100 and refusing anything outside 1..=999.
fn page_size(req: &Req) -> Result<usize, Reply> {
    match &req.query.top {
        None => Ok(DEFAULT_TOP),
        Some(t) => match t.trim().parse::<usize>() {
            Ok(n) if (1..=MAX_TOP).contains(&n) => Ok(n),
            _ => Err(bad_request(
                req.ctx,
                &format!("Invalid page size specified: '{t}'. Must be between 1 and {MAX_TOP} inclusive."),
            )),
        },
    }
}

/// Where a page starts (exclusive), what it selects and expands, how many items it holds: from
/// the `$skiptoken` when there is one (the token carries the query), from the query otherwise.
pub(crate) struct Page {
    pub after: Option<String>,
    pub select: Option<Vec<String>>,
    pub expand: Option<String>,
    pub top: usize,
}

pub(crate) fn paging(req: &Req) -> Result<Page, Reply> {
    if let Some(tok) = &req.query.skiptoken {
        return match PageToken::decode(tok).filter(|t| t.c == req.path) {
            Some(t) => Ok(Page {
                after: Some(t.a),
                select: t.s,
                expand: t.e,
                top: t.t,
            }),
            None => Err(bad_request(
                req.ctx,
                "Invalid $skiptoken value: it was not issued for this request.",
            )),
        };
    }
    Ok(Page {
        after: None,
        select: req.query.select.clone(),
        expand: req.query.expand.clone(),
        top: page_size(req)?,
    })
}

pub(crate) fn next_link(req: &Req, page: &Page, last: String) -> String {
    let token = PageToken {
        c: req.path.to_string(),
        a: last,
        s: page.select.clone(),
        t: page.top,
        e: page.expand.clone(),
    };
    format!(
        "{}/v1.0/{}?$skiptoken={}",
        req.shared.base,
        req.path,
        token.encode()
    )
}

pub(crate) fn collection_body(context: String, items: Vec<Value>, next: Option<String>) -> Reply {
    let mut body = Map::new();
    body.insert("@odata.context".into(), Value::String(context));
    if let Some(next) = next {
        body.insert("@odata.nextLink".into(), Value::String(next));
    }
    body.insert("value".into(), Value::Array(items));
    Reply::json(200, Value::Object(body))
}

pub(crate) fn context_fragment(base: &str, select: &Option<Vec<String>>) -> String {
    match select {
        Some(s) => format!("{base}({})", s.join(",")),
        None => base.to_string(),
    }
}

/// What one page of a collection lists.
pub(crate) struct Listing<'a> {
    pub index: &'a BTreeMap<String, u32>,
    /// Entity types `$select` resolves against.
    pub types: Vec<usize>,
    pub type_name: String,
    pub context: String,
    pub render: Render,
    /// The collection whose single-valued references `$expand` may name.
    pub expand_kind: Option<usize>,
}

/// One page of a collection ordered by id.
pub(crate) fn page_by_id(req: &Req, t: &Tenant, l: &Listing) -> Reply {
    let page = match paging(req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let resolved = match &page.select {
        Some(s) => match resolve_select(req.ctx, t, s, &l.types, &l.type_name) {
            Ok(r) => Some(r),
            Err(r) => return r,
        },
        None => None,
    };
    let expand = match (l.expand_kind, &page.expand) {
        (Some(k), x) => match parse_expand(req.ctx, k, x.as_deref()) {
            Ok(x) => x,
            Err(r) => return r,
        },
        (None, Some(x)) => return unsupported_expand(req.ctx, x),
        (None, None) => Vec::new(),
    };
    let top = if expand.is_empty() {
        page.top
    } else {
        page.top.min(model().limits.expanded_page)
    };
    let range = match &page.after {
        Some(a) => l
            .index
            .range::<str, _>((Bound::Excluded(a.as_str()), Bound::Unbounded)),
        None => l.index.range::<str, _>(..),
    };
    let mut items = Vec::with_capacity(top.min(l.index.len()));
    let mut last = None;
    let mut more = false;
    for (id, slot) in range {
        if items.len() == top {
            more = true;
            break;
        }
        let mut obj = t.render(*slot, resolved.as_deref(), l.render);
        if let Err(r) = add_expanded(req.ctx, t, *slot, &expand, &mut obj) {
            return r;
        }
        items.push(Value::Object(obj));
        last = Some(id.clone());
    }
    let next = match (more, last) {
        (true, Some(last)) => Some(next_link(req, &page, last)),
        _ => None,
    };
    collection_body(
        req.context(&context_fragment(&l.context, &resolved)),
        items,
        next,
    )
}

/// One object with `$select` and `$expand` (singletons take no query options, GRAPH.md A.8).
pub(crate) fn single(req: &Req, t: &Tenant, slot: u32, context: &str, render: Render) -> Reply {
    let Some(entry) = t.entry(slot) else {
        return not_found(req.ctx, "");
    };
    let coll = entry.collection();
    let singleton = coll.singleton.is_some();
    let select = match &req.query.select {
        Some(s) if !singleton => {
            let types = [entry.ty as usize];
            match resolve_select(req.ctx, t, s, &types, entry.ty().qualified()) {
                Ok(r) => Some(r),
                Err(r) => return r,
            }
        }
        _ => None,
    };
    let expand = match parse_expand(req.ctx, entry.kind as usize, req.query.expand.as_deref()) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut body = Map::new();
    let ctx_text = match &select {
        Some(s) => context.replacen("/$entity", &format!("({})/$entity", s.join(",")), 1),
        None => context.to_string(),
    };
    body.insert(
        "@odata.context".into(),
        Value::String(req.context(&ctx_text)),
    );
    body.extend(t.render(slot, select.as_deref(), render));
    if let Err(r) = add_expanded(req.ctx, t, slot, &expand, &mut body) {
        return r;
    }
    Reply::json(200, Value::Object(body))
}

/// Lists a collection.
pub(crate) fn list(req: &Req, k: usize) -> Reply {
    let t = req.shared.read();
    let m = model();
    let coll = &m.collections[k];
    let base = coll.ty;
    let mut types = vec![base];
    types.extend(m.ty(base).derived.iter().copied());
    let listing = Listing {
        index: t.live(k),
        types,
        type_name: m.ty(base).qualified().to_string(),
        context: coll.path.clone(),
        render: Render::default(),
        expand_kind: Some(k),
    };
    page_by_id(req, &t, &listing)
}
