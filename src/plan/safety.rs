//! Safety: the settings of `tenantgit.toml [safety]` and the findings that make executing a plan
//! need `--force` (thresholds, protected objects).

use std::collections::{BTreeMap, BTreeSet};

use super::model::{Action, Op, Phase, Plan, Refusal};
use super::PlanError;

/// Threshold of one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct KindThreshold {
    pub threshold: Option<f64>,
    pub min_objects: Option<usize>,
}

/// Safety settings from `tenantgit.toml [safety]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SafetySettings {
    /// Share of a kind's live objects a plan may change or delete without `--force`.
    pub threshold: f64,
    /// The threshold applies only to kinds with at least this many live objects.
    pub min_objects: usize,
    /// Per-kind overrides.
    pub kinds: BTreeMap<String, KindThreshold>,
    /// `kind/id` of objects any action on needs `--force` (break-glass accounts, named CA
    /// policies).
    pub protected: BTreeSet<String>,
}

impl Default for SafetySettings {
    fn default() -> Self {
        SafetySettings {
            threshold: 0.3,
            min_objects: 10,
            kinds: BTreeMap::new(),
            protected: BTreeSet::new(),
        }
    }
}

impl SafetySettings {
    /// The settings `tenantgit.toml` gives, defaults where it says nothing.
    pub fn from_config(config: &crate::config::SafetyConfig) -> Self {
        let default = SafetySettings::default();
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

    /// Threshold share and minimum object count for one kind.
    pub fn for_kind(&self, kind: &str) -> (f64, usize) {
        let k = self.kinds.get(kind).copied().unwrap_or_default();
        (
            k.threshold.unwrap_or(self.threshold),
            k.min_objects.unwrap_or(self.min_objects),
        )
    }
}

/// Findings of a list of actions against the live counts and the safety settings: thresholds,
/// protected objects, deletions no recycle bin can undo, and prunes that empty a kind. The same
/// function judges a fresh plan and a saved plan narrowed to what may still be carried out.
pub fn refusals(
    actions: &[Action],
    live_counts: &BTreeMap<String, usize>,
    settings: &SafetySettings,
) -> Vec<Refusal> {
    let mut refusals = Vec::new();
    // Objects of each kind that are modified or deleted (restores and creates bring objects
    // back; they never make a tenant smaller).
    let replaced: BTreeSet<String> = actions
        .iter()
        .filter(|a| a.phase == Phase::Replace)
        .map(Action::key)
        .collect();
    let recovered: BTreeSet<String> = actions
        .iter()
        .filter(|a| a.phase == Phase::Recover && !replaced.contains(&a.key()))
        .map(Action::key)
        .collect();
    let mut affected: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for a in actions {
        if !recovered.contains(&a.key()) {
            affected.entry(&a.kind).or_default().insert(&a.id);
        }
    }
    for (kind, ids) in &affected {
        let live = live_counts.get(*kind).copied().unwrap_or(0);
        let (threshold, min_objects) = settings.for_kind(kind);
        if live >= min_objects && (ids.len() as f64) > threshold * live as f64 {
            refusals.push(Refusal::Threshold {
                kind: kind.to_string(),
                affected: ids.len(),
                live,
                threshold,
            });
        }
    }
    // Deletions are judged whatever the kind's size: a handful of named locations is the whole
    // kind, and none of them comes back from a recycle bin.
    let mut deletes: BTreeMap<&str, (usize, Vec<String>)> = BTreeMap::new();
    let mut hard: BTreeMap<&str, (usize, Vec<String>)> = BTreeMap::new();
    for a in actions {
        // A replaced object is created again right after its delete: not a deletion.
        if a.phase == Phase::Replace {
            continue;
        }
        if let Op::Delete { soft } = a.op {
            deletes.entry(&a.kind).or_default().0 += 1;
            if !soft {
                let e = hard.entry(&a.kind).or_default();
                e.0 += 1;
                if e.1.len() < NAMED {
                    e.1.push(a.display_name.clone());
                }
            }
        }
    }
    for (kind, (count, names)) in hard {
        refusals.push(Refusal::Unrecoverable {
            kind: kind.to_string(),
            count,
            names,
        });
    }
    for (kind, (count, _)) in deletes {
        let live = live_counts.get(kind).copied().unwrap_or(0);
        if count > 0 && count >= live {
            refusals.push(Refusal::WholeKind {
                kind: kind.to_string(),
                live,
            });
        }
    }
    let mut seen = BTreeSet::new();
    for a in actions {
        let key = a.key();
        if settings.protected.contains(&key) && seen.insert(key) {
            refusals.push(Refusal::Protected {
                kind: a.kind.clone(),
                id: a.id.clone(),
                display_name: a.display_name.clone(),
            });
        }
    }
    refusals
}

/// How many objects a refusal names before "and N more".
const NAMED: usize = 5;

/// Whether the plan may be executed: an error naming every refusal unless `force`.
pub fn ensure_allowed(plan: &Plan, force: bool) -> Result<(), PlanError> {
    if plan.refusals.is_empty() || force {
        return Ok(());
    }
    Err(PlanError::Refused {
        reasons: plan.refusals.iter().map(Refusal::message).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delete(kind: &str, id: &str, soft: bool) -> Action {
        Action {
            phase: Phase::Prune,
            kind: kind.into(),
            id: id.into(),
            display_name: format!("{kind} {id}"),
            op: Op::Delete { soft },
            attributes: Vec::new(),
        }
    }

    fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
        pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect()
    }

    #[test]
    fn hard_deletes_and_emptied_kinds_are_refused_whatever_the_kind_size() {
        let s = SafetySettings::default();
        // One of four named locations: below every threshold, and yet it cannot come back.
        let found = refusals(
            &[delete("namedLocations", "n1", false)],
            &counts(&[("namedLocations", 4)]),
            &s,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message().contains("no recycle bin"));
        // A soft delete of one of many users needs nothing.
        assert!(refusals(
            &[delete("users", "u1", true)],
            &counts(&[("users", 60)]),
            &s
        )
        .is_empty());
        // The last two applications go: the kind is emptied, recycle bin or not.
        let found = refusals(
            &[
                delete("applications", "a1", true),
                delete("applications", "a2", true),
            ],
            &counts(&[("applications", 2)]),
            &s,
        );
        assert!(
            found
                .iter()
                .any(|r| r.message().contains("deletes all 2 live objects")),
            "{found:?}"
        );
        // Names are listed up to a few.
        let many: Vec<Action> = (0..8)
            .map(|i| delete("conditionalAccessPolicies", &format!("p{i}"), false))
            .collect();
        let found = refusals(&many, &counts(&[("conditionalAccessPolicies", 300)]), &s);
        let message = found[0].message();
        assert!(
            message.contains("8 objects") && message.contains("and 3 more"),
            "{message}"
        );
    }
}
