//! The HTTP side: the axum router (token endpoint, Graph under `/v1.0`, control endpoints under
//! `/_emulator`), the answers turned into HTTP responses, and the running [`Emulator`] with its
//! own thread and tokio runtime.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use serde::Deserialize;
use serde_json::json;

use super::config::{EmulatorConfig, EmulatorError};
use super::faults::{FaultAction, FaultRule};
use super::pipeline::{process, too_many, Mangle};
use super::routes::{error, Ctx, Reply};
use super::shared::{bump, lock, RouteReads, Shared, Stats};
use super::state::Tenant;
use super::throttle::format_retry_after;
use super::{batch, defaults, exchange, seed, sync, synthetic};

/// Builds the tenant a config asks for: seed folder, then synthetic objects, then the policy
/// singletons Graph always has.
fn build_tenant(config: &EmulatorConfig) -> Result<Tenant, EmulatorError> {
    let mut tenant = Tenant::new();
    if let Some(dir) = &config.seed_dir {
        seed::load(dir, &mut tenant)?;
    }
    if let Some(spec) = &config.synthetic {
        synthetic::generate(spec, &config.tenant_id, &mut tenant);
    }
    defaults::insert(&mut tenant);
    Ok(tenant)
}

/// A body that sends `first` (if any), waits a moment so that the status line, headers and
/// that part reach the client, and then fails, which makes hyper abort the connection.
struct Broken {
    first: Option<Bytes>,
    pause: Pin<Box<tokio::time::Sleep>>,
}

impl Broken {
    fn new(first: Option<Bytes>) -> Broken {
        Broken {
            first,
            pause: Box::pin(tokio::time::sleep(Duration::from_millis(50))),
        }
    }
}

impl futures_core::Stream for Broken {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(b) = self.first.take() {
            return Poll::Ready(Some(Ok(b)));
        }
        match self.pause.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "emulator fault: connection dropped",
            )))),
        }
    }
}

const JSON_TYPE: &str =
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

fn to_response(ctx: &Ctx, reply: Reply, mangle: Option<Mangle>) -> Response {
    let status = |s: u16| StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let bytes = reply
        .body
        .as_ref()
        .map(|b| serde_json::to_vec(b).expect("JSON values always serialize"));
    let (code, content_type, body) = match mangle {
        None => (
            status(reply.status),
            bytes.as_ref().map(|_| JSON_TYPE),
            bytes.map_or_else(Body::empty, Body::from),
        ),
        Some(Mangle::Truncate) => {
            let full = bytes.unwrap_or_else(|| b"{\"value\":[]}".to_vec());
            let half = Bytes::from(full[..full.len() / 2].to_vec());
            (status(reply.status), Some(JSON_TYPE), Body::from_stream(Broken::new(Some(half))))
        }
        Some(Mangle::NonJson(s)) => (
            status(s),
            Some("text/html; charset=utf-8"),
            Body::from("<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1><p>The proxy received an invalid response.</p></body></html>"),
        ),
        Some(Mangle::Drop) => (status(reply.status), Some(JSON_TYPE), Body::from_stream(Broken::new(None))),
    };
    let mut resp = (code, body).into_response();
    let h = resp.headers_mut();
    let mut put = |k: &'static str, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(k, v);
        }
    };
    put("request-id", &ctx.request_id);
    put("client-request-id", &ctx.client_request_id);
    put("OData-Version", "4.0");
    if let Some(t) = content_type {
        put("content-type", t);
    }
    for (k, v) in &reply.headers {
        put(k, v);
    }
    resp
}

fn request_ids(headers: &HeaderMap) -> Ctx {
    Ctx {
        request_id: uuid::Uuid::new_v4().to_string(),
        client_request_id: headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        prefer: headers
            .get("prefer")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    }
}

/// Everything below `/v1.0`.
async fn graph(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let ctx = request_ids(&parts.headers);
    let Some(path) = parts.uri.path().strip_prefix("/v1.0") else {
        let seg = parts
            .uri
            .path()
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or("");
        return to_response(
            &ctx,
            error(&ctx, 400, "BadRequest", &format!("Invalid version: {seg}")),
            None,
        );
    };
    let path = if path.is_empty() { "/" } else { path };
    let query = parts.uri.query().unwrap_or("");
    let method = parts.method.as_str().to_string();
    let bytes = match axum::body::to_bytes(body, 256 << 20).await {
        Ok(b) => b,
        Err(_) => {
            return to_response(
                &ctx,
                error(
                    &ctx,
                    413,
                    "Request_BadRequest",
                    "The request body is too large.",
                ),
                None,
            )
        }
    };
    if !shared.latency.is_zero() {
        tokio::time::sleep(shared.latency).await;
    }
    let auth = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if let Err(problem) = lock(&shared.auth).check(auth) {
        bump(&shared.stats.requests);
        let mut r = error(&ctx, 401, "InvalidAuthenticationToken", problem.message());
        r.headers.push((
            "WWW-Authenticate",
            "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"".into(),
        ));
        return to_response(&ctx, r, None);
    }
    if path.trim_end_matches('/') == "/$batch" {
        if method != "POST" {
            return to_response(
                &ctx,
                error(
                    &ctx,
                    405,
                    "Request_BadRequest",
                    "Specified HTTP method is not allowed for the request target.",
                ),
                None,
            );
        }
        bump(&shared.stats.batches);
        // A fault rule on `/$batch` itself can break the envelope.
        let fault = lock(&shared.faults).check(&method, "/$batch", false);
        let mangle = match fault {
            Some(FaultAction::Status { .. })
            | Some(FaultAction::Throttle { .. })
            | Some(FaultAction::Latency { .. })
            | None => {
                if fault.is_some() {
                    // Status/throttle/latency on the envelope: answered like a plain call.
                    bump(&shared.stats.faulted);
                    return envelope_fault(&shared, &ctx, fault).await;
                }
                None
            }
            Some(FaultAction::TruncatedBody) => Some(Mangle::Truncate),
            Some(FaultAction::NonJson { status }) => Some(Mangle::NonJson(status.unwrap_or(200))),
            Some(FaultAction::DropConnection) => Some(Mangle::Drop),
        };
        if mangle.is_some() {
            bump(&shared.stats.faulted);
        }
        let reply = batch::run(&shared, &ctx, &bytes).await;
        return to_response(&ctx, reply, mangle);
    }
    let (reply, mangle) = process(&shared, &ctx, &method, path, query, &bytes, false).await;
    to_response(&ctx, reply, mangle)
}

async fn envelope_fault(shared: &Shared, ctx: &Ctx, fault: Option<FaultAction>) -> Response {
    let reply = match fault {
        Some(FaultAction::Status {
            status,
            retry_after,
        }) => {
            let mut r = error(
                ctx,
                status,
                "serviceNotAvailable",
                "The service is temporarily unavailable.",
            );
            if let Some(s) = retry_after {
                r.headers.push(("Retry-After", format_retry_after(s)));
            }
            r
        }
        Some(FaultAction::Throttle { retry_after }) => {
            bump(&shared.stats.throttled);
            too_many(ctx, shared, retry_after, "ResourceUnitLimitExceeded")
        }
        Some(FaultAction::Latency { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            return to_response(
                ctx,
                error(ctx, 500, "generalException", "unreachable"),
                None,
            );
        }
        _ => error(
            ctx,
            500,
            "generalException",
            "An unexpected error occurred.",
        ),
    };
    to_response(ctx, reply, None)
}

async fn token(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    // RFC 6749 client authentication with HTTP Basic is accepted too (GRAPH.md B.7).
    if let Some(basic) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(basic.trim()) {
            if let Some((id, secret)) = String::from_utf8_lossy(&decoded).split_once(':') {
                form.entry("client_id".into())
                    .or_insert_with(|| id.to_string());
                form.entry("client_secret".into())
                    .or_insert_with(|| secret.to_string());
            }
        }
    }
    let result = lock(&shared.auth).issue(&tenant, &form);
    let (status, body) = match result {
        Ok(body) => {
            bump(&shared.stats.tokens);
            (200, body)
        }
        Err(e) => (e.status, e.body),
    };
    let mut resp = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        serde_json::to_string(&body).unwrap_or_default(),
    )
        .into_response();
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

async fn get_stats(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(shared.stats.snapshot()).into_response()
}

/// `GET /_emulator/stats/reads`: the admitted reads by route, with their resource units.
async fn get_reads(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(shared.stats.reads_by_route()).into_response()
}

async fn reset_stats(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.stats.reset();
    StatusCode::NO_CONTENT
}

/// `POST /_emulator/throttle/reset` refills the read and write quotas, so that a test or
/// benchmark can make its setup changes "as another application" without eating into the quota
/// of the tenantgit run it measures.
async fn reset_throttle(State(shared): State<Arc<Shared>>) -> StatusCode {
    lock(&shared.throttle).refill_all();
    StatusCode::NO_CONTENT
}

/// `POST /_emulator/faults` takes a list of rules (or `{"rules": [...]}`) and replaces the
/// active ones.
async fn set_faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Body {
        List(Vec<FaultRule>),
        Wrapped { rules: Vec<FaultRule> },
    }
    match serde_json::from_slice::<Body>(&body) {
        Ok(Body::List(rules)) | Ok(Body::Wrapped { rules }) => {
            shared.set_faults(rules);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": format!("invalid fault rules: {e}")})),
        )
            .into_response(),
    }
}

/// `POST /_emulator/sync` applies on-premises changes as Entra Connect would (module `sync`):
/// 200 with the ids changed, or 400 with why nothing was applied.
async fn sync_on_premises(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let request: sync::SyncRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": format!("invalid sync request: {e}")})),
            )
                .into_response()
        }
    };
    let result = sync::apply(&mut shared.write(), &request);
    match result {
        Ok(changed) => axum::Json(json!({"changed": changed})).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, axum::Json(json!({"error": e}))).into_response(),
    }
}

/// `POST /_emulator/exchange` applies changes made in Exchange Online (module `exchange`): 200
/// with the ids changed, or 400 with why nothing was applied.
async fn exchange_online(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let request: sync::SyncRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": format!("invalid Exchange request: {e}")})),
            )
                .into_response()
        }
    };
    let result = exchange::apply(&mut shared.write(), &request);
    match result {
        Ok(changed) => axum::Json(json!({"changed": changed})).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, axum::Json(json!({"error": e}))).into_response(),
    }
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.set_faults(Vec::new());
    StatusCode::NO_CONTENT
}

/// `POST /_emulator/delta/expire` makes every delta token issued so far expire, so that a test
/// meets Graph's resync answer without waiting seven days.
async fn expire_delta(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.delta.expire_all();
    StatusCode::NO_CONTENT
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/_emulator/stats", get(get_stats))
        .route("/_emulator/stats/reads", get(get_reads))
        .route("/_emulator/stats/reset", post(reset_stats))
        .route("/_emulator/throttle/reset", post(reset_throttle))
        .route("/_emulator/faults", post(set_faults).delete(clear_faults))
        .route("/_emulator/delta/expire", post(expire_delta))
        .route("/_emulator/sync", post(sync_on_premises))
        .route("/_emulator/exchange", post(exchange_online))
        .fallback(graph)
        .with_state(shared)
}

/// A running emulator on its own thread with its own tokio runtime, usable from sync code and
/// from inside another runtime. Dropping it (or [`Emulator::shutdown`]) stops the server.
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Emulator {
    /// Builds the tenant, binds 127.0.0.1 and returns once the server accepts connections.
    pub fn start(config: EmulatorConfig) -> Result<Emulator, EmulatorError> {
        let tenant = build_tenant(&config)?;
        let listener =
            std::net::TcpListener::bind(("127.0.0.1", config.port)).map_err(|source| {
                EmulatorError::Bind {
                    port: config.port,
                    source,
                }
            })?;
        let bind_err = |source| EmulatorError::Bind {
            port: config.port,
            source,
        };
        listener.set_nonblocking(true).map_err(bind_err)?;
        let addr = listener.local_addr().map_err(bind_err)?;
        let shared = Arc::new(Shared::new(&config, format!("http://{addr}"), tenant));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), EmulatorError>>();
        let app = router(shared.clone());
        let thread = std::thread::Builder::new()
            .name(format!("graph-emulator-{}", addr.port()))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("graph-emulator")
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(source) => {
                        let _ = ready_tx.send(Err(EmulatorError::Runtime { source }));
                        return;
                    }
                };
                rt.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(source) => {
                            let _ = ready_tx.send(Err(EmulatorError::Runtime { source }));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    tokio::select! {
                        _ = axum::serve(listener, app) => {}
                        _ = stop_rx => {}
                    }
                });
                // Open keep-alive connections die with the runtime instead of being waited for.
                rt.shutdown_timeout(Duration::from_millis(200));
            })
            .map_err(|source| EmulatorError::Runtime { source })?;
        ready_rx.recv().map_err(|_| EmulatorError::Stopped)??;
        Ok(Emulator {
            addr,
            shared,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`, no trailing slash: both the Graph root and the authority host.
    pub fn url(&self) -> String {
        self.shared.base.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The numbers `GET /_emulator/stats` returns.
    pub fn stats(&self) -> Stats {
        self.shared.stats.snapshot()
    }

    /// What `GET /_emulator/stats/reads` returns: the admitted reads by route.
    pub fn reads_by_route(&self) -> std::collections::BTreeMap<String, RouteReads> {
        self.shared.stats.reads_by_route()
    }

    pub fn reset_stats(&self) {
        self.shared.stats.reset();
    }

    /// Replaces the active fault rules.
    pub fn set_faults(&self, rules: Vec<FaultRule>) {
        self.shared.set_faults(rules);
    }

    /// Makes every delta token issued so far expire (as `POST /_emulator/delta/expire`).
    pub fn expire_delta_tokens(&self) {
        self.shared.delta.expire_all();
    }

    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Runs an emulator on the current runtime until ctrl-c (for `tenantgit emulator serve`);
/// `on_listening` gets the bound address once connections are accepted.
pub async fn serve(
    config: EmulatorConfig,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<(), EmulatorError> {
    let tenant = build_tenant(&config)?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port))
        .await
        .map_err(|source| EmulatorError::Bind {
            port: config.port,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| EmulatorError::Bind {
            port: config.port,
            source,
        })?;
    let shared = Arc::new(Shared::new(&config, format!("http://{addr}"), tenant));
    on_listening(addr);
    axum::serve(listener, router(shared))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|source| EmulatorError::Runtime { source })
}
