//! Incremental snapshots give the tree a full read gives, byte for byte. Rounds of random
//! changes through Graph — creates, updates, renames, soft deletes, restores, hard deletes,
//! member, owner and manager changes — each followed by three reads of the tenant:
//! - `snapshot` in the repository that follows its delta tokens (the incremental path);
//! - `snapshot --full` in a second repository (initial delta rounds);
//! - the library's collection read (`read_tenant`, no delta at all) committed to a third.
//!
//! After every round the three trees must hold the same object files. The changes are drawn
//! from a fixed seed, and a failure names the round and the operations that led to it.

use std::path::Path;

use serde_json::{json, Value};
use tenantgit::emulator::{DeltaConfig, EmulatorConfig, SyntheticSpec};

use crate::common::graph::client_settings;
use crate::common::*;

/// xorshift64*: a fixed sequence of choices, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len())])
    }
}

/// The ids of a collection, as an administrator lists them.
fn ids(h: &TestEnvironment, path: &str) -> Vec<String> {
    let (status, body) = h.graph("GET", &format!("{path}?$select=id&$top=999"), None);
    assert_eq!(status, 200, "{path}: {body}");
    body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect()
}

fn reference(id: &str) -> Value {
    json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}")})
}

/// One random change; returns what it did (for the failure message), or `None` when Graph
/// refused it (a synced user, the last owner …) — refusals change nothing.
fn change(h: &TestEnvironment, rng: &mut Rng, n: usize) -> Option<String> {
    // Graph refuses writes to what Active Directory masters: cloud-only users are changed
    // through Graph, synced ones through the simulated Entra Connect.
    let (status, body) = h.graph(
        "GET",
        "users?$select=id,onPremisesSyncEnabled&$top=999",
        None,
    );
    assert_eq!(status, 200, "{body}");
    let (synced, users): (Vec<&Value>, Vec<&Value>) = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .partition(|u| u["onPremisesSyncEnabled"] == true);
    let id_of = |u: &&Value| u["id"].as_str().unwrap().to_string();
    let synced: Vec<String> = synced.iter().map(id_of).collect();
    let users: Vec<String> = users.iter().map(id_of).collect();
    // Groups Graph lets an administrator change: cloud-only, not dynamic, not mail-enabled.
    let (status, body) = h.graph(
        "GET",
        "groups?$select=id,onPremisesSyncEnabled,groupTypes,mailEnabled&$top=999",
        None,
    );
    assert_eq!(status, 200, "{body}");
    let groups: Vec<String> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| {
            g["onPremisesSyncEnabled"] != true
                && g["mailEnabled"] != true
                && !g["groupTypes"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t == "DynamicMembership"))
        })
        .map(|g| g["id"].as_str().unwrap().to_string())
        .collect();
    let apps = ids(h, "applications");
    let units = ids(h, "directory/administrativeUnits");
    let deleted_users = ids(h, "directory/deletedItems/microsoft.graph.user");
    let user = rng.pick(&users).cloned().unwrap_or_default();
    let other = rng.pick(&users).cloned().unwrap_or_default();
    let group = rng.pick(&groups).cloned().unwrap_or_default();
    if !deleted_users.is_empty() && rng.below(4) == 0 {
        let id = rng.pick(&deleted_users)?;
        let (status, _) = h.graph(
            "POST",
            &format!("directory/deletedItems/{id}/restore"),
            None,
        );
        return (status < 300).then(|| format!("restore {id}"));
    }
    if rng.below(4) == 0 {
        // A change made in Active Directory, synced to Entra.
        let id = rng.pick(&synced)?;
        let set = if rng.below(2) == 0 {
            json!({"department": format!("Dept {n}")})
        } else {
            json!({"displayName": format!("Synced renamed {n}")})
        };
        let resp = reqwest::blocking::Client::new()
            .post(format!("{}/_emulator/sync", h.emulator.url()))
            .json(&json!({"changes": [{"id": id, "set": set}]}))
            .send()
            .expect("sync request");
        return resp.status().is_success().then(|| format!("sync {id}"));
    }
    let (method, path, body): (&str, String, Option<Value>) = match rng.below(17) {
        0 => (
            "POST",
            "users".into(),
            Some(json!({
                "accountEnabled": true,
                "displayName": format!("Random {n}"),
                "mailNickname": format!("random{n}"),
                "userPrincipalName": format!("random{n}@contoso.example"),
                "passwordProfile": {"password": "Aa1!aaaaaaaaaaaa", "forceChangePasswordNextSignIn": true},
                "jobTitle": "New",
            })),
        ),
        1 | 2 => (
            "PATCH",
            format!("users/{user}"),
            Some(json!({"jobTitle": format!("Title {n}"), "department": null})),
        ),
        3 => (
            "PATCH",
            format!("users/{user}"),
            Some(json!({"displayName": format!("Renamed user {n}")})),
        ),
        4 => ("DELETE", format!("users/{user}"), None),
        5 => (
            "POST",
            format!(
                "directory/deletedItems/{}/restore",
                rng.pick(&deleted_users)?
            ),
            None,
        ),
        6 => (
            "DELETE",
            format!("directory/deletedItems/{}", rng.pick(&deleted_users)?),
            None,
        ),
        7 | 8 => (
            "POST",
            format!("groups/{group}/members/$ref"),
            Some(reference(&user)),
        ),
        9 => {
            let (_, body) = h.graph("GET", &format!("groups/{group}/members?$select=id"), None);
            let member = body["value"].as_array()?.first()?["id"]
                .as_str()?
                .to_string();
            (
                "DELETE",
                format!("groups/{group}/members/{member}/$ref"),
                None,
            )
        }
        10 => (
            "PATCH",
            format!("groups/{group}"),
            Some(
                json!({"displayName": format!("Renamed group {n}"), "description": format!("d{n}")}),
            ),
        ),
        11 => (
            "POST",
            format!("groups/{group}/owners/$ref"),
            Some(reference(&user)),
        ),
        12 => (
            "PUT",
            format!("users/{user}/manager/$ref"),
            Some(reference(&other)),
        ),
        13 => ("DELETE", format!("users/{user}/manager/$ref"), None),
        14 => (
            "PATCH",
            format!("applications/{}", rng.pick(&apps)?),
            Some(json!({"displayName": format!("Renamed app {n}"), "notes": format!("n{n}")})),
        ),
        15 => (
            "POST",
            format!(
                "directory/administrativeUnits/{}/members/$ref",
                rng.pick(&units)?
            ),
            Some(reference(&user)),
        ),
        _ => (
            "POST",
            "groups".into(),
            Some(json!({
                "displayName": format!("Random group {n}"),
                "mailEnabled": false,
                "mailNickname": format!("rg{n}"),
                "securityEnabled": true,
                "members@odata.bind": [format!("https://graph.microsoft.com/v1.0/users/{user}")],
            })),
        ),
    };
    let (status, _) = h.graph(method, &path, body);
    (status < 300).then(|| format!("{method} {path}"))
}

/// `path blob` of every object file of a repository's HEAD (settings files left out).
fn object_files(h: &TestEnvironment, repo: &Path) -> String {
    let out = h.git_in(repo, &["ls-tree", "-r", "HEAD"]);
    out.lines()
        .filter(|l| !l.ends_with("tenantgit.toml") && !l.ends_with(".tenantgitignore"))
        .map(|l| l.split_once(' ').map_or(l, |(_, rest)| rest).to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The tenant read by the library's collection read (no delta), committed to a repository.
fn collection_read(h: &TestEnvironment, repo: &Path) {
    let (store, _) = tenantgit::store::Store::open_or_init(repo).expect("a repository");
    let client = tenantgit::graph::GraphClient::new(client_settings(&h.emulator.url())).unwrap();
    let kinds: Vec<&'static tenantgit::schema::KindSpec> =
        tenantgit::schema::kinds().iter().collect();
    let snapshot = h
        .block_on(tenantgit::read::read_tenant(
            &client,
            &kinds,
            &tenantgit::read::NoProgress,
        ))
        .expect("the collection read");
    store
        .commit_snapshot(
            &snapshot,
            &kinds,
            &[],
            &tenantgit::store::CommitOptions::default(),
        )
        .expect("the collection read commits");
}

#[test]
fn incremental_snapshots_equal_full_reads_after_random_changes() {
    // Small delta pages, so that rounds and groups span several pages.
    let h = TestEnvironment::new(EmulatorConfig {
        synthetic: Some(
            "users=40,groups=8,members=6,apps=4,policies=2"
                .parse::<SyntheticSpec>()
                .unwrap(),
        ),
        delta: DeltaConfig {
            page_objects: 7,
            page_links: 5,
            ..DeltaConfig::default()
        },
        ..EmulatorConfig::default()
    });
    let full = h.root().join("full");
    let listed = h.root().join("listed");
    assert_status(&h.run(&["-q", "snapshot"]), 0);
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut done: Vec<String> = Vec::new();
    let mut n = 0;
    for round in 1..=20 {
        for _ in 0..8 {
            n += 1;
            if let Some(what) = change(&h, &mut rng, n) {
                done.push(format!("round {round}: {what}"));
            }
        }
        let out = h.run(&["snapshot"]);
        assert_status(&out, 0);
        assert!(
            out.stderr.contains("changes since the last snapshot"),
            "round {round}: the snapshot followed its tokens\n{}",
            out.stderr
        );
        std::fs::create_dir_all(&full).unwrap();
        assert_status(&h.run_in(&full, &["-q", "snapshot", "--full"]), 0);
        collection_read(&h, &listed);
        let incremental = object_files(&h, &h.repo);
        let history = done.join("\n");
        assert_eq!(
            incremental,
            object_files(&h, &full),
            "round {round}: the incremental tree differs from snapshot --full after:\n{history}"
        );
        assert_eq!(
            incremental,
            object_files(&h, &listed),
            "round {round}: the incremental tree differs from the collection read after:\n{history}"
        );
    }
    // The rounds did what they are meant to test.
    for kind in [
        "POST users",
        "DELETE users/",
        "restore",
        "DELETE directory/deletedItems",
        "/members/$ref",
        "manager/$ref",
        "PATCH groups/",
    ] {
        assert!(
            done.iter().any(|d| d.contains(kind)),
            "no successful {kind} in:\n{}",
            done.join("\n")
        );
    }
}
