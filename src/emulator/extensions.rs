//! Directory extension attributes: `extension_{appIdWithoutDashes}_{name}` exists on users,
//! groups, … exactly when a live application's `extensionProperties` defines it for that target
//! object type (resources/extensionproperty.md), and its values have the definition's data type.

use serde_json::Value;

use crate::emulator::model::{model, EntityType, Invalid, InvalidKind};
use crate::emulator::state::Tenant;

/// A directory extension definition as a property of the target type.
#[derive(Debug, Clone)]
pub(crate) struct Extension {
    /// The name as defined (Graph's spelling).
    pub name: String,
    pub data_type: String,
    pub multi: bool,
    /// Entra Connect registered it for an Active Directory attribute
    /// (`isSyncedFromOnPremises`); its values are mastered on-premises.
    pub synced: bool,
}

/// The definition of `name` for objects of type `ty`, if a live application has one.
pub(crate) fn definition(t: &Tenant, name: &str, ty: &EntityType) -> Option<Extension> {
    if !name
        .get(..10)
        .is_some_and(|p| p.eq_ignore_ascii_case("extension_"))
    {
        return None;
    }
    let m = model();
    let apps = m.collection("applications")?;
    let child = m.collections[apps].child("extensionProperties")?;
    let target = ty.extension_target();
    t.live(apps)
        .values()
        .filter_map(|s| t.entry(*s))
        .flat_map(|app| app.children(child))
        .find(|def| {
            def.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
                && def
                    .get("targetObjects")
                    .and_then(Value::as_array)
                    .is_some_and(|targets| {
                        targets
                            .iter()
                            .any(|x| x.as_str().is_some_and(|x| x.eq_ignore_ascii_case(&target)))
                    })
        })
        .map(|def| Extension {
            name: def
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(name)
                .to_string(),
            data_type: def
                .get("dataType")
                .and_then(Value::as_str)
                .unwrap_or("String")
                .to_string(),
            multi: def.get("isMultiValued") == Some(&Value::Bool(true)),
            synced: def.get("isSyncedFromOnPremises") == Some(&Value::Bool(true)),
        })
}

impl Extension {
    /// Checks a value against the definition's data type (a collection when multi-valued).
    pub fn check(&self, v: &Value) -> Result<(), Invalid> {
        let bad = || Invalid {
            path: self.name.clone(),
            kind: InvalidKind::WrongType,
        };
        let one = |x: &Value| match self.data_type.as_str() {
            "Boolean" => x.is_boolean(),
            "Integer" => x.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
            "LargeInteger" => x.is_i64(),
            "DateTime" => x
                .as_str()
                .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()),
            // Binary (base64) and String.
            _ => x.is_string(),
        };
        match v {
            Value::Null => Ok(()),
            Value::Array(items) if self.multi => {
                if items.iter().all(one) {
                    Ok(())
                } else {
                    Err(bad())
                }
            }
            x if !self.multi && one(x) => Ok(()),
            _ => Err(bad()),
        }
    }
}
