//! The evaluator over the schema's own rules.

use serde_json::{json, Map, Value};

use super::*;
use crate::schema;

fn props(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

fn cx() -> RuleContext {
    RuleContext {
        tenant: Some("tenant-a".into()),
        ..RuleContext::default()
    }
}

#[test]
fn a_synced_user_keeps_its_on_premises_attributes_and_manager_but_not_the_cloud_ones() {
    let users = schema::kind("users").unwrap();
    let synced = props(json!({"onPremisesSyncEnabled": true}));
    let cloud = props(json!({"onPremisesSyncEnabled": false}));
    let rule = property_rule(users, &synced, "department", &cx()).expect("mastered on-premises");
    assert_eq!(
        rule.fix,
        "change on-premises (synced from Active Directory)"
    );
    assert!(property_rule(users, &synced, "usageLocation", &cx()).is_none());
    assert!(property_rule(users, &synced, "extension_abc_costCenter", &cx()).is_none());
    assert!(link_rule(users, &synced, "manager", &cx()).is_some());
    assert!(property_rule(users, &cloud, "department", &cx()).is_none());
    assert!(link_rule(users, &cloud, "manager", &cx()).is_none());
}

#[test]
fn a_synced_user_or_group_deleted_for_good_comes_back_from_active_directory_not_a_create() {
    for kind in ["users", "groups"] {
        let kind = schema::kind(kind).unwrap();
        let synced = props(json!({"onPremisesSyncEnabled": true}));
        let rule = create_rule(kind, &synced, &cx()).expect("not created through Graph");
        assert_eq!(rule.name, "syncedObjectComesBackFromActiveDirectory");
        assert_eq!(
            rule.fix,
            "change on-premises (synced from Active Directory)"
        );
        // Cloud-only objects are created again as before.
        let cloud = props(json!({"onPremisesSyncEnabled": null}));
        assert!(create_rule(kind, &cloud, &cx()).is_none());
    }
}

#[test]
fn a_directory_extension_synced_from_active_directory_is_mastered_there_on_synced_objects() {
    let synced_ext = "extension_a0_employeeNumber";
    let cx = RuleContext {
        on_premises_extensions: [synced_ext.to_string()].into(),
        ..cx()
    };
    for (kind, name) in [
        ("users", "syncedFromActiveDirectory"),
        ("groups", "syncedFromActiveDirectory"),
    ] {
        let kind = schema::kind(kind).unwrap();
        let synced = props(json!({"onPremisesSyncEnabled": true}));
        let rule = property_rule(kind, &synced, synced_ext, &cx).expect("mastered on-premises");
        assert_eq!(rule.name, name);
        assert!(property_rule(kind, &synced, "extension_b1_costCenter", &cx).is_none());
        let cloud = props(json!({"onPremisesSyncEnabled": false}));
        assert!(property_rule(kind, &cloud, synced_ext, &cx).is_none());
    }
}

#[test]
fn groups_dynamic_and_mail_enabled_and_synced_in_that_order() {
    let groups = schema::kind("groups").unwrap();
    let dynamic = props(json!({"groupTypes": ["DynamicMembership"], "mailEnabled": false}));
    let rule = link_rule(groups, &dynamic, "members", &cx()).unwrap();
    assert_eq!(rule.fix, "computed from the membership rule");
    assert!(property_rule(groups, &dynamic, "membershipRule", &cx()).is_none());
    assert!(link_rule(groups, &dynamic, "owners", &cx()).is_none());

    let mail = props(json!({"groupTypes": [], "mailEnabled": true}));
    assert_eq!(
        property_rule(groups, &mail, "description", &cx())
            .unwrap()
            .fix,
        "managed in Exchange Online"
    );
    assert!(create_rule(groups, &mail, &cx()).is_some());
    let m365 = props(json!({"groupTypes": ["Unified"], "mailEnabled": true}));
    assert!(property_rule(groups, &m365, "description", &cx()).is_none());
    assert!(create_rule(groups, &m365, &cx()).is_none());

    // Synced from AD first: that is where a synced mail-enabled group is changed.
    let both = props(json!({"groupTypes": [], "mailEnabled": true, "onPremisesSyncEnabled": true}));
    assert_eq!(
        link_rule(groups, &both, "members", &cx()).unwrap().name,
        "syncedFromActiveDirectory"
    );
}

#[test]
fn service_principals_of_another_tenants_application_keep_their_roles_when_the_tenant_is_known() {
    let sps = schema::kind("servicePrincipals").unwrap();
    let foreign = props(json!({"appOwnerOrganizationId": "tenant-b"}));
    let own = props(json!({"appOwnerOrganizationId": "TENANT-A"}));
    assert!(property_rule(sps, &foreign, "appRoles", &cx()).is_some());
    assert!(property_rule(sps, &foreign, "notes", &cx()).is_none());
    assert!(property_rule(sps, &own, "appRoles", &cx()).is_none());
    assert!(property_rule(sps, &foreign, "appRoles", &RuleContext::default()).is_none());
}

#[test]
fn guests_are_recreated_through_an_invitation() {
    let users = schema::kind("users").unwrap();
    let guest = props(json!({"userPrincipalName": "a_b.com#EXT#@contoso.example"}));
    let member = props(json!({"userPrincipalName": "a@contoso.example"}));
    assert_eq!(
        recreate_hook(users, &guest, &cx()),
        Some(RecreateHook::Invitation)
    );
    assert_eq!(recreate_hook(users, &member, &cx()), None);
}

#[test]
fn enabled_entitlements_that_change_or_go_are_disabled_first_and_nothing_else() {
    let apps = schema::kind("applications").unwrap();
    let role = |id: &str, value: &str, enabled: bool| {
        json!({"id": id, "value": value, "isEnabled": enabled, "origin": "Application",
               "allowedMemberTypes": ["User"], "displayName": value, "description": null})
    };
    let live = props(json!({
        "appRoles": [role("1", "Keep", true), role("2", "Gone", true), role("3", "Changed", true),
                     role("4", "WasOff", false)],
        "api": {"requestedAccessTokenVersion": 2, "oauth2PermissionScopes": []},
    }));
    let mut changed = role("3", "Changed", true);
    changed["allowedMemberTypes"] = json!(["Application"]);
    // Keep is only disabled by the update itself, which Graph allows in one PATCH; the role
    // that was off may go.
    let body = props(json!({"appRoles": [role("1", "Keep", false), changed]}));
    let (patch, disabled) = disable_first(apps, &live, &body).expect("two roles to disable");
    let keys: Vec<&str> = disabled.iter().map(|d| d.key.as_str()).collect();
    assert_eq!(keys, ["2", "3"]);
    let roles = patch["appRoles"].as_array().unwrap();
    assert_eq!(roles.len(), 4, "the live roles, nothing added or removed");
    let enabled: Vec<&str> = roles
        .iter()
        .filter(|r| r["isEnabled"] == true)
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(enabled, ["1"]);
    assert!(!patch.contains_key("api"));

    // Scopes live inside `api`: the PATCH carries the live `api` with the scope disabled.
    let scope = json!({"id": "s", "value": "Read", "isEnabled": true, "type": "User"});
    let live = props(
        json!({"api": {"requestedAccessTokenVersion": 2, "oauth2PermissionScopes": [scope]}}),
    );
    let body =
        props(json!({"api": {"requestedAccessTokenVersion": 2, "oauth2PermissionScopes": []}}));
    let (patch, _) = disable_first(apps, &live, &body).unwrap();
    assert_eq!(patch["api"]["requestedAccessTokenVersion"], 2);
    assert_eq!(
        patch["api"]["oauth2PermissionScopes"][0]["isEnabled"],
        false
    );

    // Nothing enabled changes: no extra PATCH.
    let body = props(
        json!({"api": {"requestedAccessTokenVersion": 1, "oauth2PermissionScopes": [scope]}}),
    );
    assert!(disable_first(apps, &live, &body).is_none());
}
