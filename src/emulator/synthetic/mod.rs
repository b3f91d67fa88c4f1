//! A generated tenant of any size for demos and benchmarks, deterministic: the same
//! [`SyntheticSpec`] always gives the same objects with the same ids, because everything is
//! drawn from one seeded splitmix64 generator. The shape follows a real company: departments of
//! skewed sizes with one group each, security and Microsoft 365 groups with nested groups and
//! owners, app registrations with their service principals and credential metadata, named
//! locations and conditional access policies that reference all of those.

use serde_json::{json, Map, Value};

mod words;

use super::config::SyntheticSpec;
use super::model::model;
use super::rng::SplitMix64;
use super::state::Tenant;
use words::{APP_WORDS, CITIES, DEPARTMENTS, GIVEN, SURNAMES, TOPICS};

fn date(secs: i64) -> Value {
    let dt = chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default();
    Value::String(dt.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// 2021-01-01T00:00:00Z, the synthetic tenant's birthday.
const EPOCH: i64 = 1_609_459_200;
const DOMAIN: &str = "contoso.example";
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Adds the synthetic tenant to `tenant`.
pub(crate) fn generate(spec: &SyntheticSpec, tenant_id: &str, tenant: &mut Tenant) {
    let m = model();
    let k = |name: &str| {
        m.collection(name)
            .expect("facts.yaml has every generated collection")
    };
    let (users_k, groups_k, apps_k, sps_k, nl_k, ca_k) = (
        k("users"),
        k("groups"),
        k("applications"),
        k("servicePrincipals"),
        k("namedLocations"),
        k("conditionalAccessPolicies"),
    );
    let mut rng = SplitMix64::new(0x7e4a_417a_11e4_0001);
    let total_weight: u32 = DEPARTMENTS.iter().map(|d| d.2).sum();

    // Users, each in one department drawn by weight.
    let mut users: Vec<u32> = Vec::with_capacity(spec.users);
    let mut by_dept: Vec<Vec<u32>> = vec![Vec::new(); DEPARTMENTS.len()];
    for i in 0..spec.users {
        let mut w = rng.below(total_weight as usize) as u32;
        let dept = DEPARTMENTS
            .iter()
            .position(|d| {
                if w < d.2 {
                    true
                } else {
                    w -= d.2;
                    false
                }
            })
            .unwrap_or(0);
        let (dname, dcode, _, titles) = DEPARTMENTS[dept];
        let given = *rng.pick(GIVEN);
        let surname = *rng.pick(SURNAMES);
        let nick = format!("{}.{}.{i}", given.to_lowercase(), surname.to_lowercase());
        let upn = format!("{nick}@{DOMAIN}");
        let (city, state, country, usage, phone) = *rng.pick(CITIES);
        let mut ext = Map::new();
        ext.insert(
            "extensionAttribute1".into(),
            json!(format!("CC-{}", 1000 + rng.below(90) * 10)),
        );
        ext.insert("extensionAttribute2".into(), json!(dcode));
        if rng.chance(0.4) {
            ext.insert(
                "extensionAttribute5".into(),
                json!(format!("L{}", 1 + rng.below(7))),
            );
        }
        if rng.chance(0.1) {
            ext.insert("extensionAttribute10".into(), json!("contractor-badge"));
        }
        let mut props = obj(json!({
            "displayName": format!("{given} {surname}"),
            "userPrincipalName": upn,
            "accountEnabled": !rng.chance(0.03),
            "userType": "Member",
            "givenName": given,
            "surname": surname,
            "mail": upn,
            "mailNickname": nick,
            "jobTitle": rng.pick(titles),
            "department": dname,
            "companyName": "Contoso",
            "employeeId": format!("E{:06}", 100_000 + i),
            "employeeType": if rng.chance(0.08) { "Contractor" } else { "Employee" },
            "employeeHireDate": date(EPOCH - 86_400 * rng.below(3650) as i64),
            "officeLocation": format!("{city} {}", 1 + rng.below(6)),
            "city": city,
            "state": state,
            "country": country,
            "usageLocation": usage,
            "businessPhones": [format!("{phone} {:04}", rng.below(10_000))],
            "preferredLanguage": "en-US",
            "showInAddressList": true,
            "proxyAddresses": [format!("SMTP:{upn}")],
            "identities": [{"signInType": "userPrincipalName", "issuer": DOMAIN, "issuerAssignedId": upn}],
            "onPremisesExtensionAttributes": ext,
            "creationType": null,
            "createdDateTime": date(EPOCH + 600 * i as i64),
        }));
        if rng.chance(0.5) {
            props.insert(
                "mobilePhone".into(),
                json!(format!("{phone} {:04}", rng.below(10_000))),
            );
        }
        let id = rng.guid();
        let slot = tenant.insert(users_k, id, props);
        users.push(slot);
        by_dept[dept].push(slot);
    }

    let pick_users = |rng: &mut SplitMix64, n: usize| -> Vec<u32> {
        if users.is_empty() {
            return Vec::new();
        }
        (0..n).map(|_| users[rng.below(users.len())]).collect()
    };
    let group_props = |rng: &mut SplitMix64,
                       name: &str,
                       description: &str,
                       unified: bool,
                       i: usize| {
        let nick: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_lowercase();
        let nick = format!("{nick}{i}");
        let mut p = obj(json!({
            "displayName": name,
            "description": description,
            "mailNickname": nick,
            "mailEnabled": unified,
            "securityEnabled": !unified || rng.chance(0.3),
            "groupTypes": if unified { json!(["Unified"]) } else { json!([]) },
            "isAssignableToRole": false,
            "securityIdentifier": format!("S-1-12-1-{}-{}-{}-{}", rng.next_u64() as u32, rng.next_u64() as u32, rng.next_u64() as u32, rng.next_u64() as u32),
            "onPremisesSyncEnabled": null,
            "createdDateTime": date(EPOCH + 3_600 * i as i64),
        }));
        if unified {
            let mail = format!("{nick}@{DOMAIN}");
            p.insert(
                "visibility".into(),
                json!(if rng.chance(0.7) { "Private" } else { "Public" }),
            );
            p.insert("proxyAddresses".into(), json!([format!("SMTP:{mail}")]));
            p.insert("mail".into(), json!(mail));
            p.insert("resourceProvisioningOptions".into(), json!(["Team"]));
        }
        p
    };

    // Department groups first: a tenant's most important groups.
    let link = |kind: usize, name: &str| {
        m.collections[kind]
            .link(name)
            .expect("facts.yaml has the generated references")
    };
    let members_k = link(groups_k, "members");
    let owners_k = link(groups_k, "owners");
    let mut groups: Vec<u32> = Vec::with_capacity(spec.groups);
    for (d, (dname, ..)) in DEPARTMENTS.iter().enumerate().take(spec.groups) {
        let props = group_props(
            &mut rng,
            &format!("Dept - {dname}"),
            &format!("Everyone in {dname}"),
            false,
            d,
        );
        let id = rng.guid();
        let slot = tenant.insert(groups_k, id, props);
        let n_owners = 1 + rng.below(2);
        let owners = pick_users(&mut rng, n_owners);
        if let Some(e) = tenant.entry_mut(slot) {
            e.links[members_k].extend(by_dept[d].iter().copied());
            e.links[owners_k].extend(owners);
        }
        groups.push(slot);
    }
    for i in groups.len()..spec.groups {
        let unified = rng.chance(0.3);
        let name = format!("{} {} {i}", rng.pick(APP_WORDS), rng.pick(TOPICS));
        let description = if unified {
            "Collaboration space"
        } else {
            "Access group"
        };
        let props = group_props(&mut rng, &name, description, unified, i);
        let id = rng.guid();
        let slot = tenant.insert(groups_k, id, props);
        let n = if spec.members == 0 {
            0
        } else {
            spec.members / 2 + rng.below(spec.members + 1)
        };
        let mut members = pick_users(&mut rng, n);
        // Some groups nest earlier groups (never a later one, so nesting has no cycles).
        if groups.len() > 1 && rng.chance(0.1) {
            for _ in 0..1 + rng.below(3) {
                members.push(groups[rng.below(groups.len())]);
            }
        }
        let n_owners = 1 + rng.below(2);
        let owners = pick_users(&mut rng, n_owners);
        if let Some(e) = tenant.entry_mut(slot) {
            e.links[members_k].extend(members);
            e.links[owners_k].extend(owners);
        }
        groups.push(slot);
    }

    // App registrations and their service principals.
    let mut sps: Vec<u32> = Vec::with_capacity(spec.apps);
    for i in 0..spec.apps {
        let name = format!(
            "{} {} {i}",
            rng.pick(APP_WORDS),
            rng.pick(&["API", "Web", "Sync", "Connector", "Portal"])
        );
        let app_id = rng.guid();
        let created = EPOCH + 7_200 * i as i64;
        let mut passwords = Vec::new();
        for n in 0..rng.below(3) {
            let start = created + 86_400 * 30 * n as i64;
            passwords.push(json!({
                "customKeyIdentifier": null,
                "displayName": if n == 0 { "CI deployment" } else { "rotation" },
                "endDateTime": date(start + 86_400 * 730),
                "hint": format!("{}{}~", (b'A' + rng.below(26) as u8) as char, rng.below(10)),
                "keyId": rng.guid(),
                "startDateTime": date(start),
            }));
        }
        let mut keys = Vec::new();
        if rng.chance(0.3) {
            let thumb = format!(
                "{:016X}{:016X}{:08X}",
                rng.next_u64(),
                rng.next_u64(),
                rng.next_u64() as u32
            );
            keys.push(json!({
                "customKeyIdentifier": thumb,
                "displayName": format!("CN={}", name.to_lowercase().replace(' ', "-")),
                "endDateTime": date(created + 86_400 * 365),
                "keyId": rng.guid(),
                "startDateTime": date(created),
                "type": "AsymmetricX509Cert",
                "usage": "Verify",
            }));
        }
        let slug = name.to_lowercase().replace(' ', "-");
        let app = obj(json!({
            "displayName": name,
            "appId": app_id,
            "signInAudience": "AzureADMyOrg",
            "identifierUris": [format!("api://{app_id}")],
            "tags": [],
            "web": {"redirectUris": [format!("https://{slug}.{DOMAIN}/signin-oidc")], "homePageUrl": format!("https://{slug}.{DOMAIN}"), "logoutUrl": null, "implicitGrantSettings": {"enableAccessTokenIssuance": false, "enableIdTokenIssuance": rng.chance(0.3)}},
            "requiredResourceAccess": [{"resourceAppId": GRAPH_APP_ID, "resourceAccess": [{"id": "e1fe6dd8-ba31-4d61-89e7-88639da4683d", "type": "Scope"}]}],
            "isFallbackPublicClient": false,
            "keyCredentials": keys,
            "passwordCredentials": passwords,
            "publisherDomain": DOMAIN,
            "createdDateTime": date(created),
        }));
        let app_slot = tenant.insert(apps_k, rng.guid(), app);
        let n_owners = 1 + rng.below(2);
        let owners = pick_users(&mut rng, n_owners);
        if let Some(e) = tenant.entry_mut(app_slot) {
            e.links[link(apps_k, "owners")].extend(owners.iter().copied());
        }
        let sp = obj(json!({
            "displayName": name,
            "appId": app_id,
            "appDisplayName": name,
            "servicePrincipalType": "Application",
            "accountEnabled": true,
            "appRoleAssignmentRequired": rng.chance(0.4),
            "homepage": format!("https://{slug}.{DOMAIN}"),
            "replyUrls": [format!("https://{slug}.{DOMAIN}/signin-oidc")],
            "servicePrincipalNames": [app_id.clone(), format!("api://{app_id}")],
            "tags": ["WindowsAzureActiveDirectoryIntegratedApp"],
            "keyCredentials": [],
            "passwordCredentials": [],
            "appOwnerOrganizationId": tenant_id,
            "signInAudience": "AzureADMyOrg",
        }));
        let sp_slot = tenant.insert(sps_k, rng.guid(), sp);
        if let Some(e) = tenant.entry_mut(sp_slot) {
            e.links[link(sps_k, "owners")].extend(owners);
        }
        sps.push(sp_slot);
    }
    // A few service principals are members of access groups, as automation accounts are.
    for g in groups.iter().skip(DEPARTMENTS.len()).step_by(17) {
        if sps.is_empty() {
            break;
        }
        let sp = sps[rng.below(sps.len())];
        if let Some(e) = tenant.entry_mut(*g) {
            e.links[members_k].insert(sp);
        }
    }

    // Named locations of both types.
    let nl = [
        json!({"@odata.type": "#microsoft.graph.ipNamedLocation", "displayName": "Headquarters network", "isTrusted": true,
               "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "203.0.113.0/24"}, {"@odata.type": "#microsoft.graph.iPv6CidrRange", "cidrAddress": "2001:db8:1::/48"}]}),
        json!({"@odata.type": "#microsoft.graph.ipNamedLocation", "displayName": "Branch offices", "isTrusted": false,
               "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "198.51.100.0/25"}]}),
        json!({"@odata.type": "#microsoft.graph.countryNamedLocation", "displayName": "Blocked countries", "countryLookupMethod": "clientIpAddress",
               "includeUnknownCountriesAndRegions": true, "countriesAndRegions": ["KP", "IR", "SY"]}),
        json!({"@odata.type": "#microsoft.graph.countryNamedLocation", "displayName": "Travel allowed", "countryLookupMethod": "clientIpAddress",
               "includeUnknownCountriesAndRegions": false, "countriesAndRegions": ["CA", "DE", "FR", "GB", "IN", "JP", "US"]}),
    ];
    let mut locations = Vec::new();
    for (i, props) in nl.into_iter().enumerate() {
        let mut props = obj(props);
        props.insert("createdDateTime".into(), date(EPOCH + 86_400 * i as i64));
        props.insert(
            "modifiedDateTime".into(),
            date(EPOCH + 86_400 * (i as i64 + 10)),
        );
        let id = rng.guid();
        locations.push(id.clone());
        tenant.insert(nl_k, id, props);
    }

    // Conditional access policies from the usual templates, referencing real objects.
    let group_id = |t: &Tenant, rng: &mut SplitMix64| -> Vec<String> {
        if groups.is_empty() {
            return Vec::new();
        }
        let g = groups[rng.below(groups.len().min(DEPARTMENTS.len()))];
        t.entry(g).map(|e| vec![e.id.clone()]).unwrap_or_default()
    };
    let break_glass: Vec<String> = users
        .first()
        .and_then(|u| tenant.entry(*u))
        .map(|e| vec![e.id.clone()])
        .unwrap_or_default();
    let states = ["enabled", "enabledForReportingButNotEnforced", "disabled"];
    for i in 0..spec.policies {
        let state = if i < 3 { "enabled" } else { *rng.pick(&states) };
        let users_all = json!({"includeUsers": ["All"], "excludeUsers": break_glass, "includeGroups": [], "excludeGroups": [], "includeRoles": [], "excludeRoles": []});
        let (name, conditions, grant) = match i % 6 {
            0 => (
                "Require MFA for all users",
                json!({"users": users_all, "applications": {"includeApplications": ["All"], "excludeApplications": []}, "clientAppTypes": ["all"]}),
                json!({"operator": "OR", "builtInControls": ["mfa"]}),
            ),
            1 => (
                "Block legacy authentication",
                json!({"users": users_all, "applications": {"includeApplications": ["All"], "excludeApplications": []}, "clientAppTypes": ["exchangeActiveSync", "other"]}),
                json!({"operator": "OR", "builtInControls": ["block"]}),
            ),
            2 => (
                "Require MFA for administrators",
                json!({"users": {"includeUsers": [], "excludeUsers": break_glass, "includeGroups": [], "excludeGroups": [], "includeRoles": ["62e90394-69f5-4237-9190-012177145e10", "194ae4cb-b126-40b2-bd5b-6091b380977d"], "excludeRoles": []},
                  "applications": {"includeApplications": ["All"], "excludeApplications": []}, "clientAppTypes": ["all"]}),
                json!({"operator": "OR", "builtInControls": ["mfa"]}),
            ),
            3 => (
                "Block access from blocked countries",
                json!({"users": users_all, "applications": {"includeApplications": ["All"], "excludeApplications": []}, "clientAppTypes": ["all"],
                  "locations": {"includeLocations": [locations[2]], "excludeLocations": []}}),
                json!({"operator": "OR", "builtInControls": ["block"]}),
            ),
            4 => (
                "Require compliant device for department",
                json!({"users": {"includeUsers": [], "excludeUsers": [], "includeGroups": group_id(tenant, &mut rng), "excludeGroups": [], "includeRoles": [], "excludeRoles": []},
                  "applications": {"includeApplications": ["Office365"], "excludeApplications": []}, "clientAppTypes": ["browser", "mobileAppsAndDesktopClients"],
                  "platforms": {"includePlatforms": ["windows", "macOS"], "excludePlatforms": []}}),
                json!({"operator": "OR", "builtInControls": ["compliantDevice", "domainJoinedDevice"]}),
            ),
            _ => (
                "Require MFA outside trusted networks",
                json!({"users": {"includeUsers": [], "excludeUsers": break_glass, "includeGroups": group_id(tenant, &mut rng), "excludeGroups": [], "includeRoles": [], "excludeRoles": []},
                  "applications": {"includeApplications": ["All"], "excludeApplications": []}, "clientAppTypes": ["all"], "signInRiskLevels": ["high", "medium"],
                  "locations": {"includeLocations": ["All"], "excludeLocations": [locations[0], locations[1]]}}),
                json!({"operator": "OR", "builtInControls": ["mfa"]}),
            ),
        };
        let props = obj(json!({
            "displayName": format!("CA{:03} - {name}", i + 1),
            "state": state,
            "conditions": conditions,
            "grantControls": grant,
            "sessionControls": if i % 6 == 0 { json!({"signInFrequency": {"value": 12, "type": "hours", "isEnabled": true, "authenticationType": "primaryAndSecondaryAuthentication", "frequencyInterval": "timeBased"}}) } else { Value::Null },
            "createdDateTime": date(EPOCH + 86_400 * (20 + i as i64)),
            "modifiedDateTime": date(EPOCH + 86_400 * (40 + i as i64)),
        }));
        tenant.insert(ca_k, rng.guid(), props);
    }

    administrative_units(tenant, &users, &groups);
}

/// One administrative unit per country, holding its users, and the first department group in
/// the first. Its own random stream, so that the rest of the tenant is as it always was.
fn administrative_units(tenant: &mut Tenant, users: &[u32], groups: &[u32]) {
    let m = model();
    let au_k = m
        .collection("administrativeUnits")
        .expect("facts.yaml has administrative units");
    let members = m.collections[au_k]
        .link("members")
        .expect("administrative units have members");
    let mut rng = SplitMix64::new(0x7e4a_417a_11e4_00a0);
    let mut by_country: std::collections::BTreeMap<String, Vec<u32>> = Default::default();
    for &u in users {
        if let Some(country) = tenant.entry(u).and_then(|e| e.str_prop("country")) {
            by_country.entry(country.to_string()).or_default().push(u);
        }
    }
    for (i, (country, people)) in by_country.into_iter().enumerate() {
        let props = obj(json!({
            "displayName": format!("Region - {country}"),
            "description": format!("Users based in {country}, for the regional helpdesk"),
            "visibility": if i % 3 == 2 { json!("HiddenMembership") } else { Value::Null },
        }));
        let slot = tenant.insert(au_k, rng.guid(), props);
        if let Some(e) = tenant.entry_mut(slot) {
            e.links[members].extend(people);
            if i == 0 {
                e.links[members].extend(groups.first().copied());
            }
        }
    }
}
