//! Building and running the HTTP server: `Application::build` connects the database (running
//! migrations), creates the municipality and its first key on first start, binds (port 0 picks a
//! free port, which tests use) and reports the port before serving.

use crate::api;
use crate::api::error::ApiError;
use crate::clock::Clock;
use crate::config::Config;
use crate::connections::{self, Admission};
use crate::db::Db;
use crate::service::keys;
use crate::state::AppState;
use actix_web::dev::Server;
use actix_web::dev::Service;
use actix_web::{App, HttpServer, web};
use std::io;
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
    crate::datadir::create(&config.data_dir)?;
    if let Some(file) = config.database_url().sqlite_file_path() {
        crate::datadir::secure_sqlite(&file)?;
    }
    let db = Db::connect(
        &config.database_url(),
        config.db_max_connections,
        config.db_writers,
    )
    .map_err(io::Error::other)?;
    let muni = keys::bootstrap(&db, &config.data_dir, &config.municipality, clock.now())
        .map_err(|e: ApiError| io::Error::other(e.to_string()))?;
    Ok((db, muni))
}

impl Application {
    pub fn build(config: &Config, clock: Arc<dyn Clock>) -> io::Result<Self> {
        let (db, default_municipality) = open(config, clock.as_ref())?;
        let state = AppState {
            db,
            config: Arc::new(config.clone()),
            default_municipality,
            clock,
            metrics: Arc::default(),
            limits: Arc::new(crate::ratelimit::RateLimits::new(&config.rate_limits)),
            feed: Arc::default(),
            push: Arc::new(crate::push::PushWorker::new(config)?), // push
            connections: Arc::default(),
            imports: Arc::default(),
            trust: Arc::new(crate::service::trust_list::TrustListSigner::load_or_create(
                &config.data_dir,
            )?),
        };
        let data = web::Data::new(state.clone());
        let listener = connections::listen(config.listen)?;
        let port = listener.local_addr()?.port();
        let metrics = state.metrics.clone();
        let slow = config.slow_clients;
        let connections = state.connections.clone();
        let server = HttpServer::new(move || {
            let metrics = metrics.clone();
            App::new()
                .wrap_fn(move |req, srv| {
                    let (metrics, method, started) = (
                        metrics.clone(),
                        req.method().to_string(),
                        std::time::Instant::now(),
                    );
                    let fut = srv.call(req);
                    async move {
                        let res = fut.await;
                        let status = match &res {
                            Ok(r) => r.status().as_u16(),
                            Err(e) => e.as_response_error().status_code().as_u16(),
                        };
                        metrics.observe(&method, status, started.elapsed().as_secs_f64());
                        res
                    }
                })
                .wrap(tracing_actix_web::TracingLogger::<RequestSpan>::new())
                .app_data(data.clone())
                .app_data(api::json_config(MAX_BODY_BYTES))
                .app_data(api::path_config())
                .app_data(api::query_config())
                .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
                .configure(api::configure)
                .default_service(web::to(api::not_found))
                // Outermost: a connection over its address's cap is refused before anything
                // else runs, and every request body is read under the deadlines.
                .wrap_fn(move |req, srv| {
                    let next = match connections::admit(req, slow) {
                        Admission::Refused(res) => Err(res),
                        Admission::Admitted { req, timed_out } => Ok((srv.call(req), timed_out)),
                    };
                    async move {
                        match next {
                            Err(refused) => Ok(refused.map_into_right_body()),
                            Ok((fut, timed_out)) => {
                                let res = fut.await?;
                                Ok(if timed_out.get() {
                                    connections::body_timed_out(res)
                                } else {
                                    res.map_into_left_body()
                                })
                            }
                        }
                    }
                })
        })
        .on_connect(connections::on_connect(connections, slow.per_addr))
        .client_disconnect_timeout(std::time::Duration::from_secs(1))
        // Signals are handled in `run_until_stopped`: the live feeds end first, then the
        // server stops gracefully, giving other requests at most `SHUTDOWN_GRACE`.
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
        .workers(config.http_workers.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        }))
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

    /// Serves until stopped; meanwhile purges withdrawn records past retention, hourly, and spent
    /// nonces every 10 s, escalates unacknowledged alerts, and sends the Web Push outbox.
    pub async fn run_until_stopped(self) -> io::Result<()> {
        let pusher = tokio::spawn(crate::push::run(self.state.clone())); // push
        // Retention purge (and idle rate-limit keys) hourly; spent nonces every 10 s, each a short
        // range at the left edge of their key (≈ 30,000 rows at 3,000 signed requests per second).
        let purger = tokio::spawn(every(self.state.clone(), 3600, "purge", |s, now| {
            s.limits.shrink();
            crate::service::purge::purge_due(&s.db, now)
        }));
        let nonces = tokio::spawn(every(self.state.clone(), 10, "nonce purge", |s, now| {
            crate::service::devices::purge_nonces(&s.db, now)
        }));
        let escalator = tokio::spawn(escalate(self.state.clone()));
        // PostgreSQL: events committed by any instance wake this instance's streams.
        let hub = self.state.feed.clone();
        let _listener = self.state.db.listen(crate::feed::CHANNEL, move |payload| {
            if let Some(note) = crate::feed::Note::parse(payload) {
                hub.publish(&[note]);
            }
        });
        let (handle, hub) = (self.server.handle(), self.state.feed.clone());
        let signals = tokio::spawn(async move {
            let why = shutdown_signal().await;
            tracing::info!(signal = why, "shutting down: live feeds end now");
            hub.close();
            handle.stop(true).await;
        });
        let result = self.server.await;
        signals.abort();
        self.state.feed.close();
        purger.abort();
        nonces.abort();
        escalator.abort();
        pusher.abort(); // push
        result
    }
}

/// The root span of every request, which every log event of the request carries: as
/// tracing-actix-web's default, but the target is the **path only**. The default logs the query
/// string verbatim (`http.target`), and a query may hold a secret (`?token=…` of a facility
/// application's status). The route template and the path still say what was asked.
#[derive(Debug)]
pub struct RequestSpan;

impl tracing_actix_web::RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &actix_web::dev::ServiceRequest) -> tracing::Span {
        let route = request.match_pattern().unwrap_or_else(|| "default".into());
        use actix_web::HttpMessage;
        let request_id = request
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .copied();
        let user_agent = request
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let info = request.connection_info();
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.target = %request.path(),
            http.host = %info.host(),
            http.client_ip = %info.realip_remote_addr().unwrap_or(""),
            http.user_agent = %user_agent,
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            request_id = %request_id.map(|id| id.to_string()).unwrap_or_default(),
        )
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: tracing::Span,
        outcome: &Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>,
    ) {
        tracing_actix_web::DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// How long a graceful stop waits for requests in flight (live feeds end at once).
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// Waits for SIGTERM or SIGINT (Ctrl-C); returns its name.
async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            },
            _ => {
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

/// Runs `job` on the blocking pool every `secs` seconds, the first time at once; a failure is
/// logged and the next run comes on time.
async fn every(
    state: AppState,
    secs: u64,
    what: &'static str,
    job: fn(&AppState, i64) -> Result<usize, crate::api::error::ApiError>,
) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(secs));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (s, now) = (state.clone(), state.clock.now());
        match web::block(move || job(&s, now)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, job = what, "housekeeping failed"),
            Err(e) => tracing::error!(error = %e, job = what, "housekeeping task failed"),
        }
    }
}

/// Escalates unacknowledged pre-arrival alerts, checking every `escalation_tick_ms`.
async fn escalate(state: AppState) {
    let tick = std::time::Duration::from_millis(state.config.escalation_tick_ms.max(50));
    let mut every = tokio::time::interval(tick);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let (db, now, policy) = (
            state.db.clone(),
            state.clock.now(),
            state.config.escalation_policy(),
        );
        let wake = state.wakers();
        // Every municipality's incidents, one after another (each is scoped by its tenant).
        let due = move || {
            let munis = db.read(|c| {
                crate::db::keys::municipalities(c).map_err(crate::service::error::DomainError::from)
            })?;
            let mut steps = Vec::new();
            for m in munis {
                steps.extend(crate::service::incidents::escalate_due(
                    &db, &m.id, &policy, now, &wake,
                )?);
            }
            Ok::<_, crate::service::error::DomainError>(steps)
        };
        match web::block(due).await {
            Ok(Ok(steps)) => {
                for s in &steps {
                    state.metrics.escalation(s);
                }
            }
            // It gave way to a request holding the same rows (see `db::yield_locks`): the next
            // tick takes the step.
            Ok(Err(e)) if e.kind() == crate::service::error::Kind::Unavailable => {
                tracing::warn!(error = %e.for_operator(), "escalation check deferred to the next tick")
            }
            Ok(Err(e)) => tracing::error!(error = %e.for_operator(), "escalation check failed"),
            Err(e) => tracing::error!(error = %e, "escalation task failed"),
        }
    }
}
