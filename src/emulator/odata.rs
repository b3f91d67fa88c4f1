//! OData query options as the emulator understands them: `$select`, `$top`, `$expand` and the
//! opaque `$skiptoken` of `@odata.nextLink`s, plus percent-decoding of path segments.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// Graph's default and largest page size for directory collections (GRAPH.md A.0).
pub(crate) const DEFAULT_TOP: usize = 100;
pub(crate) const MAX_TOP: usize = 999;

/// The query options of one request, names lower-cased and `$` optional as in Graph.
#[derive(Debug, Default, Clone)]
pub(crate) struct Query {
    pub select: Option<Vec<String>>,
    pub top: Option<String>,
    pub skiptoken: Option<String>,
    /// `$expand` as written; the routes that support it parse it.
    pub expand: Option<String>,
    /// Options the emulator does not implement (`$filter`, `$search`, …).
    pub unsupported: Vec<String>,
}

impl Query {
    pub fn parse(raw: &str) -> Query {
        let mut q = Query::default();
        for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
            let name = key.trim_start_matches('$').to_ascii_lowercase();
            match name.as_str() {
                "select" => {
                    q.select = Some(
                        value
                            .split(',')
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty())
                            .collect(),
                    )
                }
                "top" => q.top = Some(value.into_owned()),
                "skiptoken" => q.skiptoken = Some(value.into_owned()),
                "expand" => q.expand = Some(value.into_owned()),
                // `$count=true` without ConsistencyLevel is silently ignored by Graph (B.2).
                "count" => {}
                "filter" | "search" | "orderby" | "skip" | "deltatoken" => {
                    q.unsupported.push(format!("${name}"))
                }
                _ => {}
            }
        }
        q
    }
}

/// What a `$skiptoken` carries: where the previous page stopped and the query it answered, so
/// that a nextLink needs nothing else and stays valid while objects come and go.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct PageToken {
    /// Which collection the token belongs to (request path).
    pub c: String,
    /// Last id (or link slot) returned.
    pub a: String,
    pub s: Option<Vec<String>>,
    pub t: usize,
    /// `$expand` of the first request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
}

impl PageToken {
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("a page token always serializes");
        URL_SAFE_NO_PAD.encode(json)
    }

    pub fn decode(token: &str) -> Option<PageToken> {
        let bytes = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// Percent-decodes a path segment (`%24ref` → `$ref`); `+` stays a plus in paths.
pub(crate) fn pct_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_tokens() {
        let q = Query::parse("$select=id,displayName&%24top=5&$filter=x%20eq%201");
        assert_eq!(q.select.unwrap(), vec!["id", "displayName"]);
        assert_eq!(q.top.as_deref(), Some("5"));
        assert_eq!(q.unsupported, vec!["$filter"]);
        let t = PageToken {
            c: "users".into(),
            a: "abc".into(),
            s: None,
            t: 10,
            e: None,
        };
        assert_eq!(PageToken::decode(&t.encode()), Some(t));
        assert_eq!(PageToken::decode("not a token"), None);
        assert_eq!(pct_decode("%24ref"), "$ref");
        assert_eq!(pct_decode("a%2"), "a%2");
        assert_eq!(pct_decode("a%41"), "aA");
    }
}
