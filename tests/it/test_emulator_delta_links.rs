//! Relationships in the emulator's delta queries, over HTTP: `members@delta` of groups and
//! administrative units, `owners@delta` when selected, `manager@delta` of users, removals by
//! unlinking and by the member's own deletion, and large groups spanning pages.

use std::collections::BTreeSet;

use crate::common::delta::*;
use crate::common::graph::*;
use serde_json::json;

const SPEC: &str = "users=40,groups=12,members=6,apps=3,policies=1";

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn member_adds_and_removes_come_as_members_delta() {
    let g = Graph::start(config(Some(SPEC))).await;
    let group = create_group(&g, "team", false).await;
    let (a, b, c) = (
        create_user(&g, "ma").await,
        create_user(&g, "mb").await,
        create_user(&g, "mc").await,
    );
    add_ref(&g, &format!("groups/{group}"), "members", &a).await;
    add_ref(&g, &format!("groups/{group}"), "members", &b).await;
    let start = round(&g, "groups/delta?$select=displayName,members").await;
    let (members, _) = link_ids(&start.get(&group).unwrap(), "members");
    assert_eq!(members, set(&[&a, &b]));

    add_ref(&g, &format!("groups/{group}"), "members", &c).await;
    ok(
        &g,
        "DELETE",
        &format!("groups/{group}/members/{a}/$ref"),
        None,
    )
    .await;
    // Added and removed again within the round: no net change, no entry.
    let d = create_user(&g, "md").await;
    add_ref(&g, &format!("groups/{group}"), "members", &d).await;
    ok(
        &g,
        "DELETE",
        &format!("groups/{group}/members/{d}/$ref"),
        None,
    )
    .await;
    let r = round(&g, &start.delta_link).await;
    let item = r.get(&group).unwrap();
    assert_eq!(
        item["displayName"], "Group team",
        "default: properties come too"
    );
    let (added, removed) = link_ids(&item, "members");
    assert_eq!((added, removed), (set(&[&c]), set(&[&a])));
    let entries = item["members@delta"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert!(entries.contains(
        &json!({"@odata.type": "#microsoft.graph.user", "id": a, "@removed": {"reason": "deleted"}})
    ));
    assert!(entries.contains(&json!({"@odata.type": "#microsoft.graph.user", "id": c})));
    // Minimal: only the membership changes, no properties.
    let m = minimal_round(&g, &start.delta_link).await;
    assert_eq!(keys(&m.get(&group).unwrap()), ["id"]);
    assert_eq!(link_ids(&m.get(&group).unwrap(), "members").0, set(&[&c]));
    // Without members in $select membership is not tracked.
    let plain = round(&g, "groups/delta?$select=displayName").await;
    add_ref(&g, &format!("groups/{group}"), "members", &a).await;
    assert!(round(&g, &plain.delta_link).await.items.is_empty());
}

#[tokio::test]
async fn a_deleted_member_leaves_its_groups_when_purged_as_graph_reports_it() {
    let g = Graph::start(config(Some(SPEC))).await;
    let group = create_group(&g, "keep", false).await;
    let (soft, hard, restored) = (
        create_user(&g, "soft").await,
        create_user(&g, "hard").await,
        create_user(&g, "back").await,
    );
    for u in [&soft, &hard, &restored] {
        add_ref(&g, &format!("groups/{group}"), "members", u).await;
    }
    let start = round(&g, "groups/delta?$select=displayName,members").await;
    // Soft-deleted users keep their group memberships for delta and do not appear until they
    // are deleted for good (concepts/delta-query-groups.md), although the members list no
    // longer shows them.
    ok(&g, "DELETE", &format!("users/{soft}"), None).await;
    ok(&g, "DELETE", &format!("users/{restored}"), None).await;
    ok(
        &g,
        "POST",
        &format!("directory/deletedItems/{restored}/restore"),
        None,
    )
    .await;
    purge(&g, "users", &hard).await;
    let listed: BTreeSet<String> = g
        .ids(&format!("groups/{group}/members"))
        .await
        .into_iter()
        .collect();
    assert_eq!(listed, set(&[&restored]));
    let r = round(&g, &start.delta_link).await;
    assert_eq!(r.ids(), set(&[&group]));
    assert_eq!(
        link_ids(&r.get(&group).unwrap(), "members"),
        (BTreeSet::new(), set(&[&hard]))
    );
    // A new initial round still holds the soft-deleted member.
    let fresh = round(&g, "groups/delta?$select=members").await;
    assert_eq!(
        link_ids(&fresh.get(&group).unwrap(), "members").0,
        set(&[&soft, &restored])
    );
    // Its purge is the removal.
    ok(
        &g,
        "DELETE",
        &format!("directory/deletedItems/{soft}"),
        None,
    )
    .await;
    let later = round(&g, &r.delta_link).await;
    assert_eq!(
        link_ids(&later.get(&group).unwrap(), "members"),
        (BTreeSet::new(), set(&[&soft]))
    );
    assert!(round(&g, &fresh.delta_link).await.get(&group).is_some());
}

#[tokio::test]
async fn a_restored_group_comes_back_whole_with_its_members() {
    let g = Graph::start(config(Some(SPEC))).await;
    let group = create_group(&g, "phoenix", true).await;
    let (a, b) = (create_user(&g, "pa").await, create_user(&g, "pb").await);
    add_ref(&g, &format!("groups/{group}"), "members", &a).await;
    add_ref(&g, &format!("groups/{group}"), "members", &b).await;
    let start = round(&g, "groups/delta?$select=displayName,description,members").await;
    ok(&g, "DELETE", &format!("groups/{group}"), None).await;
    let gone = minimal_round(&g, &start.delta_link).await;
    assert_eq!(
        gone.get(&group).unwrap(),
        json!({"id": group, "@removed": {"reason": "changed"}})
    );
    ok(
        &g,
        "POST",
        &format!("directory/deletedItems/{group}/restore"),
        None,
    )
    .await;
    // Even under return=minimal: every property it has and every member.
    let back = minimal_round(&g, &gone.delta_link).await;
    let item = back.get(&group).unwrap();
    assert_eq!(item["displayName"], "Group phoenix");
    assert!(item.get("description").is_none(), "never set: left out");
    assert_eq!(
        link_ids(&item, "members"),
        (set(&[&a, &b]), BTreeSet::new())
    );
    // A created one too.
    let fresh = create_group(&g, "fresh", false).await;
    add_ref(&g, &format!("groups/{fresh}"), "members", &a).await;
    ok(
        &g,
        "PATCH",
        &format!("groups/{fresh}"),
        Some(json!({"description": "new"})),
    )
    .await;
    let created = minimal_round(&g, &back.delta_link).await;
    let item = created.get(&fresh).unwrap();
    assert_eq!(
        (item["displayName"].as_str(), item["description"].as_str()),
        (Some("Group fresh"), Some("new"))
    );
    assert_eq!(link_ids(&item, "members").0, set(&[&a]));
}

#[tokio::test]
async fn owners_are_tracked_when_selected() {
    let g = Graph::start(config(Some(SPEC))).await;
    let group = create_group(&g, "owned", false).await;
    let (a, b) = (create_user(&g, "oa").await, create_user(&g, "ob").await);
    add_ref(&g, &format!("groups/{group}"), "owners", &a).await;
    let start = round(&g, "groups/delta?$select=displayName,owners").await;
    let item = start.get(&group).unwrap();
    assert_eq!(link_ids(&item, "owners").0, set(&[&a]));
    assert!(item.get("members@delta").is_none(), "members not selected");
    assert!(start.pages[0]["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("groups(displayName,owners)"));
    add_ref(&g, &format!("groups/{group}"), "owners", &b).await;
    ok(
        &g,
        "DELETE",
        &format!("groups/{group}/owners/{a}/$ref"),
        None,
    )
    .await;
    let r = minimal_round(&g, &start.delta_link).await;
    assert_eq!(
        link_ids(&r.get(&group).unwrap(), "owners"),
        (set(&[&b]), set(&[&a]))
    );
    // Owners are not tracked by default.
    let members_only = round(&g, "groups/delta").await;
    add_ref(&g, &format!("groups/{group}"), "owners", &a).await;
    assert!(round(&g, &members_only.delta_link)
        .await
        .get(&group)
        .is_none());
}

#[tokio::test]
async fn manager_changes_come_as_manager_delta() {
    let g = Graph::start(config(Some(SPEC))).await;
    let (who, m1, m2) = (
        create_user(&g, "report").await,
        create_user(&g, "boss1").await,
        create_user(&g, "boss2").await,
    );
    ok(
        &g,
        "PUT",
        &format!("users/{who}/manager/$ref"),
        Some(directory_object(&m1)),
    )
    .await;
    let start = round(&g, "users/delta?$select=displayName,manager").await;
    assert_eq!(
        start.get(&who).unwrap()["manager@delta"],
        json!([{"@odata.type": "#microsoft.graph.user", "id": m1}])
    );
    assert!(
        start.get(&m1).unwrap().get("manager@delta").is_none(),
        "no manager, no entry"
    );
    ok(
        &g,
        "PUT",
        &format!("users/{who}/manager/$ref"),
        Some(directory_object(&m2)),
    )
    .await;
    let r = round(&g, &start.delta_link).await;
    assert_eq!(r.ids(), set(&[&who]));
    assert_eq!(
        link_ids(&r.get(&who).unwrap(), "manager"),
        (set(&[&m2]), set(&[&m1]))
    );
    ok(&g, "DELETE", &format!("users/{who}/manager/$ref"), None).await;
    let gone = minimal_round(&g, &r.delta_link).await;
    assert_eq!(
        gone.get(&who).unwrap(),
        json!({"id": who, "manager@delta": [{"@odata.type": "#microsoft.graph.user", "id": m2, "@removed": {"reason": "deleted"}}]})
    );
    // The manager's permanent deletion is a removal too; without manager in $select, nothing.
    ok(
        &g,
        "PUT",
        &format!("users/{who}/manager/$ref"),
        Some(directory_object(&m1)),
    )
    .await;
    let untracked = round(&g, "users/delta?$select=displayName").await;
    let tracked = round(&g, "users/delta?$select=displayName,manager").await;
    purge(&g, "users", &m1).await;
    let u = round(&g, &untracked.delta_link).await;
    assert_eq!(u.ids(), set(&[&m1]));
    let t = round(&g, &tracked.delta_link).await;
    assert_eq!(link_ids(&t.get(&who).unwrap(), "manager").1, set(&[&m1]));
    assert_eq!(t.get(&m1).unwrap()["@removed"]["reason"], "deleted");
}

#[tokio::test]
async fn administrative_units_track_members() {
    let g = Graph::start(config(Some(SPEC))).await;
    let start = round(&g, "directory/administrativeUnits/delta").await;
    let unit = start.ids().into_iter().next().unwrap();
    let u = create_user(&g, "regional").await;
    add_ref(
        &g,
        &format!("directory/administrativeUnits/{unit}"),
        "members",
        &u,
    )
    .await;
    let r = round(&g, &start.delta_link).await;
    assert!(r
        .delta_link
        .contains("/directory/administrativeUnits/delta?"));
    assert_eq!(link_ids(&r.get(&unit).unwrap(), "members").0, set(&[&u]));
    // The same token works on the top-level path Graph also documents.
    let top = start.delta_link.replace(
        "/directory/administrativeUnits/delta",
        "/administrativeUnits/delta",
    );
    assert_eq!(round(&g, &top).await.ids(), set(&[&unit]));
}

#[tokio::test]
async fn a_large_group_spans_pages_each_repeating_it_with_another_slice_of_members() {
    // Three objects and five relationship entries per page.
    let g = Graph::start(small_pages(SPEC, 3, 5)).await;
    let big = create_group(&g, "big", false).await;
    let mut users = Vec::new();
    for i in 0..12 {
        let u = create_user(&g, &format!("big{i}")).await;
        add_ref(&g, &format!("groups/{big}"), "members", &u).await;
        users.push(u);
    }
    let path = format!("groups/delta?$select=displayName,members&$filter=id%20eq%20'{big}'");
    let r = round(&g, &path).await;
    // An object may come several times in a round: clients merge.
    assert_eq!(r.count(&big), 3, "12 members, 5 a page");
    for (i, page) in r.pages.iter().enumerate() {
        let v = page["value"].as_array().unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(
            v[0]["displayName"], "Group big",
            "page {i} repeats the properties"
        );
        assert!(v[0]["members@delta"].as_array().unwrap().len() <= 5);
    }
    let (all, removed) = link_ids(&r.get(&big).unwrap(), "members");
    assert!(removed.is_empty());
    assert_eq!(all, users.iter().cloned().collect::<BTreeSet<_>>());
    assert_eq!(
        r.get(&big).unwrap()["members@delta"]
            .as_array()
            .unwrap()
            .len(),
        12,
        "no entry twice"
    );

    // The whole tenant: every group whole after merging, members as listed.
    let every = round(&g, "groups/delta").await;
    for (id, obj) in every.merged() {
        let listed: BTreeSet<String> = g
            .ids(&format!("groups/{id}/members"))
            .await
            .into_iter()
            .collect();
        assert_eq!(link_ids(&obj, "members").0, listed, "{id}");
    }
    assert!(every.pages.iter().all(|p| {
        p["value"].as_array().unwrap().len() <= 3
            && p["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["members@delta"].as_array().map_or(0, Vec::len))
                .sum::<usize>()
                <= 5
    }));

    // Later rounds page the same way.
    for u in &users[..7] {
        ok(
            &g,
            "DELETE",
            &format!("groups/{big}/members/{u}/$ref"),
            None,
        )
        .await;
    }
    let later = round(&g, &r.delta_link).await;
    assert_eq!(later.count(&big), 2);
    assert_eq!(
        link_ids(&later.get(&big).unwrap(), "members").1,
        users[..7].iter().cloned().collect::<BTreeSet<_>>()
    );
}

#[tokio::test]
async fn members_added_while_a_round_pages_are_not_lost() {
    let g = Graph::start(small_pages(SPEC, 50, 4)).await;
    let big = create_group(&g, "moving", false).await;
    let mut users = Vec::new();
    for i in 0..10 {
        let u = create_user(&g, &format!("mv{i}")).await;
        add_ref(&g, &format!("groups/{big}"), "members", &u).await;
        users.push(u);
    }
    let path = format!("groups/delta?$select=members&$filter=id%20eq%20'{big}'");
    let first = g.get(&path).await;
    let shown: Vec<String> = first.body["value"][0]["members@delta"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    // Between pages: one member leaves, one joins.
    let gone = users.iter().find(|u| !shown.contains(u)).unwrap().clone();
    ok(
        &g,
        "DELETE",
        &format!("groups/{big}/members/{gone}/$ref"),
        None,
    )
    .await;
    let late = create_user(&g, "late").await;
    add_ref(&g, &format!("groups/{big}"), "members", &late).await;
    let rest = round(&g, first.body["@odata.nextLink"].as_str().unwrap()).await;
    let mut items = first.body["value"].as_array().unwrap().clone();
    items.extend(rest.items.clone());
    let mut state = link_ids(&merge(&items)[&big], "members").0;
    // The next round brings whatever the paging could not see.
    let next = round(&g, &rest.delta_link).await;
    let (added, removed) = link_ids(&next.get(&big).unwrap(), "members");
    state.extend(added);
    state.retain(|m| !removed.contains(m));
    let listed: BTreeSet<String> = g
        .ids(&format!("groups/{big}/members"))
        .await
        .into_iter()
        .collect();
    assert_eq!(state, listed);
}
