//! Plans and directory extension attributes: written like any other property (a value PATCHed
//! back, an extra one cleared with null), except one synced from Active Directory on an object
//! synced from there, which is listed as one Graph refuses.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::*;
use crate::model::{Object, Snapshot};
use crate::normalize::normalize;
use crate::schema;
use crate::write_rules::RuleContext;

const EMPLOYEE: &str = "extension_a0_employeeNumber";
const COST: &str = "extension_b1_costCenter";
const BADGE: &str = "extension_b1_badge";

fn user(synced: Option<bool>, props: Value) -> Object {
    let mut raw = json!({"id": "u1", "displayName": "Ann", "onPremisesSyncEnabled": synced});
    raw.as_object_mut()
        .unwrap()
        .extend(props.as_object().unwrap().clone());
    normalize(schema::kind("users").unwrap(), &raw, BTreeMap::new()).unwrap()
}

fn one(o: Object) -> Snapshot {
    let mut s = Snapshot::default();
    s.insert(o);
    s
}

fn update_body(plan: &Plan) -> serde_json::Map<String, Value> {
    match plan.actions.as_slice() {
        [Action {
            op: Op::Update { body },
            ..
        }] => body.clone(),
        other => panic!("expected one update: {other:#?}"),
    }
}

#[test]
fn a_wiped_value_is_patched_back_and_an_extra_one_cleared() {
    let desired = one(user(None, json!({COST: "CC-1"})));
    let live = one(user(None, json!({BADGE: "B-7"})));
    let body = update_body(&plan(&PlanInput::new(&desired, &live)));
    assert_eq!(body.get(COST), Some(&json!("CC-1")));
    assert_eq!(body.get(BADGE), Some(&Value::Null));
}

#[test]
fn an_extension_synced_from_active_directory_is_not_written_on_a_synced_user() {
    let rules = RuleContext {
        on_premises_extensions: [EMPLOYEE.to_string()].into(),
        ..RuleContext::default()
    };
    let desired = json!({EMPLOYEE: "E-1", COST: "CC-1"});
    let live = json!({EMPLOYEE: "E-2", COST: "CC-2"});

    let p = plan(
        &PlanInput::new(
            &one(user(Some(true), desired.clone())),
            &one(user(Some(true), live.clone())),
        )
        .rules(rules.clone()),
    );
    let body = update_body(&p);
    assert_eq!(
        body.get(COST),
        Some(&json!("CC-1")),
        "cloud extensions stay writable"
    );
    assert!(!body.contains_key(EMPLOYEE), "{body:?}");
    let listed: Vec<(&str, &str, &str)> = p
        .cannot_restore
        .iter()
        .flat_map(|c| {
            c.attributes
                .iter()
                .map(move |a| (c.rule.as_str(), c.fix.as_str(), a.path.as_str()))
        })
        .collect();
    assert_eq!(
        listed,
        [(
            "syncedFromActiveDirectory",
            "change on-premises (synced from Active Directory)",
            EMPLOYEE
        )]
    );

    // A cloud-only user's copy of the attribute is Entra's own.
    let p = plan(
        &PlanInput::new(&one(user(None, desired)), &one(user(Some(false), live))).rules(rules),
    );
    assert_eq!(update_body(&p).get(EMPLOYEE), Some(&json!("E-1")));
    assert!(p.cannot_restore.is_empty());
}
