//! A Web Push service inside the test process: an HTTP server on 127.0.0.1 (random port) that
//! plays the browser vendor's push service for subscriptions the harness creates.
//!
//! For every POST it **decrypts** the body with Mozilla's `ece` crate (RFC 8188/8291, an
//! implementation we did not write) using the subscription's private key, **verifies** the VAPID
//! `Authorization` (RFC 8292): the JWT's ES256 signature against the `k=` key (with `p256`), `k`
//! equal to the server's served key, `aud` = this service's origin, `exp` in the future and at most
//! 12 hours ahead of the test clock, `sub` a `mailto:`, and that the header's record size `rs` is
//! greater than the record (RFC 8291 §4). It records path, headers, plaintext, the test clock and
//! the real time of arrival, and answers the status scripted for the path (default 201), after a
//! scripted delay if any. A request that fails a check is
//! recorded in [`PushService::problems`] and answered 400.

use crate::TestClock;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One push as the service received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    /// Lower-case header names.
    pub headers: BTreeMap<String, String>,
    /// The decrypted message.
    pub plaintext: Vec<u8>,
    /// The VAPID token's claims.
    pub claims: Value,
    /// The status the service answered.
    pub answered: u16,
    /// The test clock when it arrived.
    pub at: i64,
    /// When it arrived, in real time.
    pub instant: std::time::Instant,
    /// The `rs` (record size) of its `aes128gcm` header, and the length of its one record.
    pub rs: u32,
    pub record_len: usize,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.plaintext).expect("the push payload is JSON")
    }
}

/// A browser's subscription: what it sends to the server, and its private half.
#[derive(Debug, Clone)]
pub struct Subscriber {
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
}

impl Subscriber {
    /// The body of `POST /api/v1/push/subscriptions`, as `PushSubscription.toJSON()` gives it.
    pub fn body(&self, label: Option<&str>) -> Value {
        let mut v = serde_json::json!({
            "endpoint": self.endpoint,
            "expirationTime": null,
            "keys": {"p256dh": self.p256dh, "auth": self.auth},
        });
        if let Some(l) = label {
            v["label"] = Value::from(l);
        }
        v
    }
}

struct Keys {
    components: ece::EcKeyComponents,
    auth: Vec<u8>,
}

/// What a path answers: queued (status, Retry-After) first, then `then` forever; `until`: the
/// status answered while the test clock is before an instant (then 201); `delay`: how long each
/// answer takes.
#[derive(Debug, Clone, Default)]
struct Script {
    queued: VecDeque<(u16, Option<u64>)>,
    then: u16,
    until: Option<(u16, i64)>,
    delay: Option<Duration>,
}

#[derive(Default)]
struct Inner {
    keys: HashMap<String, Keys>,
    scripts: HashMap<String, Script>,
    received: Vec<Received>,
    problems: Vec<String>,
}

/// The running service.
#[derive(Clone)]
pub struct PushService {
    /// `http://127.0.0.1:<port>`
    pub origin: String,
    inner: Arc<Mutex<Inner>>,
}

impl std::fmt::Debug for PushService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushService")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

struct Shared {
    inner: Arc<Mutex<Inner>>,
    clock: Arc<TestClock>,
    server_key: String,
    origin: String,
}

impl PushService {
    /// Starts the service. `server_key` is the Kyukit server's served VAPID public key; `clock` the
    /// test clock the server runs on (the token's `exp` is checked against it).
    pub async fn start(clock: Arc<TestClock>, server_key: &str) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let origin = format!(
            "http://127.0.0.1:{}",
            listener.local_addr().expect("addr").port()
        );
        let inner = Arc::new(Mutex::new(Inner::default()));
        let shared = web::Data::new(Shared {
            inner: inner.clone(),
            clock,
            server_key: server_key.to_string(),
            origin: origin.clone(),
        });
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new()
                .app_data(shared.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run();
        tokio::spawn(server);
        PushService { origin, inner }
    }

    /// A new subscription (a fresh P-256 key pair and auth secret, as a browser makes) whose
    /// endpoint is `<origin><path>`.
    pub fn subscriber(&self, path: &str) -> Subscriber {
        let (pair, auth) = ece::generate_keypair_and_auth_secret().expect("ece keys");
        let public = pair.pub_as_raw().expect("raw public key");
        let components = pair.raw_components().expect("raw components");
        self.inner.lock().expect("lock").keys.insert(
            path.to_string(),
            Keys {
                components,
                auth: auth.to_vec(),
            },
        );
        Subscriber {
            endpoint: format!("{}{path}", self.origin),
            p256dh: URL_SAFE_NO_PAD.encode(public),
            auth: URL_SAFE_NO_PAD.encode(auth),
        }
    }

    /// `path` answers `first` (in order; each with an optional `Retry-After` in seconds), then
    /// `then` for every later push.
    pub fn script(&self, path: &str, first: &[(u16, Option<u64>)], then: u16) {
        self.inner.lock().expect("lock").scripts.insert(
            path.to_string(),
            Script {
                queued: first.iter().copied().collect(),
                then,
                ..Script::default()
            },
        );
    }

    /// `path` answers `status` while the test clock reads before `until`, then 201.
    pub fn script_until(&self, path: &str, status: u16, until: i64) {
        self.inner.lock().expect("lock").scripts.insert(
            path.to_string(),
            Script {
                then: 201,
                until: Some((status, until)),
                ..Script::default()
            },
        );
    }

    /// `path` answers 201, each time only after `delay` (a slow device's push service).
    pub fn script_slow(&self, path: &str, delay: Duration) {
        self.inner.lock().expect("lock").scripts.insert(
            path.to_string(),
            Script {
                then: 201,
                delay: Some(delay),
                ..Script::default()
            },
        );
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().expect("lock").received.clone()
    }

    pub fn received_at(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// Requests that failed decryption or VAPID verification (should stay empty).
    pub fn problems(&self) -> Vec<String> {
        self.inner.lock().expect("lock").problems.clone()
    }

    /// Waits (up to 15 s of real time) until at least `n` pushes have arrived; returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..300 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "expected {n} pushes, got {} (problems: {:?})",
            self.received().len(),
            self.problems()
        );
    }
}

fn b64(s: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|e| format!("base64url: {e}"))
}

/// Verifies `Authorization: vapid t=<jwt>, k=<key>`; returns the claims.
fn verify_vapid(header: &str, shared: &Shared) -> Result<Value, String> {
    use p256::ecdsa::signature::Verifier;
    let rest = header
        .strip_prefix("vapid ")
        .ok_or("Authorization is not `vapid`")?;
    let mut t = None;
    let mut k = None;
    for part in rest.split(',') {
        let (name, value) = part
            .trim()
            .split_once('=')
            .ok_or("malformed vapid parameter")?;
        match name {
            "t" => t = Some(value.to_string()),
            "k" => k = Some(value.to_string()),
            other => return Err(format!("unexpected vapid parameter {other}")),
        }
    }
    let (t, k) = (t.ok_or("no t=")?, k.ok_or("no k=")?);
    if k != shared.server_key {
        return Err("k= is not the server's served VAPID key".into());
    }
    let parts: Vec<&str> = t.split('.').collect();
    let [h, c, s] = parts.as_slice() else {
        return Err("the token is not a three-part JWT".into());
    };
    let header: Value = serde_json::from_slice(&b64(h)?).map_err(|e| e.to_string())?;
    if header["alg"] != "ES256" {
        return Err(format!("alg {}", header["alg"]));
    }
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&b64(&k)?).map_err(|e| e.to_string())?;
    let sig = p256::ecdsa::Signature::from_slice(&b64(s)?).map_err(|e| e.to_string())?;
    key.verify(format!("{h}.{c}").as_bytes(), &sig)
        .map_err(|_| "the VAPID signature does not verify".to_string())?;
    let claims: Value = serde_json::from_slice(&b64(c)?).map_err(|e| e.to_string())?;
    if claims["aud"] != shared.origin.as_str() {
        return Err(format!("aud {} is not {}", claims["aud"], shared.origin));
    }
    let now = shared.clock.now_for_tests();
    let exp = claims["exp"].as_i64().ok_or("no exp")?;
    if exp <= now || exp > now + 12 * 3600 {
        return Err(format!("exp {exp} not within 12 h after now {now}"));
    }
    if !claims["sub"]
        .as_str()
        .is_some_and(|s| s.starts_with("mailto:"))
    {
        return Err(format!("sub {} is not mailto:", claims["sub"]));
    }
    Ok(claims)
}

/// The `rs` of an `aes128gcm` body and the length of what follows the header (RFC 8188 §2.1:
/// salt 16, rs 4, idlen 1, keyid idlen).
fn record_size(body: &[u8]) -> Result<(u32, usize), String> {
    if body.len() < 21 {
        return Err("body shorter than the aes128gcm header".into());
    }
    let rs = u32::from_be_bytes(body[16..20].try_into().expect("4 bytes"));
    let header = 21 + usize::from(body[20]);
    let record = body
        .len()
        .checked_sub(header)
        .ok_or("body shorter than its key id")?;
    Ok((rs, record))
}

async fn receive(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let path = req.path().to_string();
    let delay = shared
        .inner
        .lock()
        .expect("lock")
        .scripts
        .get(&path)
        .and_then(|s| s.delay);
    let instant = std::time::Instant::now();
    let at = shared.clock.now_for_tests();
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let headers: BTreeMap<String, String> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                v.to_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let checked = (|| {
        if req.method() != actix_web::http::Method::POST {
            return Err(format!("method {}", req.method()));
        }
        if headers.get("content-encoding").map(String::as_str) != Some("aes128gcm") {
            return Err("Content-Encoding is not aes128gcm".into());
        }
        // RFC 8291 §4: the record size must be greater than the (single) record's length.
        let (rs, record_len) = record_size(&body)?;
        if usize::try_from(rs).expect("u32") <= record_len {
            return Err(format!(
                "rs {rs} is not greater than the record length {record_len}"
            ));
        }
        let claims = verify_vapid(
            headers.get("authorization").ok_or("no Authorization")?,
            &shared,
        )?;
        let inner = shared.inner.lock().expect("lock");
        let keys = inner
            .keys
            .get(&path)
            .ok_or_else(|| format!("no subscription at {path}"))?;
        let plaintext = ece::decrypt(&keys.components, &keys.auth, &body)
            .map_err(|e| format!("ece decryption failed: {e}"))?;
        Ok((claims, plaintext, rs, record_len))
    })();
    let mut inner = shared.inner.lock().expect("lock");
    match checked {
        Ok((claims, plaintext, rs, record_len)) => {
            let (status, retry_after) = match inner.scripts.get_mut(&path) {
                Some(Script {
                    until: Some((status, until)),
                    ..
                }) if at < *until => (*status, None),
                Some(script) => script.queued.pop_front().unwrap_or((script.then, None)),
                None => (201, None),
            };
            inner.received.push(Received {
                path,
                headers,
                plaintext,
                claims,
                answered: status,
                at,
                instant,
                rs,
                record_len,
            });
            let mut resp =
                HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status"));
            if let Some(s) = retry_after {
                resp.insert_header(("Retry-After", s.to_string()));
            }
            resp.finish()
        }
        Err(problem) => {
            inner.problems.push(format!("{path}: {problem}"));
            HttpResponse::BadRequest().finish()
        }
    }
}
