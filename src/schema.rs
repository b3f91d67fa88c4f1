//! Object kinds as data. Each `schema/<kind>.yaml` describes one kind of directory object: where
//! Graph keeps it, which properties tenantgit manages, which of those it may write back, which it
//! never stores, and how its files are named. The files are compiled into the binary so that a
//! release needs nothing beside itself; `kinds()` parses them once.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// How an existing object of a kind is changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum UpdateMode {
    /// `PATCH` answering 204.
    #[default]
    Patch,
    /// `PATCH` answering 200 with the updated object (authenticationMethodsPolicy).
    PatchReturnsBody,
    /// No update: delete and re-create (role assignments).
    None,
}

/// A relationship stored as a sorted list of object ids inside the owner's file.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinkSpec {
    /// Name in the file and in Graph (`members`, `owners`).
    pub name: String,
    /// Path segment below the owning object: `/groups/{id}/{path}`.
    pub path: String,
    /// Several links may be added in one `PATCH` with `{name}@odata.bind` (at most 20).
    #[serde(default)]
    pub bulk_bind: bool,
    /// Graph refuses to remove the last one (group owners).
    #[serde(default)]
    pub keep_last: bool,
}

/// One kind of object, as described by `schema/<kind>.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KindSpec {
    /// The kind's name on the command line and in reports (`users`).
    pub kind: String,
    /// The `@odata.type` of the kind's objects (the base type where there are variants).
    pub graph_type: String,
    /// Graph path relative to the version root: a collection, or the singleton itself.
    pub path: String,
    /// Folder of the kind's files in the repository.
    pub dir: String,
    /// A singleton (one object per tenant) lives in one fixed file.
    #[serde(default)]
    pub singleton: bool,
    /// The singleton's file path.
    #[serde(default)]
    pub file: Option<String>,
    /// Files go into sub-folders named after the first two characters of the id, so that no
    /// folder holds more than a few thousand entries.
    #[serde(default)]
    pub shard: bool,
    /// Property that gives the readable part of the file name.
    pub name_property: String,
    /// A property Graph keeps unique among the kind's objects (a user's `userPrincipalName`, a
    /// service principal's `appId`): how a re-created object is found again when the answer to
    /// its create was lost.
    #[serde(default)]
    pub unique_key: Option<String>,
    /// Order in which kinds are written (dependencies first).
    pub apply_order: u32,
    /// Deleted objects go to `directory/deletedItems` and can be restored.
    #[serde(default)]
    pub soft_delete: bool,
    /// Graph offers a delta query for the kind.
    #[serde(default)]
    pub delta: bool,
    /// The kind can be created with POST / deleted with DELETE.
    #[serde(default)]
    pub create: bool,
    #[serde(default)]
    pub delete: bool,
    /// Whether reads use `$select` with the managed properties.
    #[serde(default = "yes")]
    pub select: bool,
    /// Updates need `@odata.type` in the body.
    #[serde(default)]
    pub odata_type_on_patch: bool,
    #[serde(default)]
    pub update: UpdateMode,
    /// Managed properties in file order; `id` is implied and always first.
    pub managed: Vec<String>,
    /// Extra managed properties per `@odata.type`, for kinds whose objects come in several types.
    #[serde(default)]
    pub variants: BTreeMap<String, Vec<String>>,
    /// Managed properties that are stored but never written back.
    #[serde(default)]
    pub read_only: Vec<String>,
    /// Managed properties that can only be set when the object is created.
    #[serde(default)]
    pub create_only: Vec<String>,
    /// Properties never stored, even when Graph returns them.
    #[serde(default)]
    pub volatile: Vec<String>,
    /// Properties (dotted paths, arrays traversed) that are never stored, logged or printed.
    #[serde(default)]
    pub secret: Vec<String>,
    /// Arrays compared and stored as sets (dotted paths, arrays traversed, `*` for one segment).
    #[serde(default)]
    pub set_like: Vec<String>,
    #[serde(default)]
    pub links: Vec<LinkSpec>,
}

fn yes() -> bool {
    true
}

impl KindSpec {
    /// All managed properties for an object of the given `@odata.type`, in file order.
    pub fn managed_for(&self, odata_type: Option<&str>) -> Vec<&str> {
        let mut out: Vec<&str> = self.managed.iter().map(String::as_str).collect();
        if let Some(extra) = odata_type.and_then(|t| self.variants.get(t)) {
            out.extend(extra.iter().map(String::as_str));
        }
        out
    }

    /// Every property any variant of this kind manages (for `$select` and the emulator).
    pub fn all_managed(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.managed.iter().map(String::as_str).collect();
        for extra in self.variants.values() {
            for p in extra {
                if !out.contains(&p.as_str()) {
                    out.push(p);
                }
            }
        }
        out
    }

    pub fn has_variants(&self) -> bool {
        !self.variants.is_empty()
    }

    pub fn is_read_only(&self, prop: &str) -> bool {
        prop == "id" || self.read_only.iter().any(|p| p == prop)
    }

    pub fn is_create_only(&self, prop: &str) -> bool {
        self.create_only.iter().any(|p| p == prop)
    }

    pub fn link(&self, name: &str) -> Option<&LinkSpec> {
        self.links.iter().find(|l| l.name == name)
    }

    /// The `$select` list for reads: id plus every managed property.
    pub fn select_list(&self) -> String {
        let mut props = vec!["id"];
        props.extend(self.all_managed());
        props.join(",")
    }

    /// Whether a dotted property path (array elements traversed) is set-like.
    pub fn is_set_like(&self, path: &str) -> bool {
        self.set_like.iter().any(|pat| path_matches(pat, path))
    }

    /// Whether a dotted property path is secret.
    pub fn is_secret(&self, path: &str) -> bool {
        self.secret.iter().any(|pat| path_matches(pat, path))
    }
}

/// Matches a dotted path against a pattern whose `*` stands for one segment.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let mut pat = pattern.split('.');
    let mut segs = path.split('.');
    loop {
        match (pat.next(), segs.next()) {
            (None, None) => return true,
            (Some(p), Some(s)) if p == "*" || p == s => {}
            _ => return false,
        }
    }
}

const SCHEMA_FILES: &[(&str, &str)] = &[
    ("users.yaml", include_str!("../schema/users.yaml")),
    ("groups.yaml", include_str!("../schema/groups.yaml")),
    (
        "applications.yaml",
        include_str!("../schema/applications.yaml"),
    ),
    (
        "servicePrincipals.yaml",
        include_str!("../schema/servicePrincipals.yaml"),
    ),
    (
        "namedLocations.yaml",
        include_str!("../schema/namedLocations.yaml"),
    ),
    (
        "conditionalAccessPolicies.yaml",
        include_str!("../schema/conditionalAccessPolicies.yaml"),
    ),
    (
        "authenticationMethodsPolicy.yaml",
        include_str!("../schema/authenticationMethodsPolicy.yaml"),
    ),
    (
        "authorizationPolicy.yaml",
        include_str!("../schema/authorizationPolicy.yaml"),
    ),
];

/// Every kind, in apply order.
pub fn kinds() -> &'static [KindSpec] {
    static KINDS: OnceLock<Vec<KindSpec>> = OnceLock::new();
    KINDS.get_or_init(|| {
        let mut kinds: Vec<KindSpec> = SCHEMA_FILES
            .iter()
            .map(|(name, text)| {
                serde_yaml::from_str(text)
                    .unwrap_or_else(|e| panic!("embedded schema/{name} is invalid: {e}"))
            })
            .collect();
        kinds.sort_by_key(|k| k.apply_order);
        kinds
    })
}

/// The kind with the given name.
pub fn kind(name: &str) -> Option<&'static KindSpec> {
    kinds().iter().find(|k| k.kind == name)
}

/// Kind names, for error hints.
pub fn kind_names() -> Vec<&'static str> {
    kinds().iter().map(|k| k.kind.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_file_loads_and_is_consistent() {
        let kinds = kinds();
        assert_eq!(kinds.len(), SCHEMA_FILES.len());
        for k in kinds {
            for ro in k.read_only.iter().chain(&k.create_only) {
                assert!(
                    k.all_managed().contains(&ro.as_str()),
                    "{}: {ro} is read-only/create-only but not managed",
                    k.kind
                );
            }
            for v in &k.volatile {
                assert!(
                    !k.all_managed().contains(&v.as_str()),
                    "{}: {v} volatile and managed",
                    k.kind
                );
            }
            assert_eq!(
                k.singleton,
                k.file.is_some(),
                "{}: singletons need a file",
                k.kind
            );
        }
    }

    #[test]
    fn path_patterns() {
        assert!(path_matches(
            "conditions.users.*",
            "conditions.users.includeUsers"
        ));
        assert!(!path_matches("conditions.users.*", "conditions.users"));
        assert!(path_matches("keyCredentials.key", "keyCredentials.key"));
        assert!(!path_matches("a.b", "a.b.c"));
    }
}
