//! Sending again after a failover (issue 23): a server whose database is failing over answers
//! `503` with `Retry-After`, or cannot be reached for a moment. The client sends a request again,
//! re-signed (a fresh nonce and date: a resend is never a replay), with exponential back-off
//! (at least the server's `Retry-After`), when that cannot do a change twice:
//!
//! - **reads** — `GET`s, and the scans and break-glass searches (`POST`, but reads: a repeat is
//!   one more audited access, never a second change) — on a `503` or any transport error;
//! - **keyed changes** — opening an incident, a report, an inquiry — sent with an
//!   `Idempotency-Key` (one random key per call, the same on every attempt: docs/api.md
//!   *Idempotency*), so a repeat of one the server did commit gets the first answer;
//! - **other changes** (a destination, an arrival, logout) only when the connection could not
//!   even be opened (nothing reached the server). A `503` is not retried for them: the commit
//!   may have happened before the database's answer was lost.

use std::time::Duration;

/// How often and how patiently to send again. [`RetryPolicy::default`]: 7 attempts, 0.5 s
/// doubling to at most 8 s between them (about 23 s in all, the length of a PostgreSQL failover
/// measured in docs/operations.md); [`RetryPolicy::NONE`]: one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (1: no retry).
    pub attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl RetryPolicy {
    pub const NONE: RetryPolicy = RetryPolicy {
        attempts: 1,
        first_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
    };

    /// The wait after failed attempt `n` (0 = the first): `first_delay · 2ⁿ`, at least the
    /// server's `Retry-After`, at most `max_delay`.
    pub fn delay(&self, n: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .first_delay
            .saturating_mul(2u32.saturating_pow(n.min(16)));
        exp.max(retry_after.unwrap_or_default()).min(self.max_delay)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 7,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
        }
    }
}

/// What a request may be sent again for (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// A read: again on `503` or a transport error.
    Read,
    /// A change with an `Idempotency-Key`: the same.
    Keyed,
    /// Any other change: again only when the connection could not be opened.
    Unsafe,
}

impl Repeat {
    /// Whether to send again after `status` (an answer) or a transport error.
    pub fn after_status(self, status: u16) -> bool {
        status == 503 && self != Repeat::Unsafe
    }
    pub fn after_transport(self, e: &reqwest::Error) -> bool {
        e.is_connect() || self != Repeat::Unsafe
    }
    /// The crew's routes: which kind a signed request is.
    pub fn of(method: &reqwest::Method, path: &str) -> Repeat {
        let path = path.split('?').next().unwrap_or(path);
        if *method == reqwest::Method::GET
            || (*method == reqwest::Method::POST
                && matches!(path, "/api/v1/scans" | "/api/v1/break-glass"))
        {
            return Repeat::Read;
        }
        let keyed = *method == reqwest::Method::POST
            && (path == "/api/v1/incidents"
                || (path.starts_with("/api/v1/incidents/")
                    && (path.ends_with("/reports") || path.ends_with("/inquiries"))));
        if keyed { Repeat::Keyed } else { Repeat::Unsafe }
    }
}

/// The server's `Retry-After` in seconds (the HTTP-date form is not used by Kyukit).
pub fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::Method;

    #[test]
    fn back_off_doubles_honours_retry_after_and_is_capped() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(0, None), Duration::from_millis(500));
        assert_eq!(p.delay(1, None), Duration::from_secs(1));
        assert_eq!(p.delay(3, None), Duration::from_secs(4));
        assert_eq!(p.delay(9, None), Duration::from_secs(8));
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(3600))),
            Duration::from_secs(8)
        );
        let total: Duration = (0..p.attempts - 1).map(|n| p.delay(n, None)).sum();
        assert!(total >= Duration::from_secs(20), "{total:?}");
    }

    #[test]
    fn only_reads_and_keyed_changes_are_sent_again_after_a_503() {
        assert_eq!(Repeat::of(&Method::POST, "/api/v1/scans"), Repeat::Read);
        assert_eq!(
            Repeat::of(&Method::POST, "/api/v1/break-glass"),
            Repeat::Read
        );
        assert_eq!(Repeat::of(&Method::GET, "/api/v1/accesses/a"), Repeat::Read);
        assert_eq!(
            Repeat::of(&Method::POST, "/api/v1/incidents"),
            Repeat::Keyed
        );
        assert_eq!(
            Repeat::of(&Method::POST, "/api/v1/incidents/i/reports"),
            Repeat::Keyed
        );
        assert_eq!(
            Repeat::of(&Method::POST, "/api/v1/incidents/i/inquiries"),
            Repeat::Keyed
        );
        for unsafe_change in [
            "/api/v1/incidents/i/destination",
            "/api/v1/incidents/i/arrival",
        ] {
            assert_eq!(Repeat::of(&Method::POST, unsafe_change), Repeat::Unsafe);
            assert!(!Repeat::Unsafe.after_status(503));
        }
        assert_eq!(
            Repeat::of(&Method::DELETE, "/api/v1/sessions/current"),
            Repeat::Unsafe
        );
        assert!(Repeat::Read.after_status(503));
        assert!(Repeat::Keyed.after_status(503));
        assert!(!Repeat::Read.after_status(500));
        assert!(!Repeat::Read.after_status(409));
    }
}
