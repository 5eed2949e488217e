//! Rate limits on scans, logins, registrations, password changes and federation requests, per
//! device, per login id, per account, per peer deployment and per client address (GCRA via `governor`, kept in memory per server process). A throttled request is answered 429 and
//! audited; the audit is coalesced to one event per limit and key per minute, so a flood cannot
//! flood the audit log.
//!
//! The limiter measures intervals with `governor`'s monotonic clock; that is rate arithmetic, not
//! a timestamp any record carries (those come from the injected `Clock`).

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;

/// Requests per minute (bursts up to the same number); 0 turns a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    pub scans_per_device_per_min: u32,
    pub scans_per_addr_per_min: u32,
    pub logins_per_addr_per_min: u32,
    pub logins_per_id_per_min: u32,
    /// Well-formed registrations (resident or proxy) per client address: each one tells whether
    /// its login id is taken, so this is how fast one address can probe ids.
    pub registrations_per_addr_per_min: u32,
    /// `PUT /api/v1/me/password` attempts per account (each checks the current password).
    pub password_changes_per_account_per_min: u32,
    /// Public facility applications per client address **per hour**: one client cannot fill the
    /// city's queue of pending applications (its cap is shared by every applicant).
    pub applications_per_addr_per_hour: u32,
    /// Signed requests to `POST /api/v1/federation/*` per peer deployment (counted once the
    /// peer's signature verifies, so no one else can spend a peer's budget): all of a peer's
    /// paramedics together, each of whom its own server limits per device.
    pub federation_per_peer_per_min: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            scans_per_device_per_min: 30,
            scans_per_addr_per_min: 600,
            logins_per_addr_per_min: 30,
            logins_per_id_per_min: 10,
            registrations_per_addr_per_min: 10,
            password_changes_per_account_per_min: 5,
            applications_per_addr_per_hour: 10,
            federation_per_peer_per_min: 600,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    ScanDevice,
    ScanAddr,
    LoginAddr,
    /// Per login id; a device-signed login has its own bucket per (login id, device).
    LoginId,
    RegisterAddr,
    PasswordAccount,
    /// Per client address, per hour (the others are per minute).
    ApplyAddr,
    /// Per peer deployment (federation requests, after the peer's signature verified).
    FederationPeer,
}

impl Limit {
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::ScanDevice => "scan_per_device",
            Limit::ScanAddr => "scan_per_address",
            Limit::LoginAddr => "login_per_address",
            Limit::LoginId => "login_per_login_id",
            Limit::RegisterAddr => "register_per_address",
            Limit::PasswordAccount => "password_change_per_account",
            Limit::ApplyAddr => "application_per_address",
            Limit::FederationPeer => "federation_per_peer",
        }
    }

    /// What the refused client is told about when to try again.
    pub fn retry_hint(self) -> &'static str {
        match self {
            Limit::ApplyAddr => "too many applications from this address; try again in an hour",
            _ => "too many requests; wait a minute and try again",
        }
    }
}

type Keyed = DefaultKeyedRateLimiter<String>;

pub struct RateLimits {
    limiters: HashMap<Limit, Keyed>,
    /// (limit, key) → when a throttle was last audited.
    audited: Mutex<HashMap<(Limit, String), i64>>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits").finish_non_exhaustive()
    }
}

impl RateLimits {
    pub fn new(cfg: &RateLimitConfig) -> Self {
        let mut limiters = HashMap::new();
        for (limit, per_min) in [
            (Limit::ScanDevice, cfg.scans_per_device_per_min),
            (Limit::ScanAddr, cfg.scans_per_addr_per_min),
            (Limit::LoginAddr, cfg.logins_per_addr_per_min),
            (Limit::LoginId, cfg.logins_per_id_per_min),
            (Limit::RegisterAddr, cfg.registrations_per_addr_per_min),
            (
                Limit::PasswordAccount,
                cfg.password_changes_per_account_per_min,
            ),
            (Limit::FederationPeer, cfg.federation_per_peer_per_min),
        ] {
            if let Some(n) = NonZeroU32::new(per_min) {
                limiters.insert(limit, RateLimiter::keyed(Quota::per_minute(n)));
            }
        }
        if let Some(n) = NonZeroU32::new(cfg.applications_per_addr_per_hour) {
            limiters.insert(Limit::ApplyAddr, RateLimiter::keyed(Quota::per_hour(n)));
        }
        RateLimits {
            limiters,
            audited: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from the bucket; `false` = throttled.
    pub fn check(&self, limit: Limit, key: &str) -> bool {
        self.limiters
            .get(&limit)
            .is_none_or(|l| l.check_key(&key.to_string()).is_ok())
    }

    /// Whether this throttle should be written to the audit log (at most once a minute per
    /// limit and key).
    pub fn should_audit(&self, limit: Limit, key: &str, now: i64) -> bool {
        let mut audited = self
            .audited
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if audited.len() > 100_000 {
            audited.retain(|_, at| now - *at < 60);
        }
        match audited.get(&(limit, key.to_string())) {
            Some(at) if now - *at < 60 => false,
            _ => {
                audited.insert((limit, key.to_string()), now);
                true
            }
        }
    }

    /// Drops idle keys (called from the hourly housekeeping task).
    pub fn shrink(&self) {
        for l in self.limiters.values() {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_per_key_and_coalesces_audits() {
        let limits = RateLimits::new(&RateLimitConfig {
            scans_per_device_per_min: 3,
            ..RateLimitConfig::default()
        });
        let allowed = (0..10)
            .filter(|_| limits.check(Limit::ScanDevice, "a"))
            .count();
        assert_eq!(allowed, 3);
        assert!(
            limits.check(Limit::ScanDevice, "b"),
            "other keys are not affected"
        );
        assert!(limits.should_audit(Limit::ScanDevice, "a", 100));
        assert!(!limits.should_audit(Limit::ScanDevice, "a", 159));
        assert!(limits.should_audit(Limit::ScanDevice, "a", 160));
        let off = RateLimits::new(&RateLimitConfig {
            scans_per_device_per_min: 0,
            ..RateLimitConfig::default()
        });
        assert!((0..1000).all(|_| off.check(Limit::ScanDevice, "a")));
    }
}
