//! `schema/`'s write rules held against the emulator's (from Graph's docs, `facts.yaml`, asked
//! through `crate::emulator::probe`): for every object state a rule of either side names, every
//! write the emulator refuses — an update of a managed property, a link added or removed, a
//! create — is one a plan never sends: the schema's evaluator holds it back, or the property is
//! not written at all (read-only, create-only, secret), or the object is re-created through a
//! hook. The schema may be stricter than the emulator, except for the cloud-writable properties
//! of synced objects, which both sides list from the same docs.

use serde_json::{json, Map, Value};

use super::{Condition, RuleContext};
use crate::emulator::probe::{self, WriteOp};
use crate::schema::{self, KindSpec};
use crate::write_rules;

const TENANT: &str = "this-tenant";
const DOMAIN: &str = "contoso.example";

/// Refused writes a plan still sends, each waiting for a change elsewhere: the entry goes when
/// the change lands (the test fails while an entry no longer happens).
const PENDING: &[(&str, &str, &str)] = &[];

/// Properties that make the schema's conditions hold.
fn state_for(conds: &[Condition]) -> Map<String, Value> {
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

/// The object states worth trying for a kind: plain, and one per rule of either side.
fn states(kind: &KindSpec) -> Vec<Map<String, Value>> {
    let mut out = vec![Map::new()];
    out.extend(kind.write_rules.iter().map(|r| state_for(&r.when)));
    out.extend(kind.recreate_through.iter().map(|r| state_for(&r.when)));
    out.extend(probe::states(&kind.graph_type));
    out
}

fn writable(kind: &KindSpec, prop: &str) -> bool {
    !(kind.is_read_only(prop)
        || kind.is_create_only(prop)
        || kind.is_secret(prop)
        || kind.credential(prop).is_some())
}

fn refused(
    kind: &KindSpec,
    op: WriteOp,
    state: &Map<String, Value>,
    body: &[(String, Value)],
    link: Option<&str>,
) -> Option<String> {
    probe::refusal(&kind.graph_type, op, state, body, link, TENANT, DOMAIN)
}

#[test]
fn every_write_the_emulator_refuses_is_one_the_schema_holds_back() {
    let cx = RuleContext {
        tenant: Some(TENANT.into()),
        ..RuleContext::default()
    };
    let mut sent = Vec::new();
    let mut seen_pending = std::collections::BTreeSet::new();
    for kind in schema::kinds() {
        for state in states(kind) {
            for prop in kind.all_managed() {
                let body = [(prop.to_string(), Value::Null)];
                let held = write_rules::property_rule(kind, &state, prop, &cx).is_some();
                if let Some(r) = refused(kind, WriteOp::Update, &state, &body, None) {
                    if writable(kind, prop) && !held {
                        let pending = PENDING
                            .iter()
                            .any(|(k, p, _)| *k == kind.kind && *p == prop);
                        if pending {
                            seen_pending.insert((kind.kind.as_str(), prop));
                        } else {
                            sent.push(format!("{}: update {prop} in {state:?} ({})", kind.kind, r));
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
                    let held = write_rules::link_rule(kind, &state, link, &cx).is_some();
                    if let Some(r) = refused(kind, op, &state, &[], Some(link)) {
                        if !held {
                            sent.push(format!("{}: {op:?} {link} in {state:?} ({})", kind.kind, r));
                        }
                    }
                }
            }
            if kind.create {
                let body: Vec<(String, Value)> =
                    state.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                let held = write_rules::create_rule(kind, &state, &cx).is_some()
                    || write_rules::recreate_hook(kind, &state, &cx).is_some();
                if let Some(r) = refused(kind, WriteOp::Create, &state, &body, None) {
                    if !held {
                        sent.push(format!("{}: create {state:?} ({})", kind.kind, r));
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
fn both_sides_hold_back_the_synced_directory_extensions_of_synced_objects_only() {
    // A directory extension Entra Connect syncs (isSyncedFromOnPremises) and one registered in
    // the cloud, on synced and cloud-only users and groups: the schema holds back exactly what
    // the emulator refuses.
    const SYNCED: &str = "extension_0123abcd_division";
    const CLOUD: &str = "extension_4567ef01_costCenter";
    let cx = RuleContext {
        tenant: Some(TENANT.into()),
        on_premises_extensions: [SYNCED.to_string()].into(),
    };
    let synced_names = [SYNCED.to_string()];
    let mut disagree = Vec::new();
    for name in ["users", "groups"] {
        let kind = schema::kind(name).unwrap();
        for synced_object in [true, false] {
            let state: Map<String, Value> = json!({"onPremisesSyncEnabled": synced_object})
                .as_object()
                .cloned()
                .unwrap();
            for ext in [SYNCED, CLOUD] {
                let body = [(ext.to_string(), json!("x"))];
                let held = write_rules::property_rule(kind, &state, ext, &cx).is_some();
                let refused = probe::refusal_with_extensions(
                    &kind.graph_type,
                    WriteOp::Update,
                    &state,
                    &body,
                    None,
                    TENANT,
                    DOMAIN,
                    &synced_names,
                )
                .is_some();
                let expected = synced_object && ext == SYNCED;
                if held != expected || refused != expected {
                    disagree.push(format!(
                        "{name} synced={synced_object} {ext}: schema holds {held}, emulator \
                         refuses {refused}"
                    ));
                }
            }
        }
    }
    assert!(disagree.is_empty(), "{disagree:#?}");
}

#[test]
fn the_schema_holds_back_no_property_of_a_synced_object_that_graph_takes() {
    // The cloud-writable attributes of synced objects are data on both sides: what the schema
    // lets through the emulator takes, and what it holds back the emulator refuses.
    let cx = RuleContext::default();
    let state: Map<String, Value> = json!({"onPremisesSyncEnabled": true})
        .as_object()
        .cloned()
        .unwrap();
    let mut over = Vec::new();
    for name in ["users", "groups"] {
        let kind = schema::kind(name).unwrap();
        for prop in kind.all_managed() {
            if !writable(kind, prop) {
                continue;
            }
            let body = [(prop.to_string(), Value::Null)];
            let held = write_rules::property_rule(kind, &state, prop, &cx).is_some();
            if held && refused(kind, WriteOp::Update, &state, &body, None).is_none() {
                over.push(format!("{name}.{prop}"));
            }
        }
    }
    assert!(over.is_empty(), "held back, but Graph takes them: {over:?}");
}
