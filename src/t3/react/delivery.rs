//! Delivery policy, as plain functions of time and answers so that the
//! runtime (which does the sending) and the tests agree on it: bounded
//! attempts with exponential back-off, HTTP 429/503 `Retry-After`
//! honoured, a per-destination rate limit (token bucket), and which
//! answers are final.

use crate::config::ConfigProblem;
use serde::{Deserialize, Serialize};

/// How one destination is delivered to; every reaction unit has these
/// settings under `delivery:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DeliverySettings {
    /// Attempts per run before the reaction is recorded as failed (it is
    /// tried again on the process's next run).
    pub max_attempts: u32,
    /// First back-off; doubled per attempt up to `max_backoff_seconds`.
    pub backoff_seconds: f64,
    pub max_backoff_seconds: f64,
    /// Sends per second to this destination (Slack allows about 1/s per
    /// channel for chat.postMessage).
    pub rate_per_second: f64,
    /// Burst the rate limit allows.
    pub burst: u32,
    /// A send that takes longer is abandoned and retried.
    pub timeout_seconds: f64,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            max_attempts: 5,
            backoff_seconds: 1.0,
            max_backoff_seconds: 60.0,
            rate_per_second: 1.0,
            burst: 3,
            timeout_seconds: 10.0,
        }
    }
}

impl DeliverySettings {
    /// Kafka destinations: brokers take thousands of messages a second;
    /// the limit only keeps a burst of notices from flooding a topic.
    pub fn kafka() -> Self {
        DeliverySettings {
            rate_per_second: 100.0,
            burst: 100,
            ..Default::default()
        }
    }

    pub fn check(&self, problems: &mut Vec<ConfigProblem>) {
        if self.max_attempts == 0 {
            problems.push(ConfigProblem::new(
                "delivery.max_attempts",
                "must be at least 1",
            ));
        }
        for (k, v) in [
            ("delivery.backoff_seconds", self.backoff_seconds),
            ("delivery.max_backoff_seconds", self.max_backoff_seconds),
            ("delivery.rate_per_second", self.rate_per_second),
            ("delivery.timeout_seconds", self.timeout_seconds),
        ] {
            if !(v.is_finite() && v > 0.0) {
                problems.push(ConfigProblem::new(k, "must be a positive number"));
            }
        }
        if self.burst == 0 {
            problems.push(ConfigProblem::new("delivery.burst", "must be at least 1"));
        }
    }

    /// Wait before attempt `attempts + 1`, after `attempts` failed ones:
    /// the server's `Retry-After` when it gave one, else exponential.
    pub fn backoff(&self, attempts: u32, retry_after: Option<f64>) -> f64 {
        let exp = self.backoff_seconds * 2f64.powi(attempts.saturating_sub(1).min(30) as i32);
        match retry_after {
            Some(s) => s.max(0.0),
            None => exp.min(self.max_backoff_seconds),
        }
    }
}

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    /// The destination took it.
    Delivered,
    /// Worth trying again (5xx, 429, timeout, connection refused), after
    /// `retry_after` seconds if the destination said so.
    Retry {
        error: String,
        retry_after: Option<f64>,
    },
    /// Will fail the same way until someone changes something (400, 403,
    /// 404, a Slack `ok: false` such as `channel_not_found`); tried again
    /// only on the next run.
    Rejected { error: String },
}

/// Classifies an HTTP answer. `retry_after` is the raw header.
pub fn classify_http(status: u16, retry_after: Option<&str>, now_unix: f64) -> Attempt {
    let after = retry_after.and_then(|h| parse_retry_after(h, now_unix));
    match status {
        200..=299 => Attempt::Delivered,
        408 | 425 | 429 | 500..=599 => Attempt::Retry {
            error: format!("HTTP {status}"),
            retry_after: after,
        },
        _ => Attempt::Rejected {
            error: format!("HTTP {status}"),
        },
    }
}

/// `Retry-After`: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn parse_retry_after(h: &str, now_unix: f64) -> Option<f64> {
    let h = h.trim();
    if let Ok(s) = h.parse::<f64>() {
        return (s.is_finite() && s >= 0.0).then_some(s);
    }
    let t = httpdate::parse_http_date(h).ok()?;
    let at = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs_f64();
    Some((at - now_unix).max(0.0))
}

/// A token bucket: `rate` sends per second, up to `burst` at once.
#[derive(Debug, Clone)]
pub struct RateLimit {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: f64,
}

impl RateLimit {
    pub fn new(rate: f64, burst: u32, now: f64) -> Self {
        RateLimit {
            rate,
            burst: burst as f64,
            tokens: burst as f64,
            at: now,
        }
    }

    /// Takes a token if there is one; otherwise says how long until one.
    pub fn take(&mut self, now: f64) -> Result<(), f64> {
        if now < self.at {
            // Held (a 429): nothing before then, then one token's time.
            return Err(self.at - now + 1.0 / self.rate);
        }
        self.tokens = (self.tokens + (now - self.at).max(0.0) * self.rate).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err((1.0 - self.tokens) / self.rate)
        }
    }

    /// Whether a token is there now, without taking it; otherwise how long
    /// until one.
    pub fn ready(&self, now: f64) -> Result<(), f64> {
        self.clone().take(now)
    }

    /// Empties the bucket until `until` (a 429 means the destination's own
    /// limit is lower than ours).
    pub fn hold_until(&mut self, until: f64) {
        self.tokens = 0.0;
        self.at = self.at.max(until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_and_retry_after_is_honoured() {
        assert_eq!(classify_http(200, None, 0.0), Attempt::Delivered);
        assert_eq!(
            classify_http(429, Some("7"), 0.0),
            Attempt::Retry {
                error: "HTTP 429".into(),
                retry_after: Some(7.0)
            }
        );
        // 1994-11-06 08:49:37 UTC = 784111777
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111770.0),
            Some(7.0)
        );
        assert_eq!(parse_retry_after("soon", 0.0), None);
        assert!(matches!(
            classify_http(404, None, 0.0),
            Attempt::Rejected { .. }
        ));
        assert!(matches!(
            classify_http(503, None, 0.0),
            Attempt::Retry {
                retry_after: None,
                ..
            }
        ));
        let d = DeliverySettings::default();
        let waits: Vec<f64> = (1..=8).map(|a| d.backoff(a, None)).collect();
        assert_eq!(waits, vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]);
        assert_eq!(d.backoff(1, Some(30.0)), 30.0);
    }

    #[test]
    fn the_rate_limit_spaces_sends_after_a_burst() {
        let mut r = RateLimit::new(2.0, 2, 100.0);
        assert!(r.take(100.0).is_ok());
        assert!(r.take(100.0).is_ok());
        assert_eq!(r.take(100.0), Err(0.5));
        assert!(r.take(100.5).is_ok());
        r.hold_until(110.0);
        assert_eq!(r.take(109.0), Err(1.5));
        assert!(r.take(110.5).is_ok());
    }
}
