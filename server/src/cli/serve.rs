//! `kyukit serve`: start the HTTP server.

use crate::clock::SystemClock;
use crate::config::Config;
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
    /// Database: `postgres://…` for PostgreSQL; default SQLite at <data-dir>/kyukit.db.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
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
        Ok(config)
    }
}

pub fn run(args: ServeArgs) -> Result<(), String> {
    init_logging();
    let config = args.config()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let app = Application::build(&config, Arc::new(SystemClock))
            .map_err(|e| format!("cannot start: {e}"))?;
        let base = format!("http://{}:{}", config.listen.ip(), app.port());
        println!(
            "Kyukit is running. Data directory: {}",
            config.data_dir.display()
        );
        println!("  health:   {base}/healthz");
        println!("  JWKS:     {base}/.well-known/jwks.json");
        println!(
            "  cards:    {} (public URL; put TLS in front in production)",
            config.card_base_url()
        );
        println!("Stop with Ctrl-C.");
        app.run_until_stopped().await.map_err(|e| e.to_string())
    })
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
