//! Safety: the settings of `tenantgit.toml [safety]` and the findings that make executing a plan
//! need `--force` (thresholds, protected objects).

use std::collections::{BTreeMap, BTreeSet};

use super::build::PlanInput;
use super::model::{Action, Phase, Plan, Refusal};
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

/// Threshold and protected-object findings.
pub(super) fn safety(actions: &[Action], input: &PlanInput) -> Vec<Refusal> {
    let mut refusals = Vec::new();
    // Objects of each kind that are modified or deleted (restores and creates bring objects
    // back; they never make a tenant smaller).
    let recovered: BTreeSet<String> = actions
        .iter()
        .filter(|a| a.phase == Phase::Recover)
        .map(Action::key)
        .collect();
    let mut affected: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for a in actions {
        if !recovered.contains(&a.key()) {
            affected.entry(&a.kind).or_default().insert(&a.id);
        }
    }
    for (kind, ids) in &affected {
        let live = input.live_counts.get(*kind).copied().unwrap_or(0);
        let (threshold, min_objects) = input.safety.for_kind(kind);
        if live >= min_objects && (ids.len() as f64) > threshold * live as f64 {
            refusals.push(Refusal::Threshold {
                kind: kind.to_string(),
                affected: ids.len(),
                live,
                threshold,
            });
        }
    }
    let mut seen = BTreeSet::new();
    for a in actions {
        let key = a.key();
        if input.safety.protected.contains(&key) && seen.insert(key) {
            refusals.push(Refusal::Protected {
                kind: a.kind.clone(),
                id: a.id.clone(),
                display_name: a.display_name.clone(),
            });
        }
    }
    refusals
}

/// Whether the plan may be executed: an error naming every refusal unless `force`.
pub fn ensure_allowed(plan: &Plan, force: bool) -> Result<(), PlanError> {
    if plan.refusals.is_empty() || force {
        return Ok(());
    }
    Err(PlanError::Refused {
        reasons: plan.refusals.iter().map(Refusal::message).collect(),
    })
}
