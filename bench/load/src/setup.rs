//! The world a scan benchmark starts from, built through the real API as `tests/src/field.rs`
//! does: the city administrator's login, a fire department, one paramedic and one enrolled,
//! logged-in device per `--devices`, and `--residents` residents with a medication, an allergy,
//! consent and a card. Every name carries a run id, so several runs can share one server.

use kyukit_field::{Client, DeviceKey};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::task::JoinSet;

pub const MEDIC_PASSWORD: &str = "bench paramedic password";
pub const RESIDENT_PASSWORD: &str = "bench resident password";
/// What residents consent to show paramedics (as the standard test world).
pub const SHARED: [&str; 5] = [
    "medications",
    "allergies",
    "devices",
    "blood_type",
    "advance_directive",
];

/// What to build, and as whom.
#[derive(Debug, Clone)]
pub struct SetupParams {
    pub admin_login: String,
    pub admin_password: String,
    pub admin_totp_secret: String,
    pub devices: usize,
    pub residents: usize,
    /// Requests in flight while building (password hashing makes it CPU bound).
    pub setup_parallelism: usize,
}

/// Enrolled devices with a paramedic logged in, the card URLs to scan, and the residents.
#[derive(Debug)]
pub struct World {
    pub clients: Vec<Client>,
    pub cards: Vec<String>,
    /// The administrator's session and this run's id (for benches that build more).
    pub admin: String,
    pub run: String,
    /// Per resident (in card order): its id, login id and session token.
    pub residents: Vec<(String, String, String)>,
}

/// One HTTP client for everything: no redirects, keep-alive connections for every task.
pub fn http_client(max_in_flight: usize) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(max_in_flight.max(64))
        .user_agent(concat!("kyukit-bench/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

/// What building a part of the world needs: the server, this run's id, an administrator's
/// session and the fire department new devices join.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub http: reqwest::Client,
    pub base: String,
    pub run: String,
    pub admin: String,
    pub facility: String,
}

impl Ctx {
    /// `POST path` with a JSON body; the answer must be `201`.
    async fn create(&self, path: &str, token: Option<&str>, body: Value) -> Result<Value, String> {
        post_created(&self.http, &self.base, path, token, body).await
    }
}

pub(crate) async fn post_created(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> Result<Value, String> {
    let mut req = http.post(format!("{base}{path}")).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.map_err(|e| format!("POST {path}: {e}"))?;
    let status = resp.status();
    let text = resp.text().await.map_err(|e| format!("POST {path}: {e}"))?;
    if status != StatusCode::CREATED {
        return Err(format!("POST {path}: HTTP {status}: {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("POST {path}: answer is not JSON: {e}"))
}

pub(crate) fn field_str(v: &Value, key: &str, what: &str) -> Result<String, String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("{what}: no {key:?} in {v}"))
}

/// Runs `f(0..n)` with at most `width` calls in flight; results in index order. Stops at the
/// first error (the other calls are aborted).
pub(crate) async fn parallel<T, F, Fut>(n: usize, width: usize, f: F) -> Result<Vec<T>, String>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, String>> + Send + 'static,
{
    let f = Arc::new(f);
    let next = Arc::new(AtomicUsize::new(0));
    let mut set = JoinSet::new();
    for _ in 0..width.clamp(1, n.max(1)) {
        let (f, next) = (f.clone(), next.clone());
        set.spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, String>(out);
                }
                out.push((i, f(i).await?));
            }
        });
    }
    let mut slots: Vec<Option<T>> = (0..n).map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        for (i, v) in joined.map_err(|e| format!("setup task: {e}"))?? {
            if let Some(slot) = slots.get_mut(i) {
                *slot = Some(v);
            }
        }
    }
    slots
        .into_iter()
        .collect::<Option<Vec<T>>>()
        .ok_or_else(|| "setup: a result is missing".to_string())
}

/// A short id that makes this run's login ids unique on a shared server.
pub(crate) fn run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{:08x}",
        (nanos as u64 ^ u64::from(std::process::id())) & 0xffff_ffff
    )
}

pub async fn build(
    args: &SetupParams,
    http: &reqwest::Client,
    base: &str,
) -> Result<World, String> {
    let health = http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .map_err(|e| format!("{base}/healthz: {e}"))?;
    if !health.status().is_success() {
        return Err(format!("{base}/healthz: HTTP {}", health.status()));
    }
    let login = post_created(
        http,
        base,
        "/api/v1/sessions",
        None,
        json!({"login_id": args.admin_login, "password": args.admin_password,
               "totp": totp_now(&args.admin_totp_secret)?}),
    )
    .await
    .map_err(|e| format!("administrator login: {e}"))?;
    let admin = field_str(&login, "token", "administrator login")?;
    let run = run_id();
    let facility = post_created(
        http,
        base,
        "/api/v1/facilities",
        Some(&admin),
        json!({"kind": "fire_department", "name_ja": format!("負荷試験消防本部 {run}"),
               "name_en": format!("Load test fire department {run}"),
               "address": "茨城県常総市水海道諏訪町3222-3", "phone": "0297-23-0119"}),
    )
    .await?;
    let facility = field_str(&facility, "id", "facility")?;
    let ctx = Arc::new(Ctx {
        http: http.clone(),
        base: base.to_string(),
        run: run.clone(),
        admin: admin.clone(),
        facility,
    });
    let c = ctx.clone();
    let clients = parallel(args.devices, args.setup_parallelism, move |i| {
        let c = c.clone();
        async move { device(&c, i).await }
    })
    .await?;
    let c = ctx.clone();
    let residents = parallel(args.residents, args.setup_parallelism, move |i| {
        let c = c.clone();
        async move { resident(&c, i).await }
    })
    .await?;
    let (cards, residents) = residents.into_iter().unzip();
    Ok(World {
        clients,
        cards,
        admin,
        run,
        residents,
    })
}

/// Paramedic `i`, a fresh device key enrolled with its own one-time code, and the paramedic's
/// signed login on it.
pub(crate) async fn device(c: &Ctx, i: usize) -> Result<Client, String> {
    let login = format!("bench-{}-medic{i}", c.run);
    let label = format!("bench {} device {i}", c.run);
    let staff = c
        .create(
            &format!("/api/v1/facilities/{}/staff", c.facility),
            Some(&c.admin),
            json!({"login_id": login, "password": MEDIC_PASSWORD, "role": "paramedic",
                   "display_name": format!("救急隊員 {i}")}),
        )
        .await?;
    let totp_secret = staff
        .get("totp")
        .and_then(|t| t.get("secret"))
        .and_then(Value::as_str)
        .ok_or_else(|| format!("device {i}: staff answer has no totp secret"))?
        .to_string();
    let code = c
        .create(
            &format!("/api/v1/facilities/{}/enrollment-codes", c.facility),
            Some(&c.admin),
            json!({"label": label, "ttl_minutes": 60}),
        )
        .await?;
    let code = field_str(&code, "code", "enrollment code")?;
    let key = DeviceKey::generate().map_err(|e| format!("device {i}: {e}"))?;
    let mut client = Client::new(&c.base, key)
        .map_err(|e| format!("device {i}: {e}"))?
        .with_http(c.http.clone());
    client
        .enroll(&code, Some(&label))
        .await
        .map_err(|e| format!("device {i}: enrollment: {e}"))?;
    client
        .login(&login, MEDIC_PASSWORD, Some(&totp_now(&totp_secret)?))
        .await
        .map_err(|e| format!("device {i}: paramedic login: {e}"))?;
    Ok(client)
}

/// Resident `i` with a medication and an allergy, consent, and a card; returns the card URL
/// and (resident id, login id, session token).
async fn resident(c: &Ctx, i: usize) -> Result<(String, (String, String, String)), String> {
    let dob = format!("{}-{:02}-{:02}", 1930 + i % 60, 1 + i % 12, 1 + i % 28);
    let login_id = format!("bench-{}-r{i}", c.run);
    let v = c
        .create(
            "/api/v1/residents",
            None,
            json!({
                "login_id": login_id,
                "password": RESIDENT_PASSWORD,
                "profile": {
                    "family_name": "山田", "given_name": format!("花子{i}"),
                    "family_name_kana": "ヤマダ", "given_name_kana": "ハナコ",
                    "date_of_birth": dob, "sex": "female",
                    // One person per i: the same kana, birthday and address is one person, and
                    // registering them again is held for the city (issue 19).
                    "address": format!("茨城県常総市水海道諏訪町{} ({})", 1000 + i, c.run), "district": "水海道",
                    "phone": "0297-23-2111", "preferred_language": "ja"
                }
            }),
        )
        .await?;
    let rid = field_str(&v, "resident_id", "resident")?;
    let token = field_str(&v, "token", "resident")?;
    for (category, body) in [
        (
            "medications",
            json!({"name": "ワルファリン", "dose": "2mg", "frequency": "朝1回", "anticoagulant": true}),
        ),
        (
            "allergies",
            json!({"substance": "ペニシリン", "reaction": "アナフィラキシー", "severity": "anaphylaxis"}),
        ),
    ] {
        c.create(
            &format!("/api/v1/residents/{rid}/dataset"),
            Some(&token),
            json!({"category": category, "body": body}),
        )
        .await?;
    }
    c.create(
        &format!("/api/v1/residents/{rid}/consents"),
        Some(&token),
        json!({"categories": SHARED, "disaster_use": false, "triage_on_card": true, "name_on_print": false}),
    )
    .await?;
    let card = c
        .create(
            &format!("/api/v1/residents/{rid}/cards"),
            Some(&token),
            json!({}),
        )
        .await?;
    Ok((field_str(&card, "url", "card")?, (rid, login_id, token)))
}

/// The current TOTP code (RFC 6238, SHA-1, 6 digits, 30 s) of a base32 secret, by the system clock
/// (the server under test runs on the system clock too).
pub(crate) fn totp_now(secret_b32: &str) -> Result<String, String> {
    let secret = data_encoding::BASE32_NOPAD
        .decode(secret_b32.trim().as_bytes())
        .map_err(|e| format!("TOTP secret: {e}"))?;
    let totp = totp_rs::Builder::new()
        .with_secret(secret)
        .build()
        .map_err(|e| format!("TOTP: {e:?}"))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    Ok(totp.generate(now).to_string())
}
