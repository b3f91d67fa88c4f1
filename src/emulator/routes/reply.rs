//! A Graph answer before it becomes HTTP (or a `$batch` item), and Graph's error bodies with
//! the codes and messages GRAPH.md B.6 lists.

use serde_json::{json, Value};

use crate::emulator::model::{model, EntityType, Invalid, InvalidKind};

/// Identifies one request in replies and error bodies, with the request headers routes heed.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub request_id: String,
    pub client_request_id: String,
    /// The `Prefer` header (`return=minimal` on delta queries).
    pub prefer: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Option<Value>,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }

    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            body: None,
            headers: Vec::new(),
        }
    }
}

/// Graph's error body (GRAPH.md B.6).
pub(crate) fn error(ctx: &Ctx, status: u16, code: &str, message: &str) -> Reply {
    Reply::json(
        status,
        json!({"error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
                "request-id": ctx.request_id,
                "client-request-id": ctx.client_request_id,
            }
        }}),
    )
}

pub(crate) fn bad_request(ctx: &Ctx, message: &str) -> Reply {
    error(ctx, 400, "Request_BadRequest", message)
}

pub(crate) fn not_found(ctx: &Ctx, id: &str) -> Reply {
    error(
        ctx,
        404,
        "Request_ResourceNotFound",
        &format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
    )
}

pub(crate) fn no_segment(ctx: &Ctx, seg: &str) -> Reply {
    error(
        ctx,
        400,
        "BadRequest",
        &format!("Resource not found for the segment '{seg}'."),
    )
}

pub(crate) fn not_allowed(ctx: &Ctx) -> Reply {
    error(
        ctx,
        405,
        "Request_BadRequest",
        "Specified HTTP method is not allowed for the request target.",
    )
}

/// Graph's answer for a property name a type does not know (GRAPH.md B.6, the brief of issue 9).
pub(crate) fn unknown_property(ctx: &Ctx, name: &str) -> Reply {
    bad_request(
        ctx,
        &format!("Property '{name}' does not exist as a declared property or extension property."),
    )
}

/// An `$expand` the emulator does not serve.
pub(crate) fn unsupported_expand(ctx: &Ctx, raw: &str) -> Reply {
    error(
        ctx,
        400,
        "Request_UnsupportedQuery",
        &format!(
            "The query option '$expand={raw}' is not supported by the tenantgit Graph emulator."
        ),
    )
}

pub(crate) fn read_only(ctx: &Ctx, name: &str) -> Reply {
    let message = if name == "passwordCredentials" {
        "Property 'passwordCredentials' is read-only and cannot be set. Use the addPassword and removePassword actions.".to_string()
    } else {
        format!("Property '{name}' is read-only and cannot be set.")
    };
    bad_request(ctx, &message)
}

/// The resource name directory errors use: `User` for `microsoft.graph.user`.
pub(crate) fn resource_name(ty: &EntityType) -> String {
    ty.extension_target()
}

/// Graph's answer for a value that does not fit its property.
pub(crate) fn invalid_value(ctx: &Ctx, ty: &EntityType, bad: &Invalid) -> Reply {
    let message = match &bad.kind {
        InvalidKind::WrongType => format!(
            "Invalid value specified for property '{}' of resource '{}'.",
            bad.path,
            resource_name(ty)
        ),
        InvalidKind::Unknown { type_name } => {
            let leaf = bad.path.rsplit('.').next().unwrap_or(&bad.path);
            format!(
                "The property '{leaf}' does not exist on type 'microsoft.graph.{type_name}'. Make sure to only use property names that are defined by the type or mark the type as open type."
            )
        }
        InvalidKind::UnknownType { name } => format!(
            "A type named '{name}' could not be resolved by the model. When a model is available, each type name must resolve to a valid type."
        ),
    };
    bad_request(ctx, &message)
}

/// An `@odata.type` that is not the collection's type or one deriving from it.
pub(crate) fn unknown_type(ctx: &Ctx, name: &str) -> Reply {
    bad_request(
        ctx,
        &format!(
            "A type named '{}' could not be resolved by the model, or does not match the resource.",
            name.trim_start_matches('#')
        ),
    )
}

/// The body must say which derived type it writes.
pub(crate) fn needs_type(ctx: &Ctx, base: usize) -> Reply {
    let m = model();
    let names: Vec<&str> = m
        .ty(base)
        .derived
        .iter()
        .map(|d| m.ty(*d).odata_type.as_str())
        .collect();
    bad_request(
        ctx,
        &format!(
            "The request body must include '@odata.type' (one of {}) for a {}.",
            names.join(", "),
            m.ty(base).qualified()
        ),
    )
}

pub(crate) fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
