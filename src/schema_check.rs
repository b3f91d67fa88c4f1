//! Holds tenantgit's `schema/` against the emulator's own model of Graph v1.0 (Microsoft's
//! metadata plus the docs facts): every stored property exists in v1.0 on the kind's type, none
//! that tenantgit may write is read-only (or create-only while tenantgit patches it, or refused
//! outright by a write rule), relationships are stored as links or children and never as
//! structural properties, and every dotted path the schema names (set-like arrays, secrets,
//! references) leads somewhere. Only this test reads both sides; the model never reads
//! `schema/` and tenantgit never reads the model. It lives outside `src/emulator/` because no
//! file there may name tenantgit's kind knowledge.

use crate::emulator::model::{model, Access, EntityType, Model, TypeBase, WriteOp};
use crate::schema::{self, KindSpec};

/// Every finding about one kind, each naming the kind and the property.
fn findings(m: &Model, kind: &KindSpec) -> Vec<String> {
    let mut out = Vec::new();
    let name = &kind.kind;
    let Some(base) = m.entity(&kind.graph_type) else {
        return vec![format!(
            "{name}: graphType {} is not a v1.0 entity type",
            kind.graph_type
        )];
    };
    // (type, properties stored for objects of that type)
    let mut typed: Vec<(usize, Vec<&str>)> =
        vec![(base, kind.managed.iter().map(String::as_str).collect())];
    for (variant, props) in &kind.variants {
        match m.entity(variant) {
            Some(t) if m.is_a(t, &m.ty(base).name) => {
                typed.push((t, props.iter().map(String::as_str).collect()))
            }
            Some(_) => out.push(format!(
                "{name}: variant {variant} does not derive from {}",
                kind.graph_type
            )),
            None => out.push(format!(
                "{name}: variant {variant} is not a v1.0 entity type"
            )),
        }
    }
    for (t, props) in &typed {
        let ty = m.ty(*t);
        for prop in props {
            out.extend(check_stored(m, kind, ty, prop));
        }
    }
    let types: Vec<&EntityType> = typed.iter().map(|(t, _)| m.ty(*t)).collect();
    for (what, paths) in [
        ("setLike", &kind.set_like),
        ("secret", &kind.secret),
        ("readOnly", &kind.read_only),
        ("createOnly", &kind.create_only),
    ] {
        for path in paths {
            if !types.iter().any(|ty| resolves_in_kind(m, kind, ty, path)) {
                out.push(format!(
                    "{name}: {what} path {path} names no v1.0 property of {}",
                    kind.graph_type
                ));
            }
        }
    }
    for credential in kind.credentials.keys() {
        if m.ty(base)
            .prop(credential)
            .is_none_or(|p| p.name != *credential)
        {
            out.push(format!(
                "{name}: credential {credential} is not a v1.0 property of {}",
                kind.graph_type
            ));
        }
    }
    let ty = m.ty(base);
    for reference in &kind.references {
        let (parent, last) = reference.rsplit_once('.').unwrap_or(("", reference));
        let holders = if parent.is_empty() {
            Some(vec![ty.name.clone()])
        } else {
            types_at(m, ty, parent)
        };
        if !holders.is_some_and(|h| has_nav(m, &h, last)) {
            out.push(format!(
                "{name}: reference {reference} is not a v1.0 relationship of {}",
                kind.graph_type
            ));
        }
    }
    for child in &kind.children {
        out.extend(check_child(m, kind, ty, child));
    }
    // Relationships nested in structural values (a CA policy's
    // grantControls.authenticationStrength): Graph returns them expanded and takes a reference.
    for (t, props) in &typed {
        for prop in props {
            let Some(p) = m.ty(*t).prop(prop).filter(|p| p.name == *prop) else {
                continue;
            };
            let mut seen = Vec::new();
            for nested in nested_navs(m, &p.ty.base, prop, &mut seen) {
                if !kind.is_reference(&nested) {
                    out.push(format!(
                        "{name}: {nested} is a navigation property in v1.0, stored as a \
                         structural value: list it under references"
                    ));
                }
            }
        }
    }
    for link in &kind.links {
        match ty.nav(&link.name).filter(|n| n.name == link.name) {
            None if ty.prop(&link.name).is_some() => out.push(format!(
                "{name}: link {} is a structural property of {} in v1.0, not a relationship",
                link.name, ty.name
            )),
            None => out.push(format!(
                "{name}: link {} is not a v1.0 relationship of {}",
                link.name, ty.name
            )),
            Some(nav) if nav.contained => out.push(format!(
                "{name}: link {} is a contained relationship of {}: its objects live under the \
                 parent, they are not references",
                link.name, ty.name
            )),
            Some(nav) if nav.collection == link.single => out.push(format!(
                "{name}: link {} is {} in v1.0 but `single: {}` in the schema",
                link.name,
                if nav.collection {
                    "a collection"
                } else {
                    "a single reference"
                },
                link.single
            )),
            Some(_) => {}
        }
    }
    out
}

/// Findings about a contained collection stored in the owner's file: it is a contained
/// collection of the type, and the child type has every stored property, none of them
/// read-only and only the key (never changed, see `ChildSpec`) create-only.
fn check_child(
    m: &Model,
    kind: &KindSpec,
    ty: &EntityType,
    child: &schema::ChildSpec,
) -> Vec<String> {
    let name = &kind.kind;
    let Some(nav) = ty.nav(&child.name).filter(|n| n.name == child.name) else {
        return vec![format!(
            "{name}: child collection {} is not a v1.0 relationship of {}",
            child.name, ty.name
        )];
    };
    if !nav.contained || !nav.collection {
        return vec![format!(
            "{name}: {} is not a contained collection of {}: store it as a link",
            child.name, ty.name
        )];
    }
    let Some(target) = m.entity(&nav.target) else {
        return vec![format!(
            "{name}: {}: unknown type {}",
            child.name, nav.target
        )];
    };
    let target = m.ty(target);
    let mut out = Vec::new();
    for prop in &child.properties {
        match target.prop(prop).filter(|p| p.name == *prop) {
            None => out.push(format!(
                "{name}: {}.{prop} does not exist in v1.0 on {}",
                child.name, target.name
            )),
            Some(p) if p.access == Access::ReadOnly => out.push(format!(
                "{name}: {}.{prop} is read-only in v1.0 ({}), but tenantgit writes it",
                child.name, target.name
            )),
            Some(p) if p.access == Access::CreateOnly && *prop != child.key => out.push(format!(
                "{name}: {}.{prop} can only be set when a {} is created, but tenantgit may \
                 update it",
                child.name, target.name
            )),
            Some(_) => {}
        }
    }
    out
}

/// Findings about one stored top-level property of objects of type `ty`.
fn check_stored(m: &Model, kind: &KindSpec, ty: &EntityType, prop: &str) -> Vec<String> {
    let name = &kind.kind;
    let writable =
        !kind.is_read_only(prop) && kind.credential(prop).is_none() && !kind.is_secret(prop);
    let mut out = Vec::new();
    match ty.prop(prop).filter(|p| p.name == prop) {
        Some(p) => {
            if writable && p.access == Access::ReadOnly {
                out.push(format!(
                    "{name}: {prop} is read-only in v1.0 ({}), but tenantgit may write it",
                    ty.name
                ));
            }
            if writable && p.access == Access::CreateOnly && !kind.is_create_only(prop) {
                out.push(format!(
                    "{name}: {prop} can only be set when a {} is created, but tenantgit may \
                     update it",
                    ty.name
                ));
            }
        }
        None => match ty.nav(prop).filter(|n| n.name == prop) {
            Some(_) if !ty.is_inline_nav(prop) => out.push(format!(
                "{name}: {prop} is a navigation property (relationship) of {} in v1.0, stored \
                 as a structural property",
                ty.name
            )),
            Some(_) => {}
            None => out.push(format!(
                "{name}: {prop} does not exist in v1.0 on {} (beta-only or misspelt)",
                ty.name
            )),
        },
    }
    if writable {
        for rule in refused_always(m, ty, prop) {
            out.push(format!(
                "{name}: tenantgit may write {prop}, which Graph always refuses on {} (rule {rule})",
                ty.name
            ));
        }
    }
    out
}

/// Write rules that refuse every update of `prop` on type `ty`, whatever the object's state.
fn refused_always<'a>(m: &'a Model, ty: &EntityType, prop: &str) -> Vec<&'a str> {
    m.rules
        .iter()
        .filter(|r| {
            r.enforce
                && r.when.is_empty()
                && r.check.is_none()
                && r.on.contains(&WriteOp::Update)
                && r.properties.iter().any(|p| p == prop)
                && r.types
                    .iter()
                    .any(|t| m.entity(&ty.name).is_some_and(|i| m.is_a(i, t)))
        })
        .map(|r| r.name.as_str())
        .collect()
}

/// Dotted paths of the navigation properties inside a structural value of type `base` (complex
/// types and those deriving from them, walked once each).
fn nested_navs(m: &Model, base: &TypeBase, path: &str, seen: &mut Vec<String>) -> Vec<String> {
    let Some(name) = named(base) else {
        return Vec::new();
    };
    let Some(c) = m.complex_type(&name) else {
        return Vec::new();
    };
    if seen.contains(&name) {
        return Vec::new();
    }
    seen.push(name);
    let mut out = Vec::new();
    let derived = c.derived.iter().filter_map(|d| m.complex_type(d));
    for t in std::iter::once(c).chain(derived) {
        for n in &t.navs {
            let here = format!("{path}.{}", n.name);
            if !out.contains(&here) {
                out.push(here);
            }
        }
        for p in &t.props {
            out.extend(nested_navs(
                m,
                &p.ty.base,
                &format!("{path}.{}", p.name),
                seen,
            ));
        }
    }
    out
}

/// [`resolves`], where a path may also start with one of the kind's contained children
/// (`federatedIdentityCredentials.audiences`) and continue on the child's type.
fn resolves_in_kind(m: &Model, kind: &KindSpec, ty: &EntityType, path: &str) -> bool {
    let (first, rest) = path.split_once('.').unwrap_or((path, ""));
    if kind.child(first).is_none() {
        return resolves(m, ty, path);
    }
    let target = ty
        .nav(first)
        .filter(|n| n.name == first && n.contained)
        .and_then(|n| m.entity(&n.target));
    match target {
        Some(t) => rest.is_empty() || resolves(m, m.ty(t), rest),
        None => false,
    }
}

/// Whether a dotted path (`*` for any one name) leads through the type's properties and the
/// types below them (derived types included: a named location's ranges, a method
/// configuration's targets).
fn resolves(m: &Model, ty: &EntityType, path: &str) -> bool {
    types_at(m, ty, path).is_some()
}

/// The types a dotted path leads to (empty for primitive ones), or `None` when it names a
/// property no type on the way has.
fn types_at(m: &Model, ty: &EntityType, path: &str) -> Option<Vec<String>> {
    let mut segs = path.split('.');
    let first = segs.next()?;
    let mut current: Vec<String> = Vec::new();
    let mut found = false;
    for p in &ty.props {
        if first == "*" || p.name == first {
            found = true;
            current.extend(named(&p.ty.base));
        }
    }
    if let Some(n) = ty
        .nav(first)
        .filter(|n| n.name == first && ty.is_inline_nav(first))
    {
        found = true;
        current.push(n.target.clone());
    }
    for seg in segs {
        if !found {
            return None;
        }
        found = false;
        let mut next = Vec::new();
        for t in &current {
            for (p_name, p_base) in props_of(m, t) {
                if seg == "*" || p_name == seg {
                    found = true;
                    next.extend(named(p_base));
                }
            }
        }
        current = next;
    }
    found.then_some(current)
}

/// Whether `name` is a relationship of one of the named types.
fn has_nav(m: &Model, types: &[String], name: &str) -> bool {
    types.iter().any(|t| {
        let complex = m.complex_type(t).is_some_and(|c| {
            c.navs.iter().any(|n| n.name == name)
                || c.derived
                    .iter()
                    .filter_map(|d| m.complex_type(d))
                    .any(|d| d.navs.iter().any(|n| n.name == name))
        });
        let entity = m
            .entity(t)
            .is_some_and(|e| m.ty(e).nav(name).is_some_and(|n| n.name == name));
        complex || entity
    })
}

fn named(base: &TypeBase) -> Option<String> {
    match base {
        TypeBase::Named(n) => Some(n.clone()),
        TypeBase::Prim(_) => None,
    }
}

/// The properties (name, type) of a complex or entity type and of the types deriving from it.
fn props_of<'a>(m: &'a Model, name: &str) -> Vec<(&'a str, &'a TypeBase)> {
    let mut out = Vec::new();
    if let Some(c) = m.complex_type(name) {
        let derived = c.derived.iter().filter_map(|d| m.complex_type(d));
        for t in std::iter::once(c).chain(derived) {
            out.extend(t.props.iter().map(|p| (p.name.as_str(), &p.ty.base)));
        }
    }
    if let Some(e) = m.entity(name) {
        for t in std::iter::once(e).chain(m.ty(e).derived.iter().copied()) {
            out.extend(m.ty(t).props.iter().map(|p| (p.name.as_str(), &p.ty.base)));
        }
    }
    out
}

#[test]
fn schema_agrees_with_graph_v1() {
    let m = model();
    let all: Vec<String> = schema::kinds()
        .iter()
        .flat_map(|k| findings(m, k))
        .collect();
    assert!(
        all.is_empty(),
        "schema/ disagrees with Graph v1.0 (src/emulator/model):\n  {}",
        all.join("\n  ")
    );
}

/// The check finds each kind of mistake, naming the property and the kind.
#[test]
fn the_check_names_each_kind_of_mistake() {
    let m = model();
    let mut users = schema::kind("users").expect("users").clone();
    users.managed.push("refreshTokensValidFromDateTime".into());
    users.managed.push("manager".into());
    // Marked read-only on resources/user.md: tenantgit must not write it.
    users.read_only.retain(|p| p != "creationType");
    users.set_like.push("identities.nosuch".into());
    users.links.push(
        serde_yaml::from_str("{name: memberOf, path: memberOf, single: true}").expect("a link"),
    );
    let found = findings(m, &users);
    for expected in [
        "users: refreshTokensValidFromDateTime does not exist in v1.0 on user",
        "users: manager is a navigation property (relationship) of user in v1.0, stored as a structural property",
        "users: creationType is read-only in v1.0 (user), but tenantgit may write it",
        "users: setLike path identities.nosuch names no v1.0 property",
        "users: link memberOf is a collection in v1.0 but `single: true` in the schema",
    ] {
        assert!(
            found.iter().any(|f| f.starts_with(expected)),
            "{expected:?} not among {found:#?}"
        );
    }
    let mut ca = schema::kind("conditionalAccessPolicies")
        .expect("conditionalAccessPolicies")
        .clone();
    ca.references.clear();
    let found = findings(m, &ca);
    let expected = "conditionalAccessPolicies: grantControls.authenticationStrength is a \
                    navigation property in v1.0, stored as a structural value";
    assert!(
        found.iter().any(|f| f.starts_with(expected)),
        "{expected:?} not among {found:#?}"
    );
    let mut groups = schema::kind("groups").expect("groups").clone();
    groups.create_only.retain(|p| p != "isAssignableToRole");
    assert!(findings(m, &groups).iter().any(
        |f| f.starts_with("groups: isAssignableToRole can only be set when a group is created")
    ));
}
