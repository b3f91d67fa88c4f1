//! Fault injection: rules that make chosen requests fail the ways Graph and the network do
//! (5xx, 429 storms, latency, truncated or non-JSON bodies, dropped connections). Rules are set
//! at start and replaced at run time through `POST /_emulator/faults`; a probability draws from
//! a per-rule seeded generator so a run can be repeated exactly.

use serde::{Deserialize, Serialize};

use super::rng::SplitMix64;

/// One rule: which requests it matches and what happens to them. JSON form:
/// `{"method":"GET","path":"/users","after":2,"times":1,"probability":0.5,"seed":7,
///   "action":{"type":"status","status":503,"retryAfter":1.5}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRule {
    /// HTTP method to match (any when absent), case-insensitive.
    #[serde(default)]
    pub method: Option<String>,
    /// Path prefix below the version root, e.g. `/users` or `/groups/` (a leading `/v1.0` is
    /// also accepted); any path when absent. `$batch` items match by their own URL.
    #[serde(default)]
    pub path: Option<String>,
    /// Let the first `after` matching requests through.
    #[serde(default)]
    pub after: u64,
    /// Fire at most this many times.
    #[serde(default)]
    pub times: Option<u64>,
    /// Fire with this probability (0..=1) among the requests otherwise eligible.
    #[serde(default)]
    pub probability: Option<f64>,
    /// Seed of the rule's generator for `probability`.
    #[serde(default)]
    pub seed: u64,
    pub action: FaultAction,
}

impl FaultRule {
    /// A rule matching every request with `method` under `path`, firing every time.
    pub fn new(method: Option<&str>, path: Option<&str>, action: FaultAction) -> FaultRule {
        FaultRule {
            method: method.map(str::to_string),
            path: path.map(str::to_string),
            after: 0,
            times: None,
            probability: None,
            seed: 0,
            action,
        }
    }
}

/// What a firing rule does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum FaultAction {
    /// Answer with this status and a Graph error body (500, 503, 504 …; 404 answers
    /// `Request_ResourceNotFound`, as for an object deleted meanwhile).
    #[serde(rename_all = "camelCase")]
    Status {
        status: u16,
        #[serde(default)]
        retry_after: Option<f64>,
    },
    /// Answer 429 TooManyRequests with this `Retry-After`.
    #[serde(rename_all = "camelCase")]
    Throttle { retry_after: f64 },
    /// Wait this long, then answer normally.
    Latency { ms: u64 },
    /// Send the first half of the real JSON body, then abort the connection.
    TruncatedBody,
    /// Answer with an HTML page instead of JSON (status 200 unless given).
    NonJson {
        #[serde(default)]
        status: Option<u16>,
    },
    /// Send the status line and headers, then abort the connection.
    DropConnection,
}

impl FaultAction {
    /// Actions that make sense for one item inside a `$batch` (the envelope still arrives).
    fn applies_to_batch_item(&self) -> bool {
        matches!(
            self,
            FaultAction::Status { .. } | FaultAction::Throttle { .. } | FaultAction::Latency { .. }
        )
    }
}

#[derive(Debug)]
struct RuleState {
    rule: FaultRule,
    matched: u64,
    fired: u64,
    rng: SplitMix64,
}

/// The active rules with their counters.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    rules: Vec<RuleState>,
}

impl Faults {
    pub fn new(rules: Vec<FaultRule>) -> Faults {
        let mut f = Faults::default();
        f.set(rules);
        f
    }

    pub fn set(&mut self, rules: Vec<FaultRule>) {
        self.rules = rules
            .into_iter()
            .map(|rule| RuleState {
                rng: SplitMix64::new(rule.seed),
                rule,
                matched: 0,
                fired: 0,
            })
            .collect();
    }

    /// The action of the first rule that fires for this request, if any. `path` is below the
    /// version root and starts with `/`.
    pub fn check(&mut self, method: &str, path: &str, batch_item: bool) -> Option<FaultAction> {
        for st in &mut self.rules {
            let r = &st.rule;
            if batch_item && !r.action.applies_to_batch_item() {
                continue;
            }
            if r.method
                .as_deref()
                .is_some_and(|m| !m.eq_ignore_ascii_case(method))
            {
                continue;
            }
            if let Some(prefix) = r.path.as_deref() {
                let prefix = prefix.strip_prefix("/v1.0").unwrap_or(prefix);
                let prefix = prefix.strip_prefix('/').unwrap_or(prefix);
                let p = path.strip_prefix('/').unwrap_or(path);
                if !p.starts_with(prefix) {
                    continue;
                }
            }
            st.matched += 1;
            if st.matched <= r.after || r.times.is_some_and(|t| st.fired >= t) {
                continue;
            }
            if let Some(p) = r.probability {
                if st.rng.next_f64() >= p {
                    continue;
                }
            }
            st.fired += 1;
            return Some(r.action.clone());
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_times_method_and_prefix() {
        let mut rule = FaultRule::new(
            Some("get"),
            Some("/v1.0/users"),
            FaultAction::Status {
                status: 503,
                retry_after: None,
            },
        );
        rule.after = 1;
        rule.times = Some(2);
        let mut f = Faults::new(vec![rule]);
        assert!(f.check("GET", "/groups", false).is_none());
        assert!(f.check("PATCH", "/users/x", false).is_none());
        assert!(f.check("GET", "/users", false).is_none()); // the one let through
        assert!(f.check("GET", "/users", false).is_some());
        assert!(f.check("GET", "/users/x", true).is_some());
        assert!(f.check("GET", "/users", false).is_none()); // used up
    }

    #[test]
    fn probability_is_seeded_and_json_form_parses() {
        let rules: Vec<FaultRule> = serde_json::from_str(
            r#"[{"probability":0.5,"seed":9,"action":{"type":"throttle","retryAfter":0.5}},
                {"action":{"type":"dropConnection"}}]"#,
        )
        .unwrap();
        let draw = |rules: Vec<FaultRule>| {
            let mut f = Faults::new(rules);
            (0..64)
                .map(|_| {
                    matches!(
                        f.check("GET", "/users", false),
                        Some(FaultAction::Throttle { .. })
                    )
                })
                .collect::<Vec<_>>()
        };
        let a = draw(rules.clone());
        assert_eq!(a, draw(rules));
        let fired = a.iter().filter(|x| **x).count();
        assert!(fired > 10 && fired < 54, "{fired}");
    }
}
