//! Commit messages of snapshots: what changed per kind (added, changed, removed, matched by the id
//! in the file name), the one-line headline for `git log --oneline`, the body naming the first
//! objects and the desired changes the snapshot found applied or discarded, the trailer that
//! marks a snapshot commit, and the commit options (title, author, time) that go with them.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use git2::{Oid, Signature};

use super::pending::{self, DesiredChange};
use super::{Store, StoreError};
use crate::layout;
use crate::schema::KindSpec;
use crate::yaml;

/// How a snapshot commit is made.
#[derive(Debug, Clone)]
pub struct CommitOptions {
    /// First line of the commit message, e.g. "snapshot of contoso".
    pub message_title: String,
    /// Author and committer (name, email); default: the repository's `user.name` and
    /// `user.email`, else "tenantgit <tenantgit@localhost>".
    pub author: Option<(String, String)>,
    /// Commit time as (seconds since the epoch, offset in minutes); default: now. Lets the CLI
    /// honour `GIT_AUTHOR_DATE` (see [`parse_git_date`]) and tests fix their commit ids.
    pub time: Option<(i64, i32)>,
    /// How many objects per kind the message names before "… and N more".
    pub max_named: usize,
    /// Commit the tenant as read even when `HEAD` holds desired changes the tenant does not have,
    /// discarding them (the message names them); without it such a snapshot is refused with
    /// [`StoreError::Unapplied`].
    pub record_drift: bool,
    /// Objects a restore re-created, desired-side id → the id Graph gave them (from the restore
    /// journal): a desired object that `apply` created counts as applied under its new id.
    pub recreated: BTreeMap<String, String>,
}

impl Default for CommitOptions {
    fn default() -> Self {
        CommitOptions {
            message_title: "snapshot".into(),
            author: None,
            time: None,
            max_named: 10,
            record_drift: false,
            recreated: BTreeMap::new(),
        }
    }
}

/// Objects added, changed and removed per kind, compared with the branch's previous commit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeSummary {
    pub per_kind: BTreeMap<String, KindChanges>,
}

/// One kind's changes. Each entry is (id, name as in the file name), sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KindChanges {
    pub added: Vec<(String, String)>,
    pub changed: Vec<(String, String)>,
    pub removed: Vec<(String, String)>,
    /// Objects of the kind in the new tree.
    pub total: usize,
}

impl KindChanges {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }

    /// "3 added, 512 changed, 1 removed", leaving out zero counts.
    pub fn counts(&self) -> String {
        let parts: Vec<String> = [
            (self.added.len(), "added"),
            (self.changed.len(), "changed"),
            (self.removed.len(), "removed"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        if parts.is_empty() {
            "unchanged".into()
        } else {
            parts.join(", ")
        }
    }
}

impl ChangeSummary {
    pub fn is_empty(&self) -> bool {
        self.per_kind.values().all(KindChanges::is_empty)
    }

    /// One line for `git log --oneline`: "528 users changed, 184 groups changed, 1 application added".
    pub fn headline(&self, kind_order: &[&str]) -> String {
        let mut parts = Vec::new();
        for kind in kind_order {
            let Some(c) = self.per_kind.get(*kind) else {
                continue;
            };
            for (n, verb) in [
                (c.added.len(), "added"),
                (c.changed.len(), "changed"),
                (c.removed.len(), "removed"),
            ] {
                if n > 0 {
                    parts.push(format!("{n} {kind} {verb}"));
                }
            }
        }
        if parts.len() > 3 {
            let more = parts.len() - 3;
            parts.truncate(3);
            parts.push(format!("and {more} more"));
        }
        parts.join(", ")
    }

    /// The commit message body: per kind with changes, its counts and the first `max_named`
    /// objects (`+` added, `~` changed, `-` removed).
    pub fn message_body(&self, kind_order: &[&str], max_named: usize) -> String {
        let mut out = String::new();
        let mut names: Vec<&str> = kind_order
            .iter()
            .copied()
            .filter(|k| self.per_kind.contains_key(*k))
            .collect();
        names.extend(
            self.per_kind
                .keys()
                .map(String::as_str)
                .filter(|k| !kind_order.contains(k)),
        );
        for kind in names {
            let c = &self.per_kind[kind];
            if c.is_empty() {
                continue;
            }
            out.push_str(&format!("{kind}: {}\n", c.counts()));
            let all = c
                .added
                .iter()
                .map(|e| ('+', e))
                .chain(c.changed.iter().map(|e| ('~', e)))
                .chain(c.removed.iter().map(|e| ('-', e)));
            let count = c.added.len() + c.changed.len() + c.removed.len();
            for (sign, (_, name)) in all.take(max_named) {
                out.push_str(&format!("  {sign} {name}\n"));
            }
            if count > max_named {
                out.push_str(&format!("  … and {} more\n", count - max_named));
            }
        }
        out
    }
}

/// Parses a `GIT_AUTHOR_DATE`-style time: `@SECONDS [±HHMM]`, `SECONDS ±HHMM`, or RFC 3339.
pub fn parse_git_date(text: &str) -> Option<(i64, i32)> {
    let text = text.trim();
    let mut parts = text.trim_start_matches('@').split_whitespace();
    if let Some(Ok(secs)) = parts.next().map(str::parse::<i64>) {
        let offset = match parts.next() {
            None => 0,
            Some(tz) => {
                let (sign, digits) = match tz.as_bytes().first() {
                    Some(b'-') => (-1, &tz[1..]),
                    Some(b'+') => (1, &tz[1..]),
                    _ => (1, tz),
                };
                if digits.len() != 4 {
                    return None;
                }
                let hhmm: i32 = digits.parse().ok()?;
                sign * (hhmm / 100 * 60 + hhmm % 100)
            }
        };
        return Some((secs, offset));
    }
    let t = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    Some((t.timestamp(), t.offset().local_minus_utc() / 60))
}

/// An object file of the branch's previous tree, of a kind being written.
pub(super) struct OldFile {
    pub kind: &'static KindSpec,
    pub path: String,
    pub oid: Oid,
}

/// An object file of the new tree.
pub(super) struct NewFile<'a> {
    pub kind: &'static KindSpec,
    /// The object's id, and its name as the file name has it.
    pub id: &'a str,
    pub name: &'a str,
    pub path: &'a str,
    pub oid: Oid,
}

/// The full message: title (with the headline of the changes), body, the desired changes found
/// applied or discarded, and the trailer naming the kinds observed.
pub(super) fn compose(
    title: &str,
    summary: &ChangeSummary,
    kinds: &[&KindSpec],
    max_named: usize,
    desired: &[DesiredChange],
) -> String {
    let kind_order: Vec<&str> = kinds.iter().map(|k| k.kind.as_str()).collect();
    let mut body = summary.message_body(&kind_order, max_named);
    let mut headline = summary.headline(&kind_order);
    let (applied, discarded): (Vec<&DesiredChange>, Vec<&DesiredChange>) =
        desired.iter().partition(|d| d.applied);
    if headline.is_empty() && !applied.is_empty() {
        headline = format!("{} desired changes applied", applied.len());
    }
    for (list, what) in [
        (&applied, "Desired changes now in the tenant"),
        (
            &discarded,
            "Desired changes discarded (--record-drift), not in the tenant",
        ),
    ] {
        if list.is_empty() {
            continue;
        }
        if !body.is_empty() {
            body.push('\n');
        }
        body.push_str(&format!("{what}: {}\n", list.len()));
        for d in list.iter().take(max_named) {
            body.push_str(&format!("  {}", d.path));
            if let Some((commit, title)) = d.commits.first() {
                let short = &commit.to_string()[..10];
                body.push_str(&format!(" ({short} {title})"));
            }
            body.push('\n');
        }
        if list.len() > max_named {
            body.push_str(&format!("  … and {} more\n", list.len() - max_named));
        }
    }
    let title = if headline.is_empty() {
        title.to_string()
    } else {
        format!("{title}: {headline}")
    };
    let trailer = pending::trailer(kinds);
    if body.is_empty() {
        format!("{title}\n\n{trailer}\n")
    } else {
        format!("{title}\n\n{body}\n{trailer}\n")
    }
}

impl Store {
    pub(super) fn signature(
        &self,
        options: &CommitOptions,
    ) -> Result<Signature<'static>, StoreError> {
        let (name, email) = match &options.author {
            Some(a) => a.clone(),
            None => {
                let config = self.repo.config().ok();
                let get = |key: &str| config.as_ref().and_then(|c| c.get_string(key).ok());
                match (get("user.name"), get("user.email")) {
                    (Some(n), Some(e)) => (n, e),
                    _ => ("tenantgit".to_string(), "tenantgit@localhost".to_string()),
                }
            }
        };
        let sig = match options.time {
            Some((secs, offset)) => Signature::new(&name, &email, &git2::Time::new(secs, offset)),
            None => Signature::now(&name, &email),
        };
        sig.map_err(StoreError::git("making the commit signature"))
    }

    /// Matches the new files that differ from the old tree's (`new`) with the old files they
    /// replace or that are gone (`old`) by kind and the id in the file name, so that a rename is
    /// a change, not a removal and an addition. `totals` counts every object file per kind in
    /// the new tree.
    pub(super) fn summarize(
        &self,
        kinds: &[&'static KindSpec],
        new: &[NewFile<'_>],
        old: Vec<OldFile>,
        totals: &HashMap<&str, usize>,
        max_named: usize,
    ) -> ChangeSummary {
        let mut per_kind: BTreeMap<String, KindChanges> = kinds
            .iter()
            .map(|k| {
                let total = totals.get(k.kind.as_str()).copied().unwrap_or(0);
                (
                    k.kind.clone(),
                    KindChanges {
                        total,
                        ..KindChanges::default()
                    },
                )
            })
            .collect();
        let hint = |kind: &KindSpec, path: &str| {
            layout::id_hint_from_path(kind, path).unwrap_or_else(|| path.to_string())
        };
        let mut old_by_key: HashMap<(&str, String), OldFile> = old
            .into_iter()
            .map(|f| ((f.kind.kind.as_str(), hint(f.kind, &f.path)), f))
            .collect();
        for p in new {
            let kind = p.kind;
            let entry = per_kind.entry(kind.kind.clone()).or_default();
            let named = (p.id.to_string(), p.name.to_string());
            match old_by_key.remove(&(kind.kind.as_str(), hint(kind, p.path))) {
                None => entry.added.push(named),
                Some(f) if f.oid != p.oid || f.path != p.path => entry.changed.push(named),
                Some(_) => {}
            }
        }
        let mut removed: Vec<OldFile> = old_by_key.into_values().collect();
        removed.sort_by(|a, b| a.path.cmp(&b.path));
        let mut named_per_kind: HashMap<&str, usize> = HashMap::new();
        for f in removed {
            let seen = named_per_kind.entry(f.kind.kind.as_str()).or_default();
            *seen += 1;
            // The real name needs the file; read it only for the few the message shows.
            let parsed = (*seen <= max_named)
                .then(|| self.read_blob(f.oid).ok())
                .flatten()
                .and_then(|bytes| {
                    let text = String::from_utf8(bytes).ok()?;
                    yaml::parse_object(f.kind, Path::new(&f.path), &text).ok()
                });
            let named = match parsed {
                Some(o) => (o.id.clone(), o.name_for_path().to_string()),
                None => (hint(f.kind, &f.path), name_from_path(&f.path)),
            };
            per_kind
                .entry(f.kind.kind.clone())
                .or_default()
                .removed
                .push(named);
        }
        for c in per_kind.values_mut() {
            for list in [&mut c.added, &mut c.changed, &mut c.removed] {
                list.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
            }
        }
        ChangeSummary { per_kind }
    }
}

/// The readable part of an object file's name (`alice@contoso.com` of
/// `users/3f/alice@contoso.com.3f2a….yaml`).
pub(super) fn name_from_path(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file.strip_suffix(".yaml").unwrap_or(file);
    stem.rsplit_once('.')
        .map_or(stem, |(name, _)| name)
        .to_string()
}
