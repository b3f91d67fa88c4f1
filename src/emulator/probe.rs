//! For tests outside the emulator: its write rules asked about one write, by entity type name,
//! without handing out its model. Used to hold `schema/`'s rules against the emulator's (the
//! test lives with `crate::write_rules`, since nothing in here may read tenantgit's schema).

use serde_json::{json, Map, Value};

use super::model::{model, refusal as rule_refusal, TenantFacts, Write};

pub(crate) use super::model::WriteOp;

/// Object states that make each of the emulator's write rules for the type hold (a service
/// principal of another tenant's application for the ownership check).
pub(crate) fn states(type_name: &str) -> Vec<Map<String, Value>> {
    let m = model();
    let Some(ty) = m.entity(type_name) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for r in &m.rules {
        if !r.types.iter().any(|t| m.is_a(ty, t)) {
            continue;
        }
        let mut s = Map::new();
        for c in &r.when {
            if let Some(v) = &c.equals {
                s.insert(c.property.clone(), v.clone());
            }
            if let Some(v) = &c.contains {
                s.insert(c.property.clone(), json!([v]));
            }
        }
        if r.check == Some(super::model::Check::OwnedByAnotherTenant) {
            s.insert("appOwnerOrganizationId".into(), json!("another-tenant"));
        }
        out.push(s);
    }
    out
}

/// The name of the enforced rule that refuses the write, if one does. `tenant` is the tenant's
/// id, `domain` its one verified domain.
pub(crate) fn refusal(
    type_name: &str,
    op: WriteOp,
    state: &Map<String, Value>,
    body: &[(String, Value)],
    link: Option<&str>,
    tenant: &str,
    domain: &str,
) -> Option<String> {
    refusal_with_extensions(type_name, op, state, body, link, tenant, domain, &[])
}

/// [`refusal`] in a tenant whose directory extension definitions say `synced_extensions` are
/// synced from on-premises.
#[allow(clippy::too_many_arguments)]
pub(crate) fn refusal_with_extensions(
    type_name: &str,
    op: WriteOp,
    state: &Map<String, Value>,
    body: &[(String, Value)],
    link: Option<&str>,
    tenant: &str,
    domain: &str,
    synced_extensions: &[String],
) -> Option<String> {
    let m = model();
    let ty = m.entity(type_name)?;
    let facts = TenantFacts {
        id: tenant.to_string(),
        domains: vec![domain.to_string()],
    };
    let w = Write {
        op,
        ty,
        state,
        body,
        link,
        tenant: &facts,
        synced_extensions,
    };
    rule_refusal(m, &w).map(|r| r.name.clone())
}
