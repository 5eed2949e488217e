//! `kyukit-bench`: load generator and benchmarks for Kyukit (see `bench/README.md`).
//!
//! `kyukit-bench scan` builds its world through the real API — a fire department, one paramedic
//! and one enrolled device per `--devices`, `--residents` residents with a small dataset, consent
//! and a card — then runs `--concurrency` tasks of signed card scans for `--warmup` + `--duration`
//! seconds and reports the window after the warm-up. `login` does the same with residents'
//! password logins; both print one table (`report`). `crash` kills a server it runs, again and
//! again, during mixed writes; `failover` kills PostgreSQL primaries under two servers; `cards` signs and renders cards without a server;
//! `national` holds 10,000 hospital feeds open and measures reports fanning out to them.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod cards;
mod crash;
mod failover;
mod load;
mod login;
mod national;
mod prearrival;
mod probe;
mod report;
mod scan;
mod setup;

use clap::{Args, Parser, Subcommand};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "kyukit-bench",
    version,
    about = "Load generator and benchmarks for Kyukit"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Signed card scans (`POST /api/v1/scans`) from many enrolled devices at once.
    Scan(ScanArgs),
    /// Residents' password logins (`POST /api/v1/sessions`): argon2id, a session and an audit
    /// event each.
    Login(LoginArgs),
    /// `kill -9` a server during mixed writes, N times; check nothing acknowledged is lost and
    /// the database and audit chain stay sound.
    Crash(crash::CrashArgs),
    /// PostgreSQL failover (pg_auto_failover, driven by bench/failover.sh): kill -9 the primary
    /// under two instances' writes, N times; nothing acknowledged lost, the audit chain sound, the
    /// ED feed resumed; the time without successful writes.
    Failover(failover::FailoverArgs),
    /// Sign cards and render their QR codes to PNG on every core (no server).
    Cards(cards::CardsArgs),
    /// Pre-arrival latency: a crew's report POST → the ED's SSE event, and → its push endpoint.
    Prearrival(PrearrivalArgs),
    /// The national shape (issue 22): many regions or municipalities, 10,000 live hospital
    /// feeds, reports fanning out to them; POST → event latency on every feed, nothing lost,
    /// server RSS and CPU.
    National(national::NationalArgs),
}

#[derive(Debug, Args)]
pub struct PrearrivalArgs {
    /// Base URL of the server under test (started with loopback push endpoints allowed).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub server: String,
    #[arg(long, default_value = "admin")]
    pub admin_login: String,
    #[arg(long, env = "KYUKIT_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: String,
    #[arg(long, env = "KYUKIT_ADMIN_TOTP_SECRET", hide_env_values = true)]
    pub admin_totp_secret: String,
    /// Measured reports (sent one after the other).
    #[arg(long, default_value_t = 500)]
    pub iterations: usize,
    /// Reports sent first and not measured.
    #[arg(long, default_value_t = 20)]
    pub warmup: usize,
    /// Longest wait for one event or push, in seconds.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
    /// Repeated readings per incident before the crew starts a new one (the record's size).
    #[arg(long, default_value_t = 10)]
    pub readings_per_incident: usize,
    /// Label of the table's backend column (default: the server's backend from /metrics).
    #[arg(long)]
    pub backend_label: Option<String>,
}

/// What every load run needs: the server, its administrator, and the load's shape.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Base URL of the server under test.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// Login id of a city administrator (`kyukit admin create`).
    #[arg(long, default_value = "admin")]
    pub admin_login: String,
    /// That administrator's password.
    #[arg(long, env = "KYUKIT_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: String,
    /// That administrator's TOTP secret (base32; printed by `kyukit admin create`).
    #[arg(long, env = "KYUKIT_ADMIN_TOTP_SECRET", hide_env_values = true)]
    pub admin_totp_secret: String,
    /// Requests in flight at once; a comma-separated list runs one measurement per value, in
    /// order, on the same world.
    #[arg(long, value_delimiter = ',', default_value = "64")]
    pub concurrency: Vec<usize>,
    /// Measured seconds (after the warm-up) per concurrency value.
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
    /// Seconds of load before the measured window.
    #[arg(long, default_value_t = 3)]
    pub warmup: u64,
    /// PID of the server process: its VmRSS/VmHWM and CPU time are read from /proc.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Label of the run's `backend` column (default: the server's backend from /metrics).
    #[arg(long)]
    pub backend_label: Option<String>,
    /// Print one JSON object per concurrency value (one per line) instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Requests in flight while building the world (password hashing makes it CPU bound).
    #[arg(long, default_value_t = 8)]
    pub setup_parallelism: usize,
    /// Seed of each task's choices (runs with the same seed make the same sequence).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Worker threads of this load generator (default: one per CPU).
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// Enrolled devices (each with its own paramedic logged in).
    #[arg(long, default_value_t = 32)]
    pub devices: usize,
    /// Residents with a card.
    #[arg(long, default_value_t = 200)]
    pub residents: usize,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// Residents who log in (at random).
    #[arg(long, default_value_t = 16)]
    pub residents: usize,
}

impl LoadArgs {
    fn check(&self) -> Result<(), String> {
        if self.concurrency.is_empty() || self.concurrency.contains(&0) {
            return Err("--concurrency must be at least 1".into());
        }
        if self.duration == 0 {
            return Err("--duration must be at least 1 second".into());
        }
        if self.setup_parallelism == 0 || self.threads == Some(0) {
            return Err("--setup-parallelism and --threads must be at least 1".into());
        }
        Ok(())
    }

    fn setup(&self, devices: usize, residents: usize) -> setup::SetupParams {
        setup::SetupParams {
            admin_login: self.admin_login.clone(),
            admin_password: self.admin_password.clone(),
            admin_totp_secret: self.admin_totp_secret.clone(),
            devices,
            residents,
            setup_parallelism: self.setup_parallelism,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(a) => {
            if a.devices == 0 || a.residents == 0 {
                Err("--devices and --residents must be at least 1".to_string())
            } else {
                let world = format!("{} devices, {} cards", a.devices, a.residents);
                run_load(
                    "scan",
                    &a.load,
                    a.load.setup(a.devices, a.residents),
                    world,
                    |w, _, _| Arc::new(scan::Scans::new(w)),
                )
            }
        }
        Command::Login(a) => {
            if a.residents == 0 {
                Err("--residents must be at least 1".to_string())
            } else {
                let world = format!("{} residents", a.residents);
                run_load(
                    "login",
                    &a.load,
                    a.load.setup(0, a.residents),
                    world,
                    |w, http, base| Arc::new(login::Logins::new(w, http, base)),
                )
            }
        }
        Command::Crash(a) => crash::run(a),
        Command::Failover(a) => failover::run(a),
        Command::Cards(a) => cards::run(&a),
        Command::Prearrival(args) => run_prearrival(args),
        Command::National(args) => national::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kyukit-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Builds the world, then runs one measured load phase per concurrency value and prints the
/// table (or JSON lines).
fn run_load(
    kind: &'static str,
    args: &LoadArgs,
    params: setup::SetupParams,
    world_label: String,
    op: impl Fn(&setup::World, &reqwest::Client, &str) -> Arc<dyn load::Op>,
) -> Result<(), String> {
    args.check()?;
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        builder.worker_threads(n);
    }
    let runtime = builder.enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let http = setup::http_client(args.concurrency.iter().copied().max().unwrap_or(1))?;
        let base = args.server.trim_end_matches('/').to_string();
        let backend = match &args.backend_label {
            Some(l) => l.clone(),
            None => probe::metrics(&http, &base)
                .await
                .and_then(|m| m.backend)
                .unwrap_or_else(|| "unknown".into()),
        };
        let subject = report::Subject {
            kind,
            backend,
            world: world_label,
        };
        let rss_start = args.server_pid.and_then(probe::memory);
        let started = std::time::Instant::now();
        let world = setup::build(&params, &http, &base).await?;
        eprintln!(
            "setup: {} devices enrolled and logged in, {} residents with cards, in {:.1} s",
            world.clients.len(),
            world.cards.len(),
            started.elapsed().as_secs_f64()
        );
        let op = op(&world, &http, &base);
        let mut reports = Vec::new();
        for &concurrency in &args.concurrency {
            let plan = load::Plan {
                concurrency,
                warmup: Duration::from_secs(args.warmup),
                duration: Duration::from_secs(args.duration),
                seed: args.seed,
                server_pid: args.server_pid,
            };
            eprintln!(
                "{kind}: concurrency {concurrency}, {} s warm-up + {} s measured",
                args.warmup, args.duration
            );
            let measured = load::run(op.clone(), &http, &base, &plan).await?;
            let report = report::Report::new(&subject, concurrency, rss_start, measured);
            if args.json {
                println!("{}", report.to_json());
            }
            reports.push(report);
        }
        if !args.json {
            print!("{}", report::table(&reports));
        }
        Ok(())
    })
}

fn run_prearrival(args: PrearrivalArgs) -> Result<(), String> {
    if args.iterations == 0 {
        return Err("--iterations must be at least 1".into());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let http = setup::http_client(4)?;
        let base = args.server.trim_end_matches('/').to_string();
        let backend = match &args.backend_label {
            Some(l) => l.clone(),
            None => probe::metrics(&http, &base)
                .await
                .and_then(|m| m.backend)
                .unwrap_or_else(|| "unknown".into()),
        };
        let params = setup::SetupParams {
            admin_login: args.admin_login.clone(),
            admin_password: args.admin_password.clone(),
            admin_totp_secret: args.admin_totp_secret.clone(),
            devices: 1,
            residents: 1,
            setup_parallelism: 1,
        };
        let world = setup::build(&params, &http, &base).await?;
        let plan = prearrival::Plan {
            iterations: args.iterations,
            warmup: args.warmup,
            timeout: Duration::from_secs(args.timeout),
            readings_per_incident: args.readings_per_incident,
        };
        let measured = prearrival::run(&world, &http, &base, &plan).await?;
        print!("{}", prearrival::table(&measured, &backend));
        Ok(())
    })
}
