//! Canonical YAML for object files. The emitter is our own so that the bytes are exactly
//! determined by the object (same tenant, same bytes, same git tree id) and so that no scalar
//! can be misread by a YAML 1.1 reader: a string is written plain only when no YAML version
//! would take it for anything but that string, and double-quoted (JSON escapes, which YAML
//! accepts) otherwise. Reading goes through serde_yaml.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::{Map, Value};

use crate::error::YamlError;
use crate::model::{LinkRef, Object};
use crate::schema::KindSpec;

/// The file text of an object: properties in canonical order, then links, each link end on its
/// own line with the display name as a comment.
pub fn emit_object(object: &Object) -> String {
    let mut out = String::with_capacity(1024);
    for (key, value) in &object.props {
        emit_entry(&mut out, 0, key, value);
    }
    for link in &object.kind.links {
        let refs = object
            .links
            .get(&link.name)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        emit_key(&mut out, &link.name);
        if refs.is_empty() {
            out.push_str(" []\n");
            continue;
        }
        out.push('\n');
        for r in refs {
            out.push_str("- ");
            emit_scalar_str(&mut out, &r.id);
            if let Some(name) = r.display_name.as_deref().filter(|n| !n.is_empty()) {
                out.push_str("  # ");
                out.extend(name.chars().map(|c| if c.is_control() { ' ' } else { c }));
            }
            out.push('\n');
        }
    }
    out
}

/// Any JSON value as a YAML document (used for values that are not objects of a kind).
pub fn emit_value(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                emit_entry(&mut out, 0, k, v);
            }
        }
        Value::Array(items) if !items.is_empty() => emit_seq(&mut out, 0, items),
        _ => {
            emit_inline(&mut out, value);
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

fn emit_key(out: &mut String, key: &str) {
    emit_scalar_str(out, key);
    out.push(':');
}

/// `key: value` at the given indentation, with nested blocks below.
fn emit_entry(out: &mut String, ind: usize, key: &str, value: &Value) {
    indent(out, ind);
    emit_key(out, key);
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            for (k, v) in map {
                emit_entry(out, ind + 2, k, v);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            emit_seq(out, ind, items);
        }
        _ => {
            out.push(' ');
            emit_inline(out, value);
            out.push('\n');
        }
    }
}

/// A block sequence whose dashes stand at `ind`.
fn emit_seq(out: &mut String, ind: usize, items: &[Value]) {
    for item in items {
        indent(out, ind);
        out.push('-');
        match item {
            Value::Object(map) if !map.is_empty() => {
                // First entry on the dash line, the rest aligned under it.
                let mut first = true;
                for (k, v) in map {
                    if first {
                        out.push(' ');
                        let mut entry = String::new();
                        emit_entry(&mut entry, ind + 2, k, v);
                        out.push_str(&entry[ind + 2..]);
                        first = false;
                    } else {
                        emit_entry(out, ind + 2, k, v);
                    }
                }
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                emit_seq(out, ind + 2, inner);
            }
            _ => {
                out.push(' ');
                emit_inline(out, item);
                out.push('\n');
            }
        }
    }
}

fn emit_inline(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => emit_scalar_str(out, s),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

/// A string scalar: plain where that is unambiguous in YAML 1.1 and 1.2, else double-quoted.
pub fn emit_scalar_str(out: &mut String, s: &str) {
    if is_plain_safe(s) {
        out.push_str(s);
    } else {
        // JSON string syntax is valid YAML double-quoted syntax.
        out.push_str(&serde_json::to_string(s).expect("strings always serialize"));
    }
}

/// Words some YAML reader takes for a boolean or null.
const RESERVED: &[&str] = &["null", "true", "false", "yes", "no", "on", "off", "y", "n"];

/// `8-4-4-4-12` hex digits: no YAML 1.1 or 1.2 resolver takes that for a number, date or
/// boolean (they need digits only, a dot, a colon, or a four-digit year), so ids stay unquoted
/// and look alike whatever digit they start with.
fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn is_plain_safe(s: &str) -> bool {
    if is_guid(s) {
        return true;
    }
    let bytes = s.as_bytes();
    let Some(&first) = bytes.first() else {
        return false;
    };
    // A leading letter, underscore or slash rules out numbers, dates, indicators and `.inf`.
    if !(first.is_ascii_alphabetic() || first == b'_' || first == b'/') {
        return false;
    }
    if bytes.last() == Some(&b' ') || s.contains("  ") {
        return false;
    }
    let allowed = |b: u8| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b' ' | b'_'
                    | b'.'
                    | b'-'
                    | b'/'
                    | b'@'
                    | b'+'
                    | b'('
                    | b')'
                    | b'='
                    | b','
                    | b'\''
                    | b'&'
                    | b'$'
                    | b'~'
            )
    };
    if !bytes.iter().all(|&b| allowed(b)) {
        return false;
    }
    !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(s))
}

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
        err(line, column, e.to_string())
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

/// Display names written as comments beside link ids (`- ID  # NAME`).
pub fn link_names(text: &str) -> HashMap<String, String> {
    let mut names = HashMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("- ") else {
            continue;
        };
        let Some((id, name)) = rest.split_once("  # ") else {
            continue;
        };
        let id = id.trim();
        let id = if id.starts_with('"') {
            match serde_json::from_str::<String>(id) {
                Ok(s) => s,
                Err(_) => continue,
            }
        } else {
            id.to_string()
        };
        names.insert(id, name.to_string());
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn roundtrip(v: &Value) -> Value {
        let text = emit_value(v);
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[test]
    fn ambiguous_scalars_are_quoted() {
        for s in [
            "yes",
            "No",
            "on",
            "OFF",
            "y",
            "null",
            "~",
            "1_000",
            "0x1F",
            "2024-01-01",
            ".inf",
            "12:30",
            "-1",
            "+1",
            "",
            " lead",
            "trail ",
            "a: b",
            "a #b",
            "@odata.type",
            "*alias",
            "&anchor",
            "!tag",
            "%dir",
            "[x]",
            "{x}",
            "'q'",
            "\"q\"",
            "line\nbreak",
            "Zoë",
            "tab\t",
        ] {
            let mut out = String::new();
            emit_scalar_str(&mut out, s);
            assert!(out.starts_with('"'), "{s:?} should be quoted, got {out}");
            let back: String = serde_yaml::from_str(&out).unwrap();
            assert_eq!(back, s);
        }
        for s in [
            "Alice Smith",
            "alice@contoso.com",
            "Sales",
            "abc-123",
            "/path/x",
        ] {
            let mut out = String::new();
            emit_scalar_str(&mut out, s);
            assert_eq!(out, s);
        }
    }

    #[test]
    fn nested_values_round_trip() {
        let v = json!({
            "id": "0a1b",
            "empty": {}, "none": null, "list": [], "n": 3, "f": 1.5, "t": true,
            "conditions": {"users": {"includeUsers": ["All"], "excludeGroups": ["g1", "g2"]}},
            "creds": [{"keyId": "k1", "hint": "abc", "nested": {"a": [1, 2]}}, {"keyId": "k2"}],
            "matrix": [[1, 2], [], [3]],
            "multi": "line one\nline two"
        });
        assert_eq!(roundtrip(&v), v);
    }
}
