//! Equality of property values as tenantgit compares them: JSON equality where, inside objects,
//! a missing key equals null (Graph omits what a file stores as null). A leaf: it imports no
//! other module of the crate.

use serde_json::{Map, Value};

/// Property maps equal when every key has the same value, a missing key counting as null.
pub fn props_equal(a: &Map<String, Value>, b: &Map<String, Value>) -> bool {
    let get = |m: &Map<String, Value>, k: &str| m.get(k).cloned().unwrap_or(Value::Null);
    a.keys()
        .chain(b.keys())
        .all(|k| values_equal(&get(a, k), &get(b, k)))
}

/// JSON equality where, inside objects, a missing key equals null.
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => props_equal(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| values_equal(p, q))
        }
        _ => a == b,
    }
}
