//! The tenant's directory extension definitions (`POST directoryObjects/getAvailableExtensionProperties`,
//! directoryobject-getavailableextensionproperties.md): which `extension_{appId}_{name}`
//! attributes exist for which target object type, and which are synced from on-premises. Asked
//! once per client — one run reads against one tenant — and kept with it, so that every read of
//! the run selects the same attributes (the delta query hash depends on them).

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{json, Value};

use super::{GraphClient, GraphError};

const PATH: &str = "directoryObjects/getAvailableExtensionProperties";

/// One directory extension definition (resources/extensionproperty.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionProperty {
    /// `extension_{appIdWithoutDashes}_{name}`, as Graph spells it.
    pub name: String,
    /// The object types carrying it (`User`, `Group`, …).
    pub target_objects: Vec<String>,
    /// Registered by Entra Connect for an attribute synced from Active Directory: on a synced
    /// object, the attribute is mastered on-premises.
    pub synced_from_on_premises: bool,
}

/// Every directory extension definition of a tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtensionProperties {
    pub definitions: Vec<ExtensionProperty>,
}

impl ExtensionProperties {
    /// The names defined for `target` (`User`), sorted, each once.
    pub fn names_for(&self, target: &str) -> Vec<String> {
        let names: BTreeSet<&str> = self
            .definitions
            .iter()
            .filter(|d| {
                d.target_objects
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(target))
            })
            .map(|d| d.name.as_str())
            .collect();
        names.into_iter().map(str::to_string).collect()
    }

    /// The names of the definitions synced from on-premises, for any target.
    pub fn synced_from_on_premises(&self) -> BTreeSet<String> {
        self.definitions
            .iter()
            .filter(|d| d.synced_from_on_premises)
            .map(|d| d.name.clone())
            .collect()
    }

    /// Reads the definitions from the items of Graph's answer.
    pub fn from_items(items: &[Value]) -> Result<Self, String> {
        let mut definitions = Vec::with_capacity(items.len());
        for item in items {
            let name = item
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| crate::schema::is_extension_name(n))
                .ok_or_else(|| {
                    format!("an extension property without a name of the form extension_{{appId}}_{{name}}: {item}")
                })?;
            let target_objects = match item.get("targetObjects") {
                Some(Value::Array(targets)) => targets
                    .iter()
                    .map(|t| t.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>(),
                _ => None,
            }
            .ok_or_else(|| format!("extension property {name} has no list of targetObjects"))?;
            definitions.push(ExtensionProperty {
                name: name.to_string(),
                target_objects,
                synced_from_on_premises: item.get("isSyncedFromOnPremises")
                    == Some(&Value::Bool(true)),
            });
        }
        Ok(ExtensionProperties { definitions })
    }
}

impl GraphClient {
    /// The tenant's directory extension definitions, asked of Graph on the first call and kept
    /// for the life of the client.
    pub async fn extension_properties(&self) -> Result<Arc<ExtensionProperties>, GraphError> {
        self.inner
            .extensions
            .get_or_try_init(|| async {
                // A read: retried like a GET (the emulator and Graph count it as one).
                let body = self.post_read(PATH, &json!({})).await?;
                let url = self.url_for(PATH)?;
                let (mut items, next) = self.split_page("POST", &url, body)?;
                // The docs show one page; should Graph ever page the answer, the rest follows.
                if let Some(link) = next {
                    self.get_pages(&link, |page| {
                        items.extend(page);
                        Ok(())
                    })
                    .await?;
                }
                ExtensionProperties::from_items(&items)
                    .map(Arc::new)
                    .map_err(|detail| GraphError::InvalidResponse {
                        method: "POST",
                        path: PATH.into(),
                        detail,
                    })
            })
            .await
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_per_target_are_sorted_and_synced_ones_known() {
        let defs = ExtensionProperties::from_items(&[
            json!({"name": "extension_b1_costCenter", "targetObjects": ["User", "Group"],
                   "isSyncedFromOnPremises": false}),
            json!({"name": "extension_a0_employeeNumber", "targetObjects": ["user"],
                   "isSyncedFromOnPremises": true}),
            json!({"name": "extension_c2_deviceTag", "targetObjects": ["Device"]}),
        ])
        .unwrap();
        assert_eq!(
            defs.names_for("User"),
            ["extension_a0_employeeNumber", "extension_b1_costCenter"]
        );
        assert_eq!(defs.names_for("Group"), ["extension_b1_costCenter"]);
        assert!(defs.names_for("AdministrativeUnit").is_empty());
        assert_eq!(
            defs.synced_from_on_premises()
                .into_iter()
                .collect::<Vec<_>>(),
            ["extension_a0_employeeNumber"]
        );
    }

    #[test]
    fn a_definition_without_name_or_targets_is_an_error() {
        assert!(ExtensionProperties::from_items(&[json!({"targetObjects": ["User"]})]).is_err());
        assert!(ExtensionProperties::from_items(&[json!({"name": "costCenter"})]).is_err());
        assert!(
            ExtensionProperties::from_items(&[json!({"name": "extension_a_x"})]).is_err(),
            "no targets"
        );
    }
}
