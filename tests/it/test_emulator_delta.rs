//! Delta queries in the Graph emulator, over HTTP: the initial round against the list read, and
//! later rounds after creates, updates (full and `Prefer: return=minimal`), renames, soft
//! deletes, restores and permanent deletes, for every collection delta serves.

use std::collections::BTreeSet;

use crate::common::delta::*;
use crate::common::graph::*;
use serde_json::json;

const SPEC: &str = "users=40,groups=12,members=6,apps=5,policies=1";

#[tokio::test]
async fn the_initial_round_returns_what_the_list_read_returns() {
    let g = Graph::start(small_pages(SPEC, 3, 11)).await;
    for (list, delta) in [
        ("users", "users/delta"),
        ("groups", "groups/delta"),
        ("applications", "applications/delta"),
        ("servicePrincipals", "servicePrincipals/delta"),
        (
            "directory/administrativeUnits",
            "directory/administrativeUnits/delta",
        ),
        ("directory/administrativeUnits", "administrativeUnits/delta"),
    ] {
        let (listed, _) = g.get_all(&format!("{list}?$top=999")).await;
        let r = round(&g, delta).await;
        assert!(listed.len() > 3, "{delta}: enough objects to page");
        assert!(r.pages.len() > 1, "{delta}: small pages make several");
        let got = r.merged();
        assert_eq!(got.len(), listed.len(), "{delta}: every object once merged");
        for item in &listed {
            let id = item["id"].as_str().unwrap();
            let mut d = got[id].clone();
            d.as_object_mut()
                .unwrap()
                .retain(|k, _| !k.ends_with("@delta"));
            // The same properties, never-set ones left out.
            assert_eq!(d, without_nulls(item), "{delta} {id}");
        }
        // Members are tracked by default where Graph tracks them, and are the members.
        if matches!(list, "groups" | "directory/administrativeUnits") {
            for (id, obj) in &got {
                let (added, removed) = link_ids(obj, "members");
                assert!(removed.is_empty());
                let listed: BTreeSet<String> = g
                    .ids(&format!("{list}/{id}/members"))
                    .await
                    .into_iter()
                    .collect();
                assert_eq!(added, listed, "{delta} {id} members");
            }
        }
        let last = r.pages.last().unwrap();
        assert!(
            r.delta_link.contains("/delta?$deltatoken="),
            "{}",
            r.delta_link
        );
        assert!(last["@odata.context"]
            .as_str()
            .unwrap()
            .contains("$metadata#"));
    }
    // Groups and units track members without $select; users, applications and principals none.
    assert!(round(&g, "groups/delta")
        .await
        .items
        .iter()
        .any(|i| i.get("members@delta").is_some()));
    assert!(round(&g, "administrativeUnits/delta")
        .await
        .items
        .iter()
        .any(|i| i.get("members@delta").is_some()));
    for p in [
        "users/delta",
        "applications/delta",
        "servicePrincipals/delta",
    ] {
        let r = round(&g, p).await;
        assert!(
            r.items.iter().all(|i| i
                .as_object()
                .unwrap()
                .keys()
                .all(|k| !k.ends_with("@delta"))),
            "{p}"
        );
    }
}

#[tokio::test]
async fn the_initial_round_selects_and_pages_with_opaque_links() {
    let g = Graph::start(small_pages(SPEC, 7, 100)).await;
    let first = g
        .get("users/delta?$select=displayName,jobTitle,mobilePhone")
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(first.body["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("$metadata#users(displayName,jobTitle,mobilePhone)"));
    let next = first.body["@odata.nextLink"].as_str().unwrap();
    assert!(
        next.starts_with(&format!("{}/v1.0/users/delta?$skiptoken=", g.emu.url())),
        "{next}"
    );
    assert!(
        !next.contains("select") && !next.contains("jobTitle"),
        "{next}"
    );
    assert_eq!(first.body["value"].as_array().unwrap().len(), 7);
    let r = round(&g, "users/delta?$select=displayName,jobTitle,mobilePhone").await;
    assert_eq!(r.items.len(), 40);
    let (listed, _) = g
        .get_all("users?$select=displayName,jobTitle,mobilePhone&$top=999")
        .await;
    let with_phone = listed
        .iter()
        .filter(|u| u["mobilePhone"].is_string())
        .count();
    assert!(
        with_phone > 0 && with_phone < 40,
        "some users have no mobile phone"
    );
    for u in &listed {
        assert_eq!(r.get(u["id"].as_str().unwrap()).unwrap(), without_nulls(u));
    }
    // An object with no mobile phone has no mobilePhone key at all.
    let bare = r
        .items
        .iter()
        .find(|i| i.get("mobilePhone").is_none())
        .unwrap();
    assert_eq!(keys(bare), ["displayName", "id", "jobTitle"]);
    // Selected names are matched like Graph's, case-insensitively.
    let r2 = round(&g, "users/delta?$select=DISPLAYNAME").await;
    assert!(r2.items.iter().all(|i| keys(i) == ["displayName", "id"]));
}

#[tokio::test]
async fn a_later_round_reports_created_and_changed_objects_with_all_selected_properties() {
    let g = Graph::start(config(Some(SPEC))).await;
    let start = round(
        &g,
        "users/delta?$select=displayName,jobTitle,department,mobilePhone",
    )
    .await;
    // Nothing changed: an empty page and a new deltaLink.
    let empty = g.get(&start.delta_link).await;
    assert_eq!(empty.status, 200);
    assert_eq!(empty.body["value"], json!([]));
    let again = empty.body["@odata.deltaLink"].as_str().unwrap();
    assert!(again.contains("$deltatoken="));

    let ids: Vec<String> = g.ids("users").await;
    // Both ways a change reaches a hybrid tenant: a Graph PATCH of a cloud-only user, and
    // Entra Connect for a synced one (Graph refuses to write its on-premises attributes).
    let cloud = cloud_members(&g).await;
    let renamed = &cloud[0];
    let (listed, _) = g
        .get_all("users?$select=id,onPremisesSyncEnabled&$top=999")
        .await;
    let synced: BTreeSet<&str> = listed
        .iter()
        .filter(|u| u["onPremisesSyncEnabled"] == true)
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    // A synced one with a mobile phone, to set it to null.
    let retitled = &start
        .merged()
        .into_iter()
        .find(|(id, u)| u.get("mobilePhone").is_some() && synced.contains(id.as_str()))
        .unwrap()
        .0;
    let untouched = ids
        .iter()
        .find(|i| *i != retitled && *i != renamed)
        .unwrap();
    ok(
        &g,
        "PATCH",
        &format!("users/{renamed}"),
        Some(json!({"displayName": "Renamed Person"})),
    )
    .await;
    g.change_user(
        retitled,
        json!({"jobTitle": "Chief Delta Officer", "mobilePhone": null}),
    )
    .await;
    // A property that is not selected is not tracked: no entry for that user.
    g.change_user(untouched, json!({"officeLocation": "Elsewhere"}))
        .await;
    let new = create_user(&g, "deltanew").await;

    let r = round(&g, &start.delta_link).await;
    assert_eq!(
        r.ids(),
        BTreeSet::from([renamed.clone(), retitled.clone(), new.clone()])
    );
    assert!(r.items.len() == 3, "each once: {:?}", r.items);
    let now = |id: &str| {
        let g = &g;
        let id = id.to_string();
        async move {
            without_nulls(
                &g.get(&format!(
                    "users/{id}?$select=displayName,jobTitle,department,mobilePhone"
                ))
                .await
                .body,
            )
        }
    };
    // Default: every selected property, unchanged ones too; a property set to null is null.
    let mut renamed_now = now(renamed).await;
    renamed_now
        .as_object_mut()
        .unwrap()
        .remove("@odata.context");
    assert_eq!(r.get(renamed).unwrap(), renamed_now);
    let retitled_item = r.get(retitled).unwrap();
    assert_eq!(retitled_item["jobTitle"], "Chief Delta Officer");
    assert!(
        retitled_item
            .as_object()
            .unwrap()
            .contains_key("mobilePhone")
            && retitled_item["mobilePhone"].is_null(),
        "{retitled_item}"
    );
    assert!(retitled_item["displayName"].is_string() && retitled_item["department"].is_string());
    // A created user comes whole, with its never-set properties left out.
    assert_eq!(keys(&r.get(&new).unwrap()), ["displayName", "id"]);
    // The next round starts after this one.
    let after = g.get(&r.delta_link).await;
    assert_eq!(after.body["value"], json!([]));
    // The same deltaLink can be used again and says the same (tokens are snapshots).
    assert_eq!(round(&g, &start.delta_link).await.ids(), r.ids());
}

#[tokio::test]
async fn minimal_returns_only_the_changed_properties_and_nulls() {
    let g = Graph::start(config(Some(SPEC))).await;
    let start = round(
        &g,
        "users/delta?$select=displayName,jobTitle,department,mobilePhone",
    )
    .await;
    let ids: Vec<String> = g.ids("users").await;
    let phone = start
        .merged()
        .into_iter()
        .find(|(_, u)| u.get("mobilePhone").is_some())
        .map(|(id, _)| id)
        .unwrap();
    // Synced users change through Entra Connect, cloud-only ones through a PATCH.
    g.change_user(
        &phone,
        json!({"jobTitle": "Minimalist", "mobilePhone": null}),
    )
    .await;
    let other = ids.iter().find(|i| **i != phone).unwrap();
    g.change_user(other, json!({"displayName": "Only The Name"}))
        .await;
    // Set to the value it has: not a change.
    let same = start.get(&ids[5]).unwrap()["department"].clone();
    if ids[5] != phone && ids[5] != *other {
        g.change_user(&ids[5], json!({"department": same})).await;
    }
    let r = minimal_round(&g, &start.delta_link).await;
    assert_eq!(
        r.get(&phone).unwrap(),
        json!({"id": phone, "jobTitle": "Minimalist", "mobilePhone": null})
    );
    assert_eq!(
        r.get(other).unwrap(),
        json!({"id": other, "displayName": "Only The Name"})
    );
    assert_eq!(r.items.len(), 2, "{:?}", r.items);
    let page = get_prefer(&g, &start.delta_link, Some("return=minimal")).await;
    assert_eq!(page.header("Preference-Applied"), Some("return=minimal"));
    // Without the header the same round has every selected property.
    let full = round(&g, &start.delta_link).await;
    assert_eq!(
        keys(&full.get(other).unwrap()),
        keys(&start.get(other).unwrap())
    );
    // The header does not change the initial round.
    let init = minimal_round(&g, "users/delta?$select=displayName").await;
    assert_eq!(init.items.len(), ids.len());
    assert!(init.items.iter().all(|i| i["displayName"].is_string()));
}

#[tokio::test]
async fn soft_delete_restore_and_purge_come_with_graphs_removed_reasons() {
    let g = Graph::start(config(Some(SPEC))).await;
    let users = round(&g, "users/delta?$select=displayName,jobTitle").await;
    let groups = round(&g, "groups/delta?$select=displayName").await;
    let ids: Vec<String> = g.ids("users").await;
    let (soft, restored, purged) = (&ids[0], &ids[1], &ids[2]);
    ok(&g, "DELETE", &format!("users/{soft}"), None).await;
    ok(&g, "DELETE", &format!("users/{restored}"), None).await;
    ok(
        &g,
        "POST",
        &format!("directory/deletedItems/{restored}/restore"),
        None,
    )
    .await;
    purge(&g, "users", purged).await;
    let security = create_group(&g, "secgone", false).await;
    let m365 = create_group(&g, "m365gone", true).await;

    let r = round(&g, &users.delta_link).await;
    assert_eq!(
        r.get(soft).unwrap(),
        json!({"id": soft, "@removed": {"reason": "changed"}})
    );
    assert_eq!(
        r.get(purged).unwrap(),
        json!({"id": purged, "@removed": {"reason": "deleted"}})
    );
    // A restored object comes back whole.
    let back = r.get(restored).unwrap();
    assert_eq!(
        back["displayName"],
        users.get(restored).unwrap()["displayName"]
    );
    assert!(back.get("@removed").is_none());
    assert_eq!(r.items.len(), 3);

    let mid = round(&g, &groups.delta_link).await;
    assert_eq!(mid.ids(), BTreeSet::from([security.clone(), m365.clone()]));
    ok(&g, "DELETE", &format!("groups/{security}"), None).await;
    ok(&g, "DELETE", &format!("groups/{m365}"), None).await;
    let gr = round(&g, &mid.delta_link).await;
    // Security groups are deleted for good, Microsoft 365 groups go to the recycle bin.
    assert_eq!(gr.get(&security).unwrap()["@removed"]["reason"], "deleted");
    assert_eq!(gr.get(&m365).unwrap()["@removed"]["reason"], "changed");
    // Purging the soft-deleted group later reports it deleted.
    ok(
        &g,
        "DELETE",
        &format!("directory/deletedItems/{m365}"),
        None,
    )
    .await;
    let gone = round(&g, &gr.delta_link).await;
    assert_eq!(gone.get(&m365).unwrap()["@removed"]["reason"], "deleted");
    // Created and deleted within one round: reported deleted (clients ignore unknown ids).
    let brief = create_user(&g, "brief").await;
    purge(&g, "users", &brief).await;
    assert_eq!(
        round(&g, &r.delta_link).await.get(&brief).unwrap()["@removed"]["reason"],
        "deleted"
    );
}

#[tokio::test]
async fn applications_and_service_principals_track_their_properties() {
    let g = Graph::start(config(Some(SPEC))).await;
    let apps = round(&g, "applications/delta?$select=displayName,notes").await;
    let sps = round(
        &g,
        "servicePrincipals/delta?$select=displayName,accountEnabled",
    )
    .await;
    let app_ids: Vec<String> = g.ids("applications").await;
    let sp_ids: Vec<String> = g.ids("servicePrincipals").await;
    ok(
        &g,
        "PATCH",
        &format!("applications/{}", app_ids[0]),
        Some(json!({"notes": "delta"})),
    )
    .await;
    ok(&g, "DELETE", &format!("applications/{}", app_ids[1]), None).await;
    ok(
        &g,
        "PATCH",
        &format!("servicePrincipals/{}", sp_ids[0]),
        Some(json!({"accountEnabled": false})),
    )
    .await;
    let r = minimal_round(&g, &apps.delta_link).await;
    assert_eq!(
        r.get(&app_ids[0]).unwrap(),
        json!({"id": app_ids[0], "notes": "delta"})
    );
    assert_eq!(r.get(&app_ids[1]).unwrap()["@removed"]["reason"], "changed");
    assert_eq!(r.items.len(), 2);
    let s = round(&g, &sps.delta_link).await;
    assert_eq!(s.items.len(), 1);
    assert_eq!(s.items[0]["accountEnabled"], false);
    assert!(s.items[0]["displayName"].is_string());
    // Owners are not tracked for applications: `$select=owners` is not a property.
    let r = g.get("applications/delta?$select=displayName,owners").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "Request_BadRequest");
}

#[tokio::test]
async fn only_the_filtered_ids_are_tracked() {
    let g = Graph::start(config(Some(SPEC))).await;
    let ids: Vec<String> = g.ids("users").await;
    let filter = format!("id eq '{}' or ID EQ '{}'", ids[3], ids[4]);
    let path = format!(
        "users/delta?$select=displayName&$filter={}",
        urlencode(&filter)
    );
    let r = round(&g, &path).await;
    assert_eq!(r.ids(), BTreeSet::from([ids[3].clone(), ids[4].clone()]));
    g.change_user(&ids[3], json!({"displayName": "Filtered"}))
        .await;
    g.change_user(&ids[6], json!({"displayName": "Not filtered"}))
        .await;
    let later = round(&g, &r.delta_link).await;
    assert_eq!(later.ids(), BTreeSet::from([ids[3].clone()]));
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
