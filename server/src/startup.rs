//! Building and running the HTTP server: `Application::build` connects the database (running
//! migrations), creates the municipality and its first key on first start, binds (port 0 picks a
//! free port, which tests use) and reports the port before serving.

use crate::api;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::error::ApiError;
use crate::service::keys;
use crate::state::AppState;
use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use std::io;
use std::net::TcpListener;
use std::sync::Arc;

/// Largest request body accepted anywhere (413 above it).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// Connects the database and performs first-start set-up. Shared by `serve` and the CLI.
pub fn open(config: &Config, clock: &dyn Clock) -> io::Result<(Db, String)> {
    config.validate().map_err(io::Error::other)?;
    std::fs::create_dir_all(&config.data_dir)?;
    let db =
        Db::connect(&config.database_url(), config.db_max_connections).map_err(io::Error::other)?;
    let muni = keys::bootstrap(&db, &config.data_dir, &config.municipality, clock.now())
        .map_err(|e: ApiError| io::Error::other(e.to_string()))?;
    Ok((db, muni))
}

impl Application {
    pub fn build(config: &Config, clock: Arc<dyn Clock>) -> io::Result<Self> {
        let (db, municipality_id) = open(config, clock.as_ref())?;
        let state = AppState {
            db,
            config: Arc::new(config.clone()),
            municipality_id,
            clock,
        };
        let data = web::Data::new(state.clone());
        let listener = TcpListener::bind(config.listen)?;
        let port = listener.local_addr()?.port();
        let server = HttpServer::new(move || {
            App::new()
                .wrap(tracing_actix_web::TracingLogger::default())
                .app_data(data.clone())
                .app_data(api::json_config(MAX_BODY_BYTES))
                .app_data(api::path_config())
                .app_data(api::query_config())
                .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
                .configure(api::configure)
                .default_service(web::to(api::not_found))
        })
        .listen(listener)?
        .run();
        Ok(Application {
            port,
            server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The state the server runs with (tests use it to reach the database directly).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub async fn run_until_stopped(self) -> io::Result<()> {
        self.server.await
    }
}
