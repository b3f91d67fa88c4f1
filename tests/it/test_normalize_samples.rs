//! Normalization over the JSON samples from the Graph documentation (copied from
//! ../shared/graph-samples into tests/fixtures): each sample that holds objects of a kind is
//! normalized and its canonical YAML snapshotted. The same files also prove that secrets never
//! survive normalization and that the YAML reads back identically with an independent parser.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use tenantgit::model::Object;
use tenantgit::{normalize, schema, yaml};

use crate::common::pyyaml;

/// Which kind the objects of a sample file are, by file-name prefix.
fn kind_of(file: &str) -> Option<&'static str> {
    let table = [
        ("users-list", "users"),
        ("user-get", "users"),
        ("user-delta", "users"),
        ("group-list", "groups"),
        ("group-delta", "groups"),
        ("deleteditems-list", "groups"),
        ("application-get", "applications"),
        ("conditionalaccess-policy-list", "conditionalAccessPolicies"),
        (
            "authenticationmethodspolicy-update-response",
            "authenticationMethodsPolicy",
        ),
    ];
    table
        .iter()
        .find(|(prefix, _)| file.starts_with(prefix))
        .map(|(_, k)| *k)
}

/// The objects in a sample: a collection's `value` items (skipping delta removals), or the
/// object itself.
fn objects_in(sample: &Value) -> Vec<&Value> {
    match sample.get("value") {
        Some(Value::Array(items)) => items
            .iter()
            .filter(|v| v.get("@removed").is_none() && v.get("id").is_some())
            .collect(),
        _ if sample.get("id").is_some() => vec![sample],
        _ => Vec::new(),
    }
}

fn normalized(kind: &str, sample: &Value) -> Vec<Object> {
    let kind = schema::kind(kind).expect("kind in the table exists");
    objects_in(sample)
        .into_iter()
        .map(|raw| normalize::normalize(kind, raw, BTreeMap::new()).expect("sample normalizes"))
        .collect()
}

#[test]
fn samples_normalize_to_canonical_yaml() {
    insta::glob!("../fixtures/graph-samples", "*.json", |path| {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let Some(kind) = kind_of(&file) else { return };
        let sample: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let docs: Vec<String> = normalized(kind, &sample)
            .iter()
            .map(yaml::emit_object)
            .collect();
        if docs.is_empty() {
            return; // e.g. an empty delta page
        }
        insta::with_settings!({
            snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"),
            prepend_module_to_snapshot => false,
        }, {
            insta::assert_snapshot!(docs.join("---\n"));
        });
    });
}

#[test]
fn normalizing_twice_changes_nothing() {
    for entry in std::fs::read_dir("tests/fixtures/graph-samples").unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let Some(kind) = kind_of(&file) else { continue };
        let sample: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for object in normalized(kind, &sample) {
            let again = normalize::renormalize(&object).unwrap();
            assert_eq!(
                yaml::emit_object(&again),
                yaml::emit_object(&object),
                "{file}"
            );
            let text = yaml::emit_object(&object);
            let parsed = yaml::parse_object(object.kind, Path::new(&file), &text).unwrap();
            assert!(
                parsed.same_state(&object),
                "{file}: YAML does not read back"
            );
            assert_eq!(
                yaml::emit_object(&parsed),
                text,
                "{file}: re-emitted bytes differ"
            );
        }
    }
}

#[test]
fn secret_values_never_survive() {
    let added: Value = serde_json::from_str(
        &std::fs::read_to_string(
            "tests/fixtures/graph-samples/application-addpassword-response.json",
        )
        .unwrap(),
    )
    .unwrap();
    let secret = added["secretText"]
        .as_str()
        .expect("the sample carries a secret")
        .to_string();
    let mut app: Value = serde_json::from_str(
        &std::fs::read_to_string("tests/fixtures/graph-samples/application-get-response.json")
            .unwrap(),
    )
    .unwrap();
    app["passwordCredentials"] = Value::Array(vec![added.clone()]);
    app["keyCredentials"] = serde_json::json!([{"keyId": "k1", "key": "TUlJQ0FEQ0NBYWdnQXdJQkFnSVFU", "type": "AsymmetricX509Cert"}]);
    for kind in ["applications", "servicePrincipals"] {
        let object = &normalized(kind, &app)[0];
        let text = yaml::emit_object(object);
        assert!(
            !text.contains(&secret),
            "{kind}: secretText leaked:\n{text}"
        );
        assert!(
            !text.contains("TUlJQ0FEQ0NBYWdnQXdJQkFnSVFU"),
            "{kind}: key bytes leaked"
        );
        assert!(
            text.contains(added["keyId"].as_str().unwrap()),
            "{kind}: credential metadata must stay"
        );
    }
    let mut user: Value = serde_json::from_str(
        &std::fs::read_to_string("tests/fixtures/graph-samples/user-get-response.json").unwrap(),
    )
    .unwrap();
    user["passwordProfile"] =
        serde_json::json!({"password": "Pa55w0rd!xyz", "forceChangePasswordNextSignIn": true});
    let text = yaml::emit_object(&normalized("users", &user)[0]);
    assert!(!text.contains("Pa55w0rd") && !text.contains("passwordProfile"));
}

/// The whole file content as JSON: properties, then links as id lists.
fn as_json(object: &Object) -> Value {
    let mut map = object.props.clone();
    for (name, refs) in &object.links {
        let ids = refs.iter().map(|r| Value::String(r.id.clone()));
        // A single link (a user's manager) is one id, or null.
        let value = match object.kind.link(name) {
            Some(l) if l.single => ids.into_iter().next().unwrap_or(Value::Null),
            _ => ids.collect(),
        };
        map.insert(name.clone(), value);
    }
    Value::Object(map)
}

/// PyYAML is a YAML 1.1 reader: it takes `yes`, `on`, `1_000` and dates for booleans, numbers
/// and timestamps. Every emitted file must read back in it as the same JSON.
#[test]
fn yaml_reads_back_identically_in_pyyaml() {
    let mut docs = Vec::new();
    for entry in std::fs::read_dir("tests/fixtures/graph-samples").unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let Some(kind) = kind_of(&file) else { continue };
        let sample: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for object in normalized(kind, &sample) {
            docs.push((yaml::emit_object(&object), as_json(&object)));
        }
    }
    // Values chosen to trip YAML 1.1 readers.
    let users = schema::kind("users").unwrap();
    let tricky = serde_json::json!({"id": "0123", "displayName": "yes", "department": "on", "jobTitle": "1_000",
        "city": "2024-01-01", "state": "NO", "postalCode": "01234", "country": "~", "officeLocation": "12:30",
        "mobilePhone": "+1 555 0100", "companyName": "Contoso: R&D #1", "streetAddress": "line1\nline2",
        "givenName": "Zoë", "surname": "'quoted'", "employeeId": "0x1F", "employeeType": ".inf",
        "mail": "12345678-1234-1234-1234-123456789012", "faxNumber": "00000000-0000-0000-0000-000000000000",
        "usageLocation": "2024-01-01T10:00:00Z", "preferredLanguage": "1e3", "ageGroup": "0o17",
        // Characters a YAML reader rejects (a cp1252 leftover, DEL, non-characters) or takes
        // for a line break (NEL, line and paragraph separators).
        "mailNickname": "job\u{92}title\u{7f}", "externalUserState": "\u{85}\u{2028}\u{2029}",
        "creationType": "\u{feff}\u{fffe}\u{ffff}"});
    let object = normalize::normalize(users, &tricky, BTreeMap::new()).unwrap();
    docs.push((yaml::emit_object(&object), as_json(&object)));

    let texts: Vec<String> = docs.iter().map(|(text, _)| text.clone()).collect();
    let Some(read) = pyyaml::load_all(&texts) else {
        return; // PyYAML is not installed, and this is not CI
    };
    for ((text, want), got) in docs.iter().zip(read) {
        let got = got.unwrap_or_else(|e| panic!("PyYAML rejects our YAML: {e}\n{text}"));
        assert_eq!(&got, want, "PyYAML reads this differently:\n{text}");
    }
}
