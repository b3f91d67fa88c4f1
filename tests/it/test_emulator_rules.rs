//! The emulator's per-object write rules over HTTP (facts.yaml `writeRules`): each forbidden
//! write is refused with Graph's status, code and message and changes nothing; the writes Graph
//! allows on the same objects go through.

use crate::common::graph::*;
use serde_json::{json, Value};

const ON_PREM: &str = "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.";

async fn tenant() -> Graph {
    Graph::start(config(Some(
        "users=300,groups=200,members=6,apps=12,policies=6",
    )))
    .await
}

fn refused(r: &Resp, status: u16, code: &str, message: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.code(), code, "{}", r.body);
    assert_eq!(r.message(), message);
    assert!(r.body["error"]["innerError"]["request-id"].is_string());
}

fn bind(ids: &[&str]) -> Value {
    json!(ids
        .iter()
        .map(|id| format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}"))
        .collect::<Vec<_>>())
}

/// Groups with the properties a rule looks at.
async fn groups(g: &Graph) -> Vec<Value> {
    g.get_all("groups?$select=id,displayName,groupTypes,mailEnabled,securityEnabled,onPremisesSyncEnabled,membershipRule&$top=999")
        .await
        .0
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

fn unified(gr: &Value) -> bool {
    gr["groupTypes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "Unified")
}

#[tokio::test]
async fn a_synced_user_keeps_its_on_premises_attributes_and_manager() {
    let g = tenant().await;
    let (users, _) = g
        .get_all("users?$select=id,userType,onPremisesSyncEnabled,jobTitle&$top=999")
        .await;
    let synced: Vec<&Value> = users
        .iter()
        .filter(|u| u["onPremisesSyncEnabled"] == true)
        .collect();
    let uid = id(synced[0]);
    let path = format!("users/{uid}");
    for body in [
        json!({"jobTitle": "Boss"}),
        json!({"department": null}),
        json!({"usageLocation": "NZ", "jobTitle": "Boss"}),
        json!({"onPremisesExtensionAttributes": {"extensionAttribute1": "x"}}),
        json!({"accountEnabled": false}),
    ] {
        let r = g.call("PATCH", &path, Some(body.clone())).await;
        refused(&r, 400, "Request_BadRequest", ON_PREM);
    }
    // Nothing of the refused PATCHes was applied.
    let after = g
        .get(&format!(
            "{path}?$select=jobTitle,usageLocation,accountEnabled"
        ))
        .await
        .body;
    assert_eq!(after["jobTitle"], synced[0]["jobTitle"]);
    assert_ne!(after["usageLocation"], "NZ");
    // The directory extensions, one registered in the cloud and one Entra Connect syncs from
    // Active Directory.
    let extension = |synced: bool| {
        let g = &g;
        async move {
            let r = g
                .call(
                    "POST",
                    "directoryObjects/getAvailableExtensionProperties",
                    Some(json!({"isSyncedFromOnPremises": synced})),
                )
                .await;
            assert_eq!(
                r.body["value"].as_array().map(Vec::len),
                Some(1),
                "{}",
                r.body
            );
            r.body["value"][0]["name"].as_str().unwrap().to_string()
        }
    };
    let (ext, division) = (extension(false).await, extension(true).await);
    // The synced one is mastered on-premises, alone or beside cloud-writable attributes.
    for body in [
        json!({division.as_str(): "Retail"}),
        json!({division.as_str(): null}),
        json!({"usageLocation": "DE", ext.as_str(): "CC-9", division.as_str(): "Retail"}),
    ] {
        let r = g.call("PATCH", &path, Some(body)).await;
        refused(&r, 400, "Request_BadRequest", ON_PREM);
    }
    let after = g
        .get(&format!("{path}?$select={division},{ext}"))
        .await
        .body;
    assert!(after[division.as_str()].is_string(), "{after}");
    assert_ne!(after[division.as_str()], "Retail");
    assert_ne!(after[ext.as_str()], "CC-9");
    // Cloud-writable attributes of a synced user, and the directory extension registered in
    // the cloud.
    let r = g
        .call(
            "PATCH",
            &path,
            Some(json!({"usageLocation": "DE", "employeeType": "Intern", "otherMails": ["a@example.org"], ext.as_str(): "CC-9"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    // The manager is mastered on-premises too.
    let other = id(synced[1]);
    let r = g
        .call(
            "PUT",
            &format!("{path}/manager/$ref"),
            Some(directory_object(&other)),
        )
        .await;
    refused(&r, 400, "Request_BadRequest", ON_PREM);
    let r = g
        .call("DELETE", &format!("{path}/manager/$ref"), None)
        .await;
    refused(&r, 400, "Request_BadRequest", ON_PREM);
    // A cloud-only user's profile and manager are written through Graph.
    let cloud = cloud_members(&g).await;
    let r = g
        .call(
            "PATCH",
            &format!("users/{}", cloud[0]),
            Some(json!({"jobTitle": "Boss"})),
        )
        .await;
    assert_eq!(r.status, 204);
    let r = g
        .call(
            "PUT",
            &format!("users/{}/manager/$ref", cloud[0]),
            Some(directory_object(&uid)),
        )
        .await;
    assert_eq!(r.status, 204, "a cloud user may report to a synced one");
    // A cloud-only user has no on-premises master: the synced extension is written through
    // Graph like any other.
    let r = g
        .call(
            "PATCH",
            &format!("users/{}", cloud[0]),
            Some(json!({division.as_str(): "Retail"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
}

#[tokio::test]
async fn a_synced_group_keeps_its_properties_and_members() {
    let g = tenant().await;
    let all = groups(&g).await;
    let dept = all
        .iter()
        .find(|x| x["displayName"] == "Dept - Legal")
        .unwrap();
    assert_eq!(dept["onPremisesSyncEnabled"], true);
    let gid = id(dept);
    let members = g.ids(&format!("groups/{gid}/members")).await;
    let cloud = cloud_members(&g).await;
    refused(
        &g.call(
            "PATCH",
            &format!("groups/{gid}"),
            Some(json!({"description": "x"})),
        )
        .await,
        400,
        "Request_BadRequest",
        ON_PREM,
    );
    refused(
        &g.call(
            "POST",
            &format!("groups/{gid}/members/$ref"),
            Some(directory_object(&cloud[0])),
        )
        .await,
        400,
        "Request_BadRequest",
        ON_PREM,
    );
    refused(
        &g.call(
            "DELETE",
            &format!("groups/{gid}/members/{}/$ref", members[0]),
            None,
        )
        .await,
        400,
        "Request_BadRequest",
        ON_PREM,
    );
    refused(
        &g.call(
            "PATCH",
            &format!("groups/{gid}"),
            Some(json!({"members@odata.bind": bind(&[&cloud[0]])})),
        )
        .await,
        400,
        "Request_BadRequest",
        ON_PREM,
    );
    assert_eq!(g.ids(&format!("groups/{gid}/members")).await, members);
    // Entra owners and the classification are the cloud's.
    let r = g
        .call(
            "POST",
            &format!("groups/{gid}/owners/$ref"),
            Some(directory_object(&cloud[0])),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = g
        .call(
            "PATCH",
            &format!("groups/{gid}"),
            Some(json!({"classification": "Internal"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
}

#[tokio::test]
async fn a_dynamic_group_takes_no_member_writes_but_its_rule_changes() {
    let g = tenant().await;
    let all = groups(&g).await;
    let dynamic = all
        .iter()
        .find(|x| x["displayName"] == "All Sales staff")
        .unwrap();
    let gid = id(dynamic);
    let members = g.ids(&format!("groups/{gid}/members")).await;
    let cloud = cloud_members(&g).await;
    let outsider = cloud.iter().find(|u| !members.contains(u)).unwrap().clone();
    let denied = "Insufficient privileges to complete the operation.";
    for r in [
        g.call(
            "POST",
            &format!("groups/{gid}/members/$ref"),
            Some(directory_object(&outsider)),
        )
        .await,
        g.call(
            "DELETE",
            &format!("groups/{gid}/members/{}/$ref", members[0]),
            None,
        )
        .await,
        g.call(
            "PATCH",
            &format!("groups/{gid}"),
            Some(json!({"members@odata.bind": bind(&[&outsider])})),
        )
        .await,
        g.call(
            "POST",
            "groups",
            Some(json!({"displayName": "Dyn", "mailEnabled": false, "mailNickname": "dyn", "securityEnabled": true,
                        "groupTypes": ["DynamicMembership"], "membershipRule": "(user.department -eq \"IT\")",
                        "membershipRuleProcessingState": "On", "members@odata.bind": bind(&[&outsider])})),
        )
        .await,
    ] {
        refused(&r, 403, "Authorization_RequestDenied", denied);
    }
    assert_eq!(g.ids(&format!("groups/{gid}/members")).await, members);
    // The rule and its processing state are written; membership follows the rule.
    let r = g
        .call(
            "PATCH",
            &format!("groups/{gid}"),
            Some(json!({"membershipRule": "(user.department -eq \"Legal\")"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let (legal, _) = g
        .get_all(&format!(
            "groups/{gid}/members?$select=id,department&$top=999"
        ))
        .await;
    assert!(!legal.is_empty());
    assert!(legal.iter().all(|u| u["department"] == "Legal"));
    let r = g
        .call(
            "PATCH",
            &format!("groups/{gid}"),
            Some(json!({"membershipRuleProcessingState": "Paused"})),
        )
        .await;
    assert_eq!(r.status, 204);
    // A dynamic group created without members computes them.
    let r = g
        .call(
            "POST",
            "groups",
            Some(json!({"displayName": "IT dynamic", "mailEnabled": false, "mailNickname": "itdyn", "securityEnabled": true,
                        "groupTypes": ["DynamicMembership"], "membershipRule": "(user.department -eq \"IT\")",
                        "membershipRuleProcessingState": "On"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let it = r.body["id"].as_str().unwrap();
    let (it_members, _) = g
        .get_all(&format!("groups/{it}/members?$select=department&$top=999"))
        .await;
    assert!(!it_members.is_empty() && it_members.iter().all(|u| u["department"] == "IT"));
}

#[tokio::test]
async fn mail_enabled_security_groups_and_distribution_lists_are_read_only() {
    let g = tenant().await;
    let all = groups(&g).await;
    let cloud_mail = |security: bool| {
        all.iter()
            .find(|x| {
                x["mailEnabled"] == true
                    && x["securityEnabled"] == security
                    && !unified(x)
                    && x["onPremisesSyncEnabled"] != true
            })
            .map(id)
            .expect("the tenant has a cloud mail-enabled group of this kind")
    };
    let update = "Cannot Update a mail-enabled security groups and or distribution list.";
    let user = cloud_members(&g).await.remove(0);
    for gid in [cloud_mail(true), cloud_mail(false)] {
        let members = g.ids(&format!("groups/{gid}/members")).await;
        refused(
            &g.call(
                "PATCH",
                &format!("groups/{gid}"),
                Some(json!({"description": "x"})),
            )
            .await,
            400,
            "Request_BadRequest",
            update,
        );
        refused(
            &g.call(
                "POST",
                &format!("groups/{gid}/members/$ref"),
                Some(directory_object(&user)),
            )
            .await,
            400,
            "Request_BadRequest",
            update,
        );
        refused(
            &g.call(
                "DELETE",
                &format!("groups/{gid}/members/{}/$ref", members[0]),
                None,
            )
            .await,
            400,
            "Request_BadRequest",
            update,
        );
        assert_eq!(g.ids(&format!("groups/{gid}/members")).await, members);
    }
    refused(
        &g.call(
            "POST",
            "groups",
            Some(json!({"displayName": "MESG", "mailEnabled": true, "mailNickname": "mesg", "securityEnabled": true})),
        )
        .await,
        400,
        "Request_BadRequest",
        "Cannot Create a mail-enabled security groups and or distribution list.",
    );
    // Microsoft 365 groups are mail-enabled and managed through Graph.
    let m365 = all
        .iter()
        .find(|x| unified(x) && x["membershipRule"].is_null())
        .map(id)
        .unwrap();
    let r = g
        .call(
            "PATCH",
            &format!("groups/{m365}"),
            Some(json!({"description": "x"})),
        )
        .await;
    assert_eq!(r.status, 204);
}

#[tokio::test]
async fn enabled_roles_and_scopes_are_disabled_before_they_change() {
    let g = tenant().await;
    let (apps, _) = g
        .get_all("applications?$select=id,appId,appRoles,api&$top=999")
        .await;
    let app = apps
        .iter()
        .find(|a| {
            a["appRoles"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["isEnabled"] == true)
        })
        .unwrap();
    let path = format!("applications/{}", id(app));
    let roles = app["appRoles"].as_array().unwrap().clone();
    let enabled = roles.iter().position(|r| r["isEnabled"] == true).unwrap();
    let message = "Permission (scope or role) cannot be deleted or updated unless disabled first.";
    let without: Vec<Value> = roles
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != enabled)
        .map(|(_, r)| r.clone())
        .collect();
    let mut changed = roles.clone();
    changed[enabled]["value"] = json!("Renamed");
    let mut disabled = roles.clone();
    disabled[enabled]["isEnabled"] = json!(false);
    let mut disabled_and_changed = disabled.clone();
    disabled_and_changed[enabled]["value"] = json!("Renamed");
    for body in [
        json!({"appRoles": without}),
        json!({"appRoles": changed}),
        json!({"appRoles": disabled_and_changed}),
    ] {
        refused(
            &g.call("PATCH", &path, Some(body)).await,
            400,
            "CannotDeleteOrUpdateEnabledEntitlement",
            message,
        );
    }
    // Unchanged roles and new roles are fine; disable first, then remove.
    let mut added = roles.clone();
    added.push(json!({"allowedMemberTypes": ["User"], "description": "d", "displayName": "New", "id": "0b3e2b1a-7d8c-4e5f-9a6b-1c2d3e4f5a6b", "isEnabled": true, "value": "New"}));
    assert_eq!(
        g.call("PATCH", &path, Some(json!({"appRoles": added})))
            .await
            .status,
        204
    );
    let mut disabled = added.clone();
    disabled[enabled]["isEnabled"] = json!(false);
    assert_eq!(
        g.call("PATCH", &path, Some(json!({"appRoles": disabled.clone()})))
            .await
            .status,
        204
    );
    disabled.remove(enabled);
    assert_eq!(
        g.call("PATCH", &path, Some(json!({"appRoles": disabled})))
            .await
            .status,
        204
    );
    // Scopes of an application live under api.
    let with_scope = apps
        .iter()
        .find(|a| {
            a["api"]["oauth2PermissionScopes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["isEnabled"] == true)
        })
        .unwrap();
    refused(
        &g.call(
            "PATCH",
            &format!("applications/{}", id(with_scope)),
            Some(json!({"api": {"oauth2PermissionScopes": []}})),
        )
        .await,
        400,
        "CannotDeleteOrUpdateEnabledEntitlement",
        message,
    );
    // The tenant's own service principals: the same rule.
    let app_id = app["appId"].as_str().unwrap();
    let sp = g
        .get(&format!(
            "servicePrincipals(appId='{app_id}')?$select=id,appRoles"
        ))
        .await
        .body;
    let sp_roles = sp["appRoles"].as_array().unwrap();
    if sp_roles.iter().any(|r| r["isEnabled"] == true) {
        refused(
            &g.call(
                "PATCH",
                &format!("servicePrincipals/{}", id(&sp)),
                Some(json!({"appRoles": []})),
            )
            .await,
            400,
            "CannotDeleteOrUpdateEnabledEntitlement",
            message,
        );
    }
}

#[tokio::test]
async fn service_principals_of_another_tenants_app_mirror_it() {
    let g = tenant().await;
    let graph = g
        .get("servicePrincipals(appId='00000003-0000-0000-c000-000000000000')?$select=id,appRoles,oauth2PermissionScopes,appOwnerOrganizationId")
        .await
        .body;
    assert_eq!(
        graph["appOwnerOrganizationId"],
        "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
    );
    let path = format!("servicePrincipals/{}", id(&graph));
    let message =
        "One or more properties on the service principal does not match the application object.";
    for body in [
        json!({"appRoles": graph["appRoles"]}),
        json!({"oauth2PermissionScopes": []}),
    ] {
        refused(
            &g.call("PATCH", &path, Some(body)).await,
            400,
            "Request_BadRequest",
            message,
        );
    }
    // The tenant's own settings on it are written.
    let r = g
        .call(
            "PATCH",
            &path,
            Some(json!({"appRoleAssignmentRequired": true, "notes": "managed"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
}

#[tokio::test]
async fn external_users_are_invited_not_created() {
    let g = tenant().await;
    let user = |upn: &str, user_type: &str| {
        json!({"accountEnabled": true, "displayName": "Ann", "mailNickname": "ann", "userPrincipalName": upn,
               "userType": user_type, "passwordProfile": {"password": "xWwvJ]6NMw+bWH-d", "forceChangePasswordNextSignIn": true}})
    };
    for upn in [
        "ann@fabrikam.example",
        "ann_fabrikam.example#EXT#@contoso.example",
    ] {
        refused(
            &g.call("POST", "users", Some(user(upn, "Guest"))).await,
            400,
            "Request_BadRequest",
            "Property userPrincipalName is invalid.",
        );
    }
    // An internal guest is a local account of the tenant's domain.
    let r = g
        .call(
            "POST",
            "users",
            Some(user("ann.guest@contoso.example", "Guest")),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // The invitation API makes the B2B guest.
    let r = g
        .call(
            "POST",
            "invitations",
            Some(json!({"invitedUserEmailAddress": "ann@fabrikam.example", "inviteRedirectUrl": "https://myapps.microsoft.com"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test]
async fn method_configurations_are_written_at_their_own_path() {
    let g = tenant().await;
    let policy = g.get("policies/authenticationMethodsPolicy").await.body;
    let configurations = policy["authenticationMethodConfigurations"].clone();
    refused(
        &g.call(
            "PATCH",
            "policies/authenticationMethodsPolicy",
            Some(json!({"authenticationMethodConfigurations": configurations})),
        )
        .await,
        400,
        "BadRequest",
        "Property 'authenticationMethodConfigurations' is a contained navigation property; write each configuration at its own path.",
    );
    let r = g
        .call(
            "PATCH",
            "policies/authenticationMethodsPolicy/authenticationMethodConfigurations/Sms",
            Some(json!({"@odata.type": "#microsoft.graph.smsAuthenticationMethodConfiguration", "state": "enabled"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = g
        .call(
            "PATCH",
            "policies/authenticationMethodsPolicy",
            Some(json!({"registrationEnforcement": policy["registrationEnforcement"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}
