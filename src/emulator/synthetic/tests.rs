//! The generated tenant has the shape of a hybrid enterprise, counted over the demo tenant's
//! spec: shares of synced, cloud-only and guest users, a manager for every member in a
//! hierarchy without cycles, dynamic groups consistent with their rules, mail-enabled groups,
//! apps with roles, scopes and federated credentials, Microsoft's service principals, CA
//! policies requiring a strength, every method configuration and a directory extension.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::*;
use crate::emulator::dynamic;

fn demo() -> (Tenant, Kinds) {
    let spec: SyntheticSpec = "users=2000,groups=200,members=15,apps=30,policies=12"
        .parse()
        .expect("valid spec");
    let mut t = Tenant::new();
    generate(&spec, "00000000-0000-0000-0000-0000000000e1", &mut t);
    (t, Kinds::new())
}

fn prop<'a>(t: &'a Tenant, slot: u32, name: &str) -> Option<&'a Value> {
    t.entry(slot).and_then(|e| e.props.get(name))
}

fn share(part: usize, whole: usize) -> f64 {
    part as f64 / whole as f64
}

#[test]
fn users_are_mostly_synced_with_guests_and_a_manager_for_every_member() {
    let (t, k) = demo();
    let users: Vec<u32> = t.live(k.users).values().copied().collect();
    assert_eq!(users.len(), 2000);
    let synced: Vec<u32> = users
        .iter()
        .copied()
        .filter(|u| prop(&t, *u, "onPremisesSyncEnabled") == Some(&Value::Bool(true)))
        .collect();
    let guests: Vec<u32> = users
        .iter()
        .copied()
        .filter(|u| prop(&t, *u, "userType").and_then(Value::as_str) == Some("Guest"))
        .collect();
    let s = share(synced.len(), users.len());
    let g = share(guests.len(), users.len());
    assert!((0.80..0.90).contains(&s), "synced share {s}");
    assert!((0.015..0.05).contains(&g), "guest share {g}");
    let cloud = users.len() - synced.len() - guests.len();
    assert!(cloud > 100, "cloud-only members: {cloud}");
    // A synced user carries what Entra Connect writes.
    for u in &synced {
        for p in [
            "onPremisesImmutableId",
            "onPremisesSamAccountName",
            "onPremisesDomainName",
            "onPremisesUserPrincipalName",
            "onPremisesSecurityIdentifier",
            "onPremisesDistinguishedName",
            "onPremisesLastSyncDateTime",
            "onPremisesExtensionAttributes",
        ] {
            assert!(prop(&t, *u, p).is_some(), "synced user without {p}");
        }
    }
    // Guests are invited B2B users.
    for u in &guests {
        let upn = prop(&t, *u, "userPrincipalName")
            .and_then(Value::as_str)
            .unwrap();
        assert!(upn.contains("#EXT#@"), "{upn}");
        assert_eq!(
            prop(&t, *u, "creationType").and_then(Value::as_str),
            Some("Invitation")
        );
        assert!(prop(&t, *u, "externalUserState").is_some());
        assert!(
            t.entry(*u).unwrap().links[k.manager].is_empty(),
            "guests have no manager"
        );
    }
    // Every member but the CEO has a manager; a synced user's manager is synced; following
    // managers always ends at the CEO (no cycles).
    let manager = |u: u32| t.entry(u).unwrap().links[k.manager].iter().next().copied();
    let members: Vec<u32> = users
        .iter()
        .copied()
        .filter(|u| !guests.contains(u))
        .collect();
    let without: Vec<u32> = members
        .iter()
        .copied()
        .filter(|u| manager(*u).is_none())
        .collect();
    assert_eq!(without.len(), 1, "only the CEO has no manager");
    let ceo = without[0];
    assert_eq!(
        prop(&t, ceo, "jobTitle").and_then(Value::as_str),
        Some("Chief Executive Officer")
    );
    let mut reports: BTreeMap<u32, usize> = BTreeMap::new();
    for u in &members {
        if let Some(m) = manager(*u) {
            *reports.entry(m).or_default() += 1;
            if synced.contains(u) {
                assert!(synced.contains(&m), "a synced user's manager is synced");
            }
        }
        let mut cur = *u;
        for _ in 0..10 {
            match manager(cur) {
                Some(m) => cur = m,
                None => break,
            }
        }
        assert_eq!(cur, ceo, "the chain of managers ends at the CEO");
    }
    // Department heads report to executives, who report to the CEO.
    let heads: Vec<u32> = members
        .iter()
        .copied()
        .filter(|u| {
            prop(&t, *u, "jobTitle")
                .and_then(Value::as_str)
                .is_some_and(|x| x.starts_with("Head of"))
        })
        .collect();
    assert!(heads.len() >= 10, "{}", heads.len());
    for h in heads {
        let boss = manager(h).unwrap();
        assert!(boss == ceo || manager(boss) == Some(ceo));
    }
    assert!(
        reports.len() > members.len() / 12,
        "managers: {}",
        reports.len()
    );
}

#[test]
fn groups_are_mostly_synced_with_dynamic_and_mail_enabled_ones() {
    let (t, k) = demo();
    let groups: Vec<u32> = t.live(k.groups).values().copied().collect();
    assert_eq!(groups.len(), 200);
    let is = |g: u32, p: &str, v: Value| prop(&t, g, p) == Some(&v);
    let types = |g: u32| -> Vec<String> {
        prop(&t, g, "groupTypes")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let synced: Vec<u32> = groups
        .iter()
        .copied()
        .filter(|g| is(*g, "onPremisesSyncEnabled", Value::Bool(true)))
        .collect();
    assert!(
        share(synced.len(), groups.len()) > 0.5,
        "synced groups {}",
        synced.len()
    );
    // Synced groups hold only synced members and have no cloud owners.
    for g in &synced {
        let e = t.entry(*g).unwrap();
        assert!(e.links[k.owners].is_empty());
        for m in &e.links[k.members] {
            assert!(
                is(*m, "onPremisesSyncEnabled", Value::Bool(true)),
                "cloud object in a synced group"
            );
        }
    }
    let department_groups = groups
        .iter()
        .filter(|g| {
            prop(&t, **g, "displayName")
                .and_then(Value::as_str)
                .is_some_and(|n| n.starts_with("Dept - "))
        })
        .count();
    assert_eq!(department_groups, DEPARTMENTS_COUNT);
    let mail_enabled_security = groups
        .iter()
        .filter(|g| {
            is(**g, "mailEnabled", Value::Bool(true))
                && is(**g, "securityEnabled", Value::Bool(true))
                && !types(**g).iter().any(|x| x == "Unified")
        })
        .count();
    let distribution = groups
        .iter()
        .filter(|g| {
            is(**g, "mailEnabled", Value::Bool(true))
                && is(**g, "securityEnabled", Value::Bool(false))
                && !types(**g).iter().any(|x| x == "Unified")
        })
        .count();
    let unified = groups
        .iter()
        .filter(|g| types(**g).iter().any(|x| x == "Unified"))
        .count();
    assert!(mail_enabled_security >= 5, "{mail_enabled_security}");
    assert!(distribution >= 3, "{distribution}");
    assert!(unified >= 20, "{unified}");
    // Dynamic groups: rule on, members exactly the users the rule matches.
    let dynamic_groups: Vec<u32> = groups
        .iter()
        .copied()
        .filter(|g| types(*g).iter().any(|x| x == "DynamicMembership"))
        .collect();
    assert_eq!(dynamic_groups.len(), 4);
    for g in dynamic_groups {
        assert!(is(
            g,
            "membershipRuleProcessingState",
            Value::String("On".into())
        ));
        let rule = dynamic::parse(
            prop(&t, g, "membershipRule")
                .and_then(Value::as_str)
                .unwrap(),
        )
        .expect("the rule parses");
        let want: BTreeSet<u32> = t
            .live(k.users)
            .values()
            .copied()
            .filter(|u| rule.matches(&t.entry(*u).unwrap().props))
            .collect();
        assert!(!want.is_empty());
        assert_eq!(t.entry(g).unwrap().links[k.members], want);
    }
    // Some cloud security group has a service principal member.
    let sp_members = groups
        .iter()
        .flat_map(|g| t.entry(*g).unwrap().links[k.members].iter().copied())
        .filter(|m| t.entry(*m).is_some_and(|e| e.kind as usize == k.sps))
        .count();
    assert!(sp_members > 0);
}

const DEPARTMENTS_COUNT: usize = super::words::DEPARTMENTS.len();

#[test]
fn apps_policies_and_extensions_look_like_a_real_tenant() {
    let (t, k) = demo();
    let apps: Vec<u32> = t.live(k.apps).values().copied().collect();
    // The registrations asked for and Entra Connect's Tenant Schema Extension App.
    assert_eq!(apps.len(), 31);
    let roles = |s: u32, p: &str| -> Vec<Value> {
        prop(&t, s, p)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let all_roles: Vec<Value> = apps.iter().flat_map(|a| roles(*a, "appRoles")).collect();
    assert!(all_roles.iter().any(|r| r["isEnabled"] == true));
    assert!(all_roles.iter().any(|r| r["isEnabled"] == false));
    let scopes: Vec<Value> = apps
        .iter()
        .filter_map(|a| prop(&t, *a, "api"))
        .flat_map(|api| {
            api["oauth2PermissionScopes"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    assert!(scopes.len() >= 5, "{}", scopes.len());
    let fics: Vec<&serde_json::Map<String, Value>> = apps
        .iter()
        .flat_map(|a| t.entry(*a).unwrap().children(k.fic))
        .collect();
    assert!(fics.iter().any(|f| f["subject"]
        .as_str()
        .is_some_and(|s| s.starts_with("repo:contoso/") && s.ends_with(":ref:refs/heads/main"))));
    assert!(fics.iter().any(|f| f["subject"]
        .as_str()
        .is_some_and(|s| s.starts_with("system:serviceaccount:"))));
    // Service principals: one per app but Connect's system app, plus Microsoft's, which belong
    // to Microsoft's tenant.
    let sps: Vec<u32> = t.live(k.sps).values().copied().collect();
    let microsoft: Vec<u32> = sps
        .iter()
        .copied()
        .filter(|s| {
            prop(&t, *s, "appOwnerOrganizationId").and_then(Value::as_str)
                == Some(apps::MICROSOFT_TENANT)
        })
        .collect();
    assert_eq!(sps.len(), apps.len() - 1 + microsoft.len());
    let graph = microsoft
        .iter()
        .find(|s| {
            prop(&t, **s, "appId").and_then(Value::as_str)
                == Some("00000003-0000-0000-c000-000000000000")
        })
        .expect("Microsoft Graph's service principal");
    assert!(roles(*graph, "appRoles").len() >= 5);
    // CA policies requiring a built-in strength.
    let strengths = t
        .live(k.ca)
        .values()
        .filter_map(|c| prop(&t, *c, "grantControls"))
        .filter_map(|g| {
            g.pointer("/authenticationStrength/id")
                .and_then(Value::as_str)
        })
        .count();
    assert!(strengths >= 2, "{strengths}");
    // Every v1.0 method configuration.
    let policy = *t.live(k.methods_policy).values().next().unwrap();
    let ids: BTreeSet<&str> = t
        .entry(policy)
        .unwrap()
        .children(k.method_configurations)
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        BTreeSet::from([
            "Email",
            "Fido2",
            "MicrosoftAuthenticator",
            "Sms",
            "SoftwareOath",
            "TemporaryAccessPass",
            "Voice",
            "X509Certificate"
        ])
    );
    // Two directory extensions: one registered in the cloud, with values on some users, and
    // one synced from Active Directory, with values on every synced user and no other.
    let definitions: Vec<&serde_json::Map<String, Value>> = apps
        .iter()
        .flat_map(|a| t.entry(*a).unwrap().children(k.extensions))
        .collect();
    assert_eq!(definitions.len(), 2);
    type Defs<'a> = Vec<&'a serde_json::Map<String, Value>>;
    let (synced, cloud): (Defs, Defs) = definitions
        .into_iter()
        .partition(|d| d["isSyncedFromOnPremises"] == true);
    let name = cloud[0]["name"].as_str().unwrap();
    assert!(name.starts_with("extension_") && name.ends_with("_costCenter"));
    let with_value = t
        .live(k.users)
        .values()
        .filter(|u| prop(&t, **u, name).is_some())
        .count();
    assert!((200..800).contains(&with_value), "{with_value}");
    let division = synced[0]["name"].as_str().unwrap();
    assert!(division.ends_with("_division"));
    assert_eq!(synced[0]["appDisplayName"], "Tenant Schema Extension App");
    for u in t.live(k.users).values() {
        let is_synced = prop(&t, *u, "onPremisesSyncEnabled") == Some(&Value::Bool(true));
        assert_eq!(prop(&t, *u, division).is_some(), is_synced);
    }
}

#[test]
fn tiny_tenants_still_generate() {
    for spec in [
        "users=0,groups=0,members=0,apps=0,policies=0",
        "users=1,groups=1,members=1,apps=1,policies=1",
        "users=5,groups=20,members=3,apps=2,policies=7",
    ] {
        let spec: SyntheticSpec = spec.parse().unwrap();
        let mut t = Tenant::new();
        generate(&spec, "t", &mut t);
        let k = Kinds::new();
        assert_eq!(t.count_live(k.users), spec.users);
        assert_eq!(t.count_live(k.groups), spec.groups);
        // With any application, Entra Connect's Tenant Schema Extension App too.
        assert_eq!(t.count_live(k.apps), spec.apps + usize::from(spec.apps > 0));
    }
}
