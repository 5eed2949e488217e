//! `kyukit-bench failover`: PostgreSQL failover under load (issue 23), driven by
//! `bench/failover.sh`, which runs a pg_auto_failover monitor, a primary and a synchronous
//! standby on loopback and calls this with the multi-host URL
//! (`postgres://…@127.0.0.1:P1,127.0.0.1:P2/kyukit?target_session_attrs=read-write`).
//!
//! Two `kyukit serve` instances on that URL (one data directory: the same keys). The world (a
//! fire department, enrolled devices, residents with cards, a hospital with an ED staff member)
//! is built once. An ED watches the hospital feed (SSE) on instance B, reconnecting with
//! `Last-Event-ID` as a browser's `EventSource` does. Each cycle:
//!
//! 1. `--writers` tasks of mixed writes (signed scans, dataset items added and deleted, consent
//!    re-grants — `crash::writer`), half on each instance, recording every write answered 2xx;
//! 2. after `--before-ms`, `failover.sh kill-primary` kills -9 the primary node (its pg_autoctl
//!    and its postmaster);
//! 3. the writers go on; once the monitor reports the other node primary and writes are
//!    acknowledged again, `--after-ms` more, then the writers stop. The **time without writes**
//!    is the longest interval between two acknowledgements (sampled every 10 ms) in the cycle;
//! 4. the pre-arrival probe: on instance A a crew scans, opens an incident, reports and asks the
//!    hospital; the ED's stream on B must deliver the `inquiry` (the feed resumed);
//! 5. every acknowledged write of the cycle is looked up on the new primary (`psql` with the
//!    multi-host URL): a missing one is a **lost write**;
//! 6. `failover.sh rejoin` restarts the old primary's pg_autoctl: it rejoins as the standby
//!    (`pg_rewind`), and the next cycle kills the other node;
//! 7. every `--check-every` cycles and after the last: `kyukit audit verify` and `amcheck`.
//!
//! Refusals during the outage are counted by status and code: a 500 is a failure (a failover
//! must answer 503 with `Retry-After`). Prints one line per cycle and a JSON summary
//! (`--json`); exits non-zero on a lost write, a 500, a failed check or a feed that did not resume.

use crate::crash::{self, Acked, CrashArgs, Flags, Rng, Run, Server};
use crate::setup::{self, SetupParams, World};
use kyukit_field::Client;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct FailoverArgs {
    /// The `kyukit` binary under test.
    #[arg(long, default_value = "target/debug/kyukit")]
    pub kyukit: PathBuf,
    /// bench/failover.sh (its subcommands drive the cluster).
    #[arg(long, default_value = "bench/failover.sh")]
    pub script: PathBuf,
    /// The cluster's directory (`failover.sh up DIR`).
    #[arg(long)]
    pub cluster: PathBuf,
    /// The multi-host URL `failover.sh up` printed.
    #[arg(long)]
    pub database_url: String,
    /// Data directory of both instances (created).
    #[arg(long)]
    pub data_dir: PathBuf,
    #[arg(long, default_value_t = 20)]
    pub cycles: usize,
    #[arg(long, default_value_t = 8)]
    pub writers: usize,
    #[arg(long, default_value_t = 4)]
    pub devices: usize,
    #[arg(long, default_value_t = 8)]
    pub residents: usize,
    /// Writes before the kill, milliseconds.
    #[arg(long, default_value_t = 3000)]
    pub before_ms: u64,
    /// Writes after they resumed, milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub after_ms: u64,
    /// Longest wait for writes to resume after a kill, seconds (then the cycle fails).
    #[arg(long, default_value_t = 180)]
    pub max_outage_s: u64,
    /// `kyukit audit verify` and `amcheck` every N cycles (and after the last).
    #[arg(long, default_value_t = 5)]
    pub check_every: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the summary as one JSON object too.
    #[arg(long)]
    pub json: bool,
}

fn script(args: &FailoverArgs, cmd: &[&str]) -> Result<String, String> {
    let out = Command::new("bash")
        .arg(&args.script)
        .args(cmd)
        .output()
        .map_err(|e| format!("{}: {e}", args.script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "failover.sh {}: {}",
            cmd.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The ED's feed on one instance, reconnecting with `Last-Event-ID` after an error or the end of
/// a stream; every event's data is pushed to `seen`.
async fn feed(
    http: reqwest::Client,
    base: String,
    token: String,
    seen: Arc<Mutex<Vec<(String, Value, Instant)>>>,
    reconnects: Arc<Mutex<u64>>,
    stop: Arc<AtomicBool>,
) {
    let mut last_id: Option<String> = None;
    while !stop.load(Ordering::Relaxed) {
        let mut req = http
            .get(format!("{base}/api/v1/hospital/feed"))
            .bearer_auth(&token)
            .timeout(Duration::from_secs(24 * 3600));
        if let Some(id) = &last_id {
            req = req.header("Last-Event-ID", id);
        }
        let resp = match req.send().await {
            Ok(r) if r.status().is_success() => r,
            _ => {
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let mut resp = resp;
        let mut buf = String::new();
        loop {
            match tokio::time::timeout(Duration::from_millis(500), resp.chunk()).await {
                Ok(Ok(Some(b))) => buf.push_str(&String::from_utf8_lossy(&b)),
                Ok(_) => break,
                Err(_) => {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    continue;
                }
            }
            while let Some(end) = buf.find("\n\n") {
                let block: String = buf.drain(..end + 2).collect();
                if let Some(id) = block.lines().find_map(|l| l.strip_prefix("id: ")) {
                    last_id = Some(id.to_string());
                }
                let event = block.lines().find_map(|l| l.strip_prefix("event: "));
                let data = block
                    .lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .and_then(|d| serde_json::from_str::<Value>(d).ok());
                if let (Some(e), Some(d)) = (event, data) {
                    seen.lock().unwrap_or_else(|p| p.into_inner()).push((
                        e.to_string(),
                        d,
                        Instant::now(),
                    ));
                }
            }
        }
        *reconnects.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Retries `f` (a probe step after the failover) on errors for up to 30 s.
async fn retrying<T, F, Fut>(what: &str, f: F) -> Result<T, String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, kyukit_field::Error>>,
{
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() < until => {
                eprintln!("  probe {what}: {e}; again");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(format!("{what}: {e}")),
        }
    }
}

/// The pre-arrival probe: a crew on instance A opens an incident, reports and asks the hospital;
/// returns the incident id (its inquiry must reach the ED's stream on B).
async fn probe(crew: &Client, card: &str, hid: &str, n: usize) -> Result<String, String> {
    let incident_ref = format!("FAILOVER-{n}");
    let scan = retrying("scan", || crew.scan(card, &incident_ref)).await?;
    let access = scan
        .get("access_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    let inc = retrying("open", || {
        crew.open_incident(&incident_ref, access.as_deref())
    })
    .await?;
    let iid = setup::field_str(&inc, "id", "incident")?;
    let report = crate::prearrival::first_report();
    retrying("report", || crew.send_report(&iid, &report)).await?;
    let hospitals = [hid];
    retrying("inquiry", || crew.inquire(&iid, &hospitals)).await?;
    Ok(iid)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub fn run(args: FailoverArgs) -> Result<(), String> {
    let mut dir = std::fs::DirBuilder::new();
    dir.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut dir, 0o700);
    dir.create(&args.data_dir).map_err(|e| e.to_string())?;
    let crash_args = CrashArgs {
        kyukit: args.kyukit.clone(),
        data_dir: args.data_dir.clone(),
        database_url: Some(args.database_url.clone()),
        cycles: args.cycles,
        writers: args.writers,
        devices: args.devices,
        residents: args.residents,
        min_ms: 0,
        max_ms: 0,
        check_every: args.check_every,
        report_every: 1,
        seed: args.seed,
    };
    let instance = |name: &str| -> Result<Run<'_>, String> {
        let port = crash::free_port()?;
        Ok(Run {
            args: &crash_args,
            port,
            base: format!("http://127.0.0.1:{port}"),
            log: args.data_dir.join(format!("server-{name}.log")),
        })
    };
    let (run_a, run_b) = (instance("a")?, instance("b")?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let totp = crash::admin_create(&run_a)?;
    let http = setup::http_client(args.writers)?;
    let mut server_a: Server = run_a.start(&runtime, &http)?;
    let mut server_b: Server = run_b.start(&runtime, &http)?;
    let params = SetupParams {
        admin_login: "admin".into(),
        admin_password: crash::ADMIN_PASSWORD.into(),
        admin_totp_secret: totp,
        devices: args.devices,
        residents: args.residents,
        setup_parallelism: 4,
    };
    let world_a = Arc::new(runtime.block_on(setup::build(&params, &http, &run_a.base))?);
    // The same devices, sessions and residents, talking to instance B.
    let world_b = Arc::new(World {
        clients: world_a
            .clients
            .iter()
            .map(|c| {
                let mut b = Client::new(&run_b.base, c.key().clone()).map_err(|e| e.to_string())?;
                b.set_device_id(c.device_id().map(str::to_string));
                b.set_session(c.session().map(str::to_string));
                Ok(b)
            })
            .collect::<Result<Vec<_>, String>>()?,
        cards: world_a.cards.clone(),
        admin: world_a.admin.clone(),
        run: world_a.run.clone(),
        residents: world_a.residents.clone(),
    });
    // The hospital, its ED staff member, and the ED's feed on B.
    let (hid, ed) = runtime.block_on(async {
        let base = &run_a.base;
        let hospital = setup::post_created(
            &http,
            base,
            "/api/v1/facilities",
            Some(&world_a.admin),
            json!({"kind": "hospital", "name_ja": "フェイルオーバー試験病院",
                   "name_en": "Failover test hospital", "address": "茨城県常総市", "phone": "0297-23-0000"}),
        )
        .await?;
        let hid = setup::field_str(&hospital, "id", "hospital")?;
        let staff = setup::post_created(
            &http,
            base,
            &format!("/api/v1/facilities/{hid}/staff"),
            Some(&world_a.admin),
            json!({"login_id": "failover-ed", "password": setup::MEDIC_PASSWORD, "role": "ed_staff",
                   "display_name": "救急外来 看護師"}),
        )
        .await?;
        let secret = staff
            .get("totp")
            .and_then(|t| t.get("secret"))
            .and_then(Value::as_str)
            .ok_or("ED staff: no totp secret")?;
        let session = setup::post_created(
            &http,
            base,
            "/api/v1/sessions",
            None,
            json!({"login_id": "failover-ed", "password": setup::MEDIC_PASSWORD,
                   "totp": setup::totp_now(secret)?}),
        )
        .await?;
        Ok::<_, String>((hid, setup::field_str(&session, "token", "ED login")?))
    })?;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let reconnects = Arc::new(Mutex::new(0u64));
    let feed_stop = Arc::new(AtomicBool::new(false));
    let feed_task = runtime.spawn(feed(
        http.clone(),
        run_b.base.clone(),
        ed,
        seen.clone(),
        reconnects.clone(),
        feed_stop.clone(),
    ));
    eprintln!(
        "failover: 2 instances ({} and {}), {} devices, {} residents, {} writers, {} cycles; logs in {}",
        run_a.base,
        run_b.base,
        world_a.clients.len(),
        world_a.residents.len(),
        args.writers,
        args.cycles,
        args.data_dir.display()
    );
    let mut rng = Rng(args.seed);
    let started = Instant::now();
    let mut outages: Vec<f64> = Vec::new();
    let mut feed_resumed: Vec<f64> = Vec::new();
    let mut totals: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut refused_total: BTreeMap<String, u64> = BTreeMap::new();
    let (mut lost_total, mut checks, mut checks_failed) = (0usize, 0usize, 0usize);
    let mut failures: Vec<String> = Vec::new();
    let mut last_check = String::new();
    let mut killed_nodes = Vec::new();
    let mut promoted_after: Vec<f64> = Vec::new();
    for cycle in 1..=args.cycles {
        let flags = Flags {
            stop: Arc::new(AtomicBool::new(false)),
            killing: Arc::new(AtomicBool::new(true)),
            count_all: true,
        };
        let acked = Arc::new(Mutex::new(Vec::new()));
        let tasks: Vec<_> = (0..args.writers)
            .map(|w| {
                let (world, base) = if w % 2 == 0 {
                    (world_a.clone(), run_a.base.clone())
                } else {
                    (world_b.clone(), run_b.base.clone())
                };
                runtime.spawn(crash::writer(
                    w,
                    world,
                    http.clone(),
                    base,
                    Rng(rng.next()),
                    cycle,
                    flags.clone(),
                    acked.clone(),
                ))
            })
            .collect();
        let count = || acked.lock().unwrap_or_else(|p| p.into_inner()).len();
        // Acknowledgements sampled every 10 ms: the longest interval without one.
        let mut last_len = 0usize;
        let mut last_ack = Instant::now();
        let mut longest = Duration::ZERO;
        let sample = |last_len: &mut usize, last_ack: &mut Instant, longest: &mut Duration| {
            let n = count();
            let now = Instant::now();
            if n != *last_len {
                *longest = (*longest).max(now - *last_ack);
                *last_len = n;
                *last_ack = now;
            }
        };
        let until = Instant::now() + Duration::from_millis(args.before_ms);
        while Instant::now() < until {
            sample(&mut last_len, &mut last_ack, &mut longest);
            std::thread::sleep(Duration::from_millis(10));
        }
        let before = count();
        let old = script(&args, &["primary"])?;
        let killed = script(
            &args,
            &["kill-primary", &args.cluster.display().to_string()],
        )?;
        let t_kill = Instant::now();
        killed_nodes.push(killed.clone());
        // Until the other node is primary and writes are acknowledged again.
        let mut promoted: Option<Instant> = None;
        let mut resumed: Option<Instant> = None;
        let mut polled = Instant::now();
        loop {
            sample(&mut last_len, &mut last_ack, &mut longest);
            if promoted.is_none() && polled.elapsed() > Duration::from_millis(250) {
                polled = Instant::now();
                if let Ok(p) = script(&args, &["primary"])
                    && !p.is_empty()
                    && p != old
                {
                    promoted = Some(Instant::now());
                }
            }
            if let Some(p) = promoted
                && resumed.is_none()
                && last_ack > p
            {
                resumed = Some(last_ack);
            }
            if let Some(r) = resumed
                && r.elapsed() > Duration::from_millis(args.after_ms)
            {
                break;
            }
            if t_kill.elapsed() > Duration::from_secs(args.max_outage_s) {
                failures.push(format!(
                    "cycle {cycle}: writes did not resume within {} s",
                    args.max_outage_s
                ));
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if let Some(p) = promoted {
            promoted_after.push((p - t_kill).as_secs_f64());
        }
        flags.stop.store(true, Ordering::Relaxed);
        for t in tasks {
            let refused = runtime.block_on(t).map_err(|e| format!("writer: {e}"))?;
            for (k, n) in refused {
                *refused_total.entry(k).or_insert(0) += n;
            }
        }
        outages.push(longest.as_secs_f64());
        // The feed: an inquiry sent through A reaches the ED's stream on B.
        let t_probe = Instant::now();
        let probe_result =
            runtime.block_on(probe(&world_a.clients[0], &world_a.cards[0], &hid, cycle));
        let mut acked = std::mem::take(&mut *acked.lock().unwrap_or_else(|p| p.into_inner()));
        let feed_ok = match probe_result {
            Ok(iid) => {
                acked.push(Acked::Incident(iid.clone()));
                let deadline = Instant::now() + Duration::from_secs(30);
                loop {
                    let got = seen
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .iter()
                        .find(|(e, d, _)| {
                            e == "inquiry"
                                && d.get("incident_id").and_then(Value::as_str) == Some(&iid)
                        })
                        .map(|(_, _, at)| *at);
                    if let Some(at) = got {
                        feed_resumed.push(at.saturating_duration_since(t_probe).as_secs_f64());
                        break true;
                    }
                    if Instant::now() > deadline {
                        failures.push(format!(
                            "cycle {cycle}: the ED feed on B did not deliver the inquiry of {iid}"
                        ));
                        break false;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            Err(e) => {
                failures.push(format!("cycle {cycle}: probe: {e}"));
                false
            }
        };
        for a in &acked {
            *totals.entry(a.kind()).or_insert(0) += 1;
        }
        let missing = run_a.missing(&acked)?;
        lost_total += missing.len();
        if !missing.is_empty() {
            failures.push(format!("cycle {cycle}: lost {missing:?}"));
        }
        // The old primary rejoins as the standby.
        script(
            &args,
            &["rejoin", &args.cluster.display().to_string(), &killed],
        )?;
        script(
            &args,
            &["wait-healthy", &args.cluster.display().to_string()],
        )?;
        let checked = cycle % args.check_every.max(1) == 0 || cycle == args.cycles;
        if checked {
            checks += 1;
            match run_a.check() {
                Ok(s) => last_check = s,
                Err(e) => {
                    checks_failed += 1;
                    failures.push(format!("cycle {cycle}: {e}"));
                }
            }
        }
        println!(
            "cycle {cycle}: killed node_{killed} ({} writes acknowledged before), promoted after {:.1} s, no write acknowledged for {:.1} s, {} writes acknowledged, {} lost, feed {}{}",
            before,
            promoted.map_or(f64::NAN, |p| (p - t_kill).as_secs_f64()),
            longest.as_secs_f64(),
            acked.len(),
            missing.len(),
            if feed_ok { "resumed" } else { "NOT resumed" },
            if checked {
                format!("; check: {last_check}")
            } else {
                String::new()
            }
        );
        // Both instances must still be serving (they were never restarted).
        for s in [&mut server_a, &mut server_b] {
            if let Ok(Some(status)) = s.child.try_wait() {
                return Err(format!("a kyukit instance exited: {status}"));
            }
        }
    }
    feed_stop.store(true, Ordering::Relaxed);
    let _ = runtime.block_on(feed_task);
    for s in [&mut server_a, &mut server_b] {
        let _ = s.child.kill();
        let _ = s.child.wait();
    }
    let mut sorted = outages.clone();
    sorted.sort_by(f64::total_cmp);
    let mut feed_sorted = feed_resumed.clone();
    feed_sorted.sort_by(f64::total_cmp);
    let acked_total: u64 = totals.values().sum();
    let five_hundreds: u64 = refused_total
        .iter()
        .filter(|(k, _)| k.contains("500"))
        .map(|(_, n)| n)
        .sum();
    if five_hundreds > 0 {
        failures.push(format!("{five_hundreds} answers were 500"));
    }
    for (k, n) in &refused_total {
        eprintln!("  refused during the run: {k}: {n}");
    }
    for f in &failures {
        eprintln!("  FAILED {f}");
    }
    let reconnects = *reconnects.lock().unwrap_or_else(|p| p.into_inner());
    println!(
        "failover: {} cycles in {:.0} s: {acked_total} acknowledged writes ({}), {lost_total} lost; time without acknowledged writes p50 {:.1} s, max {:.1} s; feed resumed {}/{} (p50 {:.1} s after the probe), {reconnects} feed reconnects; {checks} audit+amcheck checks, {checks_failed} failed; last: {last_check}",
        args.cycles,
        started.elapsed().as_secs_f64(),
        totals
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect::<Vec<_>>()
            .join(", "),
        pct(&sorted, 0.5),
        sorted.last().copied().unwrap_or(0.0),
        feed_resumed.len(),
        args.cycles,
        pct(&feed_sorted, 0.5),
    );
    if args.json {
        let summary = json!({
            "cycles": args.cycles,
            "killed_nodes": killed_nodes,
            "acknowledged_writes": acked_total,
            "acknowledged_by_kind": totals,
            "lost": lost_total,
            "time_without_writes_s": {"p50": pct(&sorted, 0.5), "max": sorted.last().copied().unwrap_or(0.0),
                                      "each": outages},
            "promoted_after_s": promoted_after,
            "feed_resumed": feed_resumed.len(),
            "feed_reconnects": reconnects,
            "feed_event_after_probe_s": {"p50": pct(&feed_sorted, 0.5), "max": feed_sorted.last().copied().unwrap_or(0.0)},
            "audit_checks": checks,
            "audit_checks_failed": checks_failed,
            "last_check": last_check,
            "refusals": refused_total,
            "time_s": started.elapsed().as_secs_f64(),
            "failures": failures,
        });
        println!("{summary}");
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("{} failures", failures.len()))
    }
}
