//! Property types as the CSDL writes them (`Collection(Edm.String) (not null)`) and the check of
//! a JSON value against one: what Graph answers 400 for when a write carries a string for a
//! Boolean, a scalar for a collection, a name no type declares, or an unknown `@odata.type`.

use serde_json::Value;

use super::Model;

/// An OData primitive type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prim {
    String,
    Boolean,
    Int32,
    Int64,
    Double,
    Guid,
    DateTimeOffset,
    Date,
    TimeOfDay,
    Duration,
    Binary,
    Stream,
}

impl Prim {
    fn parse(name: &str) -> Option<Prim> {
        Some(match name {
            "Edm.String" => Prim::String,
            "Edm.Boolean" => Prim::Boolean,
            "Edm.Int32" | "Edm.Int16" | "Edm.Byte" | "Edm.SByte" => Prim::Int32,
            "Edm.Int64" => Prim::Int64,
            "Edm.Double" | "Edm.Single" | "Edm.Decimal" => Prim::Double,
            "Edm.Guid" => Prim::Guid,
            "Edm.DateTimeOffset" => Prim::DateTimeOffset,
            "Edm.Date" => Prim::Date,
            "Edm.TimeOfDay" => Prim::TimeOfDay,
            "Edm.Duration" => Prim::Duration,
            "Edm.Binary" => Prim::Binary,
            "Edm.Stream" => Prim::Stream,
            _ => return None,
        })
    }

    fn accepts(self, v: &Value) -> bool {
        match self {
            Prim::Boolean => v.is_boolean(),
            Prim::Int32 => v.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
            Prim::Int64 => v.is_i64() || v.is_u64(),
            Prim::Double => v.is_number() || matches!(v.as_str(), Some("INF" | "-INF" | "NaN")),
            Prim::Guid => v.as_str().is_some_and(|s| uuid::Uuid::parse_str(s).is_ok()),
            Prim::DateTimeOffset => v
                .as_str()
                .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()),
            Prim::Date => v
                .as_str()
                .is_some_and(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()),
            Prim::String | Prim::TimeOfDay | Prim::Duration | Prim::Binary | Prim::Stream => {
                v.is_string()
            }
        }
    }
}

/// What a property's type names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TypeBase {
    Prim(Prim),
    /// A complex, enum or entity type, resolved against the model when checked.
    Named(String),
}

/// A property type: `Collection(x)` or `x`, nullable or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TypeRef {
    pub collection: bool,
    pub nullable: bool,
    pub base: TypeBase,
}

impl TypeRef {
    /// Parses the metadata excerpt's notation: `Collection(Edm.String) (not null)`.
    pub fn parse(text: &str) -> TypeRef {
        let text = text.trim();
        let (text, nullable) = match text.strip_suffix("(not null)") {
            Some(t) => (t.trim(), false),
            None => (text, true),
        };
        // Navigation notation also carries "(contained)"; callers strip it first.
        let (inner, collection) = match text
            .strip_prefix("Collection(")
            .and_then(|t| t.strip_suffix(')'))
        {
            Some(inner) => (inner.trim(), true),
            None => (text, false),
        };
        let base = match Prim::parse(inner) {
            Some(p) => TypeBase::Prim(p),
            None => TypeBase::Named(
                inner
                    .strip_prefix("microsoft.graph.")
                    .unwrap_or(inner)
                    .to_string(),
            ),
        };
        TypeRef {
            collection,
            nullable,
            base,
        }
    }

    #[cfg(test)]
    pub fn prim(p: Prim, collection: bool) -> TypeRef {
        TypeRef {
            collection,
            nullable: true,
            base: TypeBase::Prim(p),
        }
    }
}

/// Why a value does not fit its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InvalidKind {
    /// Not the JSON shape the Edm type needs, or not a member of the enum.
    WrongType,
    /// A property name the (non-open) type does not declare.
    Unknown { type_name: String },
    /// An `@odata.type` that names no type deriving from the declared one.
    UnknownType { name: String },
}

/// Where a value went wrong: the dotted path from the top-level property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invalid {
    pub path: String,
    pub kind: InvalidKind,
}

fn wrong(path: &str) -> Invalid {
    Invalid {
        path: path.to_string(),
        kind: InvalidKind::WrongType,
    }
}

/// Checks `v` against `ty`. `null` is accepted everywhere: Graph treats null and absent as one
/// fact, and the docs do not say which not-nullable properties refuse an explicit null.
/// Instance annotations (`x@odata.context`, …) inside values are ignored, as OData does.
pub(crate) fn check_value(m: &Model, ty: &TypeRef, v: &Value, path: &str) -> Result<(), Invalid> {
    if v.is_null() {
        return Ok(());
    }
    if ty.collection {
        let Value::Array(items) = v else {
            return Err(wrong(path));
        };
        let one = TypeRef {
            collection: false,
            ..ty.clone()
        };
        for item in items {
            check_value(m, &one, item, path)?;
        }
        return Ok(());
    }
    match &ty.base {
        TypeBase::Prim(p) if p.accepts(v) => Ok(()),
        TypeBase::Prim(_) => Err(wrong(path)),
        TypeBase::Named(name) => check_named(m, name, v, path),
    }
}

fn check_named(m: &Model, name: &str, v: &Value, path: &str) -> Result<(), Invalid> {
    if let Some(members) = m.enums.get(name) {
        // Flags enums (authenticationMethodModes) combine members with commas.
        let ok = v.as_str().is_some_and(|s| {
            s.split(',')
                .all(|part| members.iter().any(|x| x.eq_ignore_ascii_case(part.trim())))
        });
        return if ok { Ok(()) } else { Err(wrong(path)) };
    }
    let Value::Object(obj) = v else {
        return Err(wrong(path));
    };
    if let Some(declared) = m.complex_type(name) {
        let actual = match obj.get("@odata.type").and_then(Value::as_str) {
            Some(t) => {
                let short = t.trim_start_matches('#');
                let short = short.strip_prefix("microsoft.graph.").unwrap_or(short);
                if short != declared.name && !declared.derived.iter().any(|d| d == short) {
                    return Err(Invalid {
                        path: path.to_string(),
                        kind: InvalidKind::UnknownType {
                            name: t.trim_start_matches('#').to_string(),
                        },
                    });
                }
                m.complex_type(short).unwrap_or(declared)
            }
            // An abstract type whose derived types the model does not know is taken as open.
            None if declared.is_abstract && !declared.derived.is_empty() => {
                return Err(Invalid {
                    path: path.to_string(),
                    kind: InvalidKind::UnknownType {
                        name: format!("microsoft.graph.{}", declared.name),
                    },
                })
            }
            None => declared,
        };
        let open = actual.open || (actual.is_abstract && actual.derived.is_empty());
        for (k, val) in obj {
            if k.contains('@') {
                continue;
            }
            let sub = format!("{path}.{k}");
            match actual.prop(k) {
                Some(p) => check_value(m, &p.ty, val, &sub)?,
                // Navigation properties of complex types are references (checked by the
                // write path that knows their targets).
                None if actual.navs.iter().any(|n| n.name.eq_ignore_ascii_case(k)) => {
                    if !val.is_object() && !val.is_null() {
                        return Err(wrong(&sub));
                    }
                }
                None if open => {}
                None => {
                    return Err(Invalid {
                        path: sub,
                        kind: InvalidKind::Unknown {
                            type_name: actual.name.clone(),
                        },
                    })
                }
            }
        }
        return Ok(());
    }
    if let Some(e) = m.entity(name) {
        // Inline entity values (method configurations and their targets), of the declared type
        // or one deriving from it.
        let actual = match obj.get("@odata.type").and_then(Value::as_str) {
            Some(t) => m
                .entity(t)
                .filter(|d| m.is_a(*d, name))
                .ok_or_else(|| Invalid {
                    path: path.to_string(),
                    kind: InvalidKind::UnknownType {
                        name: t.trim_start_matches('#').to_string(),
                    },
                })?,
            None => e,
        };
        let ty = m.ty(actual);
        for (k, val) in obj {
            if k.contains('@') {
                continue;
            }
            let sub = format!("{path}.{k}");
            match ty.prop(k) {
                Some(p) => check_value(m, &p.ty, val, &sub)?,
                None if ty.open || ty.nav(k).is_some() => {}
                None => {
                    return Err(Invalid {
                        path: sub,
                        kind: InvalidKind::Unknown {
                            type_name: ty.name.clone(),
                        },
                    })
                }
            }
        }
        return Ok(());
    }
    // A type the excerpt does not describe: nothing to hold the value against.
    Ok(())
}
