//! Tests of the difference report in its three formats: snapshots of the morning-after
//! scenario, the JSON schema, escaping of hostile tenant text, and a 100k-object benchmark.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::diff::{self, fixture, DiffOptions, Report, Side};
use crate::render::{render_diff, Format, Style};

fn scenario_report() -> Report {
    let (old, new, deleted) = fixture::scenario();
    let (from, to) = fixture::sides();
    Report {
        from,
        to,
        changes: diff::diff(&old, &new, &deleted, &DiffOptions::default()),
    }
}

fn render(report: &Report, format: Format, color: bool) -> String {
    let mut out = Vec::new();
    render_diff(report, format, &Style { color }, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

macro_rules! snapshot {
    ($name:expr, $text:expr) => {
        insta::with_settings!({snapshot_path => "../../../snapshots", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!($name, $text);
        })
    };
}

#[test]
fn human_scenario() {
    snapshot!(
        "diff_human",
        render(&scenario_report(), Format::Human, false)
    );
}

#[test]
fn human_scenario_in_colour() {
    // ESC shown as ␛ so that the snapshot file reads in any viewer.
    snapshot!(
        "diff_human_color",
        render(&scenario_report(), Format::Human, true).replace('\x1b', "␛")
    );
}

#[test]
fn json_scenario() {
    snapshot!("diff_json", render(&scenario_report(), Format::Json, false));
}

#[test]
fn markdown_scenario() {
    snapshot!(
        "diff_markdown",
        render(&scenario_report(), Format::Markdown, false)
    );
}

/// Removes ANSI SGR sequences.
fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn colour_adds_nothing_but_escapes() {
    let report = scenario_report();
    let plain = render(&report, Format::Human, false);
    let coloured = render(&report, Format::Human, true);
    assert!(!plain.contains('\x1b'));
    assert!(coloured.contains("\x1b[31m") && coloured.contains("\x1b[32m"));
    assert_eq!(strip_ansi(&coloured), plain);
    // Other formats never colour.
    assert!(!render(&report, Format::Json, true).contains('\x1b'));
    assert!(!render(&report, Format::Markdown, true).contains('\x1b'));
}

fn schema() -> Value {
    serde_json::from_str(include_str!("../../../schema/diff-report.schema.json")).unwrap()
}

fn validate(doc: &Value) -> Result<(), String> {
    let validator = jsonschema::validator_for(&schema()).map_err(|e| e.to_string())?;
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

#[test]
fn json_validates_against_its_schema() {
    jsonschema::meta::validate(&schema()).expect("the schema is a valid draft 2020-12 schema");
    let text = render(&scenario_report(), Format::Json, false);
    assert!(text.ends_with("}\n"));
    let doc: Value = serde_json::from_str(&text).unwrap();
    validate(&doc).unwrap();
    let empty = Report {
        from: Side::new("HEAD (3f2a1c0)"),
        to: Side::new("live tenant"),
        changes: vec![],
    };
    let doc: Value = serde_json::from_str(&render(&empty, Format::Json, false)).unwrap();
    validate(&doc).unwrap();

    // The schema is strict enough to catch a wrong shape.
    let mut bad: Value = serde_json::from_str(&text).unwrap();
    bad["changes"][0]["links"] =
        json!([{"name": "members", "added": [{"id": "x"}], "removed": [], "displayNames": {}}]);
    assert!(validate(&bad).is_err());
    let mut bad: Value = serde_json::from_str(&text).unwrap();
    bad["changes"][0]["restorable"] = Value::Null; // a modified object
    assert!(validate(&bad).is_err());
    let mut bad: Value = serde_json::from_str(&text).unwrap();
    bad["changes"][0]["change"] = json!("renamed");
    assert!(validate(&bad).is_err());
}

#[test]
fn json_shape_carries_ids_names_and_recycle_bin_state() {
    let doc: Value =
        serde_json::from_str(&render(&scenario_report(), Format::Json, false)).unwrap();
    assert_eq!(doc["version"], 1);
    assert_eq!(
        doc["summary"]["users"],
        json!({"added": 0, "removed": 1, "modified": 2})
    );
    let changes = doc["changes"].as_array().unwrap();
    let by_id = |id: &str| changes.iter().find(|c| c["id"] == id).unwrap();
    let sales = by_id(fixture::SALES);
    assert_eq!(
        sales["links"][0]["removed"],
        json!([fixture::ALICE, fixture::BOB, fixture::DAVE])
    );
    assert_eq!(sales["links"][0]["displayNames"][fixture::BOB], "Bob Jones");
    assert_eq!(
        by_id(fixture::DAVE)["restorable"]["restorableUntil"],
        "2026-12-27T07:58:12Z"
    );
    assert_eq!(by_id(fixture::VPN)["restorable"], Value::Null);
    assert!(by_id(fixture::ALICE).get("restorable").is_none());
}

#[test]
fn empty_report_says_so_in_every_format() {
    let report = Report {
        from: Side::new("HEAD (3f2a1c0)"),
        to: Side::new("live tenant"),
        changes: vec![],
    };
    assert!(render(&report, Format::Human, false).ends_with("No differences.\n"));
    assert!(render(&report, Format::Markdown, false).ends_with("No differences.\n"));
    let doc: Value = serde_json::from_str(&render(&report, Format::Json, false)).unwrap();
    assert_eq!(doc["changes"], json!([]));
    assert_eq!(doc["summary"], json!({}));
}

/// A report whose one object carries hostile text: table pipes, HTML, terminal escapes.
fn hostile_report() -> Report {
    let mut changes = scenario_report().changes;
    let c = &mut changes[0];
    c.display_name = "Eve | <script>alert(1)</script> \x1b[2J".into();
    c.attributes[0].new = json!("a|b `tick` \x1b]0;title\x07");
    Report {
        from: Side::new("HEAD"),
        to: Side::new("live tenant"),
        changes: vec![changes.swap_remove(0)],
    }
}

#[test]
fn tenant_text_cannot_break_markdown_or_the_terminal() {
    let report = hostile_report();
    let md = render(&report, Format::Markdown, false);
    assert!(!md.contains("<script>"), "{md}");
    assert!(md.contains("&lt;script&gt;"));
    assert!(!md.contains('\x1b'));
    // Every table row still has exactly its cells: unescaped pipes count the columns.
    for line in md.lines().filter(|l| l.starts_with("| `")) {
        let cells = line.replace("\\|", "").matches('|').count();
        assert_eq!(cells, 4, "{line}");
    }
    assert!(md.contains("``\"a\\|b `tick`"), "{md}");
    let human = render(&report, Format::Human, false);
    assert!(!human.contains('\x1b'), "{human:?}");
    assert!(!human.contains('\x07'));
}

#[test]
fn long_and_multiline_values_become_unified_diffs() {
    let report = scenario_report();
    let human = render(&report, Format::Human, false);
    // The Sales Team description is longer than a line: shown as - / + lines, not inline.
    assert!(
        human.contains("    description:\n      - Everyone in Sales."),
        "{human}"
    );
    assert!(human.contains("      + Everyone in Sales."));
    let mut changes = report.changes.clone();
    let a = &mut changes[0].attributes[0];
    a.old = json!("line one\nline two\nline three\n");
    a.new = json!("line one\nline 2\nline three\n");
    let r = Report {
        changes: vec![changes.swap_remove(0)],
        ..report
    };
    let human = render(&r, Format::Human, false);
    assert!(
        human.contains("    jobTitle:\n        line one\n      - line two\n      + line 2\n        line three\n"),
        "{human}"
    );
}

/// `CARGO_PROFILE_DEV_OPT_LEVEL=3 cargo test --lib render::diff::tests::render_100k_users -- --ignored --nocapture`
/// (opt-level 3 for this crate only: the figures of an unoptimized build mean little).
#[test]
#[ignore = "benchmark: prints timings, asserts nothing about them"]
fn render_100k_users() {
    let users = crate::schema::kind("users").unwrap();
    let mut old = crate::model::Snapshot::default();
    let mut new = crate::model::Snapshot::default();
    for i in 0..100_000 {
        let id = format!("{i:08x}-0000-4000-8000-000000000000");
        let o = fixture::user(
            &id,
            &format!("user{i}@contoso.com"),
            &format!("User {i}"),
            json!("Sales"),
            json!("Engineer"),
            json!("X"),
        );
        let n = fixture::user(
            &id,
            &format!("user{i}@contoso.com"),
            &format!("User {i}"),
            Value::Null,
            Value::Null,
            Value::Null,
        );
        assert_eq!(o.kind.kind, users.kind);
        old.insert(o);
        new.insert(n);
    }
    let t = std::time::Instant::now();
    let none = diff::diff(&old, &old, &HashMap::new(), &DiffOptions::default());
    eprintln!(
        "diff of identical snapshots: {} changes in {:?}",
        none.len(),
        t.elapsed()
    );
    let t = std::time::Instant::now();
    let changes = diff::diff(&old, &new, &HashMap::new(), &DiffOptions::default());
    eprintln!("diff: {} changes in {:?}", changes.len(), t.elapsed());
    let report = Report {
        from: Side::new("HEAD"),
        to: Side::new("live tenant"),
        changes,
    };
    for format in [Format::Human, Format::Json, Format::Markdown] {
        let t = std::time::Instant::now();
        let mut sink = std::io::sink();
        render_diff(&report, format, &Style { color: false }, &mut sink).unwrap();
        let mut bytes = Vec::new();
        render_diff(&report, format, &Style { color: false }, &mut bytes).unwrap();
        eprintln!(
            "{format:?}: {} bytes, {:?} for two renders",
            bytes.len(),
            t.elapsed()
        );
    }
}

#[test]
fn a_removed_object_between_commits_is_just_removed() {
    // Between two commits nothing says where a removed object went: no "gone", and no empty
    // paragraph where the recycle bin state would be.
    let mut report = scenario_report();
    report.to = Side {
        label: "HEAD (9e8f7a6)".into(),
        commit: Some("9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3f2a1c0d".into()),
        time: None,
    };
    for c in &mut report.changes {
        if let diff::ChangeKind::Removed { restorable } = &mut c.change {
            *restorable = None;
        }
    }
    let human = render(&report, Format::Human, false);
    assert!(
        human
            .contains("- groups Legacy VPN users (7e470000-0000-4000-8000-00000000a003) removed\n"),
        "{human}"
    );
    assert!(!human.contains("gone"), "{human}");
    let md = render(&report, Format::Markdown, false);
    assert!(!md.contains("Gone") && !md.contains("\n\n\n"), "{md}");
}
