//! JSON batching (GRAPH.md B.4): up to 20 requests in one `POST /$batch`, each answered as if it
//! had come alone — counted, faulted and throttled one by one, so an item can get its own 429
//! with its own `Retry-After` — with `dependsOn` ordering and 424 for failed dependencies.
//! Responses come back in an order that is deliberately not the request order, as Graph may.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::pipeline::process;
use super::routes::{error, Ctx, Reply};
use super::shared::Shared;

/// Graph's limit of requests per batch.
const MAX_ITEMS: usize = 20;

struct Item {
    id: String,
    method: String,
    url: String,
    body: Option<Value>,
    depends_on: Vec<String>,
    /// The item's `Prefer` header.
    prefer: Option<String>,
}

fn parse(ctx: &Ctx, body: &[u8]) -> Result<Vec<Item>, Reply> {
    let bad = |m: &str| error(ctx, 400, "BadRequest", m);
    let value: Value =
        serde_json::from_slice(body).map_err(|_| bad("Invalid batch payload format."))?;
    let requests = value
        .get("requests")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("Invalid batch payload format: 'requests' is missing."))?;
    if requests.is_empty() {
        return Err(bad(
            "Invalid batch payload format: the batch holds no requests.",
        ));
    }
    if requests.len() > MAX_ITEMS {
        return Err(bad(&format!(
            "The number of batch requests ({}) exceeds the limit of {MAX_ITEMS}.",
            requests.len()
        )));
    }
    let mut items = Vec::with_capacity(requests.len());
    let mut seen: Vec<String> = Vec::new();
    for r in requests {
        let field = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_string);
        let id = field("id").ok_or_else(|| bad("Every batch request needs an 'id'."))?;
        let key = id.to_ascii_lowercase();
        if seen.contains(&key) {
            return Err(bad(&format!(
                "Batch request ids must be unique: '{id}' is used twice."
            )));
        }
        seen.push(key);
        let method = field("method")
            .ok_or_else(|| bad(&format!("Batch request '{id}' has no 'method'.")))?
            .to_ascii_uppercase();
        let url =
            field("url").ok_or_else(|| bad(&format!("Batch request '{id}' has no 'url'.")))?;
        if url.contains("://") {
            return Err(bad(&format!("Batch request '{id}': the url must be relative to the version root, e.g. '/users'.")));
        }
        let body = r.get("body").cloned().filter(|b| !b.is_null());
        if body.is_some() {
            let has_type = r
                .get("headers")
                .and_then(Value::as_object)
                .is_some_and(|h| h.keys().any(|k| k.eq_ignore_ascii_case("content-type")));
            if !has_type {
                return Err(bad(&format!(
                    "Write request id : {id} does not contain Content-Type header or body."
                )));
            }
        }
        let prefer = r
            .get("headers")
            .and_then(Value::as_object)
            .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case("prefer")))
            .and_then(|(_, v)| v.as_str())
            .map(str::to_string);
        let depends_on = r
            .get("dependsOn")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        items.push(Item {
            id,
            method,
            url,
            body,
            depends_on,
            prefer,
        });
    }
    for it in &items {
        for d in &it.depends_on {
            if !seen.contains(&d.to_ascii_lowercase()) || d.eq_ignore_ascii_case(&it.id) {
                return Err(bad(&format!(
                    "Batch request '{}' depends on an unknown request '{d}'.",
                    it.id
                )));
            }
        }
    }
    Ok(items)
}

/// The order to run items in: dependencies first, otherwise request order; `None` on a cycle.
fn order(items: &[Item]) -> Option<Vec<usize>> {
    let index: HashMap<String, usize> = items
        .iter()
        .enumerate()
        .map(|(i, it)| (it.id.to_ascii_lowercase(), i))
        .collect();
    let mut done = vec![false; items.len()];
    let mut out = Vec::with_capacity(items.len());
    while out.len() < items.len() {
        let before = out.len();
        for (i, it) in items.iter().enumerate() {
            if !done[i]
                && it
                    .depends_on
                    .iter()
                    .all(|d| done[index[&d.to_ascii_lowercase()]])
            {
                done[i] = true;
                out.push(i);
            }
        }
        if out.len() == before {
            return None;
        }
    }
    Some(out)
}

/// A fixed shuffle: responses sorted by a hash of their id, not by request order.
fn scramble(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

pub(crate) async fn run(shared: &Shared, ctx: &Ctx, body: &[u8]) -> Reply {
    let items = match parse(ctx, body) {
        Ok(items) => items,
        Err(r) => return r,
    };
    let Some(order) = order(&items) else {
        return error(
            ctx,
            400,
            "BadRequest",
            "The dependsOn references of the batch form a cycle.",
        );
    };
    let mut statuses: HashMap<String, u16> = HashMap::new();
    let mut responses: Vec<(u64, Value)> = Vec::with_capacity(items.len());
    for i in order {
        let it = &items[i];
        let item_ctx = Ctx {
            request_id: uuid::Uuid::new_v4().to_string(),
            client_request_id: ctx.client_request_id.clone(),
            prefer: it.prefer.clone(),
        };
        let failed_dep = it.depends_on.iter().any(|d| {
            !statuses
                .get(&d.to_ascii_lowercase())
                .is_some_and(|s| (200..300).contains(s))
        });
        let reply = if failed_dep {
            error(
                &item_ctx,
                424,
                "FailedDependency",
                "The request depends on a request that failed.",
            )
        } else {
            let url = it.url.trim_start_matches('/');
            let url = url.strip_prefix("v1.0/").unwrap_or(url);
            let (path, query) = url.split_once('?').unwrap_or((url, ""));
            let body = it
                .body
                .as_ref()
                .map(|b| serde_json::to_vec(b).unwrap_or_default())
                .unwrap_or_default();
            process(
                shared,
                &item_ctx,
                &it.method,
                &format!("/{path}"),
                query,
                &body,
                true,
            )
            .await
            .0
        };
        statuses.insert(it.id.to_ascii_lowercase(), reply.status);
        let mut headers = Map::new();
        for (k, v) in &reply.headers {
            headers.insert((*k).to_string(), Value::String(v.clone()));
        }
        if reply.body.is_some() {
            headers.insert("Content-Type".into(), json!("application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"));
        }
        let mut r = Map::new();
        r.insert("id".into(), Value::String(it.id.clone()));
        r.insert("status".into(), json!(reply.status));
        r.insert("headers".into(), Value::Object(headers));
        if let Some(b) = reply.body {
            r.insert("body".into(), b);
        }
        responses.push((scramble(&it.id), Value::Object(r)));
    }
    responses.sort_by_key(|(h, _)| *h);
    Reply::json(
        200,
        json!({"responses": responses.into_iter().map(|(_, v)| v).collect::<Vec<_>>()}),
    )
}
