//! Where a request goes: one synchronous `dispatch` for a method, a path below `/v1.0` and a
//! query, shared by plain requests and `$batch` items. Paths are matched against the model's
//! collections (longest path first), then an object id (or alternate key), then a reference, a
//! reverse lookup or a contained child below it; `directoryObjects/…` and `invitations` have their
//! own modules. Also the resource-unit cost of a request.

use super::read::{list, single};
use super::reply::{error, no_segment, not_allowed, not_found, unsupported_expand, Ctx, Reply};
use super::request::Req;
use super::{children, deleted, delta, directory, invitations, links, reverse, writes};
use crate::emulator::model::model;
use crate::emulator::odata::{pct_decode, PageToken, Query};
use crate::emulator::shared::Shared;
use crate::emulator::state::Render;

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
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    // Delta takes options (`$deltatoken`, `$filter=id eq …`) the other routes refuse.
    if let Some(reply) = delta::route(&req, &segs, query) {
        return reply;
    }
    if let Some(opt) = req.query.unsupported.first() {
        return error(
            ctx,
            400,
            "Request_UnsupportedQuery",
            &format!("The query option '{opt}' is not supported by the tenantgit Graph emulator."),
        );
    }
    match segs.as_slice() {
        ["directory", "deletedItems", rest @ ..] => deleted::route(&req, rest),
        ["directoryObjects", rest @ ..] if !rest.is_empty() => directory::route(&req, rest),
        ["invitations"] => invitations::route(&req),
        [first, rest @ ..] => {
            if let Some(reply) = by_key_function(&req, first, rest) {
                return reply;
            }
            let m = model();
            let best = m
                .collections
                .iter()
                .enumerate()
                .filter(|(_, c)| segs.len() >= c.segs.len() && segs[..c.segs.len()] == c.segs[..])
                .max_by_key(|(_, c)| c.segs.len());
            match best {
                Some((k, c)) => collection_route(&req, k, &segs[c.segs.len()..]),
                None => no_segment(ctx, first),
            }
        }
        [] => no_segment(ctx, ""),
    }
}

/// `applications(appId='…')/…` addressing (GRAPH.md A.3, A.4).
fn by_key_function(req: &Req, first: &str, rest: &[&str]) -> Option<Reply> {
    let (name, args) = first.split_once('(')?;
    let args = args.strip_suffix(')')?;
    let m = model();
    let Some((k, coll)) = m
        .collections
        .iter()
        .enumerate()
        .find(|(_, c)| c.path == name && c.key_function.is_some())
    else {
        return Some(no_segment(req.ctx, first));
    };
    let key = coll.key_function.as_deref().unwrap_or_default();
    let Some(value) = args
        .split_once('=')
        .filter(|(p, _)| p.trim() == key)
        .map(|(_, v)| v.trim().trim_matches('\''))
    else {
        return Some(no_segment(req.ctx, first));
    };
    let id = {
        let t = req.shared.read();
        t.find_by(k, key, value)
            .and_then(|s| t.entry(s))
            .map(|e| e.id.clone())
    };
    let Some(id) = id else {
        return Some(not_found(req.ctx, value));
    };
    let mut full = vec![id.as_str()];
    full.extend_from_slice(rest);
    Some(collection_route(req, k, &full))
}

/// The live object of collection `k` named by `id` (or by the collection's alternate key).
fn lookup(req: &Req, k: usize, id: &str) -> Option<u32> {
    let t = req.shared.read();
    let slot = t
        .live_slot(id)
        .filter(|s| t.entry(*s).is_some_and(|e| e.kind as usize == k));
    slot.or_else(|| {
        let alt = model().collections[k].alternate_key.as_deref()?;
        t.find_by(k, alt, id)
    })
}

/// A contained collection segment, possibly addressing one child by alternate key:
/// `federatedIdentityCredentials(name='x')` gives the child index and `(name='x')`.
fn child_segment(k: usize, seg: &str) -> Option<(usize, Option<&str>)> {
    let coll = &model().collections[k];
    match seg.find('(') {
        Some(i) => coll.child(&seg[..i]).map(|ci| (ci, Some(&seg[i..]))),
        None => coll.child(seg).map(|ci| (ci, None)),
    }
}

fn with_key<'a>(key: Option<&'a str>, tail: &[&'a str]) -> Vec<&'a str> {
    key.into_iter().chain(tail.iter().copied()).collect()
}

fn collection_route(req: &Req, k: usize, rest: &[&str]) -> Reply {
    let coll = &model().collections[k];
    let ctx = req.ctx;
    let m = req.method;
    if coll.singleton.is_some() {
        let slot = req.shared.read().live(k).values().next().copied();
        let Some(slot) = slot else {
            return not_found(ctx, &coll.name);
        };
        return match (rest, m) {
            ([], "GET") => {
                let t = req.shared.read();
                single(
                    req,
                    &t,
                    slot,
                    &format!("{}/$entity", coll.path),
                    Render::default(),
                )
            }
            ([], "PATCH") => writes::patch(req, k, slot),
            ([], _) => not_allowed(ctx),
            ([_, ..], _) if req.query.expand.is_some() => {
                unsupported_expand(ctx, req.query.expand.as_deref().unwrap_or_default())
            }
            ([seg, tail @ ..], _) => match child_segment(k, seg) {
                Some((ci, key)) => children::route(req, slot, ci, &with_key(key, tail)),
                None => no_segment(ctx, seg),
            },
        };
    }
    match rest {
        [] => match m {
            "GET" => list(req, k),
            "POST" => writes::create(req, k),
            _ => not_allowed(ctx),
        },
        [id] => {
            let Some(slot) = lookup(req, k, id) else {
                return not_found(ctx, id);
            };
            match m {
                "GET" => {
                    let t = req.shared.read();
                    let keep_key = req.query.select.as_ref().is_some_and(|s| {
                        s.iter().any(|p| p.eq_ignore_ascii_case("keyCredentials"))
                    });
                    let render = Render {
                        odata_type: false,
                        keep_key,
                        omit_null: false,
                    };
                    single(req, &t, slot, &format!("{}/$entity", coll.path), render)
                }
                "PATCH" => writes::patch(req, k, slot),
                "DELETE" => writes::delete(req, slot),
                _ => not_allowed(ctx),
            }
        }
        [id, seg, tail @ ..] => {
            // Only objects themselves expand their references.
            if let Some(x) = &req.query.expand {
                return unsupported_expand(ctx, x);
            }
            if let Some((ci, key)) = child_segment(k, seg) {
                let Some(slot) = lookup(req, k, id) else {
                    return not_found(ctx, id);
                };
                return children::route(req, slot, ci, &with_key(key, tail));
            }
            if let Some(rev) = coll.reverse(seg) {
                let Some(slot) = lookup(req, k, id) else {
                    return not_found(ctx, id);
                };
                if let Some(cast) = tail.first() {
                    return no_segment(ctx, cast);
                }
                return reverse::route(req, slot, rev, tail);
            }
            let Some(li) = coll.link(seg) else {
                return no_segment(ctx, seg);
            };
            let Some(slot) = lookup(req, k, id) else {
                return not_found(ctx, id);
            };
            if coll.links[li].single {
                return match (tail, m) {
                    ([], "GET") => links::get_one(req, slot, li, None),
                    (["$ref"], "PUT") => links::put_ref(req, slot, li),
                    (["$ref"], "DELETE") => links::delete_single_ref(req, slot, li),
                    ([seg, ..], _) if *seg != "$ref" => no_segment(ctx, seg),
                    _ => not_allowed(ctx),
                };
            }
            match (tail, m) {
                ([], "GET") => links::list_links(req, slot, li),
                (["$ref"], "POST") => links::add_ref(req, slot, li),
                ([oid, "$ref"], "DELETE") => links::remove_ref(req, slot, li, oid),
                ([oid], "GET") => links::get_one(req, slot, li, Some(oid)),
                // Without `/$ref` Graph deletes the member object itself (GRAPH.md A.2).
                ([oid], "DELETE") => {
                    let target = {
                        let t = req.shared.read();
                        t.live_slot(oid)
                            .filter(|s| t.entry(slot).is_some_and(|e| e.links[li].contains(s)))
                    };
                    match target {
                        Some(target) => writes::delete(req, target),
                        None => not_found(ctx, oid),
                    }
                }
                ([seg, ..], _) if *seg != "$ref" && tail.len() > 2 => no_segment(ctx, seg),
                _ => not_allowed(ctx),
            }
        }
    }
}

/// Resource units of a request (GRAPH.md B.5), `$select`, `$top` and `$expand` taken from the
/// skiptoken when the request is a nextLink.
pub(crate) fn request_cost(method: &str, path: &str, query: &str) -> u32 {
    let q = Query::parse(query);
    let (select, top, expand) = match q.skiptoken.as_deref().and_then(PageToken::decode) {
        Some(t) => (t.s.is_some(), Some(t.t), t.e.is_some()),
        None => (
            q.select.is_some(),
            q.top.as_deref().and_then(|t| t.parse().ok()),
            q.expand.is_some(),
        ),
    };
    crate::emulator::throttle::cost(method, path, select, top, expand)
}
