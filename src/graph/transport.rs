//! What every request to Graph and to the token endpoint shares: the HTTP client, the retry
//! policy's limits and the counters, and how a failed attempt is classified (retry, refresh the
//! token, or give up). Both the token source and the client use it; it uses neither.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{HeaderMap, ACCEPT, RETRY_AFTER};

use super::retry::{parse_retry_after, RetryTiming};
use super::settings::{redact_url, Secret};
use super::GraphError;

/// The reqwest client with what every request shares: retry policy and counters.
pub(crate) struct Transport {
    pub(super) http: reqwest::Client,
    pub(super) counters: Counters,
    pub(super) timing: RetryTiming,
    pub(super) max_retries: u32,
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) requests: AtomicU64,
    pub(super) batch_items: AtomicU64,
    pub(super) bytes_read: AtomicU64,
    pub(super) retries: AtomicU64,
    pub(super) throttled: AtomicU64,
}

/// Why an attempt failed, and whether it may be sent again.
pub(super) enum Failure {
    Retry {
        error: GraphError,
        after: Option<Duration>,
    },
    Unauthorized {
        error: GraphError,
        token: Secret,
    },
    Fatal(GraphError),
}

impl Transport {
    pub(super) fn count_request(&self) {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn count_bytes(&self, n: usize) {
        self.counters
            .bytes_read
            .fetch_add(n as u64, Ordering::Relaxed);
    }

    /// POSTs a token request form, retrying throttling, 5xx and connection failures (a token
    /// request changes nothing, so it is always safe to repeat). Returns status and body.
    pub(crate) async fn post_token_form(
        &self,
        url: &str,
        form: &[(&str, String)],
    ) -> Result<(u16, Vec<u8>), GraphError> {
        // The authority host may carry a user name and password; errors show it without them.
        let path = redact_url(url);
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.count_request();
            let failure = match self
                .http
                .post(url)
                .header(ACCEPT, "application/json")
                .form(form)
                .send()
                .await
            {
                Err(e) => send_failure(e, "POST", &path, url, true),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let after = header_str(resp.headers(), RETRY_AFTER.as_str())
                        .as_deref()
                        .and_then(parse_retry_after);
                    match resp.bytes().await {
                        Ok(body) if !matches!(status, 429 | 500 | 502 | 503 | 504) => {
                            self.count_bytes(body.len());
                            return Ok((status, body.to_vec()));
                        }
                        Ok(body) => {
                            self.count_bytes(body.len());
                            Failure::Retry {
                                error: GraphError::Http {
                                    method: "POST",
                                    path: path.clone(),
                                    status,
                                    code: String::new(),
                                    message: "the token endpoint is unavailable".into(),
                                    request_id: None,
                                },
                                after,
                            }
                        }
                        Err(e) => Failure::Retry {
                            error: GraphError::InvalidResponse {
                                method: "POST",
                                path: path.clone(),
                                detail: format!(
                                    "the connection broke while reading the answer ({e})"
                                ),
                            },
                            after: None,
                        },
                    }
                }
            };
            match failure {
                Failure::Retry { error, after } => {
                    if attempt > retry_limit(&error, self.max_retries) {
                        return Err(GraphError::RetriesExhausted {
                            method: "POST",
                            path,
                            attempts: attempt,
                            last: Box::new(error),
                        });
                    }
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    if matches!(error, GraphError::Http { status: 429, .. }) {
                        self.counters.throttled.fetch_add(1, Ordering::Relaxed);
                    }
                    tokio::time::sleep(self.timing.delay(attempt, after)).await;
                }
                Failure::Fatal(e) | Failure::Unauthorized { error: e, .. } => return Err(e),
            }
        }
    }
}

pub(super) fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// How many retries an error deserves: a host that refuses connections is usually a wrong URL
/// or a network that is down, so it gets a few quick tries rather than minutes of backoff.
pub(super) fn retry_limit(error: &GraphError, max_retries: u32) -> u32 {
    match error {
        GraphError::Unreachable { .. } => max_retries.min(3),
        _ => max_retries,
    }
}

/// A request that got no HTTP answer.
pub(super) fn send_failure(
    e: reqwest::Error,
    method: &'static str,
    path: &str,
    url: &str,
    idempotent: bool,
) -> Failure {
    if e.is_connect() {
        // Nothing reached the server, so even a write is safe to send again.
        return Failure::Retry {
            error: GraphError::Unreachable {
                url: redact_url(url.split('?').next().unwrap_or(url)),
                source: e.without_url(),
            },
            after: None,
        };
    }
    let detail = if e.is_timeout() {
        "no answer in time".to_string()
    } else {
        format!(
            "the connection closed before an answer arrived ({})",
            e.without_url()
        )
    };
    let error = GraphError::InvalidResponse {
        method,
        path: path.into(),
        detail,
    };
    if idempotent {
        Failure::Retry { error, after: None }
    } else {
        Failure::Fatal(error)
    }
}

pub(super) fn classify_status(
    status: u16,
    idempotent: bool,
    error: GraphError,
    after: Option<Duration>,
    token: Secret,
) -> Failure {
    match status {
        401 => Failure::Unauthorized { error, token },
        // Graph has not acted on a throttled or unavailable request: safe for writes too.
        429 | 503 => Failure::Retry { error, after },
        500 | 502 | 504 if idempotent => Failure::Retry { error, after },
        _ => Failure::Fatal(error),
    }
}
