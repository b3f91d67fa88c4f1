//! The HTTP side of the Graph client: one request with its retries (GRAPH.md B.5/B.6), paging
//! over `@odata.nextLink` (B.1), bounded concurrency, and the counters behind [`Metrics`].

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, RETRY_AFTER};
use reqwest::Method;
use serde_json::Value;
use tokio::sync::Semaphore;

use super::auth::TokenSource;
use super::retry::{parse_retry_after, RetryTiming};
use super::settings::{redact_url, without_userinfo, GraphSettings};
use super::transport::{
    classify_status, header_str, retry_limit, send_failure, Counters, Failure, Transport,
};
use super::GraphError;

/// A cheap-to-clone handle on one Graph connection (settings, token cache, concurrency limit,
/// counters).
#[derive(Clone)]
pub struct GraphClient {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) transport: Transport,
    /// `{graph_url}/v1.0`
    pub(super) base: String,
    pub(super) tokens: TokenSource,
    limit: Semaphore,
    /// Writes go one at a time while Graph is throttling them (see `execute`).
    write_gate: tokio::sync::Mutex<()>,
    /// When a write was last answered 429, in milliseconds since `started`.
    write_throttled_at: AtomicU64,
    /// `$batch` items one read round may send (`usize::MAX`: no limit), learnt from Graph's
    /// throttling and shared by every batch read of this client (see `batch::next_window`).
    pub(super) batch_window: AtomicUsize,
    /// The tenant's directory extension definitions, once asked (see `extensions`).
    pub(super) extensions: tokio::sync::OnceCell<Arc<super::extensions::ExtensionProperties>>,
    started: std::time::Instant,
}

/// Why a collection page was refused.
pub(super) const NO_VALUE: &str = "no `value` array in a collection response";

/// How long after a throttled write the client keeps writing one request at a time.
const WRITE_THROTTLE_MEMORY: Duration = Duration::from_secs(10);

/// What a client has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Metrics {
    /// HTTP requests sent, token requests and `$batch` posts included.
    pub requests: u64,
    /// Requests sent inside `$batch` posts.
    pub batch_items: u64,
    /// Response body bytes received.
    pub bytes_read: u64,
    /// Requests (or batch items) sent again after a retryable failure.
    pub retries: u64,
    /// 429 answers received (top level and batch items).
    pub throttled: u64,
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct GraphResponse<B = Value> {
    pub status: u16,
    /// The body; for JSON, `Null` when the body is empty (204).
    pub body: B,
    pub request_id: Option<String>,
}

/// What a successful answer's body is read into: any JSON, or a shape of its own that is
/// cheaper to read (a delta page, `delta_page`).
pub(super) trait ResponseBody: Sized {
    /// The body of an empty answer (204).
    fn empty() -> Self;
    /// Reads a body that is not empty; an error is an answer that is not JSON.
    fn read(bytes: bytes::Bytes) -> Result<Self, serde_json::Error>;
}

impl ResponseBody for Value {
    fn empty() -> Self {
        Value::Null
    }
    fn read(bytes: bytes::Bytes) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(&bytes)
    }
}

/// One request as the retry loop sees it.
pub(super) struct Request<'a> {
    pub(super) method: Method,
    /// Absolute URL.
    pub(super) url: String,
    pub(super) body: Option<&'a Value>,
    /// Whether sending it twice is harmless, so that 5xx, timeouts and cut-off answers may be
    /// retried. Writes are only retried on 429/503 and failed connects, where Graph has not
    /// acted on them.
    pub(super) idempotent: bool,
    /// A `Prefer` header (`return=minimal` for delta rounds).
    pub(super) prefer: Option<&'static str>,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("base", &self.inner.base)
            .finish_non_exhaustive()
    }
}

impl GraphClient {
    pub fn new(settings: GraphSettings) -> Result<Self, GraphError> {
        Self::with_timing(settings, RetryTiming::default())
    }

    /// Like [`GraphClient::new`] with other retry delays (tests, benchmarks).
    pub fn with_timing(settings: GraphSettings, timing: RetryTiming) -> Result<Self, GraphError> {
        if settings.concurrency == 0 {
            return Err(GraphError::Config {
                variable: "concurrency in tenantgit.toml [graph]".into(),
                message: "concurrency must be at least 1".into(),
            });
        }
        let tokens = TokenSource::new(&settings)?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("tenantgit/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(20))
            // A 999-item page of a large kind takes seconds; minutes means a stuck connection.
            .timeout(Duration::from_secs(180))
            .build()
            .map_err(|e| GraphError::Config {
                variable: "TENANTGIT_GRAPH_URL".into(),
                message: format!("cannot set up the HTTP client: {e}"),
            })?;
        Ok(GraphClient {
            inner: Arc::new(Inner {
                transport: Transport {
                    http,
                    counters: Counters::default(),
                    timing,
                    max_retries: settings.max_retries,
                },
                base: format!(
                    "{}/v1.0",
                    without_userinfo(&settings.graph_url).trim_end_matches('/')
                ),
                tokens,
                limit: Semaphore::new(settings.concurrency),
                write_gate: tokio::sync::Mutex::new(()),
                write_throttled_at: AtomicU64::new(u64::MAX),
                batch_window: AtomicUsize::new(usize::MAX),
                extensions: tokio::sync::OnceCell::new(),
                started: std::time::Instant::now(),
            }),
        })
    }

    /// GET one resource; `path` is relative to `/v1.0` (`users?$select=id&$top=999`).
    pub async fn get(&self, path: &str) -> Result<Value, GraphError> {
        let url = self.url_for(path)?;
        let resp = self
            .execute(&Request {
                method: Method::GET,
                url,
                body: None,
                idempotent: true,
                prefer: None,
            })
            .await?;
        Ok(resp.body)
    }

    /// GET a collection, following `@odata.nextLink` to the end and handing each page's `value`
    /// items to `page` as they arrive.
    pub async fn get_pages(
        &self,
        path: &str,
        mut page: impl FnMut(Vec<Value>) -> Result<(), GraphError>,
    ) -> Result<(), GraphError> {
        let mut url = self.url_for(path)?;
        loop {
            let resp = self
                .execute(&Request {
                    method: Method::GET,
                    url: url.clone(),
                    body: None,
                    idempotent: true,
                    prefer: None,
                })
                .await?;
            let (items, next) = self.split_page("GET", &url, resp.body)?;
            page(items)?;
            match next {
                Some(next) => url = next,
                None => return Ok(()),
            }
        }
    }

    /// Every item of a collection.
    pub async fn get_all(&self, path: &str) -> Result<Vec<Value>, GraphError> {
        let mut all = Vec::new();
        self.get_pages(path, |items| {
            all.extend(items);
            Ok(())
        })
        .await?;
        Ok(all)
    }

    /// A POST that only reads (`directoryObjects/getByIds`): retried like a GET.
    pub async fn post_read(&self, path: &str, body: &Value) -> Result<Value, GraphError> {
        let url = self.url_for(path)?;
        let resp = self
            .execute(&Request {
                method: Method::POST,
                url,
                body: Some(body),
                idempotent: true,
                prefer: None,
            })
            .await?;
        Ok(resp.body)
    }

    /// Whether `url` is a link under this client's Graph root (`{graph_url}/v1.0/…`): only such
    /// links are ever followed with the token.
    pub fn owns_link(&self, url: &str) -> bool {
        self.is_on_graph(url)
    }

    /// One request of any method; `path` relative to `/v1.0`. A non-2xx answer is an error.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<GraphResponse, GraphError> {
        self.send_with(method, path, body, None).await
    }

    /// [`Self::send`] with a `Prefer` header (`create-if-missing` makes a PATCH by alternate key
    /// an upsert).
    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        prefer: Option<&'static str>,
    ) -> Result<GraphResponse, GraphError> {
        let url = self.url_for(path)?;
        let idempotent = matches!(method, Method::GET | Method::HEAD);
        self.execute(&Request {
            method,
            url,
            body,
            idempotent,
            prefer,
        })
        .await
    }

    /// `{graph_url}/v1.0`: the root directory-object URLs in `@odata.id` and `@odata.bind` are
    /// built on (the cloud's own Graph host, not always graph.microsoft.com).
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    pub fn metrics(&self) -> Metrics {
        let c = &self.inner.transport.counters;
        Metrics {
            requests: c.requests.load(Ordering::Relaxed),
            batch_items: c.batch_items.load(Ordering::Relaxed),
            bytes_read: c.bytes_read.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            throttled: c.throttled.load(Ordering::Relaxed),
        }
    }

    pub(super) fn count_batch_items(&self, n: usize) {
        self.inner
            .transport
            .counters
            .batch_items
            .fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(super) fn count_retry(&self, throttled: bool) {
        let c = &self.inner.transport.counters;
        c.retries.fetch_add(1, Ordering::Relaxed);
        if throttled {
            c.throttled.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Absolute URL of a path relative to `/v1.0`, or of an absolute URL on the Graph root.
    pub(super) fn url_for(&self, path: &str) -> Result<String, GraphError> {
        if path.starts_with("http://") || path.starts_with("https://") {
            if self.is_on_graph(path) {
                return Ok(path.to_string());
            }
            return Err(GraphError::InvalidResponse {
                method: "GET",
                path: redact_query(&redact_url(path)),
                detail: format!(
                    "link points outside {}; tenantgit sends its token only to Graph",
                    self.inner.base
                ),
            });
        }
        Ok(format!(
            "{}/{}",
            self.inner.base,
            path.trim_start_matches('/')
        ))
    }

    /// Whether an absolute URL is under `{graph_url}/v1.0/`.
    pub(super) fn is_on_graph(&self, url: &str) -> bool {
        url.strip_prefix(&self.inner.base)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    /// The path relative to `/v1.0` for messages, with opaque paging tokens elided.
    pub(super) fn display_path(&self, url: &str) -> String {
        match url.strip_prefix(&self.inner.base) {
            Some(relative) => redact_query(relative.trim_start_matches('/')),
            None => redact_query(redact_url(url).trim_start_matches('/')),
        }
    }

    /// A page's `value` items and its nextLink, checked.
    pub(super) fn split_page(
        &self,
        method: &'static str,
        url: &str,
        body: Value,
    ) -> Result<(Vec<Value>, Option<String>), GraphError> {
        let invalid = |detail: String| GraphError::InvalidResponse {
            method,
            path: self.display_path(url),
            detail,
        };
        let Value::Object(mut map) = body else {
            return Err(invalid(
                "expected a JSON object with a `value` array".into(),
            ));
        };
        let items = match map.remove("value") {
            Some(Value::Array(items)) => items,
            _ => return Err(invalid(NO_VALUE.into())),
        };
        let next = self.next_link(method, url, map.remove("@odata.nextLink"))?;
        Ok((items, next))
    }

    /// A page's `@odata.nextLink`, checked to be a link under Graph.
    pub(super) fn next_link(
        &self,
        method: &'static str,
        url: &str,
        link: Option<Value>,
    ) -> Result<Option<String>, GraphError> {
        let invalid = |detail: String| GraphError::InvalidResponse {
            method,
            path: self.display_path(url),
            detail,
        };
        match link {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(link)) => {
                if !self.is_on_graph(&link) {
                    return Err(invalid(format!(
                        "@odata.nextLink points outside {}; tenantgit sends its token only to Graph",
                        self.inner.base
                    )));
                }
                Ok(Some(link))
            }
            Some(_) => Err(invalid("@odata.nextLink is not a string".into())),
        }
    }

    fn write_throttled_recently(&self) -> bool {
        let at = self.inner.write_throttled_at.load(Ordering::Relaxed);
        let now = self.inner.started.elapsed().as_millis() as u64;
        at != u64::MAX && now.saturating_sub(at) < WRITE_THROTTLE_MEMORY.as_millis() as u64
    }

    /// Sends a request, retrying what is safe to retry, refreshing the token once on a 401.
    pub(super) async fn execute(&self, req: &Request<'_>) -> Result<GraphResponse, GraphError> {
        self.execute_as(req).await
    }

    /// [`execute`](Self::execute), with the body read into `B`.
    pub(super) async fn execute_as<B: ResponseBody>(
        &self,
        req: &Request<'_>,
    ) -> Result<GraphResponse<B>, GraphError> {
        // Graph's write quota is per application and tenant: once it throttles a write, several
        // writers retrying in parallel would mostly collect more 429s. Until the throttling has
        // been quiet for a while, writes queue and go one at a time, each waiting out its
        // Retry-After.
        // Reads are the idempotent requests: GETs, `$batch` of GETs, `getByIds`.
        let write = !req.idempotent;
        let _serial = if write && self.write_throttled_recently() {
            Some(self.inner.write_gate.lock().await)
        } else {
            None
        };
        let transport = &self.inner.transport;
        let mut attempt: u32 = 0;
        let mut refreshed = false;
        let mut throttled_wait = Duration::ZERO;
        loop {
            attempt += 1;
            match self.attempt(req).await {
                Ok(resp) => return Ok(resp),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Unauthorized { error, token }) => {
                    // An expired or revoked token: one fresh token, one more try.
                    if refreshed || !self.inner.tokens.refreshable() {
                        return Err(error);
                    }
                    refreshed = true;
                    self.inner.tokens.invalidate(&token).await;
                    self.count_retry(false);
                }
                Err(Failure::Retry { error, after }) => {
                    if write && matches!(error, GraphError::Http { status: 429, .. }) {
                        let now = self.inner.started.elapsed().as_millis() as u64;
                        self.inner.write_throttled_at.store(now, Ordering::Relaxed);
                    }
                    let paced =
                        matches!(error, GraphError::Http { status: 429, .. }) && after.is_some();
                    if paced {
                        let wait = transport.timing.delay(attempt, after);
                        if throttled_wait + wait <= transport.timing.throttle_budget {
                            throttled_wait += wait;
                            attempt -= 1;
                            self.count_retry(true);
                            tokio::time::sleep(wait).await;
                            continue;
                        }
                    }
                    if attempt > retry_limit(&error, transport.max_retries) {
                        return Err(GraphError::RetriesExhausted {
                            method: method_name(&req.method),
                            path: self.display_path(&req.url),
                            attempts: attempt,
                            last: Box::new(error),
                        });
                    }
                    self.count_retry(matches!(error, GraphError::Http { status: 429, .. }));
                    tokio::time::sleep(transport.timing.delay(attempt, after)).await;
                }
            }
        }
    }

    async fn attempt<B: ResponseBody>(
        &self,
        req: &Request<'_>,
    ) -> Result<GraphResponse<B>, Failure> {
        let inner = &self.inner;
        let token = inner
            .tokens
            .token(&inner.transport)
            .await
            .map_err(Failure::Fatal)?;
        let _permit = inner
            .limit
            .acquire()
            .await
            .expect("the semaphore lives as long as the client and is never closed");
        let method = method_name(&req.method);
        let path = self.display_path(&req.url);
        let mut builder = inner
            .transport
            .http
            .request(req.method.clone(), &req.url)
            .bearer_auth(token.expose())
            .header("client-request-id", uuid::Uuid::new_v4().to_string())
            .header(ACCEPT, "application/json");
        if let Some(body) = req.body {
            builder = builder.json(body);
        }
        if let Some(prefer) = req.prefer {
            builder = builder.header("Prefer", prefer);
        }
        inner.transport.count_request();
        let resp = match builder.send().await {
            Ok(r) => r,
            Err(e) => return Err(send_failure(e, method, &path, &req.url, req.idempotent)),
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => {
                let error = GraphError::InvalidResponse {
                    method,
                    path,
                    detail: format!("the connection broke while reading the answer ({e})"),
                };
                return Err(if req.idempotent {
                    Failure::Retry { error, after: None }
                } else {
                    Failure::Fatal(error)
                });
            }
        };
        inner.transport.count_bytes(bytes.len());
        let request_id = header_str(&headers, "request-id");
        if (200..300).contains(&status) {
            let body = if bytes.iter().all(u8::is_ascii_whitespace) {
                B::empty()
            } else {
                let size = bytes.len();
                match B::read(bytes) {
                    Ok(v) => v,
                    Err(e) => {
                        let error = GraphError::InvalidResponse {
                            method,
                            path,
                            detail: format!(
                                "HTTP {status} with a body that is not JSON ({e}; {size} bytes)"
                            ),
                        };
                        return Err(if req.idempotent {
                            Failure::Retry { error, after: None }
                        } else {
                            Failure::Fatal(error)
                        });
                    }
                }
            };
            return Ok(GraphResponse {
                status,
                body,
                request_id,
            });
        }
        let error = http_error(method, path, status, &bytes, request_id);
        let after = header_str(&headers, RETRY_AFTER.as_str())
            .as_deref()
            .and_then(parse_retry_after);
        Err(classify_status(status, req.idempotent, error, after, token))
    }
}

/// The method's name for errors; Graph only ever sees the standard ones.
pub(super) fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        _ => "OTHER",
    }
}

/// Graph's error body (`{"error":{"code","message","innerError":{"request-id"}}}`) as a
/// typed error; anything else keeps a short excerpt of the body as the message.
pub(super) fn http_error(
    method: &'static str,
    path: String,
    status: u16,
    body: &[u8],
    request_id: Option<String>,
) -> GraphError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    if let Some(e) = error_from_value(
        method,
        path.clone(),
        status,
        parsed.as_ref(),
        request_id.clone(),
    ) {
        return e;
    }
    let text = String::from_utf8_lossy(body);
    let excerpt: String = text.trim().chars().take(200).collect();
    GraphError::Http {
        method,
        path,
        status,
        code: String::new(),
        message: if excerpt.is_empty() {
            "(no body)".into()
        } else {
            excerpt
        },
        request_id,
    }
}

/// A typed error from a parsed Graph error body; `None` when the body has no `error` object.
pub(super) fn error_from_value(
    method: &'static str,
    path: String,
    status: u16,
    body: Option<&Value>,
    request_id: Option<String>,
) -> Option<GraphError> {
    let error = body?.get("error")?;
    let field = |name: &str| {
        error
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let inner_id = ["innerError", "innererror"].iter().find_map(|k| {
        error
            .get(*k)?
            .get("request-id")?
            .as_str()
            .map(str::to_string)
    });
    Some(GraphError::Http {
        method,
        path,
        status,
        code: field("code"),
        message: field("message"),
        request_id: request_id.or(inner_id),
    })
}

/// A URL or relative path with the values of opaque token parameters (`$skiptoken`,
/// `$deltatoken`) elided: they are long, meaningless to a reader, and not ours to log.
pub(super) fn redact_query(url: &str) -> String {
    let Some((path, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.to_ascii_lowercase().contains("token") => format!("{k}=…"),
            _ => kv.to_string(),
        })
        .collect();
    format!("{path}?{}", params.join("&"))
}
