//! `tenantgit.toml`: the repository's own settings (tenant, Graph endpoints, kinds in scope,
//! accepted differences, safety thresholds). Parsed once into typed data; credentials are never
//! read from here — they come from the environment.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::Error;
use crate::plan::{KindThreshold, SafetySettings};
use crate::schema::{self, KindSpec};

pub const FILE_NAME: &str = "tenantgit.toml";

/// The file written into a new snapshot repository.
pub const DEFAULT_TEXT: &str = r#"# tenantgit configuration: committed with the snapshots, so changes to it are reviewed too.
# Credentials never go here. They come from the environment:
#   AZURE_TENANT_ID, AZURE_CLIENT_ID and one of AZURE_CLIENT_SECRET,
#   AZURE_CLIENT_CERTIFICATE_PATH (PEM) or AZURE_FEDERATED_TOKEN_FILE;
#   or a ready access token in TENANTGIT_ACCESS_TOKEN.

[tenant]
# name = "contoso"                        # shown in commit messages

[graph]
# tenant-id = "00000000-0000-0000-0000-000000000000"   # AZURE_TENANT_ID wins
# client-id = "00000000-0000-0000-0000-000000000000"   # AZURE_CLIENT_ID wins
# url = "https://graph.microsoft.com"     # TENANTGIT_GRAPH_URL wins (national clouds differ)
# authority-host = "https://login.microsoftonline.com"   # AZURE_AUTHORITY_HOST wins
# cloud = "global"                        # or usgov, usgov-dod, china: sets both endpoints
# concurrency = 8                         # requests in flight
# max-retries = 8                         # retries of a failing request (429 waits don't count)

[snapshot]
# kinds = ["users", "groups", "applications", "servicePrincipals", "administrativeUnits",
#          "namedLocations", "conditionalAccessPolicies", "authenticationMethodsPolicy",
#          "authenticationMethodConfigurations", "authorizationPolicy"]
# full-every = "1d"      # a full read at least this often ("12h", "7d", "off"); other runs
#                        # follow Graph's delta tokens, kept as a git note on the snapshot

# Accepted differences that `tenantgit diff` does not report (kind "*" for every kind):
# [[diff.ignore]]
# kind = "users"
# paths = ["onPremisesExtensionAttributes.*"]

[safety]
# threshold = 0.3        # refuse (without --force) plans touching more than this share of a kind
# min-objects = 10       # ... when the kind has at least this many objects
# protected = ["users/<id>", "conditionalAccessPolicies/<id>"]   # need --force to change
"#;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub tenant: TenantConfig,
    #[serde(default)]
    pub graph: GraphConfig,
    #[serde(default)]
    pub snapshot: SnapshotConfig,
    #[serde(default)]
    pub diff: DiffConfig,
    #[serde(default)]
    pub safety: SafetyConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TenantConfig {
    pub name: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct GraphConfig {
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub url: Option<String>,
    pub authority_host: Option<String>,
    /// `global`, `usgov`, `usgov-dod` or `china`: sets both endpoints.
    pub cloud: Option<String>,
    pub concurrency: Option<usize>,
    /// Attempts after the first for a failing request (default 8).
    pub max_retries: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SnapshotConfig {
    pub kinds: Option<Vec<String>>,
    /// How often a snapshot reads in full instead of following delta tokens (`"1d"`, `"off"`).
    pub full_every: Option<String>,
}

/// How often a snapshot reads in full when `full-every` is not set: owner changes of
/// applications and service principals are not in their delta rounds, so a full read a day
/// bounds how late they are recorded.
pub const DEFAULT_FULL_EVERY: &str = "1d";

/// `full-every`: `<n>m`, `<n>h`, `<n>d` or `<n>w`; `off` (never) is `None`.
pub fn parse_full_every(text: &str) -> Option<Option<chrono::Duration>> {
    let text = text.trim();
    if text == "off" {
        return Some(None);
    }
    let unit = text.chars().last()?;
    let n: i64 = text[..text.len() - unit.len_utf8()]
        .parse()
        .ok()
        .filter(|n| *n > 0)?;
    let d = match unit {
        'm' => chrono::Duration::minutes(n),
        'h' => chrono::Duration::hours(n),
        'd' => chrono::Duration::days(n),
        'w' => chrono::Duration::weeks(n),
        _ => return None,
    };
    Some(Some(d))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DiffConfig {
    #[serde(default)]
    pub ignore: Vec<crate::diff::IgnoreRule>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SafetyConfig {
    pub threshold: Option<f64>,
    pub min_objects: Option<usize>,
    #[serde(default)]
    pub protected: Vec<String>,
    /// Per-kind overrides: `[safety.kinds.users] threshold = 0.1`.
    #[serde(default)]
    pub kinds: BTreeMap<String, KindSafety>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct KindSafety {
    pub threshold: Option<f64>,
    pub min_objects: Option<usize>,
}

impl SafetyConfig {
    /// The settings `tenantgit.toml` gives, defaults where it says nothing.
    pub fn settings(&self) -> SafetySettings {
        let (config, default) = (self, SafetySettings::default());
        SafetySettings {
            threshold: config.threshold.unwrap_or(default.threshold),
            min_objects: config.min_objects.unwrap_or(default.min_objects),
            kinds: config
                .kinds
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        KindThreshold {
                            threshold: v.threshold,
                            min_objects: v.min_objects,
                        },
                    )
                })
                .collect(),
            protected: config.protected.iter().cloned().collect(),
        }
    }
}

impl FileConfig {
    /// Parses the file's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<FileConfig, Error> {
        let config: FileConfig = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(1);
            Error::config(
                format!("{origin}:{line}: {}", e.message().trim()),
                format!("fix {origin}; `tenantgit snapshot` in an empty folder writes a commented default"),
            )
        })?;
        config.validate(origin)?;
        Ok(config)
    }

    fn validate(&self, origin: &str) -> Result<(), Error> {
        if let Some(every) = &self.snapshot.full_every {
            if parse_full_every(every).is_none() {
                return Err(Error::config(
                    format!("{origin}: [snapshot] full-every = \"{every}\" is not a duration"),
                    "write a number and a unit (m, h, d, w), e.g. full-every = \"1d\", or \"off\"",
                ));
            }
        }
        if let Some(kinds) = &self.snapshot.kinds {
            for k in kinds {
                check_kind(k, &format!("{origin}: [snapshot] kinds"))?;
            }
        }
        for k in self.safety.kinds.keys() {
            check_kind(k, &format!("{origin}: [safety.kinds]"))?;
        }
        for entry in &self.safety.protected {
            let context = format!("{origin}: [safety] protected entry `{entry}`");
            let Some((kind, id)) = entry.split_once('/').filter(|(_, id)| !id.is_empty()) else {
                return Err(Error::config(
                    format!("{context} is not `kind/id`"),
                    "write the kind and the object id, e.g. protected = [\"users/3f2a…\"] (the `id:` line of the object's file)",
                ));
            };
            check_kind(kind, &context)?;
            let _ = id;
        }
        for t in self.safety.threshold.iter().chain(
            self.safety
                .kinds
                .values()
                .filter_map(|k| k.threshold.as_ref()),
        ) {
            if !(0.0..=1.0).contains(t) {
                return Err(Error::config(
                    format!("{origin}: [safety] threshold {t} is not a share between 0 and 1"),
                    "write e.g. threshold = 0.3 for 30%",
                ));
            }
        }
        Ok(())
    }

    /// How often a snapshot reads in full (`None`: never on its own).
    pub fn full_every(&self) -> Option<chrono::Duration> {
        let text = self
            .snapshot
            .full_every
            .as_deref()
            .unwrap_or(DEFAULT_FULL_EVERY);
        parse_full_every(text).flatten()
    }

    /// Kinds in scope for snapshots and diffs, in apply order.
    pub fn kinds_in_scope(&self) -> Vec<&'static KindSpec> {
        match &self.snapshot.kinds {
            None => schema::kinds().iter().collect(),
            Some(names) => schema::kinds()
                .iter()
                .filter(|k| names.contains(&k.kind))
                .collect(),
        }
    }
}

/// The kind with this name, or an error naming the closest known kind and listing them all.
pub fn check_kind(name: &str, context: &str) -> Result<&'static KindSpec, Error> {
    schema::kind(name).ok_or_else(|| {
        let names = schema::kind_names();
        let guess = crate::suggest::closest(name, names.iter().copied())
            .map(|k| format!("did you mean `{k}`? "))
            .unwrap_or_default();
        Error::usage(
            format!("{context}: unknown kind `{name}`"),
            format!("{guess}known kinds: {}", names.join(", ")),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_text_parses() {
        let c = FileConfig::parse(DEFAULT_TEXT, FILE_NAME).unwrap();
        assert_eq!(c.kinds_in_scope().len(), schema::kinds().len());
    }

    #[test]
    fn the_commented_kinds_list_names_every_kind() {
        let start = DEFAULT_TEXT.find("# kinds = [").expect("a kinds line");
        let list = &DEFAULT_TEXT[start..start + DEFAULT_TEXT[start..].find(']').unwrap()];
        for k in schema::kinds() {
            assert!(
                list.contains(&format!("\"{}\"", k.kind)),
                "{} missing",
                k.kind
            );
        }
    }

    #[test]
    fn errors_name_the_line() {
        let err = FileConfig::parse(
            "[snapshot]\nkinds = [\"users\", \"robots\"]\n",
            "tenantgit.toml",
        )
        .unwrap_err();
        assert!(err.to_string().contains("robots"), "{err}");
        let err = FileConfig::parse("[graph]\nnope = 1\n", "tenantgit.toml").unwrap_err();
        assert!(err.to_string().starts_with("tenantgit.toml:2:"), "{err}");
    }

    #[test]
    fn protected_entries_and_kinds_are_checked_with_a_guess() {
        let err = FileConfig::parse("[safety]\nprotected = [\"user/abc\"]\n", "tenantgit.toml")
            .unwrap_err();
        assert!(err.to_string().contains("unknown kind `user`"), "{err}");
        assert!(err.hint().unwrap().contains("did you mean `users`?"));
        let err =
            FileConfig::parse("[safety]\nprotected = [\"abc\"]\n", "tenantgit.toml").unwrap_err();
        assert!(err.to_string().contains("is not `kind/id`"), "{err}");
        let err =
            FileConfig::parse("[snapshot]\nkinds = [\"grups\"]\n", "tenantgit.toml").unwrap_err();
        assert!(
            err.hint().unwrap().contains("did you mean `groups`?"),
            "{err:?}"
        );
        FileConfig::parse("[safety]\nprotected = [\"users/abc\"]\n", "tenantgit.toml").unwrap();
    }

    #[test]
    fn full_every_is_a_duration_or_off() {
        let c =
            |t: &str| FileConfig::parse(&format!("[snapshot]\nfull-every = \"{t}\"\n"), "t.toml");
        assert_eq!(
            c("12h").unwrap().full_every(),
            Some(chrono::Duration::hours(12))
        );
        assert_eq!(
            c("2w").unwrap().full_every(),
            Some(chrono::Duration::days(14))
        );
        assert_eq!(c("off").unwrap().full_every(), None);
        assert_eq!(
            FileConfig::default().full_every(),
            Some(chrono::Duration::days(1))
        );
        for bad in ["7", "d", "0d", "-1d", "7y", "seven days"] {
            let err = c(bad).unwrap_err();
            assert!(
                err.to_string().contains("is not a duration"),
                "{bad}: {err}"
            );
        }
    }
}
