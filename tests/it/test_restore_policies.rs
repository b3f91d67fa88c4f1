//! Policies as Graph v1.0 has them: each authentication method configuration is its own object
//! (a file, a diff entry, `--id Fido2`) written with its own PATCH and `@odata.type`, while the
//! policy PATCH carries policy-level properties only; a Conditional Access policy's
//! authentication strength is a reference (`{id}`, the name as a comment), so editing the
//! strength is never drift of the policies that use it; the authorization policy's display name
//! and description are writable.

use serde_json::{json, Value};

use crate::common::tenant::*;
use crate::common::*;

const SPEC: &str = "users=60,groups=12,members=6,apps=4,policies=3";
const METHODS: &str = "policies/authenticationMethodsPolicy";
const CONFIGS: &str = "policies/authenticationMethodsPolicy/authenticationMethodConfigurations";
/// Built-in "Phishing-resistant MFA" (authenticationstrengthroot-list-policies.md).
const PHISHING_RESISTANT: &str = "00000000-0000-0000-0000-000000000004";

fn actions(plan: &Value) -> &Vec<Value> {
    plan["actions"].as_array().expect("actions")
}

#[test]
fn a_method_configuration_is_its_own_object_written_with_its_own_patch() {
    let h = TestEnvironment::synthetic(SPEC);
    assert_status(&h.run(&["-q", "snapshot"]), 0);
    let file = h.file("authenticationMethodConfigurations/", "Fido2");
    let text = std::fs::read_to_string(h.repo.join(&file)).unwrap();
    assert!(text.starts_with("id: Fido2\n\"@odata.type\": \"#microsoft.graph.fido2AuthenticationMethodConfiguration\"\n"), "{text}");
    let policy =
        std::fs::read_to_string(h.repo.join("policies/authenticationMethodsPolicy.yaml")).unwrap();
    assert!(
        !policy.contains("authenticationMethodConfigurations"),
        "the policy's file holds policy-level properties only:\n{policy}"
    );
    let fido2 = get(&h, &format!("{CONFIGS}/Fido2"));

    // Someone turns FIDO2 off for everyone and shortens the registration campaign's snooze.
    graph_ok(
        &h,
        "PATCH",
        &format!("{CONFIGS}/Fido2"),
        Some(
            json!({"@odata.type": "#microsoft.graph.fido2AuthenticationMethodConfiguration",
            "state": "disabled", "includeTargets": [], "isAttestationEnforced": false}),
        ),
        204,
    );
    let campaign = get(&h, METHODS)["registrationEnforcement"].clone();
    let mut shortened = campaign.clone();
    shortened["authenticationMethodsRegistrationCampaign"]["snoozeDurationInDays"] = json!(0);
    graph_ok(
        &h,
        "PATCH",
        METHODS,
        Some(json!({"registrationEnforcement": shortened})),
        200,
    );
    snapshot_damage(&h);

    // `diff` names the configuration as an object of its own.
    let out = h.run(&["diff", "HEAD~1", "--format", "json"]);
    let report = &json_docs(&out)[0];
    let changed: Vec<(String, String)> = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap().into(),
                c["id"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        changed.contains(&("authenticationMethodConfigurations".into(), "Fido2".into())),
        "{changed:?}"
    );

    // Selected by its id alone: one PATCH of the configuration, with its type and targets.
    let out = run_without_writes(
        &h,
        &["restore", "HEAD~1", "--id", "Fido2", "--format", "json"],
    );
    assert_status(&out, 0);
    let plan = &json_docs(&out)[0];
    let [only] = actions(plan).as_slice() else {
        panic!("one action: {plan:#}");
    };
    assert_eq!(only["kind"], "authenticationMethodConfigurations");
    assert_eq!(only["op"], "update");
    let body = &only["body"];
    assert_eq!(
        body["@odata.type"],
        "#microsoft.graph.fido2AuthenticationMethodConfiguration"
    );
    assert_eq!(body["state"], "enabled");
    assert_eq!(body["includeTargets"], fido2["includeTargets"]);

    // The whole restore: the policy PATCH carries policy-level properties only (Graph refuses
    // configurations in it), the configuration its own PATCH.
    let out = h.run(&["restore", "HEAD~1", "--format", "json"]);
    let plan = &json_docs(&out)[0];
    for a in actions(plan) {
        assert!(
            a["body"]
                .get("authenticationMethodConfigurations")
                .is_none(),
            "{a:#}"
        );
    }
    let before = writes(&h);
    assert_status(&h.run(&["restore", "HEAD~1", "--yes"]), 0);
    assert_eq!(writes(&h) - before, 2, "one PATCH each");
    let back = get(&h, &format!("{CONFIGS}/Fido2"));
    assert_eq!(back["state"], "enabled");
    assert_eq!(back["includeTargets"], fido2["includeTargets"]);
    assert_eq!(
        back["isAttestationEnforced"],
        fido2["isAttestationEnforced"]
    );
    assert_eq!(get(&h, METHODS)["registrationEnforcement"], campaign);
    assert_matches(&h, "HEAD~1");
}

/// The file of the CA policy that requires phishing-resistant MFA.
fn strength_policy_file(h: &TestEnvironment) -> (String, String) {
    let file = h.file("conditionalAccessPolicies/", "phishing-resistant");
    let text = std::fs::read_to_string(h.repo.join(&file)).unwrap();
    (file, text)
}

#[test]
fn an_authentication_strength_is_stored_and_written_as_a_reference() {
    let h = TestEnvironment::synthetic(SPEC);
    assert_status(&h.run(&["-q", "snapshot"]), 0);
    let (file, text) = strength_policy_file(&h);
    assert!(
        text.contains(&format!(
            "  authenticationStrength:\n    id: {PHISHING_RESISTANT}  # Phishing resistant MFA\n"
        )),
        "the id, with the strength's name as a comment:\n{text}"
    );
    assert!(!text.contains("allowedCombinations"), "{text}");
    let ca = h.id_of(&file);

    // Editing the strength stamps its modifiedDateTime: not drift of the CA policy.
    graph_ok(
        &h,
        "PATCH",
        &format!("policies/authenticationStrengthPolicies/{PHISHING_RESISTANT}"),
        Some(json!({"description": "Edited by an administrator"})),
        204,
    );
    let out = h.run(&["diff", "--exit-code"]);
    assert_status(&out, 0);

    // Someone swaps the strength for plain MFA; the restore writes `{"id": …}` back.
    graph_ok(
        &h,
        "PATCH",
        &format!("identity/conditionalAccess/policies/{ca}"),
        Some(json!({"grantControls": {"operator": "OR", "builtInControls": ["mfa"]}})),
        204,
    );
    snapshot_damage(&h);
    let out = h.run(&["restore", "HEAD~1", "--format", "json"]);
    let plan = &json_docs(&out)[0];
    let update = actions(plan)
        .iter()
        .find(|a| a["id"] == ca.as_str())
        .expect("the CA policy is updated");
    assert_eq!(
        update["body"]["grantControls"]["authenticationStrength"],
        json!({"id": PHISHING_RESISTANT}),
        "a reference, never the expanded policy"
    );
    assert_status(&h.run(&["restore", "HEAD~1", "--yes"]), 0);
    let live = get(&h, &format!("identity/conditionalAccess/policies/{ca}"));
    assert_eq!(
        live["grantControls"]["authenticationStrength"]["id"],
        PHISHING_RESISTANT
    );
    assert_matches(&h, "HEAD~1");
}

#[test]
fn the_authorization_policys_name_and_description_are_restored() {
    let h = TestEnvironment::synthetic(SPEC);
    assert_status(&h.run(&["-q", "snapshot"]), 0);
    let path = "policies/authorizationPolicy";
    let good = get(&h, path);
    graph_ok(
        &h,
        "PATCH",
        path,
        Some(json!({"displayName": "Renamed", "description": "Changed"})),
        204,
    );
    snapshot_damage(&h);
    assert_status(&h.run(&["restore", "HEAD~1", "--yes"]), 0);
    let back = get(&h, path);
    assert_eq!(back["displayName"], good["displayName"]);
    assert_eq!(back["description"], good["description"]);
    assert_matches(&h, "HEAD~1");
}
