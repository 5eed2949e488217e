//! Building and running the HTTP server: `Application::build` binds (port 0 picks a free port,
//! which tests use) and reports the port before serving.

use crate::api;
use crate::clock::Clock;
use crate::config::Config;
use crate::keystore::KeyStore;
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
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Application {
    pub fn build(config: &Config, clock: Arc<dyn Clock>) -> io::Result<Self> {
        config.validate().map_err(io::Error::other)?;
        std::fs::create_dir_all(&config.data_dir)?;
        let keystore = KeyStore::open_or_init(&config.data_dir)?;
        let keys = keystore.public_keys();
        let jwks = keys.to_jwks().map_err(io::Error::other)?;
        let state = web::Data::new(AppState {
            keys,
            jwks_json: serde_json::to_string(&jwks).map_err(io::Error::other)?,
            clock,
        });
        let listener = TcpListener::bind(config.listen)?;
        let port = listener.local_addr()?.port();
        let server = HttpServer::new(move || {
            App::new()
                .wrap(tracing_actix_web::TracingLogger::default())
                .app_data(state.clone())
                .app_data(web::JsonConfig::default().limit(MAX_BODY_BYTES))
                .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
                .configure(api::configure)
                .default_service(web::to(api::not_found))
        })
        .listen(listener)?
        .run();
        Ok(Application { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> io::Result<()> {
        self.server.await
    }
}
