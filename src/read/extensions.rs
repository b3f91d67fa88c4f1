//! Directory extension attributes in reads. Graph returns an `extension_{appId}_{name}`
//! attribute only when `$select` names it, so a kind with an `extensionTarget` (users, groups)
//! selects every definition the tenant has registered for that target, on every read: the
//! collection read, reads by id, and delta queries — whose query hash then changes when a
//! definition is registered or removed, which makes the next snapshot an initial round.

use std::collections::{BTreeMap, BTreeSet};

use crate::graph::GraphClient;
use crate::schema::KindSpec;

use super::{read_error, ReadError};

/// The extension attributes a kind's reads select (none for a kind without a target; asks
/// Graph once per client for the others).
pub async fn names(client: &GraphClient, kind: &KindSpec) -> Result<Vec<String>, ReadError> {
    let Some(target) = &kind.extension_target else {
        return Ok(Vec::new());
    };
    let definitions = client
        .extension_properties()
        .await
        .map_err(|e| read_error(kind, e))?;
    Ok(definitions.names_for(target))
}

/// The extension attributes each kind of a run selects, known before any kind is read (the
/// delta tokens are checked against the queries they give).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selected {
    by_kind: BTreeMap<String, Vec<String>>,
    /// Names of the definitions synced from on-premises (Entra Connect's).
    on_premises: BTreeSet<String>,
}

impl Selected {
    /// Asks Graph (once per client) when one of `kinds` has an extension target.
    pub async fn discover(
        client: &GraphClient,
        kinds: &[&'static KindSpec],
    ) -> Result<Selected, ReadError> {
        let mut selected = Selected::default();
        let Some(first) = kinds.iter().find(|k| k.extension_target.is_some()) else {
            return Ok(selected);
        };
        let definitions = client
            .extension_properties()
            .await
            .map_err(|e| read_error(first, e))?;
        for kind in kinds {
            if let Some(target) = &kind.extension_target {
                selected
                    .by_kind
                    .insert(kind.kind.clone(), definitions.names_for(target));
            }
        }
        selected.on_premises = definitions.synced_from_on_premises();
        Ok(selected)
    }

    /// The directory extension attributes synced from on-premises.
    pub fn on_premises(&self) -> &BTreeSet<String> {
        &self.on_premises
    }

    /// The names `kind` selects, sorted.
    pub fn of(&self, kind: &KindSpec) -> &[String] {
        self.by_kind.get(&kind.kind).map_or(&[], Vec::as_slice)
    }

    /// `kind` selects `names`.
    #[cfg(test)]
    pub(crate) fn with(mut self, kind: &KindSpec, names: &[&str]) -> Selected {
        self.by_kind.insert(
            kind.kind.clone(),
            names.iter().map(|n| n.to_string()).collect(),
        );
        self
    }
}
