//! A POST or PATCH body checked against the model the way Graph checks it: `@odata.type` of the
//! collection's type or one deriving from it, every name declared (or a directory extension
//! defined for the type), nothing read-only (create-only only on create), every value of its
//! Edm type, references written as `{"id": …}` to objects that exist, and `@odata.bind` links.

use serde_json::{Map, Value};

use super::reply::{
    bad_request, invalid_value, needs_type, read_only, unknown_property, unknown_type, Ctx, Reply,
};
use crate::emulator::extensions;
use crate::emulator::model::{
    check_value, model, Access, Collection, EntityType, TypeBase, TypeRef,
};
use crate::emulator::state::Tenant;

/// What a write body sets.
#[derive(Debug, Default)]
pub(crate) struct Writes {
    /// Structural properties and directory extensions, in Graph's spelling.
    pub props: Vec<(String, Value)>,
    /// Navigation properties written inline (method configurations in the policy PATCH).
    pub inline: Vec<(String, Value)>,
    /// The directory extensions of `props` whose definitions are synced from on-premises.
    pub synced_extensions: Vec<String>,
    /// `{link}@odata.bind`: link index and URLs.
    pub binds: Vec<(usize, Vec<String>)>,
    /// The entity type written (the body's `@odata.type`, the object's, or the collection's).
    pub ty: usize,
    pub odata_type_given: bool,
}

/// Where the body goes: a collection of top-level objects or a contained child collection.
pub(crate) struct Target<'a> {
    pub coll: Option<&'a Collection>,
    /// The declared (base) type of the collection.
    pub base: usize,
    /// The type of the object a PATCH changes.
    pub existing: Option<usize>,
    pub creating: bool,
    pub require_odata_type: bool,
}

/// The type the body names with `@odata.type`, checked against the target.
fn body_type(
    ctx: &Ctx,
    target: &Target,
    body: &Map<String, Value>,
) -> Result<Option<usize>, Reply> {
    let m = model();
    let Some(v) = body.get("@odata.type") else {
        return Ok(None);
    };
    let name = v.as_str().unwrap_or_default();
    let ty = m
        .entity(name)
        .filter(|t| m.is_a(*t, &m.ty(target.base).name) && !m.ty(*t).is_abstract)
        .ok_or_else(|| unknown_type(ctx, name))?;
    if target.existing.is_some_and(|e| e != ty) {
        return Err(unknown_type(ctx, name));
    }
    Ok(Some(ty))
}

pub(crate) fn parse_writes(
    ctx: &Ctx,
    t: &Tenant,
    target: &Target,
    body: Map<String, Value>,
) -> Result<Writes, Reply> {
    let m = model();
    let given = body_type(ctx, target, &body)?;
    let base = m.ty(target.base);
    // A collection of several types takes only concrete derived ones on create; some take
    // `@odata.type` on every PATCH too (named locations, method configurations).
    let polymorphic_create = target.creating && !base.derived.is_empty();
    if polymorphic_create && given.is_none_or(|g| g == target.base) {
        return Err(needs_type(ctx, target.base));
    }
    if given.is_none() && target.require_odata_type && !target.creating {
        return Err(bad_request(
            ctx,
            "The request body must include '@odata.type'.",
        ));
    }
    let ty_index = given.or(target.existing).unwrap_or(target.base);
    let ty = m.ty(ty_index);
    let mut w = Writes {
        ty: ty_index,
        odata_type_given: given.is_some(),
        ..Writes::default()
    };
    for (key, value) in body {
        if key == "@odata.type" {
            continue;
        }
        if let Some(link) = key.strip_suffix("@odata.bind") {
            let li = target
                .coll
                .and_then(|c| c.link(link).map(|li| (c, li)))
                .filter(|(c, li)| c.links[*li].bulk_bind.is_some() || target.creating);
            let Some((_, li)) = li else {
                return Err(unknown_property(ctx, &key));
            };
            let Some(urls) = value.as_array().and_then(|a| {
                a.iter()
                    .map(|u| u.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
            }) else {
                return Err(bad_request(
                    ctx,
                    &format!("The value of '{key}' must be an array of directory object URLs."),
                ));
            };
            w.binds.push((li, urls));
            continue;
        }
        // Instance annotations (`x@odata.context`, …) carry no data.
        if key.contains('@') {
            continue;
        }
        if let Some(p) = ty.prop(&key) {
            match p.access {
                Access::ReadOnly => return Err(read_only(ctx, &p.name)),
                Access::CreateOnly if !target.creating => return Err(read_only(ctx, &p.name)),
                _ => {}
            }
            if let Err(bad) = check_value(m, &p.ty, &value, &p.name) {
                return Err(invalid_value(ctx, ty, &bad));
            }
            let value = normalize_references(ctx, t, ty, &p.name, value)?;
            w.props.push((p.name.clone(), value));
            continue;
        }
        if let Some(nav) = ty.nav(&key) {
            if !ty.is_inline_nav(&nav.name) {
                return Err(bad_request(
                    ctx,
                    &format!(
                        "Property '{}' is a navigation property; write it with '{}@odata.bind' or at its own path.",
                        nav.name, nav.name
                    ),
                ));
            }
            let item = TypeRef {
                collection: nav.collection,
                nullable: true,
                base: TypeBase::Named(nav.target.clone()),
            };
            if let Err(bad) = check_value(m, &item, &value, &nav.name) {
                return Err(invalid_value(ctx, ty, &bad));
            }
            w.inline.push((nav.name.clone(), value));
            continue;
        }
        if let Some(ext) = extensions::definition(t, &key, ty) {
            if let Err(bad) = ext.check(&value) {
                return Err(invalid_value(ctx, ty, &bad));
            }
            if ext.synced {
                w.synced_extensions.push(ext.name.clone());
            }
            w.props.push((ext.name, value));
            continue;
        }
        return Err(unknown_property(ctx, &key));
    }
    if let Some(c) = target.coll {
        for (li, urls) in &w.binds {
            let link = &c.links[*li];
            let limit = link.bulk_bind.unwrap_or(20);
            if urls.len() > limit {
                return Err(bad_request(ctx, &format!("The request has {} '@odata.bind' references; at most {limit} are allowed in one request.", urls.len())));
            }
        }
    }
    if target.creating {
        check_required(ctx, ty, &w.props)?;
    }
    Ok(w)
}

/// Graph's answer when a create lacks a property it needs.
pub(crate) fn check_required(
    ctx: &Ctx,
    ty: &EntityType,
    props: &[(String, Value)],
) -> Result<(), Reply> {
    for p in &ty.required_on_create {
        if !props.iter().any(|(q, v)| q == p && !v.is_null()) {
            return Err(bad_request(
                ctx,
                &format!(
                    "Invalid value specified for property '{p}' of resource '{}'.",
                    super::reply::resource_name(ty)
                ),
            ));
        }
    }
    Ok(())
}

/// References Graph returns expanded (`grantControls.authenticationStrength`) are written as
/// `{"id": …}` and must name an existing object; the whole object as read is accepted too, and
/// only its id is kept.
fn normalize_references(
    ctx: &Ctx,
    t: &Tenant,
    ty: &EntityType,
    prop: &str,
    mut value: Value,
) -> Result<Value, Reply> {
    for (path, coll) in &ty.expanded {
        let Some((first, rest)) = path.split_first() else {
            continue;
        };
        if first != prop {
            continue;
        }
        let Some((last, middle)) = rest.split_last() else {
            continue;
        };
        let holder = if middle.is_empty() {
            Some(&mut value)
        } else {
            value.pointer_mut(&format!("/{}", middle.join("/")))
        };
        let Some(obj) = holder.and_then(Value::as_object_mut) else {
            continue;
        };
        let Some(reference) = obj.get(last).filter(|r| !r.is_null()) else {
            continue;
        };
        let Some(id) = reference
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            return Err(bad_request(
                ctx,
                &format!(
                    "Property '{}' must name an object by its 'id'.",
                    path.join(".")
                ),
            ));
        };
        let exists = model()
            .collection(coll)
            .is_some_and(|k| t.live(k).contains_key(&id));
        if !exists {
            return Err(bad_request(
                ctx,
                &format!(
                    "Invalid value specified for property '{}': '{id}' does not exist.",
                    path.join(".")
                ),
            ));
        }
        obj.insert(last.clone(), serde_json::json!({ "id": id }));
        // Annotations that came with an expanded object carry no data.
        obj.retain(|k, _| !k.starts_with(&format!("{last}@")));
    }
    Ok(value)
}
