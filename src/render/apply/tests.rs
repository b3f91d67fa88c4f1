//! Tests of the apply report renderings: snapshots of a run where one write failed, one was
//! skipped, one found the tenant already as wanted and one object still differs afterwards.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::apply::{ApplyReport, WriteOutcome};
use crate::diff::{self, fixture, DiffOptions};
use crate::graph::GraphError;
use crate::model::{ObjectKey, Snapshot};
use crate::render::{render_apply, Format, Style};

macro_rules! snapshot {
    ($name:expr, $text:expr) => {
        insta::with_settings!({snapshot_path => "../../../snapshots", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!($name, $text);
        })
    };
}

const REQUEST_ID: &str = "7d1c0ffe-0000-4000-8000-000000000001";

fn http_error(path: &str, request_id: &str) -> GraphError {
    GraphError::Http {
        method: "PATCH",
        path: path.into(),
        status: 500,
        code: "generalException".into(),
        message: "injected fault".into(),
        request_id: Some(request_id.into()),
    }
}

fn outcome(action: &str, id: &str, name: &str) -> WriteOutcome {
    WriteOutcome {
        kind: "users".into(),
        id: id.into(),
        display_name: name.into(),
        action: action.into(),
        method: "PATCH".into(),
        path: format!("users/{id}"),
        status: Some(204),
        ok: true,
        converged: false,
        skipped: false,
        error: None,
        request_id: None,
        new_id: None,
        note: None,
    }
}

fn scenario_report() -> ApplyReport {
    let mut failed = outcome("update", fixture::BOB, "Bob Jones");
    failed.status = Some(500);
    failed.ok = false;
    // The error as the executor records it: Graph's error, which names the request and ends
    // with the request id.
    failed.error = Some(http_error(&failed.path, REQUEST_ID).to_string());
    failed.request_id = Some(REQUEST_ID.into());
    let mut created = outcome("create", fixture::VPN, "Legacy VPN users");
    created.kind = "groups".into();
    created.method = "POST".into();
    created.path = "groups".into();
    created.status = Some(201);
    created.new_id = Some("7e470000-0000-4000-8000-0000000000ff".into());
    let mut already = outcome("add members", fixture::SALES, "Sales Team");
    already.kind = "groups".into();
    already.method = "POST".into();
    already.path = format!("groups/{}/members/$ref", fixture::SALES);
    already.status = Some(400);
    already.converged = true;
    let mut skipped = outcome("update", fixture::DAVE, "Dave Brown");
    skipped.method = String::new();
    skipped.status = None;
    skipped.ok = false;
    skipped.skipped = true;
    skipped.error = Some("skipped: restoring or re-creating the object failed".into());
    // Bob's update failed: he is still wiped.
    let (backup, live, _) = fixture::scenario();
    let bob = |s: &Snapshot| {
        let mut out = Snapshot::default();
        out.insert(
            s.get(&ObjectKey {
                kind: "users",
                id: fixture::BOB.into(),
            })
            .unwrap()
            .clone(),
        );
        out
    };
    ApplyReport {
        outcomes: vec![
            created,
            outcome("update", fixture::ALICE, "Alice Smith"),
            failed,
            skipped,
            already,
        ],
        writes: 4,
        failed: 2,
        seconds: 0.25,
        remaining_drift: diff::diff(
            &bob(&backup),
            &bob(&live),
            &HashMap::new(),
            &DiffOptions::default(),
        ),
        verify_error: None,
    }
}

fn apply_text(r: &ApplyReport, format: Format) -> String {
    coloured_apply_text(r, format, false)
}

fn coloured_apply_text(r: &ApplyReport, format: Format, color: bool) -> String {
    let mut out = Vec::new();
    render_apply(r, format, &Style { color }, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn apply_human() {
    let text = apply_text(&scenario_report(), Format::Human);
    assert!(text.contains("request-id: 7d1c0ffe-0000-4000-8000-000000000001"));
    assert!(text.contains("FAILED"));
    assert!(
        text.contains("Read back: 1 object differs from the desired state (desired → live):\n"),
        "{text}"
    );
    snapshot!("apply_human", text);
}

#[test]
fn apply_json() {
    let r = scenario_report();
    let text = apply_text(&r, Format::Json);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["failed"], json!(2));
    assert_eq!(
        v["outcomes"][2]["requestId"],
        json!("7d1c0ffe-0000-4000-8000-000000000001")
    );
    assert_eq!(v["remainingDrift"][0]["id"], json!(fixture::BOB));
    snapshot!("apply_json", text);
}

#[test]
fn apply_markdown() {
    snapshot!(
        "apply_markdown",
        apply_text(&scenario_report(), Format::Markdown)
    );
}

#[test]
fn counts_agree_with_their_nouns() {
    let mut one = scenario_report();
    one.writes = 1;
    let text = apply_text(&one, Format::Human);
    assert!(text.contains("; 1 request in "), "{text}");
    assert!(text.contains("Read back: 1 object differs "), "{text}");
    let md = apply_text(&one, Format::Markdown);
    assert!(md.contains("**Read back:** 1 object differs "), "{md}");
    assert!(md.contains("<summary>All writes (5)</summary>"), "{md}");

    let mut many = scenario_report();
    many.remaining_drift.extend(many.remaining_drift.clone());
    let text = apply_text(&many, Format::Human);
    assert!(text.contains("; 4 requests in "), "{text}");
    assert!(text.contains("Read back: 2 objects differ "), "{text}");
}

#[test]
fn a_failed_write_names_its_request_and_request_id_once() {
    let mut report = scenario_report();
    let request = format!("PATCH users/{}", fixture::BOB);
    for text in [
        apply_text(&report, Format::Human),
        apply_text(&report, Format::Markdown),
    ] {
        assert_eq!(text.matches(REQUEST_ID).count(), 1, "{text}");
        // Once in the list of failures; the Markdown report lists every write again below.
        let expected = if text.starts_with("##") { 2 } else { 1 };
        assert_eq!(text.matches(&request).count(), expected, "{text}");
        assert!(
            text.contains("HTTP 500 generalException: injected fault"),
            "{text}"
        );
    }
    // Retries exhausted: the request is named once per attempt in the error chain.
    let failed = &mut report.outcomes[2];
    let last = http_error(&failed.path, REQUEST_ID);
    let gave_up = GraphError::RetriesExhausted {
        method: "PATCH",
        path: failed.path.clone(),
        attempts: 4,
        last: Box::new(last),
    };
    failed.error = Some(format!(
        "{gave_up}: {}",
        std::error::Error::source(&gave_up).unwrap()
    ));
    let text = apply_text(&report, Format::Human);
    assert!(
        text.contains("\n          gave up after 4 attempts: HTTP 500 generalException: injected fault\n          request-id: 7d1c0ffe-0000-4000-8000-000000000001\n"),
        "{text}"
    );
    // The JSON report keeps the error whole.
    let v: Value = serde_json::from_str(&apply_text(&report, Format::Json)).unwrap();
    assert!(v["outcomes"][2]["error"]
        .as_str()
        .unwrap()
        .ends_with("(request-id 7d1c0ffe-0000-4000-8000-000000000001)"));
}

#[test]
fn the_read_back_says_what_still_differs_from_the_desired_state() {
    let mut report = scenario_report();
    // Dave's restore failed: read back, he is missing from the tenant. Whether he is in the
    // recycle bin was not read, so the report must not call him gone.
    let (backup, _, _) = fixture::scenario();
    let dave = backup
        .get(&ObjectKey {
            kind: "users",
            id: fixture::DAVE.into(),
        })
        .unwrap()
        .clone();
    let mut want = Snapshot::default();
    want.insert(dave);
    report.remaining_drift.extend(diff::diff(
        &want,
        &Snapshot::default(),
        &HashMap::new(),
        &DiffOptions::default(),
    ));
    let text = apply_text(&report, Format::Human);
    assert!(
        text.contains("Read back: 2 objects differ from the desired state (desired → live):\n\n~ users Bob Jones"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "- users Dave Brown ({}) missing from the tenant\n",
            fixture::DAVE
        )),
        "{text}"
    );
    assert!(!text.contains("gone") && !text.contains("backup"), "{text}");
    // One summary: the apply report's, not a second one for the differences.
    assert_eq!(text.matches("Summary:").count(), 1, "{text}");

    let md = apply_text(&report, Format::Markdown);
    assert!(md.contains("**Read back:** 2 objects differ from the desired state:\n"));
    assert!(md.contains("(missing from the tenant)</summary>"), "{md}");
    assert!(md.contains("| path | desired | live |"), "{md}");
    assert!(!md.contains("Gone") && !md.contains("ackup") && !md.contains("## tenantgit diff"));

    report.remaining_drift.clear();
    assert!(apply_text(&report, Format::Human)
        .contains("\nRead back: every touched object matches the desired state.\n"));
    assert!(apply_text(&report, Format::Markdown)
        .contains("\n**Read back:** every touched object matches the desired state.\n"));
}

#[test]
fn apply_human_in_colour_says_the_same_in_colour() {
    let r = scenario_report();
    let coloured = coloured_apply_text(&r, Format::Human, true);
    assert!(coloured.contains("\x1b[31m"), "{coloured}");
    let stripped = regex::Regex::new("\x1b\\[[0-9;]*m")
        .unwrap()
        .replace_all(&coloured, "");
    // The outcome column lines up in colour too.
    assert_eq!(stripped, apply_text(&r, Format::Human));
}

#[test]
fn a_write_never_sent_says_so_once() {
    let mut report = scenario_report();
    // A write of a kind this build does not know: no method, no path.
    let mut unknown = outcome("update", "0000", "Mystery");
    unknown.kind = "widgets".into();
    unknown.method = String::new();
    unknown.path = String::new();
    unknown.status = None;
    unknown.ok = false;
    unknown.error = Some("unknown kind \"widgets\"".into());
    report.outcomes.push(unknown);
    let text = apply_text(&report, Format::Human);
    let dave = format!(
        "  skipped update users Dave Brown ({id}): users/{id} (not sent)\n          restoring or re-creating the object failed\n",
        id = fixture::DAVE
    );
    assert!(text.contains(&dave), "{text}");
    assert!(
        text.contains("  FAILED  update widgets Mystery (0000): not sent\n          unknown kind \"widgets\"\n"),
        "{text}"
    );
    let md = apply_text(&report, Format::Markdown);
    assert!(
        md.contains(&format!(
            "| skipped | `users` Dave Brown | update | `users/{} (not sent)` | restoring or re-creating the object failed |  |",
            fixture::DAVE
        )),
        "{md}"
    );
}
