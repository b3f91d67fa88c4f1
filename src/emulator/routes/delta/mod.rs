//! Delta queries (GRAPH.md B.3; concepts/delta-query-overview.md @1c6fb603): `GET
//! {collection}/delta` (or `/microsoft.graph.delta`) for users, groups, applications,
//! servicePrincipals and administrativeUnits. A round starts with the query options, pages with
//! opaque `$skiptoken`s and ends with an opaque `$deltatoken` that later rounds start from; the
//! tokens carry the options, so later requests name none. `token` seals them, `changes` reads what
//! changed from the tenant's logs, `page` lays objects onto pages.

mod changes;
mod page;
mod token;

use std::sync::atomic::Ordering;

use serde_json::{Map, Value};

use super::reply::{bad_request, error, not_allowed, Reply};
use super::request::Req;
use super::select::resolve_select;
use crate::emulator::model::model;
use token::State;

/// A collection with a delta function and the relationships it tracks.
struct Tracked {
    collection: &'static str,
    /// Relationships `$select` may name, reported as `{name}@delta`.
    links: &'static [&'static str],
    /// Tracked without `$select` (and with `$expand`, as older docs wrote it).
    default_links: &'static [&'static str],
    /// Most ids a `$filter=id eq …` may name.
    max_ids: Option<usize>,
}

/// users: `$select=…,manager` (delta-query-overview @1c6fb603); groups: members by default or
/// with `$select=members`, other directoryObject relationships such as owners with `$select`
/// (delta-query-groups.md @b7c64905, api/group-delta.md @13a4446c); administrative units:
/// members (administrativeunit-delta.md @6cc0a5c5 sample); applications and service principals
/// track no relationship ("Navigation properties are not supported"). `$filter` on id: at most
/// 50 for users and groups (user-delta.md @3bd18aec), "limited by the URL length" otherwise.
const TRACKED: [Tracked; 5] = [
    Tracked {
        collection: "users",
        links: &["manager"],
        default_links: &[],
        max_ids: Some(50),
    },
    Tracked {
        collection: "groups",
        links: &["members", "owners"],
        default_links: &["members"],
        max_ids: Some(50),
    },
    Tracked {
        collection: "applications",
        links: &[],
        default_links: &[],
        max_ids: None,
    },
    Tracked {
        collection: "servicePrincipals",
        links: &[],
        default_links: &[],
        max_ids: None,
    },
    Tracked {
        collection: "administrativeUnits",
        links: &["members"],
        default_links: &["members"],
        max_ids: None,
    },
];

/// The collection a delta path names: `users/delta`, `directory/administrativeUnits/delta` or
/// `administrativeUnits/delta` (both appear in administrativeunit-delta.md versions).
fn target(segs: &[&str]) -> Option<(usize, &'static Tracked)> {
    let (last, head) = segs.split_last()?;
    if !matches!(*last, "delta" | "microsoft.graph.delta") {
        return None;
    }
    let m = model();
    TRACKED.iter().find_map(|tr| {
        let k = m.collection(tr.collection)?;
        let c = &m.collections[k];
        let matches = head == c.segs.as_slice() || (head.len() == 1 && head[0] == tr.collection);
        matches.then_some((k, tr))
    })
}

/// Answers a delta request, or `None` when the path is not one. `raw_query` is the query string
/// as sent (delta reads options the other routes refuse).
pub(crate) fn route(req: &Req, segs: &[&str], raw_query: &str) -> Option<Reply> {
    let (k, tr) = target(segs)?;
    if req.method != "GET" {
        return Some(not_allowed(req.ctx));
    }
    Some(match answer(req, k, tr, raw_query) {
        Ok(r) | Err(r) => r,
    })
}

/// The query options of a delta request, names lower-cased without `$`.
#[derive(Default)]
struct Options {
    pairs: Vec<(String, String)>,
}

impl Options {
    fn parse(raw: &str) -> Options {
        Options {
            pairs: form_urlencoded::parse(raw.as_bytes())
                .map(|(k, v)| {
                    (
                        k.trim_start_matches('$').to_ascii_lowercase(),
                        v.into_owned(),
                    )
                })
                .collect(),
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A token option with a value (an empty `$deltatoken=` starts over, as Graph's resync
    /// `Location` does).
    fn token(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// The options other than the tokens, as the first request sent them.
    fn initial(&self) -> String {
        self.pairs
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "deltatoken" | "skiptoken"))
            .map(|(k, v)| format!("${k}={}", encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// These options with `select` (and nothing else) taken from `newer`.
    fn reselected(mut self, newer: &Options) -> Options {
        self.pairs.retain(|(k, _)| k != "select");
        self.pairs
            .extend(newer.pairs.iter().filter(|(k, _)| k == "select").cloned());
        self
    }
}

/// Percent-encodes a query value, keeping what reads well in a URL (`,`, `'`, `$`).
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
            b'-' | b'.' | b'_' | b'~' | b'$' | b',' | b'\'' | b'(' | b')' | b'*' | b':' | b'@' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn unsupported(req: &Req, message: &str) -> Reply {
    error(req.ctx, 400, "Request_UnsupportedQuery", message)
}

/// What a round tracks, from the first request's options.
struct Selection {
    /// Properties in Graph's spelling; `None` = the default set.
    sel: Option<Vec<String>>,
    /// Link indexes of the collection.
    links: Vec<u8>,
    /// `$filter=id eq …`.
    ids: Option<Vec<String>>,
}

/// What the initial request tracks: selected properties, relationships, ids.
fn tracking(req: &Req, k: usize, tr: &Tracked, o: &Options) -> Result<Selection, Reply> {
    for opt in ["top", "orderby", "skip", "search"] {
        if o.get(opt).is_some() {
            // "$top is not supported", "$orderby is not supported" (delta-query-overview).
            return Err(unsupported(
                req,
                &format!("The query option '${opt}' is not supported with delta queries."),
            ));
        }
    }
    let m = model();
    let coll = &m.collections[k];
    let link_index = |name: &str| {
        tr.links
            .iter()
            .find(|l| l.eq_ignore_ascii_case(name))
            .and_then(|l| coll.link(l))
            .map(|i| u8::try_from(i).expect("few links per collection"))
    };
    let mut links: Vec<u8> = Vec::new();
    let sel = match o.get("select") {
        None => {
            links.extend(tr.default_links.iter().filter_map(|l| link_index(l)));
            None
        }
        Some(raw) => {
            let mut props = Vec::new();
            for name in raw.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                match link_index(name) {
                    Some(li) if !links.contains(&li) => links.push(li),
                    Some(_) => {}
                    None => props.push(name.to_string()),
                }
            }
            let mut types = vec![coll.ty];
            types.extend(m.ty(coll.ty).derived.iter().copied());
            let t = req.shared.read();
            let resolved = resolve_select(req.ctx, &t, &props, &types, m.ty(coll.ty).qualified())?;
            // Stored outside the directory: no change tracking (delta-query-overview,
            // "Properties stored outside of the main data store"; sample 501).
            if resolved.iter().any(|p| {
                types
                    .iter()
                    .any(|ty| m.ty(*ty).prop(p).is_some_and(|q| q.select_only))
            }) {
                return Err(error(
                    req.ctx,
                    501,
                    "NotImplemented",
                    "This operation target is not yet supported.",
                ));
            }
            Some(resolved)
        }
    };
    if let Some(x) = o.get("expand") {
        // Older docs tracked members with `$expand=members` (delta-query-groups.md @007852ac).
        let x = x.trim();
        let li =
            link_index(x).filter(|_| tr.default_links.iter().any(|l| l.eq_ignore_ascii_case(x)));
        match li {
            Some(li) if !links.contains(&li) => links.push(li),
            Some(_) => {}
            None => {
                return Err(unsupported(
                    req,
                    &format!("The query option '$expand={x}' is not supported with delta queries."),
                ))
            }
        }
    }
    links.sort_unstable();
    let ids = match o.get("filter") {
        None => None,
        Some(f) => Some(id_filter(req, k, tr, f)?),
    };
    Ok(Selection { sel, links, ids })
}

/// Splits a filter at its ` or `s (any case).
fn split_or(f: &str) -> Vec<&str> {
    let lower = f.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut start = 0;
    while let Some(i) = lower[start..].find(" or ") {
        out.push(&f[start..start + i]);
        start += i + 4;
    }
    out.push(&f[start..]);
    out
}

/// `id eq 'a' or id eq 'b'`, the only `$filter` delta takes.
fn id_filter(req: &Req, k: usize, tr: &Tracked, f: &str) -> Result<Vec<String>, Reply> {
    let m = model();
    let resource = m.ty(m.collections[k].ty).extension_target();
    let mut ids = Vec::new();
    for clause in split_or(f) {
        let mut words = clause.split_whitespace();
        let (p, op) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let value = words.collect::<Vec<_>>().join(" ");
        match value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
            Some(v) if p.eq_ignore_ascii_case("id") && op.eq_ignore_ascii_case("eq") => {
                ids.push(v.to_string())
            }
            _ => {
                return Err(unsupported(
                    req,
                    &format!("Unsupported or invalid query filter clause specified for property '{p}' of resource '{resource}'."),
                ))
            }
        }
    }
    if let Some(max) = tr.max_ids.filter(|max| ids.len() > *max) {
        return Err(unsupported(
            req,
            &format!("Too many ids in the filter: delta tracks at most {max} objects by id."),
        ));
    }
    Ok(ids)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The state in a token of this request, or Graph's answer to a bad or expired one.
fn open(req: &Req, k: usize, token: &str, delta: bool) -> Result<State, Reply> {
    let keys = &req.shared.delta;
    let name = if delta { "$deltatoken" } else { "$skiptoken" };
    let state = token::open(&keys.key, token)
        .filter(|s| s.d == delta && s.k as usize == k)
        .ok_or_else(|| {
            bad_request(
                req.ctx,
                &format!("Invalid {name} value: it was not issued for this request."),
            )
        })?;
    let age = now_ms().saturating_sub(state.born);
    let lifetime = i64::try_from(keys.config.token_lifetime.as_millis()).unwrap_or(i64::MAX);
    if age > lifetime || state.epoch < keys.epoch.load(Ordering::SeqCst) {
        // "410 (gone) and a Location header containing a request URL with an empty $deltaToken
        // (same as the initial query)"; expired tokens answer a 40X with `syncStateNotFound`
        // (delta-query-overview @1c6fb603; message from errors.md, GRAPH.md B.6).
        let mut r = error(
            req.ctx,
            410,
            "syncStateNotFound",
            "The sync state generation is not found. The delta token is expired and data must be synchronized again.",
        );
        r.headers.push(("Location", link(req, &state.q, None)));
        return Err(r);
    }
    Ok(state)
}

/// `{base}/v1.0/{path}?{query}` with `extra` (`$skiptoken=…`) appended.
fn link(req: &Req, query: &str, extra: Option<String>) -> String {
    let mut q = query.to_string();
    if let Some(e) = extra {
        if !q.is_empty() {
            q.push('&');
        }
        q.push_str(&e);
    }
    let sep = if q.is_empty() { "" } else { "?" };
    format!("{}/v1.0/{}{sep}{q}", req.shared.base, req.path)
}

fn answer(req: &Req, k: usize, tr: &Tracked, raw: &str) -> Result<Reply, Reply> {
    let o = Options::parse(raw);
    let keys = &req.shared.delta;
    let epoch = keys.epoch.load(Ordering::SeqCst);
    let latest = o
        .token("deltatoken")
        .is_some_and(|t| t.eq_ignore_ascii_case("latest"));
    let mut state = if let Some(tok) = o.token("skiptoken") {
        // "Delta queries with both $select and $skipToken will not be supported."
        refuse_others(req, &o, &["skiptoken"], "$skiptoken")?;
        open(req, k, tok, false)?
    } else if let Some(tok) = o.token("deltatoken").filter(|_| !latest) {
        // `$select` with a deltaLink changes what is tracked from now on (delta-query-overview);
        // the other options belong to the first request.
        refuse_others(req, &o, &["deltatoken", "select"], "$deltatoken")?;
        let mut s = open(req, k, tok, true)?;
        if o.get("select").is_some() {
            let chosen = tracking(req, k, tr, &o)?;
            s.sel = chosen.sel;
            s.links = chosen.links;
            s.q = Options::parse(&s.q).reselected(&o).initial();
        }
        // A new round: what changed since the last one, up to now.
        s.d = false;
        s.upto = req.shared.read().changes.seq();
        s.at = None;
        s
    } else {
        let Selection { sel, links, ids } = tracking(req, k, tr, &o)?;
        let upto = req.shared.read().changes.seq();
        State {
            d: false,
            k: u16::try_from(k).expect("few collections"),
            sel,
            links,
            ids,
            q: o.initial(),
            // `$deltatoken=latest`: "sync from now", no objects (delta-query-overview).
            since: latest.then_some(upto),
            upto,
            at: None,
            born: now_ms(),
            epoch,
        }
    };
    let initial_request = o.token("skiptoken").is_none() && o.token("deltatoken").is_none();
    // `Prefer: return=minimal` shapes later rounds only (user-delta.md @3bd18aec).
    let minimal = state.since.is_some()
        && req.ctx.prefer.as_deref().is_some_and(|p| {
            p.split(',')
                .any(|x| x.trim().eq_ignore_ascii_case("return=minimal"))
        });
    let page = if latest {
        page::Page {
            items: Vec::new(),
            next: None,
        }
    } else {
        let t = req.shared.read();
        page::build(&t, &state, minimal, &keys.config)
    };
    let coll = &model().collections[k];
    let context = match &state.sel {
        Some(sel) if initial_request && !latest => {
            let mut names = sel.clone();
            names.extend(
                state
                    .links
                    .iter()
                    .map(|l| coll.links[*l as usize].name.clone()),
            );
            format!("{}({})", coll.name, names.join(","))
        }
        _ => coll.name.clone(),
    };
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        Value::String(req.context(&context)),
    );
    state.born = now_ms();
    state.epoch = epoch;
    let (field, param) = match page.next {
        Some(cursor) => {
            state.at = Some(cursor);
            ("@odata.nextLink", "$skiptoken")
        }
        None => {
            state.d = true;
            state.since = Some(state.upto);
            state.at = None;
            ("@odata.deltaLink", "$deltatoken")
        }
    };
    let tok = token::seal(&keys.key, &state);
    body.insert(
        field.into(),
        Value::String(link(req, "", Some(format!("{param}={tok}")))),
    );
    body.insert("value".into(), Value::Array(page.items));
    let mut reply = Reply::json(200, Value::Object(body));
    if minimal {
        reply
            .headers
            .push(("Preference-Applied", "return=minimal".into()));
    }
    Ok(reply)
}

/// Options a request with a token may not name (the token carries the first request's).
fn refuse_others(req: &Req, o: &Options, allowed: &[&str], token: &str) -> Result<(), Reply> {
    match o
        .pairs
        .iter()
        .find(|(n, _)| n != "count" && !allowed.contains(&n.as_str()))
    {
        Some((name, _)) => Err(bad_request(
            req.ctx,
            &format!("The query option '${name}' cannot be combined with a {token}: the token carries the options of the first request."),
        )),
        None => Ok(()),
    }
}
