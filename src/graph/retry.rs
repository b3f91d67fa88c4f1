//! When to try again: `Retry-After` parsing (GRAPH.md B.5: seconds, possibly fractional like
//! `2.128`, or an HTTP date) and exponential backoff with jitter when Graph gives no delay.

use std::time::Duration;

/// Delays between attempts.
#[derive(Debug, Clone, Copy)]
pub struct RetryTiming {
    /// First backoff delay when no `Retry-After` is given; doubles with each attempt.
    pub backoff_base: Duration,
    /// Longest backoff delay.
    pub backoff_max: Duration,
    /// Longest delay honoured from a `Retry-After` header; a larger value is clamped so that a
    /// misbehaving proxy cannot park the run for hours.
    pub retry_after_max: Duration,
    /// Total time a request may spend waiting out 429s that came with a `Retry-After`. Such
    /// waits are Graph pacing the client, not failures, so they do not use up `max_retries`.
    pub throttle_budget: Duration,
}

impl Default for RetryTiming {
    fn default() -> Self {
        RetryTiming {
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            retry_after_max: Duration::from_secs(120),
            throttle_budget: Duration::from_secs(900),
        }
    }
}

impl RetryTiming {
    /// Delay before attempt `attempt + 1` after `attempt` failures (1-based): the server's
    /// `Retry-After` when given, else exponential backoff with jitter.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(d) => d.min(self.retry_after_max),
            None => {
                let exp = attempt.saturating_sub(1).min(20);
                let full = self
                    .backoff_base
                    .saturating_mul(1u32 << exp)
                    .min(self.backoff_max);
                // "Equal jitter": half fixed, half random, so that many clients throttled at
                // once do not come back in lockstep.
                full / 2 + full.mul_f64(jitter_fraction() / 2.0)
            }
        }
    }
}

/// A random fraction in [0, 1). UUID v4 bytes come from the OS generator, which saves a
/// dependency on `rand` for this one number.
fn jitter_fraction() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u128() as u64 >> 11;
    bits as f64 / (1u64 << 53) as f64
}

/// Parses a `Retry-After` value: delta-seconds (fractional accepted) or an HTTP date.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = date.signed_duration_since(chrono::Utc::now());
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(
            parse_retry_after("2.128"),
            Some(Duration::from_secs_f64(2.128))
        );
        assert_eq!(parse_retry_after(" 10 "), Some(Duration::from_secs(10)));
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("soon"), None);
        let past = "Wed, 21 Oct 2015 07:28:00 GMT";
        assert_eq!(parse_retry_after(past), Some(Duration::ZERO));
        let future = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        let d = parse_retry_after(&future).expect("a date parses");
        assert!(d > Duration::from_secs(25) && d <= Duration::from_secs(30));
    }

    #[test]
    fn delays_are_capped_and_grow() {
        let t = RetryTiming::default();
        assert_eq!(
            t.delay(1, Some(Duration::from_secs(3600))),
            t.retry_after_max
        );
        assert_eq!(
            t.delay(1, Some(Duration::from_millis(2128))),
            Duration::from_millis(2128)
        );
        for attempt in 1..30 {
            let d = t.delay(attempt, None);
            let full = t
                .backoff_base
                .saturating_mul(1 << (attempt - 1).min(20))
                .min(t.backoff_max);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
    }
}
