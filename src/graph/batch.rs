//! Many collection reads through JSON batching (GRAPH.md B.4): at most 20 requests per
//! `$batch`, batches in flight up to the client's concurrency, answers correlated by id (Graph
//! returns them in any order), each item's nextLink followed in a later round, and items
//! throttled on their own (429 with their own `Retry-After`) sent again after the longest wait.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use tokio::task::JoinSet;

use super::client::{error_from_value, GraphClient, Request};
use super::retry::parse_retry_after;
use super::GraphError;

/// Graph's limit of requests in one `$batch`.
pub const MAX_BATCH: usize = 20;

#[derive(Debug, Clone)]
struct Item {
    /// Position in the caller's input.
    index: usize,
    /// URL relative to `/v1.0`, starting with `/`.
    url: String,
    /// Failed attempts so far.
    failures: u32,
}

enum Outcome {
    Page {
        index: usize,
        items: Vec<Value>,
        next: Option<String>,
    },
    Retry {
        item: Item,
        error: GraphError,
        after: Option<Duration>,
    },
}

impl GraphClient {
    /// Reads many collections (paths relative to `/v1.0`) through `$batch`, every page of each;
    /// the result holds each path's items, in input order.
    pub async fn batch_get_all(&self, paths: &[String]) -> Result<Vec<Vec<Value>>, GraphError> {
        let mut results: Vec<Vec<Value>> = vec![Vec::new(); paths.len()];
        let mut pending: Vec<Item> = paths
            .iter()
            .enumerate()
            .map(|(index, p)| Item {
                index,
                url: format!("/{}", p.trim_start_matches('/')),
                failures: 0,
            })
            .collect();
        let max_retries = self.inner.transport.max_retries;
        let timing = self.inner.transport.timing;
        while !pending.is_empty() {
            let mut set = JoinSet::new();
            for chunk in pending.chunks(MAX_BATCH) {
                let client = self.clone();
                let chunk = chunk.to_vec();
                set.spawn(async move { client.run_batch(chunk).await });
            }
            let mut next = Vec::new();
            let mut wait: Option<Duration> = None;
            while let Some(joined) = set.join_next().await {
                // Returning early drops the set, which aborts the batches still in flight.
                let outcomes = match joined {
                    Ok(r) => r?,
                    Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                    Err(e) => {
                        return Err(GraphError::InvalidResponse {
                            method: "POST",
                            path: "$batch".into(),
                            detail: format!("batch task ended early: {e}"),
                        })
                    }
                };
                for outcome in outcomes {
                    match outcome {
                        Outcome::Page {
                            index,
                            items,
                            next: link,
                        } => {
                            results[index].extend(items);
                            if let Some(url) = link {
                                next.push(Item {
                                    index,
                                    url,
                                    failures: 0,
                                });
                            }
                        }
                        Outcome::Retry {
                            mut item,
                            error,
                            after,
                        } => {
                            item.failures += 1;
                            if item.failures > max_retries {
                                return Err(GraphError::RetriesExhausted {
                                    method: "GET",
                                    path: self.display_path(&item.url),
                                    attempts: item.failures,
                                    last: Box::new(error),
                                });
                            }
                            self.count_retry(matches!(error, GraphError::Http { status: 429, .. }));
                            let delay = timing.delay(item.failures, after);
                            wait = Some(wait.map_or(delay, |w| w.max(delay)));
                            next.push(item);
                        }
                    }
                }
            }
            if let Some(w) = wait {
                // GRAPH.md B.4: retry the failed items after the longest Retry-After.
                tokio::time::sleep(w).await;
            }
            next.sort_by_key(|i| i.index);
            pending = next;
        }
        Ok(results)
    }

    async fn run_batch(&self, chunk: Vec<Item>) -> Result<Vec<Outcome>, GraphError> {
        let requests: Vec<Value> = chunk
            .iter()
            .map(|i| json!({"id": i.index.to_string(), "method": "GET", "url": i.url}))
            .collect();
        let body = json!({ "requests": requests });
        let batch_url = format!("{}/$batch", self.inner.base);
        let resp = self
            .execute(&Request {
                method: Method::POST,
                url: batch_url.clone(),
                body: Some(&body),
                // A batch of GETs changes nothing.
                idempotent: true,
            })
            .await?;
        self.count_batch_items(chunk.len());
        let invalid = |detail: String| GraphError::InvalidResponse {
            method: "POST",
            path: "$batch".into(),
            detail,
        };
        let Some(Value::Array(mut responses)) = resp.body.get("responses").cloned() else {
            return Err(invalid("no `responses` array".into()));
        };
        let mut outcomes = Vec::with_capacity(chunk.len());
        for item in chunk {
            let id = item.index.to_string();
            let pos = responses.iter().position(|r| match r.get("id") {
                Some(Value::String(s)) => s.eq_ignore_ascii_case(&id),
                _ => false,
            });
            let Some(pos) = pos else {
                outcomes.push(Outcome::Retry {
                    error: invalid(format!("no answer for request {}", item.url)),
                    item,
                    after: None,
                });
                continue;
            };
            let answer = responses.swap_remove(pos);
            outcomes.push(self.item_outcome(item, answer)?);
        }
        Ok(outcomes)
    }

    fn item_outcome(&self, item: Item, mut answer: Value) -> Result<Outcome, GraphError> {
        let status = answer
            .get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(0);
        let header = |name: &str| -> Option<String> {
            let headers = answer.get("headers")?.as_object()?;
            headers.iter().find_map(|(k, v)| {
                if !k.eq_ignore_ascii_case(name) {
                    return None;
                }
                match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                }
            })
        };
        let retry_after = header("Retry-After").as_deref().and_then(parse_retry_after);
        let request_id = header("request-id");
        let body = answer
            .get_mut("body")
            .map(Value::take)
            .unwrap_or(Value::Null);
        let abs_url = format!("{}{}", self.inner.base, item.url);
        if (200..300).contains(&status) {
            let (items, next) = self.split_page("GET", &abs_url, body)?;
            let next = next.map(|link| {
                link.strip_prefix(&self.inner.base)
                    .expect("split_page only accepts links under the Graph base")
                    .to_string()
            });
            return Ok(Outcome::Page {
                index: item.index,
                items,
                next,
            });
        }
        let path = self.display_path(&abs_url);
        let error = error_from_value("GET", path.clone(), status, Some(&body), request_id.clone())
            .unwrap_or(GraphError::Http {
                method: "GET",
                path,
                status,
                code: String::new(),
                message: "(no error body)".into(),
                request_id,
            });
        match status {
            429 | 500 | 502 | 503 | 504 => Ok(Outcome::Retry {
                item,
                error,
                after: retry_after,
            }),
            _ => Err(error),
        }
    }
}
