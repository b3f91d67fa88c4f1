//! Tests of the git store against real repositories, checked with the git CLI.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use super::*;
use crate::model::{LinkRef, Object, Snapshot};
use crate::normalize::normalize;
use crate::schema::{self, KindSpec};

mod checkout;
mod incremental;
mod lock;
mod pending;

fn kind(name: &str) -> &'static KindSpec {
    schema::kind(name).expect("kind exists")
}

fn user_id(i: usize) -> String {
    // Vary the leading characters so users spread over shard folders.
    format!(
        "{:08x}-0000-4000-8000-{:012x}",
        (i as u32).wrapping_mul(2654435761),
        i
    )
}

const CITIES: [&str; 4] = ["Oslo", "Lyon", "Austin", "Pune"];

fn user(i: usize, department: &str) -> Object {
    let raw = json!({
        "id": user_id(i),
        "displayName": format!("User {i}"),
        "userPrincipalName": format!("user{i}@contoso.com"),
        "accountEnabled": i % 7 != 0,
        "department": department,
        "jobTitle": format!("Engineer {}", i % 13),
        "city": CITIES[i % 4],
        "businessPhones": [format!("+1 555 {:04}", i % 10000)],
        "onPremisesExtensionAttributes": {"extensionAttribute1": format!("cc-{}", i % 97)},
        "signInActivity": {"lastSignInDateTime": "2024-01-01T00:00:00Z"},
    });
    normalize(kind("users"), &raw, BTreeMap::new()).expect("valid user")
}

fn group(id: &str, name: &str, members: &[&Object]) -> Object {
    let raw = json!({"id": id, "displayName": name, "securityEnabled": true, "mailEnabled": false});
    let mut links = BTreeMap::new();
    links.insert(
        "members".to_string(),
        members
            .iter()
            .map(|m| LinkRef::new(m.id.clone(), Some(m.display_name().to_string())))
            .collect(),
    );
    normalize(kind("groups"), &raw, links).expect("valid group")
}

fn authorization_policy(guests: &str) -> Object {
    let raw = json!({"id": "authorizationPolicy", "displayName": "Authorization Policy", "allowInvitesFrom": guests});
    normalize(kind("authorizationPolicy"), &raw, BTreeMap::new()).expect("valid policy")
}

/// `n` users, a group holding the first five, and the authorization policy.
fn tenant(n: usize) -> Snapshot {
    let mut s = Snapshot::default();
    let users: Vec<Object> = (0..n)
        .map(|i| user(i, ["Sales", "R&D", "yes"][i % 3]))
        .collect();
    let members: Vec<&Object> = users.iter().take(5).collect();
    s.insert(group(
        "9a000000-0000-4000-8000-000000000001",
        "Sales Team",
        &members,
    ));
    for u in users {
        s.insert(u);
    }
    s.insert(authorization_policy("everyone"));
    s
}

fn scope() -> Vec<&'static KindSpec> {
    vec![kind("users"), kind("groups"), kind("authorizationPolicy")]
}

fn options() -> CommitOptions {
    CommitOptions {
        message_title: "snapshot of contoso".into(),
        author: Some(("Test".into(), "test@example.com".into())),
        time: Some((1_700_000_000, 60)),
        max_named: 10,
        ..CommitOptions::default()
    }
}

/// Runs the git CLI in `dir` without the user's or system configuration.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("git prints UTF-8")
}

fn bare_repo() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    git(dir.path(), &["init", "-q", "--bare", "-b", "main"]);
    let store = Store::open(dir.path()).expect("opens");
    (dir, store)
}

/// (loose objects, objects in packs) as `git count-objects -v` reports them.
fn object_counts(dir: &Path) -> (usize, usize) {
    let text = git(dir, &["count-objects", "-v"]);
    let field = |name: &str| -> usize {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .and_then(|v| v.trim().parse().ok())
            .expect("count-objects field")
    };
    (field("count"), field("in-pack"))
}

fn no_filter(_: &KindSpec, _: &str) -> bool {
    true
}

fn assert_same(a: &Snapshot, b: &Snapshot) {
    assert_eq!(a.len(), b.len());
    for (key, obj) in &a.objects {
        let other = b.get(key).unwrap_or_else(|| panic!("{key} missing"));
        assert!(obj.same_state(other), "{key} differs");
    }
}

#[test]
fn first_commit_is_packed_and_fsck_clean() {
    let (dir, store) = bare_repo();
    let snap = tenant(40);
    let extra = vec![(
        "tenantgit.toml".to_string(),
        b"tenant = \"contoso\"\n".to_vec(),
    )];
    let out = store
        .commit_snapshot(&snap, &scope(), &extra, &options())
        .expect("commits");
    let commit = out.commit.expect("a first commit");
    assert_eq!(store.head().unwrap(), Some(commit));
    assert_eq!(
        git(dir.path(), &["rev-parse", "main"]).trim(),
        commit.to_string()
    );
    git(dir.path(), &["fsck", "--full", "--strict"]);
    // Only the commit object is loose; every blob and tree is in the pack.
    let (loose, packed) = object_counts(dir.path());
    assert_eq!(loose, 1);
    assert_eq!(packed, out.objects_written);
    let files = git(dir.path(), &["ls-tree", "-r", "--name-only", "HEAD"]);
    assert_eq!(files.lines().count(), 40 + 1 + 1 + 1);
    assert!(files.lines().any(|l| l == "tenantgit.toml"));
    assert!(files
        .lines()
        .any(|l| l == "policies/authorizationPolicy.yaml"));
    // The tree git computes from the same files is the same tree.
    assert_eq!(
        git(dir.path(), &["rev-parse", "HEAD^{tree}"]).trim(),
        out.tree.to_string()
    );
    assert_eq!(out.summary.per_kind["users"].added.len(), 40);
    assert_eq!(out.summary.per_kind["users"].total, 40);
    // A reflog entry, even in a bare repository.
    let reflog = git(dir.path(), &["reflog", "show", "--format=%gs", "main"]);
    assert_eq!(reflog.trim(), "tenantgit: snapshot of contoso");
    // The blob of each file is what the YAML emitter wrote, hashed in memory.
    let u = snap.of_kind("users").next().unwrap();
    let path = crate::layout::path_for(&u.kind, &u.id, u.name_for_path());
    let shown = git(dir.path(), &["show", &format!("HEAD:{path}")]);
    assert_eq!(shown, crate::yaml::emit_object(u));
    assert_eq!(
        git(dir.path(), &["rev-parse", &format!("HEAD:{path}")]).trim(),
        blob_id(shown.as_bytes()).to_string()
    );
}

#[test]
fn unchanged_snapshot_writes_nothing() {
    let (dir, store) = bare_repo();
    let snap = tenant(30);
    let first = store
        .commit_snapshot(&snap, &scope(), &[], &options())
        .unwrap();
    let before = object_counts(dir.path());
    let again = store
        .commit_snapshot(&snap, &scope(), &[], &options())
        .unwrap();
    assert_eq!(again.commit, None);
    assert_eq!(again.tree, first.tree);
    assert_eq!(again.objects_written, 0);
    assert!(again.summary.is_empty());
    assert_eq!(store.head().unwrap(), first.commit);
    assert_eq!(object_counts(dir.path()), before);
}

#[test]
fn changed_object_writes_its_blob_and_the_trees_above() {
    let (dir, store) = bare_repo();
    let mut snap = tenant(60);
    let first = store
        .commit_snapshot(&snap, &scope(), &[], &options())
        .unwrap();
    let changed = user(7, "Finance");
    snap.insert(changed.clone());
    let out = store
        .commit_snapshot(&snap, &scope(), &[], &options())
        .unwrap();
    let commit = out.commit.expect("a new commit");
    // blob + users/<shard> + users + root
    assert_eq!(out.objects_written, 4);
    let users = &out.summary.per_kind["users"];
    assert_eq!(
        users.changed,
        vec![(changed.id.clone(), "user7@contoso.com".to_string())]
    );
    assert!(users.added.is_empty() && users.removed.is_empty());
    assert!(out.summary.per_kind["groups"].is_empty());
    let diff = git(
        dir.path(),
        &[
            "diff",
            "--name-only",
            &first.commit.unwrap().to_string(),
            &commit.to_string(),
        ],
    );
    assert_eq!(diff.lines().count(), 1);
    git(dir.path(), &["fsck", "--full"]);
    assert_eq!(
        git(dir.path(), &["rev-list", "--count", "HEAD"]).trim(),
        "2"
    );
}

#[test]
fn removed_objects_disappear_and_other_files_are_kept() {
    let (dir, store) = bare_repo();
    let mut snap = tenant(20);
    let extra = vec![
        (
            "tenantgit.toml".to_string(),
            b"tenant = \"contoso\"\n".to_vec(),
        ),
        ("README.md".to_string(), b"# contoso\n".to_vec()),
        (
            "users/README.md".to_string(),
            b"not an object file\n".to_vec(),
        ),
    ];
    store
        .commit_snapshot(&snap, &scope(), &extra, &options())
        .unwrap();
    let gone = user(3, "");
    snap.objects.remove(&gone.key());
    let out = store
        .commit_snapshot(&snap, &scope(), &[], &options())
        .unwrap();
    assert!(out.commit.is_some());
    let removed = &out.summary.per_kind["users"].removed;
    assert_eq!(
        removed,
        &vec![(gone.id.clone(), "user3@contoso.com".to_string())]
    );
    let head = store.head().unwrap().unwrap();
    let index = store.tree_index(head).unwrap();
    assert_eq!(index.len(), 19 + 1 + 1);
    assert!(index.find("users", &gone.id).is_none());
    assert_eq!(
        store.read_file("tenantgit.toml").unwrap().as_deref(),
        Some("tenant = \"contoso\"\n")
    );
    let files = git(dir.path(), &["ls-tree", "-r", "--name-only", "HEAD"]);
    assert!(files.lines().any(|l| l == "README.md"));
    assert!(files.lines().any(|l| l == "users/README.md"));

    // Writing only users keeps the group and the policy as they were.
    let only_users: Snapshot = Snapshot {
        objects: snap
            .objects
            .iter()
            .filter(|(k, _)| k.kind == "users")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    let out = store
        .commit_snapshot(&only_users, &[kind("users")], &[], &options())
        .unwrap();
    assert_eq!(out.commit, None, "nothing changed in users");
    let mut policy_changed = Snapshot::default();
    policy_changed.insert(authorization_policy("adminsAndGuestInviters"));
    let out = store
        .commit_snapshot(
            &policy_changed,
            &[kind("authorizationPolicy")],
            &[],
            &options(),
        )
        .unwrap();
    assert_eq!(out.summary.per_kind.len(), 1);
    assert_eq!(out.summary.per_kind["authorizationPolicy"].changed.len(), 1);
    let index = store.tree_index(out.commit.unwrap()).unwrap();
    assert_eq!(index.len(), 19 + 1 + 1);
}

#[test]
fn working_tree_follows_the_commits() {
    let dir = tempfile::tempdir().unwrap();
    let repo_dir = dir.path().join("tenant");
    let (store, created) = Store::open_or_init(&repo_dir).unwrap();
    assert!(created);
    assert!(!store.is_bare());
    let mut snap = tenant(25);
    let extra = vec![(
        "tenantgit.toml".to_string(),
        b"tenant = \"contoso\"\n".to_vec(),
    )];
    let first = store
        .commit_snapshot(&snap, &scope(), &extra, &options())
        .unwrap();
    assert_eq!(git(&repo_dir, &["status", "--porcelain"]), "");
    assert_eq!(
        git(&repo_dir, &["symbolic-ref", "HEAD"]).trim(),
        "refs/heads/main"
    );
    let loaded = store.load_worktree(&no_filter).unwrap();
    assert_same(&snap, &loaded);

    // An untracked file outside the managed folders and an edit to tenantgit.toml survive.
    std::fs::write(repo_dir.join("notes.txt"), "mine\n").unwrap();
    std::fs::write(repo_dir.join("tenantgit.toml"), "tenant = \"edited\"\n").unwrap();
    snap.insert(user(4, "Legal"));
    snap.objects.remove(&user(5, "").key());
    let out = store
        .commit_snapshot(&snap, &scope(), &[], &options())
        .unwrap();
    assert_ne!(out.commit, first.commit);
    assert_eq!(
        git(&repo_dir, &["status", "--porcelain"]),
        " M tenantgit.toml\n?? notes.txt\n"
    );
    assert_same(&snap, &store.load_worktree(&no_filter).unwrap());
    // One reflog entry per commit, on the branch and on HEAD.
    for name in ["main", "HEAD"] {
        let log = git(&repo_dir, &["reflog", "show", "--format=%H %gs", name]);
        let expected = format!(
            "{} tenantgit: snapshot of contoso\n{} tenantgit: snapshot of contoso\n",
            out.commit.unwrap(),
            first.commit.unwrap()
        );
        assert_eq!(log, expected, "{name}");
    }
    let (again, created) = Store::open_or_init(&repo_dir).unwrap();
    assert!(!created);
    assert_eq!(again.head().unwrap(), out.commit);
    // From a folder inside the snapshot repository, the same repository is found.
    let (inner, created) = Store::open_or_init(&repo_dir.join("users")).unwrap();
    assert!(!created);
    assert_eq!(inner.head().unwrap(), out.commit);
}

#[test]
fn dirty_managed_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open_or_init(dir.path()).unwrap();
    let mut snap = tenant(10);
    let first = store
        .commit_snapshot(&snap, &scope(), &[], &options())
        .unwrap();
    let u = user(2, "Sales");
    let path = crate::layout::path_for(&u.kind, &u.id, u.name_for_path());
    std::fs::write(dir.path().join(&path), "id: hand-edited\n").unwrap();
    snap.insert(user(2, "Marketing"));
    let err = store
        .commit_snapshot(&snap, &scope(), &[], &options())
        .unwrap_err();
    match &err {
        StoreError::DirtyWorktree { paths, more } => {
            assert_eq!(paths, &vec![path.clone()]);
            assert_eq!(*more, 0);
        }
        other => panic!("expected DirtyWorktree, got {other:?}"),
    }
    assert!(err.hint().unwrap().contains("stash"));
    assert_eq!(store.head().unwrap(), first.commit);
    assert_eq!(
        std::fs::read_to_string(dir.path().join(&path)).unwrap(),
        "id: hand-edited\n"
    );
}

#[test]
fn detached_head_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open_or_init(dir.path()).unwrap();
    let mut snap = tenant(5);
    store
        .commit_snapshot(&snap, &scope(), &[], &options())
        .unwrap();
    git(dir.path(), &["checkout", "-q", "--detach"]);
    snap.insert(user(1, "Other"));
    let err = store
        .commit_snapshot(&snap, &scope(), &[], &options())
        .unwrap_err();
    assert!(matches!(err, StoreError::DetachedHead), "{err:?}");
    assert!(err.hint().unwrap().contains("git switch"));
}

#[test]
fn commit_message_names_the_first_objects() {
    let (dir, store) = bare_repo();
    let mut snap = tenant(6);
    store
        .commit_snapshot(&snap, &scope(), &[], &options())
        .unwrap();
    for i in 10..14 {
        snap.insert(user(i, "New"));
    }
    snap.insert(user(1, "Moved"));
    snap.objects.remove(&user(2, "").key());
    let opts = CommitOptions {
        max_named: 3,
        ..options()
    };
    store.commit_snapshot(&snap, &scope(), &[], &opts).unwrap();
    let message = git(dir.path(), &["log", "-1", "--format=%B"]);
    assert_eq!(
        message.trim_end(),
        "snapshot of contoso: 4 users added, 1 users changed, 1 users removed\n\n\
         users: 4 added, 1 changed, 1 removed\n  \
         + user10@contoso.com\n  \
         + user11@contoso.com\n  \
         + user12@contoso.com\n  \
         … and 3 more\n\n\
         Tenantgit-Snapshot: users, groups, authorizationPolicy"
    );
    // git reads the trailer as git reads any trailer.
    let trailer = git(
        dir.path(),
        &[
            "log",
            "-1",
            "--format=%(trailers:key=Tenantgit-Snapshot,valueonly)",
        ],
    );
    assert_eq!(trailer.trim(), "users, groups, authorizationPolicy");
    let author = git(
        dir.path(),
        &["log", "-1", "--format=%an <%ae> %ad", "--date=raw"],
    );
    assert_eq!(author.trim(), "Test <test@example.com> 1700000000 +0100");
}

#[test]
fn tree_index_and_load_snapshot_round_trip() {
    let (_dir, store) = bare_repo();
    let snap = tenant(120);
    let out = store
        .commit_snapshot(&snap, &scope(), &[], &options())
        .unwrap();
    let commit = out.commit.unwrap();
    let index = store.tree_index(commit).unwrap();
    assert_eq!(index.len(), snap.len());
    for obj in snap.objects.values() {
        let (path, oid) = index.find(&obj.kind.kind, &obj.id).expect("indexed");
        assert_eq!(oid, blob_id(crate::yaml::emit_object(obj).as_bytes()));
        assert_eq!(index.get(path), Some(oid));
    }
    let loaded = store.load_snapshot(commit, &no_filter).unwrap();
    assert_same(&snap, &loaded);
    // Link display names come back from the comments.
    let g = loaded.of_kind("groups").next().unwrap();
    assert_eq!(g.links["members"].len(), 5);
    assert!(g.links["members"].iter().all(|l| l.display_name.is_some()));
    let groups_only = store
        .load_snapshot(commit, &|k: &KindSpec, _: &str| k.kind == "groups")
        .unwrap();
    assert_eq!(groups_only.len(), 1);
}

#[test]
fn changed_object_files_between_commits() {
    let (_dir, store) = bare_repo();
    let mut snap = tenant(50);
    let extra = vec![("README.md".to_string(), b"a\n".to_vec())];
    let a = store
        .commit_snapshot(&snap, &scope(), &extra, &options())
        .unwrap();
    let changed = user(8, "Finance");
    let removed = user(9, "");
    let added = user(77, "New");
    snap.insert(changed.clone());
    snap.objects.remove(&removed.key());
    snap.insert(added.clone());
    let extra = vec![("README.md".to_string(), b"b\n".to_vec())];
    let b = store
        .commit_snapshot(&snap, &scope(), &extra, &options())
        .unwrap();
    let (a, b) = (a.commit.unwrap(), b.commit.unwrap());
    let (ia, ib) = (store.tree_index(a).unwrap(), store.tree_index(b).unwrap());
    let mut changes = store.changed_object_files(a, b).unwrap();
    changes.sort_by(|x, y| {
        x.old
            .is_some()
            .cmp(&y.old.is_some())
            .then(x.new.is_some().cmp(&y.new.is_some()))
    });
    let find = |idx: &TreeIndex, o: &Object| {
        idx.find("users", &o.id)
            .map(|(p, oid)| (p.to_string(), oid))
    };
    let (pr, or) = find(&ia, &removed).unwrap();
    let (pa, oa) = find(&ib, &added).unwrap();
    let (pc, oc_old) = find(&ia, &changed).unwrap();
    let (_, oc_new) = find(&ib, &changed).unwrap();
    assert_eq!(
        changes,
        vec![
            FileChange {
                path: pa,
                kind: kind("users"),
                old: None,
                new: Some(oa)
            },
            FileChange {
                path: pr,
                kind: kind("users"),
                old: Some(or),
                new: None
            },
            FileChange {
                path: pc,
                kind: kind("users"),
                old: Some(oc_old),
                new: Some(oc_new)
            },
        ]
    );
    assert!(store.changed_object_files(b, b).unwrap().is_empty());
}

#[test]
fn failed_checkout_leaves_head_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open_or_init(dir.path()).unwrap();
    let mut snap = tenant(8);
    let first = store
        .commit_snapshot(&snap, &scope(), &[], &options())
        .unwrap();
    // An untracked file where the new object's file must go: checkout must not overwrite it.
    let newcomer = user(300, "New");
    let path = crate::layout::path_for(&newcomer.kind, &newcomer.id, newcomer.name_for_path());
    std::fs::create_dir_all(dir.path().join(&path).parent().unwrap()).unwrap();
    std::fs::write(dir.path().join(&path), "mine\n").unwrap();
    snap.insert(newcomer);
    let err = store
        .commit_snapshot(&snap, &scope(), &[], &options())
        .unwrap_err();
    assert!(
        matches!(err, StoreError::UntrackedInTheWay { .. }),
        "{err:?}"
    );
    assert_eq!(store.head().unwrap(), first.commit);
    assert_eq!(
        std::fs::read_to_string(dir.path().join(&path)).unwrap(),
        "mine\n"
    );
    assert_eq!(
        git(dir.path(), &["reflog", "show", "main"]).lines().count(),
        1
    );
    git(dir.path(), &["fsck", "--full"]);
}

#[test]
fn malformed_file_names_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open_or_init(dir.path()).unwrap();
    let snap = tenant(3);
    store
        .commit_snapshot(&snap, &scope(), &[], &options())
        .unwrap();
    let bad = "users/zz/broken.zz000000-0000-4000-8000-000000000000.yaml";
    std::fs::create_dir_all(dir.path().join("users/zz")).unwrap();
    std::fs::write(
        dir.path().join(bad),
        "id: zz000000-0000-4000-8000-000000000000\ndisplayName: [unclosed\n",
    )
    .unwrap();
    let err = store.load_worktree(&no_filter).unwrap_err();
    let line = match &err {
        StoreError::File(e) => {
            assert_eq!(e.path, Path::new(bad));
            assert!(e.line >= 2, "{e}");
            assert!(e.column >= 1, "{e}");
            assert!(err.to_string().contains(bad), "{err}");
            e.line
        }
        other => panic!("expected a YAML error, got {other:?}"),
    };
    // The same file committed (through git, as a person would) fails the same way from a commit.
    git(dir.path(), &["add", bad]);
    git(dir.path(), &["commit", "-q", "-m", "broken"]);
    let head = store.head().unwrap().unwrap();
    match store.load_snapshot(head, &no_filter).unwrap_err() {
        StoreError::File(e) => assert_eq!((e.path.as_path(), e.line), (Path::new(bad), line)),
        other => panic!("expected a YAML error, got {other:?}"),
    }
}

#[test]
fn revisions_resolve() {
    let (dir, store) = bare_repo();
    assert!(matches!(store.resolve("HEAD"), Err(StoreError::NoCommits)));
    assert_eq!(store.head().unwrap(), None);
    let mut snap = tenant(4);
    let a = store
        .commit_snapshot(&snap, &scope(), &[], &options())
        .unwrap()
        .commit
        .unwrap();
    snap.insert(user(0, "Other"));
    let b = store
        .commit_snapshot(&snap, &scope(), &[], &options())
        .unwrap()
        .commit
        .unwrap();
    git(dir.path(), &["tag", "good", &a.to_string()]);
    assert_eq!(store.resolve("HEAD").unwrap(), b);
    assert_eq!(store.resolve("main~1").unwrap(), a);
    assert_eq!(store.resolve("good").unwrap(), a);
    assert_eq!(store.resolve(&b.to_string()[..8]).unwrap(), b);
    match store.resolve("nope") {
        Err(e @ StoreError::UnknownRevision { .. }) => assert!(e.hint().is_some()),
        other => panic!("expected UnknownRevision, got {other:?}"),
    }
    // A tree is not a commit.
    let tree = git(dir.path(), &["rev-parse", "HEAD^{tree}"]);
    assert!(matches!(
        store.resolve(tree.trim()),
        Err(StoreError::UnknownRevision { .. })
    ));
}

#[test]
fn path_collision_is_an_error() {
    let (_dir, store) = bare_repo();
    let mut snap = Snapshot::default();
    for id in ["same.1", "same_1"] {
        let raw = json!({"id": id, "userPrincipalName": "twin@contoso.com"});
        snap.insert(normalize(kind("users"), &raw, BTreeMap::new()).unwrap());
    }
    match store.commit_snapshot(&snap, &scope(), &[], &options()) {
        Err(StoreError::PathCollision { path, ids }) => {
            assert!(path.ends_with("twin@contoso.com.same_1.yaml"), "{path}");
            assert_eq!(ids.len(), 2);
        }
        other => panic!("expected PathCollision, got {other:?}"),
    }
    assert_eq!(store.head().unwrap(), None);
}

#[test]
fn not_a_repository() {
    let dir = tempfile::tempdir().unwrap();
    match Store::open(dir.path()) {
        Err(e @ StoreError::NotARepository { .. }) => assert!(e.hint().unwrap().contains("-C")),
        Err(other) => panic!("expected NotARepository, got {other:?}"),
        Ok(_) => panic!("a temp dir is not a repository"),
    }
}

#[test]
fn git_dates_parse() {
    assert_eq!(
        parse_git_date("@1700000000 +0100"),
        Some((1_700_000_000, 60))
    );
    assert_eq!(
        parse_git_date("1700000000 -0230"),
        Some((1_700_000_000, -150))
    );
    assert_eq!(
        parse_git_date("2023-11-14T23:13:20+01:00"),
        Some((1_700_000_000, 60))
    );
    assert_eq!(parse_git_date("next tuesday"), None);
}

/// A user of about 1 KB with many fields varied, for the benchmark.
fn big_user(i: usize, round: usize) -> Object {
    let mut raw = user(i, ["Sales", "R&D", "Finance", "Legal", "Support"][i % 5]).props;
    let more = json!({
        "givenName": format!("Given{i}"),
        "surname": format!("Surname{}", i * 7919 % 100_003),
        "mail": format!("user{i}@contoso.com"),
        "mailNickname": format!("user{i}"),
        "companyName": "Contoso Ltd",
        "employeeId": format!("E{:07}", i),
        "employeeType": "Employee",
        "officeLocation": format!("Building {} / Floor {}", i % 40, i % 9),
        "streetAddress": format!("{} Main Street", i % 900 + 1),
        "state": "ST",
        "postalCode": format!("{:05}", i % 99_999),
        "country": "Norway",
        "usageLocation": "NO",
        "mobilePhone": format!("+47 9{:07}", i),
        "preferredLanguage": "en-US",
        "otherMails": [format!("u{i}@fabrikam.com")],
        "proxyAddresses": [format!("SMTP:user{i}@contoso.com"), format!("smtp:u{i}@contoso.mail.onmicrosoft.com")],
        "onPremisesImmutableId": format!("imm{:016x}", (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        "onPremisesExtensionAttributes": {
            "extensionAttribute1": format!("cc-{}", i % 97),
            "extensionAttribute2": format!("round {round}"),
            "extensionAttribute3": "x",
        },
    });
    if let Value::Object(m) = more {
        raw.extend(m);
    }
    normalize(kind("users"), &Value::Object(raw), BTreeMap::new()).unwrap()
}

/// Run with `cargo test --release --lib store::tests::bench -- --ignored --nocapture`.
#[test]
#[ignore]
fn bench_commit_125k_users() {
    let n = 125_000;
    let (_dir, store) = bare_repo();
    let started = std::time::Instant::now();
    let mut snap = Snapshot::default();
    for i in 0..n {
        snap.insert(big_user(i, 0));
    }
    let sample = crate::yaml::emit_object(snap.objects.values().next().unwrap()).len();
    eprintln!(
        "built {n} users in {:.2?} (a file is ~{sample} bytes)",
        started.elapsed()
    );
    let kinds = [kind("users")];
    let out = store
        .commit_snapshot(&snap, &kinds, &[], &options())
        .unwrap();
    eprintln!(
        "first commit: {:.2} s, {} objects, {:.1} MB pack",
        out.git_seconds,
        out.objects_written,
        out.bytes_written as f64 / 1e6
    );
    let again = store
        .commit_snapshot(&snap, &kinds, &[], &options())
        .unwrap();
    assert_eq!(again.commit, None);
    eprintln!(
        "unchanged re-commit: {:.2} s, {} objects",
        again.git_seconds, again.objects_written
    );
    for i in (0..n).step_by(100) {
        snap.insert(big_user(i, 1));
    }
    let out = store
        .commit_snapshot(&snap, &kinds, &[], &options())
        .unwrap();
    eprintln!(
        "1% changed: {:.2} s, {} objects, {:.1} MB pack",
        out.git_seconds,
        out.objects_written,
        out.bytes_written as f64 / 1e6
    );
    let head = store.head().unwrap().unwrap();
    let t = std::time::Instant::now();
    let index = store.tree_index(head).unwrap();
    eprintln!("tree_index of {} files: {:.2?}", index.len(), t.elapsed());
    let t = std::time::Instant::now();
    let loaded = store.load_snapshot(head, &no_filter).unwrap();
    eprintln!(
        "load_snapshot of {} objects: {:.2?}",
        loaded.len(),
        t.elapsed()
    );
}

/// Where the time of a first commit goes, piece by piece, on one core.
#[test]
#[ignore]
fn bench_pieces() {
    let n = 125_000;
    let users: Vec<Object> = (0..n).map(|i| big_user(i, 0)).collect();
    let t = std::time::Instant::now();
    let texts: Vec<String> = users.iter().map(crate::yaml::emit_object).collect();
    eprintln!("emit: {:.2?}", t.elapsed());
    let t = std::time::Instant::now();
    let paths: Vec<String> = users
        .iter()
        .map(|u| crate::layout::path_for(&u.kind, &u.id, u.name_for_path()))
        .collect();
    eprintln!("paths: {:.2?} ({})", t.elapsed(), paths.len());
    let t = std::time::Instant::now();
    let ids: Vec<git2::Oid> = texts.iter().map(|s| blob_id(s.as_bytes())).collect();
    eprintln!("sha1: {:.2?} ({})", t.elapsed(), ids.len());
    let t = std::time::Instant::now();
    let mut deflater = pack::Deflater::new();
    let (_dir, store) = bare_repo();
    let mut spool = pack::Spool::new(store.git_dir());
    let mut size = 0;
    for text in &texts {
        let entry = pack::pack_entry(pack::ObjKind::Blob, text.as_bytes(), &mut deflater);
        size += entry.len();
        spool.push(pack::blob_id(text.as_bytes()), &entry).unwrap();
    }
    eprintln!("deflate: {:.2?} ({:.1} MB)", t.elapsed(), size as f64 / 1e6);
    let odb = store.repository().odb().unwrap();
    let t = std::time::Instant::now();
    let pack_dir = store.git_dir().join("objects").join("pack");
    pack::write_pack(&odb, &pack_dir, &mut spool).unwrap();
    eprintln!("pack writer: {:.2?}", t.elapsed());
}
