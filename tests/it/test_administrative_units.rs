//! Administrative units, added as data only (schema/administrativeUnits.yaml, seed files, the
//! emulator's own model): snapshot, diff, and restore of a removed member and of a soft-deleted
//! unit, end to end with the real binary.

use crate::common::tenant::*;
use crate::common::*;

fn unit_members(h: &TestEnvironment, unit: &str) -> std::collections::BTreeSet<String> {
    get(
        h,
        &format!("directory/administrativeUnits/{unit}/members?$select=id"),
    )["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn administrative_units_snapshot_diff_and_restore() {
    let h = healthy();
    let files = h.git(&[
        "ls-tree",
        "-r",
        "--name-only",
        "HEAD",
        "administrativeUnits/",
    ]);
    assert_eq!(files.lines().count(), 3, "{files}");
    // The snapshot holds the example repository's units byte for byte.
    for path in files.lines() {
        let ours = std::fs::read(h.repo.join(path)).unwrap();
        let seed = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("example-repo")
                .join(path),
        )
        .unwrap();
        assert_eq!(ours, seed, "{path}");
    }
    let france = id(&h, "administrativeUnits/", "france");
    let germany = id(&h, "administrativeUnits/", "germany");
    let members = unit_members(&h, &france);
    let gone = members.iter().next().unwrap().clone();

    // Damage: a member removed from one unit, another unit deleted (to the recycle bin).
    graph_ok(
        &h,
        "DELETE",
        &format!("directory/administrativeUnits/{france}/members/{gone}/$ref"),
        None,
        204,
    );
    graph_ok(
        &h,
        "DELETE",
        &format!("directory/administrativeUnits/{germany}"),
        None,
        204,
    );

    let out = h.run(&["diff", "--format", "json"]);
    assert_status(&out, 0);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let changes = report["changes"].as_array().unwrap();
    let unit = |id: &str| {
        changes
            .iter()
            .find(|c| c["id"] == serde_json::json!(id))
            .cloned()
    };
    let removed = unit(&germany).expect("the deleted unit is reported");
    assert_eq!(removed["change"], "removed");
    assert!(
        removed["restorable"]["restorableUntil"].is_string(),
        "in the recycle bin: {removed}"
    );
    let modified = unit(&france).expect("the unit that lost a member is reported");
    assert_eq!(modified["links"][0]["removed"], serde_json::json!([gone]));

    assert_status(
        &h.run(&["restore", "HEAD", "--kind", "administrativeUnits", "--yes"]),
        0,
    );
    assert_eq!(unit_members(&h, &france), members);
    assert!(
        live_ids(&h, "directory/administrativeUnits").contains(&germany),
        "restored with its id"
    );
    assert_matches(&h, "HEAD");
}
