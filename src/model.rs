//! The snapshot model: plain data shared by every command. An [`Object`] is one directory object
//! in canonical form (what its YAML file says); a [`Snapshot`] is every object of the kinds in
//! scope, keyed by kind and id. Nothing here does I/O.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

pub use crate::equality::{props_equal, values_equal};
use crate::schema::Kind;

/// Identity of an object: its kind and its Graph id. Ordered by kind name, then id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub kind: Kind,
    pub id: String,
}

impl ObjectKey {
    pub fn new(kind: impl Into<Kind>, id: impl Into<String>) -> ObjectKey {
        ObjectKey {
            kind: kind.into(),
            id: id.into(),
        }
    }

    /// The key of an object of the kind with this name, which must be one this build knows (a
    /// name written in the code, not one read from input).
    pub fn named(kind: &str, id: impl Into<String>) -> ObjectKey {
        ObjectKey::new(
            Kind::named(kind).expect("a kind name written in the code is a known kind"),
            id,
        )
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.kind, self.id)
    }
}

/// One end of a link (a group member, an owner): the object id, and its display name when known.
/// Only the id is meaningful; the name is there for reviewers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRef {
    pub id: String,
    pub display_name: Option<String>,
}

impl LinkRef {
    pub fn new(id: impl Into<String>, display_name: Option<String>) -> Self {
        LinkRef {
            id: id.into(),
            display_name,
        }
    }
}

/// A directory object in canonical form.
#[derive(Debug, Clone)]
pub struct Object {
    pub kind: Kind,
    pub id: String,
    /// Properties in canonical order: `id` first, then `@odata.type` for kinds with variants,
    /// then every managed property in schema order (nulls included). Links are not in here.
    pub props: Map<String, Value>,
    /// Links by name, each sorted by id without duplicates.
    pub links: BTreeMap<String, Vec<LinkRef>>,
    /// Display names of the targets of references inside properties (the kind's
    /// `references`), by dotted path: comments in the file for reviewers, never compared.
    pub names: BTreeMap<String, String>,
}

impl Object {
    pub fn key(&self) -> ObjectKey {
        ObjectKey {
            kind: self.kind,
            id: self.id.clone(),
        }
    }

    /// An object of the same kind and id with no properties and no links.
    pub fn empty_like(&self) -> Object {
        Object {
            kind: self.kind,
            id: self.id.clone(),
            props: Map::new(),
            links: BTreeMap::new(),
            names: BTreeMap::new(),
        }
    }

    /// The name people know the object by: `displayName`, else the kind's name property, else
    /// the id.
    pub fn display_name(&self) -> &str {
        for p in ["displayName", self.kind.name_property.as_str()] {
            if let Some(Value::String(s)) = self.props.get(p) {
                if !s.is_empty() {
                    return s;
                }
            }
        }
        &self.id
    }

    /// The name a full read gives the object as a link end: its `displayName`, when it has one.
    pub fn end_name(&self) -> Option<String> {
        self.props
            .get("displayName")
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    /// The readable part of the file name.
    pub fn name_for_path(&self) -> &str {
        match self.props.get(&self.kind.name_property) {
            Some(Value::String(s)) if !s.is_empty() => s,
            _ => self.display_name(),
        }
    }

    /// The `@odata.type` of objects of kinds with variants.
    pub fn odata_type(&self) -> Option<&str> {
        self.props.get("@odata.type").and_then(Value::as_str)
    }

    /// Ids of one link, in order.
    pub fn link_ids(&self, name: &str) -> impl Iterator<Item = &str> {
        self.links
            .get(name)
            .into_iter()
            .flatten()
            .map(|l| l.id.as_str())
    }

    /// Semantic equality: properties (null and absent alike) and link id sets. Display names of
    /// link ends do not count.
    pub fn same_state(&self, other: &Object) -> bool {
        if !props_equal(&self.props, &other.props) {
            return false;
        }
        let names: std::collections::BTreeSet<&String> =
            self.links.keys().chain(other.links.keys()).collect();
        names
            .into_iter()
            .all(|n| self.link_ids(n).eq(other.link_ids(n)))
    }
}

/// Every object of the kinds in scope.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub objects: BTreeMap<ObjectKey, Object>,
}

impl Snapshot {
    pub fn insert(&mut self, object: Object) {
        self.objects.insert(object.key(), object);
    }

    pub fn get(&self, key: &ObjectKey) -> Option<&Object> {
        self.objects.get(key)
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// Objects of one kind, by id.
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Object> + 'a {
        self.objects.values().filter(move |o| o.kind.kind == kind)
    }
}
