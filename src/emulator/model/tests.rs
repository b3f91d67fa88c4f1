//! Unit tests of the model: the data files load, facts land on the right properties, values are
//! checked against their Edm types, and write rules refuse exactly when enforced.

use serde_json::{json, Map, Value};

use super::edm::Prim;
use super::*;

fn props(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

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
fn write_rules_refuse_only_when_enforced() {
    let m = model();
    let group = m.entity("group").unwrap();
    let dynamic = props(json!({"groupTypes": ["DynamicMembership"], "displayName": "D"}));
    let w = Write {
        op: WriteOp::AddLink,
        ty: group,
        state: &dynamic,
        body: &[],
        link: Some("members"),
        tenant_id: "t",
    };
    let rule = m
        .rules
        .iter()
        .find(|r| r.name == "dynamicMembership")
        .unwrap();
    assert!(rule.applies(m, &w));
    // Shipped lenient: tenantgit still sends these writes.
    assert!(!rule.enforce);
    assert!(refusal(m, &w).is_none());
    // The same rule, enforced, refuses; on another link or a static group it does not apply.
    let mut enforced = rule.clone();
    enforced.enforce = true;
    assert!(enforced.applies(m, &w));
    assert!(!enforced.applies(
        m,
        &Write {
            link: Some("owners"),
            ..w
        }
    ));
    let fixed = props(json!({"groupTypes": [], "displayName": "S"}));
    assert!(!enforced.applies(m, &Write { state: &fixed, ..w }));

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
        tenant_id: "t",
    };
    assert!(entitlement.applies(m, &base));
    assert!(!entitlement.applies(
        m,
        &Write {
            body: &disable,
            ..base
        }
    ));
    // Synced users: only the listed cloud properties may change.
    let user = m.entity("user").unwrap();
    let synced = props(json!({"onPremisesSyncEnabled": true}));
    let rule = m
        .rules
        .iter()
        .find(|r| r.name == "onPremisesMastered")
        .unwrap();
    let usage = [("usageLocation".to_string(), json!("DE"))];
    let title = [("jobTitle".to_string(), json!("Boss"))];
    let w = Write {
        op: WriteOp::Update,
        ty: user,
        state: &synced,
        body: &usage,
        link: None,
        tenant_id: "t",
    };
    assert!(!rule.applies(m, &w));
    assert!(rule.applies(m, &Write { body: &title, ..w }));
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
