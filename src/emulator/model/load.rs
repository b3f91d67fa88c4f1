//! Builds the [`Model`] from the two data files: parses them, flattens base types into derived
//! ones, applies the docs facts to the CSDL's properties, and refuses any fact that names a type,
//! property or relationship the metadata does not have (a typo in facts.yaml is a load error,
//! not a silently ignored rule).

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use super::edm::TypeRef;
use super::rules::{Condition, WriteRule};
use super::{
    Access, Child, Collection, ComplexType, EntityType, Limits, Link, Model, Navigation, Property,
    Reverse, Seed, SoftDelete, Unique,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawMetadata {
    #[allow(dead_code)]
    entity_sets: BTreeMap<String, String>,
    #[allow(dead_code)]
    singletons: BTreeMap<String, String>,
    types: BTreeMap<String, RawType>,
    enums: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawType {
    kind: String,
    #[serde(default)]
    base: Option<String>,
    #[serde(default)]
    properties: Option<BTreeMap<String, String>>,
    #[serde(default)]
    navigation: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawFacts {
    collections: BTreeMap<String, RawCollection>,
    types: BTreeMap<String, RawTypeFacts>,
    complex_types: BTreeMap<String, RawComplex>,
    limits: Limits,
    write_rules: Vec<WriteRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeed {
    #[serde(default)]
    dir: Option<String>,
    #[serde(default)]
    file: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawSoftDelete {
    Word(String),
    When(Box<Condition>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawUnique {
    Name(String),
    Full {
        property: String,
        status: u16,
        code: String,
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawLink {
    targets: Vec<String>,
    #[serde(default)]
    bulk_bind: Option<usize>,
    #[serde(default)]
    max: Option<usize>,
    #[serde(default)]
    keep_last: bool,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawChild {
    #[serde(default)]
    alternate_key: Option<String>,
    #[serde(default)]
    unique: Vec<Vec<String>>,
    #[serde(default)]
    max: Option<usize>,
    #[serde(default)]
    create: bool,
    #[serde(default)]
    update: bool,
    #[serde(default)]
    delete: bool,
    #[serde(default, rename = "requireODataType")]
    require_odata_type: bool,
    /// Children kept in files of their own in a snapshot repository (a folder).
    #[serde(default)]
    seed: Option<RawSeed>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawCollection {
    path: String,
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    singleton: Option<String>,
    #[serde(default)]
    seed: Option<RawSeed>,
    #[serde(default)]
    create: bool,
    #[serde(default)]
    delete: bool,
    soft_delete: RawSoftDelete,
    #[serde(default)]
    patch_returns_body: bool,
    #[serde(default, rename = "requireODataType")]
    require_odata_type: bool,
    #[serde(default)]
    alternate_key: Option<String>,
    #[serde(default)]
    key_function: Option<String>,
    #[serde(default)]
    unique: Vec<RawUnique>,
    #[serde(default)]
    links: BTreeMap<String, RawLink>,
    #[serde(default)]
    children: BTreeMap<String, Option<RawChild>>,
    /// Reverse lookup name → `collection.link` sources.
    #[serde(default)]
    reverse: BTreeMap<String, Vec<String>>,
    #[allow(dead_code)]
    source: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawTypeFacts {
    #[serde(default)]
    read_only: Vec<String>,
    #[serde(default)]
    create_only: Vec<String>,
    #[serde(default)]
    required_on_create: Vec<String>,
    #[serde(default)]
    default_select: Option<Vec<String>>,
    #[serde(default)]
    select_only: Vec<String>,
    #[serde(default)]
    inline_navigation: Vec<String>,
    #[serde(default)]
    expanded_references: BTreeMap<String, String>,
    #[serde(default)]
    write_only: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComplex {
    base: Option<String>,
    properties: BTreeMap<String, String>,
    #[allow(dead_code)]
    source: String,
}

fn nav_of(name: &str, text: &str) -> Navigation {
    let contained = text.contains("(contained)");
    let ty = TypeRef::parse(&text.replace("(contained)", ""));
    Navigation {
        name: name.to_string(),
        target: match ty.base {
            super::TypeBase::Named(n) => n,
            super::TypeBase::Prim(_) => String::new(),
        },
        collection: ty.collection,
        contained,
    }
}

/// The chain `name, base, base of base, …` of a metadata type.
fn chain<'a>(types: &'a BTreeMap<String, RawType>, name: &'a str) -> Vec<&'a str> {
    let mut out = vec![name];
    let mut cur = types.get(name).and_then(|t| t.base.as_deref());
    while let Some(b) = cur {
        out.push(b);
        cur = types.get(b).and_then(|t| t.base.as_deref());
    }
    out
}

pub(super) fn load(metadata: &str, facts: &str) -> Result<Model, String> {
    let meta: RawMetadata =
        serde_yaml::from_str(metadata).map_err(|e| format!("metadata.yaml: {e}"))?;
    let facts: RawFacts = serde_yaml::from_str(facts).map_err(|e| format!("facts.yaml: {e}"))?;
    let mut raw = meta.types;
    for (name, c) in facts.complex_types {
        if raw.contains_key(&name) {
            return Err(format!(
                "facts.yaml: complex type {name} is already in the metadata"
            ));
        }
        raw.insert(
            name,
            RawType {
                kind: "complex".into(),
                base: c.base,
                properties: Some(c.properties),
                navigation: None,
            },
        );
    }
    let no_facts = RawTypeFacts::default();
    let facts_of = |n: &str| facts.types.get(n).unwrap_or(&no_facts);
    for n in facts.types.keys() {
        if !raw.contains_key(n) {
            return Err(format!("facts.yaml: type {n} is not in the metadata"));
        }
    }

    // Complex types, base members first.
    let mut complex = HashMap::new();
    for (name, t) in raw.iter().filter(|(_, t)| t.kind.starts_with("complex")) {
        let mut props = Vec::new();
        let mut navs = Vec::new();
        for link in chain(&raw, name).into_iter().rev() {
            let Some(rt) = raw.get(link) else {
                return Err(format!("complex type {name}: base {link} is unknown"));
            };
            for (p, ty) in rt.properties.iter().flatten() {
                props.push(Property {
                    name: p.clone(),
                    ty: TypeRef::parse(ty),
                    access: Access::ReadWrite,
                    select_only: false,
                });
            }
            for (n, ty) in rt.navigation.iter().flatten() {
                navs.push(nav_of(n, ty));
            }
        }
        let derived = raw
            .iter()
            .filter(|(n, _)| n.as_str() != name && chain(&raw, n).contains(&name.as_str()))
            .map(|(n, _)| n.clone())
            .collect();
        let prop_index = props
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.to_ascii_lowercase(), i))
            .collect();
        complex.insert(
            name.clone(),
            ComplexType {
                name: name.clone(),
                open: t.kind.contains("open"),
                is_abstract: t.kind.contains("abstract"),
                derived,
                props,
                prop_index,
                navs,
            },
        );
    }

    // Entity types.
    let names: Vec<&String> = raw
        .iter()
        .filter(|(_, t)| t.kind.starts_with("entity"))
        .map(|(n, _)| n)
        .collect();
    let type_index: HashMap<String, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| ((*n).clone(), i))
        .collect();
    let mut types = Vec::with_capacity(names.len());
    for name in &names {
        let t = &raw[*name];
        let line = chain(&raw, name);
        let mut props: Vec<Property> = Vec::new();
        let mut navs = Vec::new();
        for link in line.iter().rev() {
            let rt = raw
                .get(*link)
                .ok_or_else(|| format!("entity type {name}: base {link} is unknown"))?;
            for (p, ty) in rt.properties.iter().flatten() {
                // A derived type may restate a base property (`id` on namedLocation).
                props.retain(|q| q.name != *p);
                props.push(Property {
                    name: p.clone(),
                    ty: TypeRef::parse(ty),
                    access: Access::ReadWrite,
                    select_only: false,
                });
            }
            for (n, ty) in rt.navigation.iter().flatten() {
                navs.retain(|q: &Navigation| q.name != *n);
                navs.push(nav_of(n, ty));
            }
        }
        let mut required = Vec::new();
        let mut inline_navs = Vec::new();
        let mut write_only = Vec::new();
        // Base facts first, so that a derived type's own facts win.
        for link in line.iter().rev() {
            let f = facts_of(link);
            for (list, access) in [
                (&f.read_only, Access::ReadOnly),
                (&f.create_only, Access::CreateOnly),
            ] {
                for p in list {
                    // Facts of a base type may name a property a derived type lacks: only
                    // types that have it are marked.
                    if let Some(q) = props.iter_mut().find(|q| q.name == *p) {
                        q.access = access;
                    } else if *link == name.as_str() {
                        return Err(format!("facts.yaml: {name} has no property {p}"));
                    }
                }
            }
            for p in &f.select_only {
                match props.iter_mut().find(|q| q.name == *p) {
                    Some(q) => q.select_only = true,
                    None => return Err(format!("facts.yaml: {name} has no property {p}")),
                }
            }
            required.extend(f.required_on_create.iter().cloned());
            inline_navs.extend(f.inline_navigation.iter().cloned());
            write_only.extend(f.write_only.iter().cloned());
        }
        let own = facts_of(name);
        for p in required
            .iter()
            .chain(own.default_select.iter().flatten())
            .chain(&write_only)
        {
            if !props.iter().any(|q| q.name == *p) {
                return Err(format!("facts.yaml: {name} has no property {p}"));
            }
        }
        let expanded = own
            .expanded_references
            .iter()
            .map(|(path, coll)| (path.split('.').map(str::to_string).collect(), coll.clone()))
            .collect();
        let prop_index = props
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.to_ascii_lowercase(), i))
            .collect();
        let nav_index = navs
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.to_ascii_lowercase(), i))
            .collect();
        types.push(EntityType {
            name: (*name).clone(),
            odata_type: format!("#microsoft.graph.{name}"),
            is_abstract: t.kind.contains("abstract"),
            open: t.kind.contains("open"),
            base: t.base.as_ref().and_then(|b| type_index.get(b).copied()),
            derived: Vec::new(),
            props,
            prop_index,
            navs,
            nav_index,
            required_on_create: required,
            default_select: own.default_select.clone(),
            inline_navs,
            expanded,
            write_only,
        });
    }
    for i in 0..types.len() {
        if types[i].is_abstract {
            continue;
        }
        let mut cur = types[i].base;
        while let Some(b) = cur {
            types[b].derived.push(i);
            cur = types[b].base;
        }
    }

    let mut model = Model {
        types,
        type_index,
        complex,
        enums: meta.enums.into_iter().collect(),
        collections: Vec::new(),
        rules: facts.write_rules,
        limits: facts.limits,
    };
    for r in &model.rules {
        check_rule(&model, r)?;
    }
    let mut reverse = Vec::new();
    for (name, mut c) in facts.collections {
        reverse.push(std::mem::take(&mut c.reverse));
        let collection = build_collection(&model, name, c)?;
        model.collections.push(collection);
    }
    // Reverse lookups name other collections, so they are resolved once all exist.
    for (k, raw) in reverse.into_iter().enumerate() {
        let built = build_reverse(&model, k, raw)?;
        model.collections[k].reverse = built;
    }
    Ok(model)
}

/// Each reverse lookup is a navigation of the collection's type in the metadata, and each of its
/// sources a reference link of another collection.
fn build_reverse(
    m: &Model,
    k: usize,
    raw: BTreeMap<String, Vec<String>>,
) -> Result<Vec<Reverse>, String> {
    let coll = &m.collections[k];
    let err = |what: String| format!("facts.yaml: collection {}: reverse {what}", coll.name);
    let ty = m.ty(coll.ty);
    let mut out = Vec::new();
    for (name, sources) in raw {
        let nav = ty
            .nav(&name)
            .filter(|n| n.collection && !n.contained)
            .ok_or_else(|| err(format!("{name}: {} has no such relationship", ty.name)))?;
        let mut resolved = Vec::new();
        for src in sources {
            let (cn, ln) = src
                .split_once('.')
                .ok_or_else(|| err(format!("{name}: {src} is not collection.link")))?;
            let ck = m
                .collection(cn)
                .ok_or_else(|| err(format!("{name}: unknown collection {cn}")))?;
            let li = m.collections[ck]
                .link(ln)
                .ok_or_else(|| err(format!("{name}: {cn} has no link {ln}")))?;
            resolved.push((ck, li));
        }
        out.push(Reverse {
            name: nav.name.clone(),
            sources: resolved,
        });
    }
    Ok(out)
}

/// A rule names only types, properties and relationships the metadata has (patterns ending in
/// `*` aside), so that a typo cannot make a rule silently cover nothing.
fn check_rule(m: &Model, r: &WriteRule) -> Result<(), String> {
    let err = |what: String| format!("facts.yaml: rule {}: {what}", r.name);
    let mut types = Vec::new();
    for t in &r.types {
        types.push(
            m.entity(t)
                .ok_or_else(|| err(format!("unknown type {t}")))?,
        );
    }
    let names = r.properties.iter().chain(&r.except);
    for p in names.filter(|p| !p.ends_with('*')) {
        let known = types.iter().any(|t| {
            let ty = m.ty(*t);
            ty.prop(p).is_some_and(|q| q.name == *p) || ty.nav(p).is_some_and(|n| n.name == *p)
        });
        if !known {
            return Err(err(format!("no property {p} on {}", r.types.join(", "))));
        }
    }
    for l in &r.links {
        if !types
            .iter()
            .any(|t| m.ty(*t).nav(l).is_some_and(|n| n.name == *l))
        {
            return Err(err(format!(
                "no relationship {l} on {}",
                r.types.join(", ")
            )));
        }
    }
    Ok(())
}

fn build_collection(m: &Model, name: String, c: RawCollection) -> Result<Collection, String> {
    let err = |what: String| format!("facts.yaml: collection {name}: {what}");
    let ty = m
        .entity(&c.ty)
        .ok_or_else(|| err(format!("unknown type {}", c.ty)))?;
    let t = m.ty(ty);
    let soft_delete = match c.soft_delete {
        RawSoftDelete::Word(w) if w == "always" => SoftDelete::Always,
        RawSoftDelete::Word(w) if w == "never" => SoftDelete::Never,
        RawSoftDelete::Word(w) => return Err(err(format!("softDelete {w:?}"))),
        RawSoftDelete::When(cond) => SoftDelete::When(cond),
    };
    let seed = match c.seed {
        None => None,
        Some(RawSeed {
            dir: Some(d),
            file: None,
        }) => Some(Seed::Dir(d)),
        Some(RawSeed {
            dir: None,
            file: Some(f),
        }) => Some(Seed::File(f)),
        Some(_) => return Err(err("seed takes one of dir or file".into())),
    };
    let mut links = Vec::new();
    for (ln, l) in c.links {
        let nav = t
            .nav(&ln)
            .filter(|n| !n.contained)
            .ok_or_else(|| err(format!("{} has no reference navigation {ln}", t.name)))?;
        links.push(Link {
            name: nav.name.clone(),
            single: !nav.collection,
            targets: l.targets,
            bulk_bind: l.bulk_bind,
            max: l.max,
            keep_last: l.keep_last,
        });
    }
    let mut children = Vec::new();
    for (cn, ch) in c.children {
        let ch = ch.unwrap_or_default();
        let nav = t
            .nav(&cn)
            .filter(|n| n.contained && n.collection)
            .ok_or_else(|| err(format!("{} has no contained collection {cn}", t.name)))?;
        let child_ty = m
            .entity(&nav.target)
            .ok_or_else(|| err(format!("{cn}: unknown type {}", nav.target)))?;
        let seed = match ch.seed {
            None => None,
            Some(RawSeed {
                dir: Some(d),
                file: None,
            }) => Some(d),
            Some(_) => return Err(err(format!("{cn}: a child's seed is a dir"))),
        };
        children.push(Child {
            name: nav.name.clone(),
            seed,
            ty: child_ty,
            create: ch.create,
            update: ch.update,
            delete: ch.delete,
            require_odata_type: ch.require_odata_type,
            alternate_key: ch.alternate_key,
            unique: ch.unique,
            max: ch.max,
        });
    }
    let unique = c
        .unique
        .into_iter()
        .map(|u| match u {
            RawUnique::Name(property) => Unique {
                message: format!(
                    "Another object with the same value for property {property} already exists."
                ),
                property,
                status: 400,
                code: "Request_BadRequest".into(),
            },
            RawUnique::Full {
                property,
                status,
                code,
                message,
            } => Unique {
                property,
                status,
                code,
                message,
            },
        })
        .collect();
    Ok(Collection {
        segs: c.path.split('/').map(str::to_string).collect(),
        path: c.path,
        name,
        ty,
        singleton: c.singleton,
        seed,
        create: c.create,
        delete: c.delete,
        soft_delete,
        patch_returns_body: c.patch_returns_body,
        require_odata_type: c.require_odata_type,
        alternate_key: c.alternate_key,
        key_function: c.key_function,
        unique,
        links,
        children,
        reverse: Vec::new(),
    })
}
