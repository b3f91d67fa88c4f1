//! A hybrid tenant over HTTP: the simulated Entra Connect (`POST /_emulator/sync`), the reverse
//! lookups (`memberOf`, `ownedObjects`, `directReports`), `$expand` of owners and federated
//! credentials with Graph's limits, `directoryObjects/getByIds` and
//! `getAvailableExtensionProperties`.

use std::collections::HashSet;

use crate::common::graph::*;
use serde_json::{json, Value};

async fn tenant() -> Graph {
    Graph::start(config(Some(
        "users=300,groups=60,members=6,apps=12,policies=6",
    )))
    .await
}

async fn sync(g: &Graph, changes: Value) -> (u16, Value) {
    let r = g
        .http
        .post(format!("{}/_emulator/sync", g.emu.url()))
        .json(&json!({ "changes": changes }))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// Users with the properties the tests look at.
async fn users(g: &Graph) -> Vec<Value> {
    g.get_all("users?$select=id,userType,onPremisesSyncEnabled,department,jobTitle,accountEnabled,onPremisesLastSyncDateTime&$top=999")
        .await
        .0
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

async fn group_named(g: &Graph, name: &str) -> String {
    let (groups, _) = g.get_all("groups?$select=id,displayName&$top=999").await;
    id(groups.iter().find(|x| x["displayName"] == name).unwrap())
}

#[tokio::test]
async fn entra_connect_changes_synced_objects_that_graph_refuses_to() {
    let g = tenant().await;
    let all = users(&g).await;
    let synced: Vec<&Value> = all
        .iter()
        .filter(|u| u["onPremisesSyncEnabled"] == true && u["accountEnabled"] == true)
        .collect();
    let mover = synced
        .iter()
        .find(|u| u["department"] != "Sales")
        .copied()
        .unwrap();
    let uid = id(mover);
    let sales = group_named(&g, "All Sales staff").await;
    assert!(!g
        .ids(&format!("groups/{sales}/members"))
        .await
        .contains(&uid));
    // Graph refuses the change; Entra Connect makes it.
    let r = g
        .call(
            "PATCH",
            &format!("users/{uid}"),
            Some(json!({"department": "Sales"})),
        )
        .await;
    assert_eq!(r.status, 400);
    let boss = id(synced.iter().find(|u| id(u) != uid).unwrap());
    let (status, body) = sync(
        &g,
        json!([{"id": uid, "set": {"department": "Sales", "jobTitle": "Account Executive"}, "manager": boss}]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["changed"], json!([uid]));
    let after = g
        .get(&format!(
            "users/{uid}?$select=department,jobTitle,onPremisesLastSyncDateTime"
        ))
        .await
        .body;
    assert_eq!(
        (after["department"].as_str(), after["jobTitle"].as_str()),
        (Some("Sales"), Some("Account Executive"))
    );
    assert_ne!(
        after["onPremisesLastSyncDateTime"],
        mover["onPremisesLastSyncDateTime"]
    );
    assert_eq!(
        g.get(&format!("users/{uid}/manager")).await.body["id"],
        boss.as_str()
    );
    // The dynamic group follows the new department.
    assert!(g
        .ids(&format!("groups/{sales}/members"))
        .await
        .contains(&uid));
    // Group membership of a synced group.
    let legal = group_named(&g, "Dept - Legal").await;
    let (status, body) = sync(&g, json!([{"id": legal, "addMembers": [uid]}])).await;
    assert_eq!(status, 200, "{body}");
    assert!(g
        .ids(&format!("groups/{legal}/members"))
        .await
        .contains(&uid));
    let (status, _) = sync(&g, json!([{"id": legal, "removeMembers": [uid]}])).await;
    assert_eq!(status, 200);
    assert!(!g
        .ids(&format!("groups/{legal}/members"))
        .await
        .contains(&uid));
    // Removing the manager.
    let (status, _) = sync(&g, json!([{"id": uid, "manager": null}])).await;
    assert_eq!(status, 200);
    assert_eq!(g.get(&format!("users/{uid}/manager")).await.status, 404);
}

#[tokio::test]
async fn entra_connect_touches_only_what_it_synchronizes_and_all_or_nothing() {
    let g = tenant().await;
    let all = users(&g).await;
    let synced = id(all
        .iter()
        .find(|u| u["onPremisesSyncEnabled"] == true)
        .unwrap());
    let before = g
        .get(&format!("users/{synced}?$select=jobTitle"))
        .await
        .body;
    let cloud = cloud_members(&g).await.remove(0);
    for (changes, why) in [
        (
            json!([{"id": synced, "set": {"jobTitle": "X"}}, {"id": cloud, "set": {"jobTitle": "Y"}}]),
            "not synchronized",
        ),
        (
            json!([{"id": synced, "set": {"favouriteColour": "blue"}}]),
            "favouriteColour",
        ),
        (
            json!([{"id": synced, "set": {"accountEnabled": "yes"}}]),
            "accountEnabled",
        ),
        (
            json!([{"id": synced, "manager": cloud}]),
            "not synchronized",
        ),
        (
            json!([{"id": synced, "addMembers": [cloud]}]),
            "only groups",
        ),
        (
            json!([{"id": "11111111-1111-4111-8111-111111111111", "set": {}}]),
            "no live",
        ),
    ] {
        let (status, body) = sync(&g, changes.clone()).await;
        assert_eq!(status, 400, "{changes}");
        assert!(body["error"].as_str().unwrap().contains(why), "{body}");
    }
    let (status, _) = sync(&g, json!({"oops": 1})).await;
    assert_eq!(status, 400);
    // Nothing of a refused sync was applied.
    assert_eq!(
        g.get(&format!("users/{synced}?$select=jobTitle"))
            .await
            .body,
        before
    );
}

#[tokio::test]
async fn reverse_lookups_list_what_refers_to_an_object() {
    let g = tenant().await;
    let legal = group_named(&g, "Dept - Legal").await;
    let member = g.ids(&format!("groups/{legal}/members")).await.remove(0);
    // memberOf: the department group (and the user's administrative unit), paged.
    let (of, pages) = g
        .get_all(&format!(
            "users/{member}/memberOf?$select=id,displayName&$top=1"
        ))
        .await;
    assert!(pages >= 2, "{pages}");
    assert!(of.iter().any(|x| x["id"] == legal.as_str()));
    assert!(of
        .iter()
        .any(|x| x["@odata.type"] == "#microsoft.graph.administrativeUnit"));
    let keys: Vec<&String> = of[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["@odata.type", "id", "displayName"]);
    // directReports: everyone whose manager the user is.
    let manager = g.get(&format!("users/{member}/manager")).await.body;
    let boss = id(&manager);
    let (reports, _) = g
        .get_all(&format!("users/{boss}/directReports?$select=id&$top=5"))
        .await;
    assert!(reports.iter().any(|r| r["id"] == member.as_str()));
    for r in &reports {
        let m = g.get(&format!("users/{}/manager", id(r))).await.body;
        assert_eq!(m["id"], boss.as_str());
    }
    // ownedObjects of a user and of a service principal; memberOf of a service principal and
    // of a nested group.
    let (apps, _) = g
        .get_all("applications?$select=id&$expand=owners($select=id)&$top=999")
        .await;
    let app = &apps[0];
    let owner = id(&app["owners"][0]);
    let owned = g.ids(&format!("users/{owner}/ownedObjects")).await;
    assert!(owned.contains(&id(app)));
    let sp = g.ids("servicePrincipals").await.remove(0);
    let r = g
        .call(
            "POST",
            &format!("applications/{}/owners/$ref", id(app)),
            Some(directory_object(&sp)),
        )
        .await;
    assert_eq!(r.status, 204);
    let cloud = cloud_members(&g).await;
    let outer = cloud_group(&g, "Outer", &cloud[..1], std::slice::from_ref(&sp)).await;
    let inner = cloud_group(&g, "Inner", &cloud[..1], &[]).await;
    let r = g
        .call(
            "POST",
            &format!("groups/{outer}/members/$ref"),
            Some(directory_object(&inner)),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        g.ids(&format!("servicePrincipals/{sp}/ownedObjects")).await,
        [id(app)]
    );
    assert!(g
        .ids(&format!("servicePrincipals/{sp}/memberOf"))
        .await
        .contains(&outer));
    assert_eq!(
        g.ids(&format!("groups/{inner}/memberOf")).await,
        [outer.as_str()]
    );
    let owned_groups = g.ids(&format!("users/{}/ownedObjects", cloud[0])).await;
    assert!(owned_groups.contains(&outer) && owned_groups.contains(&inner));
    // Read-only.
    assert_eq!(
        g.call("POST", &format!("users/{member}/memberOf"), Some(json!({})))
            .await
            .status,
        405
    );
}

#[tokio::test]
async fn owners_and_federated_credentials_expand_with_graphs_limits() {
    let g = tenant().await;
    let (apps, pages) = g
        .get_all("applications?$expand=owners($select=id,displayName),federatedIdentityCredentials&$top=999")
        .await;
    assert_eq!(pages, 1);
    // The registrations asked for and Entra Connect's Tenant Schema Extension App, a system
    // application without owners.
    assert_eq!(apps.len(), 13);
    for a in apps
        .iter()
        .filter(|a| a["displayName"] != "Tenant Schema Extension App")
    {
        let owners = a["owners"].as_array().unwrap();
        assert!(!owners.is_empty());
        let keys: Vec<&String> = owners[0].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["@odata.type", "id", "displayName"]);
        assert!(a["federatedIdentityCredentials"].is_array());
    }
    let with_fic = apps
        .iter()
        .find(|a| {
            !a["federatedIdentityCredentials"]
                .as_array()
                .unwrap()
                .is_empty()
        })
        .expect("an app with a federated credential");
    assert_eq!(
        with_fic["federatedIdentityCredentials"][0]["audiences"],
        json!(["api://AzureADTokenExchange"])
    );
    // One application, and service principals (whose credentials are managed identities').
    let one = g
        .get(&format!(
            "applications/{}?$expand=federatedIdentityCredentials($select=name,subject)",
            id(with_fic)
        ))
        .await
        .body;
    let keys: Vec<&String> = one["federatedIdentityCredentials"][0]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(keys, ["@odata.type", "id", "name", "subject"]);
    let (sps, _) = g
        .get_all("servicePrincipals?$select=id,appId&$expand=owners,federatedIdentityCredentials")
        .await;
    assert!(sps
        .iter()
        .all(|s| s["owners"].is_array() && s["federatedIdentityCredentials"] == json!([])));
    // At most 20 expanded items, without a nextLink.
    let app = id(&apps[0]);
    let (users, _) = g.get_all("users?$select=id&$top=999").await;
    for u in users.iter().take(25) {
        g.call(
            "POST",
            &format!("applications/{app}/owners/$ref"),
            Some(directory_object(&id(u))),
        )
        .await;
    }
    assert!(g.ids(&format!("applications/{app}/owners")).await.len() > 20);
    let one = g
        .get(&format!("applications/{app}?$expand=owners($select=id)"))
        .await
        .body;
    assert_eq!(one["owners"].as_array().unwrap().len(), 20);
    assert!(one.get("owners@odata.nextLink").is_none());
    // A list with $expand holds at most 100 objects a page, whatever $top asks.
    let page = g
        .get("users?$select=id&$expand=manager($select=id)&$top=999")
        .await
        .body;
    assert_eq!(page["value"].as_array().unwrap().len(), 100);
    assert!(page["@odata.nextLink"].is_string());
    // Relationships that are neither references nor contained are not expanded.
    assert_eq!(g.get("applications?$expand=memberOf").await.status, 400);
}

#[tokio::test]
async fn directory_objects_by_ids_and_extension_properties() {
    let g = tenant().await;
    let user = g.ids("users").await.remove(0);
    let group = g.ids("groups").await.remove(0);
    let sp = g.ids("servicePrincipals").await.remove(0);
    let ghost = "11111111-1111-4111-8111-111111111111";
    let r = g
        .call(
            "POST",
            "directoryObjects/getByIds",
            Some(json!({"ids": [user, group, sp, ghost]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let types: Vec<&str> = r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["@odata.type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "#microsoft.graph.user",
            "#microsoft.graph.group",
            "#microsoft.graph.servicePrincipal"
        ]
    );
    let r = g
        .call(
            "POST",
            "directoryObjects/getByIds?$select=id,displayName",
            Some(json!({"ids": [user, group, sp], "types": ["User", "servicePrincipal"]})),
        )
        .await;
    let ids: HashSet<&str> = r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, HashSet::from([user.as_str(), sp.as_str()]));
    let many: Vec<String> = (0..1001).map(|i| format!("{i}")).collect();
    let r = g
        .call(
            "POST",
            "directoryObjects/getByIds",
            Some(json!({"ids": many})),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "Request_BadRequest"));
    let r = g
        .call(
            "POST",
            "directoryObjects/getByIds",
            Some(json!({"ids": [user], "types": ["unicorn"]})),
        )
        .await;
    assert_eq!(r.status, 400);

    // The tenant's directory extension definitions, synced ones filtered out or in: one
    // registered in the cloud, one Entra Connect syncs from Active Directory.
    let r = g
        .call(
            "POST",
            "directoryObjects/getAvailableExtensionProperties",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let all = r.body["value"].as_array().unwrap();
    assert_eq!(all.len(), 2);
    let r = g
        .call(
            "POST",
            "directoryObjects/getAvailableExtensionProperties",
            Some(json!({"isSyncedFromOnPremises": false})),
        )
        .await;
    let defs = r.body["value"].as_array().unwrap();
    assert_eq!(defs.len(), 1);
    let name = defs[0]["name"].as_str().unwrap();
    assert!(name.starts_with("extension_") && name.ends_with("_costCenter"));
    assert_eq!(defs[0]["@odata.type"], "#microsoft.graph.extensionProperty");
    assert_eq!(defs[0]["targetObjects"], json!(["User"]));
    let synced = g
        .call(
            "POST",
            "directoryObjects/getAvailableExtensionProperties",
            Some(json!({"isSyncedFromOnPremises": true})),
        )
        .await;
    let synced = synced.body["value"].as_array().unwrap();
    assert_eq!(synced.len(), 1);
    assert_eq!(synced[0]["appDisplayName"], "Tenant Schema Extension App");
    assert_eq!(synced[0]["isSyncedFromOnPremises"], true);
    let division = synced[0]["name"].as_str().unwrap();
    assert!(division.ends_with("_division"));
    // Every synced member carries its division, nobody else does.
    let (users, _) = g
        .get_all(&format!(
            "users?$select=id,onPremisesSyncEnabled,{division}&$top=999"
        ))
        .await;
    for u in &users {
        assert_eq!(
            u[division].is_string(),
            u["onPremisesSyncEnabled"] == true,
            "{u}"
        );
    }
    // Values are on some users, returned only on $select.
    let (with, _) = g
        .get_all(&format!("users?$select=id,{name}&$top=999"))
        .await;
    assert!(with.iter().filter(|u| u[name].is_string()).count() > 10);
    let plain = g.get("users?$top=5").await.body;
    assert!(plain["value"][0].get(name).is_none());
}

async fn exchange(g: &Graph, changes: Value) -> (u16, Value) {
    let r = g
        .http
        .post(format!("{}/_emulator/exchange", g.emu.url()))
        .json(&json!({ "changes": changes }))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn exchange_online_changes_the_mail_enabled_groups_graph_cannot_write() {
    let g = tenant().await;
    let (groups, _) = g
        .get_all("groups?$select=id,mailEnabled,groupTypes,onPremisesSyncEnabled&$top=999")
        .await;
    let unified = |gr: &Value| {
        gr["groupTypes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "Unified")
    };
    let mail = |synced: bool| {
        groups
            .iter()
            .filter(|gr| {
                gr["mailEnabled"] == true
                    && !unified(gr)
                    && (gr["onPremisesSyncEnabled"] == true) == synced
            })
            .map(id)
            .collect::<Vec<String>>()
    };
    let (cloud, synced) = (mail(false), mail(true));
    let mut target = None;
    for gid in &cloud {
        let members = g.ids(&format!("groups/{gid}/members")).await;
        if !members.is_empty() {
            target = Some((gid.clone(), members));
            break;
        }
    }
    let (gid, members) = target.expect("a cloud mail-enabled group with members");
    // Graph refuses the member removal; Exchange Online makes it.
    let r = g
        .call(
            "DELETE",
            &format!("groups/{gid}/members/{}/$ref", members[0]),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "Request_BadRequest"));
    let (status, body) = exchange(
        &g,
        json!([{"id": gid, "removeMembers": [members[0]], "set": {"description": "Trimmed"}}]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["changed"], json!([gid]));
    let after = g.ids(&format!("groups/{gid}/members")).await;
    assert!(!after.contains(&members[0]));
    assert_eq!(after.len(), members.len() - 1);
    let description = g.get(&format!("groups/{gid}?$select=description")).await;
    assert_eq!(description.body["description"], "Trimmed");
    // A synced mail-enabled group is changed on-premises, not in Exchange Online.
    let (status, body) =
        exchange(&g, json!([{"id": synced[0], "set": {"description": "x"}}])).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("not a cloud mail-enabled"));
}
