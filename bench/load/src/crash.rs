//! `kyukit-bench crash`: `kill -9` the server during mixed writes, again and again, and check
//! that nothing it acknowledged is lost and that the database and the audit chain stay sound.
//!
//! One data directory (and, with `--database-url`, one PostgreSQL database) for the whole run.
//! The world (a fire department, enrolled devices with paramedics logged in, residents with
//! cards) is built once through the API. Each cycle then:
//!
//! 1. starts `kyukit serve` on a fixed loopback port and waits for `/healthz`;
//! 2. runs `--writers` tasks of mixed writes — signed card scans (an access row and an audit
//!    event each), dataset items added and then deleted by residents (an acknowledged deletion
//!    must be gone; an item is checked as long as its deletion is not sent), consent re-grants
//!    (append-only versions) — recording each write the
//!    server answered `201`;
//! 3. after a random `--min-ms`..`--max-ms`, sends SIGKILL and waits for the process to die;
//! 4. with the server dead, asks the database (the `sqlite3` or `psql` client) for every write
//!    acknowledged in this cycle: a missing one is a **lost write**;
//! 5. every `--check-every` cycles and after the last: `kyukit audit verify` (the hash chain),
//!    and the database's own check — SQLite `PRAGMA integrity_check` and
//!    `PRAGMA foreign_key_check`; PostgreSQL `amcheck`'s `bt_index_check` on every B-tree
//!    index of the schema and a full read of every table.
//!
//! Prints one line per cycle (or per `--report-every` cycles) and a summary; exits non-zero on a
//! lost write or a failed check. Only loopback traffic; bounded by `--cycles`.

use crate::setup::{self, SetupParams, World};
use kyukit_field::{Client, RetryPolicy};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct CrashArgs {
    /// The `kyukit` binary under test.
    #[arg(long, default_value = "target/release/kyukit")]
    pub kyukit: PathBuf,
    /// Data directory of the server (created; SQLite lives in it unless --database-url).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// PostgreSQL URL of an empty database (default: SQLite in the data directory).
    #[arg(long)]
    pub database_url: Option<String>,
    /// kill -9 cycles.
    #[arg(long, default_value_t = 20)]
    pub cycles: usize,
    /// Concurrent writers.
    #[arg(long, default_value_t = 8)]
    pub writers: usize,
    /// Enrolled devices (each with a paramedic logged in).
    #[arg(long, default_value_t = 4)]
    pub devices: usize,
    /// Residents with a card (they also write their dataset and consent).
    #[arg(long, default_value_t = 8)]
    pub residents: usize,
    /// Shortest and longest time between the server's health and the kill, milliseconds.
    #[arg(long, default_value_t = 50)]
    pub min_ms: u64,
    #[arg(long, default_value_t = 600)]
    pub max_ms: u64,
    /// Audit-chain and database integrity check every N cycles (and after the last).
    #[arg(long, default_value_t = 10)]
    pub check_every: usize,
    /// Print a progress line every N cycles (1: every cycle).
    #[arg(long, default_value_t = 1)]
    pub report_every: usize,
    /// Seed of the kill times and of the writers' choices.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

pub(crate) const ADMIN_PASSWORD: &str = "crash test administrator password";

/// splitmix64.
#[derive(Debug, Clone)]
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A write the server acknowledged, as the database must show it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Acked {
    /// `accesses.id` (and its `record.scan` audit event, checked by the chain).
    Scan(String),
    /// `dataset_items.id`.
    Item(String),
    /// A `dataset_items.id` whose deletion was acknowledged: it must be gone.
    Deleted(String),
    /// `consents (resident_id, version)`.
    Consent(String, i64),
    /// `incidents.id` (the failover bench's pre-arrival probe: opened, reported, inquired).
    Incident(String),
}

impl Acked {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Acked::Scan(_) => "scans",
            Acked::Item(_) => "dataset items",
            Acked::Deleted(_) => "dataset deletions",
            Acked::Consent(..) => "consents",
            Acked::Incident(_) => "incidents",
        }
    }
}

#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) child: Child,
}

pub(crate) struct Run<'a> {
    pub(crate) args: &'a CrashArgs,
    pub(crate) port: u16,
    pub(crate) base: String,
    pub(crate) log: PathBuf,
}

impl Run<'_> {
    fn db_args(&self) -> Vec<String> {
        match &self.args.database_url {
            Some(u) => vec!["--database-url".into(), u.clone()],
            None => vec![],
        }
    }

    fn kyukit(&self) -> Command {
        let mut c = Command::new(&self.args.kyukit);
        c.env_remove("DATABASE_URL");
        c
    }

    pub(crate) fn start(
        &self,
        rt: &tokio::runtime::Runtime,
        http: &reqwest::Client,
    ) -> Result<Server, String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("{}: {e}", self.log.display()))?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let child = self
            .kyukit()
            .arg("serve")
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .arg("--data-dir")
            .arg(&self.args.data_dir)
            .args(self.db_args())
            .args([
                "--scans-per-device-per-min",
                "0",
                "--scans-per-addr-per-min",
                "0",
                "--logins-per-addr-per-min",
                "0",
                "--logins-per-id-per-min",
                "0",
                "--registrations-per-addr-per-min",
                "0",
            ])
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .spawn()
            .map_err(|e| format!("{}: {e}", self.args.kyukit.display()))?;
        let mut server = Server { child };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let health = rt.block_on(async {
                tokio::time::timeout(
                    Duration::from_secs(2),
                    http.get(format!("{}/healthz", self.base)).send(),
                )
                .await
            });
            if let Ok(Ok(r)) = health
                && r.status().is_success()
            {
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!(
                    "server exited ({status}); see {}",
                    self.log.display()
                ));
            }
            if Instant::now() > deadline {
                let _ = server.child.kill();
                let _ = server.child.wait();
                return Err(format!(
                    "server not healthy in 30 s; see {}",
                    self.log.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `sqlite3` or `psql` on the run's database: one query, rows of `|`-separated columns.
    pub(crate) fn sql(&self, query: &str) -> Result<Vec<String>, String> {
        let out = match &self.args.database_url {
            Some(url) => Command::new("psql")
                .args([
                    "-X",
                    "-q",
                    "-A",
                    "-t",
                    "-v",
                    "ON_ERROR_STOP=1",
                    url,
                    "-c",
                    query,
                ])
                .output(),
            None => Command::new("sqlite3")
                .arg(self.args.data_dir.join("kyukit.db"))
                .arg(query)
                .output(),
        }
        .map_err(|e| format!("database client: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "query failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect())
    }

    /// The acknowledged writes the database does not have.
    pub(crate) fn missing(&self, acked: &[Acked]) -> Result<Vec<Acked>, String> {
        let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
        let mut missing = Vec::new();
        for chunk in acked.chunks(200) {
            let ids = |f: fn(&Acked) -> Option<&String>| {
                chunk
                    .iter()
                    .filter_map(f)
                    .map(|s| quote(s))
                    .collect::<Vec<_>>()
            };
            let present = |table: &str, ids: Vec<String>| -> Result<Vec<String>, String> {
                if ids.is_empty() {
                    return Ok(vec![]);
                }
                self.sql(&format!(
                    "SELECT id FROM {table} WHERE id IN ({})",
                    ids.join(",")
                ))
            };
            let scans = present(
                "accesses",
                ids(|a| match a {
                    Acked::Scan(id) => Some(id),
                    _ => None,
                }),
            )?;
            let items = present(
                "dataset_items",
                ids(|a| match a {
                    Acked::Item(id) | Acked::Deleted(id) => Some(id),
                    _ => None,
                }),
            )?;
            let incidents = present(
                "incidents",
                ids(|a| match a {
                    Acked::Incident(id) => Some(id),
                    _ => None,
                }),
            )?;
            let keys: Vec<String> = chunk
                .iter()
                .filter_map(|a| match a {
                    Acked::Consent(r, v) => {
                        Some(format!("(resident_id = {} AND version = {v})", quote(r)))
                    }
                    _ => None,
                })
                .collect();
            let consents = if keys.is_empty() {
                vec![]
            } else {
                self.sql(&format!(
                    "SELECT resident_id || ':' || version FROM consents WHERE {}",
                    keys.join(" OR ")
                ))?
            };
            for a in chunk {
                let found = match a {
                    Acked::Scan(id) => scans.contains(id),
                    Acked::Item(id) => items.contains(id),
                    Acked::Deleted(id) => !items.contains(id),
                    Acked::Consent(r, v) => consents.contains(&format!("{r}:{v}")),
                    Acked::Incident(id) => incidents.contains(id),
                };
                if !found {
                    missing.push(a.clone());
                }
            }
        }
        Ok(missing)
    }

    /// `kyukit audit verify` and the database's own integrity check; `Ok(entries)` or why not.
    pub(crate) fn check(&self) -> Result<String, String> {
        let out = self
            .kyukit()
            .args(["audit", "verify", "--data-dir"])
            .arg(&self.args.data_dir)
            .args(self.db_args())
            .output()
            .map_err(|e| format!("kyukit audit verify: {e}"))?;
        let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !out.status.success() {
            return Err(format!(
                "audit verify failed: {said} {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let tables = self.sql(match self.args.database_url {
            Some(_) => {
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            }
            None => "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
        })?;
        let mut rows = 0u64;
        for t in &tables {
            let n = self.sql(&format!("SELECT count(*) FROM \"{t}\""))?;
            rows += n.first().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
        }
        let integrity = match self.args.database_url {
            None => {
                let ok = self.sql("PRAGMA integrity_check")?;
                if ok != ["ok"] {
                    return Err(format!("PRAGMA integrity_check: {ok:?}"));
                }
                let fk = self.sql("PRAGMA foreign_key_check")?;
                if !fk.is_empty() {
                    return Err(format!("PRAGMA foreign_key_check: {fk:?}"));
                }
                "integrity_check ok, foreign_key_check clean".to_string()
            }
            Some(_) => {
                self.sql("CREATE EXTENSION IF NOT EXISTS amcheck")?;
                let checked = self.sql(
                    "SELECT count(bt_index_check(c.oid, true)) FROM pg_index i \
                     JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam \
                     WHERE am.amname = 'btree' AND c.relnamespace = 'public'::regnamespace",
                )?;
                format!(
                    "amcheck bt_index_check (heapallindexed) on {} indexes ok",
                    checked.first().map_or("?", String::as_str)
                )
            }
        };
        Ok(format!(
            "{said}; {} tables read ({rows} rows); {integrity}",
            tables.len()
        ))
    }
}

/// Set just before the kill (errors from then on are expected) and after it (writers stop).
#[derive(Debug, Clone)]
pub(crate) struct Flags {
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) killing: Arc<AtomicBool>,
    /// Count refusals even while `killing` (the failover bench: which statuses the outage gave).
    pub(crate) count_all: bool,
}

/// One writer: mixed writes until `stop`, recording the acknowledged ones.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn writer(
    w: usize,
    world: Arc<World>,
    http: reqwest::Client,
    base: String,
    mut rng: Rng,
    cycle: usize,
    flags: Flags,
    acked: Arc<Mutex<Vec<Acked>>>,
) -> BTreeMap<String, u64> {
    let Flags {
        stop,
        killing,
        count_all,
    } = flags;
    let mut refused = BTreeMap::new();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let pick = rng.below(10);
        let result: Result<Option<Acked>, String> = if pick < 6 {
            let d = rng.below(world.clients.len() as u64) as usize;
            let c = rng.below(world.cards.len() as u64) as usize;
            match (world.clients.get(d), world.cards.get(c)) {
                (Some(client), Some(card)) => scan(client, card, cycle, w, n).await,
                _ => Ok(None),
            }
        } else {
            let r = rng.below(world.residents.len() as u64) as usize;
            match world.residents.get(r) {
                Some((rid, _, token)) if pick < 9 => {
                    // Add an item, then delete it (a resident may hold only so many).
                    let body = json!({"category": "medications",
                        "body": {"name": format!("crash c{cycle} w{w} n{n}"), "dose": "1錠"}});
                    let path = format!("/api/v1/residents/{rid}/dataset");
                    match send(&http, "POST", &base, &path, token, Some(body)).await {
                        Ok(v) => match v.get("id").and_then(Value::as_str) {
                            Some(id) => {
                                let id = id.to_string();
                                record(&acked, Acked::Item(id.clone()));
                                // Once its deletion is sent, the item may be gone whether or
                                // not the deletion is answered: no longer a must-exist.
                                acked
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .retain(|x| !matches!(x, Acked::Item(i) if *i == id));
                                let path = format!("{path}/{id}");
                                send(&http, "DELETE", &base, &path, token, None)
                                    .await
                                    .map(|_| Some(Acked::Deleted(id)))
                            }
                            None => Ok(None),
                        },
                        // Items left behind by kills (created, deletion never sent) fill the
                        // resident's list: clear it, each deletion an acknowledged write.
                        Err(e) if e.ends_with("too_many_items") => {
                            clear_items(&http, &base, rid, token, &acked).await
                        }
                        Err(e) => Err(e),
                    }
                }
                Some((rid, _, token)) => {
                    let body = json!({"categories": setup::SHARED, "disaster_use": n.is_multiple_of(2),
                        "triage_on_card": true, "name_on_print": false});
                    let path = format!("/api/v1/residents/{rid}/consents");
                    send(&http, "POST", &base, &path, token, Some(body))
                        .await
                        .map(|v| {
                            v.get("version")
                                .and_then(Value::as_i64)
                                .map(|ver| Acked::Consent(rid.clone(), ver))
                        })
                }
                None => Ok(None),
            }
        };
        match result {
            Ok(Some(a)) => record(&acked, a),
            Ok(None) => {}
            Err(e) => {
                // Once the server is being killed every request fails; before that, nothing
                // should.
                if count_all || !killing.load(Ordering::Relaxed) {
                    *refused.entry(e).or_insert(0) += 1;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    refused
}

async fn scan(
    client: &Client,
    card: &str,
    cycle: usize,
    w: usize,
    n: u64,
) -> Result<Option<Acked>, String> {
    let v = client
        .scan(card, &format!("CRASH-{cycle}-{w}-{n}"))
        .await
        .map_err(|e| format!("scan: {}", e.code()))?;
    Ok(v.get("access_id")
        .and_then(Value::as_str)
        .map(|id| Acked::Scan(id.into())))
}

/// Deletes every medication item of a resident; records each acknowledged deletion.
async fn clear_items(
    http: &reqwest::Client,
    base: &str,
    rid: &str,
    token: &str,
    acked: &Mutex<Vec<Acked>>,
) -> Result<Option<Acked>, String> {
    let path = format!("/api/v1/residents/{rid}/dataset");
    let list = send(http, "GET", base, &path, token, None).await?;
    let ids: Vec<String> = list
        .get("items")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter(|i| i.get("category").and_then(Value::as_str) == Some("medications"))
                .filter_map(|i| i.get("id").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    for id in ids {
        send(http, "DELETE", base, &format!("{path}/{id}"), token, None).await?;
        record(acked, Acked::Deleted(id));
    }
    Ok(None)
}

/// Records an acknowledged write.
fn record(acked: &Mutex<Vec<Acked>>, a: Acked) {
    acked.lock().unwrap_or_else(|p| p.into_inner()).push(a);
}

/// A resident's request; the answer must be 2xx (its JSON, or null for 204).
async fn send(
    http: &reqwest::Client,
    method: &str,
    base: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
    let mut req = http
        .request(method, format!("{base}{path}"))
        .bearer_auth(token);
    if let Some(b) = &body {
        req = req.json(b);
    }
    let resp = req.send().await.map_err(|_| "transport".to_string())?;
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(|_| "transport".to_string())?;
    let v: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).map_err(|_| "transport".to_string())?
    };
    if !status.is_success() {
        return Err(format!(
            "{status} {}",
            v.get("error").and_then(Value::as_str).unwrap_or("-")
        ));
    }
    Ok(v)
}

pub(crate) fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

pub(crate) fn admin_create(run: &Run<'_>) -> Result<String, String> {
    let out = run
        .kyukit()
        .env("KYUKIT_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .args(["admin", "create", "--data-dir"])
        .arg(&run.args.data_dir)
        .args(run.db_args())
        .args(["--login-id", "admin", "--name", "Crash test administrator"])
        .output()
        .map_err(|e| format!("kyukit admin create: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "kyukit admin create: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("secret:")
                .map(|s| s.trim().to_string())
        })
        .ok_or_else(|| "kyukit admin create printed no TOTP secret".to_string())
}

pub fn run(args: CrashArgs) -> Result<(), String> {
    if args.cycles == 0 || args.writers == 0 || args.devices == 0 || args.residents == 0 {
        return Err("--cycles, --writers, --devices and --residents must be at least 1".into());
    }
    if args.min_ms > args.max_ms {
        return Err("--min-ms must not exceed --max-ms".into());
    }
    // Owner-only, as `kyukit serve` requires of its data directory (it refuses a 0755 one).
    let mut data_dir = std::fs::DirBuilder::new();
    data_dir.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut data_dir, 0o700);
    data_dir.create(&args.data_dir).map_err(|e| e.to_string())?;
    let port = free_port()?;
    let run = Run {
        args: &args,
        port,
        base: format!("http://127.0.0.1:{port}"),
        log: Path::new(&args.data_dir).join("crash-server.log"),
    };
    let backend = if args.database_url.is_some() {
        "postgresql"
    } else {
        "sqlite"
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let totp = admin_create(&run)?;
    let http = setup::http_client(args.writers)?;
    let mut server = run.start(&runtime, &http)?;
    let params = SetupParams {
        admin_login: "admin".into(),
        admin_password: ADMIN_PASSWORD.into(),
        admin_totp_secret: totp,
        devices: args.devices,
        residents: args.residents,
        setup_parallelism: 4,
    };
    let mut world = runtime.block_on(setup::build(&params, &http, &run.base))?;
    // What counts is what the server acknowledged before its kill: the field client's resends
    // (for failovers, field-app/src/retry.rs) would wait out every kill, about 23 s a cycle.
    world.clients = world
        .clients
        .into_iter()
        .map(|c| c.with_retry(RetryPolicy::NONE))
        .collect();
    let world = Arc::new(world);
    eprintln!(
        "crash: {backend}, {} devices, {} residents, {} writers, {} cycles, kill after {}..{} ms; server log {}",
        world.clients.len(),
        world.residents.len(),
        args.writers,
        args.cycles,
        args.min_ms,
        args.max_ms,
        run.log.display()
    );
    let mut rng = Rng(args.seed);
    let started = Instant::now();
    let mut totals: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut refused_total: BTreeMap<String, u64> = BTreeMap::new();
    let (mut lost_total, mut checks, mut checks_failed) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    let mut last_check = String::new();
    for cycle in 1..=args.cycles {
        if cycle > 1 {
            server = run.start(&runtime, &http)?;
        }
        let flags = Flags {
            stop: Arc::new(AtomicBool::new(false)),
            killing: Arc::new(AtomicBool::new(false)),
            count_all: false,
        };
        let acked = Arc::new(Mutex::new(Vec::new()));
        let tasks: Vec<_> = (0..args.writers)
            .map(|w| {
                runtime.spawn(writer(
                    w,
                    world.clone(),
                    http.clone(),
                    run.base.clone(),
                    Rng(rng.next()),
                    cycle,
                    flags.clone(),
                    acked.clone(),
                ))
            })
            .collect();
        let wait = args.min_ms + rng.below(args.max_ms - args.min_ms + 1);
        std::thread::sleep(Duration::from_millis(wait));
        // SIGKILL: no shutdown path runs.
        flags.killing.store(true, Ordering::Relaxed);
        server.child.kill().map_err(|e| format!("kill: {e}"))?;
        server.child.wait().map_err(|e| format!("wait: {e}"))?;
        flags.stop.store(true, Ordering::Relaxed);
        for t in tasks {
            let refused = runtime.block_on(t).map_err(|e| format!("writer: {e}"))?;
            for (k, n) in refused {
                *refused_total.entry(k).or_insert(0) += n;
            }
        }
        let acked = std::mem::take(&mut *acked.lock().unwrap_or_else(|p| p.into_inner()));
        for a in &acked {
            *totals.entry(a.kind()).or_insert(0) += 1;
        }
        let missing = run.missing(&acked)?;
        lost_total += missing.len();
        if !missing.is_empty() {
            failures.push(format!("cycle {cycle}: lost {missing:?}"));
        }
        let checked = cycle % args.check_every.max(1) == 0 || cycle == args.cycles;
        if checked {
            checks += 1;
            match run.check() {
                Ok(s) => last_check = s,
                Err(e) => {
                    checks_failed += 1;
                    failures.push(format!("cycle {cycle}: {e}"));
                }
            }
        }
        if cycle % args.report_every.max(1) == 0 || cycle == args.cycles || !missing.is_empty() {
            println!(
                "cycle {cycle}: killed after {wait} ms, {} writes acknowledged, {} lost{}",
                acked.len(),
                missing.len(),
                if checked {
                    format!("; check: {last_check}")
                } else {
                    String::new()
                }
            );
        }
    }
    let acked_total: u64 = totals.values().sum();
    let kinds: Vec<String> = totals.iter().map(|(k, n)| format!("{n} {k}")).collect();
    for (k, n) in &refused_total {
        eprintln!("  refused while the server was up: {k}: {n}");
    }
    for f in &failures {
        eprintln!("  FAILED {f}");
    }
    println!(
        "crash: {} kill -9 cycles on {backend} in {:.0} s: {acked_total} acknowledged writes ({}), {lost_total} lost; {checks} integrity checks, {} failed; last: {last_check}",
        args.cycles,
        started.elapsed().as_secs_f64(),
        kinds.join(", "),
        checks_failed,
    );
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("{} failures", failures.len()))
    }
}
