//! The checkout of a snapshot into the working tree and the index: only the snapshot's paths
//! change in the index; everything the user has staged elsewhere stays staged.

use super::*;

#[test]
fn staged_changes_outside_the_managed_folders_stay_staged() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open_or_init(dir.path()).unwrap();
    let extra = vec![("README.md".to_string(), b"# tenant\n".to_vec())];
    let mut snap = tenant(12);
    store
        .commit_snapshot(&snap, &scope(), &extra, &options())
        .unwrap();
    // The user stages an edit and a new file, and has an unstaged edit on top of the first.
    std::fs::write(dir.path().join("README.md"), "# tenant\nstaged\n").unwrap();
    std::fs::write(dir.path().join("notes.md"), "new\n").unwrap();
    git(dir.path(), &["add", "README.md", "notes.md"]);
    std::fs::write(dir.path().join("README.md"), "# tenant\nstaged\nunstaged\n").unwrap();
    let status = git(dir.path(), &["status", "--porcelain"]);
    assert_eq!(status, "MM README.md\nA  notes.md\n");

    snap.insert(user(3, "Legal"));
    snap.objects.remove(&user(4, "").key());
    let out = store
        .commit_snapshot(&snap, &scope(), &[], &options())
        .unwrap();
    assert!(out.commit.is_some());
    assert_eq!(git(dir.path(), &["status", "--porcelain"]), status);
    assert_eq!(
        git(dir.path(), &["show", ":README.md"]),
        "# tenant\nstaged\n"
    );
    // The committed tree has the user's file as it was, not their staged version.
    assert_eq!(git(dir.path(), &["show", "HEAD:README.md"]), "# tenant\n");
    assert_same(&snap, &store.load_worktree(&no_filter).unwrap());
}
