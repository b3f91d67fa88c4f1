//! `tenantgit demo`: the README's first command plays the whole story on its embedded emulator
//! and ends with exit 0 only when the restore converged to exactly the labelled differences.

use crate::assert_snapshot;
use crate::common::*;

#[test]
fn the_demo_restores_what_graph_can_write_and_names_the_rest() {
    let h = TestEnvironment::synthetic("users=5");
    let parent = h
        .repo
        .parent()
        .expect("the repository has a parent")
        .to_path_buf();
    let dir = parent.join("demo");
    let out = h.run_in(
        &parent,
        &[
            "demo",
            dir.to_str().expect("a UTF-8 path"),
            "--tenant",
            "users=400,groups=40,members=8,apps=6,policies=6",
        ],
    );
    assert_status(&out, 0);
    assert!(
        out.stderr
            .contains("0 failed; read back: 0 objects still differ"),
        "{}",
        out.stderr
    );
    assert_snapshot!(out
        .redact_matches(
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "<id>"
        )
        .redact_matches(r"http://127\.0\.0\.1:\d+", "<emulator>"));
}
