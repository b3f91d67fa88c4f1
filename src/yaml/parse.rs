//! The reader: an object file back into an [`Object`]. The YAML goes through serde_yaml into
//! JSON values by way of [`StrictValue`], which refuses a key that a mapping already holds, so
//! that a file that says two things about one property is an error rather than silently the
//! last of them. Display names of link ends come back from the link comments. Files that an
//! older tenantgit wrote with raw characters no reader accepts are repaired first (`legacy`).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::legacy;
use super::scalar::{decode_comment, decode_quoted, quoted_prefix};
use crate::model::{LinkRef, Object};
use crate::schema::{Kind, KindSpec};
use crate::yaml::YamlError;

/// Parses an object file of the given kind. The text must be a mapping with a string `id`;
/// link lists become [`LinkRef`]s named from their comments.
pub fn parse_object(kind: impl Into<Kind>, path: &Path, text: &str) -> Result<Object, YamlError> {
    let kind: Kind = kind.into();
    let err = |line: usize, column: usize, message: String| YamlError {
        path: path.to_path_buf(),
        line,
        column,
        message,
    };
    let text = &*legacy::repair(text);
    let StrictValue(value) = serde_yaml::from_str(text).map_err(|e| {
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
            Value::String(id) if link.single => {
                let name = single_link_name(text, &link.name);
                links.insert(link.name.clone(), vec![LinkRef::new(id, name)]);
                continue;
            }
            Value::Array(items) if !link.single => {
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
            _ if link.single => {
                return Err(err(
                    line_of(text, &link.name),
                    1,
                    format!("`{}` must be one object id, or null", link.name),
                ))
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
    let names = if kind.references.is_empty() {
        BTreeMap::new()
    } else {
        reference_names(text, &kind.references)
    };
    Ok(Object {
        kind,
        id,
        props: reorder(&kind, props),
        links,
        names,
    })
}

/// The name beside a single link's id (`manager: ID  # NAME`).
fn single_link_name(text: &str, link: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(link)?.strip_prefix(": ")?;
        split_comment(rest).map(|(_, name)| name)
    })
}

/// Names written beside the ids of references (`  id: ID  # NAME` below the reference's key),
/// by the reference's dotted path. Only block mappings lead to a reference (the emitter writes
/// no reference inside a list).
fn reference_names(text: &str, references: &[String]) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    // (indentation, key) of the mappings enclosing the current line.
    let mut stack: Vec<(usize, String)> = Vec::new();
    for line in text.lines() {
        let body = line.trim_start_matches(' ');
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let ind = line.len() - body.len();
        while stack.last().is_some_and(|(i, _)| *i >= ind) {
            stack.pop();
        }
        if body.starts_with("- ") || body == "-" {
            // A list item: nothing below it is a reference's path.
            stack.push((ind, "\u{0}".into()));
            continue;
        }
        let Some((key, rest)) = body.split_once(':') else {
            continue;
        };
        let key = key.trim_matches('"');
        if key == "id" && stack.iter().all(|(_, k)| k != "\u{0}") {
            let path: Vec<&str> = stack.iter().map(|(_, k)| k.as_str()).collect();
            let path = path.join(".");
            if references.contains(&path) {
                if let Some((_, name)) = split_comment(rest.trim_start_matches(' ')) {
                    names.insert(path, name);
                }
            }
        }
        stack.push((ind, key.to_string()));
    }
    names
}

/// Puts `id` (and `@odata.type`) first, managed properties in schema order and directory
/// extension attributes by name after them, as `normalize` does; anything else keeps its place
/// after those, so that validation can report it.
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
    let mut extensions: Vec<String> = props
        .keys()
        .filter(|k| kind.stores_extension(k))
        .cloned()
        .collect();
    extensions.sort();
    for name in extensions {
        if let Some(v) = props.remove(&name) {
            out.insert(name, v);
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
        if let Some((id, name)) = split_comment(rest) {
            names.insert(id, name);
        }
    }
    names
}

/// A scalar and the comment after it (`ID  # NAME`), both decoded; `None` without a comment.
fn split_comment(rest: &str) -> Option<(String, String)> {
    // A quoted id may itself hold `  # `, so it is read to its closing quote first.
    let (id, comment) = match quoted_prefix(rest) {
        Some(quoted) => {
            let after = &rest[quoted.len()..];
            let comment = after
                .strip_prefix(' ')
                .map(|a| a.trim_start_matches(' '))
                .and_then(|a| a.strip_prefix("# "))?;
            (decode_quoted(quoted)?, comment)
        }
        None => {
            let (id, comment) = rest.split_once("  # ")?;
            (id.trim().to_string(), comment)
        }
    };
    Some((id, decode_comment(comment)))
}

/// A JSON value read from YAML like `serde_json::Value` reads itself, except that a mapping
/// that repeats a key is an error. serde_yaml would keep the last value; for a file under
/// review, two values for one property mean a bad merge or a bad edit, never a choice.
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value that JSON can hold")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    // Large integers take serde_json's own path, so they read exactly as they always have.
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        Value::deserialize(de::value::I128Deserializer::<E>::new(v))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        Value::deserialize(de::value::U128Deserializer::<E>::new(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        StrictValue::deserialize(d).map(|v| v.0)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(StrictValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key_seed(NewKey(&map))? {
            let StrictValue(v) = access.next_value()?;
            map.insert(key, v);
        }
        Ok(Value::Object(map))
    }
}

/// A mapping key that the mapping does not hold yet. The error is raised while the key itself
/// is read, so serde_yaml gives it the key's line and column.
struct NewKey<'a>(&'a Map<String, Value>);

impl<'de> DeserializeSeed<'de> for NewKey<'_> {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for NewKey<'_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        if self.0.contains_key(v) {
            return Err(E::custom(format_args!(
                "duplicate key `{}`",
                v.escape_debug()
            )));
        }
        Ok(v.to_string())
    }
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
    fn extension_attributes_come_after_the_managed_properties_by_name() {
        // A hand-edited file: attributes out of order, an unknown property among them.
        let text =
            "id: g1\nextension_b2_zone: north\nstray: 1\ndisplayName: A\nextension_a1_cost: CC\n";
        let o = parse(text).unwrap();
        let keys: Vec<&str> = o.props.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "id",
                "displayName",
                "extension_a1_cost",
                "extension_b2_zone",
                "stray"
            ]
        );
    }

    #[test]
    fn duplicate_keys_are_errors_at_the_repeated_key() {
        for (text, line, column, key) in [
            (
                "id: g1\ndisplayName: A\ndisplayName: B\n",
                3,
                1,
                "displayName",
            ),
            (
                "id: g1\ndisplayName: A\n\"displayName\": B\n",
                3,
                1,
                "displayName",
            ),
            ("id: g1\ntheme:\n  a: 1\n  b: 2\n  a: 3\n", 5, 3, "a"),
            ("id: g1\nx:\n- k: 1\n  j: 2\n  k: 1\n", 5, 3, "k"),
            ("id: g1\nmembers: []\nmembers:\n- m1\n", 3, 1, "members"),
            ("id: g1\nid: g2\n", 2, 1, "id"),
        ] {
            let e = parse(text).expect_err(text);
            assert_eq!((e.line, e.column), (line, column), "{text}: {e}");
            assert!(
                e.message.contains(&format!("duplicate key `{key}`")),
                "{text}: {e}"
            );
            assert!(
                e.to_string()
                    .starts_with(&format!("groups/ab/x.yaml:{line}:{column}: ")),
                "{e}"
            );
        }
        let e = parse("id: g1\ntheme:\n  a: 1\n  a: 3\n").expect_err("duplicate");
        assert_eq!(
            e.to_string(),
            "groups/ab/x.yaml:4:3: theme: duplicate key `a`"
        );
        // The same key in different mappings is fine.
        let o = parse("id: g1\ntheme:\n  id: 1\nx:\n- id: 2\n- id: 3\n").expect("valid");
        assert_eq!(o.props["x"], serde_json::json!([{"id": 2}, {"id": 3}]));
    }

    #[test]
    fn a_single_link_is_one_id_with_its_name_or_null() {
        let users = schema::kind("users").expect("users kind");
        let at = Path::new("users/ab/x.yaml");
        let o = parse_object(users, at, "id: u1\nmanager: m1  # Ann Lee\n").expect("valid");
        assert_eq!(
            o.links["manager"],
            [LinkRef::new("m1", Some("Ann Lee".into()))]
        );
        let o = parse_object(users, at, "id: u1\nmanager: null\n").expect("valid");
        assert!(o.links["manager"].is_empty());
        let e = parse_object(users, at, "id: u1\nmanager:\n- m1\n- m2\n").expect_err("a list");
        assert!(e.message.contains("must be one object id, or null"), "{e}");
        assert_eq!(e.line, 2);
    }

    #[test]
    fn a_references_name_is_read_from_its_comment() {
        let ca = schema::kind("conditionalAccessPolicies").expect("CA kind");
        let text = "id: p1\ngrantControls:\n  authenticationStrength:\n    \
                    id: s4  # Phishing resistant MFA\n  builtInControls: []\n\
                    conditions:\n  x:\n    id: other  # not a reference\n";
        let o =
            parse_object(ca, Path::new("conditionalAccessPolicies/x.yaml"), text).expect("valid");
        assert_eq!(
            o.props["grantControls"]["authenticationStrength"],
            serde_json::json!({"id": "s4"})
        );
        assert_eq!(
            o.names,
            BTreeMap::from([(
                "grantControls.authenticationStrength".to_string(),
                "Phishing resistant MFA".to_string()
            )])
        );
        let emitted = crate::yaml::emit_object(&o);
        assert!(
            emitted.contains("\n  authenticationStrength:\n    id: s4  # Phishing resistant MFA\n"),
            "{emitted}"
        );
    }

    #[test]
    fn values_read_as_serde_json_reads_them() {
        let text = "id: g1\na: 1\nb: -2\nc: 1.5\nd: 18446744073709551615\ne: .nan\nf: ~\n\
                    g: true\nh: [x, 'y', \"z\"]\ni: {}\nj: 2024-01-01\nk: yes\n";
        let strict = parse(text).expect("valid").props;
        let loose: Map<String, Value> = serde_yaml::from_str(text).expect("valid");
        assert_eq!(Value::Object(strict), Value::Object(loose));
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
