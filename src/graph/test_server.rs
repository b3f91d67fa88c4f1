//! Small Graph stand-ins for tests, on 127.0.0.1 port 0: an axum server that answers the token
//! endpoint and `/v1.0/...` (including `$batch`, whose items go through the same handler) from a
//! closure, and a raw TCP server for faults axum cannot produce (dropped connections, bodies cut
//! off mid-way).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request the server received (a `$batch` item is a call of its own).
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub method: String,
    /// Path below `/v1.0/` without query, or `token` for the token endpoint.
    pub path: String,
    pub query: BTreeMap<String, String>,
    /// Lower-case header names; batch items carry the `$batch` post's headers.
    pub headers: BTreeMap<String, String>,
    pub body: Value,
    /// Decoded form fields (token requests).
    pub form: BTreeMap<String, String>,
    pub in_batch: bool,
}

pub(crate) enum ReplyBody {
    Json(Value),
    Text(String),
    Empty,
}

pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: ReplyBody,
    pub delay: Duration,
}

impl Reply {
    pub fn json(body: Value) -> Self {
        Reply {
            status: 200,
            headers: vec![("request-id".into(), uuid::Uuid::new_v4().to_string())],
            body: ReplyBody::Json(body),
            delay: Duration::ZERO,
        }
    }

    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn without_headers(mut self) -> Self {
        self.headers.clear();
        self
    }

    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    pub fn text(status: u16, text: &str) -> Self {
        Reply {
            body: ReplyBody::Text(text.into()),
            ..Reply::json(Value::Null).status(status).without_headers()
        }
    }

    pub fn empty(status: u16) -> Self {
        Reply {
            body: ReplyBody::Empty,
            ..Reply::json(Value::Null).status(status).without_headers()
        }
    }

    /// Graph's error body (GRAPH.md B.6).
    pub fn graph_error(status: u16, code: &str, message: &str) -> Self {
        Reply::json(json!({"error": {"code": code, "message": message,
            "innerError": {"date": "2024-01-01T00:00:00", "request-id": "inner-req-id"}}}))
        .status(status)
        .without_headers()
    }
}

pub(crate) type Handler = Arc<dyn Fn(&Call) -> Reply + Send + Sync>;

#[derive(Clone)]
struct ServerState {
    graph: Handler,
    token: Handler,
    calls: Arc<Mutex<Vec<Call>>>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
}

pub(crate) struct FakeGraph {
    /// `http://127.0.0.1:PORT`: both the Graph root and the authority host.
    pub url: String,
    pub calls: Arc<Mutex<Vec<Call>>>,
    pub max_in_flight: Arc<AtomicUsize>,
}

impl FakeGraph {
    pub fn calls(&self) -> Vec<Call> {
        self.calls
            .lock()
            .expect("no test panicked holding it")
            .clone()
    }

    pub fn calls_to(&self, path: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.path == path)
            .collect()
    }
}

/// A token endpoint that hands out `token-1`, `token-2`, … valid for an hour.
pub(crate) fn token_counter() -> Handler {
    let n = Arc::new(AtomicUsize::new(0));
    Arc::new(move |_c: &Call| {
        let i = n.fetch_add(1, Ordering::SeqCst) + 1;
        Reply::json(
            json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
            "access_token": format!("token-{i}")}),
        )
    })
}

pub(crate) async fn start(
    graph: impl Fn(&Call) -> Reply + Send + Sync + 'static,
    token: Handler,
) -> FakeGraph {
    let state = ServerState {
        graph: Arc::new(graph),
        token,
        calls: Arc::default(),
        in_flight: Arc::default(),
        max_in_flight: Arc::default(),
    };
    let app = axum::Router::new()
        .fallback(serve_any)
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("test server runs");
    });
    FakeGraph {
        url: format!("http://{addr}"),
        calls: state.calls,
        max_in_flight: state.max_in_flight,
    }
}

fn parse_query(query: &str) -> BTreeMap<String, String> {
    reqwest::Url::parse(&format!("http://x/?{query}"))
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

fn to_response(reply: &Reply) -> Response {
    let mut builder = Response::builder().status(reply.status);
    for (k, v) in &reply.headers {
        builder = builder.header(k, v);
    }
    let body = match &reply.body {
        ReplyBody::Json(v) => {
            builder = builder.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        ReplyBody::Text(t) => Body::from(t.clone()),
        ReplyBody::Empty => Body::empty(),
    };
    builder.body(body).expect("valid test response")
}

async fn serve_any(
    State(state): State<ServerState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let response = handle(&state, method, uri, headers, body).await;
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    response
}

async fn handle(
    state: &ServerState,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // A header sent twice shows as both values joined with ", ", so that tests see it.
    let mut joined: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in &headers {
        let v = v.to_str().unwrap_or_default();
        joined
            .entry(k.as_str().to_ascii_lowercase())
            .and_modify(|all| {
                all.push_str(", ");
                all.push_str(v);
            })
            .or_insert_with(|| v.to_string());
    }
    let headers = joined;
    let query = uri.query().unwrap_or_default();
    let path = uri.path();
    if path.ends_with("/oauth2/v2.0/token") {
        let call = Call {
            method: method.to_string(),
            path: "token".into(),
            query: BTreeMap::new(),
            headers,
            body: Value::Null,
            form: parse_query(&String::from_utf8_lossy(&body)),
            in_batch: false,
        };
        state.calls.lock().expect("lock").push(call.clone());
        let reply = (state.token)(&call);
        tokio::time::sleep(reply.delay).await;
        return to_response(&reply);
    }
    let Some(rel) = path.strip_prefix("/v1.0/") else {
        return to_response(&Reply::graph_error(404, "NotFound", "not under /v1.0"));
    };
    let json_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if rel == "$batch" && method == Method::POST {
        let requests = json_body["requests"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if requests.len() > 20 {
            return to_response(&Reply::graph_error(
                400,
                "BadRequest",
                "Number of batch requests exceeds 20",
            ));
        }
        let mut responses = Vec::new();
        let mut delay = Duration::ZERO;
        for r in requests {
            let url = r["url"].as_str().unwrap_or_default();
            let (p, q) = url.split_once('?').unwrap_or((url, ""));
            let call = Call {
                method: r["method"].as_str().unwrap_or_default().to_string(),
                path: p.trim_start_matches('/').to_string(),
                query: parse_query(q),
                headers: headers.clone(),
                body: r.get("body").cloned().unwrap_or(Value::Null),
                form: BTreeMap::new(),
                in_batch: true,
            };
            state.calls.lock().expect("lock").push(call.clone());
            let reply = (state.graph)(&call);
            delay = delay.max(reply.delay);
            let item_headers: serde_json::Map<String, Value> = reply
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            let body = match reply.body {
                ReplyBody::Json(v) => v,
                ReplyBody::Text(t) => Value::String(t),
                ReplyBody::Empty => Value::Null,
            };
            responses.push(json!({"id": r["id"], "status": reply.status,
                "headers": item_headers, "body": body}));
        }
        // Graph answers batch items in any order; so does this server.
        responses.reverse();
        tokio::time::sleep(delay).await;
        return to_response(&Reply::json(json!({ "responses": responses })));
    }
    let call = Call {
        method: method.to_string(),
        path: rel.to_string(),
        query: parse_query(query),
        headers,
        body: json_body,
        form: BTreeMap::new(),
        in_batch: false,
    };
    state.calls.lock().expect("lock").push(call.clone());
    let reply = (state.graph)(&call);
    tokio::time::sleep(reply.delay).await;
    to_response(&reply)
}

/// What the raw server does with one connection.
#[derive(Clone)]
pub(crate) enum RawReply {
    /// Read the request, then close without answering.
    Drop,
    /// Announce `Content-Length` of the whole body, send half of it, close.
    Truncated(String),
    /// A complete answer.
    Full(u16, String),
}

/// A raw HTTP/1.1 server answering connection `i` with `script[i]` (the last entry repeats).
/// Returns the base URL and the connection counter.
pub(crate) async fn start_raw(script: Vec<RawReply>) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    let addr = listener.local_addr().expect("bound");
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let i = counter.fetch_add(1, Ordering::SeqCst);
            let reply = script[i.min(script.len() - 1)].clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = |status: u16, len: usize| {
                    format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n\
                         content-length: {len}\r\nconnection: close\r\nrequest-id: raw-req\r\n\r\n"
                    )
                };
                let out = match reply {
                    RawReply::Drop => String::new(),
                    RawReply::Truncated(body) => {
                        format!("{}{}", head(200, body.len()), &body[..body.len() / 2])
                    }
                    RawReply::Full(status, body) => format!("{}{}", head(status, body.len()), body),
                };
                let _ = socket.write_all(out.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (format!("http://{addr}"), count)
}
