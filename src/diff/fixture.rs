//! The fixed scenario the diff and render tests share: the morning after a bulk script wiped the
//! Sales department. Two users lose department, job title and an extension attribute; the Sales
//! group loses members and gets a rewritten description; a Conditional Access policy gains an
//! excluded group and a stricter operator; a named location is added; one user is in the recycle
//! bin and one security group is gone for good. One user is unchanged except for the order of a
//! set-like array, which must not show.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};

use crate::diff::{DeletedInfo, Side};
use crate::model::{LinkRef, Object, ObjectKey, Snapshot};
use crate::normalize::normalize;
use crate::schema;

pub const ALICE: &str = "3f2a1c0b-5d6e-4f70-8a91-b2c3d4e5f601";
pub const BOB: &str = "6e1f2a3b-4c5d-4e6f-8a7b-9c0d1e2f3a02";
pub const CAROL: &str = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c03";
pub const DAVE: &str = "d4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f04";
pub const SALES: &str = "5a1e5000-0000-4000-8000-00000000a001";
pub const BREAKGLASS: &str = "b1ea0000-0000-4000-8000-00000000a002";
pub const VPN: &str = "7e470000-0000-4000-8000-00000000a003";
pub const MFA_POLICY: &str = "ad8d2b4a-8d30-413f-88b8-144c6c8d98d9";
pub const LISBON: &str = "1b0a1b0a-0000-4000-8000-00000000a004";

pub fn user(id: &str, upn: &str, name: &str, dept: Value, title: Value, ext1: Value) -> Object {
    let mut ext = serde_json::Map::new();
    for n in 1..=15 {
        ext.insert(format!("extensionAttribute{n}"), Value::Null);
    }
    ext.insert("extensionAttribute1".into(), ext1);
    normalize(
        schema::kind("users").expect("users kind"),
        &json!({
            "id": id, "displayName": name, "userPrincipalName": upn, "accountEnabled": true,
            "userType": "Member", "mail": upn, "department": dept, "jobTitle": title,
            "businessPhones": ["+1 425 555 0101", "+1 425 555 0100"],
            "onPremisesExtensionAttributes": ext,
            "signInActivity": {"lastSignInDateTime": "2026-11-27T07:59:00Z"},
        }),
        BTreeMap::new(),
    )
    .expect("fixture user normalizes")
}

pub fn group(id: &str, name: &str, description: &str, members: &[(&str, &str)]) -> Object {
    let mut links = BTreeMap::new();
    links.insert(
        "members".to_string(),
        members
            .iter()
            .map(|(id, n)| LinkRef::new(*id, Some(n.to_string())))
            .collect(),
    );
    links.insert(
        "owners".to_string(),
        vec![LinkRef::new(CAROL, Some("Carol Diaz".into()))],
    );
    normalize(
        schema::kind("groups").expect("groups kind"),
        &json!({
            "id": id, "displayName": name, "description": description, "mailEnabled": false,
            "mailNickname": name.replace(' ', ""), "securityEnabled": true, "groupTypes": [],
            "renewedDateTime": "2026-11-27T00:00:00Z",
        }),
        links,
    )
    .expect("fixture group normalizes")
}

pub fn mfa_policy(exclude_groups: &[&str], operator: &str) -> Object {
    normalize(
        schema::kind("conditionalAccessPolicies").expect("CA kind"),
        &json!({
            "id": MFA_POLICY, "displayName": "Require MFA for all users", "state": "enabled",
            "createdDateTime": "2025-03-01T10:00:00Z", "modifiedDateTime": "2026-11-27T07:30:00Z",
            "sessionControls": null,
            "conditions": {
                "clientAppTypes": ["all"],
                "applications": {"includeApplications": ["All"], "excludeApplications": []},
                "users": {"includeUsers": ["All"], "excludeUsers": [], "includeGroups": [],
                          "excludeGroups": exclude_groups, "includeRoles": [], "excludeRoles": []},
                "platforms": null, "locations": null,
            },
            "grantControls": {"operator": operator, "builtInControls": ["mfa", "compliantDevice"],
                              "customAuthenticationFactors": [], "termsOfUse": []},
        }),
        BTreeMap::new(),
    )
    .expect("fixture policy normalizes")
}

pub fn lisbon() -> Object {
    normalize(
        schema::kind("namedLocations").expect("namedLocations kind"),
        &json!({
            "@odata.type": "#microsoft.graph.ipNamedLocation", "id": LISBON,
            "displayName": "Branch office Lisbon", "isTrusted": true,
            "createdDateTime": "2026-11-27T07:45:00Z",
            "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "203.0.113.0/24"}],
        }),
        BTreeMap::new(),
    )
    .expect("fixture named location normalizes")
}

const OLD_DESCRIPTION: &str =
    "Everyone in Sales. Owned by Sales Operations; membership is reviewed every quarter.";
const NEW_DESCRIPTION: &str = "Everyone in Sales. Owned by Sales Operations; membership is reviewed every quarter by the department head.";

/// The backup side (before the bulk script) and the current side (the live tenant after it),
/// with the recycle-bin state of the removed objects.
pub fn scenario() -> (Snapshot, Snapshot, HashMap<ObjectKey, DeletedInfo>) {
    let mut old = Snapshot::default();
    let mut new = Snapshot::default();
    let s = |v: &str| Value::String(v.to_string());

    old.insert(user(
        ALICE,
        "alice@contoso.com",
        "Alice Smith",
        s("Sales"),
        s("Account Executive"),
        s("SALES-EU"),
    ));
    new.insert(user(
        ALICE,
        "alice@contoso.com",
        "Alice Smith",
        Value::Null,
        Value::Null,
        Value::Null,
    ));
    old.insert(user(
        BOB,
        "bob@contoso.com",
        "Bob Jones",
        s("Sales"),
        s("Sales Manager"),
        s("SALES-US"),
    ));
    new.insert(user(
        BOB,
        "bob@contoso.com",
        "Bob Jones",
        Value::Null,
        Value::Null,
        Value::Null,
    ));
    let carol = user(
        CAROL,
        "carol@contoso.com",
        "Carol Diaz",
        s("Engineering"),
        s("Engineer"),
        Value::Null,
    );
    old.insert(carol.clone());
    // The same user with a set-like array in another order: no drift.
    let mut carol_live = carol;
    carol_live.props["businessPhones"]
        .as_array_mut()
        .expect("businessPhones is an array")
        .reverse();
    new.insert(carol_live);
    old.insert(user(
        DAVE,
        "dave@contoso.com",
        "Dave Brown",
        s("Sales"),
        s("Sales Intern"),
        Value::Null,
    ));

    let all = [
        (ALICE, "Alice Smith"),
        (BOB, "Bob Jones"),
        (CAROL, "Carol Diaz"),
        (DAVE, "Dave Brown"),
    ];
    old.insert(group(SALES, "Sales Team", OLD_DESCRIPTION, &all));
    new.insert(group(SALES, "Sales Team", NEW_DESCRIPTION, &all[2..3]));
    old.insert(group(
        BREAKGLASS,
        "Break-glass accounts",
        "Emergency access",
        &[],
    ));
    new.insert(group(
        BREAKGLASS,
        "Break-glass accounts",
        "Emergency access",
        &[],
    ));
    old.insert(group(
        VPN,
        "Legacy VPN users",
        "Retired with the old VPN",
        &all[..1],
    ));

    old.insert(mfa_policy(&[BREAKGLASS], "OR"));
    new.insert(mfa_policy(&[BREAKGLASS, SALES], "AND"));
    new.insert(lisbon());

    let mut deleted = HashMap::new();
    deleted.insert(
        ObjectKey::named("users", DAVE),
        DeletedInfo {
            deleted_at: Some("2026-11-27T07:58:12Z".into()),
            restorable_until: Some("2026-12-27T07:58:12Z".into()),
        },
    );
    (old, new, deleted)
}

pub fn sides() -> (Side, Side) {
    (
        Side {
            label: "HEAD (3f2a1c0)".into(),
            commit: Some("3f2a1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b".into()),
            time: Some("2026-11-27T06:00:00Z".into()),
        },
        Side {
            label: "live tenant".into(),
            commit: None,
            time: Some("2026-11-27T09:00:00Z".into()),
        },
    )
}
