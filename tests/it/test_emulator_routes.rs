//! Graph routes beyond plain objects: a user's manager (`$ref` and `$expand`), an application's
//! federated identity credentials, authentication method configurations, authentication
//! strength policies (expanded inside Conditional Access policies, written by id), invitations
//! and administrative units with their members, recycle bin and restore.

use serde_json::{json, Value};

use crate::common::graph::*;

async fn tenant() -> Graph {
    // Enough users for a few cloud-only members among the synced ones.
    Graph::start(config(Some(
        "users=100,groups=8,members=4,apps=3,policies=3",
    )))
    .await
}

async fn ids(g: &Graph, path: &str, n: usize) -> Vec<String> {
    g.get(&format!("{path}?$top={n}&$select=id")).await.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect()
}

fn user_ref(id: &str) -> Value {
    json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/users/{id}")})
}

#[tokio::test]
async fn a_user_manager_is_set_read_expanded_and_removed() {
    let g = tenant().await;
    // Cloud-only members: a synced user's manager is mastered in AD. Every member has a
    // manager in the generated tenant, so Ada's is removed first.
    let users = cloud_members(&g).await;
    let (ada, boss) = (&users[0], &users[1]);
    let had = g.get(&format!("users/{ada}/manager")).await;
    assert_eq!(had.status, 200);
    let del = format!("users/{ada}/manager/$ref");
    assert_eq!(g.call("DELETE", &del, None).await.status, 204);
    let missing = g.get(&format!("users/{ada}/manager")).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.code(), "Request_ResourceNotFound");
    let put = g
        .call(
            "PUT",
            &format!("users/{ada}/manager/$ref"),
            Some(user_ref(boss)),
        )
        .await;
    assert_eq!(put.status, 204, "{}", put.body);
    let m = g.get(&format!("users/{ada}/manager")).await;
    assert_eq!(m.status, 200);
    assert_eq!(m.body["id"], boss.as_str());
    assert_eq!(m.body["@odata.type"], "#microsoft.graph.user");

    // $expand on the list and on one user, with the manager's own $select.
    let (list, _) = g
        .get_all("users?$select=id,displayName&$expand=manager($select=id,displayName)&$top=7")
        .await;
    assert_eq!(list.len(), 100);
    let with = list.iter().find(|u| u["id"] == ada.as_str()).unwrap();
    let keys: Vec<&String> = with["manager"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["@odata.type", "id", "displayName"]);
    assert_eq!(with["manager"]["id"], boss.as_str());
    // Users without a manager (the CEO, guests) carry none.
    let without = list.iter().filter(|u| u.get("manager").is_none()).count();
    assert!((1..100).contains(&without), "{without}");
    let one = g.get(&format!("users/{ada}?$expand=manager")).await;
    assert_eq!(one.body["manager"]["id"], boss.as_str());
    assert_eq!(g.get("users?$expand=memberOf").await.status, 400);
    assert_eq!(
        g.get(&format!("users/{ada}/manager?$expand=manager"))
            .await
            .status,
        400
    );

    // Only users (or contacts) manage; the object must exist.
    let gid = ids(&g, "groups", 1).await.remove(0);
    let r = g
        .call(
            "PUT",
            &format!("users/{ada}/manager/$ref"),
            Some(directory_object(&gid)),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = g
        .call(
            "PUT",
            &format!("users/{ada}/manager/$ref"),
            Some(directory_object("11111111-1111-4111-8111-111111111111")),
        )
        .await;
    assert_eq!(r.status, 404);
    // A second PUT replaces.
    assert_eq!(
        g.call(
            "PUT",
            &format!("users/{ada}/manager/$ref"),
            Some(user_ref(&users[2]))
        )
        .await
        .status,
        204
    );
    assert_eq!(
        g.get(&format!("users/{ada}/manager")).await.body["id"],
        users[2].as_str()
    );
    let del = format!("users/{ada}/manager/$ref");
    assert_eq!(g.call("DELETE", &del, None).await.status, 204);
    assert_eq!(g.get(&format!("users/{ada}/manager")).await.status, 404);
    assert_eq!(g.call("DELETE", &del, None).await.status, 404);
    assert_eq!(g.call("POST", &del, Some(user_ref(boss))).await.status, 405);
}

#[tokio::test]
async fn federated_identity_credentials_are_contained_in_their_application() {
    let g = tenant().await;
    let app = ids(&g, "applications", 1).await.remove(0);
    let base = format!("applications/{app}/federatedIdentityCredentials");
    assert_eq!(g.get(&base).await.body["value"], json!([]));
    let fic = json!({"name": "github-main", "issuer": "https://token.actions.githubusercontent.com",
                     "subject": "repo:contoso/infra:ref:refs/heads/main", "audiences": ["api://AzureADTokenExchange"],
                     "description": "deploys"});
    let r = g.call("POST", &base, Some(fic.clone())).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["subject"], fic["subject"]);
    // name, and issuer + subject, are unique within the application.
    assert_eq!(g.call("POST", &base, Some(fic.clone())).await.status, 409);
    let mut other = fic.clone();
    other["name"] = json!("github-other");
    assert_eq!(g.call("POST", &base, Some(other)).await.status, 409);
    let r = g
        .call(
            "POST",
            &base,
            Some(json!({"name": "x", "issuer": "https://i", "audiences": ["a"]})),
        )
        .await;
    assert_eq!(r.status, 400, "subject is required");
    // By id and by its alternate key.
    assert_eq!(
        g.get(&format!("{base}/{id}")).await.body["name"],
        "github-main"
    );
    assert_eq!(
        g.get(&format!("{base}(name='github-main')")).await.body["id"],
        id.as_str()
    );
    // Update; the name is immutable.
    let r = g
        .call(
            "PATCH",
            &format!("{base}/{id}"),
            Some(json!({"subject": "repo:contoso/infra:environment:prod"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        g.get(&format!("{base}/{id}")).await.body["subject"],
        "repo:contoso/infra:environment:prod"
    );
    let r = g
        .call(
            "PATCH",
            &format!("{base}/{id}"),
            Some(json!({"name": "renamed"})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        g.call("DELETE", &format!("{base}/{id}"), None).await.status,
        204
    );
    assert_eq!(g.get(&format!("{base}/{id}")).await.status, 404);
    assert_eq!(g.get(&base).await.body["value"], json!([]));
}

/// `PATCH …/federatedIdentityCredentials(name='x')` with `Prefer: create-if-missing` and the
/// answer's status.
async fn upsert(g: &Graph, base: &str, name: &str, body: Value, prefer: bool) -> Resp {
    let mut req = g
        .http
        .patch(g.url(&format!("{base}(name='{name}')")))
        .bearer_auth(&g.token)
        .json(&body);
    if prefer {
        req = req.header("Prefer", "create-if-missing");
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.expect("body");
    Resp {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

#[tokio::test]
async fn a_federated_credential_is_upserted_by_name_with_prefer_create_if_missing() {
    // federatedidentitycredential-upsert.md: 201 when created, 204 when updated; without the
    // header a missing credential is not found.
    let g = tenant().await;
    let app = ids(&g, "applications", 1).await.remove(0);
    let base = format!("applications/{app}/federatedIdentityCredentials");
    let fic = json!({"name": "aks", "issuer": "https://oidc.example/1", "subject": "system:serviceaccount:a:b",
                     "audiences": ["api://AzureADTokenExchange"], "description": null});
    assert_eq!(
        upsert(&g, &base, "aks", fic.clone(), false).await.status,
        404
    );
    let r = upsert(&g, &base, "aks", fic.clone(), true).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["name"], "aks");
    let mut changed = fic.clone();
    changed["subject"] = json!("system:serviceaccount:a:c");
    let r = upsert(&g, &base, "aks", changed, true).await;
    assert_eq!(
        r.status, 204,
        "the whole credential, its unchanged name included: {}",
        r.body
    );
    let list = g.get(&base).await.body;
    assert_eq!(list["value"].as_array().unwrap().len(), 1);
    assert_eq!(list["value"][0]["subject"], "system:serviceaccount:a:c");
    // The name in the path says which credential this is.
    let mut other = fic.clone();
    other["name"] = json!("elsewhere");
    assert_eq!(upsert(&g, &base, "new", other, true).await.status, 400);
}

#[tokio::test]
async fn method_configurations_live_at_their_own_path_and_inside_the_policy() {
    let g = tenant().await;
    let base = "policies/authenticationMethodsPolicy/authenticationMethodConfigurations";
    let policy = g.get("policies/authenticationMethodsPolicy").await.body;
    let embedded = policy["authenticationMethodConfigurations"]
        .as_array()
        .unwrap();
    // The eight configurations v1.0 has.
    assert_eq!(embedded.len(), 8);
    let list = g.get(base).await.body;
    assert_eq!(list["value"].as_array().unwrap().len(), 8);
    let fido = g.get(&format!("{base}/Fido2")).await;
    assert_eq!(fido.status, 200);
    assert_eq!(
        fido.body["@odata.type"],
        "#microsoft.graph.fido2AuthenticationMethodConfiguration"
    );
    assert_eq!(fido.body["isAttestationEnforced"], true);
    let r = g
        .call(
            "PATCH",
            &format!("{base}/Fido2"),
            Some(json!({"@odata.type": "#microsoft.graph.fido2AuthenticationMethodConfiguration", "isAttestationEnforced": false,
                        "includeTargets": [{"id": "all_users", "targetType": "group", "isRegistrationRequired": false}]})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        g.get(&format!("{base}/Fido2")).await.body["isAttestationEnforced"],
        false
    );
    let policy = g.get("policies/authenticationMethodsPolicy").await.body;
    let fido = policy["authenticationMethodConfigurations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "Fido2")
        .unwrap();
    assert_eq!(fido["isAttestationEnforced"], false);
    // Hardware OATH tokens are configured in beta only.
    assert_eq!(g.get(&format!("{base}/HardwareOath")).await.status, 404);
    assert_eq!(
        g.call("DELETE", &format!("{base}/Fido2"), None)
            .await
            .status,
        405
    );
}

#[tokio::test]
async fn authentication_strength_is_expanded_on_read_and_written_by_id() {
    let g = tenant().await;
    let (strengths, _) = g.get_all("policies/authenticationStrengthPolicies").await;
    assert_eq!(strengths.len(), 3);
    let phishing = "00000000-0000-0000-0000-000000000004";
    let one = g
        .get(&format!(
            "policies/authenticationStrengthPolicies/{phishing}"
        ))
        .await;
    assert_eq!(one.body["displayName"], "Phishing resistant MFA");
    assert_eq!(one.body["policyType"], "builtIn");

    let ca = ids(&g, "identity/conditionalAccess/policies", 1)
        .await
        .remove(0);
    let path = format!("identity/conditionalAccess/policies/{ca}");
    let grant = json!({"grantControls": {"operator": "OR", "builtInControls": [], "authenticationStrength": {"id": phishing}}});
    let r = g.call("PATCH", &path, Some(grant)).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let read = g.get(&path).await.body;
    let strength = &read["grantControls"]["authenticationStrength"];
    assert_eq!(strength["id"], phishing);
    assert_eq!(strength["displayName"], "Phishing resistant MFA");
    assert!(strength["createdDateTime"].is_string() && strength["modifiedDateTime"].is_string());
    assert_eq!(strength["allowedCombinations"].as_array().unwrap().len(), 3);
    let listed = g.get("identity/conditionalAccess/policies").await.body;
    let listed = listed["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == ca.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        listed["grantControls"]["authenticationStrength"]["displayName"],
        "Phishing resistant MFA"
    );
    // Writing back what was read (the whole expanded object) keeps the reference.
    let back = json!({"grantControls": read["grantControls"].clone()});
    assert_eq!(g.call("PATCH", &path, Some(back)).await.status, 204);
    assert_eq!(
        g.get(&path).await.body["grantControls"],
        read["grantControls"]
    );
    // A reference to nothing is refused, and changes nothing.
    let r = g
        .call("PATCH", &path, Some(json!({"grantControls": {"operator": "OR", "authenticationStrength": {"id": "00000000-0000-0000-0000-0000000000ff"}}})))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        g.get(&path).await.body["grantControls"],
        read["grantControls"]
    );
}

#[tokio::test]
async fn an_invitation_creates_a_guest() {
    let g = tenant().await;
    let r = g
        .call(
            "POST",
            "invitations",
            Some(json!({"invitedUserEmailAddress": "ann@fabrikam.example", "inviteRedirectUrl": "https://myapp.contoso.example", "sendInvitationMessage": false})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["status"], "PendingAcceptance");
    assert_eq!(r.body["invitedUserEmailAddress"], "ann@fabrikam.example");
    let uid = r.body["invitedUser"]["id"].as_str().unwrap().to_string();
    let u = g
        .get(&format!(
            "users/{uid}?$select=id,userType,creationType,userPrincipalName,mail,externalUserState"
        ))
        .await
        .body;
    assert_eq!(u["userType"], "Guest");
    assert_eq!(u["creationType"], "Invitation");
    assert_eq!(u["externalUserState"], "PendingAcceptance");
    assert_eq!(u["mail"], "ann@fabrikam.example");
    let upn = u["userPrincipalName"].as_str().unwrap();
    assert!(upn.starts_with("ann_fabrikam.example#EXT#@"), "{upn}");
    // B2B UPNs are addressed with # encoded (GRAPH.md A.1).
    let by_upn = g.get(&format!("users/{}", upn.replace('#', "%23"))).await;
    assert_eq!(by_upn.body["id"], uid.as_str());
    // Inviting the same address again answers with the same guest.
    let again = g
        .call("POST", "invitations", Some(json!({"invitedUserEmailAddress": "ann@fabrikam.example", "inviteRedirectUrl": "https://myapp.contoso.example"})))
        .await;
    assert_eq!(again.body["invitedUser"]["id"], uid.as_str());
    let r = g
        .call(
            "POST",
            "invitations",
            Some(json!({"invitedUserEmailAddress": "bob@fabrikam.example"})),
        )
        .await;
    assert_eq!(r.status, 400, "inviteRedirectUrl is required");
    assert_eq!(g.get("invitations").await.status, 405);
}

#[tokio::test]
async fn administrative_units_hold_members_and_come_back_from_the_recycle_bin() {
    let g = tenant().await;
    let base = "directory/administrativeUnits";
    let r = g
        .call("POST", base, Some(json!({"displayName": "West Coast", "description": "WC", "visibility": "HiddenMembership"})))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let au = r.body["id"].as_str().unwrap().to_string();
    let users = ids(&g, "users", 2).await;
    let gid = ids(&g, "groups", 1).await.remove(0);
    let sp = ids(&g, "servicePrincipals", 1).await.remove(0);
    let members = format!("{base}/{au}/members");
    for id in [&users[0], &users[1]] {
        assert_eq!(
            g.call("POST", &format!("{members}/$ref"), Some(user_ref(id)))
                .await
                .status,
            204
        );
    }
    // The docs' sample adds a group by its /groups/{id} URL.
    let group_ref = json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/groups/{gid}")});
    assert_eq!(
        g.call("POST", &format!("{members}/$ref"), Some(group_ref))
            .await
            .status,
        204
    );
    let dup = g
        .call(
            "POST",
            &format!("{members}/$ref"),
            Some(user_ref(&users[0])),
        )
        .await;
    assert_eq!(dup.status, 400);
    assert_eq!(dup.message(), "One or more added object references already exist for the following modified properties: 'members'.");
    let r = g
        .call(
            "POST",
            &format!("{members}/$ref"),
            Some(directory_object(&sp)),
        )
        .await;
    assert_eq!(
        r.status, 400,
        "service principals are not members of administrative units"
    );
    let mut listed = g.ids(&members).await;
    listed.sort();
    let mut expected = vec![users[0].clone(), users[1].clone(), gid.clone()];
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(
        g.call("DELETE", &format!("{members}/{}/$ref", users[1]), None)
            .await
            .status,
        204
    );
    assert_eq!(g.ids(&members).await.len(), 2);
    assert_eq!(
        g.call(
            "PATCH",
            &format!("{base}/{au}"),
            Some(json!({"description": "West"}))
        )
        .await
        .status,
        204
    );

    // Soft delete and restore, members included.
    assert_eq!(
        g.call("DELETE", &format!("{base}/{au}"), None).await.status,
        204
    );
    assert_eq!(g.get(&format!("{base}/{au}")).await.status, 404);
    let bin = g
        .ids("directory/deletedItems/microsoft.graph.administrativeUnit")
        .await;
    assert_eq!(bin, vec![au.clone()]);
    let r = g
        .call(
            "POST",
            &format!("directory/deletedItems/{au}/restore"),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["@odata.type"], "#microsoft.graph.administrativeUnit");
    let back = g.get(&format!("{base}/{au}")).await.body;
    assert_eq!(
        (back["displayName"].as_str(), back["description"].as_str()),
        (Some("West Coast"), Some("West"))
    );
    assert_eq!(g.ids(&members).await.len(), 2);
    // A member deleted and restored keeps its place in the unit.
    assert_eq!(
        g.call("DELETE", &format!("users/{}", users[0]), None)
            .await
            .status,
        204
    );
    assert_eq!(g.ids(&members).await, vec![gid.clone()]);
    assert_eq!(
        g.call(
            "POST",
            &format!("directory/deletedItems/{}/restore", users[0]),
            None
        )
        .await
        .status,
        200
    );
    assert_eq!(g.ids(&members).await.len(), 2);
}
