//! Web Push delivery (RFC 8030) to ED staff devices: the VAPID key (RFC 8292), message encryption
//! (RFC 8291 `aes128gcm`) and the worker that sends the outbox.
//!
//! Crypto comes from maintained crates: `web-push-native` encrypts (RFC 8291 over RFC 8188, via
//! `ece-native`) and its re-exported `jwt-simple` signs the ES256 VAPID token. The request itself is
//! built here, because the token's times must come from the injected clock (the crate's builder
//! reads the system clock) and its `aud` must be the endpoint's full origin, port included.
//!
//! The worker ([`run`]) wakes on [`PushWorker::wake`] (after a transaction that queued pushes
//! commits) or every [`POLL`]; leases due rows (`service::push::lease_due`), sends them
//! concurrently, and records each outcome. Logs name the outbox row and the HTTP status, never
//! the endpoint (a capability) or the payload.

use crate::domain::OutboxStatus;
use crate::service::push::{self as svc, Attempt, Leased};
use crate::state::AppState;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::io;
use std::path::Path;
use std::time::Duration;
use tokio::sync::Notify;
use web_push_native::jwt_simple::algorithms::{
    ECDSAP256KeyPairLike, ECDSAP256PublicKeyLike, ES256KeyPair,
};
use web_push_native::jwt_simple::claims::{Audiences, JWTClaims, NoCustomClaims};

/// How often the worker looks for due rows without being woken.
pub const POLL: Duration = Duration::from_millis(500);
/// Rows leased per round.
pub const BATCH: i64 = 64;
/// How long a lease lasts: longer than a send can take, so a row is sent by one instance at a time;
/// if an instance dies mid-send, another takes the row over after this (at-least-once delivery).
pub const LEASE_SECS: i64 = 120;
/// Whole-request timeout for one push.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(15);
/// Validity of a VAPID token (RFC 8292 §2: no more than 24 hours; 12 hours is customary).
pub const VAPID_VALIDITY_SECS: i64 = 12 * 3600;
/// Finished outbox rows are kept this long, then purged.
pub const KEEP_FINISHED_SECS: i64 = 7 * 86_400;

/// The server's VAPID key pair (P-256), kept as a 0600 PKCS#8 PEM file. `Debug` shows only the
/// public key.
pub struct VapidKey {
    key: ES256KeyPair,
    public_b64: String,
}

impl std::fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapidKey")
            .field("public_key", &self.public_b64)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

/// Checks that `pem` is a VAPID key this server can load (a P-256 PKCS#8 private key); for
/// backups, which carry the file without starting a server.
pub fn check_vapid_pem(pem: &str) -> Result<(), String> {
    VapidKey::from_pem(pem).map(|_| ())
}

impl VapidKey {
    fn from_pair(key: ES256KeyPair) -> Self {
        let public = key.public_key().public_key().to_bytes_uncompressed();
        VapidKey {
            key,
            public_b64: URL_SAFE_NO_PAD.encode(public),
        }
    }

    /// A fresh key from the operating system's CSPRNG.
    pub fn generate() -> io::Result<Self> {
        loop {
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret).map_err(io::Error::other)?;
            // Fails only for zero or a scalar ≥ the group order: probability < 2^-32.
            if let Ok(key) = ES256KeyPair::from_bytes(&secret) {
                return Ok(Self::from_pair(key));
            }
        }
    }

    /// Reads `<data_dir>/vapid.pem`, creating it (mode 0600) on first start. A file that exists
    /// but cannot be read is an error, never silently replaced: a new key would invalidate every
    /// browser subscription.
    pub fn load_or_create(data_dir: &Path) -> io::Result<Self> {
        let path = data_dir.join("vapid.pem");
        match std::fs::read_to_string(&path) {
            Ok(pem) => Self::from_pem(&pem)
                .map_err(|e| io::Error::other(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let key = Self::generate()?;
                let pem = key.key.to_pem().map_err(io::Error::other)?;
                match crate::secrets::write_secret_file(&path, pem.as_bytes()) {
                    Ok(()) => {
                        tracing::info!(public_key = %key.public_b64, "new VAPID key");
                        Ok(key)
                    }
                    // Another instance sharing the directory created it first.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        Self::from_pem(&std::fs::read_to_string(&path)?)
                            .map_err(|e| io::Error::other(format!("{}: {e}", path.display())))
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    fn from_pem(pem: &str) -> Result<Self, String> {
        ES256KeyPair::from_pem(pem)
            .map(Self::from_pair)
            .map_err(|_| "not a P-256 PKCS#8 private key".to_string())
    }

    /// The public key as served to browsers (`applicationServerKey`): base64url of the 65-byte
    /// uncompressed point.
    pub fn public_key(&self) -> &str {
        &self.public_b64
    }

    /// `Authorization: vapid t=<JWT>, k=<public key>` for a push to `endpoint` (RFC 8292 §3):
    /// ES256 token with `aud` = the endpoint's origin, `exp` = `now` + 12 h, `sub` = `subject`.
    pub fn authorization(
        &self,
        endpoint: &reqwest::Url,
        subject: &str,
        now: i64,
    ) -> Result<String, String> {
        let exp = u64::try_from(now + VAPID_VALIDITY_SECS).map_err(|_| "clock before 1970")?;
        let claims = JWTClaims {
            issued_at: None,
            expires_at: Some(web_push_native::jwt_simple::prelude::Duration::from_secs(
                exp,
            )),
            invalid_before: None,
            issuer: None,
            subject: Some(subject.to_string()),
            audiences: Some(Audiences::AsString(endpoint.origin().ascii_serialization())),
            jwt_id: None,
            nonce: None,
            custom: NoCustomClaims {},
        };
        let token = self.key.sign(claims).map_err(|e| e.to_string())?;
        Ok(format!("vapid t={token}, k={}", self.public_b64))
    }
}

/// Sends the push outbox. One per server process, shared through `AppState::push`.
pub struct PushWorker {
    vapid: VapidKey,
    subject: String,
    /// This instance's lease owner id (random).
    instance: String,
    client: reqwest::Client,
    notify: Notify,
}

impl std::fmt::Debug for PushWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushWorker")
            .field("vapid", &self.vapid)
            .field("subject", &self.subject)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl PushWorker {
    /// Loads (or creates) the VAPID key in the data directory and builds the HTTP client.
    pub fn new(config: &crate::config::Config) -> io::Result<Self> {
        let vapid = VapidKey::load_or_create(&config.data_dir)?;
        let client = reqwest::Client::builder()
            .timeout(SEND_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            // A redirect would carry the message and the VAPID token somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("kyukit/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(io::Error::other)?;
        Ok(PushWorker {
            vapid,
            subject: config.push_subject(),
            instance: crate::service::new_id().map_err(|e| io::Error::other(e.to_string()))?,
            client,
            notify: Notify::new(),
        })
    }

    /// Asks the worker to look for due rows now (call after the transaction that queued them
    /// commits). Never blocks; a wake-up while the worker is busy is kept for its next round.
    pub fn wake(&self) {
        self.notify.notify_one();
    }

    pub fn vapid_public_key(&self) -> &str {
        self.vapid.public_key()
    }

    /// One send attempt of a leased row.
    async fn deliver(&self, leased: &Leased, now: i64) -> Attempt {
        let Some(sub) = &leased.subscription else {
            return Attempt::Unsubscribed;
        };
        let row = &leased.row;
        let remaining = row.created_at + i64::from(row.ttl_secs) - now;
        if remaining < 0 {
            return Attempt::Rejected {
                status: None,
                error: "expired (TTL) before it could be delivered".into(),
            };
        }
        let prepared = (|| {
            let endpoint =
                reqwest::Url::parse(&sub.endpoint).map_err(|_| "stored endpoint unparsable")?;
            let p256dh = URL_SAFE_NO_PAD
                .decode(&sub.p256dh)
                .ok()
                .and_then(|b| web_push_native::p256::PublicKey::from_sec1_bytes(&b).ok())
                .ok_or("stored p256dh unusable")?;
            let auth = URL_SAFE_NO_PAD
                .decode(&sub.auth)
                .ok()
                .filter(|b| b.len() == 16)
                .map(|b| web_push_native::Auth::clone_from_slice(&b))
                .ok_or("stored auth unusable")?;
            let body = web_push_native::encrypt(row.payload.as_bytes().to_vec(), &p256dh, &auth)
                .map_err(|_| "encryption failed")?;
            let authorization = self
                .vapid
                .authorization(&endpoint, &self.subject, now)
                .map_err(|_| "VAPID signing failed")?;
            Ok::<_, &str>((endpoint, body, authorization))
        })();
        let (endpoint, body, authorization) = match prepared {
            Ok(p) => p,
            Err(e) => {
                return Attempt::Rejected {
                    status: None,
                    error: e.to_string(),
                };
            }
        };
        let sent = self
            .client
            .post(endpoint)
            .header("TTL", remaining.to_string())
            .header("Urgency", row.urgency.as_str())
            .header("Content-Encoding", "aes128gcm")
            .header("Content-Type", "application/octet-stream")
            .header("Authorization", authorization)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(resp) => {
                let retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<i64>().ok());
                Attempt::from_status(resp.status().as_u16(), retry_after)
            }
            // `without_url`: the endpoint is a capability and stays out of rows and logs.
            Err(e) => Attempt::Transient {
                status: None,
                error: truncate(&e.without_url().to_string(), 200),
                retry_after: None,
            },
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// One round: lease due rows, send them concurrently, record the outcomes. Returns how many rows
/// were leased.
async fn round(state: &AppState) -> Result<usize, String> {
    let worker = state.push.clone();
    let (db, owner, now) = (state.db.clone(), worker.instance.clone(), state.clock.now());
    let leased =
        tokio::task::spawn_blocking(move || svc::lease_due(&db, &owner, now, LEASE_SECS, BATCH))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
    let n = leased.len();
    if n == 0 {
        return Ok(0);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for item in leased {
        let worker = worker.clone();
        tasks.spawn(async move {
            let attempt = worker.deliver(&item, now).await;
            (item, attempt)
        });
    }
    let mut results = Vec::with_capacity(n);
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(r) => results.push(r),
            Err(e) => tracing::error!(error = %e, "push send task failed"),
        }
    }
    let finished_at = state.clock.now();
    for (item, attempt) in &results {
        // What became of the row: `retry` while it stays pending, else its final status (so
        // the eighth 503 counts as `failed`).
        let outcome = match svc::update_for(&item.row, attempt, finished_at).status {
            OutboxStatus::Pending => "retry",
            status => status.as_str(),
        };
        state.metrics.push_outcome(outcome);
        let status = match attempt {
            Attempt::Delivered { status } | Attempt::Gone { status } => Some(*status),
            Attempt::Transient { status, .. } | Attempt::Rejected { status, .. } => *status,
            Attempt::Unsubscribed => None,
        };
        tracing::info!(
            outbox_id = %item.row.id,
            attempt = item.row.attempts + 1,
            outcome,
            status = ?status,
            "push attempt"
        );
    }
    let (db, owner) = (state.db.clone(), worker.instance.clone());
    tokio::task::spawn_blocking(move || svc::record(&db, &owner, &results, finished_at))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    Ok(n)
}

/// The delivery loop (spawned by `Application::run_until_stopped`).
pub async fn run(state: AppState) {
    let mut last_purge = i64::MIN;
    loop {
        tokio::select! {
            _ = state.push.notify.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
        loop {
            match round(&state).await {
                // A full batch: there may be more due now.
                Ok(n) if n as i64 >= BATCH => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::error!(error = %e, "push round failed");
                    break;
                }
            }
        }
        let now = state.clock.now();
        if now.saturating_sub(last_purge) >= 3600 {
            last_purge = now;
            let db = state.db.clone();
            match tokio::task::spawn_blocking(move || {
                svc::purge_finished(&db, now, KEEP_FINISHED_SECS)
            })
            .await
            {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "push outbox purge failed"),
                Err(e) => tracing::error!(error = %e, "push outbox purge task failed"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vapid_key_debug_never_shows_the_secret() {
        let k = VapidKey::generate().unwrap();
        let secret = URL_SAFE_NO_PAD.encode(k.key.to_bytes());
        let pem = k.key.to_pem().unwrap();
        let shown = format!("{k:?}");
        assert!(shown.contains(k.public_key()));
        assert!(!shown.contains(&secret) && !shown.contains(&pem[30..60]));
    }

    #[test]
    fn backups_accept_a_vapid_key_and_nothing_else() {
        let k = VapidKey::generate().unwrap();
        assert!(check_vapid_pem(&k.key.to_pem().unwrap()).is_ok());
        let not_pkcs8 = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        for bad in ["", "not a key", not_pkcs8] {
            assert!(check_vapid_pem(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_key_file_is_private_and_reloads() {
        let dir = std::env::temp_dir().join(format!(
            "kyukit-vapid-{}",
            crate::service::new_id().unwrap()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let a = VapidKey::load_or_create(&dir).unwrap();
        let b = VapidKey::load_or_create(&dir).unwrap();
        assert_eq!(a.public_key(), b.public_key());
        assert_eq!(URL_SAFE_NO_PAD.decode(a.public_key()).unwrap().len(), 65);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("vapid.pem"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let pem = std::fs::read_to_string(dir.join("vapid.pem")).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8");
        std::fs::write(dir.join("vapid.pem"), "garbage").unwrap();
        assert!(
            VapidKey::load_or_create(&dir).is_err(),
            "a broken key file is not replaced"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_token_names_the_origin_and_expires_in_twelve_hours() {
        let k = VapidKey::generate().unwrap();
        let url = reqwest::Url::parse("https://push.example.com:8443/p/abc?x=1").unwrap();
        let h = k.authorization(&url, "mailto:a@b.jp", 1_000_000).unwrap();
        let (t, key) = h
            .strip_prefix("vapid t=")
            .unwrap()
            .split_once(", k=")
            .unwrap();
        assert_eq!(key, k.public_key());
        let claims: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(t.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            claims,
            serde_json::json!({"aud": "https://push.example.com:8443", "exp": 1_043_200, "sub": "mailto:a@b.jp"})
        );
    }
}
