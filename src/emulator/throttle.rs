//! Graph's identity throttle (GRAPH.md B.5): a token bucket of resource units per 10 s and a
//! separate bucket of writes per 150 s for one app in one tenant. A request that does not fit
//! is refused with a fractional `Retry-After` computed from the bucket's refill rate.

use std::time::Instant;

/// Resource-unit cost of one request: base cost by route, `$select` −1, `$top` < 20 −1,
/// `$expand` +1, at least 1. Writes cost 1.
pub(crate) fn cost(
    method: &str,
    path: &str,
    has_select: bool,
    top: Option<usize>,
    expand: bool,
) -> u32 {
    if method != "GET" {
        return 1;
    }
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let base: i32 = match segs.as_slice() {
        ["users"] | ["applications"] => 2,
        ["groups", _, "members"] => 3,
        ["groups", _, "transitiveMembers"] => 5,
        ["oauth2PermissionGrants"] | ["oauth2PermissionGrants", _] => 2,
        ["servicePrincipals", _, "appRoleAssignments"] => 2,
        _ => 1,
    };
    let mut c = base;
    if has_select {
        c -= 1;
    }
    if top.is_some_and(|t| t < 20) {
        c -= 1;
    }
    if expand {
        c += 1;
    }
    c.max(1) as u32
}

#[derive(Debug)]
struct Bucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(capacity: u32, window_secs: f64) -> Bucket {
        let capacity = f64::from(capacity.max(1));
        Bucket {
            capacity,
            per_second: capacity / window_secs,
            tokens: capacity,
            at: Instant::now(),
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * self.per_second).min(self.capacity);
        self.at = now;
    }

    /// Seconds until `n` tokens are there (0 when they are).
    fn wait_for(&self, n: f64) -> f64 {
        if self.tokens >= n {
            0.0
        } else {
            (n.min(self.capacity) - self.tokens) / self.per_second
        }
    }

    fn used_share(&self) -> f64 {
        1.0 - self.tokens / self.capacity
    }
}

/// A refused request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Refusal {
    pub retry_after: f64,
    /// `ResourceUnitLimitExceeded` or `WriteLimitExceeded` (x-ms-throttle-information).
    pub information: &'static str,
}

#[derive(Debug)]
pub(crate) struct Throttle {
    reads: Option<Bucket>,
    writes: Option<Bucket>,
}

impl Throttle {
    pub fn new(read_units_per_10s: Option<u32>, writes_per_150s: Option<u32>) -> Throttle {
        Throttle {
            reads: read_units_per_10s.map(|c| Bucket::new(c, 10.0)),
            writes: writes_per_150s.map(|c| Bucket::new(c, 150.0)),
        }
    }

    /// Fills both buckets: a fresh quota, as if the next calls came from another application
    /// (Graph's limits are per application and tenant).
    pub fn refill_all(&mut self) {
        for bucket in [&mut self.reads, &mut self.writes].into_iter().flatten() {
            bucket.tokens = bucket.capacity;
            bucket.at = Instant::now();
        }
    }

    /// Takes `units` (and one write when `write`) or says how long to wait; nothing is taken
    /// from either bucket when the request is refused.
    pub fn admit(&mut self, units: u32, write: bool) -> Result<Option<f64>, Refusal> {
        let now = Instant::now();
        let units = f64::from(units);
        let mut refusal: Option<Refusal> = None;
        if let Some(b) = &mut self.reads {
            b.refill(now);
            let wait = b.wait_for(units);
            if wait > 0.0 {
                refusal = Some(Refusal {
                    retry_after: wait,
                    information: "ResourceUnitLimitExceeded",
                });
            }
        }
        if write {
            if let Some(b) = &mut self.writes {
                b.refill(now);
                let wait = b.wait_for(1.0);
                if wait > 0.0 && refusal.as_ref().is_none_or(|r| r.retry_after < wait) {
                    refusal = Some(Refusal {
                        retry_after: wait,
                        information: "WriteLimitExceeded",
                    });
                }
            }
        }
        if let Some(r) = refusal {
            return Err(r);
        }
        let mut share: Option<f64> = None;
        if let Some(b) = &mut self.reads {
            b.tokens -= units;
            share = Some(b.used_share());
        }
        if write {
            if let Some(b) = &mut self.writes {
                b.tokens -= 1.0;
                share = Some(share.unwrap_or(0.0).max(b.used_share()));
            }
        }
        Ok(share)
    }
}

/// `Retry-After` as Graph writes it: seconds with a fraction, never zero.
pub(crate) fn format_retry_after(secs: f64) -> String {
    let s = format!("{:.3}", secs.max(0.001));
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_follow_graph_table() {
        assert_eq!(cost("GET", "/users", false, None, false), 2);
        assert_eq!(cost("GET", "/users", true, Some(999), false), 1);
        assert_eq!(cost("GET", "/groups/x/members", true, Some(5), false), 1);
        assert_eq!(cost("GET", "/groups/x/members", false, None, false), 3);
        assert_eq!(cost("GET", "/groups/x", true, None, false), 1);
        assert_eq!(cost("PATCH", "/users/x", false, None, false), 1);
    }

    #[test]
    fn bucket_refuses_with_fractional_wait_and_takes_nothing() {
        let mut t = Throttle::new(Some(4), None);
        assert!(t.admit(3, false).is_ok());
        let r = t.admit(3, false).unwrap_err();
        // 2 units missing at 0.4 units/s: about 5 s.
        assert!(r.retry_after > 4.0 && r.retry_after <= 5.0, "{r:?}");
        assert_eq!(r.information, "ResourceUnitLimitExceeded");
        assert!(t.admit(1, false).is_ok());
        let mut w = Throttle::new(None, Some(1));
        assert!(w.admit(1, true).is_ok());
        assert_eq!(
            w.admit(1, true).unwrap_err().information,
            "WriteLimitExceeded"
        );
        assert!(w.admit(1, false).is_ok());
        assert_eq!(format_retry_after(0.35), "0.35");
        assert_eq!(format_retry_after(2.0), "2");
    }
}
