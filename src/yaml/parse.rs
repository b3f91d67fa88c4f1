//! The reader: an object file back into an [`Object`]. The YAML goes through serde_yaml into
//! JSON values. Display names of link ends come back from the link comments.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::{Map, Value};

use super::scalar::{decode_comment, decode_quoted, quoted_prefix};
use crate::error::YamlError;
use crate::model::{LinkRef, Object};
use crate::schema::KindSpec;

/// Parses an object file of the given kind. The text must be a mapping with a string `id`;
/// link lists become [`LinkRef`]s named from their comments.
pub fn parse_object(kind: &'static KindSpec, path: &Path, text: &str) -> Result<Object, YamlError> {
    let err = |line: usize, column: usize, message: String| YamlError {
        path: path.to_path_buf(),
        line,
        column,
        message,
    };
    let value: Value = serde_yaml::from_str(text).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((1, 1));
        // The location leads the error already; serde_yaml repeats it at the end.
        let message = e.to_string();
        let message = message
            .strip_suffix(&format!(" at line {line} column {column}"))
            .map_or(message.clone(), str::to_string);
        err(line, column, message)
    })?;
    let Value::Object(mut props) = value else {
        return Err(err(1, 1, "expected a mapping of properties".into()));
    };
    let id = match props.get("id") {
        Some(Value::String(id)) if !id.is_empty() => id.clone(),
        Some(_) => {
            return Err(err(
                line_of(text, "id"),
                1,
                "`id` must be a non-empty string".into(),
            ))
        }
        None => return Err(err(1, 1, "the object has no `id`".into())),
    };
    let names = link_names(text);
    let mut links = BTreeMap::new();
    for link in &kind.links {
        let Some(value) = props.remove(&link.name) else {
            continue;
        };
        let ids = match value {
            Value::Null => Vec::new(),
            Value::Array(items) => {
                let mut ids = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::String(s) => ids.push(s),
                        _ => {
                            return Err(err(
                                line_of(text, &link.name),
                                1,
                                format!("`{}` must be a list of object ids", link.name),
                            ))
                        }
                    }
                }
                ids
            }
            _ => {
                return Err(err(
                    line_of(text, &link.name),
                    1,
                    format!("`{}` must be a list of object ids", link.name),
                ))
            }
        };
        let mut refs: Vec<LinkRef> = ids
            .into_iter()
            .map(|id| LinkRef {
                display_name: names.get(&id).cloned(),
                id,
            })
            .collect();
        refs.sort_by(|a, b| a.id.cmp(&b.id));
        refs.dedup_by(|a, b| a.id == b.id);
        links.insert(link.name.clone(), refs);
    }
    Ok(Object {
        kind,
        id,
        props: reorder(kind, props),
        links,
    })
}

/// Puts `id` (and `@odata.type`) first and managed properties in schema order; anything else
/// keeps its place after them, so that validation can report it.
fn reorder(kind: &KindSpec, mut props: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::with_capacity(props.len());
    for key in ["id", "@odata.type"] {
        if let Some(v) = props.remove(key) {
            out.insert(key.to_string(), v);
        }
    }
    let odata_type = out
        .get("@odata.type")
        .and_then(Value::as_str)
        .map(str::to_string);
    for p in kind.managed_for(odata_type.as_deref()) {
        if let Some(v) = props.remove(p) {
            out.insert(p.to_string(), v);
        }
    }
    out.extend(props);
    out
}

/// 1-based line of the first top-level `key:` in the text, or 1.
fn line_of(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            l.strip_prefix(key)
                .is_some_and(|rest| rest.starts_with(':'))
        })
        .map_or(1, |i| i + 1)
}

/// Display names written as comments beside link ids (`- ID  # NAME`), decoded as
/// `scalar::push_comment` encodes them.
pub fn link_names(text: &str) -> HashMap<String, String> {
    let mut names = HashMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("- ") else {
            continue;
        };
        // A quoted id may itself hold `  # `, so it is read to its closing quote first.
        let (id, comment) = match quoted_prefix(rest) {
            Some(quoted) => {
                let after = &rest[quoted.len()..];
                let Some(comment) = after
                    .strip_prefix(' ')
                    .map(|a| a.trim_start_matches(' '))
                    .and_then(|a| a.strip_prefix("# "))
                else {
                    continue;
                };
                let Some(id) = decode_quoted(quoted) else {
                    continue;
                };
                (id, comment)
            }
            None => {
                let Some((id, comment)) = rest.split_once("  # ") else {
                    continue;
                };
                (id.trim().to_string(), comment)
            }
        };
        names.insert(id, decode_comment(comment));
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema;

    fn parse(text: &str) -> Result<Object, YamlError> {
        parse_object(
            schema::kind("groups").expect("groups kind"),
            Path::new("groups/ab/x.yaml"),
            text,
        )
    }

    #[test]
    fn link_names_decode_quoted_ids_and_names() {
        let text = "id: g1\nmembers:\n\
                    - 11111111-1111-1111-1111-111111111111  # Alice Smith\n\
                    - \"a  # b\"  # \"\\\"quoted\\\" \"\n\
                    - \"x\\Ly\"  # job\\u0092\n\
                    - 22222222-2222-2222-2222-222222222222  # \"job\\u0092\\L\"\n\
                    - 33333333-3333-3333-3333-333333333333\n";
        let names = link_names(text);
        assert_eq!(names["11111111-1111-1111-1111-111111111111"], "Alice Smith");
        assert_eq!(names["a  # b"], "\"quoted\" ");
        assert_eq!(
            names["x\u{2028}y"], "job\\u0092",
            "an unquoted name is taken as it is"
        );
        assert_eq!(
            names["22222222-2222-2222-2222-222222222222"],
            "job\u{92}\u{2028}"
        );
        assert_eq!(names.len(), 4);
        let members = &parse(text).expect("valid").links["members"];
        assert_eq!(members[1].id, "22222222-2222-2222-2222-222222222222");
        assert_eq!(
            members[1].display_name.as_deref(),
            Some("job\u{92}\u{2028}")
        );
        assert_eq!(members[2].display_name, None);
    }
}
