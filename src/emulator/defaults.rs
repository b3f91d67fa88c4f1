//! What every Graph tenant has, whatever it was seeded or generated with: the authorization and
//! authentication methods policy singletons (with the eight method configurations v1.0 has and
//! a real tenant returns: Fido2, MicrosoftAuthenticator, Sms, TemporaryAccessPass,
//! SoftwareOath, Voice, Email, X509Certificate [obs: mondoohq/mql PR #5698]) and the three
//! built-in authentication strength policies.

use serde_json::{json, Map, Value};

use super::model::model;
use super::state::Tenant;

/// 2021-01-01T00:00:00Z, when the defaults were last changed.
const EPOCH: i64 = 1_609_459_200;

fn date(secs: i64) -> Value {
    let dt = chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default();
    Value::String(dt.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Adds what a seed or generator did not: the policy singletons and the built-in strength
/// policies.
pub(crate) fn insert(tenant: &mut Tenant) {
    insert_default_singletons(tenant);
    insert_builtin_strengths(tenant);
}

/// The two policy singletons as a fresh tenant has them; added when a seed lacks them, because
/// Graph always has both.
fn insert_default_singletons(tenant: &mut Tenant) {
    let m = model();
    for (kind, props) in [
        (
            "authorizationPolicy",
            json!({
                "displayName": "Authorization Policy",
                "description": "Used to manage authorization related settings across the company.",
                "allowInvitesFrom": "everyone",
                "allowedToSignUpEmailBasedSubscriptions": true,
                "allowedToUseSSPR": true,
                "allowEmailVerifiedUsersToJoinOrganization": false,
                "allowUserConsentForRiskyApps": null,
                "blockMsolPowerShell": false,
                "defaultUserRolePermissions": {"allowedToCreateApps": true, "allowedToCreateSecurityGroups": true, "allowedToCreateTenants": true,
                    "allowedToReadBitlockerKeysForOwnedDevice": true, "allowedToReadOtherUsers": true, "permissionGrantPoliciesAssigned": ["ManagePermissionGrantsForSelf.microsoft-user-default-legacy"]},
                "guestUserRoleId": "10dae51f-b6af-4016-8d66-8c2a99b929b3",
            }),
        ),
        (
            "authenticationMethodsPolicy",
            json!({
                "displayName": "Authentication Methods Policy",
                "description": "The tenant-wide policy that controls which authentication methods are allowed in the tenant, authentication method registration requirements, and self-service password reset settings",
                "policyVersion": "1.5",
                "policyMigrationState": "migrationInProgress",
                "lastModifiedDateTime": date(EPOCH),
                "registrationEnforcement": {"authenticationMethodsRegistrationCampaign": {"snoozeDurationInDays": 1, "state": "default", "excludeTargets": [],
                    "includeTargets": [{"id": "all_users", "targetType": "group", "targetedAuthenticationMethod": "microsoftAuthenticator"}]}},
                "authenticationMethodConfigurations": [
                    {"@odata.type": "#microsoft.graph.fido2AuthenticationMethodConfiguration", "id": "Fido2", "state": "enabled", "isSelfServiceRegistrationAllowed": true, "isAttestationEnforced": true, "excludeTargets": [], "includeTargets": [{"id": "all_users", "targetType": "group", "isRegistrationRequired": false}]},
                    {"@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethodConfiguration", "id": "MicrosoftAuthenticator", "state": "enabled", "excludeTargets": [], "includeTargets": [{"id": "all_users", "targetType": "group", "isRegistrationRequired": false, "authenticationMode": "any"}]},
                    {"@odata.type": "#microsoft.graph.smsAuthenticationMethodConfiguration", "id": "Sms", "state": "disabled", "excludeTargets": [], "includeTargets": []},
                    {"@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration", "id": "TemporaryAccessPass", "state": "enabled", "defaultLifetimeInMinutes": 60, "defaultLength": 8, "minimumLifetimeInMinutes": 60, "maximumLifetimeInMinutes": 480, "isUsableOnce": false, "excludeTargets": [], "includeTargets": [{"id": "all_users", "targetType": "group", "isRegistrationRequired": false}]},
                    {"@odata.type": "#microsoft.graph.softwareOathAuthenticationMethodConfiguration", "id": "SoftwareOath", "state": "disabled", "excludeTargets": [], "includeTargets": []},
                    {"@odata.type": "#microsoft.graph.voiceAuthenticationMethodConfiguration", "id": "Voice", "state": "disabled", "isOfficePhoneAllowed": false, "excludeTargets": [], "includeTargets": []},
                    {"@odata.type": "#microsoft.graph.emailAuthenticationMethodConfiguration", "id": "Email", "state": "enabled", "allowExternalIdToUseEmailOtp": "default", "excludeTargets": [], "includeTargets": []},
                    {"@odata.type": "#microsoft.graph.x509CertificateAuthenticationMethodConfiguration", "id": "X509Certificate", "state": "disabled", "certificateUserBindings": [
                        {"x509CertificateField": "PrincipalName", "userProperty": "onPremisesUserPrincipalName", "priority": 1, "trustAffinityLevel": "low"},
                        {"x509CertificateField": "RFC822Name", "userProperty": "userPrincipalName", "priority": 2, "trustAffinityLevel": "low"}],
                     "authenticationModeConfiguration": {"x509CertificateAuthenticationDefaultMode": "x509CertificateSingleFactor", "x509CertificateDefaultRequiredAffinityLevel": "low", "rules": []},
                     "crlValidationConfiguration": {"state": "disabled", "exemptedCertificateAuthoritiesSubjectKeyIdentifiers": []},
                     "issuerHintsConfiguration": {"state": "disabled"}, "certificateAuthorityScopes": [], "excludeTargets": [], "includeTargets": []}
                ],
            }),
        ),
    ] {
        let k = m
            .collection(kind)
            .expect("facts.yaml has both policy singletons");
        if tenant.count_live(k) > 0 {
            continue;
        }
        let mut props = obj(props);
        // Contained children live beside the properties.
        let children: Vec<(usize, Vec<Map<String, Value>>)> = m.collections[k]
            .children
            .iter()
            .enumerate()
            .filter_map(|(ci, c)| {
                let items = props.remove(&c.name)?;
                Some((
                    ci,
                    items
                        .as_array()?
                        .iter()
                        .filter_map(|i| i.as_object().cloned())
                        .collect(),
                ))
            })
            .collect();
        let slot = tenant.insert(k, kind.to_string(), props);
        if let Some(e) = tenant.entry_mut(slot) {
            let mut all = vec![Vec::new(); m.collections[k].children.len()];
            for (ci, items) in children {
                all[ci] = items;
            }
            e.children = Some(Box::new(all));
        }
    }
}

/// The built-in authentication strength policies, as authenticationstrengthroot-list-policies.md
/// (@028b8e35) lists them.
fn insert_builtin_strengths(tenant: &mut Tenant) {
    let m = model();
    let k = m
        .collection("authenticationStrengthPolicies")
        .expect("facts.yaml has authenticationStrengthPolicies");
    let created = json!("2021-12-01T00:00:00Z");
    let mfa = [
        "windowsHelloForBusiness",
        "fido2",
        "x509CertificateMultiFactor",
        "deviceBasedPush",
        "temporaryAccessPassOneTime",
        "temporaryAccessPassMultiUse",
        "password,microsoftAuthenticatorPush",
        "password,softwareOath",
        "password,hardwareOath",
        "password,x509CertificateSingleFactor",
        "password,x509CertificateMultiFactor",
        "password,sms",
        "password,voice",
        "federatedMultiFactor",
        "microsoftAuthenticatorPush,federatedSingleFactor",
        "softwareOath,federatedSingleFactor",
        "hardwareOath,federatedSingleFactor",
        "sms,federatedSingleFactor",
        "voice,federatedSingleFactor",
    ];
    for (id, name, description, combinations) in [
        ("00000000-0000-0000-0000-000000000002", "Multifactor authentication",
         "Combinations of methods that satisfy strong authentication, such as a password + SMS", &mfa[..]),
        ("00000000-0000-0000-0000-000000000003", "Passwordless MFA",
         "Passwordless methods that satisfy strong authentication, such as Passwordless sign-in with the Microsoft Authenticator",
         &mfa[..4]),
        ("00000000-0000-0000-0000-000000000004", "Phishing resistant MFA",
         "Phishing resistant, Passwordless methods for the strongest authentication, such as a FIDO2 security key",
         &mfa[..3]),
    ] {
        if tenant.live(k).contains_key(id) {
            continue;
        }
        let props = obj(json!({
            "createdDateTime": created,
            "modifiedDateTime": created,
            "displayName": name,
            "description": description,
            "policyType": "builtIn",
            "requirementsSatisfied": "mfa",
            "allowedCombinations": combinations,
        }));
        tenant.insert(k, id.to_string(), props);
    }
}
