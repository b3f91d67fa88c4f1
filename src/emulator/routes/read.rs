//! Reading objects: `$select` resolved against the model, `$top`, opaque `$skiptoken` paging
//! ordered by id (so it stays right while objects come and go), single objects, and `$expand` of
//! a single-valued reference (`users?$expand=manager($select=id,displayName)`).

use std::collections::BTreeMap;
use std::ops::Bound;

use serde_json::{Map, Value};

use super::extensions;
use super::reply::{bad_request, error, not_found, Ctx, Reply};
use super::request::Req;
use crate::emulator::model::model;
use crate::emulator::odata::{PageToken, DEFAULT_TOP, MAX_TOP};
use crate::emulator::state::{Render, Tenant};

/// Resolves `$select` names against the properties Graph knows on `types` (and the directory
/// extensions defined for them), in Graph's spelling.
pub(crate) fn resolve_select(
    ctx: &Ctx,
    t: &Tenant,
    select: &[String],
    types: &[usize],
    type_name: &str,
) -> Result<Vec<String>, Reply> {
    let m = model();
    let mut out: Vec<String> = Vec::with_capacity(select.len());
    for p in select {
        let known = types
            .iter()
            .find_map(|ty| m.ty(*ty).prop(p).map(|q| q.name.clone()))
            .or_else(|| {
                types
                    .iter()
                    .find_map(|ty| extensions::definition(t, p, m.ty(*ty)).map(|e| e.name))
            });
        let Some(canon) = known else {
            return Err(bad_request(
                ctx,
                &format!("Could not find a property named '{p}' on type '{type_name}'."),
            ));
        };
        if !out.contains(&canon) {
            out.push(canon);
        }
    }
    Ok(out)
}

/// A single-valued reference to return inside each object.
#[derive(Debug, Clone)]
pub(crate) struct Expand {
    pub link: usize,
    pub name: String,
    pub select: Option<Vec<String>>,
}

/// Parses `$expand` for a collection: `manager` or `manager($select=id,displayName)`.
pub(crate) fn parse_expand(
    ctx: &Ctx,
    kind: usize,
    raw: Option<&str>,
) -> Result<Option<Expand>, Reply> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let coll = &model().collections[kind];
    let (name, options) = match raw.split_once('(') {
        Some((n, rest)) => (n.trim(), rest.strip_suffix(')')),
        None => (raw, Some("")),
    };
    let unsupported = || unsupported_expand(ctx, raw);
    let Some(link) = coll.link(name).filter(|l| coll.links[*l].single) else {
        return Err(unsupported());
    };
    let Some(options) = options else {
        return Err(unsupported());
    };
    let mut select = None;
    for opt in options.split(';').map(str::trim).filter(|o| !o.is_empty()) {
        match opt.split_once('=') {
            Some((k, v))
                if k.trim()
                    .trim_start_matches('$')
                    .eq_ignore_ascii_case("select") =>
            {
                select = Some(v.split(',').map(|s| s.trim().to_string()).collect());
            }
            _ => return Err(unsupported()),
        }
    }
    Ok(Some(Expand {
        link,
        name: coll.links[link].name.clone(),
        select,
    }))
}

pub(crate) fn unsupported_expand(ctx: &Ctx, raw: &str) -> Reply {
    error(
        ctx,
        400,
        "Request_UnsupportedQuery",
        &format!(
            "The query option '$expand={raw}' is not supported by the tenantgit Graph emulator."
        ),
    )
}

/// Entity types that can be reference ends, for `$select` on directory-object results.
pub(crate) fn directory_types() -> Vec<usize> {
    let m = model();
    (0..m.types.len())
        .filter(|t| m.is_a(*t, "directoryObject") && !m.ty(*t).is_abstract)
        .collect()
}

/// Adds the expanded reference to a rendered object.
fn add_expanded(
    ctx: &Ctx,
    t: &Tenant,
    slot: u32,
    x: &Expand,
    out: &mut Map<String, Value>,
) -> Result<(), Reply> {
    let Some(target) = t
        .entry(slot)
        .and_then(|e| e.links[x.link].iter().copied().find(|s| t.is_live(*s)))
    else {
        return Ok(());
    };
    let select = match &x.select {
        Some(s) => Some(resolve_select(
            ctx,
            t,
            s,
            &directory_types(),
            "microsoft.graph.directoryObject",
        )?),
        None => None,
    };
    let r = t.render(
        target,
        select.as_deref(),
        Render {
            odata_type: true,
            keep_key: false,
        },
    );
    out.insert(x.name.clone(), Value::Object(r));
    Ok(())
}

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
        (None, None) => None,
    };
    let range = match &page.after {
        Some(a) => l
            .index
            .range::<str, _>((Bound::Excluded(a.as_str()), Bound::Unbounded)),
        None => l.index.range::<str, _>(..),
    };
    let mut items = Vec::with_capacity(page.top.min(l.index.len()));
    let mut last = None;
    let mut more = false;
    for (id, slot) in range {
        if items.len() == page.top {
            more = true;
            break;
        }
        let mut obj = t.render(*slot, resolved.as_deref(), l.render);
        if let Some(x) = &expand {
            if let Err(r) = add_expanded(req.ctx, t, *slot, x, &mut obj) {
                return r;
            }
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
    if let Some(x) = &expand {
        if let Err(r) = add_expanded(req.ctx, t, slot, x, &mut body) {
            return r;
        }
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
