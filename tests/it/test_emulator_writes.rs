//! Writes to the Graph emulator: PATCH rules, `$ref` links, `@odata.bind`, create, soft delete
//! and restore.

use serde_json::{json, Value};

use crate::common::graph::*;

async fn tenant() -> Graph {
    Graph::start(config(Some(
        "users=60,groups=16,members=5,apps=3,policies=3",
    )))
    .await
}

async fn first_id(g: &Graph, path: &str) -> String {
    g.get(&format!("{path}?$top=1&$select=id")).await.body["value"][0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn patch_follows_graph_rules() {
    let g = tenant().await;
    // A cloud-only user: most users are synced from AD, and their profile is mastered there.
    let uid = cloud_members(&g).await[0].clone();
    let r = g
        .call(
            "PATCH",
            &format!("users/{uid}"),
            Some(json!({"jobTitle": "Boss", "department": null})),
        )
        .await;
    assert_eq!(r.status, 204);
    let u = g
        .get(&format!("users/{uid}?$select=jobTitle,department"))
        .await
        .body;
    assert_eq!(
        (u["jobTitle"].as_str(), u["department"].is_null()),
        (Some("Boss"), true)
    );
    for body in [
        json!({"createdDateTime": "2020-01-01T00:00:00Z"}),
        json!({"id": uid}),
        json!({"proxyAddresses": []}),
    ] {
        let r = g
            .call("PATCH", &format!("users/{uid}"), Some(body.clone()))
            .await;
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.code(), "Request_BadRequest");
    }
    let r = g
        .call(
            "PATCH",
            &format!("users/{uid}"),
            Some(json!({"favouriteColour": "blue"})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.message().contains("favouriteColour"));
    // The rejected PATCH changed nothing.
    assert_eq!(
        g.get(&format!("users/{uid}?$select=jobTitle")).await.body["jobTitle"],
        "Boss"
    );

    let app = first_id(&g, "applications").await;
    let r = g
        .call(
            "PATCH",
            &format!("applications/{app}"),
            Some(json!({"passwordCredentials": []})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        g.call(
            "PATCH",
            &format!("applications/{app}"),
            Some(json!({"notes": "n"}))
        )
        .await
        .status,
        204
    );

    // Group create-only properties cannot be PATCHed.
    let gid = first_id(&g, "groups").await;
    assert_eq!(
        g.call(
            "PATCH",
            &format!("groups/{gid}"),
            Some(json!({"isAssignableToRole": true}))
        )
        .await
        .status,
        400
    );

    // Named locations need @odata.type, of the location's own type.
    let nls = g
        .get("identity/conditionalAccess/namedLocations")
        .await
        .body;
    let ip = nls["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["@odata.type"] == "#microsoft.graph.ipNamedLocation")
        .unwrap();
    let path = format!(
        "identity/conditionalAccess/namedLocations/{}",
        ip["id"].as_str().unwrap()
    );
    assert_eq!(
        g.call("PATCH", &path, Some(json!({"displayName": "HQ"})))
            .await
            .status,
        400
    );
    let wrong =
        json!({"@odata.type": "#microsoft.graph.countryNamedLocation", "displayName": "HQ"});
    assert_eq!(g.call("PATCH", &path, Some(wrong)).await.status, 400);
    let r = g.call("PATCH", &path, Some(json!({"@odata.type": "#microsoft.graph.ipNamedLocation", "displayName": "HQ", "isTrusted": false}))).await;
    assert_eq!(r.status, 204);
    let after = g.get(&path).await.body;
    assert_eq!(
        (after["displayName"].as_str(), after["isTrusted"].as_bool()),
        (Some("HQ"), Some(false))
    );

    // The authentication methods policy answers 200 with the policy; the other singleton 204.
    let r = g.call("PATCH", "policies/authenticationMethodsPolicy", Some(json!({"registrationEnforcement": {"authenticationMethodsRegistrationCampaign": {"state": "enabled", "snoozeDurationInDays": 3, "includeTargets": [], "excludeTargets": []}}}))).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["registrationEnforcement"]["authenticationMethodsRegistrationCampaign"]
            ["snoozeDurationInDays"],
        3
    );
    assert_eq!(
        g.call(
            "PATCH",
            "policies/authorizationPolicy",
            Some(json!({"allowInvitesFrom": "none"}))
        )
        .await
        .status,
        204
    );
    // authorizationpolicy-update.md lists displayName and description as writable; id is not.
    assert_eq!(
        g.call(
            "PATCH",
            "policies/authorizationPolicy",
            Some(json!({"displayName": "x"}))
        )
        .await
        .status,
        204
    );
    assert_eq!(
        g.call(
            "PATCH",
            "policies/authorizationPolicy",
            Some(json!({"id": "x"}))
        )
        .await
        .status,
        400
    );
    assert_eq!(
        g.call("DELETE", "policies/authorizationPolicy", None)
            .await
            .status,
        405
    );
}

#[tokio::test]
async fn ref_links_add_duplicate_remove() {
    let g = tenant().await;
    // A cloud security group with two owners: department groups are synced from AD, and their
    // membership is mastered there.
    let (users, _) = g.get_all("users?$top=999&$select=id").await;
    let owners: Vec<String> = users[..2]
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect();
    let gid = cloud_group(&g, "Project Falcon", &owners, &[]).await;
    let before = g.ids(&format!("groups/{gid}/members")).await;
    let outsider = users
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .find(|u| !before.iter().any(|m| m == u))
        .unwrap()
        .to_string();
    let path = format!("groups/{gid}/members/$ref");
    assert_eq!(
        g.call("POST", &path, Some(directory_object(&outsider)))
            .await
            .status,
        204
    );
    assert!(g
        .ids(&format!("groups/{gid}/members"))
        .await
        .contains(&outsider));
    let dup = g
        .call(
            "POST",
            &path,
            Some(
                json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/users/{outsider}")}),
            ),
        )
        .await;
    assert_eq!(dup.status, 400);
    assert_eq!(dup.message(), "One or more added object references already exist for the following modified properties: 'members'.");
    let ghost = g
        .call(
            "POST",
            &path,
            Some(directory_object("11111111-1111-4111-8111-111111111111")),
        )
        .await;
    assert_eq!(ghost.status, 404);
    let del = format!("groups/{gid}/members/{outsider}/$ref");
    assert_eq!(g.call("DELETE", &del, None).await.status, 204);
    assert_eq!(g.call("DELETE", &del, None).await.status, 404);
    assert_eq!(g.ids(&format!("groups/{gid}/members")).await, before);

    // The last owner cannot be removed.
    let owners = g.ids(&format!("groups/{gid}/owners")).await;
    for (i, o) in owners.iter().enumerate() {
        let r = g
            .call("DELETE", &format!("groups/{gid}/owners/{o}/$ref"), None)
            .await;
        assert_eq!(r.status, if i + 1 == owners.len() { 400 } else { 204 });
    }

    // members@odata.bind: at most 20, all or nothing.
    let urls: Vec<Value> = users
        .iter()
        .take(21)
        .map(|u| {
            json!(format!(
                "https://graph.microsoft.com/v1.0/directoryObjects/{}",
                u["id"].as_str().unwrap()
            ))
        })
        .collect();
    let r = g
        .call(
            "PATCH",
            &format!("groups/{gid}"),
            Some(json!({"members@odata.bind": urls})),
        )
        .await;
    assert_eq!(r.status, 400);
    let now = g.ids(&format!("groups/{gid}/members")).await;
    let fresh: Vec<&str> = users
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .filter(|u| !now.iter().any(|m| m == u))
        .take(3)
        .collect();
    let mut with_bad: Vec<Value> = fresh
        .iter()
        .map(|u| {
            json!(format!(
                "https://graph.microsoft.com/v1.0/directoryObjects/{u}"
            ))
        })
        .collect();
    with_bad.push(json!(
        "https://graph.microsoft.com/v1.0/directoryObjects/11111111-1111-4111-8111-111111111111"
    ));
    let r = g
        .call(
            "PATCH",
            &format!("groups/{gid}"),
            Some(json!({"members@odata.bind": with_bad})),
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        g.ids(&format!("groups/{gid}/members")).await,
        now,
        "nothing added when one reference fails"
    );
    let good: Vec<Value> = fresh
        .iter()
        .map(|u| {
            json!(format!(
                "https://graph.microsoft.com/v1.0/directoryObjects/{u}"
            ))
        })
        .collect();
    assert_eq!(
        g.call(
            "PATCH",
            &format!("groups/{gid}"),
            Some(json!({"members@odata.bind": good}))
        )
        .await
        .status,
        204
    );
    assert_eq!(
        g.ids(&format!("groups/{gid}/members")).await.len(),
        now.len() + 3
    );
}

#[tokio::test]
async fn soft_delete_recycle_bin_and_restore() {
    let g = Graph::start(config(Some(
        "users=60,groups=40,members=5,apps=3,policies=3",
    )))
    .await;
    // A user in a department group: deleting removes the membership, restoring brings it back.
    let (groups, _) = g
        .get_all("groups?$top=999&$select=id,displayName,groupTypes")
        .await;
    let dept = groups
        .iter()
        .find(|x| x["displayName"] == "Dept - Sales")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let members = g.ids(&format!("groups/{dept}/members")).await;
    let uid = members[0].clone();
    assert_eq!(
        g.call("DELETE", &format!("users/{uid}"), None).await.status,
        204
    );
    assert_eq!(g.get(&format!("users/{uid}")).await.status, 404);
    assert!(!g
        .ids(&format!("groups/{dept}/members"))
        .await
        .contains(&uid));
    let (deleted, _) = g
        .get_all("directory/deletedItems/microsoft.graph.user")
        .await;
    let item = deleted
        .iter()
        .find(|d| d["id"] == uid.as_str())
        .expect("in the recycle bin");
    assert!(item["deletedDateTime"].is_string());
    assert_eq!(item["@odata.type"], "#microsoft.graph.user");
    assert_eq!(
        g.get(&format!("directory/deletedItems/{uid}")).await.status,
        200
    );
    let r = g
        .call(
            "POST",
            &format!("directory/deletedItems/{uid}/restore"),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["@odata.type"], "#microsoft.graph.user");
    assert_eq!(r.body["id"], uid.as_str());
    assert_eq!(g.get(&format!("users/{uid}")).await.status, 200);
    assert_eq!(g.ids(&format!("groups/{dept}/members")).await, members);
    assert_eq!(
        g.call(
            "POST",
            &format!("directory/deletedItems/{uid}/restore"),
            None
        )
        .await
        .status,
        404
    );

    // A Microsoft 365 group is restorable with its links; a security group is gone for good.
    let unified = groups
        .iter()
        .find(|x| {
            x["groupTypes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t == "Unified")
        })
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let links = g.ids(&format!("groups/{unified}/members")).await;
    assert_eq!(
        g.call("DELETE", &format!("groups/{unified}"), None)
            .await
            .status,
        204
    );
    assert!(g
        .ids("directory/deletedItems/microsoft.graph.group")
        .await
        .contains(&unified));
    assert_eq!(
        g.call(
            "POST",
            &format!("directory/deletedItems/{unified}/restore"),
            None
        )
        .await
        .status,
        200
    );
    assert_eq!(g.ids(&format!("groups/{unified}/members")).await, links);
    assert_eq!(
        g.call("DELETE", &format!("groups/{dept}"), None)
            .await
            .status,
        204
    );
    assert!(!g
        .ids("directory/deletedItems/microsoft.graph.group")
        .await
        .contains(&dept));
    assert_eq!(
        g.call(
            "POST",
            &format!("directory/deletedItems/{dept}/restore"),
            None
        )
        .await
        .status,
        404
    );

    // CA policies are deleted permanently.
    let ca = first_id(&g, "identity/conditionalAccess/policies").await;
    assert_eq!(
        g.call(
            "DELETE",
            &format!("identity/conditionalAccess/policies/{ca}"),
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(
        g.get(&format!("directory/deletedItems/{ca}")).await.status,
        404
    );
    assert_eq!(g.get("directory/deletedItems").await.status, 400);
}

#[tokio::test]
async fn create_answers_201_with_server_side_properties() {
    let g = tenant().await;
    let r = g.call("POST", "users", Some(json!({"accountEnabled": true, "displayName": "Ada", "mailNickname": "ada", "userPrincipalName": "ada@contoso.example"}))).await;
    assert_eq!(r.status, 400, "passwordProfile is required");
    let body = json!({"accountEnabled": true, "displayName": "Ada", "mailNickname": "ada", "userPrincipalName": "ada@contoso.example", "passwordProfile": {"password": "Xy!123456789"}});
    let r = g.call("POST", "users", Some(body.clone())).await;
    assert_eq!(r.status, 201);
    // The answer holds the default property set (user-post-users.md); the rest on $select.
    assert!(r.body.get("passwordProfile").is_none(), "never returned");
    let uid = r.body["id"].as_str().unwrap();
    let created = g
        .get(&format!(
            "users/{uid}?$select=createdDateTime,passwordProfile"
        ))
        .await
        .body;
    assert!(created["createdDateTime"].is_string());
    assert!(created["passwordProfile"].is_null(), "never returned");
    assert_eq!(
        g.call("POST", "users", Some(body)).await.status,
        400,
        "userPrincipalName is unique"
    );
    assert_eq!(g.get("users/ada@contoso.example").await.body["id"], uid);

    let r = g.call("POST", "groups", Some(json!({"displayName": "Team", "mailEnabled": false, "mailNickname": "team", "securityEnabled": true, "owners@odata.bind": [format!("https://graph.microsoft.com/v1.0/users/{uid}")]}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let gid = r.body["id"].as_str().unwrap();
    assert_eq!(
        g.ids(&format!("groups/{gid}/owners")).await,
        vec![uid.to_string()]
    );

    let app = g
        .call(
            "POST",
            "applications",
            Some(json!({"displayName": "New app"})),
        )
        .await;
    assert_eq!(app.status, 201);
    let app_id = app.body["appId"].as_str().unwrap();
    let sp = g
        .call("POST", "servicePrincipals", Some(json!({"appId": app_id})))
        .await;
    assert_eq!(sp.status, 201);
    assert_eq!(sp.body["appDisplayName"], "New app");
    assert_eq!(
        g.call(
            "POST",
            "servicePrincipals",
            Some(json!({"appId": "00000000-0000-0000-0000-000000000042"}))
        )
        .await
        .status,
        400
    );
    let nl = g.call("POST", "identity/conditionalAccess/namedLocations", Some(json!({"@odata.type": "#microsoft.graph.countryNamedLocation", "displayName": "Nordics", "countriesAndRegions": ["NO", "SE"], "includeUnknownCountriesAndRegions": false}))).await;
    assert_eq!(nl.status, 201);
    assert_eq!(
        nl.body["@odata.type"],
        "#microsoft.graph.countryNamedLocation"
    );
    assert_eq!(
        g.call("POST", "policies/authorizationPolicy", Some(json!({})))
            .await
            .status,
        405
    );
}
