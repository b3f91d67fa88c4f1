//! `tenantgit snapshot` reading a tenant that does not hold still or answers slowly: Graph's read
//! throttle, objects deleted while they are read, and a Graph URL with a password in it. The
//! real binary against the in-process emulator.

use serde_json::json;
use tenantgit::emulator::{DeltaConfig, EmulatorConfig, FaultRule, SyntheticSpec};

use crate::assert_snapshot;
use crate::common::*;

/// A tenant whose read, in delta pages of [`PAGE_OBJECTS`], costs about 60 resource units.
const LARGE: &str = "users=2000,groups=200,members=10,apps=20,policies=4";
/// Objects on a delta page: few, so that a small tenant takes many pages.
const PAGE_OBJECTS: usize = 50;
/// Resource units per 10 s for the throttled reads: two thirds of what the read needs.
const QUOTA: u32 = 40;

fn harness(spec: &str, read_throttle: Option<u32>) -> TestEnvironment {
    TestEnvironment::new(EmulatorConfig {
        synthetic: Some(spec.parse::<SyntheticSpec>().expect("valid spec")),
        read_throttle,
        delta: DeltaConfig {
            page_objects: PAGE_OBJECTS,
            ..DeltaConfig::default()
        },
        ..EmulatorConfig::default()
    })
}

/// `git ls-tree -r HEAD` without `tenantgit.toml`, which differs in its settings only.
fn objects_at_head(h: &TestEnvironment) -> String {
    h.git(&["ls-tree", "-r", "HEAD"])
        .lines()
        .filter(|l| !l.ends_with("\ttenantgit.toml"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A repository whose tenantgit.toml has these `[graph]` lines.
fn with_graph_settings(h: &TestEnvironment, lines: &str) {
    std::fs::create_dir_all(&h.repo).unwrap();
    h.git(&["init", "-q", "-b", "main"]);
    std::fs::write(h.repo.join("tenantgit.toml"), format!("[graph]\n{lines}")).unwrap();
    h.git(&["add", "tenantgit.toml"]);
    h.git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-qm",
        "settings",
    ]);
}

#[test]
fn a_throttled_read_waits_and_commits_the_same_tree() {
    let calm = harness(LARGE, None);
    assert_status(&calm.run(&["snapshot"]), 0);
    let want = objects_at_head(&calm);
    assert!(want.lines().count() > 2000, "{}", want.lines().count());

    // A quota below what the read needs: pages are answered 429 with a Retry-After, many
    // times over; the client waits as long as Graph asks.
    for settings in ["", "concurrency = 1\n"] {
        let h = harness(LARGE, Some(QUOTA));
        if !settings.is_empty() {
            with_graph_settings(&h, settings);
        }
        let out = h.run(&["snapshot"]);
        assert_status(&out, 0);
        let stats = h.emulator.stats();
        assert!(
            stats.throttled > 10,
            "{settings:?}: the read must have been throttled: {stats:?}"
        );
        assert_eq!(objects_at_head(&h), want, "{settings:?}");
        // No error; how many requests and retries the throttle caused varies.
        let name = if settings.is_empty() {
            "throttled"
        } else {
            "throttled_one_at_a_time"
        };
        assert_snapshot!(
            name,
            out.redact_matches(
                r"\(\d+ Graph requests, \d+ batch items, (.*), \d+ retries\)",
                "(<n> Graph requests, <n> batch items, $1, <n> retries)"
            )
        );
    }
}

/// The id of the first object of a collection, as an administrator would look it up.
fn first_id(h: &TestEnvironment, collection: &str) -> String {
    let (status, body) = h.graph("GET", &format!("{collection}?$select=id&$top=1"), None);
    assert_eq!(status, 200);
    body["value"][0]["id"].as_str().unwrap().to_string()
}

/// Gives `{collection}/{id}` 20 owners: as many as Graph expands in a list, so that its owners
/// are read again on their own after the list.
fn with_many_owners(h: &TestEnvironment, collection: &str, id: &str) {
    let have = h.block_on(h.admin().ids(&format!("{collection}/{id}/owners")));
    let users = h.block_on(h.admin().ids("users"));
    let add = users
        .iter()
        .filter(|u| !have.contains(u))
        .take(20 - have.len());
    for user in add {
        crate::common::tenant::graph_ok(
            h,
            "POST",
            &format!("{collection}/{id}/owners/$ref"),
            Some(crate::common::graph::directory_object(user)),
            204,
        );
    }
}

/// A tenant of `spec` whose first application and first service principal have 20 owners.
fn harness_with_many_owners(spec: &str) -> (TestEnvironment, String, String) {
    let h = harness(spec, None);
    let sp = first_id(&h, "servicePrincipals");
    let app = first_id(&h, "applications");
    with_many_owners(&h, "servicePrincipals", &sp);
    with_many_owners(&h, "applications", &app);
    (h, sp, app)
}

#[test]
fn an_object_deleted_between_list_and_link_read_is_left_out() {
    let spec = "users=60,groups=12,members=8,apps=4,policies=4";
    let (calm, _, _) = harness_with_many_owners(spec);
    assert_status(&calm.run(&["snapshot"]), 0);
    let all = objects_at_head(&calm);

    // Group members and owners come with the groups' delta pages, and the owners of
    // applications and service principals with lists of them. An object with as many owners
    // as Graph expands has its owners read on its own after the list, where this race lives.
    let (h, sp, app) = harness_with_many_owners(spec);
    // Graph answers 404 for the links of an object deleted since the list was read.
    let rules: Vec<FaultRule> = serde_json::from_value(json!([
        {"method": "GET", "path": format!("/servicePrincipals/{sp}/owners"),
         "action": {"type": "status", "status": 404}},
        {"method": "GET", "path": format!("/applications/{app}/owners"),
         "action": {"type": "status", "status": 404}},
    ]))
    .unwrap();
    h.emulator.set_faults(rules);
    let out = h.run(&["snapshot"]);
    // The note names both, in the order their reads failed (not sorted): checked apart.
    let (note, _) = out.stderr.split_once('\n').expect("a note line");
    assert!(
        note.contains(&format!("servicePrincipals/{sp}"))
            && note.contains(&format!("applications/{app}")),
        "{note}"
    );
    assert_snapshot!(
        "left_out",
        out.redact_matches(r"(deleted while the tenant was read: ).*", "$1<both>")
    );
    // Exactly those two are missing; everything else is as in a calm read.
    let got = objects_at_head(&h);
    let missing: Vec<&str> = all.lines().filter(|l| !got.contains(l)).collect();
    assert_eq!(missing.len(), 2, "{missing:?}");
    assert!(missing.iter().any(|l| l.contains(&sp)), "{missing:?}");
    assert!(missing.iter().any(|l| l.contains(&app)), "{missing:?}");
    assert_eq!(got.lines().count(), all.lines().count() - 2);

    // With --quiet the note is not printed, and the result is the same.
    let (q, _, _) = harness_with_many_owners(spec);
    let rules: Vec<FaultRule> = serde_json::from_value(json!([
        {"method": "GET", "path": format!("/servicePrincipals/{sp}/owners"),
         "action": {"type": "status", "status": 404}},
    ]))
    .unwrap();
    q.emulator.set_faults(rules);
    assert_snapshot!("quiet", q.run(&["-q", "snapshot"]));

    // Any other error on a link read still fails the snapshot.
    let rules: Vec<FaultRule> = serde_json::from_value(json!([
        {"method": "GET", "path": format!("/applications/{app}/owners"),
         "action": {"type": "status", "status": 403}},
    ]))
    .unwrap();
    let (f, _, _) = harness_with_many_owners(spec);
    f.emulator.set_faults(rules);
    let out = f.run(&["snapshot"]);
    assert_status(&out, 2);
    assert!(f.head().is_none(), "nothing committed");
}

const PASSWORD: &str = "pw-in-the-url-123";

fn with_password(url: &str) -> String {
    url.replacen("://", &format!("://svc:{PASSWORD}@"), 1)
}

#[track_caller]
fn assert_never_printed(out: &CommandOutput) {
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(!all.contains(PASSWORD), "the password was printed:\n{all}");
}

#[test]
fn a_password_in_the_graph_url_is_never_printed() {
    let h = harness("users=20,groups=4,members=3,apps=2,policies=2", None);
    let emulator = h.emulator.url();
    let nowhere = "http://127.0.0.1:9";

    // Graph unreachable: the error names the host, not the password.
    let out = h.run_with(&["snapshot"], |c| {
        c.env("TENANTGIT_GRAPH_URL", with_password(nowhere))
    });
    assert_never_printed(&out);
    assert_snapshot!("graph_unreachable", out.redact_failing_kind());

    // The token endpoint unreachable.
    let out = h.run_with(&["snapshot"], |c| {
        c.env("AZURE_AUTHORITY_HOST", with_password(nowhere))
    });
    assert_never_printed(&out);
    assert_snapshot!("token_endpoint_unreachable", out.redact_failing_kind());

    // Not a URL at all.
    let out = h.run_with(&["snapshot"], |c| {
        c.env("TENANTGIT_GRAPH_URL", format!("svc:{PASSWORD}@graph"))
    });
    assert_never_printed(&out);
    assert_snapshot!("not_a_url", out);

    // The emulator behind both URLs: Graph gets the bearer token only, the snapshot succeeds.
    let out = h.run_with(&["snapshot"], |c| {
        c.env("TENANTGIT_GRAPH_URL", with_password(&emulator))
            .env("AZURE_AUTHORITY_HOST", with_password(&emulator))
    });
    assert_never_printed(&out);
    assert_snapshot!("through_the_emulator", out);
    assert!(h.head().is_some());

    // A Graph error on that connection.
    let rule: FaultRule = serde_json::from_value(json!(
        {"method": "GET", "path": "/users", "action": {"type": "status", "status": 403}}
    ))
    .unwrap();
    h.emulator.set_faults(vec![rule]);
    let out = h.run_with(&["snapshot"], |c| {
        c.env("TENANTGIT_GRAPH_URL", with_password(&emulator))
            .env("AZURE_AUTHORITY_HOST", with_password(&emulator))
    });
    assert_never_printed(&out);
    assert_snapshot!("graph_error", out);
    h.emulator.set_faults(Vec::new());

    // The `[graph] url` setting, unreachable.
    let file = harness("users=5,groups=1,members=1,apps=1,policies=1", None);
    with_graph_settings(
        &file,
        &format!("url = \"{}\"\nmax-retries = 1\n", with_password(nowhere)),
    );
    let out = file.run_with(&["snapshot"], |c| c.env_remove("TENANTGIT_GRAPH_URL"));
    assert_never_printed(&out);
    assert_snapshot!("setting_unreachable", out.redact_failing_kind());
}
