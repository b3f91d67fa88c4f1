//! The emitter: an object or a JSON value as canonical block YAML. The output is determined by
//! the value alone: two-space indentation, keys in the map's order, sequences of mappings with
//! the first entry on the dash line, scalars through [`emit_scalar_str`].

use serde_json::Value;

use super::scalar::{emit_scalar_str, push_comment};
use crate::model::{LinkRef, Object};

/// The file text of an object: properties in canonical order (a reference's id with its
/// target's name as a comment), then links, each link end on its own line with the display name
/// as a comment (quoted where it must be, see `push_comment`); a single link (`manager`) is one
/// id on the key's line, or null.
pub fn emit_object(object: &Object) -> String {
    let mut out = emit_props(object);
    emit_links(&mut out, &object.kind.links, &object.links);
    out
}

/// The properties part of an object's file text: what [`emit_object`] writes before the links.
pub fn emit_props(object: &Object) -> String {
    let mut out = String::with_capacity(1024);
    let mut names = Names {
        names: &object.names,
        path: String::new(),
    };
    for (key, value) in &object.props {
        if object.names.is_empty() {
            emit_entry(&mut out, 0, key, value);
        } else {
            names.path.clear();
            names.path.push_str(key);
            emit_path_entry(&mut out, 0, key, value, &mut names);
        }
    }
    out
}

/// The links part of an object's file text, in the kind's order.
pub fn emit_links(
    out: &mut String,
    specs: &[crate::schema::LinkSpec],
    links: &std::collections::BTreeMap<String, Vec<LinkRef>>,
) {
    for link in specs {
        let refs = links.get(&link.name).map(Vec::as_slice).unwrap_or(&[]);
        emit_key(out, 0, &link.name);
        if link.single {
            match refs.first() {
                Some(r) => {
                    out.push(' ');
                    emit_ref(out, r);
                }
                None => out.push_str(" null\n"),
            }
            continue;
        }
        if refs.is_empty() {
            out.push_str(" []\n");
            continue;
        }
        out.push('\n');
        for r in refs {
            out.push_str("- ");
            emit_ref(out, r);
        }
    }
}

/// A link end: its id, the display name as a comment, the end of the line.
fn emit_ref(out: &mut String, r: &LinkRef) {
    emit_scalar_str(out, &r.id);
    push_name(out, r.display_name.as_deref());
    out.push('\n');
}

fn push_name(out: &mut String, name: Option<&str>) {
    if let Some(name) = name.filter(|n| !n.is_empty()) {
        out.push_str("  # ");
        push_comment(out, name);
    }
}

/// Where the emitter stands in an object with named references.
struct Names<'a> {
    names: &'a std::collections::BTreeMap<String, String>,
    /// Dotted path of the entry being written.
    path: String,
}

/// An entry of an object with named references: mappings on the way to a reference are walked
/// with their path so that the reference's `id:` gets its target's name as a comment.
fn emit_path_entry(out: &mut String, ind: usize, key: &str, value: &Value, names: &mut Names) {
    let here = names.path.as_str();
    let named = names
        .names
        .keys()
        .any(|p| p == here || (p.starts_with(here) && p.as_bytes().get(here.len()) == Some(&b'.')));
    match value {
        Value::Object(map) if named && !map.is_empty() => {
            indent(out, ind);
            emit_key(out, ind, key);
            out.push('\n');
            let own = names.names.get(&names.path).map(String::as_str);
            for (k, v) in map {
                let len = names.path.len();
                names.path.push('.');
                names.path.push_str(k);
                match (own, k.as_str(), v) {
                    (Some(name), "id", Value::String(id)) => {
                        indent(out, ind + 2);
                        emit_key(out, ind + 2, k);
                        out.push(' ');
                        emit_scalar_str(out, id);
                        push_name(out, Some(name));
                        out.push('\n');
                    }
                    _ => emit_path_entry(out, ind + 2, k, v, names),
                }
                names.path.truncate(len);
            }
        }
        _ => emit_entry(out, ind, key, value),
    }
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

/// Longest key, in bytes (never fewer than its characters), written as a simple key. libyaml
/// and PyYAML give up looking for the `:` of a simple key 1024 characters after its start, so a
/// longer one is written as an explicit key (`? KEY` with `:` on the next line at the same
/// indentation). No key was readable past that length, so no existing file changes.
const MAX_SIMPLE_KEY: usize = 1000;

/// `key:` (or `? key` NEWLINE `:`), the first line already indented by `ind`.
fn emit_key(out: &mut String, ind: usize, key: &str) {
    let start = out.len();
    emit_scalar_str(out, key);
    if out.len() - start > MAX_SIMPLE_KEY {
        out.insert_str(start, "? ");
        out.push('\n');
        indent(out, ind);
    }
    out.push(':');
}

/// `key: value` at the given indentation, with nested blocks below.
fn emit_entry(out: &mut String, ind: usize, key: &str, value: &Value) {
    indent(out, ind);
    emit_key(out, ind, key);
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn roundtrip(v: &Value) -> Value {
        let text = emit_value(v);
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
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

    #[test]
    fn keys_are_escaped_like_values() {
        let v = json!({
            "job\u{92}": {"a\u{2028}b": "x", "\u{85}": ["\u{feff}"]},
            "yes": 1, "a: b": [{"#": "\u{7f}", "\"": "\u{ffff}"}]
        });
        let text = emit_value(&v);
        assert!(text.contains(r#""job\u0092":"#), "{text}");
        assert!(text.contains(r#""a\Lb": x"#), "{text}");
        assert_eq!(roundtrip(&v), v);
    }

    #[test]
    fn long_keys_are_explicit() {
        let long = "k".repeat(MAX_SIMPLE_KEY + 1);
        let short = "s".repeat(MAX_SIMPLE_KEY - 2);
        let v = json!({
            long.clone(): "scalar",
            "nested": {long.clone(): {"a": 1}, short.clone(): [1, 2]},
            "seq": [{long.clone(): [{"b": 2}]}, {"c": {long.clone(): []}}],
        });
        let text = emit_value(&v);
        assert!(text.starts_with(&format!("? {long}\n: scalar\n")), "{text}");
        assert!(text.contains(&format!("\n  {short}:\n")), "{text}");
        assert_eq!(roundtrip(&v), v);
    }
}
