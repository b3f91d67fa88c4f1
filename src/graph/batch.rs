//! Many collection reads through JSON batching (GRAPH.md B.4): at most 20 requests per
//! `$batch`, batches in flight up to the client's concurrency, answers correlated by id (Graph
//! returns them in any order), each item's nextLink followed in a later round, and items
//! throttled on their own (429 with their own `Retry-After`) sent again after the longest wait —
//! Graph pacing the client, which uses up the throttle budget, not the retries.

use std::sync::atomic::Ordering;
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
    /// Time this request has spent waiting out 429s that came with a `Retry-After`.
    throttled_wait: Duration,
    /// The answer is one entity (an object by id), not a page of a collection.
    entity: bool,
}

impl Item {
    fn new(index: usize, url: String, entity: bool) -> Item {
        Item {
            index,
            url,
            failures: 0,
            throttled_wait: Duration::ZERO,
            entity,
        }
    }
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
    /// An answer that retrying cannot change (403, 404 …).
    Failed { index: usize, error: GraphError },
}

/// What one collection read of a batch ended with: every item of every page, or the error that
/// the caller chose to take per path (see [`GraphClient::batch_get_each`]).
pub type PathResult = Result<Vec<Value>, GraphError>;

/// How many items the next round may send, after a round that got `answered` answers (success
/// or final error) and was or was not `throttled`. Resending everything that was throttled at
/// once would mostly collect 429s again — a token bucket admits only what refilled during the
/// wait — so after a throttled round only as many items go out as Graph just admitted (but a
/// full `$batch` at least: fewer would not save a request), and the window doubles with every
/// round that is not throttled.
pub(super) fn next_window(
    window: Option<usize>,
    answered: usize,
    throttled: bool,
) -> Option<usize> {
    if throttled {
        Some(answered.max(MAX_BATCH))
    } else {
        window.map(|w| w.saturating_mul(2))
    }
}

impl GraphClient {
    /// Reads many collections (paths relative to `/v1.0`) through `$batch`, every page of each;
    /// the result holds each path's items, in input order. Any error fails the whole read.
    pub async fn batch_get_all(&self, paths: &[String]) -> Result<Vec<Vec<Value>>, GraphError> {
        let results = self.batch_get_each(paths, &|_| false).await?;
        Ok(results
            .into_iter()
            .map(|r| r.expect("no error is kept per path, so every path succeeded"))
            .collect())
    }

    /// Like [`GraphClient::batch_get_all`], except that a path whose answer is an error `keep`
    /// accepts (a 404 of an object deleted meanwhile) ends in that error instead of failing
    /// the read; the items of its earlier pages are dropped. Retryable failures that persist,
    /// and errors `keep` refuses, fail the whole read.
    pub async fn batch_get_each(
        &self,
        paths: &[String],
        keep: &(dyn Fn(&GraphError) -> bool + Sync),
    ) -> Result<Vec<PathResult>, GraphError> {
        self.batch_get(paths, false, keep).await
    }

    /// Reads single objects (`{collection}/{id}?$select=…`) through `$batch`: each path's
    /// object, in input order, or the error `keep` accepts for it (a 404 of an object that is
    /// gone). Retryable failures that persist, and errors `keep` refuses, fail the whole read.
    pub async fn batch_get_objects(
        &self,
        paths: &[String],
        keep: &(dyn Fn(&GraphError) -> bool + Sync),
    ) -> Result<Vec<Result<Value, GraphError>>, GraphError> {
        let results = self.batch_get(paths, true, keep).await?;
        Ok(results
            .into_iter()
            .map(|r| r.map(|mut items| items.pop().unwrap_or(Value::Null)))
            .collect())
    }

    async fn batch_get(
        &self,
        paths: &[String],
        entity: bool,
        keep: &(dyn Fn(&GraphError) -> bool + Sync),
    ) -> Result<Vec<PathResult>, GraphError> {
        let mut results: Vec<PathResult> = (0..paths.len()).map(|_| Ok(Vec::new())).collect();
        let mut pending: Vec<Item> = paths
            .iter()
            .enumerate()
            .map(|(index, p)| Item::new(index, format!("/{}", p.trim_start_matches('/')), entity))
            .collect();
        let max_retries = self.inner.transport.max_retries;
        let timing = self.inner.transport.timing;
        let window_of = |w: usize| (w != usize::MAX).then_some(w);
        while !pending.is_empty() {
            // Items this round may send: unlimited until Graph throttles. The pace learnt is the
            // client's, so that the next read (another kind, the next 1,000 objects) starts
            // with it instead of a burst that would mostly be throttled.
            let window = window_of(self.inner.batch_window.load(Ordering::Relaxed));
            let held = pending.split_off(window.map_or(pending.len(), |w| w.min(pending.len())));
            let mut set = JoinSet::new();
            for chunk in pending.chunks(MAX_BATCH) {
                let client = self.clone();
                let chunk = chunk.to_vec();
                set.spawn(async move { client.run_batch(chunk).await });
            }
            let mut next = Vec::new();
            let mut retries: Vec<(Item, GraphError, Option<Duration>)> = Vec::new();
            let mut answered = 0usize;
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
                            answered += 1;
                            if let Ok(all) = &mut results[index] {
                                all.extend(items);
                            }
                            if let Some(url) = link {
                                next.push(Item::new(index, url, false));
                            }
                        }
                        Outcome::Failed { index, error } => {
                            answered += 1;
                            if !keep(&error) {
                                return Err(error);
                            }
                            results[index] = Err(error);
                        }
                        Outcome::Retry { item, error, after } => retries.push((item, error, after)),
                    }
                }
            }
            let paced = |error: &GraphError, after: &Option<Duration>| {
                matches!(error, GraphError::Http { status: 429, .. }) && after.is_some()
            };
            // GRAPH.md B.4: retry the failed items after the longest Retry-After.
            let wait = retries
                .iter()
                .map(|(item, _, after)| timing.delay(item.failures + 1, *after))
                .max();
            let mut throttled = false;
            for (mut item, error, after) in retries {
                let wait = wait.expect("there is a wait when there are retries");
                let is_429 = matches!(error, GraphError::Http { status: 429, .. });
                throttled |= is_429;
                // Graph pacing the client is not a failure: like a single request (see
                // `execute`), the item waits within the throttle budget without using up
                // `max_retries`.
                if paced(&error, &after) && item.throttled_wait + wait <= timing.throttle_budget {
                    item.throttled_wait += wait;
                } else {
                    item.failures += 1;
                    if item.failures > max_retries {
                        return Err(GraphError::RetriesExhausted {
                            method: "GET",
                            path: self.display_path(&item.url),
                            attempts: item.failures,
                            last: Box::new(error),
                        });
                    }
                }
                self.count_retry(is_429);
                next.push(item);
            }
            let window = next_window(window, answered, throttled).unwrap_or(usize::MAX);
            self.inner.batch_window.store(window, Ordering::Relaxed);
            if let Some(w) = wait {
                tokio::time::sleep(w).await;
            }
            // Retried items and next pages first: they were asked for before the held ones.
            next.sort_by_key(|i| i.index);
            next.extend(held);
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
                prefer: None,
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
        if (200..300).contains(&status) && item.entity {
            if !body.is_object() {
                return Err(GraphError::InvalidResponse {
                    method: "GET",
                    path: self.display_path(&abs_url),
                    detail: "expected a JSON object".into(),
                });
            }
            return Ok(Outcome::Page {
                index: item.index,
                items: vec![body],
                next: None,
            });
        }
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
            _ => Ok(Outcome::Failed {
                index: item.index,
                error,
            }),
        }
    }
}
