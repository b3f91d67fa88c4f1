//! Accepted differences (`[[diff.ignore]]` in `tenantgit.toml`), in the spirit of Argo CD's
//! `ignoreDifferences`: a rule names a kind (or `*`), dotted property paths whose `*` stands for
//! one segment, and optionally the ids it is limited to. A path pattern hides the attribute it
//! names and everything below it, so `onPremisesExtensionAttributes` hides every extension
//! attribute; a pattern may also name a link (`members`) to hide membership changes.

use serde::Deserialize;

use crate::problem::Problem;
use crate::schema;

/// One `[[diff.ignore]]` entry.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IgnoreRule {
    /// A kind name (`users`) or `*` for every kind.
    pub kind: String,
    /// Dotted property paths; `*` matches one segment.
    pub paths: Vec<String>,
    /// When not empty, the rule applies to these object ids only.
    #[serde(default)]
    pub ids: Vec<String>,
}

/// Top-level names the files of `kind` (every kind for `None`) can hold: properties of any
/// variant and links.
fn known_names(kind: Option<&str>) -> Vec<&'static str> {
    let mut out = Vec::new();
    for spec in schema::kinds() {
        if kind.is_some_and(|k| k != spec.kind) {
            continue;
        }
        out.extend(spec.all_managed());
        out.extend(spec.links.iter().map(|l| l.name.as_str()));
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Validated ignore rules.
#[derive(Debug, Clone, Default)]
pub struct IgnoreRules {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
struct Rule {
    /// `None` for `*`.
    kind: Option<&'static str>,
    paths: Vec<Vec<String>>,
    /// Lower-cased: Graph ids are GUIDs, which compare case-insensitively.
    ids: Vec<String>,
}

impl IgnoreRules {
    /// Checks every rule: the kind must exist and every path must be a dotted path without empty
    /// segments.
    pub fn new(rules: Vec<IgnoreRule>) -> Result<Self, Problem> {
        let mut out = Vec::with_capacity(rules.len());
        for (n, rule) in rules.into_iter().enumerate() {
            let kind = if rule.kind == "*" {
                None
            } else {
                let spec = schema::kind(&rule.kind).ok_or_else(|| {
                    let names = schema::kind_names();
                    let guess = crate::suggest::closest(&rule.kind, names.iter().copied())
                        .map(|k| format!("did you mean \"{k}\"? "))
                        .unwrap_or_default();
                    Problem::new(
                        format!(
                            "diff.ignore rule {} names an unknown kind {:?}",
                            n + 1,
                            rule.kind
                        ),
                        format!("{guess}use \"*\" or one of: {}", names.join(", ")),
                    )
                })?;
                Some(spec.kind.as_str())
            };
            if rule.paths.is_empty() {
                return Err(Problem::new(
                    format!("diff.ignore rule {} for {:?} has no paths", n + 1, rule.kind),
                    "list the property paths to ignore, e.g. paths = [\"onPremisesExtensionAttributes.*\"]",
                ));
            }
            let mut paths = Vec::with_capacity(rule.paths.len());
            for p in &rule.paths {
                let segs: Vec<String> = p.split('.').map(str::to_string).collect();
                if segs.iter().any(String::is_empty) {
                    return Err(Problem::new(
                        format!("diff.ignore rule {} has an invalid path {p:?}", n + 1),
                        "paths are property names joined by dots; `*` stands for one name",
                    ));
                }
                // Only a whole-segment `*` is a wildcard: `proxy*` or `[ab]` would silently
                // match nothing, so they are errors, not literal names.
                if let Some(seg) = segs
                    .iter()
                    .find(|s| *s != "*" && s.contains(['*', '?', '[', ']', '{', '}']))
                {
                    return Err(Problem::new(
                        format!(
                            "diff.ignore rule {} has an invalid path {p:?}: `{seg}` is not a property name",
                            n + 1
                        ),
                        "`*` stands for one whole property name (`onPremisesExtensionAttributes.*`); partial wildcards are not supported",
                    ));
                }
                // The first name must be something the kind stores: a typo would silently
                // ignore nothing.
                let top = &segs[0];
                let known = known_names(kind);
                // Directory extension attributes are the tenant's own, not the schema's.
                let extension = schema::kinds()
                    .iter()
                    .filter(|k| kind.is_none_or(|n| n == k.kind))
                    .any(|k| k.stores_extension(top));
                if top != "*" && !known.contains(&top.as_str()) && !extension {
                    let guess = crate::suggest::closest(top, known.iter().copied())
                        .map(|k| format!("did you mean `{k}`? "))
                        .unwrap_or_default();
                    return Err(Problem::new(
                        format!(
                            "diff.ignore rule {} has an unknown path {p:?}: no {} stores `{top}`",
                            n + 1,
                            kind.unwrap_or("kind")
                        ),
                        format!("{guess}paths start with a property or link the kind's files hold (schema/<kind>.yaml lists them)"),
                    ));
                }
                paths.push(segs);
            }
            out.push(Rule {
                kind,
                paths,
                ids: rule.ids.iter().map(|i| i.to_ascii_lowercase()).collect(),
            });
        }
        Ok(IgnoreRules { rules: out })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether a difference at `path` (an attribute path or a link name) of the object `kind/id`
    /// is accepted.
    pub fn ignores(&self, kind: &str, id: &str, path: &str) -> bool {
        self.rules.iter().any(|r| {
            r.kind.is_none_or(|k| k == kind)
                && (r.ids.is_empty() || r.ids.iter().any(|i| i.eq_ignore_ascii_case(id)))
                && r.paths.iter().any(|p| prefix_matches(p, path))
        })
    }
}

/// Whether the pattern matches the path or one of its ancestors.
fn prefix_matches(pattern: &[String], path: &str) -> bool {
    let mut segs = path.split('.');
    for p in pattern {
        match segs.next() {
            Some(s) if p == "*" || p == s => {}
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(kind: &str, paths: &[&str], ids: &[&str]) -> IgnoreRule {
        IgnoreRule {
            kind: kind.into(),
            paths: paths.iter().map(|s| s.to_string()).collect(),
            ids: ids.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn patterns_match_paths_and_their_descendants_only() {
        let rules = IgnoreRules::new(vec![
            rule("users", &["onPremisesExtensionAttributes.*"], &[]),
            rule("*", &["proxyAddresses"], &[]),
            rule("groups", &["description"], &["AB-12"]),
        ])
        .unwrap();
        assert!(rules.ignores(
            "users",
            "x",
            "onPremisesExtensionAttributes.extensionAttribute1"
        ));
        assert!(!rules.ignores("users", "x", "onPremisesExtensionAttributes"));
        assert!(!rules.ignores(
            "groups",
            "x",
            "onPremisesExtensionAttributes.extensionAttribute1"
        ));
        assert!(rules.ignores("groups", "x", "proxyAddresses"));
        assert!(!rules.ignores("groups", "x", "proxyAddressesX"));
        assert!(rules.ignores("groups", "ab-12", "description"));
        assert!(!rules.ignores("groups", "ab-13", "description"));
        assert!(!rules.ignores("users", "ab-12", "description"));
    }

    #[test]
    fn unknown_kind_and_bad_paths_are_config_errors_with_hints() {
        let err = IgnoreRules::new(vec![rule("user", &["department"], &[])]).unwrap_err();
        assert!(err.to_string().contains("\"user\""), "{err}");
        assert!(err.hint().unwrap().contains("users"));
        let err = IgnoreRules::new(vec![rule("users", &["a..b"], &[])]).unwrap_err();
        assert!(err.to_string().contains("a..b"), "{err}");
        assert!(IgnoreRules::new(vec![rule("users", &[], &[])]).is_err());
    }

    #[test]
    fn rules_deserialize_from_toml() {
        #[derive(Deserialize)]
        struct Diff {
            ignore: Vec<IgnoreRule>,
        }
        #[derive(Deserialize)]
        struct Config {
            diff: Diff,
        }
        let c: Config = toml::from_str(
            "[[diff.ignore]]\nkind = \"users\"\npaths = [\"proxyAddresses\"]\n\n[[diff.ignore]]\nkind = \"*\"\npaths = [\"onPremisesExtensionAttributes.*\"]\nids = [\"x\"]\n",
        )
        .unwrap();
        assert_eq!(c.diff.ignore.len(), 2);
        assert_eq!(c.diff.ignore[1].ids, vec!["x".to_string()]);
        IgnoreRules::new(c.diff.ignore).unwrap();
    }

    #[test]
    fn partial_wildcards_are_errors() {
        for bad in [
            "proxy*",
            "onPremisesExtensionAttributes.extensionAttribute[12]",
            "a.?",
            "a.**",
            "{a,b}",
        ] {
            let err = IgnoreRules::new(vec![rule("users", &[bad], &[])]).unwrap_err();
            assert!(err.to_string().contains("invalid path"), "{bad}: {err}");
            assert!(err.hint().unwrap().contains("whole property name"), "{bad}");
        }
        IgnoreRules::new(vec![rule("users", &["identities.*.issuer", "*"], &[])]).unwrap();
    }

    #[test]
    fn an_unknown_property_is_an_error_naming_the_closest() {
        let err = IgnoreRules::new(vec![rule("users", &["departmnet"], &[])]).unwrap_err();
        assert!(err.to_string().contains("unknown path"), "{err}");
        assert!(err.hint().unwrap().contains("did you mean `department`?"));
        let err = IgnoreRules::new(vec![rule("user", &["department"], &[])]).unwrap_err();
        assert!(err.hint().unwrap().contains("did you mean \"users\"?"));
        // `*` rules know every kind's names, links included.
        IgnoreRules::new(vec![rule("*", &["members", "conditions.users"], &[])]).unwrap();
    }

    #[test]
    fn directory_extension_attributes_can_be_ignored_where_kinds_store_them() {
        let rules = IgnoreRules::new(vec![rule("users", &["extension_ab12_costCenter"], &[])]);
        assert!(rules
            .unwrap()
            .ignores("users", "u1", "extension_ab12_costCenter"));
        IgnoreRules::new(vec![rule("*", &["extension_ab12_costCenter"], &[])]).unwrap();
        let err = IgnoreRules::new(vec![rule("applications", &["extension_ab12_x"], &[])]);
        assert!(err.is_err(), "applications store no extension attributes");
    }
}
