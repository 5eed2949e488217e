//! `kyukit-bench national`: the national shape on one server (issue 22). Regions (one per
//! municipality when a municipalities file is given, else regions of one municipality), each with
//! a fire department and its crews and hospitals with ED staff; `--connections` live hospital
//! feeds (SSE over loopback) spread over the hospitals' ED sessions; crews posting pre-arrival
//! reports at a national rate and a burst rate, each report on an incident that asked
//! `--hospitals-per-incident` hospitals of its region. For every (report, feed of a hospital it
//! reaches) the time from the POST being sent to the event being read on that feed; every
//! expected event must arrive (a missing one is a failure). The server's RSS is sampled from
//! `/proc/PID/status` all along.
//!
//! Every hospital's feeds come from their own loopback address (127.20.x.y; all of 127/8 is
//! loopback on Linux), as hospitals come from their own addresses: the server's per-address
//! connection cap (`--connections-per-addr`, default 256) stays in force.
//!
//! The feed client is a small HTTP/1.1 reader on a raw socket (chunked body, SSE blocks), not
//! reqwest: 10,000 of them share the server's two cores, so each must cost little.

use crate::probe;
use crate::setup::{self, Ctx, field_str, post_created};
use kyukit_field::{ACCEPT_JSON, Client};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

#[derive(Debug, clap::Args)]
pub struct NationalArgs {
    /// Base URL of the server under test (`http://127.0.0.1:PORT`).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// The city administrator (used for every region unless `--municipalities` is given).
    #[arg(long, default_value = "admin")]
    pub admin_login: String,
    #[arg(long, env = "KYUKIT_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: String,
    #[arg(long, env = "KYUKIT_ADMIN_TOTP_SECRET", hide_env_values = true)]
    pub admin_totp_secret: String,
    /// One municipality per region: a JSON array of `{"code", "admin_login",
    /// "admin_password", "admin_totp_secret"}` (what `bench/national.sh` writes after
    /// `kyukit municipality create` and `kyukit admin create --municipality`).
    #[arg(long)]
    pub municipalities: Option<std::path::PathBuf>,
    /// Regions of the one municipality when there is no `--municipalities` file.
    #[arg(long, default_value_t = 40)]
    pub regions: usize,
    #[arg(long, default_value_t = 10)]
    pub hospitals_per_region: usize,
    /// ED staff accounts per hospital, one session each (several screens share a session).
    #[arg(long, default_value_t = 2)]
    pub ed_staff_per_hospital: usize,
    /// Paramedics with an enrolled device per region (each runs one incident at a time).
    #[arg(long, default_value_t = 2)]
    pub crews_per_region: usize,
    /// Hospitals each incident asks (受入照会), all in its region.
    #[arg(long, default_value_t = 3)]
    pub hospitals_per_incident: usize,
    /// Live hospital feeds held open, spread evenly over the hospitals and their sessions.
    #[arg(long, default_value_t = 10_000)]
    pub connections: usize,
    /// Feeds being opened at once.
    #[arg(long, default_value_t = 128)]
    pub connect_parallelism: usize,
    /// Longest wait for every feed to be open, in seconds.
    #[arg(long, default_value_t = 600)]
    pub connect_timeout: u64,
    /// Report rates of the measured phases, reports per second (open loop), in order.
    #[arg(long, value_delimiter = ',', default_value = "2,20")]
    pub rates: Vec<f64>,
    /// Seconds of each phase.
    #[arg(long, default_value_t = 30)]
    pub phase_secs: u64,
    /// Readings per incident before its crew starts a new incident (inquiry included).
    #[arg(long, default_value_t = 10)]
    pub readings_per_incident: usize,
    /// Longest wait for an expected event after its report, in seconds (later = missing).
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
    /// PID of the server: VmRSS/VmHWM sampled every 250 ms, CPU time per phase.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Label of the backend column (default: the server's from /metrics).
    #[arg(long)]
    pub backend_label: Option<String>,
    /// Requests in flight while building the world (password hashing makes it CPU bound).
    #[arg(long, default_value_t = 4)]
    pub setup_parallelism: usize,
    /// One JSON object (the whole run) instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// A region's administrator (one municipality's, or the one city's).
#[derive(Debug, Clone)]
struct Admin {
    code: Option<String>,
    login: String,
    password: String,
    totp_secret: String,
}

#[derive(Debug)]
struct Hospital {
    id: String,
    addr: Ipv4Addr,
    /// ED sessions (one per staff account).
    sessions: Vec<String>,
    /// Feeds opened on it.
    feeds: AtomicUsize,
}

#[derive(Debug)]
struct Region {
    crews: Vec<Client>,
    hospitals: Vec<usize>,
}

/// `?municipality=CODE` (login ids are per municipality), or nothing for the default one.
fn muni_query(code: Option<&str>) -> String {
    code.map(|c| format!("?municipality={c}"))
        .unwrap_or_default()
}

/// The loopback address hospital `h`'s feeds come from.
fn hospital_addr(h: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 20, (h / 250) as u8, (h % 250 + 1) as u8)
}

/// What one phase measured.
#[derive(Debug, Default)]
struct PhaseStats {
    /// Latency POST sent → event read, per (report, feed), microseconds.
    latencies: Vec<u64>,
    /// POST sent → 201 read, microseconds.
    posts: Vec<u64>,
    reports: u64,
    report_errors: BTreeCount,
    expected: u64,
    /// Reports the open-loop schedule could not start on time (every crew busy).
    late_starts: u64,
}

type BTreeCount = std::collections::BTreeMap<String, u64>;

/// A report in flight: when its POST was sent, its phase, and the feeds it must reach.
#[derive(Debug)]
struct Pending {
    sent: Instant,
    phase: usize,
    expected: u64,
    received: u64,
}

/// Shared by the feeds and the crews.
#[derive(Debug, Default)]
struct Board {
    /// (incident id, version) → the report.
    pending: Mutex<HashMap<(String, i64), Pending>>,
    phases: Mutex<Vec<PhaseStats>>,
    connected: AtomicUsize,
    ended: AtomicUsize,
    /// Crews working on a report (from the go to the answer).
    busy: AtomicUsize,
    /// Events read on feeds that no pending report expected (another event kind is not counted).
    unexpected: AtomicU64,
    feed_errors: Mutex<BTreeCount>,
}

impl Board {
    fn feed_error(&self, key: String) {
        let mut e = self.feed_errors.lock().unwrap_or_else(|p| p.into_inner());
        *e.entry(key).or_insert(0) += 1;
    }

    /// A `report_updated` event read on a feed.
    fn event(&self, incident: &str, version: i64, at: Instant) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let Some(p) = pending.get_mut(&(incident.to_string(), version)) else {
            self.unexpected.fetch_add(1, Ordering::Relaxed);
            return;
        };
        p.received += 1;
        let micros = u64::try_from(at.saturating_duration_since(p.sent).as_micros()).unwrap_or(0);
        let phase = p.phase;
        drop(pending);
        let mut phases = self.phases.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = phases.get_mut(phase) {
            s.latencies.push(micros);
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

pub fn run(args: NationalArgs) -> Result<(), String> {
    if args.connections == 0 || args.hospitals_per_region == 0 || args.ed_staff_per_hospital == 0 {
        return Err(
            "--connections, --hospitals-per-region and --ed-staff-per-hospital must be at least 1"
                .into(),
        );
    }
    if args.crews_per_region == 0 || args.rates.iter().any(|r| *r <= 0.0) {
        return Err("--crews-per-region and every --rates value must be above 0".into());
    }
    if args.hospitals_per_incident == 0 || args.hospitals_per_incident > args.hospitals_per_region {
        return Err("--hospitals-per-incident: 1 to --hospitals-per-region".into());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(national(args))
}

fn admins(args: &NationalArgs) -> Result<Vec<Admin>, String> {
    let Some(path) = &args.municipalities else {
        let one = Admin {
            code: None,
            login: args.admin_login.clone(),
            password: args.admin_password.clone(),
            totp_secret: args.admin_totp_secret.clone(),
        };
        return Ok(vec![one; args.regions.max(1)]);
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let list: Vec<Value> =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    list.iter()
        .map(|m| {
            let s = |k: &str| field_str(m, k, "municipalities file");
            Ok(Admin {
                code: Some(s("code")?),
                login: s("admin_login")?,
                password: s("admin_password")?,
                totp_secret: s("admin_totp_secret")?,
            })
        })
        .collect()
}

async fn national(args: NationalArgs) -> Result<(), String> {
    let base = args.server.trim_end_matches('/').to_string();
    let addr: SocketAddr = base
        .strip_prefix("http://")
        .ok_or("--server: http://ADDR:PORT")?
        .parse()
        .map_err(|e| format!("--server: {e}"))?;
    let http = setup::http_client(64)?;
    let backend = match &args.backend_label {
        Some(l) => l.clone(),
        None => probe::metrics(&http, &base)
            .await
            .and_then(|m| m.backend)
            .unwrap_or_else(|| "unknown".into()),
    };
    let admins = admins(&args)?;
    let n_regions = admins.len();
    let multi = admins.iter().any(|a| a.code.is_some());
    let rss_start = args.server_pid.and_then(probe::memory);
    let sampler = Sampler::start(args.server_pid);

    // The world.
    let started = Instant::now();
    let run = setup::run_id();
    let mut sessions: HashMap<String, String> = HashMap::new();
    let mut hospitals: Vec<Hospital> = Vec::new();
    let mut regions: Vec<Region> = Vec::new();
    for (r, admin) in admins.iter().enumerate() {
        let token = match sessions.get(&admin.login) {
            Some(t) => t.clone(),
            None => {
                let login = post_created(
                    &http,
                    &base,
                    &format!("/api/v1/sessions{}", muni_query(admin.code.as_deref())),
                    None,
                    json!({"login_id": admin.login, "password": admin.password,
                           "totp": setup::totp_now(&admin.totp_secret)?}),
                )
                .await
                .map_err(|e| format!("administrator {} login: {e}", admin.login))?;
                let t = field_str(&login, "token", "administrator login")?;
                sessions.insert(admin.login.clone(), t.clone());
                t
            }
        };
        let (region, hs) = build_region(
            &args,
            &http,
            &base,
            &run,
            &token,
            admin.code.as_deref(),
            r,
            hospitals.len(),
        )
        .await
        .map_err(|e| format!("region {r}: {e}"))?;
        hospitals.extend(hs);
        regions.push(region);
        eprintln!(
            "setup: region {}/{n_regions}{} ready ({:.0} s)",
            r + 1,
            admin
                .code
                .as_deref()
                .map(|c| format!(" (municipality {c})"))
                .unwrap_or_default(),
            started.elapsed().as_secs_f64()
        );
    }
    let setup_s = started.elapsed().as_secs_f64();

    // The feeds.
    let board = Arc::new(Board::default());
    let hospitals = Arc::new(hospitals);
    let t_connect = Instant::now();
    let permits = Arc::new(tokio::sync::Semaphore::new(args.connect_parallelism.max(1)));
    let host = addr.to_string();
    for i in 0..args.connections {
        let h = i % hospitals.len();
        let (board, hospitals, permits, host) = (
            board.clone(),
            hospitals.clone(),
            permits.clone(),
            host.clone(),
        );
        tokio::spawn(async move {
            let Some(hospital) = hospitals.get(h) else {
                return;
            };
            let n = hospital.feeds.fetch_add(1, Ordering::Relaxed);
            let token = hospital
                .sessions
                .get(n % hospital.sessions.len().max(1))
                .cloned()
                .unwrap_or_default();
            let permit = permits.acquire_owned().await.ok();
            feed(addr, hospital.addr, &host, &token, &board, permit).await;
        });
    }
    let deadline = t_connect + Duration::from_secs(args.connect_timeout);
    loop {
        let open = board.connected.load(Ordering::Relaxed);
        let ended = board.ended.load(Ordering::Relaxed);
        if open >= args.connections {
            break;
        }
        if ended > 0 || Instant::now() > deadline {
            return Err(format!(
                "feeds: {open} of {} open, {ended} ended or refused ({:?})",
                args.connections,
                board
                    .feed_errors
                    .lock()
                    .map(|e| e.clone())
                    .unwrap_or_default()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let connect_s = t_connect.elapsed().as_secs_f64();
    // The server's own count must agree (every stream registered, not just answered).
    let server_feeds = server_feed_clients(&http, &base).await;
    eprintln!(
        "feeds: {} open in {connect_s:.1} s (server counts {}); server RSS {}",
        args.connections,
        server_feeds.map_or("?".into(), |n| n.to_string()),
        args.server_pid
            .and_then(probe::memory)
            .map_or("?".into(), |m| format!(
                "{:.0} MiB",
                m.rss_kib as f64 / 1024.0
            ))
    );
    // Let the connection storm settle, then the idle reading.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = sampler.now();
    let loadavg_idle = loadavg();

    // Incidents and their first inquiries, then the measured phases.
    let per_incident = args.readings_per_incident.max(1);
    let mut crews = Vec::new();
    for (r, region) in regions.into_iter().enumerate() {
        for (k, crew) in region.crews.into_iter().enumerate() {
            crews.push(Crew {
                client: Arc::new(crew),
                region: r,
                index: k,
                hospitals: region.hospitals.clone(),
                incident: None,
                version: 0,
                readings: 0,
                incidents: 0,
            });
        }
    }
    let hospital_feeds: Arc<Vec<u64>> = Arc::new(
        hospitals
            .iter()
            .map(|h| h.feeds.load(Ordering::Relaxed) as u64)
            .collect(),
    );
    let hospital_ids: Arc<Vec<String>> = Arc::new(hospitals.iter().map(|h| h.id.clone()).collect());
    {
        let mut phases = board.phases.lock().unwrap_or_else(|p| p.into_inner());
        phases.extend(args.rates.iter().map(|_| PhaseStats::default()));
    }
    // One task per crew, started by the schedule.
    let mut go = Vec::new();
    let mut crew_tasks = Vec::new();
    for mut crew in crews {
        let (tx, mut rx) = mpsc::channel::<usize>(1);
        go.push(tx);
        let (board, feeds, ids) = (board.clone(), hospital_feeds.clone(), hospital_ids.clone());
        let (hpi, run) = (args.hospitals_per_incident, run.clone());
        crew_tasks.push(tokio::spawn(async move {
            while let Some(phase) = rx.recv().await {
                crew.report(phase, per_incident, hpi, &run, &ids, &feeds, &board)
                    .await;
                board.busy.fetch_sub(1, Ordering::SeqCst);
            }
        }));
    }
    let mut results = Vec::new();
    for (phase, &rate) in args.rates.iter().enumerate() {
        eprintln!(
            "phase {}: {rate} reports/s for {} s",
            phase + 1,
            args.phase_secs
        );
        let cpu0 = args
            .server_pid
            .and_then(|p| probe::cpu_seconds(&p.to_string()));
        let self0 = probe::cpu_seconds("self");
        let host0 = probe::host_cpu_seconds();
        sampler.reset_window();
        let t0 = Instant::now();
        let end = t0 + Duration::from_secs(args.phase_secs);
        let interval = Duration::from_secs_f64(1.0 / rate);
        let mut next = t0;
        let mut turn = 0usize;
        let mut late = 0u64;
        while next < end {
            tokio::time::sleep_until(next.into()).await;
            // The next free crew, round robin; none free is a late start (counted).
            let mut sent = false;
            for k in 0..go.len() {
                let i = (turn + k) % go.len();
                board.busy.fetch_add(1, Ordering::SeqCst);
                if let Some(tx) = go.get(i)
                    && tx.try_send(phase).is_ok()
                {
                    turn = i + 1;
                    sent = true;
                    break;
                }
                board.busy.fetch_sub(1, Ordering::SeqCst);
            }
            if !sent {
                late += 1;
            }
            next += interval;
        }
        let sched_end = Instant::now();
        // Every report of the phase answered and every expected event arrived, or the timeout.
        let wait_until = sched_end + Duration::from_secs(args.timeout);
        loop {
            let done = board.busy.load(Ordering::SeqCst) == 0 && {
                let pending = board.pending.lock().unwrap_or_else(|p| p.into_inner());
                pending
                    .values()
                    .filter(|p| p.phase == phase)
                    .all(|p| p.received >= p.expected)
            };
            if done || Instant::now() > wait_until {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // A POST still unanswered at the timeout is waited for (its events are then missing).
        while board.busy.load(Ordering::SeqCst) > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let window = sched_end.duration_since(t0).as_secs_f64().max(1e-3);
        let cpu = |a: Option<f64>, b: Option<f64>| Some((b? - a?) / window);
        let server_cpu = cpu(
            cpu0,
            args.server_pid
                .and_then(|p| probe::cpu_seconds(&p.to_string())),
        );
        let self_cpu = cpu(self0, probe::cpu_seconds("self"));
        let host_cpu = cpu(host0.map(|h| h.0), probe::host_cpu_seconds().map(|h| h.0));
        let mem = sampler.window();
        let load = loadavg();
        // Missing events: expected minus received, per report of this phase.
        let (missing, received, reports_missing) = {
            let mut pending = board.pending.lock().unwrap_or_else(|p| p.into_inner());
            let mut missing = 0u64;
            let mut received = 0u64;
            let mut reports_missing = 0u64;
            pending.retain(|_, p| {
                if p.phase != phase {
                    return true;
                }
                missing += p.expected.saturating_sub(p.received);
                received += p.received;
                if p.received < p.expected {
                    reports_missing += 1;
                }
                false
            });
            (missing, received, reports_missing)
        };
        let stats = {
            let mut phases = board.phases.lock().unwrap_or_else(|p| p.into_inner());
            phases
                .get_mut(phase)
                .map(std::mem::take)
                .unwrap_or_default()
        };
        results.push(PhaseResult {
            rate,
            window_s: window,
            stats: PhaseStats {
                late_starts: late,
                ..stats
            },
            received,
            missing,
            reports_missing,
            server_cpu,
            self_cpu,
            host_cpu,
            mem,
            loadavg: load,
        });
    }
    drop(go);
    for t in crew_tasks {
        let _ = t.await;
    }
    let feeds_open_after = board
        .connected
        .load(Ordering::Relaxed)
        .saturating_sub(board.ended.load(Ordering::Relaxed));
    let summary = Summary {
        backend,
        multi,
        regions: n_regions,
        hospitals: hospitals.len(),
        ed_sessions: hospitals.iter().map(|h| h.sessions.len()).sum(),
        crews: go_len(&args, n_regions),
        connections: args.connections,
        setup_s,
        connect_s,
        server_feeds,
        feeds_ended: board.ended.load(Ordering::Relaxed),
        feeds_open_after,
        unexpected: board.unexpected.load(Ordering::Relaxed),
        feed_errors: board
            .feed_errors
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default(),
        rss_start,
        idle,
        loadavg_idle,
        peak: sampler.peak(),
        client_rss: probe::memory(std::process::id()),
        phases: results,
        args_hospitals_per_incident: args.hospitals_per_incident,
    };
    if args.json {
        println!("{}", summary.to_json());
    } else {
        print!("{}", summary.table());
    }
    let lost: u64 = summary.phases.iter().map(|p| p.missing).sum();
    if lost > 0 || summary.feeds_ended > 0 {
        return Err(format!(
            "{lost} expected events never arrived, {} feeds ended during the run",
            summary.feeds_ended
        ));
    }
    Ok(())
}

fn go_len(args: &NationalArgs, regions: usize) -> usize {
    args.crews_per_region * regions
}

/// `kyukit_feed_clients` from /metrics.
async fn server_feed_clients(http: &reqwest::Client, base: &str) -> Option<i64> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("kyukit_feed_clients "))
        .and_then(|v| v.trim().parse().ok())
}

fn loadavg() -> Option<[f64; 3]> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    let v: Vec<f64> = s
        .split_whitespace()
        .take(3)
        .filter_map(|x| x.parse().ok())
        .collect();
    Some([*v.first()?, *v.get(1)?, *v.get(2)?])
}

/// A region: its fire department, crews (paramedic + enrolled device, logged in), hospitals and
/// their ED staff sessions.
#[allow(clippy::too_many_arguments)]
async fn build_region(
    args: &NationalArgs,
    http: &reqwest::Client,
    base: &str,
    run: &str,
    admin: &str,
    code: Option<&str>,
    r: usize,
    first_hospital: usize,
) -> Result<(Region, Vec<Hospital>), String> {
    let fd = post_created(
        http,
        base,
        "/api/v1/facilities",
        Some(admin),
        json!({"kind": "fire_department", "name_ja": format!("負荷試験消防本部 {run} 地域{r}"),
               "name_en": format!("Load test fire department {run} region {r}"),
               "address": "茨城県常総市水海道諏訪町3222-3", "phone": "0297-23-0119"}),
    )
    .await?;
    let ctx = Arc::new(Ctx {
        http: http.clone(),
        base: base.to_string(),
        run: format!("{run}-r{r}"),
        admin: admin.to_string(),
        facility: field_str(&fd, "id", "fire department")?,
    });
    let c = ctx.clone();
    let crews = setup::parallel(args.crews_per_region, args.setup_parallelism, move |i| {
        let c = c.clone();
        async move { setup::device(&c, i).await }
    })
    .await?;
    let (hpr, staff) = (args.hospitals_per_region, args.ed_staff_per_hospital);
    let c = ctx.clone();
    let query = muni_query(code);
    let hs = setup::parallel(hpr, args.setup_parallelism, move |i| {
        let (c, query) = (c.clone(), query.clone());
        async move { hospital(&c, &query, r, i, staff).await }
    })
    .await?;
    let hospitals = hs
        .into_iter()
        .enumerate()
        .map(|(i, (id, sessions))| Hospital {
            id,
            addr: hospital_addr(first_hospital + i),
            sessions,
            feeds: AtomicUsize::new(0),
        })
        .collect::<Vec<_>>();
    Ok((
        Region {
            crews,
            hospitals: (first_hospital..first_hospital + hospitals.len()).collect(),
        },
        hospitals,
    ))
}

/// Hospital `i` of region `r` and its ED staff, each logged in once.
async fn hospital(
    c: &Ctx,
    query: &str,
    r: usize,
    i: usize,
    staff: usize,
) -> Result<(String, Vec<String>), String> {
    let h = post_created(
        &c.http,
        &c.base,
        "/api/v1/facilities",
        Some(&c.admin),
        json!({"kind": "hospital", "name_ja": format!("負荷試験病院 {} 地域{r} 第{i}", c.run),
               "name_en": format!("Load test hospital {} region {r} no. {i}", c.run),
               "address": "茨城県常総市", "phone": "0297-23-0000"}),
    )
    .await?;
    let hid = field_str(&h, "id", "hospital")?;
    let mut sessions = Vec::new();
    for s in 0..staff {
        let login = format!("bench-{}-h{i}-ed{s}", c.run);
        let created = post_created(
            &c.http,
            &c.base,
            &format!("/api/v1/facilities/{hid}/staff"),
            Some(&c.admin),
            json!({"login_id": login, "password": setup::MEDIC_PASSWORD, "role": "ed_staff",
                   "display_name": format!("救急外来 {s}")}),
        )
        .await?;
        let secret = created
            .get("totp")
            .and_then(|t| t.get("secret"))
            .and_then(Value::as_str)
            .ok_or("ED staff: no totp secret")?;
        let session = post_created(
            &c.http,
            &c.base,
            &format!("/api/v1/sessions{query}"),
            None,
            json!({"login_id": login, "password": setup::MEDIC_PASSWORD,
                   "totp": setup::totp_now(secret)?}),
        )
        .await?;
        sessions.push(field_str(&session, "token", "ED login")?);
    }
    Ok((hid, sessions))
}

/// A crew: one incident at a time, `per_incident` readings each.
struct Crew {
    client: Arc<Client>,
    region: usize,
    index: usize,
    hospitals: Vec<usize>,
    incident: Option<(String, Vec<usize>)>,
    version: i64,
    readings: usize,
    incidents: usize,
}

impl Crew {
    #[allow(clippy::too_many_arguments)]
    async fn report(
        &mut self,
        phase: usize,
        per_incident: usize,
        hospitals_per_incident: usize,
        run: &str,
        ids: &[String],
        feeds: &[u64],
        board: &Board,
    ) {
        if self.incident.is_none() || self.readings >= per_incident {
            match self.open(hospitals_per_incident, run, ids).await {
                Ok(()) => {}
                Err(e) => {
                    record_error(board, phase, format!("new incident: {e}"));
                    return;
                }
            }
        }
        let Some((iid, targets)) = self.incident.clone() else {
            return;
        };
        let path = format!("/api/v1/incidents/{iid}/reports");
        let body = json!({"base_version": self.version,
                          "vitals": {"heart_rate": 100 + self.readings % 40, "spo2": 86 + self.readings % 10}});
        let req =
            match self
                .client
                .prepare_signed(Method::POST, &path, Some(&body), Some(ACCEPT_JSON))
            {
                Ok(r) => r,
                Err(e) => {
                    record_error(board, phase, format!("sign: {e}"));
                    return;
                }
            };
        let version = self.version + 1;
        let expected: u64 = targets.iter().filter_map(|h| feeds.get(*h)).sum();
        let key = (iid.clone(), version);
        let sent = Instant::now();
        board
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                key.clone(),
                Pending {
                    sent,
                    phase,
                    expected,
                    received: 0,
                },
            );
        let result = self.client.send_prepared(&req).await;
        let status = match result {
            Ok(resp) => {
                let s = resp.status().as_u16();
                let _ = resp.bytes().await;
                Ok(s)
            }
            Err(e) => Err(e.to_string()),
        };
        let took = micros(sent.elapsed());
        let mut phases = board.phases.lock().unwrap_or_else(|p| p.into_inner());
        let Some(s) = phases.get_mut(phase) else {
            return;
        };
        s.posts.push(took);
        s.reports += 1;
        match status {
            Ok(201) => {
                s.expected += expected;
                self.version = version;
                self.readings += 1;
            }
            other => {
                let k = match other {
                    Ok(code) => format!("HTTP {code}"),
                    Err(e) => format!("transport: {e}"),
                };
                *s.report_errors.entry(k).or_insert(0) += 1;
                drop(phases);
                board
                    .pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&key);
                // Start over on a new incident.
                self.incident = None;
            }
        }
    }

    /// Opens an incident, its first report and the inquiry to hospitals of the region.
    async fn open(&mut self, k: usize, run: &str, ids: &[String]) -> Result<(), String> {
        let n = self.incidents;
        self.incidents += 1;
        let reference = format!("NATIONAL-{run}-{}-{}-{n}", self.region, self.index);
        let inc = self
            .client
            .open_incident(&reference, None)
            .await
            .map_err(|e| e.to_string())?;
        let iid = field_str(&inc, "id", "incident")?;
        self.client
            .send_report(&iid, &crate::prearrival::first_report())
            .await
            .map_err(|e| e.to_string())?;
        // k consecutive hospitals of the region, starting at a different one each incident.
        let start = (self.index * 7 + n * 3) % self.hospitals.len().max(1);
        let targets: Vec<usize> = (0..k)
            .filter_map(|j| {
                self.hospitals
                    .get((start + j) % self.hospitals.len())
                    .copied()
            })
            .collect();
        let target_ids: Vec<&str> = targets
            .iter()
            .filter_map(|h| ids.get(*h).map(String::as_str))
            .collect();
        self.client
            .inquire(&iid, &target_ids)
            .await
            .map_err(|e| e.to_string())?;
        self.incident = Some((iid, targets));
        self.version = 1;
        self.readings = 0;
        Ok(())
    }
}

fn record_error(board: &Board, phase: usize, e: String) {
    let key = e.split(':').next().unwrap_or("error").to_string();
    eprintln!("  crew error: {e}");
    let mut phases = board.phases.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = phases.get_mut(phase) {
        *s.report_errors.entry(key).or_insert(0) += 1;
    }
}

/// One hospital feed: connect from the hospital's address, `GET /api/v1/hospital/feed`, then
/// read SSE events until the run ends. `report_updated` events go to the board.
async fn feed(
    server: SocketAddr,
    from: Ipv4Addr,
    host: &str,
    token: &str,
    board: &Board,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
) {
    let fail = |key: &str| {
        board.feed_error(key.to_string());
        board.ended.fetch_add(1, Ordering::Relaxed);
    };
    let socket = match tokio::net::TcpSocket::new_v4() {
        Ok(s) => s,
        Err(_) => return fail("socket"),
    };
    if socket.bind(SocketAddr::new(IpAddr::V4(from), 0)).is_err() {
        return fail("bind");
    }
    let mut stream = match socket.connect(server).await {
        Ok(s) => s,
        Err(_) => return fail("connect"),
    };
    let request = format!(
        "GET /api/v1/hospital/feed HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).await.is_err() {
        return fail("write");
    }
    let mut raw: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    // The head.
    let body_start = loop {
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return fail("head"),
            Ok(n) => raw.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
    };
    let head =
        String::from_utf8_lossy(raw.get(..body_start).unwrap_or_default()).to_ascii_lowercase();
    if !head.starts_with("http/1.1 200") {
        let status = head.lines().next().unwrap_or("").to_string();
        return fail(&format!("status {status}"));
    }
    let chunked = head.contains("transfer-encoding: chunked");
    raw.drain(..body_start);
    let mut sse = String::new();
    let mut connected = false;
    drop(permit);
    loop {
        // De-chunk what we have.
        if chunked {
            while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(raw.get(..eol).unwrap_or_default()).to_string();
                let size_hex = line.split(';').next().unwrap_or("").trim();
                let Ok(size) = usize::from_str_radix(size_hex, 16) else {
                    return fail("chunk size");
                };
                if size == 0 {
                    return fail("feed ended");
                }
                if raw.len() < eol + 2 + size + 2 {
                    break;
                }
                sse.push_str(&String::from_utf8_lossy(
                    raw.get(eol + 2..eol + 2 + size).unwrap_or_default(),
                ));
                raw.drain(..eol + 2 + size + 2);
            }
        } else {
            sse.push_str(&String::from_utf8_lossy(&raw));
            raw.clear();
        }
        let now = Instant::now();
        while let Some(end) = sse.find("\n\n") {
            let block: String = sse.drain(..end + 2).collect();
            if !connected && block.contains(": connected at") {
                connected = true;
                board.connected.fetch_add(1, Ordering::Relaxed);
            }
            let mut event = None;
            let mut data = None;
            for l in block.lines() {
                if let Some(e) = l.strip_prefix("event: ") {
                    event = Some(e);
                } else if let Some(d) = l.strip_prefix("data: ") {
                    data = Some(d);
                }
            }
            if event == Some("session_ended") {
                return fail("session ended");
            }
            if event == Some("report_updated")
                && let Some(d) = data.and_then(|d| serde_json::from_str::<Value>(d).ok())
                && let (Some(i), Some(v)) = (
                    d.get("incident_id").and_then(Value::as_str),
                    d.get("version").and_then(Value::as_i64),
                )
            {
                board.event(i, v, now);
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return fail("closed"),
            Ok(n) => raw.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
        if sse.capacity() > 8192 && sse.is_empty() {
            sse.shrink_to(256);
        }
        if raw.capacity() > 8192 && raw.is_empty() {
            raw.shrink_to(256);
        }
    }
}

/// The server's memory, sampled every 250 ms: the peak over the run and over the current window.
#[derive(Debug, Clone)]
struct Sampler {
    pid: Option<u32>,
    state: Arc<Mutex<SamplerState>>,
}

#[derive(Debug, Default)]
struct SamplerState {
    peak_rss_kib: u64,
    window_peak_kib: u64,
    window_sum_kib: u64,
    window_n: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct MemWindow {
    peak_rss_mib: f64,
    mean_rss_mib: f64,
    hwm_mib: f64,
}

impl Sampler {
    fn start(pid: Option<u32>) -> Sampler {
        let s = Sampler {
            pid,
            state: Arc::default(),
        };
        if let Some(pid) = pid {
            let state = s.state.clone();
            tokio::spawn(async move {
                loop {
                    if let Some(m) = probe::memory(pid) {
                        let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
                        st.peak_rss_kib = st.peak_rss_kib.max(m.rss_kib);
                        st.window_peak_kib = st.window_peak_kib.max(m.rss_kib);
                        st.window_sum_kib += m.rss_kib;
                        st.window_n += 1;
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            });
        }
        s
    }

    fn reset_window(&self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.window_peak_kib = 0;
        st.window_sum_kib = 0;
        st.window_n = 0;
    }

    fn window(&self) -> Option<MemWindow> {
        let m = probe::memory(self.pid?)?;
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        Some(MemWindow {
            peak_rss_mib: st.window_peak_kib.max(m.rss_kib) as f64 / 1024.0,
            mean_rss_mib: if st.window_n > 0 {
                st.window_sum_kib as f64 / st.window_n as f64 / 1024.0
            } else {
                m.rss_kib as f64 / 1024.0
            },
            hwm_mib: m.hwm_kib as f64 / 1024.0,
        })
    }

    fn now(&self) -> Option<probe::Memory> {
        probe::memory(self.pid?)
    }

    fn peak(&self) -> Option<(f64, f64)> {
        let m = probe::memory(self.pid?)?;
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        Some((
            st.peak_rss_kib.max(m.rss_kib) as f64 / 1024.0,
            m.hwm_kib as f64 / 1024.0,
        ))
    }
}

#[derive(Debug)]
struct PhaseResult {
    rate: f64,
    window_s: f64,
    stats: PhaseStats,
    received: u64,
    missing: u64,
    reports_missing: u64,
    server_cpu: Option<f64>,
    self_cpu: Option<f64>,
    host_cpu: Option<f64>,
    mem: Option<MemWindow>,
    loadavg: Option<[f64; 3]>,
}

#[derive(Debug)]
struct Summary {
    backend: String,
    multi: bool,
    regions: usize,
    hospitals: usize,
    ed_sessions: usize,
    crews: usize,
    connections: usize,
    setup_s: f64,
    connect_s: f64,
    server_feeds: Option<i64>,
    feeds_ended: usize,
    feeds_open_after: usize,
    unexpected: u64,
    feed_errors: BTreeCount,
    rss_start: Option<probe::Memory>,
    idle: Option<probe::Memory>,
    loadavg_idle: Option<[f64; 3]>,
    peak: Option<(f64, f64)>,
    client_rss: Option<probe::Memory>,
    phases: Vec<PhaseResult>,
    args_hospitals_per_incident: usize,
}

/// Nearest-rank percentile of sorted microseconds, in milliseconds.
fn pct_ms(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.clamp(1, sorted.len()) - 1)
        .map_or(f64::NAN, |v| *v as f64 / 1000.0)
}

fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn mib(m: Option<probe::Memory>) -> Option<f64> {
    m.map(|m| r3(m.rss_kib as f64 / 1024.0))
}

impl Summary {
    fn world(&self) -> String {
        format!(
            "{} {}, {} hospitals, {} ED sessions, {} crews, {} feeds, {} hospitals per incident",
            self.regions,
            if self.multi {
                "municipalities"
            } else {
                "regions of one municipality"
            },
            self.hospitals,
            self.ed_sessions,
            self.crews,
            self.connections,
            self.args_hospitals_per_incident
        )
    }

    fn to_json(&self) -> Value {
        let phases: Vec<Value> = self
            .phases
            .iter()
            .map(|p| {
                let mut lat = p.stats.latencies.clone();
                lat.sort_unstable();
                let mut posts = p.stats.posts.clone();
                posts.sort_unstable();
                json!({
                    "rate_per_s": p.rate,
                    "window_s": r3(p.window_s),
                    "reports": p.stats.reports,
                    "report_errors": p.stats.report_errors,
                    "late_starts": p.stats.late_starts,
                    "events_expected": p.stats.expected,
                    "events_received": p.received,
                    "events_missing": p.missing,
                    "reports_with_missing_events": p.reports_missing,
                    "latency_ms": {
                        "p50": r3(pct_ms(&lat, 50.0)), "p95": r3(pct_ms(&lat, 95.0)),
                        "p99": r3(pct_ms(&lat, 99.0)), "max": lat.last().map(|x| r3(*x as f64 / 1000.0)),
                    },
                    "post_ms": {
                        "p50": r3(pct_ms(&posts, 50.0)), "p99": r3(pct_ms(&posts, 99.0)),
                        "max": posts.last().map(|x| r3(*x as f64 / 1000.0)),
                    },
                    "server_rss_mib": p.mem.map(|m| json!({"mean": r3(m.mean_rss_mib), "peak": r3(m.peak_rss_mib), "hwm": r3(m.hwm_mib)})),
                    "server_cpu_cores": p.server_cpu.map(r3),
                    "bench_cpu_cores": p.self_cpu.map(r3),
                    "host_cpu_cores": p.host_cpu.map(r3),
                    "loadavg": p.loadavg,
                })
            })
            .collect();
        json!({
            "bench": "national",
            "backend": self.backend,
            "world": self.world(),
            "municipalities": if self.multi { Some(self.regions) } else { None },
            "regions": self.regions,
            "hospitals": self.hospitals,
            "ed_sessions": self.ed_sessions,
            "crews": self.crews,
            "connections": self.connections,
            "server_feed_clients": self.server_feeds,
            "setup_s": r3(self.setup_s),
            "connect_s": r3(self.connect_s),
            "feeds_ended": self.feeds_ended,
            "feeds_open_after": self.feeds_open_after,
            "feed_errors": self.feed_errors,
            "unexpected_events": self.unexpected,
            "server_rss_mib": {
                "start": mib(self.rss_start),
                "idle_with_feeds": mib(self.idle),
                "peak": self.peak.map(|p| r3(p.0)),
                "hwm": self.peak.map(|p| r3(p.1)),
            },
            "bench_rss_mib": mib(self.client_rss),
            "bench_hwm_mib": self.client_rss.map(|m| r3(m.hwm_kib as f64 / 1024.0)),
            "loadavg_idle": self.loadavg_idle,
            "phases": phases,
        })
    }

    fn table(&self) -> String {
        let mut s = format!(
            "national shape ({}): {}\nsetup {:.0} s; {} feeds open in {:.1} s (server counts {}); server RSS start {} MiB, with feeds idle {} MiB, peak {} MiB (VmHWM {} MiB); bench RSS {} MiB\n",
            self.backend,
            self.world(),
            self.setup_s,
            self.connections,
            self.connect_s,
            self.server_feeds.map_or("?".into(), |n| n.to_string()),
            fmt_opt(mib(self.rss_start)),
            fmt_opt(mib(self.idle)),
            fmt_opt(self.peak.map(|p| p.0)),
            fmt_opt(self.peak.map(|p| p.1)),
            fmt_opt(mib(self.client_rss)),
        );
        s.push_str("| reports/s | reports | errors | late | events expected | received | missing | p50 ms | p95 ms | p99 ms | max ms | POST p99 ms | server RSS mean (peak) MiB | server CPU | bench CPU | host CPU | load avg |\n|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
        for p in &self.phases {
            let mut lat = p.stats.latencies.clone();
            lat.sort_unstable();
            let mut posts = p.stats.posts.clone();
            posts.sort_unstable();
            let errors: u64 = p.stats.report_errors.values().sum();
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {} | {} |\n",
                p.rate,
                p.stats.reports,
                errors,
                p.stats.late_starts,
                p.stats.expected,
                p.received,
                p.missing,
                pct_ms(&lat, 50.0),
                pct_ms(&lat, 95.0),
                pct_ms(&lat, 99.0),
                lat.last().map_or(f64::NAN, |x| *x as f64 / 1000.0),
                pct_ms(&posts, 99.0),
                p.mem.map_or("-".into(), |m| format!("{:.0} ({:.0})", m.mean_rss_mib, m.peak_rss_mib)),
                fmt_opt(p.server_cpu),
                fmt_opt(p.self_cpu),
                fmt_opt(p.host_cpu),
                p.loadavg.map_or("-".into(), |l| format!("{:.2}", l[0])),
            ));
            for (k, n) in &p.stats.report_errors {
                s.push_str(&format!("  report error {k}: {n}\n"));
            }
        }
        if !self.feed_errors.is_empty() || self.unexpected > 0 {
            s.push_str(&format!(
                "feed errors: {:?}; events nobody expected: {}\n",
                self.feed_errors, self.unexpected
            ));
        }
        s
    }
}

fn fmt_opt(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |x| format!("{x:.2}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hospital_addresses_are_distinct_loopback() {
        let a: std::collections::HashSet<Ipv4Addr> = (0..5000).map(hospital_addr).collect();
        assert_eq!(a.len(), 5000);
        assert!(a.iter().all(|x| x.is_loopback()));
    }

    #[test]
    fn percentiles_in_ms() {
        let v: Vec<u64> = (1..=100).map(|x| x * 1000).collect();
        assert_eq!(pct_ms(&v, 50.0), 50.0);
        assert_eq!(pct_ms(&v, 99.0), 99.0);
    }
}
