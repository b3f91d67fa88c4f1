//! A snapshot commit costs what changed: the tree is built from the files that differ, only
//! those files are checked for the user's edits, and the index is updated in place. These tests
//! hold the result to what a snapshot from scratch gives, and the safety checks to what they
//! were on the files a snapshot writes.

use super::*;

/// The users `n`, renamed (a new file name) when `i % 5 == 1` and with another department when
/// `i % 5 == 2`; users below 8 are gone and users from `n` to `n + 6` are new.
fn changed_tenant(n: usize) -> Snapshot {
    let mut s = tenant(n);
    for i in 0..8 {
        s.objects.remove(&user(i, "").key());
    }
    for i in (8..n).filter(|i| i % 5 == 1) {
        let raw = json!({"id": user_id(i), "displayName": format!("Renamed {i}"),
            "userPrincipalName": format!("renamed{i}@contoso.com"), "accountEnabled": true});
        s.insert(normalize(kind("users"), &raw, BTreeMap::new()).unwrap());
    }
    for i in (8..n).filter(|i| i % 5 == 2) {
        s.insert(user(i, "Changed"));
    }
    for i in n..n + 6 {
        s.insert(user(i, "New"));
    }
    s
}

#[test]
fn a_tree_built_from_the_changes_equals_one_built_from_scratch() {
    let (_dir, store) = bare_repo();
    let extra = vec![("users/README.md".to_string(), b"kept\n".to_vec())];
    let first = store
        .commit_snapshot(&tenant(60), &scope(), &extra, &options())
        .unwrap();
    let now = changed_tenant(60);
    let out = store
        .commit_snapshot(&now, &scope(), &[], &options())
        .unwrap();
    assert!(out.commit.is_some());

    let (other_dir, scratch) = bare_repo();
    let fresh = scratch
        .commit_snapshot(&now, &scope(), &extra, &options())
        .unwrap();
    assert_eq!(out.tree, fresh.tree, "same files, same tree");
    git(other_dir.path(), &["fsck", "--full", "--strict"]);

    let users = &out.summary.per_kind["users"];
    assert_eq!(users.removed.len(), 8);
    assert_eq!(users.added.len(), 6);
    // Renamed (a new path) and changed (a new blob) objects are changes either way.
    assert_eq!(
        users.changed.len(),
        (8..60).filter(|i| i % 5 == 1 || i % 5 == 2).count()
    );
    assert_eq!(users.total, 60 - 8 + 6);
    assert_eq!(out.summary.per_kind["groups"].total, 1);
    assert!(out.summary.per_kind["groups"].is_empty());

    // The same new state given as files kept from the first commit plus the objects that
    // changed (what an incremental read hands over) gives the same tree again.
    let (_dir3, store3) = bare_repo();
    store3
        .commit_snapshot(&tenant(60), &scope(), &extra, &options())
        .unwrap();
    let index = store.tree_index(first.commit.unwrap()).unwrap();
    let changed: Vec<&Object> = now
        .objects
        .values()
        .filter(|o| {
            let path = crate::layout::path_for(&o.kind, &o.id, o.name_for_path());
            index.get(&path) != Some(blob_id(crate::yaml::emit_object(o).as_bytes()))
        })
        .collect();
    let kept: Vec<Vec<(String, Oid)>> = scope()
        .into_iter()
        .map(|k| {
            index
                .iter()
                .filter(|(path, kind, _)| {
                    kind.kind == k.kind
                        && now.objects.values().any(|o| {
                            crate::layout::path_for(&o.kind, &o.id, o.name_for_path()) == *path
                        })
                        && !changed.iter().any(|o| {
                            crate::layout::path_for(&o.kind, &o.id, o.name_for_path()) == *path
                        })
                })
                .map(|(path, _, oid)| (path.to_string(), oid))
                .collect()
        })
        .collect();
    let states: Vec<KindState<'_>> = scope()
        .into_iter()
        .zip(&kept)
        .map(|(k, kept)| KindState {
            kind: k,
            kept,
            objects: changed
                .iter()
                .copied()
                .filter(|o| o.kind.name() == k.kind)
                .collect(),
            frozen: Vec::new(),
        })
        .collect();
    let kept = store3.commit_states(&states, &[], &options()).unwrap();
    assert_eq!(kept.tree, fresh.tree);
    assert_eq!(kept.summary, out.summary);
}

#[test]
fn emptied_folders_disappear_from_the_tree() {
    let (dir, store) = bare_repo();
    let snap = tenant(30);
    store
        .commit_snapshot(&snap, &scope(), &[], &options())
        .unwrap();
    let mut only_group = snap.clone();
    only_group.objects.retain(|k, _| k.kind.name() != "users");
    let out = store
        .commit_snapshot(&only_group, &scope(), &[], &options())
        .unwrap();
    let files = git(dir.path(), &["ls-tree", "-r", "-t", "--name-only", "HEAD"]);
    assert!(!files.lines().any(|l| l.starts_with("users")), "{files}");
    assert_eq!(out.summary.per_kind["users"].removed.len(), 30);
    assert_eq!(out.summary.per_kind["users"].total, 0);
    git(dir.path(), &["fsck", "--full", "--strict"]);
}

#[test]
fn an_edit_to_a_file_the_snapshot_does_not_change_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open_or_init(dir.path()).unwrap();
    let mut snap = tenant(10);
    store
        .commit_snapshot(&snap, &scope(), &[], &options())
        .unwrap();
    let mine = user(5, "");
    let path = crate::layout::path_for(&mine.kind, &mine.id, mine.name_for_path());
    let original = std::fs::read_to_string(dir.path().join(&path)).unwrap();
    let edited = format!("{original}# my own note\n");
    std::fs::write(dir.path().join(&path), &edited).unwrap();

    // The tenant unchanged: nothing to write, nothing refused.
    let out = store
        .commit_snapshot(&snap, &scope(), &[], &options())
        .unwrap();
    assert_eq!(out.commit, None);

    // Another user changed: committed; the edit stays in the working tree and out of the commit.
    snap.insert(user(2, "Marketing"));
    let out = store
        .commit_snapshot(&snap, &scope(), &[], &options())
        .unwrap();
    assert!(out.commit.is_some());
    assert_eq!(
        std::fs::read_to_string(dir.path().join(&path)).unwrap(),
        edited
    );
    assert_eq!(
        git(dir.path(), &["show", &format!("HEAD:{path}")]),
        original
    );
    assert_eq!(
        git(dir.path(), &["status", "--porcelain"]),
        format!(" M {path}\n")
    );
}

/// A repository with a snapshot of 10 users checked out, and the path of user 2's file.
fn checked_out() -> (tempfile::TempDir, Store, Snapshot, String) {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open_or_init(dir.path()).unwrap();
    let snap = tenant(10);
    store
        .commit_snapshot(&snap, &scope(), &[], &options())
        .unwrap();
    let u = user(2, "");
    let path = crate::layout::path_for(&u.kind, &u.id, u.name_for_path());
    (dir, store, snap, path)
}

fn refused_naming(result: Result<CommitOutcome, StoreError>, path: &str) {
    match result {
        Err(StoreError::DirtyWorktree { paths, more }) => {
            assert_eq!(paths, vec![path.to_string()]);
            assert_eq!(more, 0);
        }
        other => panic!("expected DirtyWorktree naming {path}, got {other:?}"),
    }
}

#[test]
fn staged_deleted_or_retyped_files_the_snapshot_changes_are_refused() {
    // Staged: the working tree matches the index, the index differs from HEAD.
    let (dir, store, mut snap, path) = checked_out();
    std::fs::write(dir.path().join(&path), "id: staged\n").unwrap();
    git(dir.path(), &["add", &path]);
    snap.insert(user(2, "Marketing"));
    refused_naming(
        store.commit_snapshot(&snap, &scope(), &[], &options()),
        &path,
    );
    assert_eq!(
        git(dir.path(), &["show", &format!(":{path}")]),
        "id: staged\n"
    );

    // Deleted from the working tree.
    let (dir, store, mut snap, path) = checked_out();
    std::fs::remove_file(dir.path().join(&path)).unwrap();
    snap.insert(user(2, "Marketing"));
    refused_naming(
        store.commit_snapshot(&snap, &scope(), &[], &options()),
        &path,
    );
    assert!(!dir.path().join(&path).exists());

    // Removed from the index only (`git rm --cached`), for a file the snapshot removes.
    let (dir, store, mut snap, path) = checked_out();
    git(dir.path(), &["rm", "-q", "--cached", &path]);
    snap.objects.remove(&user(2, "").key());
    refused_naming(
        store.commit_snapshot(&snap, &scope(), &[], &options()),
        &path,
    );
    assert!(dir.path().join(&path).exists());

    // Made executable.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let (dir, store, mut snap, path) = checked_out();
        let full = dir.path().join(&path);
        std::fs::set_permissions(&full, std::fs::Permissions::from_mode(0o755)).unwrap();
        snap.insert(user(2, "Marketing"));
        refused_naming(
            store.commit_snapshot(&snap, &scope(), &[], &options()),
            &path,
        );
    }

    // A file the user added to the index where the snapshot adds one.
    let (dir, store, mut snap, _) = checked_out();
    let new = user(40, "New");
    let new_path = crate::layout::path_for(&new.kind, &new.id, new.name_for_path());
    let full = dir.path().join(&new_path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(&full, "id: mine\n").unwrap();
    git(dir.path(), &["add", &new_path]);
    snap.insert(new);
    refused_naming(
        store.commit_snapshot(&snap, &scope(), &[], &options()),
        &new_path,
    );
    assert_eq!(std::fs::read_to_string(&full).unwrap(), "id: mine\n");
}

#[test]
fn a_few_changes_update_the_index_in_place_and_keep_what_the_user_staged() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open_or_init(dir.path()).unwrap();
    let extra = vec![("README.md".to_string(), b"# tenant\n".to_vec())];
    store
        .commit_snapshot(&tenant(60), &scope(), &extra, &options())
        .unwrap();
    std::fs::write(dir.path().join("README.md"), "# tenant\nstaged\n").unwrap();
    git(dir.path(), &["add", "README.md"]);
    let index_before = std::fs::read(dir.path().join(".git/index")).unwrap();

    let mut snap = tenant(60);
    snap.insert(user(3, "Legal"));
    snap.objects.remove(&user(4, "").key());
    snap.insert(user(70, "New"));
    let out = store
        .commit_snapshot(&snap, &scope(), &[], &options())
        .unwrap();
    assert!(out.commit.is_some());
    assert_ne!(
        std::fs::read(dir.path().join(".git/index")).unwrap(),
        index_before
    );
    // Only the user's staged file differs; every entry carries its file's status (nothing
    // for git to refresh), and the index holds the new tree.
    assert_eq!(
        git(dir.path(), &["status", "--porcelain"]),
        "M  README.md\n"
    );
    assert_eq!(git(dir.path(), &["diff-files", "--name-only"]), "");
    assert_eq!(
        git(
            dir.path(),
            &["diff-index", "--cached", "--name-only", "HEAD"]
        ),
        "README.md\n"
    );
    assert_same(&snap, &store.load_worktree(&no_filter).unwrap());
}

#[test]
fn a_file_where_a_folder_must_go_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open_or_init(dir.path()).unwrap();
    let mut snap = tenant(3);
    store
        .commit_snapshot(&snap, &scope(), &[], &options())
        .unwrap();
    // A file named as the shard folder a new user's file needs.
    let new = user(50, "New");
    let new_path = crate::layout::path_for(&new.kind, &new.id, new.name_for_path());
    let shard = new_path.rsplit_once('/').unwrap().0.to_string();
    assert!(!dir.path().join(&shard).exists(), "a shard of its own");
    std::fs::write(dir.path().join(&shard), "in the way\n").unwrap();
    git(dir.path(), &["add", &shard]);
    git(dir.path(), &["commit", "-q", "-m", "a file"]);

    snap.insert(new.clone());
    let out = store
        .commit_snapshot(&snap, &scope(), &[], &options())
        .unwrap();
    assert!(out.commit.is_some());
    assert_eq!(git(dir.path(), &["status", "--porcelain"]), "");
    assert_eq!(
        std::fs::read_to_string(dir.path().join(&new_path)).unwrap(),
        crate::yaml::emit_object(&new)
    );
    assert_same(&snap, &store.load_worktree(&no_filter).unwrap());
}

#[test]
fn an_untracked_file_in_the_way_of_a_first_snapshot_is_refused() {
    // A new repository has no index yet.
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open_or_init(dir.path()).unwrap();
    assert!(!dir.path().join(".git/index").exists());
    let snap = tenant(4);
    let u = user(1, "");
    let path = crate::layout::path_for(&u.kind, &u.id, u.name_for_path());
    std::fs::create_dir_all(dir.path().join(&path).parent().unwrap()).unwrap();
    std::fs::write(dir.path().join(&path), "mine\n").unwrap();
    match store.commit_snapshot(&snap, &scope(), &[], &options()) {
        Err(StoreError::UntrackedInTheWay { path: named }) => assert_eq!(named, path),
        other => panic!("expected UntrackedInTheWay, got {other:?}"),
    }
    assert_eq!(store.head().unwrap(), None);
    assert_eq!(
        std::fs::read_to_string(dir.path().join(&path)).unwrap(),
        "mine\n"
    );
}
