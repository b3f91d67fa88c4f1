//! The per-request pipeline shared by plain requests and `$batch` items: count → faults →
//! throttle → route, with Graph's 429 answer and the faults that break the HTTP exchange.

use std::time::Duration;

use serde_json::json;

use super::faults::FaultAction;
use super::routes::{dispatch, error, request_cost, Ctx, Reply};
use super::shared::{bump, lock, Shared};
use super::throttle::format_retry_after;

/// What happens to a reply on its way out, for faults that break the HTTP exchange itself.
#[derive(Debug, Clone)]
pub(crate) enum Mangle {
    Truncate,
    NonJson(u16),
    Drop,
}

/// Whether a request changes the tenant. The POST actions that only read
/// (`directoryObjects/getByIds`, `getAvailableExtensionProperties`; directoryobject-getbyids.md
/// lists it under reads with `Directory.Read.All`) are reads.
fn is_write(method: &str, path: &str) -> bool {
    const READ_ACTIONS: [&str; 2] = ["/getByIds", "/getAvailableExtensionProperties"];
    matches!(method, "POST" | "PATCH" | "PUT" | "DELETE")
        && !(method == "POST" && READ_ACTIONS.iter().any(|a| path.ends_with(a)))
}

pub(crate) fn too_many(ctx: &Ctx, shared: &Shared, retry_after: f64, information: &str) -> Reply {
    let mut r = Reply::json(
        429,
        json!({"error": {
            "code": "TooManyRequests",
            "message": "Please retry again later.",
            "innerError": {
                "code": "429",
                "date": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
                "message": "Please retry after",
                "request-id": ctx.request_id,
                "client-request-id": ctx.client_request_id,
                "status": "429",
            }
        }}),
    );
    let client = lock(&shared.auth).client_id.clone();
    r.headers
        .push(("Retry-After", format_retry_after(retry_after)));
    r.headers.push((
        "x-ms-throttle-scope",
        format!("Tenant_Application/ReadWrite/{client}/{}", shared.tenant_id),
    ));
    r.headers
        .push(("x-ms-throttle-information", information.to_string()));
    r
}

/// One Graph call (a plain request or a `$batch` item) after authentication: counted, matched
/// against fault rules, throttled, routed. `path` starts with `/` below `/v1.0`.
pub(crate) async fn process(
    shared: &Shared,
    ctx: &Ctx,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
    batch_item: bool,
) -> (Reply, Option<Mangle>) {
    bump(&shared.stats.requests);
    let write = is_write(method, path);
    if write {
        bump(&shared.stats.writes);
    }
    let fault = lock(&shared.faults).check(method, path, batch_item);
    let mut mangle = None;
    if let Some(action) = fault {
        bump(&shared.stats.faulted);
        match action {
            FaultAction::Status {
                status,
                retry_after,
            } => {
                let (code, message) = match status {
                    // What Graph answers for an object that is gone (deleted meanwhile).
                    404 => (
                        "Request_ResourceNotFound",
                        "Resource does not exist or one of its queried reference-property objects are not present.",
                    ),
                    503 => (
                        "serviceNotAvailable",
                        "The service is temporarily unavailable. Please retry later.",
                    ),
                    504 => (
                        "UnknownError",
                        "The gateway timed out while waiting for the service.",
                    ),
                    _ => (
                        "generalException",
                        "An unexpected error occurred while processing the request.",
                    ),
                };
                let mut r = error(ctx, status, code, message);
                if let Some(s) = retry_after {
                    r.headers.push(("Retry-After", format_retry_after(s)));
                }
                return (r, None);
            }
            FaultAction::Throttle { retry_after } => {
                bump(&shared.stats.throttled);
                return (
                    too_many(ctx, shared, retry_after, "ResourceUnitLimitExceeded"),
                    None,
                );
            }
            FaultAction::Latency { ms } => tokio::time::sleep(Duration::from_millis(ms)).await,
            FaultAction::TruncatedBody => mangle = Some(Mangle::Truncate),
            FaultAction::NonJson { status } => {
                mangle = Some(Mangle::NonJson(status.unwrap_or(200)))
            }
            FaultAction::DropConnection => mangle = Some(Mangle::Drop),
        }
    }
    let cost = request_cost(method, path, query);
    let admitted = lock(&shared.throttle).admit(cost, write);
    let share = match admitted {
        Ok(share) => {
            if !write {
                shared.stats.admitted_read(method, path, cost);
            }
            share
        }
        Err(refusal) => {
            bump(&shared.stats.throttled);
            return (
                too_many(ctx, shared, refusal.retry_after, refusal.information),
                None,
            );
        }
    };
    let mut reply = dispatch(shared, ctx, method, path, query, body);
    reply.headers.push(("x-ms-resource-unit", cost.to_string()));
    if let Some(share) = share.filter(|s| *s > 0.8) {
        reply.headers.push((
            "x-ms-throttle-limit-percentage",
            format!("{:.1}", share.min(1.8)),
        ));
    }
    (reply, mangle)
}
