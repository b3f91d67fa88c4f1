//! The emulator's own model of Microsoft Graph v1.0, never read from tenantgit's `schema/`:
//! `metadata.yaml` is Microsoft's CSDL (types, structural properties with their Edm types,
//! navigation properties, what is contained) and `facts.yaml` adds what the CSDL does not say,
//! from the Graph docs (where each collection lives, read-only, create-only and required
//! properties, default property sets, unique keys, soft delete, per-object write rules). Both are
//! compiled into the binary and loaded once into the typed structures below, with base types
//! flattened into their derived types.

mod edm;
mod load;
mod rules;

use std::collections::HashMap;
use std::sync::OnceLock;

pub(crate) use edm::{check_value, Invalid, InvalidKind, TypeBase, TypeRef};
#[cfg(test)]
pub(crate) use rules::Check;
pub(crate) use rules::{refusal, Condition, TenantFacts, Write, WriteOp, WriteRule};

const METADATA: &str = include_str!("metadata.yaml");
const FACTS: &str = include_str!("facts.yaml");

/// The model, loaded on first use.
pub(crate) fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| {
        load::load(METADATA, FACTS).expect("the model files compiled into the binary are valid")
    })
}

/// Everything the emulator knows about Graph.
#[derive(Debug)]
pub(crate) struct Model {
    pub types: Vec<EntityType>,
    type_index: HashMap<String, usize>,
    pub complex: HashMap<String, ComplexType>,
    pub enums: HashMap<String, Vec<String>>,
    /// The collections and singletons the emulator serves, in facts order.
    pub collections: Vec<Collection>,
    pub rules: Vec<WriteRule>,
    pub limits: Limits,
}

/// Protocol limits the docs state (facts.yaml `limits`).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Limits {
    /// Items of an expanded relationship.
    pub expanded_items: usize,
    /// Objects in one page of a list with `$expand`.
    pub expanded_page: usize,
    /// Ids one `directoryObjects/getByIds` takes.
    pub get_by_ids: usize,
}

/// A read-only reverse lookup (`users/{id}/memberOf`): the objects whose references name this
/// one.
#[derive(Debug, Clone)]
pub(crate) struct Reverse {
    pub name: String,
    /// (collection, link) pairs to look in.
    pub sources: Vec<(usize, usize)>,
}

impl Model {
    /// An entity type by its name (`user`) or qualified name (`microsoft.graph.user`, with or
    /// without `#`).
    pub fn entity(&self, name: &str) -> Option<usize> {
        let name = name.trim_start_matches('#');
        let name = name.strip_prefix("microsoft.graph.").unwrap_or(name);
        self.type_index.get(name).copied()
    }

    pub fn ty(&self, index: usize) -> &EntityType {
        &self.types[index]
    }

    pub fn collection(&self, name: &str) -> Option<usize> {
        self.collections.iter().position(|c| c.name == name)
    }

    /// Whether entity type `ty` is `ancestor` or derives from it.
    pub fn is_a(&self, ty: usize, ancestor: &str) -> bool {
        let mut cur = Some(ty);
        while let Some(i) = cur {
            if self.types[i].name == ancestor {
                return true;
            }
            cur = self.types[i].base;
        }
        false
    }

    /// A complex type by name or qualified name.
    pub fn complex_type(&self, name: &str) -> Option<&ComplexType> {
        let name = name.trim_start_matches('#');
        self.complex
            .get(name.strip_prefix("microsoft.graph.").unwrap_or(name))
    }
}

/// Who may set a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    ReadWrite,
    /// Set by the service (or by an action) only.
    ReadOnly,
    /// Set when the object is created, never afterwards.
    CreateOnly,
}

/// A structural property.
#[derive(Debug, Clone)]
pub(crate) struct Property {
    pub name: String,
    pub ty: TypeRef,
    pub access: Access,
    /// Returned only when `$select`-ed.
    pub select_only: bool,
}

/// A navigation property (a relationship).
#[derive(Debug, Clone)]
pub(crate) struct Navigation {
    pub name: String,
    /// Target type name (`directoryObject`).
    pub target: String,
    pub collection: bool,
    /// Lives only under its parent and is written at the parent's path.
    pub contained: bool,
}

/// An entity type with everything of its base types flattened in.
#[derive(Debug)]
pub(crate) struct EntityType {
    pub name: String,
    /// `#microsoft.graph.user`.
    pub odata_type: String,
    pub is_abstract: bool,
    /// Open types take properties the CSDL does not declare (directory extensions).
    pub open: bool,
    pub base: Option<usize>,
    /// Concrete types deriving from this one, transitively (not the type itself).
    pub derived: Vec<usize>,
    /// Base-type properties first.
    pub props: Vec<Property>,
    prop_index: HashMap<String, usize>,
    pub navs: Vec<Navigation>,
    nav_index: HashMap<String, usize>,
    pub required_on_create: Vec<String>,
    /// What a GET without `$select` returns; `None` = every property not `select_only`.
    pub default_select: Option<Vec<String>>,
    /// Navigation properties read and written inline, as if structural.
    pub inline_navs: Vec<String>,
    /// References returned expanded to the whole target (`grantControls.authenticationStrength`):
    /// the dotted path and the collection holding the targets.
    pub expanded: Vec<(Vec<String>, String)>,
    /// Accepted on writes, never returned with a value.
    pub write_only: Vec<String>,
}

impl EntityType {
    /// `microsoft.graph.user`.
    pub fn qualified(&self) -> &str {
        self.odata_type.trim_start_matches('#')
    }

    /// A structural property, matched case-insensitively as Graph does.
    pub fn prop(&self, name: &str) -> Option<&Property> {
        self.prop_index
            .get(&name.to_ascii_lowercase())
            .map(|i| &self.props[*i])
    }

    pub fn nav(&self, name: &str) -> Option<&Navigation> {
        self.nav_index
            .get(&name.to_ascii_lowercase())
            .map(|i| &self.navs[*i])
    }

    pub fn is_inline_nav(&self, name: &str) -> bool {
        self.inline_navs
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name))
    }

    /// The properties a GET without `$select` returns, in order.
    pub fn default_props(&self) -> Vec<&str> {
        match &self.default_select {
            Some(list) => list.iter().map(String::as_str).collect(),
            None => self
                .props
                .iter()
                .filter(|p| !p.select_only)
                .map(|p| p.name.as_str())
                .collect(),
        }
    }

    /// The `targetObjects` name directory extensions use for this type (`User`).
    pub fn extension_target(&self) -> String {
        let mut c = self.name.chars();
        match c.next() {
            Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
            None => String::new(),
        }
    }
}

/// A complex (structured value) type.
#[derive(Debug)]
pub(crate) struct ComplexType {
    pub name: String,
    pub open: bool,
    pub is_abstract: bool,
    /// Known complex types deriving from this one, transitively.
    pub derived: Vec<String>,
    pub props: Vec<Property>,
    prop_index: HashMap<String, usize>,
    pub navs: Vec<Navigation>,
}

impl ComplexType {
    pub fn prop(&self, name: &str) -> Option<&Property> {
        self.prop_index
            .get(&name.to_ascii_lowercase())
            .map(|i| &self.props[*i])
    }
}

/// Where a snapshot repository keeps a collection's object files.
#[derive(Debug, Clone)]
pub(crate) enum Seed {
    /// Every `*.yaml` below this folder.
    Dir(String),
    /// One file (singletons).
    File(String),
}

/// What happens on DELETE.
#[derive(Debug, Clone)]
pub(crate) enum SoftDelete {
    Never,
    Always,
    /// To the recycle bin when the condition holds, permanently otherwise.
    When(Box<Condition>),
}

/// A Graph answer for a broken uniqueness rule.
#[derive(Debug, Clone)]
pub(crate) struct Unique {
    pub property: String,
    pub status: u16,
    pub code: String,
    pub message: String,
}

/// A relationship stored as references to other directory objects.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub name: String,
    /// One reference (`manager`) rather than a collection.
    pub single: bool,
    /// Entity type names a reference may point to.
    pub targets: Vec<String>,
    /// How many references one `@odata.bind` may add; `None` = no bind.
    pub bulk_bind: Option<usize>,
    pub max: Option<usize>,
    /// The last reference cannot be removed.
    pub keep_last: bool,
}

/// A contained collection below each object (`applications/{id}/federatedIdentityCredentials`).
#[derive(Debug, Clone)]
pub(crate) struct Child {
    pub name: String,
    /// The folder of a snapshot repository that keeps one file per child (method
    /// configurations); otherwise children are a list in the parent's file.
    pub seed: Option<String>,
    /// Entity type of the children (base type where several derive).
    pub ty: usize,
    pub create: bool,
    pub update: bool,
    pub delete: bool,
    pub require_odata_type: bool,
    /// A property children are also addressed by: `…/federatedIdentityCredentials(name='x')`.
    pub alternate_key: Option<String>,
    /// Property sets unique among one parent's children.
    pub unique: Vec<Vec<String>>,
    pub max: Option<usize>,
}

/// A collection or singleton the emulator serves.
#[derive(Debug)]
pub(crate) struct Collection {
    /// The emulator's name for it (`conditionalAccessPolicies`).
    pub name: String,
    /// Graph path below the version root.
    pub path: String,
    pub segs: Vec<String>,
    /// Entity type of its objects (the base type where several derive).
    pub ty: usize,
    /// The singleton's id.
    pub singleton: Option<String>,
    pub seed: Option<Seed>,
    pub create: bool,
    pub delete: bool,
    pub soft_delete: SoftDelete,
    pub patch_returns_body: bool,
    pub require_odata_type: bool,
    /// A property objects are also addressed by: `users/{userPrincipalName}`.
    pub alternate_key: Option<String>,
    /// `applications(appId='…')`.
    pub key_function: Option<String>,
    pub unique: Vec<Unique>,
    pub links: Vec<Link>,
    pub children: Vec<Child>,
    pub reverse: Vec<Reverse>,
}

impl Collection {
    pub fn link(&self, name: &str) -> Option<usize> {
        self.links
            .iter()
            .position(|l| l.name.eq_ignore_ascii_case(name))
    }

    pub fn reverse(&self, name: &str) -> Option<&Reverse> {
        self.reverse
            .iter()
            .find(|r| r.name.eq_ignore_ascii_case(name))
    }

    pub fn child(&self, name: &str) -> Option<usize> {
        self.children
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// Objects of several types share the collection, so each carries `@odata.type`.
    pub fn polymorphic(&self, m: &Model) -> bool {
        !m.ty(self.ty).derived.is_empty()
    }
}

#[cfg(test)]
mod tests;
