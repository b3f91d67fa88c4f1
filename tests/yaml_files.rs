//! Object files end to end, with the real binary against the emulator. Strings that YAML
//! readers reject or fold: users whose job title holds a cp1252 leftover (U+0092) or a line
//! separator (U+2028), and whose display names (written in the link comments of their groups)
//! hold such characters too. tenantgit must snapshot them into files that it, and PyYAML, read
//! back; `diff` must see no drift; and a restore must put the exact strings back after the
//! users are damaged; a file an older tenantgit wrote with such a raw character heals on the
//! next snapshot. And a file that names a property twice is an error, never a guess.

mod common;
mod pyyaml;
mod restore_common;

use std::path::Path;

use common::*;
use restore_common::*;
use serde_json::{json, Value};
use tenantgit::{layout, yaml};

fn names(h: &Harness, id: &str) -> (Value, Value) {
    let u = get(h, &format!("users/{id}?$select=displayName,jobTitle"));
    (u["displayName"].clone(), u["jobTitle"].clone())
}

#[test]
fn special_characters_snapshot_diff_and_restore() {
    let h = healthy();
    let emma = id(&h, "users/", "emma.larsen");
    let grace = id(&h, "users/", "grace.olsen");
    let sales = id(&h, "groups/", "dept-sales");
    assert!(link_ids(&h, &sales, "members").contains(&emma));
    let emma_title = "Director\u{92}s Office\u{7f}";
    let emma_name = "Emma\u{92}Larsen";
    let grace_title = "Line one\u{2028}line two\u{2029}\u{85}";
    let grace_name = " Grace Olsen\u{2028}";
    patch_user(
        &h,
        &emma,
        json!({"jobTitle": emma_title, "displayName": emma_name}),
    );
    patch_user(
        &h,
        &grace,
        json!({"jobTitle": grace_title, "displayName": grace_name}),
    );
    snapshot_damage(&h);

    // Every file the snapshot changed reads back in tenantgit and in PyYAML.
    let changed = h.git(&["diff", "--name-only", "HEAD~1", "HEAD"]);
    let changed: Vec<&str> = changed.lines().collect();
    assert!(changed.len() >= 3, "two users and a group: {changed:?}");
    let mut texts = Vec::new();
    for path in &changed {
        let text = std::fs::read_to_string(h.repo.join(path)).expect("file");
        let kind = layout::kind_for_path(path).expect("an object file");
        let object = yaml::parse_object(kind, Path::new(path), &text)
            .unwrap_or_else(|e| panic!("tenantgit cannot read its own file: {e}"));
        if object.id == emma || object.id == grace {
            let (name, title) = if object.id == emma {
                (emma_name, emma_title)
            } else {
                (grace_name, grace_title)
            };
            assert_eq!(object.props["jobTitle"], title, "{text}");
            assert_eq!(object.props["displayName"], name, "{text}");
        }
        if object.id == sales {
            let member = object.links["members"]
                .iter()
                .find(|m| m.id == emma)
                .expect("Emma is a member");
            assert_eq!(member.display_name.as_deref(), Some(emma_name), "{text}");
            assert!(
                text.contains(&format!("- {emma}  # \"Emma\\u0092Larsen\"\n")),
                "{text}"
            );
        }
        texts.push(text);
    }
    if let Some(loaded) = pyyaml::load_all(&texts) {
        for (text, got) in texts.iter().zip(loaded) {
            let got = got.unwrap_or_else(|e| panic!("PyYAML rejects {e}\n{text}"));
            let id = got["id"].as_str().expect("an id");
            if id == emma {
                assert_eq!(got["jobTitle"], emma_title);
            }
            if id == grace {
                assert_eq!(got["jobTitle"], grace_title);
                assert_eq!(got["displayName"], grace_name);
            }
        }
    }

    // The live tenant matches what was just snapshotted.
    assert_matches(&h, "HEAD");

    // Damage both users, then restore them from the snapshot.
    for user in [&emma, &grace] {
        patch_user(
            &h,
            user,
            json!({"jobTitle": "damaged", "displayName": "damaged"}),
        );
    }
    let out = h.run(&["diff", "--exit-code"]);
    assert_status(&out, 1);
    let out = h.run(&["restore", "HEAD", "--yes"]);
    assert_status(&out, 0);
    assert_eq!(names(&h, &emma), (json!(emma_name), json!(emma_title)));
    assert_eq!(names(&h, &grace), (json!(grace_name), json!(grace_title)));
    assert_matches(&h, "HEAD");
}

#[test]
fn a_duplicate_key_is_an_error_naming_it() {
    let h = healthy();
    let emma = h.file("users/", "emma.larsen");
    let text = std::fs::read_to_string(h.repo.join(&emma)).expect("file");
    let line = text.lines().count() + 1;
    std::fs::write(h.repo.join(&emma), format!("{text}jobTitle: Intern\n")).expect("write");
    h.git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-qam",
        "two job titles",
    ]);
    for args in [
        &["diff", "HEAD~1", "HEAD"][..],
        &["diff"][..],
        &["restore", "HEAD", "--yes"][..],
    ] {
        let out = run_without_writes(&h, args);
        assert_error(&out, &format!("{emma}:{line}:1: duplicate key `jobTitle`"));
        assert_eq!(stdout(&out), "", "{args:?}");
    }
}

/// A repository that an older tenantgit wrote with a raw U+0092 (a file nothing could read)
/// heals on the next snapshot: the file is rewritten with the escape and `diff` works again.
#[test]
fn a_file_with_a_raw_control_character_heals_on_the_next_snapshot() {
    let h = healthy();
    let emma = id(&h, "users/", "emma.larsen");
    patch_user(&h, &emma, json!({"jobTitle": "Director\u{92}s Office"}));
    let path = h.file("users/", "emma.larsen");
    let text = std::fs::read_to_string(h.repo.join(&path)).expect("file");
    let raw = "jobTitle: \"Director\u{92}s Office\"";
    let old = text.replace("jobTitle: Sales Manager", raw);
    assert_ne!(old, text);
    std::fs::write(h.repo.join(&path), old).expect("write");
    h.git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-qam",
        "as an older tenantgit wrote it",
    ]);
    assert_status(&h.run(&["diff", "--exit-code"]), 2);

    snapshot_damage(&h);
    let text = std::fs::read_to_string(h.repo.join(&path)).expect("file");
    assert!(
        text.contains("jobTitle: \"Director\\u0092s Office\"\n"),
        "{text}"
    );
    assert_matches(&h, "HEAD");
}
