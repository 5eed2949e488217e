//! `kyukit-bench prearrival`: how long from a crew's report to the hospital knowing.
//!
//! World (through the API): the scan world with one device and one resident, a hospital with one
//! ED staff member logged in, watching the hospital feed (SSE) and subscribed to Web Push with an
//! endpoint served by this process on loopback. The crew scans the card, opens an incident, sends
//! a first report (complaint, activation, a full set of vitals, JCS, GCS, ETA) and asks the
//! hospital. Then, `--iterations` times, one after the other: the crew's "+ record a reading" — a
//! patch with only a new vitals reading (SpO2 and heart rate; the server stamps its time and
//! keeps everything else) — is POSTed (clock starts before the request is sent) and we wait for
//! (a) its `report_updated` event on the ED's SSE stream and (b) the push request at the endpoint.
//! Every `--readings-per-incident` readings the crew starts a new incident (not timed), so the
//! record stays the size of a real transport's (a series of 1 + N readings, N versions).
//! The push is not decrypted here (tests/tests/push.rs does that); one report = one push, and the
//! iterations are sequential, so the next push after a POST is that POST's.

use crate::setup::{self, World};
use kyukit_field::{ACCEPT_JSON, DeviceKey};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

#[derive(Debug, Clone)]
pub struct Plan {
    pub iterations: usize,
    pub warmup: usize,
    pub timeout: Duration,
    pub readings_per_incident: usize,
}

/// A minimal HTTP/1.1 receiver for push requests: answers `201` and reports each arrival time.
async fn push_endpoint() -> Result<(u16, mpsc::UnboundedReceiver<Instant>), String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("push endpoint: {e}"))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("push endpoint: {e}"))?
        .port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    // One request at a time per connection (keep-alive): headers, then the body.
                    let head_end = loop {
                        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break p + 4;
                        }
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let _ = tx.send(Instant::now());
                    buf.drain(..head_end + len);
                    let ok = b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n";
                    if sock.write_all(ok).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok((port, rx))
}

/// Reads an SSE stream until an event of `kind` whose data has `version == version`.
struct Sse {
    resp: reqwest::Response,
    buf: String,
}

impl Sse {
    async fn wait(
        &mut self,
        kind: &str,
        incident: &str,
        version: i64,
        until: Instant,
    ) -> Result<(), String> {
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let event = block.lines().find_map(|l| l.strip_prefix("event: "));
                let data = block.lines().find_map(|l| l.strip_prefix("data: "));
                if event == Some(kind)
                    && let Some(d) = data.and_then(|d| serde_json::from_str::<Value>(d).ok())
                    && d.get("version").and_then(Value::as_i64) == Some(version)
                    && d.get("incident_id").and_then(Value::as_str) == Some(incident)
                {
                    return Ok(());
                }
            }
            let left = until.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.resp.chunk()).await {
                Ok(Ok(Some(b))) => self.buf.push_str(&String::from_utf8_lossy(&b)),
                Ok(Ok(None)) => return Err("the feed ended".into()),
                Ok(Err(e)) => return Err(format!("feed: {e}")),
                Err(_) => return Err(format!("no {kind} v{version} event in time")),
            }
        }
    }
}

/// The first report of an incident: the whole picture.
pub(crate) fn first_report() -> Value {
    json!({
        "base_version": 0, "chief_complaint": "胸痛", "activation": "stemi",
        "vitals": {"systolic_bp": 92, "diastolic_bp": 58, "heart_rate": 118, "respiratory_rate": 24,
                   "spo2": 92, "temperature": 36.6, "glucose": 140},
        "jcs": "I-1", "gcs": {"e": 4, "v": 5, "m": 6}, "eta_minutes": 10
    })
}

/// A repeated reading: only what was measured again (a patch; the server stamps the time).
fn reading(base: i64, i: usize) -> Value {
    json!({"base_version": base, "vitals": {"heart_rate": 100 + i % 40, "spo2": 86 + i % 10}})
}

/// Latencies in microseconds, sorted.
#[derive(Debug, Default)]
pub struct Measured {
    pub post: Vec<u64>,
    pub sse: Vec<u64>,
    pub push: Vec<u64>,
    pub errors: Vec<String>,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

pub async fn run(
    world: &World,
    http: &reqwest::Client,
    base: &str,
    plan: &Plan,
) -> Result<Measured, String> {
    let crew = world.clients.first().ok_or("no device in the world")?;
    let card = world.cards.first().ok_or("no card in the world")?;
    // The hospital and its ED staff member.
    let hospital = setup::post_created(
        http,
        base,
        "/api/v1/facilities",
        Some(&world.admin),
        json!({"kind": "hospital", "name_ja": format!("負荷試験病院 {}", world.run),
               "name_en": format!("Load test hospital {}", world.run),
               "address": "茨城県常総市", "phone": "0297-23-0000"}),
    )
    .await?;
    let hid = setup::field_str(&hospital, "id", "hospital")?;
    let login = format!("bench-{}-ed", world.run);
    let staff = setup::post_created(
        http,
        base,
        &format!("/api/v1/facilities/{hid}/staff"),
        Some(&world.admin),
        json!({"login_id": login, "password": setup::MEDIC_PASSWORD, "role": "ed_staff",
               "display_name": "救急外来 看護師"}),
    )
    .await?;
    let secret = staff
        .get("totp")
        .and_then(|t| t.get("secret"))
        .and_then(Value::as_str)
        .ok_or("ED staff: no totp secret")?;
    let session = setup::post_created(
        http,
        base,
        "/api/v1/sessions",
        None,
        json!({"login_id": login, "password": setup::MEDIC_PASSWORD, "totp": setup::totp_now(secret)?}),
    )
    .await?;
    let ed = setup::field_str(&session, "token", "ED login")?;
    // Its push subscription, delivered to this process.
    let (port, mut pushes) = push_endpoint().await?;
    let key = DeviceKey::generate().map_err(|e| e.to_string())?;
    let jwk = key.public_jwk();
    let point = [
        vec![4u8],
        b64d(jwk.get("x").and_then(Value::as_str).unwrap_or_default())?,
        b64d(jwk.get("y").and_then(Value::as_str).unwrap_or_default())?,
    ]
    .concat();
    setup::post_created(
        http,
        base,
        "/api/v1/push/subscriptions",
        Some(&ed),
        json!({"endpoint": format!("http://127.0.0.1:{port}/push/bench"),
               "keys": {"p256dh": b64e(&point), "auth": b64e(&[7u8; 16])}}),
    )
    .await?;
    // The ED watches its feed from now on.
    let resp = http
        .get(format!("{base}/api/v1/hospital/feed"))
        .bearer_auth(&ed)
        .timeout(Duration::from_secs(24 * 3600))
        .send()
        .await
        .map_err(|e| format!("feed: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("feed: HTTP {}", resp.status()));
    }
    let mut feed = Sse {
        resp,
        buf: String::new(),
    };
    let mut out = Measured::default();
    let per = plan.readings_per_incident.max(1);
    let (mut iid, mut version) = (String::new(), 0i64);
    for i in 0..plan.warmup + plan.iterations {
        if i % per == 0 {
            iid = new_incident(crew, card, &hid, &mut feed, &mut pushes, i / per, plan).await?;
            version = 1;
        }
        let path = format!("/api/v1/incidents/{iid}/reports");
        let req = crew
            .prepare_signed(
                Method::POST,
                &path,
                Some(&reading(version, i)),
                Some(ACCEPT_JSON),
            )
            .map_err(|e| e.to_string())?;
        let t0 = Instant::now();
        let resp = crew
            .send_prepared(&req)
            .await
            .map_err(|e| format!("report: {e}"))?;
        let status = resp.status();
        let _ = resp.bytes().await;
        let t_post = t0.elapsed();
        if status.as_u16() != 201 {
            out.errors
                .push(format!("report v{}: HTTP {status}", version + 1));
            continue;
        }
        version += 1;
        let until = t0 + plan.timeout;
        let sse = feed.wait("report_updated", &iid, version, until).await;
        let t_sse = t0.elapsed();
        let push = tokio::time::timeout(
            until.saturating_duration_since(Instant::now()),
            pushes.recv(),
        )
        .await;
        if i < plan.warmup {
            continue;
        }
        out.post.push(micros(t_post));
        match sse {
            Ok(()) => out.sse.push(micros(t_sse)),
            Err(e) => out.errors.push(format!("sse v{version}: {e}")),
        }
        match push {
            Ok(Some(at)) => out.push.push(micros(at.saturating_duration_since(t0))),
            _ => out.errors.push(format!("push v{version}: none in time")),
        }
    }
    out.post.sort_unstable();
    out.sse.sort_unstable();
    out.push.sort_unstable();
    Ok(out)
}

/// Scan, open, first report, inquiry (not timed); waits for the inquiry's event and push so the
/// next push is the next report's.
async fn new_incident(
    crew: &kyukit_field::Client,
    card: &str,
    hid: &str,
    feed: &mut Sse,
    pushes: &mut mpsc::UnboundedReceiver<Instant>,
    n: usize,
    plan: &Plan,
) -> Result<String, String> {
    let incident_ref = format!("BENCH-PREARRIVAL-{n}");
    let scan = crew
        .scan(card, &incident_ref)
        .await
        .map_err(|e| format!("scan: {e}"))?;
    let inc = crew
        .open_incident(&incident_ref, scan.get("access_id").and_then(Value::as_str))
        .await
        .map_err(|e| format!("open incident: {e}"))?;
    let iid = setup::field_str(&inc, "id", "incident")?;
    crew.send_report(&iid, &first_report())
        .await
        .map_err(|e| format!("first report: {e}"))?;
    crew.inquire(&iid, &[hid])
        .await
        .map_err(|e| format!("inquiry: {e}"))?;
    feed.wait("inquiry", &iid, 1, Instant::now() + plan.timeout)
        .await?;
    tokio::time::timeout(plan.timeout, pushes.recv())
        .await
        .map_err(|_| "no push for the inquiry: is the server started with loopback push endpoints allowed?")?;
    Ok(iid)
}

fn b64d(s: &str) -> Result<Vec<u8>, String> {
    data_encoding::BASE64URL_NOPAD
        .decode(s.as_bytes())
        .map_err(|e| format!("JWK: {e}"))
}

fn b64e(b: &[u8]) -> String {
    data_encoding::BASE64URL_NOPAD.encode(b)
}

fn pct(v: &[u64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)] as f64 / 1000.0
}

/// One table: what, samples, p50/p95/p99/max in ms.
pub fn table(m: &Measured, backend: &str) -> String {
    let mut s = String::from(
        "| backend | path | samples | p50 ms | p95 ms | p99 ms | max ms |\n|---|---|--:|--:|--:|--:|--:|\n",
    );
    for (name, v) in [
        ("report POST answered", &m.post),
        ("report POST → ED SSE event", &m.sse),
        ("report POST → push endpoint", &m.push),
    ] {
        s.push_str(&format!(
            "| {backend} | {name} | {} | {:.1} | {:.1} | {:.1} | {:.1} |\n",
            v.len(),
            pct(v, 0.50),
            pct(v, 0.95),
            pct(v, 0.99),
            v.last().map_or(f64::NAN, |x| *x as f64 / 1000.0)
        ));
    }
    s.push_str(&format!("errors: {}\n", m.errors.len()));
    for e in m.errors.iter().take(5) {
        s.push_str(&format!("  {e}\n"));
    }
    s
}
