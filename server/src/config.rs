//! Typed configuration, from command-line flags with `KYUKIT_*` environment fallbacks.

use crate::db::DatabaseUrl;
use crate::service::accounts::SessionPolicy;
use crate::service::keys::MunicipalityDefaults;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything the server needs to start. Passed down explicitly; there is no global config.
/// `Debug` shows no secret (the database URL redacts its password).
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Keys, and the SQLite database unless `database_url` says otherwise. Created on first start.
    pub data_dir: PathBuf,
    /// `None`: SQLite at `<data_dir>/kyukit.db`.
    pub database_url: Option<DatabaseUrl>,
    /// The public `https://` base URL residents' phones reach, ending in `/`. Card URLs are
    /// `<public_url>c/<digits>`. In production TLS is terminated in front of Kyukit.
    pub public_url: String,
    pub municipality: MunicipalityDefaults,
    pub session_policy: SessionPolicy,
    pub card_validity_secs: i64,
    /// After 支援中止, how long before the record is purged.
    pub withdrawal_retention_secs: i64,
    /// Pooled connections for reads (and the CLI); opened on demand, one kept idle.
    pub db_max_connections: u32,
    /// Group-commit writers on PostgreSQL, each with its own connection (SQLite: always one).
    pub db_writers: usize,
    /// HTTP worker threads (`None`: one per CPU).
    pub http_workers: Option<usize>,
    pub rate_limits: crate::ratelimit::RateLimitConfig,
    /// Per-address connection cap and request-body deadlines (slow clients).
    pub slow_clients: crate::connections::SlowClientLimits,
    /// Pre-arrival alerts not acknowledged within this many seconds escalate (DESIGN §4: 180).
    pub escalate_after_secs: i64,
    /// How often the escalation check runs (milliseconds of real time; the check itself reads the
    /// injected clock).
    pub escalation_tick_ms: u64,
    /// Unacknowledged alerts escalate again every this many seconds until acknowledged;
    /// acknowledged, unanswered ones are re-alerted at this interval.
    pub escalation_repeat_secs: i64,
    /// An acknowledged inquiry still unanswered this long after the acknowledgement is re-alerted.
    pub realert_after_secs: i64,
    /// A resident's record is stale (the portal asks for a re-confirmation, the city lists it)
    /// this many calendar months after it was last confirmed (issue 26; default 12).
    pub reconfirm_after_months: u32,
    // push
    /// Web Push: the VAPID `sub` contact (`mailto:` or `https:`); `None`: `mailto:admin@<host of
    /// public_url>`.
    pub push_subject: Option<String>,
    /// Web Push: accept `http://` subscription endpoints on a loopback address (tests and local
    /// development only; production push services are HTTPS).
    pub push_allow_insecure_loopback: bool,
    /// Web Push: the timeout of one send (connection and whole request), in milliseconds
    /// (5,000): short, so a device whose push service hangs is retried later instead of holding
    /// a send slot.
    pub push_send_timeout_ms: u64,
    /// Web Push: real milliseconds per second of the retry back-off schedule (1,000). Tests set
    /// it lower to run a schedule of minutes in seconds; the schedule and the TTL arithmetic (on
    /// the injected clock) are unchanged.
    pub push_backoff_unit_ms: u64,
    /// WebAuthn (biometric unlock on field devices): the origin the paramedic app is served
    /// from (`https://host[:port]`); its host is the relying party id. `None`: the origin of
    /// `public_url`.
    pub webauthn_origin: Option<String>,
    /// How long a signed trust list is valid (7 days); devices refuse it after that.
    pub trust_list_validity_secs: i64,
}

impl Config {
    /// Defaults for a data directory and listen address (what `kyukit serve` uses with no flags).
    pub fn new(listen: SocketAddr, data_dir: PathBuf, public_url: String) -> Self {
        Config {
            listen,
            data_dir,
            database_url: None,
            public_url,
            municipality: MunicipalityDefaults {
                code: "000000".into(),
                name_ja: "（自治体名未設定）".into(),
                name_en: "(municipality not set)".into(),
            },
            session_policy: SessionPolicy::default(),
            card_validity_secs: 5 * 365 * 86_400,
            withdrawal_retention_secs: 90 * 86_400,
            db_max_connections: 8,
            db_writers: 4,
            http_workers: None,
            rate_limits: crate::ratelimit::RateLimitConfig::default(),
            slow_clients: crate::connections::SlowClientLimits::default(),
            escalate_after_secs: crate::service::incidents::ESCALATE_AFTER_SECS,
            escalation_tick_ms: 5_000,
            escalation_repeat_secs: crate::service::incidents::ESCALATION_REPEAT_SECS,
            realert_after_secs: crate::service::incidents::REALERT_AFTER_SECS,
            reconfirm_after_months: crate::service::reconfirm::DEFAULT_MONTHS,
            push_subject: None,                  // push
            push_allow_insecure_loopback: false, // push
            push_send_timeout_ms: 5_000,
            push_backoff_unit_ms: 1_000,
            webauthn_origin: None,
            trust_list_validity_secs: 7 * 86_400,
        }
    }

    /// The base URL written into cards.
    pub fn card_base_url(&self) -> String {
        format!("{}c/", self.public_url)
    }

    pub fn database_url(&self) -> DatabaseUrl {
        self.database_url
            .clone()
            .unwrap_or_else(|| DatabaseUrl::sqlite_file(&self.data_dir.join("kyukit.db")))
    }

    /// When the escalation chain acts.
    pub fn escalation_policy(&self) -> crate::service::incidents::EscalationPolicy {
        crate::service::incidents::EscalationPolicy {
            after_secs: self.escalate_after_secs,
            repeat_secs: self.escalation_repeat_secs.max(1),
            realert_after_secs: self.realert_after_secs,
        }
    }

    /// WebAuthn's expected origin (`scheme://host[:port]`, no path) and relying party id (its
    /// host, without the port).
    pub fn webauthn_rp(&self) -> (String, String) {
        let origin = self
            .webauthn_origin
            .clone()
            .unwrap_or_else(|| self.public_url.clone());
        let (scheme, rest) = origin.split_once("://").unwrap_or(("https", &origin));
        let authority = rest
            .split('/')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let host = authority
            .rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(authority.as_str(), |(h, _)| h)
            .to_string();
        (format!("{scheme}://{authority}"), host)
    }

    /// Checks what cannot be expressed in the types.
    pub fn validate(&self) -> Result<(), String> {
        kyukit_card::canonical_base(&self.card_base_url())
            .map_err(|e| format!("KYUKIT_PUBLIC_URL {:?}: {e}", self.public_url))?;
        if self.card_validity_secs < 86_400 || self.withdrawal_retention_secs < 0 {
            return Err("card validity must be at least a day and retention not negative".into());
        }
        // push
        let subject = self.push_subject();
        let ok = subject
            .strip_prefix("mailto:")
            .is_some_and(|m| m.contains('@') && !m.contains(char::is_whitespace))
            || subject.starts_with("https://");
        if !ok || subject.len() > 256 {
            return Err(format!(
                "KYUKIT_PUSH_SUBJECT {subject:?}: must be a mailto: address or an https: URL"
            ));
        }
        Ok(())
    }

    /// The VAPID `sub` claim (RFC 8292 §2.1): the configured contact, or
    /// `mailto:admin@<host of public_url>`.
    pub fn push_subject(&self) -> String {
        match &self.push_subject {
            Some(s) => s.clone(),
            None => {
                let host = self
                    .public_url
                    .split_once("://")
                    .map_or(self.public_url.as_str(), |(_, rest)| rest)
                    .split(['/', ':'])
                    .next()
                    .unwrap_or("localhost");
                format!("mailto:admin@{host}")
            }
        }
    }
}
