//! One Graph request as the routes see it: who asked, the shared state, the method, the path as
//! requested (for nextLinks and contexts), the parsed query and the body.

use serde_json::{Map, Value};

use super::reply::{bad_request, Ctx, Reply};
use crate::emulator::odata::Query;
use crate::emulator::shared::Shared;

pub(crate) struct Req<'a> {
    pub ctx: &'a Ctx,
    pub shared: &'a Shared,
    pub method: &'a str,
    /// The path below the version root as requested, without leading `/`.
    pub path: &'a str,
    pub query: Query,
    pub body: &'a [u8],
}

impl Req<'_> {
    /// The body as a JSON object, or Graph's answer to a missing or broken one.
    pub fn json_body(&self) -> Result<Map<String, Value>, Reply> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(bad_request(
                self.ctx,
                "Empty Payload. JSON content expected.",
            ));
        }
        match serde_json::from_slice(self.body) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(bad_request(
                self.ctx,
                "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
            )),
        }
    }

    /// `@odata.context` for a metadata fragment.
    pub fn context(&self, fragment: &str) -> String {
        format!("{}/v1.0/$metadata#{fragment}", self.shared.base)
    }
}
