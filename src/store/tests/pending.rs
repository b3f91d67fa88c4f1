//! Desired changes: commits after the last snapshot that change object files, joined by object
//! id, checked against the tenant as read; a snapshot that would revert one is refused.

use super::*;
use crate::layout;

fn path_of(o: &Object) -> String {
    layout::path_for(&o.kind, &o.id, o.name_for_path())
}

/// A user's commit in the repository at `dir`: `git add -A` of what `edit` did, then commit.
fn user_commit(dir: &Path, title: &str, edit: impl FnOnce(&Path)) -> Oid {
    edit(dir);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", title]);
    Oid::from_str(git(dir, &["rev-parse", "HEAD"]).trim()).unwrap()
}

fn write_object(dir: &Path, o: &Object) {
    let path = dir.join(path_of(o));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, crate::yaml::emit_object(o)).unwrap();
}

fn snapshotted(n: usize) -> (tempfile::TempDir, Store, Snapshot) {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open_or_init(dir.path()).unwrap();
    let snap = tenant(n);
    store
        .commit_snapshot(&snap, &scope(), &[], &options())
        .unwrap();
    (dir, store, snap)
}

#[test]
fn the_trailer_marks_snapshot_commits() {
    assert_eq!(
        observed_kinds(
            "snapshot: 1 users changed\n\nusers: 1 changed\n\nTenantgit-Snapshot: users, groups\n"
        ),
        Some(vec!["users".to_string(), "groups".to_string()])
    );
    assert_eq!(
        observed_kinds("Move Alice to Sales\n\nReviewed-by: Bob\n"),
        None
    );
    // Only in the closing trailer block, as git reads trailers.
    assert_eq!(
        observed_kinds("title\n\nTenantgit-Snapshot: users\n\nmore text after it\n"),
        None
    );
}

#[test]
fn a_renamed_and_edited_object_is_one_change() {
    let (dir, store, live) = snapshotted(12);
    let old = user(3, "R&D");
    let mut renamed = user(3, "Legal");
    renamed.props.insert(
        "userPrincipalName".into(),
        Value::String("renamed@contoso.com".into()),
    );
    let commit = user_commit(dir.path(), "Rename user 3", |d| {
        std::fs::remove_file(d.join(path_of(&old))).unwrap();
        write_object(d, &renamed);
    });
    let head = store.head().unwrap().unwrap();
    let changes = store
        .desired_changes(head, &scope(), &lookup(&live), &Default::default())
        .unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].id, user_id(3));
    assert_eq!(changes[0].path, path_of(&renamed));
    assert!(!changes[0].applied);
    assert_eq!(
        changes[0].commits,
        vec![(commit, "Rename user 3".to_string())]
    );

    let mut now = live.clone();
    now.insert(renamed);
    let changes = store
        .desired_changes(head, &scope(), &lookup(&now), &Default::default())
        .unwrap();
    assert!(changes[0].applied && changes[0].commits.is_empty());
}

#[test]
fn a_deletion_is_applied_when_the_tenant_lacks_the_object_too() {
    let (dir, store, live) = snapshotted(12);
    let gone = user(5, "R&D");
    user_commit(dir.path(), "Remove user 5", |d| {
        std::fs::remove_file(d.join(path_of(&gone))).unwrap();
    });
    match store.commit_snapshot(&live, &scope(), &[], &options()) {
        Err(StoreError::Unapplied {
            count,
            objects,
            commits,
        }) => {
            assert_eq!(count, 1);
            assert_eq!(objects, vec![path_of(&gone)]);
            assert_eq!(commits.len(), 1);
            assert!(commits[0].ends_with(" \"Remove user 5\""), "{commits:?}");
        }
        other => panic!("expected Unapplied, got {other:?}"),
    }
    let mut now = live.clone();
    now.objects.remove(&gone.key());
    let out = store
        .commit_snapshot(&now, &scope(), &[], &options())
        .unwrap();
    assert!(out.commit.is_some(), "a commit marks the deletion observed");
    assert_eq!(out.desired.len(), 1);
    assert!(out.desired[0].applied);
}

#[test]
fn a_file_that_does_not_parse_is_not_applied() {
    let (dir, store, live) = snapshotted(6);
    let u = user(1, "Sales");
    user_commit(dir.path(), "Broken edit", |d| {
        std::fs::write(d.join(path_of(&u)), "id: [unclosed\n").unwrap();
    });
    assert!(matches!(
        store.commit_snapshot(&live, &scope(), &[], &options()),
        Err(StoreError::Unapplied { count: 1, .. })
    ));
    let opts = CommitOptions {
        record_drift: true,
        ..options()
    };
    let out = store.commit_snapshot(&live, &scope(), &[], &opts).unwrap();
    assert!(out.commit.is_some());
    assert_eq!(
        std::fs::read_to_string(dir.path().join(path_of(&u))).unwrap(),
        crate::yaml::emit_object(live.get(&u.key()).unwrap())
    );
}

#[test]
fn a_snapshot_of_some_kinds_leaves_the_others_pending() {
    let (dir, store, live) = snapshotted(12);
    let sales = live
        .of_kind("groups")
        .next()
        .expect("the tenant has a group")
        .clone();
    let mut edited = sales.clone();
    edited
        .props
        .insert("description".into(), Value::String("desired".into()));
    let commit = user_commit(dir.path(), "Describe the group", |d| {
        write_object(d, &edited)
    });
    // A snapshot of users only, with drift in users: not held up by the group, and it does not
    // count as an observation of groups.
    let mut now = live.clone();
    now.insert(user(2, "Drifted"));
    let out = store
        .commit_snapshot(&now, &[kind("users")], &[], &options())
        .unwrap();
    assert!(out.commit.is_some());
    let message = git(dir.path(), &["log", "-1", "--format=%B"]);
    assert!(
        message
            .trim_end()
            .ends_with("\n\nTenantgit-Snapshot: users"),
        "{message}"
    );
    // The full snapshot still finds the group change, made before that commit.
    match store.commit_snapshot(&now, &scope(), &[], &options()) {
        Err(StoreError::Unapplied {
            objects, commits, ..
        }) => {
            assert_eq!(objects, vec![path_of(&edited)]);
            assert_eq!(
                commits,
                vec![format!(
                    "commit {} \"Describe the group\"",
                    &commit.to_string()[..10]
                )]
            );
        }
        other => panic!("expected Unapplied, got {other:?}"),
    }
}

#[test]
fn the_commits_that_made_the_changes_are_named_newest_first() {
    let (dir, store, live) = snapshotted(12);
    let first = user_commit(dir.path(), "Legal for 1", |d| {
        write_object(d, &user(1, "Legal"))
    });
    user_commit(dir.path(), "Notes", |d| {
        std::fs::write(d.join("NOTES.md"), "not an object\n").unwrap()
    });
    let second = user_commit(dir.path(), "Finance for 1 to 5", |d| {
        for i in 1..6 {
            write_object(d, &user(i, "Finance"));
        }
    });
    let head = store.head().unwrap().unwrap();
    let changes = store
        .desired_changes(head, &scope(), &lookup(&live), &Default::default())
        .unwrap();
    assert_eq!(changes.len(), 5);
    let one = changes.iter().find(|c| c.id == user_id(1)).unwrap();
    assert_eq!(
        one.commits,
        vec![
            (second, "Finance for 1 to 5".to_string()),
            (first, "Legal for 1".to_string())
        ]
    );
    let err = store
        .commit_snapshot(&live, &scope(), &[], &options())
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("HEAD holds 5 desired changes that the tenant does not have: ")
            && text.contains(" and 2 more (commit ")
            && text.contains(&format!(
                "commit {} \"Finance for 1 to 5\"",
                &second.to_string()[..10]
            ))
            && !text.contains("Notes"),
        "{text}"
    );
}

/// The objects of a snapshot as the live view `desired_changes` asks.
fn lookup(
    live: &crate::model::Snapshot,
) -> impl Fn(&'static KindSpec, &str) -> Option<crate::model::Object> + '_ {
    move |kind, id| live.get(&crate::model::ObjectKey::new(kind, id)).cloned()
}
