//! Tests of the plan renderings: snapshots of the morning-after scenario's restore plan in the
//! three formats, the plan JSON against its schema, colour adding nothing but escapes.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};

use crate::diff::fixture;
use crate::model::ObjectKey;
use crate::plan::{
    self, DeletedObject, DesiredSource, Op, Plan, PlanInput, PlanRequest, SafetySettings,
};
use crate::render::{render_plan, Format, Style};

macro_rules! snapshot {
    ($name:expr, $text:expr) => {
        insta::with_settings!({snapshot_path => "../../../snapshots", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!($name, $text);
        })
    };
}

/// The fixture's morning after as a plan: restore the backup, with Alice protected so that a
/// refusal shows.
fn scenario_plan() -> Plan {
    let (backup, live, _) = fixture::scenario();
    let dave = ObjectKey {
        kind: "users",
        id: fixture::DAVE.into(),
    };
    let mut deleted = HashMap::new();
    deleted.insert(
        dave.clone(),
        DeletedObject {
            key: dave,
            display_name: "Dave Brown".into(),
            deleted_at: None,
            state: backup
                .get(&ObjectKey {
                    kind: "users",
                    id: fixture::DAVE.into(),
                })
                .map(|d| {
                    let mut d = d.clone();
                    d.props["department"] = Value::Null;
                    d
                }),
        },
    );
    let mut counts = BTreeMap::new();
    for k in live.objects.keys() {
        *counts.entry(k.kind.to_string()).or_insert(0) += 1;
    }
    let mut safety = SafetySettings::default();
    safety.protected.insert(format!("users/{}", fixture::ALICE));
    let mut p = plan::plan(
        &PlanInput::new(&backup, &live)
            .live_counts(counts)
            .deleted(deleted)
            .safety(safety)
            .request(
                PlanRequest {
                    desired: DesiredSource::Commit {
                        rev: "HEAD~1".into(),
                        commit: "3f2a1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b".into(),
                    },
                    selection: Default::default(),
                    prune: false,
                },
                "HEAD~1 (3f2a1c0)",
            ),
    );
    p.created = "2026-11-27T09:00:00Z".into();
    p.checksum = p.compute_checksum();
    p
}

fn plan_text(p: &Plan, format: Format, color: bool) -> String {
    let mut out = Vec::new();
    render_plan(p, format, &Style { color }, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn plan_human() {
    let text = plan_text(&scenario_plan(), Format::Human, false);
    assert!(text.contains("department: null → \"Sales\""), "{text}");
    assert!(text.contains("Refused without --force"));
    assert!(text.contains("kept (use --prune to delete)"));
    snapshot!("plan_human", text);
}

#[test]
fn plan_human_in_colour_says_the_same_in_colour() {
    let p = scenario_plan();
    let coloured = plan_text(&p, Format::Human, true);
    assert!(coloured.contains('\x1b'));
    let stripped = regex::Regex::new("\x1b\\[[0-9;]*m")
        .unwrap()
        .replace_all(&coloured, "");
    assert_eq!(stripped, plan_text(&p, Format::Human, false));
}

#[test]
fn plan_json() {
    let p = scenario_plan();
    let text = plan_text(&p, Format::Json, false);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["version"], json!(crate::plan::PLAN_VERSION));
    assert_eq!(v["summary"], serde_json::to_value(p.summary()).unwrap());
    assert_eq!(v["actions"].as_array().unwrap().len(), p.actions.len());
    assert!(v["refusals"][0]["message"]
        .as_str()
        .unwrap()
        .contains("protected"));
    snapshot!("plan_json", text);
    let schema: Value =
        serde_json::from_str(include_str!("../../../schema/plan.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&v)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    // An empty plan too.
    let (backup, _, _) = fixture::scenario();
    let empty = plan::plan(&PlanInput::new(&backup, &backup));
    let v: Value = serde_json::from_str(&plan_text(&empty, Format::Json, false)).unwrap();
    assert!(validator.is_valid(&v));
    // And the document must say what it is.
    let mut wrong = v.clone();
    wrong["actions"] =
        json!([{"phase": "prune", "kind": "users", "id": "x", "displayName": "x", "op": "delete"}]);
    assert!(
        !validator.is_valid(&wrong),
        "a delete without `soft` is not a plan"
    );
}

#[test]
fn plan_markdown() {
    let text = plan_text(&scenario_plan(), Format::Markdown, false);
    assert!(
        text.contains("<b>Legacy VPN users</b> (create with a new id)</summary>"),
        "{text}"
    );
    // A plan says what will happen, as the human summary does.
    assert!(
        text.contains("| links to add | links to remove | kept |\n"),
        "{text}"
    );
    snapshot!("plan_markdown", text);
}

#[test]
fn what_happens_to_an_object_is_worded_without_nested_parentheses() {
    let mut p = scenario_plan();
    // Alice deleted to the recycle bin, Bob permanently.
    for a in &mut p.actions {
        if a.id == fixture::ALICE {
            a.op = Op::Delete { soft: true };
        } else if a.id == fixture::BOB {
            a.op = Op::Delete { soft: false };
        }
    }
    let md = plan_text(&p, Format::Markdown, false);
    for summary in md.lines().filter(|l| l.starts_with("<details>")) {
        assert!(!summary.contains("))"), "{summary}");
    }
    assert!(md.contains("<b>Alice Smith</b> (delete to the recycle bin)</summary>"));
    assert!(md.contains("<b>Bob Jones</b> (delete permanently)</summary>"));
    let human = plan_text(&p, Format::Human, false);
    assert!(
        human.contains(&format!(
            "- users Alice Smith ({}) delete to the recycle bin\n",
            fixture::ALICE
        )),
        "{human}"
    );
}

#[test]
fn empty_plan_says_so_in_every_format() {
    let (backup, _, _) = fixture::scenario();
    let p = plan::plan(&PlanInput::new(&backup, &backup).live_counts(BTreeMap::new()));
    for f in [Format::Human, Format::Markdown] {
        assert!(plan_text(&p, f, false).contains("No changes"), "{f:?}");
    }
    let v: Value = serde_json::from_str(&plan_text(&p, Format::Json, false)).unwrap();
    assert_eq!(v["actions"], json!([]));
}

#[test]
fn counts_agree_with_their_nouns() {
    let many = plan_text(&scenario_plan(), Format::Human, false);
    assert!(
        many.contains(", 5 links to add, 0 links to remove,"),
        "{many}"
    );
    // Only the re-created group's links: its one member to add, its one owner to remove.
    let mut one = scenario_plan();
    one.actions.retain(|a| match &a.op {
        Op::AddLinks { .. } => a.id == fixture::VPN,
        _ => true,
    });
    for a in &mut one.actions {
        if let Op::AddLinks { link, ends } = &a.op {
            if link == "owners" {
                a.op = Op::RemoveLinks {
                    link: link.clone(),
                    ends: ends.clone(),
                };
            }
        }
    }
    let text = plan_text(&one, Format::Human, false);
    assert!(
        text.contains(", 1 link to add, 1 link to remove,"),
        "{text}"
    );
}

#[test]
fn the_prune_hint_comes_only_with_something_to_prune() {
    let mut p = scenario_plan();
    let text = plan_text(&p, Format::Human, false);
    assert!(
        text.ends_with(", 1 kept (use --prune to delete)\n"),
        "{text}"
    );
    p.kept.clear();
    let text = plan_text(&p, Format::Human, false);
    assert!(text.ends_with(", 0 kept\n"), "{text}");
    assert!(!text.contains("--prune"), "{text}");
}
