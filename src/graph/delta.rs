//! Delta queries (GRAPH.md B.3): a round follows `@odata.nextLink` page by page until a page
//! carries `@odata.deltaLink`, the token of the next round. The first call carries the query
//! (`$select`); later rounds start from the stored deltaLink and ask for only the changed
//! properties (`Prefer: return=minimal`). A token Graph no longer honours is its own error, so
//! that the caller falls back to a full round.

use reqwest::Method;
use serde_json::Value;

use super::client::{GraphClient, Request, NO_VALUE};
use super::delta_page::{DeltaItem, DeltaPage, Skimmed};
use super::GraphError;

/// A task of a round (its requests, the reading of a page), stopped when the round no longer
/// waits for it.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A delta page: its items, its nextLink and its deltaLink.
type SplitPage = (Vec<DeltaItem>, Option<String>, Option<String>);

/// Pages read ahead of the caller, at most.
const PAGES_AHEAD: usize = 2;

/// A page of the round on its way to the caller.
enum Reading {
    /// Read already (its links came after its items).
    Read(Result<DeltaPage, serde_json::Error>),
    /// Being read on its own task.
    Running(AbortOnDrop<Result<DeltaPage, serde_json::Error>>),
}

/// The error codes with which Graph says a delta token can no longer be used (GRAPH.md B.3, B.6).
const TOKEN_CODES: &[&str] = &["syncStateNotFound", "resyncRequired", "syncStateInvalid"];

impl GraphError {
    /// Whether Graph refused a delta token (expired, reset, unknown): the caller starts over
    /// with a full round.
    pub fn is_delta_token_rejected(&self) -> bool {
        match self {
            GraphError::Http { status, code, .. } => {
                *status == 410 || TOKEN_CODES.iter().any(|c| c.eq_ignore_ascii_case(code))
            }
            GraphError::RetriesExhausted { last, .. } | GraphError::Read { source: last, .. } => {
                last.is_delta_token_rejected()
            }
            _ => false,
        }
    }
}

impl GraphClient {
    /// The tenant the client's access token is for: the `tid` claim of the token (Entra's
    /// tokens are JWTs), `None` when the token says nothing readable. Used to tell whether
    /// stored delta tokens belong to this tenant.
    pub async fn token_tenant(&self) -> Result<Option<String>, GraphError> {
        use base64::Engine;
        let inner = &self.inner;
        let token = inner.tokens.token(&inner.transport).await?;
        let claims = token
            .expose()
            .split('.')
            .nth(1)
            .and_then(|p| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(p.trim_end_matches('='))
                    .ok()
            })
            .and_then(|bytes: Vec<u8>| serde_json::from_slice::<Value>(&bytes).ok());
        Ok(claims
            .as_ref()
            .and_then(|c| c.get("tid"))
            .and_then(Value::as_str)
            .map(str::to_string))
    }

    /// Follows a delta round from `start` (a path with its query for an initial round, or a
    /// stored deltaLink), handing each page's items to `page`; returns the deltaLink of the next
    /// round. `minimal`: ask for only the properties that changed.
    ///
    /// A round is a chain of requests, each for the link the page before it ends with. Three
    /// things run at once so that Graph's time, reading JSON and the caller's work stay off each
    /// other's path: a task asks for the next page as soon as the links at the head of a page
    /// are read, each page is read on a task of its own, and `page` takes in the pages in order.
    /// At most [`PAGES_AHEAD`] pages wait for the caller.
    pub async fn get_delta_pages(
        &self,
        start: &str,
        minimal: bool,
        mut page: impl FnMut(Vec<DeltaItem>) -> Result<(), GraphError>,
    ) -> Result<String, GraphError> {
        let (tx, mut rx) = tokio::sync::mpsc::channel(PAGES_AHEAD);
        let fetcher = AbortOnDrop(tokio::spawn(self.clone().fetch_pages(
            self.url_for(start)?,
            minimal.then_some("return=minimal"),
            tx,
        )));
        while let Some((url, reading)) = rx.recv().await {
            let body = match reading {
                Reading::Read(body) => body,
                Reading::Running(task) => self.joined(start, task).await?,
            };
            let body = body.map_err(|e| self.not_a_page(&url, &e))?;
            let (items, next, delta) = self.split_delta_page(&url, body)?;
            page(items)?;
            match (next, delta) {
                (Some(_), _) => {}
                (None, Some(delta)) => return Ok(delta),
                (None, None) => {
                    return Err(GraphError::InvalidResponse {
                        method: "GET",
                        path: self.display_path(&url),
                        detail: "a delta page with neither @odata.nextLink nor @odata.deltaLink"
                            .into(),
                    })
                }
            }
        }
        // The chain stopped before a page that ends the round: its error.
        self.joined(start, fetcher).await??;
        Err(GraphError::InvalidResponse {
            method: "GET",
            path: self.display_path(start),
            detail: "the delta round ended without a page that carries @odata.deltaLink".into(),
        })
    }

    /// The chain of page requests of a round, from `url`: each page goes to `tx` (being read
    /// on its own task) and the next is asked for at once. It stops after a page that does not
    /// link on under Graph; the caller finds out why.
    async fn fetch_pages(
        self,
        mut url: String,
        prefer: Option<&'static str>,
        tx: tokio::sync::mpsc::Sender<(String, Reading)>,
    ) -> Result<(), GraphError> {
        loop {
            let resp = self
                .execute_as::<Skimmed>(&Request {
                    method: Method::GET,
                    url: url.clone(),
                    body: None,
                    idempotent: true,
                    prefer,
                })
                .await?;
            let skimmed = resp.body;
            let links = &skimmed.links;
            let (next, reading) = if links.next_link.is_some() || !links.items_follow {
                let next = links.next_link.clone();
                let task = tokio::spawn(async move { skimmed.read() });
                (next, Reading::Running(AbortOnDrop(task)))
            } else {
                // Nothing before the items says whether the round goes on: the page is read
                // whole to find out.
                let body = skimmed.read();
                let next = body.as_ref().ok().and_then(|b| b.next_link.clone());
                (next, Reading::Read(body))
            };
            if tx.send((url, reading)).await.is_err() {
                return Ok(());
            }
            match next {
                Some(Value::String(link)) if self.is_on_graph(&link) => url = link,
                _ => return Ok(()),
            }
        }
    }

    /// What a task of the round returned.
    async fn joined<T>(&self, start: &str, mut task: AbortOnDrop<T>) -> Result<T, GraphError> {
        match (&mut task.0).await {
            Ok(answer) => Ok(answer),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(GraphError::InvalidResponse {
                method: "GET",
                path: self.display_path(start),
                detail: format!("no answer: the request's task ended ({e})"),
            }),
        }
    }

    fn not_a_page(&self, url: &str, e: &serde_json::Error) -> GraphError {
        GraphError::InvalidResponse {
            method: "GET",
            path: self.display_path(url),
            detail: format!("HTTP 200 with a body that is not JSON ({e})"),
        }
    }

    /// A delta page's items, its nextLink and its deltaLink, checked to stay on Graph.
    fn split_delta_page(&self, url: &str, page: DeltaPage) -> Result<SplitPage, GraphError> {
        let invalid = |detail: String| GraphError::InvalidResponse {
            method: "GET",
            path: self.display_path(url),
            detail,
        };
        let delta = match page.delta_link {
            None | Some(Value::Null) => None,
            Some(Value::String(link)) if self.is_on_graph(&link) => Some(link),
            Some(_) => {
                return Err(invalid(format!(
                "@odata.deltaLink is not a link under {}; tenantgit sends its token only to Graph",
                self.base_url()
            )))
            }
        };
        let Some(items) = page.items else {
            return Err(invalid(NO_VALUE.into()));
        };
        let next = self.next_link("GET", url, page.next_link)?;
        Ok((items, next, delta))
    }
}
