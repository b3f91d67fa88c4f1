//! Object files end to end, with the real binary against the emulator. Strings that YAML
//! readers reject or fold: users whose job title holds a cp1252 leftover (U+0092) or a line
//! separator (U+2028), and whose display names (written in the link comments of their groups)
//! hold such characters too. tenantgit must snapshot them into files that it, and PyYAML, read
//! back; `diff` must see no drift; and a restore must put the exact strings back after the
//! users are damaged; a backup an older tenantgit wrote with such raw characters is read and
//! restored from. And a file that names a property twice is an error, never a guess.

use std::path::Path;

use serde_json::{json, Value};
use tenantgit::{layout, yaml};

use crate::assert_snapshot;
use crate::common::pyyaml;
use crate::common::tenant::*;
use crate::common::*;

fn names(h: &TestEnvironment, id: &str) -> (Value, Value) {
    let u = get(h, &format!("users/{id}?$select=displayName,jobTitle"));
    (u["displayName"].clone(), u["jobTitle"].clone())
}

#[test]
fn special_characters_snapshot_diff_and_restore() {
    let h = healthy();
    let adele = id(&h, "users/", "adele.lindqvist");
    let noah = id(&h, "users/", "noah.novak");
    let marketing = id(&h, "groups/", "dept-marketing");
    assert!(link_ids(&h, &marketing, "members").contains(&adele));
    let adele_title = "Director\u{92}s Office\u{7f}";
    let adele_name = "Adele\u{92}Lindqvist";
    let noah_title = "Line one\u{2028}line two\u{2029}\u{85}";
    let noah_name = " Noah Novak\u{2028}";
    patch_user(
        &h,
        &adele,
        json!({"jobTitle": adele_title, "displayName": adele_name}),
    );
    patch_user(
        &h,
        &noah,
        json!({"jobTitle": noah_title, "displayName": noah_name}),
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
        if object.id == adele || object.id == noah {
            let (name, title) = if object.id == adele {
                (adele_name, adele_title)
            } else {
                (noah_name, noah_title)
            };
            assert_eq!(object.props["jobTitle"], title, "{text}");
            assert_eq!(object.props["displayName"], name, "{text}");
        }
        if object.id == marketing {
            let member = object.links["members"]
                .iter()
                .find(|m| m.id == adele)
                .expect("Adele is a member");
            assert_eq!(member.display_name.as_deref(), Some(adele_name), "{text}");
            assert!(
                text.contains(&format!("- {adele}  # \"Adele\\u0092Lindqvist\"\n")),
                "{text}"
            );
        }
        texts.push(text);
    }
    if let Some(loaded) = pyyaml::load_all(&texts) {
        for (text, got) in texts.iter().zip(loaded) {
            let got = got.unwrap_or_else(|e| panic!("PyYAML rejects {e}\n{text}"));
            let id = got["id"].as_str().expect("an id");
            if id == adele {
                assert_eq!(got["jobTitle"], adele_title);
            }
            if id == noah {
                assert_eq!(got["jobTitle"], noah_title);
                assert_eq!(got["displayName"], noah_name);
            }
        }
    }

    // The live tenant matches what was just snapshotted.
    assert_matches(&h, "HEAD");

    // Damage both users, then restore them from the snapshot.
    for user in [&adele, &noah] {
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
    assert_eq!(names(&h, &adele), (json!(adele_name), json!(adele_title)));
    assert_eq!(names(&h, &noah), (json!(noah_name), json!(noah_title)));
    assert_matches(&h, "HEAD");
}

#[test]
fn a_duplicate_key_is_an_error_naming_it() {
    let h = healthy();
    let adele = h.file("users/", "adele.lindqvist");
    let text = std::fs::read_to_string(h.repo.join(&adele)).expect("file");
    let line = text.lines().count() + 1;
    std::fs::write(h.repo.join(&adele), format!("{text}jobTitle: Intern\n")).expect("write");
    h.git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-qam",
        "two job titles",
    ]);
    for (name, args) in [
        ("diff_commits", &["diff", "HEAD~1", "HEAD"][..]),
        ("diff_live", &["diff"][..]),
        ("restore", &["restore", "HEAD", "--yes"][..]),
    ] {
        let out = run_without_writes(&h, args);
        // The file, the line of the second `jobTitle`, column 1.
        assert!(out.stderr.contains(&format!("{adele}:{line}:1:")), "{out}");
        assert_snapshot!(name, out);
    }
}

/// A backup that an older tenantgit wrote, with U+0092 and U+2028 raw inside quotes and U+2028
/// raw in a link comment (files no YAML reader took as they were): `diff` reads it, a restore
/// from it puts the exact strings back, and the next snapshot rewrites it with escapes.
#[test]
fn a_backup_an_older_tenantgit_wrote_with_raw_characters_is_read_and_restored() {
    let h = healthy();
    let adele = id(&h, "users/", "adele.lindqvist");
    let title = "Director\u{92}s\u{2028}Office";
    let name = "Adele\u{2028}Lindqvist";
    patch_user(&h, &adele, json!({"jobTitle": title, "displayName": name}));
    // The files as older tenantgit wrote them: serde_json quoting, names raw in comments.
    let quoted = |s: &str| serde_json::to_string(s).expect("a string");
    for (prefix, needle, replacements) in [
        (
            "users/",
            "adele.lindqvist",
            vec![
                (
                    "jobTitle: Marketing Manager".to_string(),
                    format!("jobTitle: {}", quoted(title)),
                ),
                (
                    "displayName: Adele Lindqvist".to_string(),
                    format!("displayName: {}", quoted(name)),
                ),
            ],
        ),
        (
            "groups/",
            "dept-marketing",
            vec![(
                format!("{adele}  # Adele Lindqvist"),
                format!("{adele}  # {name}"),
            )],
        ),
    ] {
        let path = h.repo.join(h.file(prefix, needle));
        let mut text = std::fs::read_to_string(&path).expect("file");
        for (from, to) in replacements {
            assert!(text.contains(&from), "{from} in {text}");
            text = text.replace(&from, &to);
        }
        std::fs::write(&path, text).expect("write");
    }
    h.git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-qam",
        "as an older tenantgit wrote it",
    ]);
    let backup = h.head().expect("a commit");
    assert_matches(&h, "HEAD");

    patch_user(
        &h,
        &adele,
        json!({"jobTitle": "damaged", "displayName": "damaged"}),
    );
    let out = h.run(&["restore", &backup, "--yes"]);
    assert_status(&out, 0);
    assert_eq!(names(&h, &adele), (json!(name), json!(title)));

    snapshot_damage(&h);
    let text =
        std::fs::read_to_string(h.repo.join(h.file("users/", "adele.lindqvist"))).expect("file");
    assert!(
        text.contains("jobTitle: \"Director\\u0092s\\LOffice\"\n"),
        "{text}"
    );
    assert_matches(&h, "HEAD");
}
