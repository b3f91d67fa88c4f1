//! The policies of a generated tenant: named locations of both types; conditional access
//! policies from the usual templates, referencing real users, groups and locations, some
//! requiring a built-in authentication strength (`grantControls.authenticationStrength` by id,
//! GRAPH.md A.16); the authentication methods policy with every method configuration v1.0 has,
//! configured as a hybrid enterprise would (targets on real groups); and one administrative unit
//! per country.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::groups::Groups;
use super::people::People;
use super::words::DEPARTMENTS;
use super::{date, obj, set_children, Kinds, EPOCH};
use crate::emulator::config::SyntheticSpec;
use crate::emulator::rng::SplitMix64;
use crate::emulator::state::Tenant;

/// Built-in authentication strengths (authenticationstrengthroot-list-policies.md @028b8e35).
const STRENGTH_MFA: &str = "00000000-0000-0000-0000-000000000002";
const STRENGTH_PHISHING_RESISTANT: &str = "00000000-0000-0000-0000-000000000004";

pub(super) fn generate(
    spec: &SyntheticSpec,
    k: &Kinds,
    rng: &mut SplitMix64,
    tenant: &mut Tenant,
    people: &People,
    groups: &Groups,
) {
    let locations = named_locations(k, rng, tenant);
    conditional_access(spec, k, rng, tenant, people, groups, &locations);
    methods_policy(k, tenant, groups);
    administrative_units(k, tenant, &people.all, &groups.departments);
}

fn named_locations(k: &Kinds, rng: &mut SplitMix64, tenant: &mut Tenant) -> Vec<String> {
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
        tenant.insert(k.named_locations, id, props);
    }
    locations
}

/// Conditional access policies from the usual templates, referencing real objects.
fn conditional_access(
    spec: &SyntheticSpec,
    k: &Kinds,
    rng: &mut SplitMix64,
    tenant: &mut Tenant,
    people: &People,
    groups: &Groups,
    locations: &[String],
) {
    let group_id = |t: &Tenant, rng: &mut SplitMix64| -> Vec<String> {
        if groups.departments.is_empty() {
            return Vec::new();
        }
        let g = groups.departments[rng.below(groups.departments.len())];
        t.entry(g).map(|e| vec![e.id.clone()]).unwrap_or_default()
    };
    let break_glass: Vec<String> = people
        .break_glass
        .and_then(|u| tenant.entry(u))
        .map(|e| vec![e.id.clone()])
        .unwrap_or_default();
    let strength = |id: &str| json!({"operator": "OR", "builtInControls": [], "authenticationStrength": {"id": id}});
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
                "Require phishing-resistant MFA for administrators",
                json!({"users": {"includeUsers": [], "excludeUsers": break_glass, "includeGroups": [], "excludeGroups": [], "includeRoles": ["62e90394-69f5-4237-9190-012177145e10", "194ae4cb-b126-40b2-bd5b-6091b380977d"], "excludeRoles": []},
                  "applications": {"includeApplications": ["All"], "excludeApplications": []}, "clientAppTypes": ["all"]}),
                strength(STRENGTH_PHISHING_RESISTANT),
            ),
            3 => (
                "Block access from blocked countries",
                json!({"users": users_all, "applications": {"includeApplications": ["All"], "excludeApplications": []}, "clientAppTypes": ["all"],
                  "locations": {"includeLocations": [locations[2]], "excludeLocations": []}}),
                json!({"operator": "OR", "builtInControls": ["block"]}),
            ),
            4 => (
                "Require compliant device for department",
                json!({"users": {"includeUsers": [], "excludeUsers": [], "includeGroups": group_id(tenant, rng), "excludeGroups": [], "includeRoles": [], "excludeRoles": []},
                  "applications": {"includeApplications": ["Office365"], "excludeApplications": []}, "clientAppTypes": ["browser", "mobileAppsAndDesktopClients"],
                  "platforms": {"includePlatforms": ["windows", "macOS"], "excludePlatforms": []}}),
                json!({"operator": "OR", "builtInControls": ["compliantDevice", "domainJoinedDevice"]}),
            ),
            _ => (
                "Require MFA strength outside trusted networks",
                json!({"users": {"includeUsers": [], "excludeUsers": break_glass, "includeGroups": group_id(tenant, rng), "excludeGroups": [], "includeRoles": [], "excludeRoles": []},
                  "applications": {"includeApplications": ["All"], "excludeApplications": []}, "clientAppTypes": ["all"], "signInRiskLevels": ["high", "medium"],
                  "locations": {"includeLocations": ["All"], "excludeLocations": [locations[0], locations[1]]}}),
                strength(STRENGTH_MFA),
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
        tenant.insert(k.ca, rng.guid(), props);
    }
}

/// The authentication methods policy with all eight v1.0 method configurations, as a hybrid
/// enterprise runs it: passkeys and the Authenticator for everyone, temporary access passes
/// for IT, certificates for the synced accounts' smart cards, SMS and voice off.
fn methods_policy(k: &Kinds, tenant: &mut Tenant, groups: &Groups) {
    let group = |d: usize| -> String {
        groups
            .departments
            .get(d)
            .and_then(|g| tenant.entry(*g))
            .map_or_else(|| "all_users".to_string(), |e| e.id.clone())
    };
    let it = group(DEPARTMENTS.iter().position(|d| d.0 == "IT").unwrap_or(0));
    let all = json!({"id": "all_users", "targetType": "group", "isRegistrationRequired": false});
    let configurations = [
        json!({"@odata.type": "#microsoft.graph.fido2AuthenticationMethodConfiguration", "id": "Fido2", "state": "enabled",
               "isSelfServiceRegistrationAllowed": true, "isAttestationEnforced": true,
               "keyRestrictions": {"isEnforced": true, "enforcementType": "allow", "aaGuids": ["cb69481e-8ff7-4039-93ec-0a2729a154a8", "ee882879-721c-4913-9775-3dfcce97072a"]},
               "excludeTargets": [], "includeTargets": [all]}),
        json!({"@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethodConfiguration", "id": "MicrosoftAuthenticator", "state": "enabled",
               "isSoftwareOathEnabled": false,
               "featureSettings": {
                   "displayAppInformationRequiredState": {"state": "enabled", "includeTarget": {"id": "all_users", "targetType": "group"}, "excludeTarget": {"id": "00000000-0000-0000-0000-000000000000", "targetType": "group"}},
                   "displayLocationInformationRequiredState": {"state": "enabled", "includeTarget": {"id": "all_users", "targetType": "group"}, "excludeTarget": {"id": "00000000-0000-0000-0000-000000000000", "targetType": "group"}}},
               "excludeTargets": [], "includeTargets": [{"id": "all_users", "targetType": "group", "isRegistrationRequired": false, "authenticationMode": "any"}]}),
        json!({"@odata.type": "#microsoft.graph.smsAuthenticationMethodConfiguration", "id": "Sms", "state": "disabled", "excludeTargets": [], "includeTargets": []}),
        json!({"@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration", "id": "TemporaryAccessPass", "state": "enabled",
               "defaultLifetimeInMinutes": 60, "defaultLength": 8, "minimumLifetimeInMinutes": 60, "maximumLifetimeInMinutes": 480, "isUsableOnce": true,
               "excludeTargets": [], "includeTargets": [{"id": it, "targetType": "group", "isRegistrationRequired": false}]}),
        json!({"@odata.type": "#microsoft.graph.softwareOathAuthenticationMethodConfiguration", "id": "SoftwareOath", "state": "enabled", "excludeTargets": [], "includeTargets": [all]}),
        json!({"@odata.type": "#microsoft.graph.voiceAuthenticationMethodConfiguration", "id": "Voice", "state": "disabled", "isOfficePhoneAllowed": false, "excludeTargets": [], "includeTargets": []}),
        json!({"@odata.type": "#microsoft.graph.emailAuthenticationMethodConfiguration", "id": "Email", "state": "enabled", "allowExternalIdToUseEmailOtp": "enabled", "excludeTargets": [], "includeTargets": [all]}),
        json!({"@odata.type": "#microsoft.graph.x509CertificateAuthenticationMethodConfiguration", "id": "X509Certificate", "state": "enabled",
               "certificateUserBindings": [
                   {"x509CertificateField": "PrincipalName", "userProperty": "onPremisesUserPrincipalName", "priority": 1, "trustAffinityLevel": "low"},
                   {"x509CertificateField": "RFC822Name", "userProperty": "userPrincipalName", "priority": 2, "trustAffinityLevel": "low"}],
               "authenticationModeConfiguration": {"x509CertificateAuthenticationDefaultMode": "x509CertificateMultiFactor", "x509CertificateDefaultRequiredAffinityLevel": "low",
                   "rules": [{"x509CertificateRuleType": "issuerSubject", "identifier": "CN=Contoso Issuing CA 01, DC=corp, DC=contoso, DC=example", "x509CertificateAuthenticationMode": "x509CertificateMultiFactor", "x509CertificateRequiredAffinityLevel": "low"}]},
               "crlValidationConfiguration": {"state": "enabled", "exemptedCertificateAuthoritiesSubjectKeyIdentifiers": []},
               "issuerHintsConfiguration": {"state": "enabled"}, "certificateAuthorityScopes": [],
               "excludeTargets": [], "includeTargets": [all]}),
    ];
    let props = obj(json!({
        "displayName": "Authentication Methods Policy",
        "description": "The tenant-wide policy that controls which authentication methods are allowed in the tenant, authentication method registration requirements, and self-service password reset settings",
        "policyVersion": "1.5",
        "policyMigrationState": "migrationComplete",
        "reconfirmationInDays": 180,
        "lastModifiedDateTime": date(EPOCH + 86_400 * 400),
        "registrationEnforcement": {"authenticationMethodsRegistrationCampaign": {"snoozeDurationInDays": 1, "state": "enabled", "excludeTargets": [],
            "includeTargets": [{"id": "all_users", "targetType": "group", "targetedAuthenticationMethod": "microsoftAuthenticator"}]}},
    }));
    let items: Vec<Map<String, Value>> = configurations.into_iter().map(obj).collect();
    let slot = tenant.insert(
        k.methods_policy,
        "authenticationMethodsPolicy".into(),
        props,
    );
    set_children(tenant, slot, k.method_configurations, items);
}

/// One administrative unit per country, holding its users, and the first department group in
/// the first. Its own random stream, so that the rest of the tenant does not depend on it.
fn administrative_units(k: &Kinds, tenant: &mut Tenant, users: &[u32], departments: &[u32]) {
    let mut rng = SplitMix64::new(0x7e4a_417a_11e4_00a0);
    let mut by_country: BTreeMap<String, Vec<u32>> = BTreeMap::new();
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
        let slot = tenant.insert(k.admin_units, rng.guid(), props);
        if let Some(e) = tenant.entry_mut(slot) {
            e.links[k.au_members].extend(people);
            if i == 0 {
                e.links[k.au_members].extend(departments.first().copied());
            }
        }
    }
}
