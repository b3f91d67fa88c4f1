//! Delta queries (GRAPH.md B.3): a round follows `@odata.nextLink` page by page until a page
//! carries `@odata.deltaLink`, the token of the next round. The first call carries the query
//! (`$select`); later rounds start from the stored deltaLink and ask for only the changed
//! properties (`Prefer: return=minimal`). A token Graph no longer honours is its own error, so
//! that the caller falls back to a full round.

use reqwest::Method;
use serde_json::Value;

use super::client::{GraphClient, Request};
use super::GraphError;

/// A request running on its own task, stopped when the round no longer waits for it.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A delta page: its items, its nextLink and its deltaLink.
type DeltaPage = (Vec<Value>, Option<String>, Option<String>);

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
    /// round. `minimal`: ask for only the properties that changed. The next page is asked for
    /// (and its answer parsed, on another task) while `page` takes in the current one: a round
    /// is a chain of requests, and this keeps Graph's time and the caller's off each other's
    /// path.
    pub async fn get_delta_pages(
        &self,
        start: &str,
        minimal: bool,
        mut page: impl FnMut(Vec<Value>) -> Result<(), GraphError>,
    ) -> Result<String, GraphError> {
        let prefer = minimal.then_some("return=minimal");
        let get = |url: String| {
            let client = self.clone();
            AbortOnDrop(tokio::spawn(async move {
                let resp = client
                    .execute(&Request {
                        method: Method::GET,
                        url: url.clone(),
                        body: None,
                        idempotent: true,
                        prefer,
                    })
                    .await?;
                Ok::<_, GraphError>((url, resp.body))
            }))
        };
        let mut pending = get(self.url_for(start)?);
        loop {
            let (url, body) = match (&mut pending.0).await {
                Ok(answer) => answer?,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => {
                    return Err(GraphError::InvalidResponse {
                        method: "GET",
                        path: self.display_path(start),
                        detail: format!("no answer: the request's task ended ({e})"),
                    })
                }
            };
            let (items, next, delta) = self.split_delta_page(&url, body)?;
            if let Some(next) = &next {
                pending = get(next.clone());
            }
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
    }

    /// A delta page's items, its nextLink and its deltaLink, checked to stay on Graph.
    fn split_delta_page(&self, url: &str, body: Value) -> Result<DeltaPage, GraphError> {
        let delta = match body.get("@odata.deltaLink") {
            None | Some(Value::Null) => None,
            Some(Value::String(link)) if self.is_on_graph(link) => Some(link.clone()),
            Some(_) => {
                return Err(GraphError::InvalidResponse {
                    method: "GET",
                    path: self.display_path(url),
                    detail: format!(
                        "@odata.deltaLink is not a link under {}; tenantgit sends its token only to Graph",
                        self.base_url()
                    ),
                })
            }
        };
        let (items, next) = self.split_page("GET", url, body)?;
        Ok((items, next, delta))
    }
}
