//! `kyukit serve`: start the HTTP server.

use crate::clock::{Clock, OffsetClock, SystemClock};
use crate::config::Config;
use crate::ratelimit::RateLimitConfig;
use crate::service::cards::IssuePolicy;
use crate::service::{accounts, demo};
use crate::startup::Application;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "KYUKIT_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Data directory (keys, database); created on first start.
    #[arg(long, env = "KYUKIT_DATA_DIR", default_value = "kyukit-data")]
    data_dir: PathBuf,
    /// Public https base URL that residents' phones reach (card URLs are <URL>c/<digits>).
    #[arg(long, env = "KYUKIT_PUBLIC_URL", default_value = "https://localhost/")]
    public_url: String,
    /// The origin the paramedic app is served from, for WebAuthn unlock (default: the public
    /// URL's origin); its host is the relying party id.
    #[arg(long, env = "KYUKIT_WEBAUTHN_ORIGIN")]
    webauthn_origin: Option<String>,
    /// Database: `postgres://…` for PostgreSQL; default SQLite at <data-dir>/kyukit.db.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Scans (and break-glass searches) per device per minute; 0 = no limit.
    #[arg(long, env = "KYUKIT_SCANS_PER_DEVICE_PER_MIN", default_value_t = RateLimitConfig::default().scans_per_device_per_min)]
    scans_per_device_per_min: u32,
    /// Scans per client address per minute; 0 = no limit.
    #[arg(long, env = "KYUKIT_SCANS_PER_ADDR_PER_MIN", default_value_t = RateLimitConfig::default().scans_per_addr_per_min)]
    scans_per_addr_per_min: u32,
    /// Login attempts per client address per minute; 0 = no limit.
    #[arg(long, env = "KYUKIT_LOGINS_PER_ADDR_PER_MIN", default_value_t = RateLimitConfig::default().logins_per_addr_per_min)]
    logins_per_addr_per_min: u32,
    /// Sessions end after this many idle minutes (RULES R7: 15).
    #[arg(long, env = "KYUKIT_SESSION_IDLE_MINUTES", default_value_t = 15, value_parser = clap::value_parser!(i64).range(1..=1440))]
    session_idle_minutes: i64,
    /// Sessions end this many hours after login, whatever the activity.
    #[arg(long, env = "KYUKIT_SESSION_MAX_HOURS", default_value_t = 12, value_parser = clap::value_parser!(i64).range(1..=168))]
    session_max_hours: i64,
    /// Login attempts per login id per minute; 0 = no limit.
    #[arg(long, env = "KYUKIT_LOGINS_PER_ID_PER_MIN", default_value_t = RateLimitConfig::default().logins_per_id_per_min)]
    logins_per_id_per_min: u32,
    /// Well-formed registrations (resident or proxy) per client address per minute; each tells
    /// whether its login id is taken. 0 = no limit.
    #[arg(long, env = "KYUKIT_REGISTRATIONS_PER_ADDR_PER_MIN", default_value_t = RateLimitConfig::default().registrations_per_addr_per_min)]
    registrations_per_addr_per_min: u32,
    /// Password changes (current-password checks) per account per minute; 0 = no limit.
    #[arg(long, env = "KYUKIT_PASSWORD_CHANGES_PER_ACCOUNT_PER_MIN", default_value_t = RateLimitConfig::default().password_changes_per_account_per_min)]
    password_changes_per_account_per_min: u32,
    /// Public facility applications per client address per hour; 0 = no limit.
    #[arg(long, env = "KYUKIT_APPLICATIONS_PER_ADDR_PER_HOUR", default_value_t = RateLimitConfig::default().applications_per_addr_per_hour)]
    applications_per_addr_per_hour: u32,
    /// Open connections one client address may hold (a request on one more is answered 429 and
    /// closed); 0 = no cap. Behind a reverse proxy every client has the proxy's address: set it
    /// above the proxy's upstream connections, and cap per client in the proxy.
    #[arg(long, env = "KYUKIT_CONNECTIONS_PER_ADDR", default_value_t = 256)]
    connections_per_addr: usize,
    /// Seconds a request body may go without a byte before it is answered 408 and closed.
    #[arg(long, env = "KYUKIT_BODY_IDLE_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    body_idle_secs: u64,
    /// Seconds a whole request body may take.
    #[arg(long, env = "KYUKIT_BODY_TOTAL_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    body_total_secs: u64,
    /// Pre-arrival alerts not acknowledged within this many seconds escalate (repeat push,
    /// dashboard highlight, the crew is told).
    #[arg(long, env = "KYUKIT_ESCALATE_AFTER_SECS", default_value_t = crate::service::incidents::ESCALATE_AFTER_SECS, value_parser = clap::value_parser!(i64).range(10..=3600))]
    escalate_after_secs: i64,
    /// … and escalate again every this many seconds until acknowledged; an acknowledged but
    /// unanswered inquiry is re-alerted at this interval too.
    #[arg(long, env = "KYUKIT_ESCALATION_REPEAT_SECS", default_value_t = crate::service::incidents::ESCALATION_REPEAT_SECS, value_parser = clap::value_parser!(i64).range(10..=3600))]
    escalation_repeat_secs: i64,
    /// An acknowledged inquiry still unanswered this many seconds after the acknowledgement is
    /// re-alerted.
    #[arg(long, env = "KYUKIT_REALERT_AFTER_SECS", default_value_t = crate::service::incidents::REALERT_AFTER_SECS, value_parser = clap::value_parser!(i64).range(10..=3600))]
    realert_after_secs: i64,
    /// A resident's record asks for re-confirmation this many months after it was last
    /// confirmed (registration, import, an edit, or "nothing has changed").
    #[arg(long, env = "KYUKIT_RECONFIRM_AFTER_MONTHS", default_value_t = crate::service::reconfirm::DEFAULT_MONTHS, value_parser = clap::value_parser!(u32).range(1..=120))]
    reconfirm_after_months: u32,
    // push
    /// Web Push contact sent to push services in the VAPID token (`mailto:` or `https:`);
    /// default `mailto:admin@<host of the public URL>`.
    #[arg(long, env = "KYUKIT_PUSH_SUBJECT")]
    push_subject: Option<String>,
    /// Accept `http://` Web Push endpoints on a loopback address (tests and local development only).
    #[arg(long, env = "KYUKIT_PUSH_ALLOW_INSECURE_LOOPBACK")]
    push_allow_insecure_loopback: bool,
    /// PostgreSQL: group-commit writers, each with its own connection (SQLite has one).
    #[arg(long, env = "KYUKIT_DB_WRITERS", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    db_writers: u16,
    /// HTTP worker threads; default one per CPU.
    #[arg(long, env = "KYUKIT_WORKERS", value_parser = clap::value_parser!(u16).range(1..=256))]
    workers: Option<u16>,
    /// TESTS ONLY: the server's clock starts at this instant (RFC 3339) and runs on from there;
    /// every time it records, checks or shows is then off. Never in production.
    #[arg(long, env = "KYUKIT_TEST_CLOCK_START", value_parser = parse_instant, hide = true)]
    test_clock_start: Option<i64>,
}

fn parse_instant(s: &str) -> Result<i64, String> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| format!("not an RFC 3339 time: {e}"))
}

impl ServeArgs {
    pub fn config(&self) -> Result<Config, String> {
        let public_url = if self.public_url.ends_with('/') {
            self.public_url.clone()
        } else {
            format!("{}/", self.public_url)
        };
        let mut config = Config::new(self.listen, self.data_dir.clone(), public_url);
        config.database_url = self
            .database_url
            .as_deref()
            .map(crate::db::DatabaseUrl::parse)
            .transpose()?;
        config.session_policy = crate::service::accounts::SessionPolicy {
            idle_secs: self.session_idle_minutes * 60,
            absolute_secs: self.session_max_hours * 3600,
        };
        config.escalate_after_secs = self.escalate_after_secs;
        config.escalation_repeat_secs = self.escalation_repeat_secs;
        config.realert_after_secs = self.realert_after_secs;
        config.reconfirm_after_months = self.reconfirm_after_months;
        config.db_writers = usize::from(self.db_writers);
        config.http_workers = self.workers.map(usize::from);
        config.rate_limits = RateLimitConfig {
            scans_per_device_per_min: self.scans_per_device_per_min,
            scans_per_addr_per_min: self.scans_per_addr_per_min,
            logins_per_addr_per_min: self.logins_per_addr_per_min,
            logins_per_id_per_min: self.logins_per_id_per_min,
            registrations_per_addr_per_min: self.registrations_per_addr_per_min,
            password_changes_per_account_per_min: self.password_changes_per_account_per_min,
            applications_per_addr_per_hour: self.applications_per_addr_per_hour,
        };
        config.slow_clients = crate::connections::SlowClientLimits {
            per_addr: self.connections_per_addr,
            body_idle: std::time::Duration::from_secs(self.body_idle_secs),
            body_total: std::time::Duration::from_secs(
                self.body_total_secs.max(self.body_idle_secs),
            ),
        };
        config.webauthn_origin = self.webauthn_origin.clone();
        config.push_subject = self.push_subject.clone(); // push
        config.push_allow_insecure_loopback = self.push_allow_insecure_loopback; // push
        Ok(config)
    }
}

/// `kyukit serve` arguments: where and how to serve, and whether to load demo data.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    server: ServeArgs,
    /// Load a small bilingual demo data set (only if there are no residents yet). Never with real data.
    #[arg(long)]
    demo: bool,
}

pub fn run(args: RunArgs) -> Result<(), String> {
    init_logging();
    let config = args.server.config()?;
    crate::datadir::check_private(&config.data_dir)?;
    // Each connection holds a file descriptor: take what the system allows (docs/operations.md
    // "Slow clients and file descriptors").
    if let Some(n) = crate::connections::raise_fd_limit() {
        tracing::info!(open_files = n, "file descriptor limit");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let clock: Arc<dyn Clock> = match args.server.test_clock_start {
            Some(start) => {
                println!("TEST CLOCK: this server's time starts at {start} (Unix seconds), not the real time. Never in production.");
                tracing::warn!(start, "test clock: the server's time is not the real time");
                Arc::new(OffsetClock::starting_at(start))
            }
            None => Arc::new(SystemClock),
        };
        let app = Application::build(&config, clock.clone()).map_err(|e| format!("cannot start: {e}"))?;
        let state = app.state().clone();
        let base = local_base(config.listen.ip(), app.port());
        println!("Kyukit is running. Data directory: {}; database: {}", config.data_dir.display(), state.db.backend().name());
        println!("  start here:  {base}/  (links to every page)");
        println!("  residents:   {base}/pages/resident");
        println!("  paramedics:  {base}/pages/field  (an enrolled device)");
        println!("  hospitals:   {base}/pages/ed");
        println!("  city admin:  {base}/pages/admin");
        println!("  health:      {base}/healthz  (ready: {base}/readyz)");
        println!("  API:         {base}/api/v1/openapi.json  (OpenAPI 3; docs/api.md)");
        println!("  card URLs:   {}…  (--public-url: the https address phones reach; put TLS in front)", config.card_base_url());
        if args.demo {
            let card_base = config.card_base_url();
            let policy = IssuePolicy { data_dir: &config.data_dir, card_base_url: &card_base, validity_secs: config.card_validity_secs };
            let logins = demo::load(&state.db, &state.default_municipality, &policy, clock.now()).map_err(|e| format!("demo data: {e}"))?;
            if logins.is_empty() {
                println!("Demo data not loaded: this municipality already has residents.");
            } else {
                println!("Demo residents (log in at {base}/pages/resident):");
            }
            for l in logins {
                println!("  demo login: {} / {}  ({})", l.login_id, l.password, l.who);
            }
        }
        if !accounts::has_city_admin(&state.db, &state.default_municipality).map_err(|e| e.for_operator())? {
            println!("No administrator yet. In another terminal, from this directory, create the first one:");
            println!(
                "  {} admin create --data-dir {} --login-id admin --name \"City administrator\"",
                crate::cli::invocation(),
                crate::cli::shell_quote(&config.data_dir.display().to_string())
            );
            if config.database_url.is_some() {
                // Not printed: the URL may hold a password.
                println!("  (with DATABASE_URL set to this server's database, as when it was started)");
            }
            println!("  (it asks for a password and prints the second factor as a QR code; docs/walkthrough.md goes on from there)");
        }
        println!("Stop with Ctrl-C.");
        app.run_until_stopped().await.map_err(|e| e.to_string())
    })
}

/// The address a person on this machine opens: the listening address, or loopback when the server
/// listens on every interface.
fn local_base(ip: std::net::IpAddr, port: u16) -> String {
    let ip = match ip {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        other => other,
    };
    format!("http://{}", SocketAddr::new(ip, port))
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KYUKIT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::local_base;

    #[test]
    fn the_printed_base_is_one_a_browser_opens() {
        assert_eq!(
            local_base("127.0.0.1".parse().unwrap(), 8080),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            local_base("0.0.0.0".parse().unwrap(), 80),
            "http://127.0.0.1:80"
        );
        assert_eq!(local_base("::".parse().unwrap(), 8080), "http://[::1]:8080");
        assert_eq!(
            local_base("192.0.2.7".parse().unwrap(), 8443),
            "http://192.0.2.7:8443"
        );
    }
}
