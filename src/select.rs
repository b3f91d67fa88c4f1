//! Which objects a command works on. A selection is kinds, ids and path patterns (gitignore
//! syntax), minus the paths `.tenantgitignore` names; it resolves to object ids on both sides of
//! a comparison, joined by id: an object is selected when its file on either side matches, so a
//! renamed object (a new UPN, a new display name) is one object whose name changed, never an
//! addition on one side and a deletion on the other.

use std::collections::{BTreeSet, HashSet};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::error::Error;
use crate::layout;
use crate::model::Snapshot;
pub use crate::plan::SelectionSpec;
use crate::schema::{self, KindSpec};
pub use crate::store::FileRef;

/// A checked selection.
pub struct Selection {
    pub kinds: Vec<&'static KindSpec>,
    pub spec: SelectionSpec,
    /// The ids as they appear in file names.
    safe_ids: HashSet<String>,
    globs: Option<Gitignore>,
    /// Paths never written (`.tenantgitignore`).
    excluded: Option<Gitignore>,
}

/// A selection resolved against both sides: `(kind, file-name-safe id)` of every selected object.
#[derive(Debug, Default, Clone)]
pub struct Resolved {
    selected: HashSet<(&'static str, String)>,
}

impl Resolved {
    /// Whether the object of `kind` with this id (as in the file name, or the object's real id)
    /// is selected.
    pub fn contains(&self, kind: &KindSpec, id: &str) -> bool {
        self.selected
            .contains(&(kind.kind.as_str(), layout::safe_component(id)))
    }

    pub fn len(&self) -> usize {
        self.selected.len()
    }

    /// Every selected object: (kind, file-name-safe id).
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        self.selected.iter().map(|(k, id)| (*k, id.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.selected.is_empty()
    }

    /// Keeps the selected objects of a snapshot.
    pub fn filter(&self, snapshot: Snapshot) -> Snapshot {
        let objects = snapshot
            .objects
            .into_iter()
            .filter(|(_, o)| self.contains(o.kind.spec(), &o.id))
            .collect();
        Snapshot { objects }
    }
}

impl Selection {
    /// `kinds` empty means every kind in `scope`.
    pub fn new(
        scope: &[&'static KindSpec],
        kinds: Vec<&'static KindSpec>,
        ids: Vec<String>,
        patterns: &[String],
    ) -> Result<Selection, Error> {
        let spec = SelectionSpec {
            kinds: kinds.iter().map(|k| k.kind.clone()).collect(),
            ids: ids.clone(),
            patterns: patterns.to_vec(),
        };
        let kinds = if kinds.is_empty() {
            scope.to_vec()
        } else {
            kinds
        };
        let globs = if patterns.is_empty() {
            None
        } else {
            Some(build_globs(
                patterns.iter().map(String::as_str),
                |glob, e| {
                    Error::usage(
                    format!("invalid path pattern `{glob}`: {e}"),
                    "patterns use gitignore syntax, e.g. 'users/**' or 'conditionalAccessPolicies/*mfa*'",
                )
                },
            )?)
        };
        let safe_ids = ids.iter().map(|id| layout::safe_component(id)).collect();
        Ok(Selection {
            kinds,
            spec,
            safe_ids,
            globs,
            excluded: None,
        })
    }

    /// The selection a plan recorded, checked again against this build's kinds.
    pub fn from_spec(
        scope: &[&'static KindSpec],
        spec: &SelectionSpec,
    ) -> Result<Selection, Error> {
        let kinds = spec
            .kinds
            .iter()
            .map(|k| crate::config::check_kind(k, "the plan's selection"))
            .collect::<Result<Vec<_>, _>>()?;
        Selection::new(scope, kinds, spec.ids.clone(), &spec.patterns)
    }

    /// Every kind in `scope`, nothing else narrowed.
    pub fn all(scope: &[&'static KindSpec]) -> Selection {
        Selection::new(scope, Vec::new(), Vec::new(), &[])
            .expect("a selection without patterns is always valid")
    }

    /// Leaves out the paths a `.tenantgitignore` (gitignore syntax) names: restore and apply
    /// never write them.
    pub fn exclude(&mut self, ignore_file: &str) -> Result<(), Error> {
        let lines = ignore_file.lines().enumerate().map(|(n, l)| (n + 1, l));
        let mut builder = GitignoreBuilder::new("");
        for (n, line) in lines {
            check_glob(line)
                .and_then(|()| builder.add_line(None, line).map(|_| ()).map_err(|e| e.to_string()))
                .map_err(|e| {
                    Error::config(
                        format!(".tenantgitignore:{n}: invalid pattern `{line}`: {e}"),
                        "the file uses gitignore syntax, e.g. `users/*/breakglass*` or `conditionalAccessPolicies/`",
                    )
                })?;
        }
        self.excluded = Some(builder.build().map_err(|e| {
            Error::config(
                format!(".tenantgitignore: {e}"),
                "the file uses gitignore syntax",
            )
        })?);
        Ok(())
    }

    pub fn kind_selected(&self, kind: &KindSpec) -> bool {
        self.kinds.iter().any(|k| k.kind == kind.kind)
    }

    /// Whether a path matches the patterns (every path when there are none).
    fn matches(&self, path: &str) -> bool {
        self.globs
            .as_ref()
            .is_none_or(|g| g.matched_path_or_any_parents(path, false).is_ignore())
    }

    fn is_excluded(&self, path: &str) -> bool {
        self.excluded
            .as_ref()
            .is_some_and(|g| g.matched_path_or_any_parents(path, false).is_ignore())
    }

    /// Whether a file could hold a selected object, judged by its path alone: for reading only
    /// the files that matter. The object check is [`Resolved::contains`].
    pub fn path_may_match(&self, kind: &KindSpec, path: &str) -> bool {
        self.kind_selected(kind) && !self.is_excluded(path) && self.matches(path)
    }

    /// Resolves the selection against the files of one side and the objects of another (or a
    /// second list of files), joined by id: an object is selected when it is of a selected kind,
    /// has a selected id (when ids were given), and its path on either side matches the patterns;
    /// it is left out when its path on either side is excluded. Ids given with `--id` that name
    /// no object on either side are an error.
    pub fn resolve<'a>(
        &self,
        files: impl IntoIterator<Item = FileRef<'a>>,
        objects: &Snapshot,
    ) -> Result<Resolved, Error> {
        let mut matched: HashSet<(&'static str, String)> = HashSet::new();
        let mut excluded: HashSet<(&'static str, String)> = HashSet::new();
        let mut seen_ids: HashSet<String> = HashSet::new();
        let mut consider = |kind: &'static KindSpec, safe_id: String, path: &str| {
            if !self.kind_selected(kind) {
                return;
            }
            if !self.safe_ids.is_empty() {
                if !self.safe_ids.contains(&safe_id) {
                    return;
                }
                seen_ids.insert(safe_id.clone());
            }
            let key = (kind.kind.as_str(), safe_id);
            if self.is_excluded(path) {
                excluded.insert(key);
            } else if self.matches(path) {
                matched.insert(key);
            }
        };
        for f in files {
            consider(f.kind, f.id_hint.to_string(), f.path);
        }
        for o in objects.objects.values() {
            let path = layout::path_for(o.kind.spec(), &o.id, o.name_for_path());
            consider(o.kind.spec(), layout::safe_component(&o.id), &path);
        }
        let unknown: Vec<&String> = self
            .spec
            .ids
            .iter()
            .filter(|id| !seen_ids.contains(&layout::safe_component(id)))
            .collect();
        if let Some(first) = unknown.first() {
            let kinds: Vec<&str> = self.kinds.iter().map(|k| k.kind.as_str()).collect();
            return Err(Error::usage(
                format!(
                    "--id {first} names no object{} (neither in the desired state nor in the tenant)",
                    if kinds.len() == schema::kinds().len() {
                        String::new()
                    } else {
                        format!(" of {}", kinds.join(", "))
                    }
                ),
                "check the id (the `id:` line of the object's file); `git log --all -- '*<id>*'` finds files that held it",
            ));
        }
        let selected = matched.difference(&excluded).cloned().collect();
        Ok(Resolved { selected })
    }

    /// Kind names selected, for messages.
    pub fn kind_names(&self) -> BTreeSet<&str> {
        self.kinds.iter().map(|k| k.kind.as_str()).collect()
    }
}

/// Patterns git would take for literal text by accident: an unclosed `[` matches nothing a user
/// meant. Everything else is checked by the glob parser.
fn check_glob(line: &str) -> Result<(), String> {
    let body = line.trim();
    if body.starts_with('#') {
        return Ok(());
    }
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '[' => {
                // `[]…]` and `[!]…]`: a `]` right after the opening is a member, not the end.
                let mut rest = chars.clone();
                let mut first = true;
                let mut closed = false;
                for d in rest.by_ref() {
                    if d == ']' && !first {
                        closed = true;
                        break;
                    }
                    if first && (d == '!' || d == '^') {
                        continue;
                    }
                    first = false;
                }
                if !closed {
                    return Err("unclosed character class `[`".into());
                }
                chars = rest;
            }
            _ => {}
        }
    }
    Ok(())
}

fn build_globs<'a>(
    patterns: impl Iterator<Item = &'a str>,
    error: impl Fn(&str, String) -> Error,
) -> Result<Gitignore, Error> {
    let mut builder = GitignoreBuilder::new("");
    for glob in patterns {
        check_glob(glob)
            .and_then(|()| {
                builder
                    .add_line(None, glob)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
            .map_err(|e| error(glob, e))?;
    }
    builder
        .build()
        .map_err(|e| error("(all patterns)", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_globs_are_errors() {
        let scope: Vec<_> = schema::kinds().iter().collect();
        for bad in ["users/[", "users/[z-a]", "users/{a,b", "users/x\\"] {
            assert!(
                Selection::new(&scope, Vec::new(), Vec::new(), &[bad.to_string()]).is_err(),
                "{bad}"
            );
            let mut s = Selection::all(&scope);
            assert!(s.exclude(&format!("# comment\n{bad}\n")).is_err(), "{bad}");
        }
        for good in [
            "users/**",
            "users/[ab]*",
            "users/[]]x",
            "groups/*/dept-*",
            "!users/x",
        ] {
            assert!(
                Selection::new(&scope, Vec::new(), Vec::new(), &[good.to_string()]).is_ok(),
                "{good}"
            );
        }
    }
}
