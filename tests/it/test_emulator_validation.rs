//! Writes and reads checked against the emulator's own model of Graph, as Graph checks them:
//! unknown properties, read-only properties, values of the wrong type, derived types
//! (`@odata.type`), unknown `$select` names, directory extension attributes that exist only once
//! an application defines them — and the Graph docs' own request samples, which must pass.

use serde_json::{json, Value};

use crate::common::graph::*;

async fn tenant() -> Graph {
    Graph::start(config(Some(
        "users=30,groups=8,members=4,apps=3,policies=3",
    )))
    .await
}

async fn first_id(g: &Graph, path: &str) -> String {
    g.get(&format!("{path}?$top=1&$select=id")).await.body["value"][0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn assert_bad(g: &Graph, method: &str, path: &str, body: Value, message: &str) {
    let r = g.call(method, path, Some(body.clone())).await;
    assert_eq!(r.status, 400, "{method} {path} {body}: {}", r.body);
    assert_eq!(r.code(), "Request_BadRequest", "{body}");
    assert_eq!(r.message(), message, "{body}");
}

#[tokio::test]
async fn writes_are_checked_against_the_model() {
    let g = tenant().await;
    // A cloud-only user: a synced user's profile is mastered in AD.
    let uid = cloud_members(&g).await[0].clone();
    let path = format!("users/{uid}");
    let before = g
        .get(&format!("{path}?$select=jobTitle,accountEnabled"))
        .await
        .body;
    assert_bad(
        &g,
        "PATCH",
        &path,
        json!({"jobTitle": "x", "favouriteColour": "blue"}),
        "Property 'favouriteColour' does not exist as a declared property or extension property.",
    )
    .await;
    for ro in [
        "createdDateTime",
        "creationType",
        "proxyAddresses",
        "onPremisesSyncEnabled",
    ] {
        assert_bad(
            &g,
            "PATCH",
            &path,
            json!({ ro: null }),
            &format!("Property '{ro}' is read-only and cannot be set."),
        )
        .await;
    }
    assert_bad(
        &g,
        "PATCH",
        &path,
        json!({"accountEnabled": "yes"}),
        "Invalid value specified for property 'accountEnabled' of resource 'User'.",
    )
    .await;
    assert_bad(
        &g,
        "PATCH",
        &path,
        json!({"businessPhones": "+1 555 0100"}),
        "Invalid value specified for property 'businessPhones' of resource 'User'.",
    )
    .await;
    assert_bad(
        &g,
        "PATCH",
        &path,
        json!({"employeeHireDate": "last spring"}),
        "Invalid value specified for property 'employeeHireDate' of resource 'User'.",
    )
    .await;
    assert_bad(
        &g,
        "PATCH",
        &path,
        json!({"passwordProfile": {"pasword": "x"}}),
        "The property 'pasword' does not exist on type 'microsoft.graph.passwordProfile'. Make sure to only use property names that are defined by the type or mark the type as open type.",
    )
    .await;
    // Navigation properties are not values.
    let r = g
        .call("PATCH", &path, Some(json!({"manager": {"id": uid}})))
        .await;
    assert_eq!(r.status, 400);
    // Nothing of a rejected write was applied.
    assert_eq!(
        g.get(&format!("{path}?$select=jobTitle,accountEnabled"))
            .await
            .body,
        before
    );
    // What the model allows goes through, in Graph's spelling whatever the case sent.
    let r = g
        .call(
            "PATCH",
            &path,
            Some(
                json!({"JOBTITLE": "Boss", "department": null, "businessPhones": ["+1 555 0100"]}),
            ),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let after = g
        .get(&format!("{path}?$select=jobTitle,businessPhones"))
        .await
        .body;
    assert_eq!(after["jobTitle"], "Boss");

    // Enums, and values nested in complex types.
    let ca = first_id(&g, "identity/conditionalAccess/policies").await;
    let ca_path = format!("identity/conditionalAccess/policies/{ca}");
    assert_bad(
        &g,
        "PATCH",
        &ca_path,
        json!({"state": "on"}),
        "Invalid value specified for property 'state' of resource 'ConditionalAccessPolicy'.",
    )
    .await;
    let r = g
        .call(
            "PATCH",
            &ca_path,
            Some(json!({"conditions": {"clientAppTypes": ["all"], "signInRiskLevels": "high"}})),
        )
        .await;
    assert_eq!(
        r.status, 400,
        "a scalar for a collection inside a complex value"
    );
    assert_eq!(
        g.call("PATCH", &ca_path, Some(json!({"state": "disabled"})))
            .await
            .status,
        204
    );

    // Create: required properties and read-only ones.
    assert_bad(
        &g,
        "POST",
        "groups",
        json!({"displayName": "G", "mailEnabled": false, "securityEnabled": true}),
        "Invalid value specified for property 'mailNickname' of resource 'Group'.",
    )
    .await;
    assert_bad(
        &g,
        "POST",
        "groups",
        json!({"displayName": "G", "mailEnabled": false, "mailNickname": "g", "securityEnabled": true, "securityIdentifier": "S-1"}),
        "Property 'securityIdentifier' is read-only and cannot be set.",
    )
    .await;
    // Create-only: accepted on create, refused on update.
    let r = g
        .call("POST", "groups", Some(json!({"displayName": "Role group", "mailEnabled": false, "mailNickname": "rg", "securityEnabled": true, "isAssignableToRole": true})))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let gid = r.body["id"].as_str().unwrap().to_string();
    assert_bad(
        &g,
        "PATCH",
        &format!("groups/{gid}"),
        json!({"isAssignableToRole": false}),
        "Property 'isAssignableToRole' is read-only and cannot be set.",
    )
    .await;
}

#[tokio::test]
async fn derived_types_need_their_odata_type() {
    let g = tenant().await;
    let (nls, _) = g.get_all("identity/conditionalAccess/namedLocations").await;
    let ip = nls
        .iter()
        .find(|n| n["@odata.type"] == "#microsoft.graph.ipNamedLocation")
        .unwrap();
    let path = format!(
        "identity/conditionalAccess/namedLocations/{}",
        ip["id"].as_str().unwrap()
    );
    // Without @odata.type, or with a property of the other derived type, or an unknown type.
    for body in [
        json!({"displayName": "HQ"}),
        json!({"@odata.type": "#microsoft.graph.ipNamedLocation", "countriesAndRegions": ["DE"]}),
        json!({"@odata.type": "#microsoft.graph.countryNamedLocation", "displayName": "HQ"}),
        json!({"@odata.type": "#microsoft.graph.planetNamedLocation", "displayName": "HQ"}),
        json!({"@odata.type": "#microsoft.graph.ipNamedLocation", "ipRanges": [{"cidrAddress": "10.0.0.0/8"}]}),
    ] {
        let r = g.call("PATCH", &path, Some(body.clone())).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
    }
    // Creating needs a concrete derived type.
    let r = g
        .call(
            "POST",
            "identity/conditionalAccess/namedLocations",
            Some(json!({"displayName": "Plain"})),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = g
        .call(
            "POST",
            "identity/conditionalAccess/namedLocations",
            Some(json!({"@odata.type": "#microsoft.graph.namedLocation", "displayName": "Plain"})),
        )
        .await;
    assert_eq!(r.status, 400);

    // Method configurations: PATCH with the configuration's own type.
    let base = "policies/authenticationMethodsPolicy/authenticationMethodConfigurations";
    for body in [
        json!({"state": "disabled"}),
        json!({"@odata.type": "#microsoft.graph.smsAuthenticationMethodConfiguration", "state": "disabled"}),
        json!({"@odata.type": "#microsoft.graph.fido2AuthenticationMethodConfiguration", "isAttestationEnforced": "no"}),
        json!({"@odata.type": "#microsoft.graph.fido2AuthenticationMethodConfiguration", "defaultLength": 8}),
    ] {
        let r = g
            .call("PATCH", &format!("{base}/Fido2"), Some(body.clone()))
            .await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
    }
}

#[tokio::test]
async fn select_names_must_exist_on_the_type() {
    let g = tenant().await;
    let r = g.get("users?$select=id,favouriteColour").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "Request_BadRequest");
    assert_eq!(
        r.message(),
        "Could not find a property named 'favouriteColour' on type 'microsoft.graph.user'."
    );
    let gid = first_id(&g, "groups").await;
    let r = g
        .get(&format!("groups/{gid}?$select=id,userPrincipalName"))
        .await;
    assert_eq!(r.status, 400, "a user property is not a group property");
    // Properties Graph has beyond what tenantgit manages are selectable.
    let r = g
        .get("users?$select=id,signInSessionsValidFromDateTime,preferredDataLocation&$top=1")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Without $select, users come with Graph's default property set (user-list.md).
    let sample: Value = serde_json::from_str(
        &std::fs::read_to_string("tests/fixtures/graph-samples/users-list-response.json").unwrap(),
    )
    .unwrap();
    let mut expected: Vec<&String> = sample["value"][0].as_object().unwrap().keys().collect();
    expected.sort();
    let served = g.get("users?$top=1").await.body;
    let mut keys: Vec<&String> = served["value"][0].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, expected);
}

#[tokio::test]
async fn extension_attributes_exist_once_an_application_defines_them() {
    let g = tenant().await;
    let uid = first_id(&g, "users").await;
    let gid = first_id(&g, "groups").await;
    let (apps, _) = g.get_all("applications?$select=id,appId,displayName").await;
    let app = &apps[0];
    let app_path = format!("applications/{}", app["id"].as_str().unwrap());
    let name = format!(
        "extension_{}_skypeId",
        app["appId"].as_str().unwrap().replace('-', "")
    );
    // Not defined yet: unknown to writes and to $select.
    assert_bad(
        &g,
        "PATCH",
        &format!("users/{uid}"),
        json!({ &name: "ada.s" }),
        &format!("Property '{name}' does not exist as a declared property or extension property."),
    )
    .await;
    assert_eq!(
        g.get(&format!("users/{uid}?$select=id,{name}"))
            .await
            .status,
        400
    );

    // The generated tenant's first application may define one already (costCenter).
    let count = |list: Value| list["value"].as_array().unwrap().len();
    let before = count(g.get(&format!("{app_path}/extensionProperties")).await.body);
    let r = g
        .call(
            "POST",
            &format!("{app_path}/extensionProperties"),
            Some(json!({"name": "skypeId", "dataType": "String", "targetObjects": ["User"]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["name"], name.as_str());
    assert_eq!(r.body["appDisplayName"], app["displayName"]);
    assert_eq!(r.body["isSyncedFromOnPremises"], false);
    let def_id = r.body["id"].as_str().unwrap().to_string();
    let list = g.get(&format!("{app_path}/extensionProperties")).await.body;
    assert_eq!(count(list), before + 1);

    // Now users have it (with its data type); groups, not a target, still do not.
    assert_eq!(
        g.call(
            "PATCH",
            &format!("users/{uid}"),
            Some(json!({ &name: "ada.s" }))
        )
        .await
        .status,
        204
    );
    let u = g.get(&format!("users/{uid}?$select=id,{name}")).await;
    assert_eq!(u.status, 200, "{}", u.body);
    assert_eq!(u.body[&name], "ada.s");
    assert_bad(
        &g,
        "PATCH",
        &format!("users/{uid}"),
        json!({ &name: 42 }),
        &format!("Invalid value specified for property '{name}' of resource 'User'."),
    )
    .await;
    assert_eq!(
        g.call(
            "PATCH",
            &format!("groups/{gid}"),
            Some(json!({ &name: "x" }))
        )
        .await
        .status,
        400
    );
    // Deleting the definition makes the name unknown again.
    assert_eq!(
        g.call(
            "DELETE",
            &format!("{app_path}/extensionProperties/{def_id}"),
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(
        g.get(&format!("users/{uid}?$select=id,{name}"))
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn the_graph_docs_request_samples_are_accepted() {
    let g = tenant().await;
    let sample = |name: &str| -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(format!("tests/fixtures/graph-samples/{name}")).unwrap(),
        )
        .unwrap()
    };
    // The group sample updates a Microsoft 365 group; the tenant's groups are synced from AD.
    let created = g
        .call(
            "POST",
            "groups",
            Some(
                json!({"displayName": "Library", "groupTypes": ["Unified"], "mailEnabled": true,
                        "mailNickname": "library", "securityEnabled": false}),
            ),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let gid = created.body["id"].as_str().unwrap().to_string();
    let app = first_id(&g, "applications").await;
    let sp = first_id(&g, "servicePrincipals").await;
    let ca = first_id(&g, "identity/conditionalAccess/policies").await;
    let (nls, _) = g.get_all("identity/conditionalAccess/namedLocations").await;
    let ip = nls
        .iter()
        .find(|n| n["@odata.type"] == "#microsoft.graph.ipNamedLocation")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for (path, file, status) in [
        (format!("groups/{gid}"), "group-update-request.json", 204),
        (
            format!("applications/{app}"),
            "application-update-request.json",
            204,
        ),
        (
            format!("servicePrincipals/{sp}"),
            "serviceprincipal-update-request.json",
            204,
        ),
        (
            format!("identity/conditionalAccess/namedLocations/{ip}"),
            "namedlocation-update-request.json",
            204,
        ),
        (
            format!("identity/conditionalAccess/policies/{ca}"),
            "conditionalaccess-policy-update-request.json",
            204,
        ),
        (
            "policies/authenticationMethodsPolicy".to_string(),
            "authenticationmethodspolicy-update-request.json",
            200,
        ),
        (
            "policies/authorizationPolicy".to_string(),
            "authorizationpolicy-update-request.json",
            204,
        ),
    ] {
        let r = g.call("PATCH", &path, Some(sample(file))).await;
        assert_eq!(r.status, status, "{file}: {}", r.body);
    }
    // authorizationpolicy-update.md lists displayName and description as writable.
    assert_eq!(
        g.call(
            "PATCH",
            "policies/authorizationPolicy",
            Some(json!({"displayName": "Authorization Policy", "description": "d"}))
        )
        .await
        .status,
        204
    );
}
