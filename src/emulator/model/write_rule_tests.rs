//! `schema/`'s write rules held against the emulator's (from Graph's docs, `facts.yaml`): for
//! every object state a rule of either side names, every write the emulator refuses — an update
//! of a managed property, a link added or removed, a create — is one a plan never sends: the
//! schema's evaluator (`crate::write_rules`) holds it back, or the property is not written at
//! all (read-only, create-only, secret), or the object is re-created through a hook. A schema
//! rule the emulator does not enforce is allowed (the schema may be stricter), but a property
//! the schema holds back that Graph is documented to take is named.

use serde_json::{json, Map, Value};

use super::{model, refusal, Condition as GraphCondition, TenantFacts, Write, WriteOp};
use crate::schema::{self, KindSpec};
use crate::write_rules::{self, Condition, RuleContext};

const TENANT: &str = "this-tenant";

/// Refused writes a plan still sends, each waiting for a change elsewhere: the entry goes when
/// the change lands (the test fails while an entry no longer happens).
const PENDING: &[(&str, &str, &str)] = &[(
    "authenticationMethodsPolicy",
    "authenticationMethodConfigurations",
    "issue 9 item 2d: each method configuration written at its own path (branch i9s)",
)];
const DOMAIN: &str = "contoso.example";

/// Properties that make a condition of either side hold.
fn state_for_schema(conds: &[Condition]) -> Map<String, Value> {
    let mut m = Map::new();
    for c in conds {
        if let Some(v) = &c.equals {
            m.insert(c.property.clone(), v.clone());
        }
        if let Some(v) = &c.contains {
            let v = match v {
                // A string property containing the text.
                Value::String(s) if c.property == "userPrincipalName" => {
                    json!(format!("a_b.example{s}@{DOMAIN}"))
                }
                other => json!([other]),
            };
            m.insert(c.property.clone(), v);
        }
        if c.other_tenant {
            m.insert(c.property.clone(), json!("another-tenant"));
        }
    }
    m
}

fn state_for_graph(conds: &[GraphCondition]) -> Map<String, Value> {
    let mut m = Map::new();
    for c in conds {
        if let Some(v) = &c.equals {
            m.insert(c.property.clone(), v.clone());
        }
        if let Some(v) = &c.contains {
            m.insert(c.property.clone(), json!([v]));
        }
    }
    m
}

/// The object states worth trying for a kind: plain, and one per rule of either side (a
/// service principal of another tenant's application for the ownership check).
fn states(kind: &KindSpec, ty: usize) -> Vec<Map<String, Value>> {
    let m = model();
    let mut out = vec![Map::new()];
    for r in &kind.write_rules {
        out.push(state_for_schema(&r.when));
    }
    for r in &kind.recreate_through {
        out.push(state_for_schema(&r.when));
    }
    for r in &m.rules {
        if r.types.iter().any(|t| m.is_a(ty, t)) {
            let mut s = state_for_graph(&r.when);
            if r.check == Some(super::rules::Check::OwnedByAnotherTenant) {
                s.insert("appOwnerOrganizationId".into(), json!("another-tenant"));
            }
            out.push(s);
        }
    }
    out
}

fn writable(kind: &KindSpec, prop: &str) -> bool {
    !(kind.is_read_only(prop)
        || kind.is_create_only(prop)
        || kind.is_secret(prop)
        || kind.credential(prop).is_some())
}

#[test]
fn every_write_the_emulator_refuses_is_one_the_schema_holds_back() {
    let m = model();
    let tenant = TenantFacts {
        id: TENANT.into(),
        domains: vec![DOMAIN.into()],
    };
    let cx = RuleContext {
        tenant: Some(TENANT.into()),
    };
    let mut sent = Vec::new();
    let mut seen_pending = std::collections::BTreeSet::new();
    for kind in schema::kinds() {
        let Some(ty) = m.entity(&kind.graph_type) else {
            continue;
        };
        for state in states(kind, ty) {
            for prop in kind.all_managed() {
                let body = [(prop.to_string(), Value::Null)];
                let w = Write {
                    op: WriteOp::Update,
                    ty,
                    state: &state,
                    body: &body,
                    link: None,
                    tenant: &tenant,
                };
                let held = write_rules::property_rule(kind, &state, prop, &cx).is_some();
                if let Some(r) = refusal(m, &w) {
                    if writable(kind, prop) && !held {
                        let pending = PENDING
                            .iter()
                            .any(|(k, p, _)| *k == kind.kind && *p == prop);
                        if pending {
                            seen_pending.insert((kind.kind.as_str(), prop));
                        } else {
                            sent.push(format!(
                                "{}: update {prop} in {state:?} ({})",
                                kind.kind, r.name
                            ));
                        }
                    }
                }
            }
            let links = kind.links.iter().map(|l| l.name.as_str()).chain(
                kind.write_rules
                    .iter()
                    .flat_map(|r| r.links.iter().map(String::as_str)),
            );
            for link in links {
                for op in [WriteOp::AddLink, WriteOp::RemoveLink] {
                    let w = Write {
                        op,
                        ty,
                        state: &state,
                        body: &[],
                        link: Some(link),
                        tenant: &tenant,
                    };
                    let held = write_rules::link_rule(kind, &state, link, &cx).is_some();
                    if let Some(r) = refusal(m, &w) {
                        if !held {
                            sent.push(format!(
                                "{}: {op:?} {link} in {state:?} ({})",
                                kind.kind, r.name
                            ));
                        }
                    }
                }
            }
            if kind.create {
                let body: Vec<(String, Value)> =
                    state.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                let w = Write {
                    op: WriteOp::Create,
                    ty,
                    state: &state,
                    body: &body,
                    link: None,
                    tenant: &tenant,
                };
                let held = write_rules::create_rule(kind, &state, &cx).is_some()
                    || write_rules::recreate_hook(kind, &state, &cx).is_some();
                if let Some(r) = refusal(m, &w) {
                    if !held {
                        sent.push(format!("{}: create {state:?} ({})", kind.kind, r.name));
                    }
                }
            }
        }
    }
    assert!(
        sent.is_empty(),
        "writes a plan would send and the emulator refuses:\n{}",
        sent.join("\n")
    );
    for (kind, prop, why) in PENDING {
        assert!(
            seen_pending.contains(&(*kind, *prop)),
            "{kind}.{prop} is no longer sent ({why}): remove it from PENDING"
        );
    }
}

#[test]
fn the_schema_holds_back_no_property_of_a_synced_object_that_graph_takes() {
    // The cloud-writable attributes of synced objects are data on both sides: what the schema
    // lets through the emulator takes, and what it holds back the emulator refuses.
    let m = model();
    let tenant = TenantFacts {
        id: TENANT.into(),
        domains: vec![DOMAIN.into()],
    };
    let cx = RuleContext::default();
    let state: Map<String, Value> = json!({"onPremisesSyncEnabled": true})
        .as_object()
        .cloned()
        .unwrap();
    let mut over = Vec::new();
    for name in ["users", "groups"] {
        let kind = schema::kind(name).unwrap();
        let ty = m.entity(&kind.graph_type).unwrap();
        for prop in kind.all_managed() {
            if !writable(kind, prop) {
                continue;
            }
            let body = [(prop.to_string(), Value::Null)];
            let w = Write {
                op: WriteOp::Update,
                ty,
                state: &state,
                body: &body,
                link: None,
                tenant: &tenant,
            };
            let held = write_rules::property_rule(kind, &state, prop, &cx).is_some();
            if held && refusal(m, &w).is_none() {
                over.push(format!("{name}.{prop}"));
            }
        }
    }
    assert!(over.is_empty(), "held back, but Graph takes them: {over:?}");
}
