//! Unit tests of the live read: the tokens' note and which kinds read from a token or in full.

use super::*;
use serde_json::{json, Value};

use crate::read::delta;
use crate::schema;

const GRAPH: &str = "https://graph.example/v1.0";

fn kinds(names: &[&str]) -> Vec<&'static KindSpec> {
    names.iter().map(|n| schema::kind(n).unwrap()).collect()
}

fn token(kind: &str, since: &str) -> DeltaToken {
    let spec = schema::kind(kind).unwrap();
    DeltaToken {
        link: format!("{GRAPH}/{}/delta?$deltatoken=abc", spec.path),
        query: delta::query_hash(&delta::query(spec, &[])),
        since: since.into(),
    }
}

fn note(kinds: &[&str]) -> (Oid, Note) {
    (
        Oid::from_str("1111111111111111111111111111111111111111").unwrap(),
        Note {
            version: NOTE_VERSION,
            graph: GRAPH.into(),
            tenant: Some("t1".into()),
            kinds: kinds
                .iter()
                .map(|k| (k.to_string(), token(k, "2026-11-30T00:00:00Z")))
                .collect(),
        },
    )
}

fn now() -> chrono::DateTime<chrono::Utc> {
    "2026-12-01T00:00:00Z".parse().unwrap()
}

/// The plan of each kind as a word, and the notices.
fn plans(
    scope: &[&str],
    note: Option<&(Oid, Note)>,
    tenant: Option<&str>,
    options: &Options,
) -> (Vec<String>, Vec<String>) {
    plans_selecting(
        scope,
        note,
        tenant,
        options,
        &read::extensions::Selected::default(),
    )
}

/// `plans` when the tenant has directory extensions registered.
fn plans_selecting(
    scope: &[&str],
    note: Option<&(Oid, Note)>,
    tenant: Option<&str>,
    options: &Options,
    extensions: &read::extensions::Selected,
) -> (Vec<String>, Vec<String>) {
    let mut notices = Vec::new();
    let plans = decide(
        &kinds(scope),
        note,
        GRAPH,
        tenant,
        options,
        extensions,
        now(),
        &mut notices,
    );
    let words = plans
        .iter()
        .map(|(k, p)| {
            let word = match p {
                Plan::Full => "full",
                Plan::Initial => "initial",
                Plan::Since { .. } => "since",
            };
            format!("{}:{word}", k.kind)
        })
        .collect();
    (words, notices)
}

const ALL: &[&str] = &[
    "users",
    "groups",
    "applications",
    "servicePrincipals",
    "administrativeUnits",
    "namedLocations",
];

#[test]
fn a_trusted_note_continues_every_delta_kind() {
    let n = note(&ALL[..5]);
    let (words, notices) = plans(ALL, Some(&n), Some("t1"), &Options::default());
    assert_eq!(
        words,
        [
            "users:since",
            "groups:since",
            "applications:since",
            "servicePrincipals:since",
            "administrativeUnits:since",
            "namedLocations:full"
        ]
    );
    assert!(notices.is_empty(), "{notices:?}");
}

#[test]
fn no_note_means_initial_rounds_without_a_notice() {
    let (words, notices) = plans(ALL, None, Some("t1"), &Options::default());
    assert_eq!(words[0], "users:initial");
    assert_eq!(words[5], "namedLocations:full");
    assert!(notices.is_empty());
}

#[test]
fn tokens_of_another_tenant_or_graph_are_never_trusted() {
    let n = note(&ALL[..5]);
    let (words, notices) = plans(ALL, Some(&n), Some("t2"), &Options::default());
    assert!(
        words[..5].iter().all(|w| w.ends_with(":initial")),
        "{words:?}"
    );
    assert_eq!(notices.len(), 1);
    assert!(
        notices[0].contains("belong to tenant t1, not t2"),
        "{notices:?}"
    );

    let mut other = n.clone();
    other.1.graph = "https://evil.example/v1.0".into();
    let (words, notices) = plans(ALL, Some(&other), Some("t1"), &Options::default());
    assert!(words[..5].iter().all(|w| w.ends_with(":initial")));
    assert!(notices[0].contains("were taken from https://evil.example/v1.0"));
}

#[test]
fn a_token_for_other_properties_or_elsewhere_reads_its_kind_and_those_linking_to_it_in_full() {
    let mut n = note(&ALL[..5]);
    n.1.kinds.get_mut("users").unwrap().query = "0000".into();
    let (words, notices) = plans(ALL, Some(&n), Some("t1"), &Options::default());
    // Groups, applications, service principals and units name users in their links: a user
    // renamed since their files were written would go unseen.
    assert!(
        words[..5].iter().all(|w| w.ends_with(":initial")),
        "{words:?}"
    );
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(notices[0].starts_with("users: the stored delta token was taken for other properties"));

    let mut n = note(&ALL[..5]);
    n.1.kinds.get_mut("applications").unwrap().link =
        "https://evil.example/v1.0/applications/delta?$deltatoken=x".into();
    let (words, notices) = plans(ALL, Some(&n), Some("t1"), &Options::default());
    assert_eq!(words[2], "applications:initial");
    assert_eq!(words[0], "users:since", "nothing links to applications");
    assert!(notices[0].contains("not a deltaLink of this Graph"));
}

#[test]
fn a_directory_extension_registered_since_the_token_makes_its_kind_read_in_full() {
    let n = note(&ALL[..5]);
    let users = schema::kind("users").unwrap();
    let registered = read::extensions::Selected::default().with(users, &["extension_ab_badge"]);
    let (words, notices) =
        plans_selecting(ALL, Some(&n), Some("t1"), &Options::default(), &registered);
    assert_eq!(words[0], "users:initial");
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(notices[0].starts_with("users: the stored delta token was taken for other properties"));
}

#[test]
fn a_kind_whose_ends_are_not_read_incrementally_is_read_in_full() {
    let n = note(&ALL[..5]);
    let (words, _) = plans(&["groups"], Some(&n), Some("t1"), &Options::default());
    assert_eq!(
        words,
        ["groups:initial"],
        "users are not read: renames unseen"
    );
    let (words, _) = plans(&["users"], Some(&n), Some("t1"), &Options::default());
    assert_eq!(words, ["users:since"]);
}

#[test]
fn full_every_and_full_force_full_rounds() {
    let n = note(&ALL[..5]);
    let options = Options {
        full_every: Some(chrono::Duration::hours(12)),
        ..Options::default()
    };
    let (words, notices) = plans(ALL, Some(&n), Some("t1"), &options);
    assert!(words[..5].iter().all(|w| w.ends_with(":initial")));
    assert!(
        notices[0].starts_with("reconciling with a full read"),
        "{notices:?}"
    );
    let options = Options {
        full_every: Some(chrono::Duration::days(7)),
        ..Options::default()
    };
    let (words, _) = plans(ALL, Some(&n), Some("t1"), &options);
    assert_eq!(words[0], "users:since");
}

#[test]
fn the_note_round_trips_and_rejects_unknown_fields() {
    let (_, n) = note(&["users"]);
    let text = serde_json::to_string(&n).unwrap();
    assert_eq!(serde_json::from_str::<Note>(&text).unwrap(), n);
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["extra"] = json!(1);
    assert!(serde_json::from_str::<Note>(&v.to_string()).is_err());
}
