//! Graph v1.0 routes over the in-memory tenant: one synchronous `dispatch` for a method, a path
//! below `/v1.0` and a query, shared by plain HTTP requests and `$batch` items. Every kind in
//! the schema is served by the same generic code; the irregular corners of Graph (named
//! locations need `@odata.type` on PATCH, the authentication methods policy answers PATCH with
//! 200 and a body, security groups are deleted for good) are named where they are handled.

use std::collections::BTreeSet;
use std::ops::Bound;

use serde_json::{json, Map, Value};

use super::odata::{pct_decode, PageToken, Query, DEFAULT_TOP, MAX_TOP};
use super::server::Shared;
use super::state::{info, kind_index, kind_infos, KindInfo, Render, Tenant};
use crate::schema::KindSpec;

/// Identifies one request in replies and error bodies.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub request_id: String,
    pub client_request_id: String,
}

/// A Graph answer before it becomes HTTP (or a `$batch` item).
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Option<Value>,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }

    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            body: None,
            headers: Vec::new(),
        }
    }
}

/// Graph's error body (GRAPH.md B.6).
pub(crate) fn error(ctx: &Ctx, status: u16, code: &str, message: &str) -> Reply {
    Reply::json(
        status,
        json!({"error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
                "request-id": ctx.request_id,
                "client-request-id": ctx.client_request_id,
            }
        }}),
    )
}

fn bad_request(ctx: &Ctx, message: &str) -> Reply {
    error(ctx, 400, "Request_BadRequest", message)
}

fn not_found(ctx: &Ctx, id: &str) -> Reply {
    error(
        ctx,
        404,
        "Request_ResourceNotFound",
        &format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
    )
}

fn no_segment(ctx: &Ctx, seg: &str) -> Reply {
    error(
        ctx,
        400,
        "BadRequest",
        &format!("Resource not found for the segment '{seg}'."),
    )
}

fn not_allowed(ctx: &Ctx) -> Reply {
    error(
        ctx,
        405,
        "Request_BadRequest",
        "Specified HTTP method is not allowed for the request target.",
    )
}

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Everything a route needs besides the tenant.
struct Req<'a> {
    ctx: &'a Ctx,
    shared: &'a Shared,
    method: &'a str,
    /// The path below the version root as requested, without leading `/` (for nextLinks).
    path: &'a str,
    query: Query,
    body: &'a [u8],
}

impl Req<'_> {
    fn json_body(&self) -> Result<Map<String, Value>, Reply> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(bad_request(
                self.ctx,
                "Empty Payload. JSON content expected.",
            ));
        }
        match serde_json::from_slice(self.body) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(bad_request(
                self.ctx,
                "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
            )),
        }
    }

    fn context(&self, fragment: &str) -> String {
        format!("{}/v1.0/$metadata#{fragment}", self.shared.base)
    }
}

/// Answers one Graph request. `path` is below `/v1.0` (with or without a leading `/`), `query`
/// the raw query string.
pub(crate) fn dispatch(
    shared: &Shared,
    ctx: &Ctx,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
) -> Reply {
    let path = path.trim_matches('/');
    let segs: Vec<String> = path.split('/').map(pct_decode).collect();
    let req = Req {
        ctx,
        shared,
        method,
        path,
        query: Query::parse(query),
        body,
    };
    if let Some(opt) = req.query.unsupported.first() {
        return error(
            ctx,
            400,
            "Request_UnsupportedQuery",
            &format!("The query option '{opt}' is not supported by the tenantgit Graph emulator."),
        );
    }
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match segs.as_slice() {
        ["directory", "deletedItems", rest @ ..] => deleted_items(&req, rest),
        ["directoryObjects", id] if method == "GET" => {
            let t = shared.read();
            match t.live_slot(id) {
                Some(slot) => single(
                    &req,
                    &t,
                    slot,
                    "directoryObjects/$entity",
                    Render {
                        odata_type: true,
                        keep_key: false,
                    },
                ),
                None => not_found(ctx, id),
            }
        }
        [first, rest @ ..] => {
            // `applications(appId='…')` addressing (GRAPH.md A.3, A.4).
            if let Some((name, app_id)) = first
                .split_once("(appId='")
                .and_then(|(n, r)| Some((n, r.strip_suffix("')")?)))
            {
                let Some(k) = kind_index(name)
                    .filter(|_| matches!(name, "applications" | "servicePrincipals"))
                else {
                    return no_segment(ctx, first);
                };
                let id = {
                    let t = shared.read();
                    t.live(k)
                        .values()
                        .filter_map(|s| t.entry(*s))
                        .find(|e| e.str_prop("appId") == Some(app_id))
                        .map(|e| e.id.clone())
                };
                let Some(id) = id else {
                    return not_found(ctx, app_id);
                };
                let mut full = vec![id.as_str()];
                full.extend_from_slice(rest);
                return kind_route(&req, k, &full);
            }
            let mut best: Option<(usize, usize)> = None;
            for (k, ki) in kind_infos().iter().enumerate() {
                let kp: Vec<&str> = ki.spec.path.split('/').collect();
                if segs.len() >= kp.len()
                    && segs[..kp.len()] == kp[..]
                    && best.is_none_or(|(_, n)| kp.len() > n)
                {
                    best = Some((k, kp.len()));
                }
            }
            match best {
                Some((k, n)) => kind_route(&req, k, &segs[n..]),
                None => no_segment(ctx, first),
            }
        }
        [] => no_segment(ctx, ""),
    }
}

fn kind_route(req: &Req, k: usize, rest: &[&str]) -> Reply {
    let ki = info(k);
    let spec = ki.spec;
    let ctx = req.ctx;
    let m = req.method;
    if spec.singleton {
        return match (rest, m) {
            ([], "GET") => {
                let t = req.shared.read();
                match t.live(k).values().next() {
                    Some(slot) => single(
                        req,
                        &t,
                        *slot,
                        &format!("{}/$entity", spec.path),
                        Render::default(),
                    ),
                    None => not_found(ctx, &spec.kind),
                }
            }
            ([], "PATCH") => {
                let slot = req.shared.read().live(k).values().next().copied();
                match slot {
                    Some(slot) => patch(req, ki, slot),
                    None => not_found(ctx, &spec.kind),
                }
            }
            ([], _) => not_allowed(ctx),
            ([seg, ..], _) => no_segment(ctx, seg),
        };
    }
    let lookup = |id: &str| -> Option<u32> {
        let t = req.shared.read();
        let slot = t
            .live_slot(id)
            .filter(|s| t.entry(*s).is_some_and(|e| e.kind == k));
        // Users are also addressed by userPrincipalName (GRAPH.md A.1).
        slot.or_else(|| {
            (spec.kind == "users").then(|| {
                t.live(k).values().copied().find(|s| {
                    t.entry(*s)
                        .and_then(|e| e.str_prop("userPrincipalName"))
                        .is_some_and(|u| u.eq_ignore_ascii_case(id))
                })
            })?
        })
    };
    match rest {
        [] => match m {
            "GET" => list(req, k),
            "POST" => create(req, ki),
            _ => not_allowed(ctx),
        },
        [id] => {
            let Some(slot) = lookup(id) else {
                return not_found(ctx, id);
            };
            match m {
                "GET" => {
                    let t = req.shared.read();
                    let keep_key = req.query.select.as_ref().is_some_and(|s| {
                        s.iter().any(|p| p.eq_ignore_ascii_case("keyCredentials"))
                    });
                    single(
                        req,
                        &t,
                        slot,
                        &format!("{}/$entity", spec.path),
                        Render {
                            odata_type: false,
                            keep_key,
                        },
                    )
                }
                "PATCH" => patch(req, ki, slot),
                "DELETE" if spec.delete => {
                    delete_object(req.shared, slot);
                    Reply::empty(204)
                }
                _ => not_allowed(ctx),
            }
        }
        [id, link, tail @ ..] => {
            let Some(li) = spec.links.iter().position(|l| l.path == *link) else {
                return no_segment(ctx, link);
            };
            let Some(slot) = lookup(id) else {
                return not_found(ctx, id);
            };
            match (tail, m) {
                ([], "GET") => list_links(req, slot, li),
                (["$ref"], "POST") => add_ref(req, slot, li),
                ([oid, "$ref"], "DELETE") => remove_ref(req, slot, li, oid),
                // Without `/$ref` Graph deletes the member object itself (GRAPH.md A.2).
                ([oid], "DELETE") => {
                    let target = {
                        let t = req.shared.read();
                        t.live_slot(oid)
                            .filter(|s| t.entry(slot).is_some_and(|e| e.links[li].contains(s)))
                    };
                    match target {
                        Some(target) if t_kind_deletable(req.shared, target) => {
                            delete_object(req.shared, target);
                            Reply::empty(204)
                        }
                        Some(_) => not_allowed(ctx),
                        None => not_found(ctx, oid),
                    }
                }
                ([seg, ..], _) => {
                    if matches!(*seg, "$ref") || tail.len() <= 2 {
                        not_allowed(ctx)
                    } else {
                        no_segment(ctx, seg)
                    }
                }
                ([], _) => not_allowed(ctx),
            }
        }
    }
}

fn t_kind_deletable(shared: &Shared, slot: u32) -> bool {
    shared
        .read()
        .entry(slot)
        .is_some_and(|e| e.info().spec.delete)
}

/// Resolves `$select` names against the properties Graph knows on `types`.
fn resolve_select(
    ctx: &Ctx,
    select: &[String],
    types: &[&'static KindInfo],
    type_name: &str,
) -> Result<Vec<&'static str>, Reply> {
    let mut out = Vec::with_capacity(select.len());
    for p in select {
        let lower = p.to_ascii_lowercase();
        let Some(canon) = types.iter().find_map(|ki| ki.known.get(&lower).copied()) else {
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

/// Where a page starts, what it selects and how large it is: from the `$skiptoken` when there is
/// one (the token carries the query), from the query otherwise.
/// Where a page starts (exclusive), what it selects, how many items it holds.
type PageStart = (Option<String>, Option<Vec<String>>, usize);

fn paging(req: &Req) -> Result<PageStart, Reply> {
    if let Some(tok) = &req.query.skiptoken {
        return match PageToken::decode(tok).filter(|t| t.c == req.path) {
            Some(t) => Ok((Some(t.a), t.s, t.t)),
            None => Err(bad_request(
                req.ctx,
                "Invalid $skiptoken value: it was not issued for this request.",
            )),
        };
    }
    Ok((None, req.query.select.clone(), page_size(req)?))
}

fn next_link(req: &Req, after: String, select: Option<Vec<String>>, top: usize) -> String {
    let token = PageToken {
        c: req.path.to_string(),
        a: after,
        s: select,
        t: top,
    };
    format!(
        "{}/v1.0/{}?$skiptoken={}",
        req.shared.base,
        req.path,
        token.encode()
    )
}

fn collection_body(req: &Req, context: String, items: Vec<Value>, next: Option<String>) -> Reply {
    let mut body = Map::new();
    body.insert("@odata.context".into(), Value::String(context));
    if let Some(next) = next {
        body.insert("@odata.nextLink".into(), Value::String(next));
    }
    body.insert("value".into(), Value::Array(items));
    let _ = req;
    Reply::json(200, Value::Object(body))
}

fn context_fragment(base: &str, select: &Option<Vec<&'static str>>) -> String {
    match select {
        Some(s) => format!("{base}({})", s.join(",")),
        None => base.to_string(),
    }
}

/// One page of a collection ordered by id; paging resumes after the last id returned, so it stays
/// correct while objects are added and removed.
fn page_by_id(
    req: &Req,
    t: &Tenant,
    index: &std::collections::BTreeMap<String, u32>,
    types: &[&'static KindInfo],
    type_name: &str,
    context: &str,
    render: Render,
) -> Reply {
    let (after, select, top) = match paging(req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let resolved = match &select {
        Some(s) => match resolve_select(req.ctx, s, types, type_name) {
            Ok(r) => Some(r),
            Err(r) => return r,
        },
        None => None,
    };
    let range = match &after {
        Some(a) => index.range::<str, _>((Bound::Excluded(a.as_str()), Bound::Unbounded)),
        None => index.range::<str, _>(..),
    };
    let mut items = Vec::with_capacity(top.min(index.len()));
    let mut last = None;
    let mut more = false;
    for (id, slot) in range {
        if items.len() == top {
            more = true;
            break;
        }
        items.push(Value::Object(t.render(*slot, resolved.as_deref(), render)));
        last = Some(id.clone());
    }
    let next = match (more, last) {
        (true, Some(last)) => Some(next_link(req, last, select, top)),
        _ => None,
    };
    collection_body(
        req,
        req.context(&context_fragment(context, &resolved)),
        items,
        next,
    )
}

fn list(req: &Req, k: usize) -> Reply {
    let t = req.shared.read();
    let ki = info(k);
    page_by_id(
        req,
        &t,
        t.live(k),
        &[ki],
        ki.type_name,
        &ki.spec.path,
        Render::default(),
    )
}

fn single(req: &Req, t: &Tenant, slot: u32, context: &str, render: Render) -> Reply {
    let Some(entry) = t.entry(slot) else {
        return not_found(req.ctx, "");
    };
    let ki = entry.info();
    let select = match &req.query.select {
        Some(s) if !ki.spec.singleton => match resolve_select(req.ctx, s, &[ki], ki.type_name) {
            Ok(r) => Some(r),
            Err(r) => return r,
        },
        _ => None,
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
    Reply::json(200, Value::Object(body))
}

/// Kinds whose objects can be link ends, for `$select` on directory-object lists.
fn directory_types() -> Vec<&'static KindInfo> {
    ["users", "groups", "servicePrincipals", "applications"]
        .iter()
        .filter_map(|n| kind_index(n).map(info))
        .collect()
}

fn list_links(req: &Req, slot: u32, li: usize) -> Reply {
    let t = req.shared.read();
    let (after, select, top) = match paging(req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let types = directory_types();
    let resolved = match &select {
        Some(s) => match resolve_select(req.ctx, s, &types, "microsoft.graph.directoryObject") {
            Ok(r) => Some(r),
            Err(r) => return r,
        },
        None => None,
    };
    let Some(entry) = t.entry(slot) else {
        return not_found(req.ctx, "");
    };
    let after: Option<u32> = after.and_then(|a| a.parse().ok());
    let set: &BTreeSet<u32> = &entry.links[li];
    let range = match after {
        Some(a) => set.range((Bound::Excluded(a), Bound::Unbounded)),
        None => set.range(..),
    };
    let mut items = Vec::new();
    let mut last = None;
    let mut more = false;
    for s in range.filter(|s| t.is_live(**s)) {
        if items.len() == top {
            more = true;
            break;
        }
        items.push(Value::Object(t.render(
            *s,
            resolved.as_deref(),
            Render {
                odata_type: true,
                keep_key: false,
            },
        )));
        last = Some(*s);
    }
    let next = match (more, last) {
        (true, Some(last)) => Some(next_link(req, last.to_string(), select, top)),
        _ => None,
    };
    collection_body(
        req,
        req.context(&context_fragment("directoryObjects", &resolved)),
        items,
        next,
    )
}

/// The object id at the end of a directory-object URL in `@odata.id` / `@odata.bind`: any form
/// (`…/directoryObjects/{id}`, `…/users/{id}`, `directoryObjects('{id}')`), the last segment.
fn ref_target(url: &str) -> Option<String> {
    let url = url.split(['?', '#']).next()?.trim_end_matches('/');
    let last = url.rsplit('/').next()?;
    let id = match last.split_once("('") {
        Some((_, rest)) => rest.strip_suffix("')")?,
        None => last,
    };
    (!id.is_empty()).then(|| pct_decode(id))
}

/// Checks that `target` may be added to link `li` of `owner`; the error is Graph's.
fn check_link_add(
    ctx: &Ctx,
    t: &Tenant,
    owner: u32,
    li: usize,
    target_id: &str,
    adding: &BTreeSet<u32>,
) -> Result<u32, Reply> {
    let owner_e = t.entry(owner).ok_or_else(|| not_found(ctx, ""))?;
    let link = &owner_e.info().spec.links[li];
    let target = t
        .live_slot(target_id)
        .ok_or_else(|| not_found(ctx, target_id))?;
    let target_kind = t
        .entry(target)
        .map(|e| e.info().spec.kind.as_str())
        .unwrap_or_default();
    let allowed: &[&str] = if link.name == "members" {
        &["users", "groups", "servicePrincipals"]
    } else {
        &["users", "servicePrincipals"]
    };
    if !allowed.contains(&target_kind) {
        return Err(bad_request(
            ctx,
            &format!(
                "An object of type '{target_kind}' cannot be added to '{}'.",
                link.name
            ),
        ));
    }
    if target == owner {
        return Err(bad_request(
            ctx,
            "An object cannot be added as a member of itself.",
        ));
    }
    if owner_e.links[li].contains(&target) || adding.contains(&target) {
        return Err(bad_request(
            ctx,
            &format!(
                "One or more added object references already exist for the following modified properties: '{}'.",
                link.name
            ),
        ));
    }
    if link.name == "owners" && owner_e.links[li].len() + adding.len() >= 100 {
        return Err(bad_request(
            ctx,
            "The maximum number of owners (100) has been reached.",
        ));
    }
    Ok(target)
}

fn add_ref(req: &Req, slot: u32, li: usize) -> Reply {
    let body = match req.json_body() {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(target_id) = body
        .get("@odata.id")
        .and_then(Value::as_str)
        .and_then(ref_target)
    else {
        return bad_request(
            req.ctx,
            "The request must contain a valid '@odata.id' directory object URL.",
        );
    };
    let mut t = req.shared.write();
    match check_link_add(req.ctx, &t, slot, li, &target_id, &BTreeSet::new()) {
        Ok(target) => {
            if let Some(e) = t.entry_mut(slot) {
                e.links[li].insert(target);
            }
            Reply::empty(204)
        }
        Err(r) => r,
    }
}

fn remove_ref(req: &Req, slot: u32, li: usize, oid: &str) -> Reply {
    let mut t = req.shared.write();
    let Some(target) = t.live_slot(oid) else {
        return not_found(req.ctx, oid);
    };
    let Some(entry) = t.entry_mut(slot) else {
        return not_found(req.ctx, oid);
    };
    let link = &entry.info().spec.links[li];
    if !entry.links[li].contains(&target) {
        return not_found(req.ctx, oid);
    }
    if link.keep_last && entry.links[li].len() == 1 {
        return bad_request(
            req.ctx,
            "The group must have at least one owner, hence this owner cannot be removed.",
        );
    }
    entry.links[li].remove(&target);
    Reply::empty(204)
}

/// Properties and `@odata.bind` links of a PATCH or POST body, checked against the kind.
struct Writes {
    props: Vec<(&'static str, Value)>,
    binds: Vec<(usize, Vec<String>)>,
    odata_type: Option<String>,
}

fn parse_writes(
    ctx: &Ctx,
    ki: &KindInfo,
    body: Map<String, Value>,
    creating: bool,
    existing_type: Option<&str>,
) -> Result<Writes, Reply> {
    let spec = ki.spec;
    let mut w = Writes {
        props: Vec::new(),
        binds: Vec::new(),
        odata_type: None,
    };
    for (key, value) in body {
        if key == "@odata.type" {
            let t = value.as_str().unwrap_or_default().to_string();
            let t = if t.starts_with('#') {
                t
            } else {
                format!("#{t}")
            };
            let ok = if spec.has_variants() {
                spec.variants.contains_key(&t) && existing_type.is_none_or(|e| e == t)
            } else {
                t == spec.graph_type
            };
            if !ok {
                return Err(bad_request(
                    ctx,
                    &format!("A type named '{}' could not be resolved by the model, or does not match the resource.", t.trim_start_matches('#')),
                ));
            }
            w.odata_type = Some(t);
            continue;
        }
        if let Some(link) = key.strip_suffix("@odata.bind") {
            let Some(li) = spec.links.iter().position(|l| l.name == link) else {
                return Err(bad_request(ctx, &format!("Property '{key}' does not exist as a declared property or extension property.")));
            };
            let Some(urls) = value.as_array().and_then(|a| {
                a.iter()
                    .map(|u| u.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
            }) else {
                return Err(bad_request(
                    ctx,
                    &format!("The value of '{key}' must be an array of directory object URLs."),
                ));
            };
            w.binds.push((li, urls));
            continue;
        }
        let Some(canon) = ki.known.get(&key.to_ascii_lowercase()).copied() else {
            return Err(bad_request(
                ctx,
                &format!(
                    "Property '{key}' does not exist as a declared property or extension property."
                ),
            ));
        };
        let create_only = spec.is_create_only(canon);
        if ki.read_only.contains(canon) && !(creating && create_only) {
            let message = if canon == "passwordCredentials" {
                "Property 'passwordCredentials' is read-only and cannot be set. Use the addPassword and removePassword actions.".to_string()
            } else {
                format!("Property '{canon}' is read-only and cannot be set.")
            };
            return Err(bad_request(ctx, &message));
        }
        w.props.push((canon, value));
    }
    if spec.has_variants() {
        let t = w.odata_type.as_deref().or(existing_type);
        let Some(t) = t.filter(|_| w.odata_type.is_some()) else {
            return Err(bad_request(
                ctx,
                &format!(
                    "The request body must include '@odata.type' (one of {}) for a {}.",
                    spec.variants.keys().cloned().collect::<Vec<_>>().join(", "),
                    ki.type_name
                ),
            ));
        };
        let managed = spec.managed_for(Some(t));
        if let Some((p, _)) = w
            .props
            .iter()
            .find(|(p, _)| !managed.contains(p) && !ki.read_only.contains(p))
        {
            return Err(bad_request(
                ctx,
                &format!(
                    "Property '{p}' does not exist as a declared property or extension property."
                ),
            ));
        }
    }
    let binds: usize = w.binds.iter().map(|(_, u)| u.len()).sum();
    if binds > 20 {
        return Err(bad_request(ctx, &format!("The request has {binds} '@odata.bind' references; at most 20 are allowed in one request.")));
    }
    Ok(w)
}

/// Validates every bind of a request before any is applied (all or nothing).
fn resolve_binds(
    ctx: &Ctx,
    t: &Tenant,
    owner: Option<u32>,
    binds: &[(usize, Vec<String>)],
    nlinks: usize,
) -> Result<Vec<BTreeSet<u32>>, Reply> {
    let mut adding: Vec<BTreeSet<u32>> = vec![BTreeSet::new(); nlinks];
    for (li, urls) in binds {
        for url in urls {
            let id = ref_target(url).ok_or_else(|| {
                bad_request(ctx, &format!("Invalid directory object URL '{url}'."))
            })?;
            let target = match owner {
                Some(o) => check_link_add(ctx, t, o, *li, &id, &adding[*li])?,
                None => t.live_slot(&id).ok_or_else(|| not_found(ctx, &id))?,
            };
            adding[*li].insert(target);
        }
    }
    Ok(adding)
}

fn patch(req: &Req, ki: &'static KindInfo, slot: u32) -> Reply {
    let body = match req.json_body() {
        Ok(b) => b,
        Err(r) => return r,
    };
    let spec = ki.spec;
    let mut t = req.shared.write();
    let existing_type = t.entry(slot).map(|e| e.odata_type().to_string());
    let w = match parse_writes(req.ctx, ki, body, false, existing_type.as_deref()) {
        Ok(w) => w,
        Err(r) => return r,
    };
    if spec.odata_type_on_patch && w.odata_type.is_none() {
        return bad_request(req.ctx, "The request body must include '@odata.type'.");
    }
    if let Some(r) = unique_check(req.ctx, &t, ki, Some(slot), &w.props) {
        return r;
    }
    let adding = match resolve_binds(req.ctx, &t, Some(slot), &w.binds, spec.links.len()) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Some(entry) = t.entry_mut(slot) else {
        return not_found(req.ctx, "");
    };
    for (p, v) in w.props {
        if spec.is_secret(p) {
            continue;
        }
        if v.is_null() {
            entry.props.remove(p);
        } else {
            entry.props.insert(p.to_string(), v);
        }
    }
    for (li, set) in adding.into_iter().enumerate() {
        entry.links[li].extend(set);
    }
    for stamp in ["modifiedDateTime", "lastModifiedDateTime"] {
        if ki.known.contains_key(&stamp.to_ascii_lowercase()) {
            entry.props.insert(stamp.into(), Value::String(now()));
        }
    }
    // The authentication methods policy answers PATCH with 200 and the policy (GRAPH.md A.8).
    if spec.kind == "authenticationMethodsPolicy" {
        let mut body = Map::new();
        body.insert(
            "@odata.context".into(),
            Value::String(req.context(&format!("{}/$entity", spec.path))),
        );
        body.extend(t.render(slot, None, Render::default()));
        return Reply::json(200, Value::Object(body));
    }
    Reply::empty(204)
}

/// Graph refuses a second user with one userPrincipalName.
fn unique_check(
    ctx: &Ctx,
    t: &Tenant,
    ki: &KindInfo,
    me: Option<u32>,
    props: &[(&'static str, Value)],
) -> Option<Reply> {
    if ki.spec.kind != "users" {
        return None;
    }
    let upn = props
        .iter()
        .find(|(p, _)| *p == "userPrincipalName")?
        .1
        .as_str()?;
    let k = kind_index("users")?;
    let clash = t.live(k).values().any(|s| {
        Some(*s) != me
            && t.entry(*s)
                .and_then(|e| e.str_prop("userPrincipalName"))
                .is_some_and(|u| u.eq_ignore_ascii_case(upn))
    });
    clash.then(|| {
        bad_request(
            ctx,
            "Another object with the same value for property userPrincipalName already exists.",
        )
    })
}

/// Properties Graph requires on create, per kind.
fn required_on_create(kind: &str) -> &'static [&'static str] {
    match kind {
        "users" => &[
            "accountEnabled",
            "displayName",
            "mailNickname",
            "passwordProfile",
            "userPrincipalName",
        ],
        "groups" => &[
            "displayName",
            "mailEnabled",
            "mailNickname",
            "securityEnabled",
        ],
        "applications" => &["displayName"],
        "servicePrincipals" => &["appId"],
        "conditionalAccessPolicies" => &["displayName", "state", "conditions"],
        "namedLocations" => &["displayName"],
        _ => &[],
    }
}

fn create(req: &Req, ki: &'static KindInfo) -> Reply {
    let spec = ki.spec;
    if !spec.create {
        return not_allowed(req.ctx);
    }
    let body = match req.json_body() {
        Ok(b) => b,
        Err(r) => return r,
    };
    let w = match parse_writes(req.ctx, ki, body, true, None) {
        Ok(w) => w,
        Err(r) => return r,
    };
    for p in required_on_create(&spec.kind) {
        if !w.props.iter().any(|(q, v)| q == p && !v.is_null()) {
            let resource = ki.type_name.trim_start_matches("microsoft.graph.");
            return bad_request(
                req.ctx,
                &format!("Invalid value specified for property '{p}' of resource '{resource}'."),
            );
        }
    }
    let mut t = req.shared.write();
    if let Some(r) = unique_check(req.ctx, &t, ki, None, &w.props) {
        return r;
    }
    let adding = match resolve_binds(req.ctx, &t, None, &w.binds, spec.links.len()) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mut props = Map::new();
    if let Some(ty) = &w.odata_type {
        if spec.has_variants() {
            props.insert("@odata.type".into(), Value::String(ty.clone()));
        }
    }
    for (p, v) in w.props {
        if !spec.is_secret(p) {
            props.insert(p.to_string(), v);
        }
    }
    if let Err(r) = server_side_props(req, &t, spec, &mut props) {
        return r;
    }
    let id = uuid::Uuid::new_v4().to_string();
    let k = kind_index(&spec.kind).expect("kind infos come from the schema");
    let slot = t.insert(k, id, props);
    if let Some(e) = t.entry_mut(slot) {
        for (li, set) in adding.into_iter().enumerate() {
            e.links[li].extend(set);
        }
    }
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        Value::String(req.context(&format!("{}/$entity", spec.path))),
    );
    body.extend(t.render(slot, None, Render::default()));
    Reply::json(201, Value::Object(body))
}

/// What the directory fills in on create.
fn server_side_props(
    req: &Req,
    t: &Tenant,
    spec: &KindSpec,
    props: &mut Map<String, Value>,
) -> Result<(), Reply> {
    let stamp = Value::String(now());
    fn set(props: &mut Map<String, Value>, k: &str, v: Value) {
        props.entry(k.to_string()).or_insert(v);
    }
    match spec.kind.as_str() {
        "users" => {
            set(props, "createdDateTime", stamp);
            set(props, "userType", json!("Member"));
        }
        "groups" => {
            set(props, "createdDateTime", stamp);
            let u = uuid::Uuid::new_v4().as_u128();
            set(
                props,
                "securityIdentifier",
                json!(format!(
                    "S-1-12-1-{}-{}-{}-{}",
                    u as u32,
                    (u >> 32) as u32,
                    (u >> 64) as u32,
                    (u >> 96) as u32
                )),
            );
            if props.get("mailEnabled") == Some(&Value::Bool(true)) {
                let nick = props
                    .get("mailNickname")
                    .and_then(Value::as_str)
                    .unwrap_or("group")
                    .to_string();
                let mail = format!("{nick}@contoso.example");
                props
                    .entry("proxyAddresses")
                    .or_insert(json!([format!("SMTP:{mail}")]));
                props.entry("mail").or_insert(json!(mail));
            }
        }
        "applications" => {
            set(props, "createdDateTime", stamp);
            set(props, "appId", json!(uuid::Uuid::new_v4().to_string()));
            set(props, "publisherDomain", json!("contoso.example"));
            set(props, "signInAudience", json!("AzureADMyOrg"));
            set(props, "keyCredentials", json!([]));
            set(props, "passwordCredentials", json!([]));
        }
        "servicePrincipals" => {
            let app_id = props
                .get("appId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let apps = kind_index("applications").expect("applications kind exists");
            let sps = kind_index("servicePrincipals").expect("servicePrincipals kind exists");
            let app = t
                .live(apps)
                .values()
                .filter_map(|s| t.entry(*s))
                .find(|e| e.str_prop("appId") == Some(app_id.as_str()));
            let Some(app) = app else {
                return Err(bad_request(req.ctx, &format!("The appId '{app_id}' of the service principal does not reference a valid application object.")));
            };
            if t.live(sps)
                .values()
                .filter_map(|s| t.entry(*s))
                .any(|e| e.str_prop("appId") == Some(app_id.as_str()))
            {
                return Err(error(req.ctx, 409, "Request_MultipleObjectsWithSameKeyValue", "Another object with the same value for property servicePrincipalNames already exists."));
            }
            let name = app.props.get("displayName").cloned().unwrap_or(Value::Null);
            let audience = app
                .props
                .get("signInAudience")
                .cloned()
                .unwrap_or(Value::Null);
            set(props, "displayName", name.clone());
            set(props, "appDisplayName", name);
            set(props, "servicePrincipalType", json!("Application"));
            set(props, "accountEnabled", json!(true));
            set(props, "signInAudience", audience);
            set(props, "appOwnerOrganizationId", json!(req.shared.tenant_id));
            set(props, "servicePrincipalNames", json!([app_id]));
            set(props, "keyCredentials", json!([]));
            set(props, "passwordCredentials", json!([]));
        }
        "conditionalAccessPolicies" | "namedLocations" => {
            set(props, "createdDateTime", stamp.clone());
            set(props, "modifiedDateTime", stamp);
        }
        _ => {}
    }
    Ok(())
}

/// Soft delete where the kind has it (groups only when they are Microsoft 365 groups: security
/// groups are deleted permanently, GRAPH.md A.2), permanent otherwise.
pub(crate) fn delete_object(shared: &Shared, slot: u32) {
    let mut t = shared.write();
    let Some(entry) = t.entry(slot) else { return };
    let spec = entry.info().spec;
    let soft = spec.soft_delete
        && (spec.kind != "groups"
            || entry
                .props
                .get("groupTypes")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|v| v == "Unified")));
    if soft {
        t.soft_delete(slot, now());
    } else {
        t.purge(slot);
    }
}

fn deleted_items(req: &Req, rest: &[&str]) -> Reply {
    let ctx = req.ctx;
    let m = req.method;
    match rest {
        [cast] if cast.starts_with("microsoft.graph.") => {
            if m != "GET" {
                return not_allowed(ctx);
            }
            let Some((k, ki)) = kind_infos().iter().enumerate().find(|(_, ki)| ki.type_name == *cast && ki.spec.soft_delete) else {
                return bad_request(ctx, &format!("'{cast}' is not a type that can be restored from deleted items."));
            };
            let t = req.shared.read();
            page_by_id(
                req,
                &t,
                t.recycle(k),
                &[ki],
                ki.type_name,
                &format!("directory/deletedItems/{cast}"),
                Render { odata_type: true, keep_key: false },
            )
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
                    single(req, &t, slot, "directoryObjects/$entity", Render { odata_type: true, keep_key: false })
                }
                ([], "DELETE") => {
                    req.shared.write().purge(slot);
                    Reply::empty(204)
                }
                (["restore"], "POST") => {
                    let mut t = req.shared.write();
                    let Some(e) = t.entry(slot) else {
                        return not_found(ctx, id);
                    };
                    let ki = e.info();
                    let upn = e.props.get("userPrincipalName").cloned();
                    if let Some(upn) = upn {
                        if let Some(r) = unique_check(ctx, &t, ki, Some(slot), &[("userPrincipalName", upn)]) {
                            return r;
                        }
                    }
                    t.restore(slot);
                    let mut body = Map::new();
                    body.insert("@odata.context".into(), Value::String(req.context("directoryObjects/$entity")));
                    body.extend(t.render(slot, None, Render { odata_type: true, keep_key: false }));
                    Reply::json(200, Value::Object(body))
                }
                ([seg, ..], _) => no_segment(ctx, seg),
                ([], _) => not_allowed(ctx),
            }
        }
    }
}

/// Resource units of a request (GRAPH.md B.5), `$select` and `$top` taken from the skiptoken
/// when the request is a nextLink.
pub(crate) fn request_cost(method: &str, path: &str, query: &str) -> u32 {
    let q = Query::parse(query);
    let (select, top) = match q.skiptoken.as_deref().and_then(PageToken::decode) {
        Some(t) => (t.s.is_some(), Some(t.t)),
        None => (
            q.select.is_some(),
            q.top.as_deref().and_then(|t| t.parse().ok()),
        ),
    };
    let expand = query.to_ascii_lowercase().contains("expand=");
    super::throttle::cost(method, path, select, top, expand)
}
