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
/// How often a row waiting for its retry re-reads the clock once its real-time back-off is over.
const CLOCK_POLL: Duration = Duration::from_millis(50);
/// Rows leased per round.
pub const BATCH: i64 = 64;
/// How long a lease lasts: longer than a send can take, so a row is sent by one instance at a time;
/// if an instance dies mid-send, another takes the row over after this (at-least-once delivery).
pub const LEASE_SECS: i64 = 120;
/// Push requests in flight at once, over all rows (each row is sent by its own task).
pub const MAX_CONCURRENT_SENDS: usize = 64;
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
    /// Send slots ([`MAX_CONCURRENT_SENDS`]).
    sends: tokio::sync::Semaphore,
    /// Real time per second of the back-off schedule (1 s; shorter in tests).
    backoff_unit: Duration,
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
            .timeout(Duration::from_millis(config.push_send_timeout_ms.max(1)))
            .connect_timeout(Duration::from_millis(config.push_send_timeout_ms.max(1)))
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
            sends: tokio::sync::Semaphore::new(MAX_CONCURRENT_SENDS),
            backoff_unit: Duration::from_millis(config.push_backoff_unit_ms.max(1)),
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
            return Attempt::Expired;
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
                .ok_or("stored auth unusable")?;
            let body =
                encrypt(row.payload.as_bytes(), &p256dh, &auth).map_err(|_| "encryption failed")?;
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

/// The record size (`rs`) of every push: 4096, the largest push services accept. RFC 8291 §4
/// requires it to be greater than the one record's length (payloads are at most
/// `MAX_PAYLOAD_BYTES`, so the record is at most 3,089 bytes).
pub const RECORD_SIZE: u32 = 4096;

/// RFC 8291 message encryption (`aes128gcm`, one record, `rs` = [`RECORD_SIZE`]): the key
/// derivation of RFC 8291 §3.4 and RFC 8188 from `ece-native`. (`web_push_native::encrypt` sets
/// `rs` to the record's own length, which RFC 8291 §4 does not allow.)
pub fn encrypt(
    message: &[u8],
    ua_public: &web_push_native::p256::PublicKey,
    ua_auth: &[u8],
) -> Result<Vec<u8>, String> {
    use hkdf::Hkdf;
    use sha2::Sha256;
    use web_push_native::p256::elliptic_curve::sec1::ToEncodedPoint;
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| e.to_string())?;
    let mut secret = [0u8; 32];
    let as_secret = loop {
        getrandom::fill(&mut secret).map_err(|e| e.to_string())?;
        if let Ok(k) = web_push_native::p256::SecretKey::from_slice(&secret) {
            break k;
        }
    };
    let as_public = as_secret.public_key();
    let shared = web_push_native::p256::ecdh::diffie_hellman(
        as_secret.to_nonzero_scalar(),
        ua_public.as_affine(),
    );
    let mut info = b"WebPush: info\0".to_vec();
    info.extend_from_slice(ua_public.to_encoded_point(false).as_bytes());
    info.extend_from_slice(as_public.to_encoded_point(false).as_bytes());
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(ua_auth), shared.raw_secret_bytes().as_ref())
        .expand(&info, &mut ikm)
        .map_err(|e| e.to_string())?;
    let keyid = as_public.to_encoded_point(false);
    ece_native::encrypt(
        ikm,
        salt,
        keyid.as_bytes(),
        std::iter::once(message.to_vec()),
        RECORD_SIZE,
    )
    .map_err(|e| format!("{e:?}"))
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Sends one leased row until it is done: delivered, gone, rejected, or its TTL spent. Between
/// attempts the task sleeps for the back-off in real time (each schedule second is
/// `Config::push_backoff_unit_ms`), keeping the row leased; each outcome is recorded at once, so
/// one slow or failing endpoint holds up nothing but its own row. An alert whose TTL is spent is
/// recorded as expired (`failed`, `last_error` "expired: …") and its incident escalated.
async fn send_until_done(state: AppState, mut leased: Leased) {
    let worker = state.push.clone();
    loop {
        let attempt = {
            // Bounded concurrency: at most `MAX_CONCURRENT_SENDS` requests in flight.
            let _permit = worker.sends.acquire().await;
            let now = state.clock.now();
            worker.deliver(&leased, now).await
        };
        let finished_at = state.clock.now();
        let update = svc::update_for(&leased.row, &attempt, finished_at);
        let outcome = match (&attempt, update.status) {
            (_, OutboxStatus::Pending) => "retry",
            (Attempt::Expired, _) => "expired",
            (Attempt::Transient { .. }, OutboxStatus::Failed) => "expired",
            (_, status) => status.as_str(),
        };
        state.metrics.push_outcome(outcome);
        let status = match &attempt {
            Attempt::Delivered { status } | Attempt::Gone { status } => Some(*status),
            Attempt::Transient { status, .. } | Attempt::Rejected { status, .. } => *status,
            Attempt::Unsubscribed | Attempt::Expired => None,
        };
        tracing::info!(
            outbox_id = %leased.row.id,
            attempt = update.attempts,
            outcome,
            status = ?status,
            "push attempt"
        );
        let (db, owner, item) = (
            state.db.clone(),
            worker.instance.clone(),
            (leased.clone(), attempt),
        );
        let recorded =
            tokio::task::spawn_blocking(move || svc::record(&db, &owner, &[item], finished_at))
                .await;
        match recorded {
            Ok(Ok(1)) => {}
            // The lease was taken over (this instance stalled past it): the other one sends.
            Ok(Ok(_)) => return,
            Ok(Err(e)) => {
                tracing::error!(error = %e, outbox_id = %leased.row.id, "push outcome not recorded");
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "push record task failed");
                return;
            }
        }
        if outcome == "expired"
            && let Some(incident) = leased.row.incident_id.clone()
        {
            let (db, muni, wake) = (
                state.db.clone(),
                leased.row.municipality_id.clone(),
                state.wakers(),
            );
            // A family browser (no facility) expiring escalates nothing.
            let facility = leased
                .subscription
                .as_ref()
                .and_then(|s| s.facility_id.clone());
            let escalated = tokio::task::spawn_blocking(move || match facility {
                Some(f) => crate::service::incidents::escalate_now(
                    &db,
                    &muni,
                    &incident,
                    &f,
                    finished_at,
                    &wake,
                ),
                None => Ok(None),
            })
            .await;
            match escalated {
                Ok(Ok(Some(step))) => state.metrics.escalation(&step),
                Ok(Ok(None)) => {}
                _ => tracing::error!(outbox_id = %leased.row.id, "escalation after expiry failed"),
            }
        }
        if update.status != OutboxStatus::Pending {
            return;
        }
        let wait = u64::try_from(update.next_attempt_at - finished_at).unwrap_or(0);
        leased.row.attempts = update.attempts;
        leased.row.next_attempt_at = update.next_attempt_at;
        leased.row.last_status = update.last_status;
        leased.row.last_error = update.last_error.clone();
        // The back-off in real time, and until the clock reaches the due time (with the system
        // clock the second holds already; a test clock is moved by the test).
        let real = worker
            .backoff_unit
            .saturating_mul(u32::try_from(wait).unwrap_or(u32::MAX));
        tokio::time::sleep(real).await;
        while state.clock.now() < update.next_attempt_at {
            tokio::time::sleep(CLOCK_POLL).await;
        }
    }
}

/// One round: lease due rows and start a sender task for each (they run on independently).
/// Returns how many rows were leased.
async fn round(state: &AppState, senders: &mut tokio::task::JoinSet<()>) -> Result<usize, String> {
    let worker = state.push.clone();
    let (db, owner, now) = (state.db.clone(), worker.instance.clone(), state.clock.now());
    let leased =
        tokio::task::spawn_blocking(move || svc::lease_due(&db, &owner, now, LEASE_SECS, BATCH))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
    let n = leased.len();
    for item in leased {
        senders.spawn(send_until_done(state.clone(), item));
    }
    Ok(n)
}

/// The delivery loop (spawned by `Application::run_until_stopped`). Aborting it aborts its
/// sender tasks (their rows stay leased until the lease runs out, then any instance resends).
pub async fn run(state: AppState) {
    let mut last_purge = i64::MIN;
    let mut senders = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = state.push.notify.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
        while senders.try_join_next().is_some() {}
        loop {
            match round(&state, &mut senders).await {
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
