//! The applications of a generated tenant: app registrations with credential metadata, app
//! roles and delegated permission scopes (most enabled, some disabled, as after a first step of
//! retiring one), federated identity credentials for GitHub Actions deployments and AKS
//! workload identities, a directory extension (`extension_<appId>_costCenter` for users) on the
//! first one; the Tenant Schema Extension App with the directory extension Entra Connect syncs
//! from Active Directory (`extension_<appId>_division`); a service principal for each app,
//! mirroring its roles and scopes; and the service principals every tenant holds for
//! Microsoft's first-party applications, whose roles and scopes are Microsoft's
//! (`appOwnerOrganizationId` is Microsoft's tenant).

use serde_json::{json, Map, Value};

use super::people::People;
use super::words::APP_WORDS;
use super::{date, obj, set_children, Kinds, DOMAIN, EPOCH};
use crate::emulator::config::SyntheticSpec;
use crate::emulator::rng::SplitMix64;
use crate::emulator::state::Tenant;

/// Microsoft's own tenant, owner of its first-party applications.
pub(super) const MICROSOFT_TENANT: &str = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
const AKS_REGIONS: &[&str] = &["westeurope", "eastus", "northeurope"];
const ROLE_VALUES: &[&str] = &["Reader", "Writer", "Approver", "Auditor", "Administrator"];

fn app_roles(rng: &mut SplitMix64, app: &str) -> Vec<Value> {
    if !rng.chance(0.5) {
        return Vec::new();
    }
    let n = 1 + rng.below(3);
    let first = rng.below(ROLE_VALUES.len());
    (0..n)
        .map(|j| {
            let value = ROLE_VALUES[(first + j) % ROLE_VALUES.len()];
            let members = match rng.below(3) {
                0 => json!(["User"]),
                1 => json!(["Application"]),
                _ => json!(["User", "Application"]),
            };
            json!({
                "allowedMemberTypes": members,
                "description": format!("{value}s of {app}"),
                "displayName": format!("{app} {value}"),
                "id": rng.guid(),
                "isEnabled": !rng.chance(0.15),
                "origin": "Application",
                "value": format!("{app}.{value}").replace(' ', ""),
            })
        })
        .collect()
}

fn permission_scopes(rng: &mut SplitMix64, app: &str, is_api: bool) -> Vec<Value> {
    if !is_api && !rng.chance(0.2) {
        return Vec::new();
    }
    let mut out = vec![json!({
        "adminConsentDescription": format!("Allows the app to access {app} on behalf of the signed-in user."),
        "adminConsentDisplayName": format!("Access {app}"),
        "id": rng.guid(),
        "isEnabled": true,
        "origin": "Application",
        "type": "User",
        "userConsentDescription": format!("Allows the app to access {app} on your behalf."),
        "userConsentDisplayName": format!("Access {app}"),
        "value": "access_as_user",
    })];
    if rng.chance(0.4) {
        out.push(json!({
            "adminConsentDescription": format!("Allows the app to manage {app} settings."),
            "adminConsentDisplayName": format!("Manage {app}"),
            "id": rng.guid(),
            "isEnabled": !rng.chance(0.3),
            "origin": "Application",
            "type": "Admin",
            "userConsentDescription": null,
            "userConsentDisplayName": null,
            "value": "Settings.Manage",
        }));
    }
    out
}

fn federated_credentials(
    rng: &mut SplitMix64,
    slug: &str,
    tenant_id: &str,
) -> Vec<Map<String, Value>> {
    let mut out = Vec::new();
    let fic =
        |rng: &mut SplitMix64, name: &str, issuer: String, subject: String, description: &str| {
            obj(json!({
                "@odata.type": "#microsoft.graph.federatedIdentityCredential",
                "id": rng.guid(),
                "name": name,
                "issuer": issuer,
                "subject": subject,
                "audiences": ["api://AzureADTokenExchange"],
                "description": description,
            }))
        };
    if rng.chance(0.25) {
        out.push(fic(
            rng,
            "github-main",
            "https://token.actions.githubusercontent.com".into(),
            format!("repo:contoso/{slug}:ref:refs/heads/main"),
            "GitHub Actions deployments from main",
        ));
        if rng.chance(0.3) {
            out.push(fic(
                rng,
                "github-production",
                "https://token.actions.githubusercontent.com".into(),
                format!("repo:contoso/{slug}:environment:production"),
                "GitHub Actions production environment",
            ));
        }
    }
    if rng.chance(0.1) {
        let region = *rng.pick(AKS_REGIONS);
        let cluster = rng.guid();
        out.push(fic(
            rng,
            "aks-workload",
            format!("https://{region}.oic.prod-aks.azure.com/{tenant_id}/{cluster}/"),
            format!("system:serviceaccount:{slug}:{slug}-sa"),
            "AKS workload identity",
        ));
    }
    out
}

/// Generates the applications and service principals; returns the tenant's own app principals.
pub(super) fn generate(
    spec: &SyntheticSpec,
    k: &Kinds,
    rng: &mut SplitMix64,
    tenant: &mut Tenant,
    tenant_id: &str,
    people: &People,
    extension_app: Option<&str>,
) -> Vec<u32> {
    let mut sps: Vec<u32> = Vec::with_capacity(spec.apps);
    for i in 0..spec.apps {
        let kind = *rng.pick(&["API", "Web", "Sync", "Connector", "Portal"]);
        let name = format!("{} {kind} {i}", rng.pick(APP_WORDS));
        let app_id = match (i, extension_app) {
            (0, Some(id)) => {
                // Keep the main stream where it would be without the extension.
                rng.guid();
                id.to_string()
            }
            _ => rng.guid(),
        };
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
        let roles = app_roles(rng, &name);
        let scopes = permission_scopes(rng, &name, kind == "API");
        let app = obj(json!({
            "displayName": name,
            "appId": app_id,
            "signInAudience": "AzureADMyOrg",
            "identifierUris": [format!("api://{app_id}")],
            "tags": [],
            "web": {"redirectUris": [format!("https://{slug}.{DOMAIN}/signin-oidc")], "homePageUrl": format!("https://{slug}.{DOMAIN}"), "logoutUrl": null, "implicitGrantSettings": {"enableAccessTokenIssuance": false, "enableIdTokenIssuance": rng.chance(0.3)}},
            "api": {"requestedAccessTokenVersion": 2, "oauth2PermissionScopes": scopes.clone(), "knownClientApplications": [], "preAuthorizedApplications": []},
            "appRoles": roles.clone(),
            "requiredResourceAccess": [{"resourceAppId": GRAPH_APP_ID, "resourceAccess": [{"id": "e1fe6dd8-ba31-4d61-89e7-88639da4683d", "type": "Scope"}]}],
            "isFallbackPublicClient": false,
            "keyCredentials": keys,
            "passwordCredentials": passwords,
            "publisherDomain": DOMAIN,
            "createdDateTime": date(created),
        }));
        let app_slot = tenant.insert(k.apps, rng.guid(), app);
        let n_owners = 1 + rng.below(2);
        let members = &people.members;
        let owners: Vec<u32> = if members.is_empty() {
            Vec::new()
        } else {
            (0..n_owners)
                .map(|_| members[rng.below(members.len())])
                .collect()
        };
        if let Some(e) = tenant.entry_mut(app_slot) {
            e.links[k.app_owners].extend(owners.iter().copied());
        }
        let fics = federated_credentials(rng, &slug, tenant_id);
        if !fics.is_empty() {
            set_children(tenant, app_slot, k.fic, fics);
        }
        if i == 0 && extension_app.is_some() {
            let definition = obj(json!({
                "@odata.type": "#microsoft.graph.extensionProperty",
                "id": rng.guid(),
                "name": format!("extension_{}_costCenter", app_id.replace('-', "")),
                "dataType": "String",
                "isMultiValued": false,
                "targetObjects": ["User"],
                "appDisplayName": name,
                "isSyncedFromOnPremises": false,
            }));
            set_children(tenant, app_slot, k.extensions, vec![definition]);
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
            "appRoles": roles,
            "oauth2PermissionScopes": scopes,
            "keyCredentials": [],
            "passwordCredentials": [],
            "appOwnerOrganizationId": tenant_id,
            "signInAudience": "AzureADMyOrg",
        }));
        let sp_slot = tenant.insert(k.sps, rng.guid(), sp);
        if let Some(e) = tenant.entry_mut(sp_slot) {
            e.links[k.sp_owners].extend(owners);
        }
        sps.push(sp_slot);
    }
    first_party(k, tenant);
    sps
}

fn role(id: &str, value: &str, description: &str) -> Value {
    json!({"allowedMemberTypes": ["Application"], "description": description, "displayName": description,
           "id": id, "isEnabled": true, "origin": "Application", "value": value})
}

fn scope(id: &str, value: &str, description: &str, admin: bool) -> Value {
    json!({"adminConsentDescription": description, "adminConsentDisplayName": description, "id": id,
           "isEnabled": true, "origin": "Application", "type": if admin { "Admin" } else { "User" },
           "userConsentDescription": description, "userConsentDisplayName": description, "value": value})
}

/// Service principals of Microsoft's applications, as a tenant has them from its first day.
/// The application Entra Connect registers when it is set up to sync Active Directory
/// attributes as directory extensions: named "Tenant Schema Extension App", holding one
/// definition per synced attribute, each `isSyncedFromOnPremises: true` (entra-docs
/// how-to-connect-sync-feature-directory-extensions.md; resources/extensionproperty.md). A
/// system application: no owners, credentials or roles, and no service principal here.
pub(super) fn schema_extension_app(k: &Kinds, tenant: &mut Tenant, app_id: &str) {
    let name = "Tenant Schema Extension App";
    let mut rng = SplitMix64::new(0x7e4a_417a_11e4_00e2);
    let app = obj(json!({
        "displayName": name,
        "appId": app_id,
        "signInAudience": "AzureADMyOrg",
        "identifierUris": [],
        "tags": [],
        "appRoles": [],
        "api": {"oauth2PermissionScopes": []},
        "requiredResourceAccess": [],
        "keyCredentials": [],
        "passwordCredentials": [],
        "publisherDomain": DOMAIN,
        "createdDateTime": date(EPOCH),
    }));
    let slot = tenant.insert(k.apps, rng.guid(), app);
    let definition = obj(json!({
        "@odata.type": "#microsoft.graph.extensionProperty",
        "id": rng.guid(),
        "name": format!("extension_{}_division", app_id.replace('-', "")),
        "dataType": "String",
        "isMultiValued": false,
        "targetObjects": ["User"],
        "appDisplayName": name,
        "isSyncedFromOnPremises": true,
    }));
    set_children(tenant, slot, k.extensions, vec![definition]);
}

fn first_party(k: &Kinds, tenant: &mut Tenant) {
    let apps = [
        (
            "Microsoft Graph",
            GRAPH_APP_ID,
            "e0aa09f8-9a3e-4d0a-8f0c-2b0d3f0c7a01",
            "https://graph.microsoft.com",
            vec![
                role(
                    "df021288-bdef-4463-88db-98f22de89214",
                    "User.Read.All",
                    "Read all users' full profiles",
                ),
                role(
                    "5b567255-7703-4780-807c-7be8301ae99b",
                    "Group.Read.All",
                    "Read all groups",
                ),
                role(
                    "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
                    "Directory.Read.All",
                    "Read directory data",
                ),
                role(
                    "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
                    "Application.Read.All",
                    "Read all applications",
                ),
                role(
                    "246dd0d5-5bd0-4def-940b-0421030a5b68",
                    "Policy.Read.All",
                    "Read your organization's policies",
                ),
                role(
                    "b0afded3-3588-46d8-8b3d-9842eff778da",
                    "AuditLog.Read.All",
                    "Read all audit log data",
                ),
            ],
            vec![
                scope(
                    "e1fe6dd8-ba31-4d61-89e7-88639da4683d",
                    "User.Read",
                    "Sign in and read user profile",
                    false,
                ),
                scope(
                    "37f7f235-527c-4136-accd-4a02d197296e",
                    "openid",
                    "Sign users in",
                    false,
                ),
                scope(
                    "14dad69e-099b-42c9-810b-d002981feec1",
                    "profile",
                    "View users' basic profile",
                    false,
                ),
                scope(
                    "7427e0e9-2fba-42fe-b0c0-848c9e6a8182",
                    "offline_access",
                    "Maintain access to data you have given it access to",
                    false,
                ),
                scope(
                    "06da0dbc-49e2-44d2-8312-53f166ab848a",
                    "Directory.Read.All",
                    "Read directory data",
                    true,
                ),
            ],
        ),
        (
            "Office 365 Exchange Online",
            "00000002-0000-0ff1-ce00-000000000000",
            "e0aa09f8-9a3e-4d0a-8f0c-2b0d3f0c7a02",
            "https://outlook.office365.com",
            vec![role(
                "dc890d15-9560-4a4c-9b7f-a736ec74ec40",
                "full_access_as_app",
                "Use Exchange Web Services with full access to all mailboxes",
            )],
            vec![scope(
                "3b5f3d61-589b-4a3c-a359-5dd4b5ee5bd5",
                "EWS.AccessAsUser.All",
                "Access mailboxes as the signed-in user via Exchange Web Services",
                false,
            )],
        ),
        (
            "Office 365 SharePoint Online",
            "00000003-0000-0ff1-ce00-000000000000",
            "e0aa09f8-9a3e-4d0a-8f0c-2b0d3f0c7a03",
            "https://microsoft.sharepoint-df.com",
            vec![],
            vec![],
        ),
        (
            "Windows Azure Service Management API",
            "797f4846-ba00-4fd7-ba43-dac1f8f63013",
            "e0aa09f8-9a3e-4d0a-8f0c-2b0d3f0c7a04",
            "https://management.core.windows.net/",
            vec![],
            vec![scope(
                "41094075-9dad-400e-a0bd-54e686782033",
                "user_impersonation",
                "Access Azure Service Management as organization users",
                false,
            )],
        ),
    ];
    for (name, app_id, id, uri, roles, scopes) in apps {
        if tenant.live_slot(id).is_some() {
            continue;
        }
        let sp = obj(json!({
            "displayName": name,
            "appId": app_id,
            "appDisplayName": name,
            "servicePrincipalType": "Application",
            "accountEnabled": true,
            "appRoleAssignmentRequired": false,
            "servicePrincipalNames": [app_id, uri],
            "tags": [],
            "appRoles": roles,
            "oauth2PermissionScopes": scopes,
            "keyCredentials": [],
            "passwordCredentials": [],
            "appOwnerOrganizationId": MICROSOFT_TENANT,
            "signInAudience": "AzureADMultipleOrgs",
        }));
        tenant.insert(k.sps, id.to_string(), sp);
    }
}
