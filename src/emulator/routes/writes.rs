//! Creating, updating and deleting top-level objects: the body checked against the model, the
//! write rules asked, unique keys kept, what the directory fills in on create (named per
//! collection below), 204 or 200-with-body on PATCH, and soft or permanent delete.

use serde_json::{json, Map, Value};

use super::links::{binds_allowed, resolve_binds};
use super::reply::{bad_request, error, not_allowed, not_found, now, Ctx, Reply};
use super::request::Req;
use super::validate::{parse_writes, Target, Writes};
use crate::emulator::dynamic;
use crate::emulator::model::{model, refusal, Access, SoftDelete, Write, WriteOp};
use crate::emulator::state::{Render, Tenant};

/// The verified domain of the emulated tenant (mail addresses, guest UPNs).
pub(crate) const DOMAIN: &str = crate::emulator::config::TENANT_DOMAIN;

/// The write rules' verdict (facts.yaml `writeRules`) as Graph's answer.
pub(crate) fn rules_allow(ctx: &Ctx, w: &Write) -> Result<(), Reply> {
    match refusal(model(), w) {
        Some(rule) => Err(error(ctx, rule.status, &rule.code, &rule.message)),
        None => Ok(()),
    }
}

/// Graph refuses a second object with the same value of a unique key (facts.yaml `unique`).
pub(crate) fn unique_check(
    ctx: &Ctx,
    t: &Tenant,
    k: usize,
    me: Option<u32>,
    props: &[(String, Value)],
) -> Result<(), Reply> {
    for u in &model().collections[k].unique {
        let Some(value) = props
            .iter()
            .find(|(p, _)| *p == u.property)
            .and_then(|(_, v)| v.as_str())
        else {
            continue;
        };
        let clash = t.live(k).values().any(|s| {
            Some(*s) != me
                && t.entry(*s)
                    .and_then(|e| e.str_prop(&u.property))
                    .is_some_and(|x| x.eq_ignore_ascii_case(value))
        });
        if clash {
            return Err(error(ctx, u.status, &u.code, &u.message));
        }
    }
    Ok(())
}

fn body_props(w: &Writes) -> Vec<(String, Value)> {
    w.props.iter().chain(&w.inline).cloned().collect()
}

pub(crate) fn create(req: &Req, k: usize) -> Reply {
    let m = model();
    let coll = &m.collections[k];
    if !coll.create {
        return not_allowed(req.ctx);
    }
    let body = match req.json_body() {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut t = req.shared.write();
    let target = Target {
        coll: Some(coll),
        base: coll.ty,
        existing: None,
        creating: true,
        require_odata_type: coll.require_odata_type,
    };
    let w = match parse_writes(req.ctx, &t, &target, body) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let mut props: Map<String, Value> = w.props.iter().cloned().collect();
    let written = body_props(&w);
    let verdict = rules_allow(
        req.ctx,
        &Write {
            op: WriteOp::Create,
            ty: w.ty,
            state: &props,
            body: &written,
            link: None,
            tenant: &req.shared.facts,
            synced_extensions: &w.synced_extensions,
        },
    );
    if let Err(r) = verdict {
        return r;
    }
    if let Err(r) = binds_allowed(req.ctx, &req.shared.facts, k, w.ty, &props, &w.binds) {
        return r;
    }
    if let Err(r) = unique_check(req.ctx, &t, k, None, &w.props) {
        return r;
    }
    let adding = match resolve_binds(req.ctx, &t, k, None, &w.binds) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if let Err(r) = server_side_props(req, &t, &coll.name, &mut props) {
        return r;
    }
    if w.odata_type_given {
        props.insert(
            "@odata.type".into(),
            Value::String(m.ty(w.ty).odata_type.clone()),
        );
    }
    let id = uuid::Uuid::new_v4().to_string();
    let slot = t.insert(k, id, props);
    for (li, set) in adding.into_iter().enumerate() {
        for target in set {
            t.add_link(slot, li, target);
        }
    }
    dynamic::after_write(&mut t, slot);
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        Value::String(req.context(&format!("{}/$entity", coll.path))),
    );
    body.extend(t.render(slot, None, Render::default()));
    Reply::json(201, Value::Object(body))
}

pub(crate) fn patch(req: &Req, k: usize, slot: u32) -> Reply {
    let m = model();
    let coll = &m.collections[k];
    let body = match req.json_body() {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut t = req.shared.write();
    let Some(existing) = t.entry(slot).map(|e| e.ty as usize) else {
        return not_found(req.ctx, "");
    };
    let target = Target {
        coll: Some(coll),
        base: coll.ty,
        existing: Some(existing),
        creating: false,
        require_odata_type: coll.require_odata_type,
    };
    let w = match parse_writes(req.ctx, &t, &target, body) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let written = body_props(&w);
    let verdict = t.entry(slot).map(|e| {
        rules_allow(
            req.ctx,
            &Write {
                op: WriteOp::Update,
                ty: existing,
                state: &e.props,
                body: &written,
                link: None,
                tenant: &req.shared.facts,
                synced_extensions: &w.synced_extensions,
            },
        )
    });
    if let Some(Err(r)) = verdict {
        return r;
    }
    let binds = t
        .entry(slot)
        .map(|e| binds_allowed(req.ctx, &req.shared.facts, k, existing, &e.props, &w.binds));
    if let Some(Err(r)) = binds {
        return r;
    }
    if let Err(r) = unique_check(req.ctx, &t, k, Some(slot), &w.props) {
        return r;
    }
    let adding = match resolve_binds(req.ctx, &t, k, Some(slot), &w.binds) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let ty = m.ty(existing);
    let mut props = w.props;
    for stamp in ["modifiedDateTime", "lastModifiedDateTime"] {
        if ty.prop(stamp).is_some_and(|p| p.access == Access::ReadOnly) {
            props.push((stamp.to_string(), Value::String(now())));
        }
    }
    for (name, value) in w.inline {
        match coll.child(&name) {
            // Lenient (facts.yaml rule containedNavigationInPolicyPatch): the children as sent.
            Some(c) => {
                let items: Vec<Map<String, Value>> = value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_object().cloned())
                    .collect();
                if let Some(children) = t.children_mut(slot, c) {
                    *children = items;
                }
            }
            None => props.push((name, value)),
        }
    }
    t.set_props(slot, props);
    for (li, set) in adding.into_iter().enumerate() {
        for target in set {
            t.add_link(slot, li, target);
        }
    }
    dynamic::after_write(&mut t, slot);
    if coll.patch_returns_body {
        let mut body = Map::new();
        body.insert(
            "@odata.context".into(),
            Value::String(req.context(&format!("{}/$entity", coll.path))),
        );
        body.extend(t.render(slot, None, Render::default()));
        return Reply::json(200, Value::Object(body));
    }
    Reply::empty(204)
}

/// DELETE of an object: to the recycle bin where its collection has one (groups only when they
/// are Microsoft 365 groups, GRAPH.md A.2), permanently otherwise.
pub(crate) fn delete(req: &Req, slot: u32) -> Reply {
    let mut t = req.shared.write();
    let Some(entry) = t.entry(slot) else {
        return not_found(req.ctx, "");
    };
    let coll = entry.collection();
    if !coll.delete {
        return not_allowed(req.ctx);
    }
    let w = Write {
        op: WriteOp::Delete,
        ty: entry.ty as usize,
        state: &entry.props,
        body: &[],
        link: None,
        tenant: &req.shared.facts,
        synced_extensions: &[],
    };
    if let Err(r) = rules_allow(req.ctx, &w) {
        return r;
    }
    let soft = match &coll.soft_delete {
        SoftDelete::Never => false,
        SoftDelete::Always => true,
        SoftDelete::When(c) => c.holds(&entry.props),
    };
    if soft {
        t.soft_delete(slot, now());
    } else {
        t.purge(slot);
    }
    Reply::empty(204)
}

/// What the directory fills in on create, per collection.
fn server_side_props(
    req: &Req,
    t: &Tenant,
    collection: &str,
    props: &mut Map<String, Value>,
) -> Result<(), Reply> {
    let stamp = Value::String(now());
    fn set(props: &mut Map<String, Value>, k: &str, v: Value) {
        props.entry(k.to_string()).or_insert(v);
    }
    match collection {
        "users" => {
            set(props, "createdDateTime", stamp);
            set(props, "userType", json!("Member"));
        }
        "groups" => {
            set(props, "createdDateTime", stamp);
            let u = uuid::Uuid::new_v4().as_u128();
            set(
                props,
                "securityIdentifier",
                json!(format!(
                    "S-1-12-1-{}-{}-{}-{}",
                    u as u32,
                    (u >> 32) as u32,
                    (u >> 64) as u32,
                    (u >> 96) as u32
                )),
            );
            if props.get("mailEnabled") == Some(&Value::Bool(true)) {
                let nick = props
                    .get("mailNickname")
                    .and_then(Value::as_str)
                    .unwrap_or("group")
                    .to_string();
                let mail = format!("{nick}@{DOMAIN}");
                props
                    .entry("proxyAddresses")
                    .or_insert(json!([format!("SMTP:{mail}")]));
                props.entry("mail").or_insert(json!(mail));
            }
        }
        "applications" => {
            set(props, "createdDateTime", stamp);
            set(props, "appId", json!(uuid::Uuid::new_v4().to_string()));
            set(props, "publisherDomain", json!(DOMAIN));
            set(props, "signInAudience", json!("AzureADMyOrg"));
            set(props, "keyCredentials", json!([]));
            set(props, "passwordCredentials", json!([]));
        }
        "servicePrincipals" => mirror_application(req, t, props)?,
        "conditionalAccessPolicies" | "namedLocations" => {
            set(props, "createdDateTime", stamp.clone());
            set(props, "modifiedDateTime", stamp);
        }
        _ => {}
    }
    Ok(())
}

/// A new service principal takes its names and audience from its application, which must exist.
fn mirror_application(req: &Req, t: &Tenant, props: &mut Map<String, Value>) -> Result<(), Reply> {
    let app_id = props
        .get("appId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let apps = model()
        .collection("applications")
        .expect("facts.yaml has applications");
    let app = t
        .find_by(apps, "appId", &app_id)
        .and_then(|s| t.entry(s))
        .ok_or_else(|| {
            bad_request(
                req.ctx,
                &format!("The appId '{app_id}' of the service principal does not reference a valid application object."),
            )
        })?;
    let name = app.props.get("displayName").cloned().unwrap_or(Value::Null);
    let audience = app
        .props
        .get("signInAudience")
        .cloned()
        .unwrap_or(Value::Null);
    let mut set = |k: &str, v: Value| {
        props.entry(k.to_string()).or_insert(v);
    };
    set("displayName", name.clone());
    set("appDisplayName", name);
    set("servicePrincipalType", json!("Application"));
    set("accountEnabled", json!(true));
    set("signInAudience", audience);
    set("appOwnerOrganizationId", json!(req.shared.tenant_id));
    set("servicePrincipalNames", json!([app_id]));
    set("keyCredentials", json!([]));
    set("passwordCredentials", json!([]));
    Ok(())
}
