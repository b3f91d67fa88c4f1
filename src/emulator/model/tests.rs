//! Unit tests of the model: the data files load, facts land on the right properties, values are
//! checked against their Edm types, and write rules refuse exactly when enforced.

use crate::emulator::tests::props;
use serde_json::{json, Map, Value};

use super::edm::Prim;
use super::*;

#[test]
fn the_model_loads_with_base_types_flattened_and_facts_applied() {
    let m = model();
    let user = m.ty(m.entity("user").unwrap());
    assert_eq!(user.odata_type, "#microsoft.graph.user");
    // Inherited from entity and directoryObject.
    assert_eq!(user.prop("id").unwrap().access, Access::ReadOnly);
    assert_eq!(
        user.prop("deletedDateTime").unwrap().access,
        Access::ReadOnly
    );
    assert_eq!(
        user.prop("createdDateTime").unwrap().access,
        Access::ReadOnly
    );
    assert_eq!(user.prop("DISPLAYNAME").unwrap().name, "displayName");
    assert_eq!(user.prop("displayName").unwrap().access, Access::ReadWrite);
    assert_eq!(
        user.prop("accountEnabled").unwrap().ty,
        TypeRef::prim(Prim::Boolean, false)
    );
    assert!(user.prop("businessPhones").unwrap().ty.collection);
    let manager = user.nav("manager").unwrap();
    assert!(!manager.collection && !manager.contained);
    assert!(user
        .required_on_create
        .contains(&"passwordProfile".to_string()));
    assert_eq!(user.default_props().len(), 11);

    let group = m.ty(m.entity("group").unwrap());
    assert_eq!(
        group.prop("isAssignableToRole").unwrap().access,
        Access::CreateOnly
    );
    assert!(group.prop("allowExternalSenders").unwrap().select_only);
    assert!(!group.default_props().contains(&"allowExternalSenders"));

    // Derived types: named locations and method configurations.
    let nl = m.entity("namedLocation").unwrap();
    let derived: Vec<&str> = m
        .ty(nl)
        .derived
        .iter()
        .map(|d| m.ty(*d).name.as_str())
        .collect();
    assert!(derived.contains(&"ipNamedLocation") && derived.contains(&"countryNamedLocation"));
    let ip = m.ty(m.entity("#microsoft.graph.ipNamedLocation").unwrap());
    assert_eq!(ip.prop("createdDateTime").unwrap().access, Access::ReadOnly);
    assert!(ip.prop("ipRanges").is_some() && ip.prop("countriesAndRegions").is_none());
    let amc = m.entity("authenticationMethodConfiguration").unwrap();
    assert!(m.ty(amc).derived.len() >= 5);
    let fido = m.ty(m.entity("fido2AuthenticationMethodConfiguration").unwrap());
    assert!(fido.is_inline_nav("includeTargets"));

    // Collections with their references and children.
    let apps = &m.collections[m.collection("applications").unwrap()];
    assert!(apps.child("federatedIdentityCredentials").is_some());
    assert!(apps.child("extensionProperties").is_some());
    let users = &m.collections[m.collection("users").unwrap()];
    assert!(users.links[users.link("manager").unwrap()].single);
    let aus = &m.collections[m.collection("administrativeUnits").unwrap()];
    assert_eq!(aus.path, "directory/administrativeUnits");
    assert!(matches!(aus.soft_delete, SoftDelete::Always));
    let groups = &m.collections[m.collection("groups").unwrap()];
    assert!(matches!(groups.soft_delete, SoftDelete::When(_)));
}

#[test]
fn a_fact_naming_something_the_metadata_lacks_is_a_load_error() {
    let facts = super::FACTS.replace(
        "readOnly: [createdDateTime, modifiedDateTime, policyType]",
        "readOnly: [createdDateTime, modifiedDateTime, policyTyp]",
    );
    let err = load::load(super::METADATA, &facts).unwrap_err();
    assert!(err.contains("policyTyp"), "{err}");
    let facts = super::FACTS.replace(
        "      manager: {targets: [user, orgContact]}",
        "      boss: {targets: [user]}",
    );
    let err = load::load(super::METADATA, &facts).unwrap_err();
    assert!(err.contains("boss"), "{err}");
}

#[test]
fn values_are_checked_against_their_edm_types() {
    let m = model();
    let user = m.ty(m.entity("user").unwrap());
    let check = |p: &str, v: Value| check_value(m, &user.prop(p).unwrap().ty, &v, p);
    assert!(check("accountEnabled", json!(true)).is_ok());
    assert_eq!(
        check("accountEnabled", json!("true")).unwrap_err().kind,
        InvalidKind::WrongType
    );
    assert!(check("businessPhones", json!(["+1 555"])).is_ok());
    assert!(
        check("businessPhones", json!("+1 555")).is_err(),
        "a scalar for a collection"
    );
    assert!(check("employeeHireDate", json!("2021-01-01T00:00:00Z")).is_ok());
    assert!(check("employeeHireDate", json!("yesterday")).is_err());
    assert!(check("department", Value::Null).is_ok(), "null clears");
    // Complex values: declared names only, nested types checked.
    assert!(check(
        "passwordProfile",
        json!({"password": "x", "forceChangePasswordNextSignIn": true})
    )
    .is_ok());
    let err = check("passwordProfile", json!({"pasword": "x"})).unwrap_err();
    assert_eq!(err.path, "passwordProfile.pasword");
    assert!(matches!(err.kind, InvalidKind::Unknown { .. }));
    assert!(check(
        "passwordProfile",
        json!({"forceChangePasswordNextSignIn": "yes"})
    )
    .is_err());

    // Enums, flags enums and derived complex types.
    let ca = m.ty(m.entity("conditionalAccessPolicy").unwrap());
    assert!(check_value(m, &ca.prop("state").unwrap().ty, &json!("enabled"), "state").is_ok());
    assert!(check_value(m, &ca.prop("state").unwrap().ty, &json!("on"), "state").is_err());
    let strength = m.ty(m.entity("authenticationStrengthPolicy").unwrap());
    let combos = &strength.prop("allowedCombinations").unwrap().ty;
    assert!(check_value(m, combos, &json!(["password,sms", "fido2"]), "x").is_ok());
    assert!(check_value(m, combos, &json!(["password,carrierPigeon"]), "x").is_err());
    let ip = m.ty(m.entity("ipNamedLocation").unwrap());
    let ranges = &ip.prop("ipRanges").unwrap().ty;
    let v4 =
        json!([{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "203.0.113.0/24"}]);
    assert!(check_value(m, ranges, &v4, "ipRanges").is_ok());
    let untyped = json!([{"cidrAddress": "203.0.113.0/24"}]);
    assert!(matches!(
        check_value(m, ranges, &untyped, "ipRanges")
            .unwrap_err()
            .kind,
        InvalidKind::UnknownType { .. }
    ));
    let wrong = json!([{"@odata.type": "#microsoft.graph.iPv9CidrRange", "cidrAddress": "x"}]);
    assert!(check_value(m, ranges, &wrong, "ipRanges").is_err());
}

#[test]
fn write_rules_cover_their_object_state_and_writes() {
    let m = model();
    let facts = TenantFacts {
        id: "t".into(),
        domains: vec!["contoso.example".into()],
    };
    let group = m.entity("group").unwrap();
    let dynamic = props(json!({"groupTypes": ["DynamicMembership"], "displayName": "D"}));
    let w = Write {
        op: WriteOp::AddLink,
        ty: group,
        state: &dynamic,
        body: &[],
        link: Some("members"),
        tenant: &facts,
        synced_extensions: &[],
    };
    let rule = m
        .rules
        .iter()
        .find(|r| r.name == "dynamicMembership")
        .unwrap();
    assert!(rule.applies(m, &w));
    assert!(rule.enforce);
    assert_eq!(
        refusal(m, &w).map(|r| r.name.as_str()),
        Some("dynamicMembership")
    );
    // On another link or a static group it does not apply.
    assert!(!rule.applies(
        m,
        &Write {
            link: Some("owners"),
            ..w
        }
    ));
    let fixed = props(json!({"groupTypes": [], "displayName": "S"}));
    assert!(!rule.applies(m, &Write { state: &fixed, ..w }));

    // A named check: an enabled app role may be disabled, but not dropped while enabled.
    let app = m.entity("application").unwrap();
    let role =
        json!({"id": "r1", "isEnabled": true, "value": "Reader", "allowedMemberTypes": ["User"]});
    let state = props(json!({"appRoles": [role]}));
    let entitlement = m
        .rules
        .iter()
        .find(|r| r.name == "enabledEntitlement")
        .unwrap();
    let drop = [("appRoles".to_string(), json!([]))];
    let mut disabled = role.clone();
    disabled["isEnabled"] = json!(false);
    let disable = [("appRoles".to_string(), json!([disabled]))];
    let base = Write {
        op: WriteOp::Update,
        ty: app,
        state: &state,
        body: &drop,
        link: None,
        tenant: &facts,
        synced_extensions: &[],
    };
    assert!(entitlement.applies(m, &base));
    assert!(!entitlement.applies(
        m,
        &Write {
            body: &disable,
            ..base
        }
    ));
    // Disabling and changing in one PATCH is refused; so is a changed enabled role; nulls and
    // the read-only origin do not count as changes.
    let mut renamed = disabled.clone();
    renamed["value"] = json!("Writer");
    let both = [("appRoles".to_string(), json!([renamed]))];
    assert!(entitlement.applies(
        m,
        &Write {
            body: &both,
            ..base
        }
    ));
    let mut same = role.clone();
    same["origin"] = json!("Application");
    same["description"] = Value::Null;
    let unchanged = [("appRoles".to_string(), json!([same]))];
    assert!(!entitlement.applies(
        m,
        &Write {
            body: &unchanged,
            ..base
        }
    ));
    // Scopes of an application live in api.oauth2PermissionScopes.
    let scope = json!({"id": "s1", "isEnabled": true, "value": "read", "type": "User"});
    let with_api = props(json!({"api": {"oauth2PermissionScopes": [scope]}}));
    let no_scopes = [("api".to_string(), json!({"oauth2PermissionScopes": []}))];
    assert!(entitlement.applies(
        m,
        &Write {
            state: &with_api,
            body: &no_scopes,
            ..base
        }
    ));
    // Synced users: only the listed cloud properties may change.
    let user = m.entity("user").unwrap();
    let synced = props(json!({"onPremisesSyncEnabled": true}));
    let rule = m
        .rules
        .iter()
        .find(|r| r.name == "onPremisesMasteredUser")
        .unwrap();
    let usage = [("usageLocation".to_string(), json!("DE"))];
    let title = [("jobTitle".to_string(), json!("Boss"))];
    let w = Write {
        op: WriteOp::Update,
        ty: user,
        state: &synced,
        body: &usage,
        link: None,
        tenant: &facts,
        synced_extensions: &[],
    };
    assert!(!rule.applies(m, &w));
    assert!(rule.applies(m, &Write { body: &title, ..w }));
    // A directory extension registered in the cloud stays writable (an `except` pattern).
    let ext = [("extension_0123abcd_costCenter".to_string(), json!("CC-1"))];
    assert!(!rule.applies(m, &Write { body: &ext, ..w }));
    // One Entra Connect syncs from Active Directory is refused, with the same answer, by the
    // rule that knows the tenant's synced definitions; on a cloud-only user it is writable.
    let division = [("extension_0123abcd_division".to_string(), json!("Retail"))];
    let synced_names = ["extension_0123abcd_division".to_string()];
    let synced_ext = Write {
        body: &division,
        synced_extensions: &synced_names,
        ..w
    };
    assert!(!rule.applies(m, &synced_ext));
    let refused = refusal(m, &synced_ext).unwrap();
    assert_eq!(refused.name, "onPremisesSyncedExtension");
    assert_eq!(
        (
            refused.status,
            refused.code.as_str(),
            refused.message.as_str()
        ),
        (rule.status, rule.code.as_str(), rule.message.as_str())
    );
    let mixed = [division[0].clone(), ext[0].clone(), usage[0].clone()];
    assert!(refusal(
        m,
        &Write {
            body: &mixed,
            ..synced_ext
        }
    )
    .is_some());
    assert!(refusal(
        m,
        &Write {
            body: &ext,
            ..synced_ext
        }
    )
    .is_none());
    let cloud_user = props(json!({"displayName": "C"}));
    assert!(refusal(
        m,
        &Write {
            state: &cloud_user,
            ..synced_ext
        }
    )
    .is_none());
    // The manager is mastered on-premises; a cloud-only user's is not.
    let manager = Write {
        op: WriteOp::AddLink,
        body: &[],
        link: Some("manager"),
        ..w
    };
    assert!(rule.applies(m, &manager));
    let cloud = props(json!({"displayName": "C"}));
    assert!(!rule.applies(
        m,
        &Write {
            state: &cloud,
            ..manager
        }
    ));

    // POST /users refuses an external or #EXT# principal name, not an internal guest.
    let external = m
        .rules
        .iter()
        .find(|r| r.name == "externalUserThroughUsers")
        .unwrap();
    let create = |upn: &str, user_type: &str| {
        vec![
            ("userPrincipalName".to_string(), json!(upn)),
            ("userType".to_string(), json!(user_type)),
        ]
    };
    let empty = Map::new();
    for (upn, ty, refused) in [
        ("ann@contoso.example", "Guest", false),
        ("ann@CONTOSO.example", "Member", false),
        ("ann@fabrikam.example", "Guest", true),
        ("ann_fabrikam.example#EXT#@contoso.example", "Guest", true),
        ("no-domain", "Member", true),
    ] {
        let body = create(upn, ty);
        let w = Write {
            op: WriteOp::Create,
            ty: user,
            state: &empty,
            body: &body,
            link: None,
            tenant: &facts,
            synced_extensions: &[],
        };
        assert_eq!(external.applies(m, &w), refused, "{upn}");
    }
}

#[test]
fn a_rule_naming_something_the_metadata_lacks_is_a_load_error() {
    let facts = super::FACTS.replace("except: [classification,", "except: [clasification,");
    let err = load::load(super::METADATA, &facts).unwrap_err();
    assert!(err.contains("clasification"), "{err}");
    let facts = super::FACTS.replace("    links: [manager]\n", "    links: [boss]\n");
    let err = load::load(super::METADATA, &facts).unwrap_err();
    assert!(err.contains("boss"), "{err}");
}

#[test]
fn no_file_of_the_emulator_reads_tenantgits_own_kind_knowledge() {
    // STYLE.md rule 12: the emulator's model of Graph never comes from schema/ (nor from the
    // layout or YAML modules that know tenantgit's kinds).
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/emulator");
    let mut offenders = Vec::new();
    let mut checked = 0;
    for entry in walkdir::WalkDir::new(&root) {
        let entry = entry.unwrap();
        if entry.path().extension().is_none_or(|e| e != "rs") {
            continue;
        }
        checked += 1;
        let text = std::fs::read_to_string(entry.path()).unwrap();
        // Spelled in pieces so that this file does not match itself.
        let needles = [
            concat!("crate::", "schema"),
            concat!("crate::", "layout"),
            concat!("crate::", "yaml"),
            concat!("schema", "::"),
            concat!("Kind", "Spec"),
        ];
        for needle in needles {
            if text
                .lines()
                .any(|l| l.contains(needle) && !l.trim_start().starts_with("//"))
            {
                offenders.push(format!("{}: {needle}", entry.path().display()));
            }
        }
    }
    assert!(checked > 20, "the walk found the emulator's files");
    assert!(offenders.is_empty(), "{offenders:#?}");
}
