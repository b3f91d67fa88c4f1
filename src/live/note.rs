//! The delta tokens kept as a git note on a snapshot commit, and how each kind is read this run:
//! in full, in an initial round, or since a token the note holds and this run can trust.

use std::collections::{BTreeMap, HashSet};

use git2::Oid;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::graph::GraphError;
use crate::read::delta;
use crate::read::round::DeltaToken;
use crate::read::{self, Fetch};
use crate::schema::KindSpec;
use crate::store::Store;

use super::Options;

/// The version of the note's format; a note of another version is not trusted.
pub(super) const NOTE_VERSION: u32 = 1;
/// How far back on `HEAD`'s first-parent chain the last noted snapshot is looked for.
pub(super) const NOTE_DEPTH: usize = 10_000;

/// What the note on a snapshot commit says: the delta tokens of the kinds read in that run, all
/// relative to that commit's files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct Note {
    pub(super) version: u32,
    /// The Graph root the tokens were taken from (`{graph_url}/v1.0`).
    pub(super) graph: String,
    /// The tenant of the access token that took them (`tid`), when the token said.
    pub(super) tenant: Option<String>,
    pub(super) kinds: BTreeMap<String, DeltaToken>,
}

/// How one kind is read this run.
#[derive(Debug, Clone)]
pub(super) enum Plan {
    Full,
    Initial,
    Since { token: DeltaToken, base: Oid },
}

/// The note of the last noted snapshot, when it can be trusted to be one.
pub(super) fn load_note(
    store: &Store,
    notices: &mut Vec<String>,
) -> Result<Option<(Oid, Note)>, Error> {
    let Some((commit, text)) = store.last_noted(NOTE_DEPTH)? else {
        return Ok(None);
    };
    match serde_json::from_str::<Note>(&text) {
        Ok(note) if note.version == NOTE_VERSION => Ok(Some((commit, note))),
        Ok(note) => {
            notices.push(format!(
                "the delta tokens on {} are of format {} (this tenantgit reads {NOTE_VERSION}); reading in full",
                short(commit),
                note.version
            ));
            Ok(None)
        }
        Err(e) => {
            notices.push(format!(
                "the delta tokens on {} are unreadable ({e}); reading in full",
                short(commit)
            ));
            Ok(None)
        }
    }
}

pub(super) fn short(commit: Oid) -> String {
    commit.to_string()[..10].to_string()
}

/// How each kind is read, with a notice for every token not trusted.
#[allow(clippy::too_many_arguments)]
pub(super) fn decide(
    kinds: &[&'static KindSpec],
    note: Option<&(Oid, Note)>,
    graph: &str,
    tenant: Option<&str>,
    options: &Options,
    extensions: &read::extensions::Selected,
    now: chrono::DateTime<chrono::Utc>,
    notices: &mut Vec<String>,
) -> Vec<(&'static KindSpec, Plan)> {
    let mut plans: Vec<(&'static KindSpec, Plan)> = kinds
        .iter()
        .map(|&k| (k, if k.delta { Plan::Initial } else { Plan::Full }))
        .collect();
    let Some((commit, note)) = note else {
        return plans;
    };
    let at = short(*commit);
    if note.graph != graph {
        notices.push(format!(
            "the delta tokens on {at} were taken from {}, not {graph}; reading in full",
            note.graph
        ));
        return plans;
    }
    if note.tenant.as_deref() != tenant {
        notices.push(format!(
            "the delta tokens on {at} belong to tenant {}, not {}; reading in full",
            note.tenant.as_deref().unwrap_or("(unknown)"),
            tenant.unwrap_or("(unknown)")
        ));
        return plans;
    }
    let oldest = note.kinds.values().map(|t| t.since.as_str()).min();
    if let (Some(every), Some(oldest)) = (options.full_every, oldest) {
        let started = chrono::DateTime::parse_from_rfc3339(oldest).ok();
        let due = started.is_none_or(|s| now.signed_duration_since(s) >= every);
        if due {
            notices.push(format!(
                "reconciling with a full read: the last one was at {oldest} ([snapshot] full-every)"
            ));
            return plans;
        }
    }
    for (kind, plan) in plans.iter_mut().filter(|(k, _)| k.delta) {
        let Some(token) = note.kinds.get(&kind.kind) else {
            continue;
        };
        let name = &kind.kind;
        let expected = delta::query_hash(&delta::query(kind, extensions.of(kind)));
        // Graph answers `directory/administrativeUnits/delta` with `administrativeUnits/delta`
        // links: the link must be a delta link on this Graph, whatever its collection path.
        let prefix = format!("{graph}/");
        let is_delta = |link: &str| {
            link.split('?')
                .next()
                .is_some_and(|p| p.ends_with("/delta") || p.ends_with("/microsoft.graph.delta"))
        };
        if token.query != expected {
            notices.push(format!(
                "{name}: the stored delta token was taken for other properties; reading {name} in full"
            ));
        } else if !token.link.starts_with(&prefix)
            || !is_delta(&token.link)
            || chrono::DateTime::parse_from_rfc3339(&token.since).is_err()
        {
            notices.push(format!(
                "{name}: the stored delta token is not a deltaLink of this Graph; reading {name} in full"
            ));
        } else {
            *plan = Plan::Since {
                token: token.clone(),
                base: *commit,
            };
        }
    }
    cascade(&mut plans);
    plans
}

/// A kind read incrementally keeps files that name the ends of its links; when a kind those
/// ends belong to is not itself read incrementally (or not read at all), a rename there would go
/// unseen, so the kind is read in full too. Repeats until nothing changes.
pub(super) fn cascade(plans: &mut [(&'static KindSpec, Plan)]) {
    loop {
        let incremental: HashSet<&str> = plans
            .iter()
            .filter(|(_, p)| matches!(p, Plan::Since { .. }))
            .map(|(k, _)| k.kind.as_str())
            .collect();
        let mut changed = false;
        for (kind, plan) in plans.iter_mut() {
            if !matches!(plan, Plan::Since { .. }) {
                continue;
            }
            let blind = kind
                .links
                .iter()
                .flat_map(|l| &l.ends)
                .any(|end| !incremental.contains(end.as_str()));
            if blind {
                *plan = Plan::Initial;
                changed = true;
            }
        }
        if !changed {
            return;
        }
    }
}

/// How to read each kind; with `freeze`, initial rounds give [`crate::frozen::Frozen`] objects.
pub(super) fn fetches(
    plans: &[(&'static KindSpec, Plan)],
    freeze: bool,
) -> Vec<(&'static KindSpec, Fetch)> {
    plans
        .iter()
        .map(|(k, p)| {
            (
                *k,
                match p {
                    Plan::Full => Fetch::Full,
                    Plan::Initial => Fetch::Initial { freeze },
                    Plan::Since { token, .. } => Fetch::Since(token.clone()),
                },
            )
        })
        .collect()
}

pub(super) fn rejection_reason(e: &read::ReadError) -> String {
    match e {
        read::ReadError::DeltaToken { source, .. } => match source.as_ref() {
            GraphError::Http { status, code, .. } if code.is_empty() => format!("HTTP {status}"),
            GraphError::Http { status, code, .. } => format!("HTTP {status} {code}"),
            other => other.to_string(),
        },
        other => other.to_string(),
    }
}
