//! References between directory objects: `members`, `owners` (`POST …/$ref`, `DELETE
//! …/{id}/$ref`, `@odata.bind`), the single-valued `manager` (`PUT`/`DELETE …/manager/$ref`),
//! listing them with paging, and what Graph refuses (wrong target type, duplicates, too many,
//! the last owner).

use std::collections::BTreeSet;
use std::ops::Bound;

use serde_json::Value;

use super::read::{collection_body, context_fragment, next_link, paging};
use super::reply::{bad_request, error, not_found, Ctx, Reply};
use super::request::Req;
use super::select::{directory_types, resolve_select};
use crate::emulator::model::{model, refusal, Link, TenantFacts, Write, WriteOp};
use crate::emulator::odata::pct_decode;
use crate::emulator::state::{Render, Tenant};

/// The object id at the end of a directory-object URL in `@odata.id` / `@odata.bind`: any form
/// (`…/directoryObjects/{id}`, `…/users/{id}`, `directoryObjects('{id}')`), the last segment.
pub(crate) fn ref_target(url: &str) -> Option<String> {
    let url = url.split(['?', '#']).next()?.trim_end_matches('/');
    let last = url.rsplit('/').next()?;
    let id = match last.split_once("('") {
        Some((_, rest)) => rest.strip_suffix("')")?,
        None => last,
    };
    (!id.is_empty()).then(|| pct_decode(id))
}

/// The rules' verdict on a reference write (GRAPH.md A.16), as Graph's answer.
fn rule_check(
    ctx: &Ctx,
    t: &Tenant,
    tenant: &TenantFacts,
    owner: u32,
    link: &Link,
    op: WriteOp,
) -> Result<(), Reply> {
    let Some(e) = t.entry(owner) else {
        return Err(not_found(ctx, ""));
    };
    let w = Write {
        op,
        ty: e.ty as usize,
        state: &e.props,
        body: &[],
        link: Some(&link.name),
        tenant,
        synced_extensions: &[],
    };
    match refusal(model(), &w) {
        Some(rule) => Err(error(ctx, rule.status, &rule.code, &rule.message)),
        None => Ok(()),
    }
}

/// The rules' verdict on the `@odata.bind` links of a create or PATCH body: each bound link is
/// an add to the object in the state `state` (the new object's properties on create).
pub(crate) fn binds_allowed(
    ctx: &Ctx,
    tenant: &TenantFacts,
    kind: usize,
    ty: usize,
    state: &serde_json::Map<String, Value>,
    binds: &[(usize, Vec<String>)],
) -> Result<(), Reply> {
    let coll = &model().collections[kind];
    for (li, urls) in binds {
        if urls.is_empty() {
            continue;
        }
        let w = Write {
            op: WriteOp::AddLink,
            ty,
            state,
            body: &[],
            link: Some(&coll.links[*li].name),
            tenant,
            synced_extensions: &[],
        };
        if let Some(rule) = refusal(model(), &w) {
            return Err(error(ctx, rule.status, &rule.code, &rule.message));
        }
    }
    Ok(())
}

/// Checks that `target_id` may be added to link `li` of collection `kind` (of `owner` when it
/// exists already); the error is Graph's.
pub(crate) fn check_link_add(
    ctx: &Ctx,
    t: &Tenant,
    kind: usize,
    owner: Option<u32>,
    li: usize,
    target_id: &str,
    adding: &BTreeSet<u32>,
) -> Result<u32, Reply> {
    let m = model();
    let link = &m.collections[kind].links[li];
    let target = t
        .live_slot(target_id)
        .ok_or_else(|| not_found(ctx, target_id))?;
    let target_ty = t.entry(target).map_or(0, |e| e.ty as usize);
    if !link.targets.iter().any(|n| m.is_a(target_ty, n)) {
        return Err(bad_request(
            ctx,
            &format!(
                "An object of type '{}' cannot be added to '{}'.",
                m.ty(target_ty).qualified(),
                link.name
            ),
        ));
    }
    let existing = owner.and_then(|o| t.entry(o)).map(|e| &e.links[li]);
    if Some(target) == owner {
        return Err(bad_request(
            ctx,
            "An object cannot be added as a member of itself.",
        ));
    }
    if existing.is_some_and(|s| s.contains(&target)) || adding.contains(&target) {
        return Err(bad_request(
            ctx,
            &format!(
                "One or more added object references already exist for the following modified properties: '{}'.",
                link.name
            ),
        ));
    }
    let count = existing.map_or(0, BTreeSet::len) + adding.len();
    if link.max.is_some_and(|max| count >= max) {
        return Err(bad_request(
            ctx,
            &format!(
                "The maximum number of {} ({}) has been reached.",
                link.name,
                link.max.unwrap_or_default()
            ),
        ));
    }
    Ok(target)
}

/// Validates every `@odata.bind` of a request before any is applied (all or nothing).
pub(crate) fn resolve_binds(
    ctx: &Ctx,
    t: &Tenant,
    kind: usize,
    owner: Option<u32>,
    binds: &[(usize, Vec<String>)],
) -> Result<Vec<BTreeSet<u32>>, Reply> {
    let mut adding: Vec<BTreeSet<u32>> =
        vec![BTreeSet::new(); model().collections[kind].links.len()];
    for (li, urls) in binds {
        for url in urls {
            let id = ref_target(url).ok_or_else(|| {
                bad_request(ctx, &format!("Invalid directory object URL '{url}'."))
            })?;
            let target = check_link_add(ctx, t, kind, owner, *li, &id, &adding[*li])?;
            adding[*li].insert(target);
        }
    }
    Ok(adding)
}

fn ref_body(req: &Req) -> Result<String, Reply> {
    let body = req.json_body()?;
    body.get("@odata.id")
        .and_then(Value::as_str)
        .and_then(ref_target)
        .ok_or_else(|| {
            bad_request(
                req.ctx,
                "The request must contain a valid '@odata.id' directory object URL.",
            )
        })
}

/// `POST {owner}/{link}/$ref`.
pub(crate) fn add_ref(req: &Req, slot: u32, li: usize) -> Reply {
    let target_id = match ref_body(req) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let mut t = req.shared.write();
    let Some(kind) = t.entry(slot).map(|e| e.kind as usize) else {
        return not_found(req.ctx, "");
    };
    let link = &model().collections[kind].links[li];
    if let Err(r) = rule_check(req.ctx, &t, &req.shared.facts, slot, link, WriteOp::AddLink) {
        return r;
    }
    match check_link_add(
        req.ctx,
        &t,
        kind,
        Some(slot),
        li,
        &target_id,
        &BTreeSet::new(),
    ) {
        Ok(target) => {
            t.add_link(slot, li, target);
            Reply::empty(204)
        }
        Err(r) => r,
    }
}

/// `DELETE {owner}/{link}/{id}/$ref`.
pub(crate) fn remove_ref(req: &Req, slot: u32, li: usize, oid: &str) -> Reply {
    let mut t = req.shared.write();
    let Some(target) = t.live_slot(oid) else {
        return not_found(req.ctx, oid);
    };
    let Some(entry) = t.entry(slot) else {
        return not_found(req.ctx, oid);
    };
    let link = &entry.collection().links[li];
    if !entry.links[li].contains(&target) {
        return not_found(req.ctx, oid);
    }
    if let Err(r) = rule_check(
        req.ctx,
        &t,
        &req.shared.facts,
        slot,
        link,
        WriteOp::RemoveLink,
    ) {
        return r;
    }
    if link.keep_last && entry.links[li].len() == 1 {
        return bad_request(
            req.ctx,
            "The group must have at least one owner, hence this owner cannot be removed.",
        );
    }
    t.remove_link(slot, li, target);
    Reply::empty(204)
}

/// `GET {owner}/{link}`: the references as directory objects, paged.
pub(crate) fn list_links(req: &Req, slot: u32, li: usize) -> Reply {
    let t = req.shared.read();
    let Some(entry) = t.entry(slot) else {
        return not_found(req.ctx, "");
    };
    list_slots(req, &t, &entry.links[li])
}

/// A paged list of directory objects (live ones of `set`, in slot order) with `$select` and
/// `@odata.type` on each: references and reverse lookups alike.
pub(crate) fn list_slots(req: &Req, t: &Tenant, set: &BTreeSet<u32>) -> Reply {
    let page = match paging(req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let resolved = match &page.select {
        Some(s) => match resolve_select(
            req.ctx,
            t,
            s,
            &directory_types(),
            "microsoft.graph.directoryObject",
        ) {
            Ok(r) => Some(r),
            Err(r) => return r,
        },
        None => None,
    };
    let after: Option<u32> = page.after.as_deref().and_then(|a| a.parse().ok());
    let range = match after {
        Some(a) => set.range((Bound::Excluded(a), Bound::Unbounded)),
        None => set.range(..),
    };
    let render = Render {
        odata_type: true,
        keep_key: false,
        omit_null: false,
    };
    let mut items = Vec::new();
    let mut last = None;
    let mut more = false;
    for s in range.filter(|s| t.is_live(**s)) {
        if items.len() == page.top {
            more = true;
            break;
        }
        items.push(Value::Object(t.render(*s, resolved.as_deref(), render)));
        last = Some(*s);
    }
    let next = match (more, last) {
        (true, Some(last)) => Some(next_link(req, &page, last.to_string())),
        _ => None,
    };
    collection_body(
        req.context(&context_fragment("directoryObjects", &resolved)),
        items,
        next,
    )
}

/// `GET {owner}/{link}` of a single-valued reference (`users/{id}/manager`), or `GET
/// {owner}/{link}/{id}` of one member.
pub(crate) fn get_one(req: &Req, slot: u32, li: usize, member: Option<&str>) -> Reply {
    let t = req.shared.read();
    let Some(entry) = t.entry(slot) else {
        return not_found(req.ctx, "");
    };
    let link = &entry.collection().links[li];
    let target = match member {
        Some(oid) => t.live_slot(oid).filter(|s| entry.links[li].contains(s)),
        None => entry.links[li].iter().copied().find(|s| t.is_live(*s)),
    };
    let Some(target) = target else {
        return not_found(req.ctx, member.unwrap_or(&link.name));
    };
    let select = match &req.query.select {
        Some(s) => match resolve_select(
            req.ctx,
            &t,
            s,
            &directory_types(),
            "microsoft.graph.directoryObject",
        ) {
            Ok(r) => Some(r),
            Err(r) => return r,
        },
        None => None,
    };
    let mut body = serde_json::Map::new();
    body.insert(
        "@odata.context".into(),
        Value::String(req.context("directoryObjects/$entity")),
    );
    body.extend(t.render(
        target,
        select.as_deref(),
        Render {
            odata_type: true,
            keep_key: false,
            omit_null: false,
        },
    ));
    Reply::json(200, Value::Object(body))
}

/// `PUT {owner}/{link}/$ref` of a single-valued reference: replaces it.
pub(crate) fn put_ref(req: &Req, slot: u32, li: usize) -> Reply {
    let target_id = match ref_body(req) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let mut t = req.shared.write();
    let Some(kind) = t.entry(slot).map(|e| e.kind as usize) else {
        return not_found(req.ctx, "");
    };
    let link = &model().collections[kind].links[li];
    if let Err(r) = rule_check(req.ctx, &t, &req.shared.facts, slot, link, WriteOp::AddLink) {
        return r;
    }
    let current: Vec<u32> = t
        .entry(slot)
        .map(|e| e.links[li].iter().copied().collect())
        .unwrap_or_default();
    if t.live_slot(&target_id)
        .is_some_and(|s| current.contains(&s))
    {
        return Reply::empty(204);
    }
    let target = match check_link_add(
        req.ctx,
        &t,
        kind,
        Some(slot),
        li,
        &target_id,
        &BTreeSet::new(),
    ) {
        Ok(target) => target,
        Err(r) => return r,
    };
    for old in current {
        t.remove_link(slot, li, old);
    }
    t.add_link(slot, li, target);
    Reply::empty(204)
}

/// `DELETE {owner}/{link}/$ref` of a single-valued reference.
pub(crate) fn delete_single_ref(req: &Req, slot: u32, li: usize) -> Reply {
    let mut t = req.shared.write();
    let Some(entry) = t.entry(slot) else {
        return not_found(req.ctx, "");
    };
    let link = &entry.collection().links[li];
    let current: Vec<u32> = entry.links[li].iter().copied().collect();
    if current.is_empty() {
        return not_found(req.ctx, &link.name);
    }
    if let Err(r) = rule_check(
        req.ctx,
        &t,
        &req.shared.facts,
        slot,
        link,
        WriteOp::RemoveLink,
    ) {
        return r;
    }
    for old in current {
        t.remove_link(slot, li, old);
    }
    Reply::empty(204)
}
