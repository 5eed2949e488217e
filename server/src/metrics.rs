//! Prometheus metrics at `/metrics` (text format 0.0.4): requests by method and status class, a
//! latency histogram, the database pool, and build info. Labels carry no paths, ids or people.
//! Latency uses the monotonic clock: it is measurement, not logic, so it does not go through `Clock`.

use crate::state::AppState;
use actix_web::{HttpResponse, web};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "OTHER"];
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Debug, Default)]
pub struct Metrics {
    requests: [[AtomicU64; 5]; 5],
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
    /// Web Push attempts by outcome (`PUSH_OUTCOMES`).
    push: [AtomicU64; 5], // push
    /// Escalation steps: unacknowledged by level 1, 2, 3, 4+; then `unanswered` re-alerts.
    escalations: [AtomicU64; 5],
}

/// The `outcome` label values of `kyukit_push_deliveries_total`.
pub const PUSH_OUTCOMES: [&str; 5] = ["sent", "gone", "retry", "failed", "expired"]; // push

impl Metrics {
    /// Records one answered request.
    pub fn observe(&self, method: &str, status: u16, seconds: f64) {
        let m = METHODS
            .iter()
            .position(|x| *x == method)
            .unwrap_or(METHODS.len() - 1);
        let class = usize::from((status / 100).clamp(1, 5) - 1);
        self.requests[m][class].fetch_add(1, Ordering::Relaxed);
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        // Whole microseconds: sub-microsecond precision is noise here.
        let micros = (seconds * 1e6).clamp(0.0, 1e15) as u64;
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    // push
    /// Records one Web Push attempt's outcome (`sent`, `gone`, `retry`, `failed`).
    pub fn push_outcome(&self, outcome: &str) {
        if let Some(i) = PUSH_OUTCOMES.iter().position(|o| *o == outcome) {
            self.push[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records one step of the escalation chain (an unacknowledged alert's `level`, or an
    /// `unanswered` re-alert).
    pub fn escalation(&self, step: &crate::service::incidents::Step) {
        let i = match step.kind {
            crate::service::incidents::StepKind::Unanswered => 4,
            crate::service::incidents::StepKind::Unacknowledged => {
                usize::try_from(step.level.clamp(1, 4) - 1).unwrap_or(0)
            }
        };
        self.escalations[i].fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, state: &AppState) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP kyukit_http_requests_total HTTP requests answered, by method and status class."
        );
        let _ = writeln!(out, "# TYPE kyukit_http_requests_total counter");
        for (m, method) in METHODS.iter().enumerate() {
            for class in 0..5 {
                let n = self.requests[m][class].load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "kyukit_http_requests_total{{method=\"{method}\",status=\"{}xx\"}} {n}",
                        class + 1
                    );
                }
            }
        }
        let _ = writeln!(
            out,
            "# HELP kyukit_http_request_duration_seconds Time from request to response."
        );
        let _ = writeln!(out, "# TYPE kyukit_http_request_duration_seconds histogram");
        for (i, le) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "kyukit_http_request_duration_seconds_bucket{{le=\"{le}\"}} {}",
                self.buckets[i].load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "kyukit_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "kyukit_http_request_duration_seconds_sum {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "kyukit_http_request_duration_seconds_count {count}");
        let pool = state.db.pool_state();
        let _ = writeln!(
            out,
            "# HELP kyukit_db_connections Database pool connections."
        );
        let _ = writeln!(out, "# TYPE kyukit_db_connections gauge");
        let _ = writeln!(out, "kyukit_db_connections{{state=\"open\"}} {}", pool.0);
        let _ = writeln!(out, "kyukit_db_connections{{state=\"idle\"}} {}", pool.1);
        let (commits, writes) = state.db.group_commit_stats();
        let _ = writeln!(
            out,
            "# HELP kyukit_db_group_commits_total SQLite commits (each one fsync) and the write transactions they carried"
        );
        let _ = writeln!(out, "# TYPE kyukit_db_group_commits_total counter");
        let _ = writeln!(out, "kyukit_db_group_commits_total {commits}");
        let _ = writeln!(out, "# TYPE kyukit_db_group_writes_total counter");
        let _ = writeln!(out, "kyukit_db_group_writes_total {writes}");
        let stats = state.db.stats();
        let get = crate::db::DbStats::get;
        let _ = writeln!(
            out,
            "# HELP kyukit_db_statements_total Statements sent to PostgreSQL (each a round trip; 0 on SQLite)"
        );
        let _ = writeln!(out, "# TYPE kyukit_db_statements_total counter");
        let _ = writeln!(out, "kyukit_db_statements_total {}", get(&stats.statements));
        let _ = writeln!(
            out,
            "# HELP kyukit_db_checkouts_total Read pool checkouts; validated: those that sent a SELECT 1 first (the connection had been idle); lost: connections closed as lost or broken"
        );
        let _ = writeln!(out, "# TYPE kyukit_db_checkouts_total counter");
        let _ = writeln!(out, "kyukit_db_checkouts_total {}", get(&stats.checkouts));
        let _ = writeln!(out, "# TYPE kyukit_db_checkouts_validated_total counter");
        let _ = writeln!(
            out,
            "kyukit_db_checkouts_validated_total {}",
            get(&stats.validations)
        );
        let _ = writeln!(out, "# TYPE kyukit_db_connections_lost_total counter");
        let _ = writeln!(out, "kyukit_db_connections_lost_total {}", get(&stats.lost));
        // push
        let _ = writeln!(
            out,
            "# HELP kyukit_push_deliveries_total Web Push send attempts by outcome: sent (2xx), gone (404/410 or unsubscribed: the subscription is removed), retry (429, 5xx or no answer: sent again after the back-off), failed (other answers), expired (the alert's TTL was spent before a push service took it)."
        );
        let _ = writeln!(out, "# TYPE kyukit_push_deliveries_total counter");
        for (i, outcome) in PUSH_OUTCOMES.iter().enumerate() {
            let _ = writeln!(
                out,
                "kyukit_push_deliveries_total{{outcome=\"{outcome}\"}} {}",
                self.push[i].load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP kyukit_escalations_total Escalation steps taken: unacknowledged alerts by level (1 at --escalate-after-secs or when a push expired, one more every --escalation-repeat-secs; level 2 adds the backup ED devices, 3 the facility manager), and re-alerts of acknowledged but unanswered inquiries."
        );
        let _ = writeln!(out, "# TYPE kyukit_escalations_total counter");
        for (i, label) in [
            "step=\"unacknowledged\",level=\"1\"",
            "step=\"unacknowledged\",level=\"2\"",
            "step=\"unacknowledged\",level=\"3\"",
            "step=\"unacknowledged\",level=\"4+\"",
            "step=\"unanswered\"",
        ]
        .iter()
        .enumerate()
        {
            let _ = writeln!(
                out,
                "kyukit_escalations_total{{{label}}} {}",
                self.escalations[i].load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP kyukit_feed_clients Live-feed (Server-Sent Events) streams open on this instance."
        );
        let _ = writeln!(out, "# TYPE kyukit_feed_clients gauge");
        let _ = writeln!(out, "kyukit_feed_clients {}", state.feed.clients());
        let _ = writeln!(
            out,
            "# HELP kyukit_connections_open HTTP connections open on this instance (each holds a file descriptor)."
        );
        let _ = writeln!(out, "# TYPE kyukit_connections_open gauge");
        let _ = writeln!(out, "kyukit_connections_open {}", state.connections.open());
        let _ = writeln!(
            out,
            "# HELP kyukit_build_info Version and database backend."
        );
        let _ = writeln!(out, "# TYPE kyukit_build_info gauge");
        let _ = writeln!(
            out,
            "kyukit_build_info{{version=\"{}\",backend=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION"),
            state.db.backend().name()
        );
        out
    }
}

/// Prometheus metrics (text exposition format 0.0.4).
///
/// Requests by method and status class, latency, the database pool, build info. No paths, ids
/// or people in the labels.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "public",
    responses(
        (status = 200, description = "The metrics", content_type = "text/plain; version=0.0.4; charset=utf-8", body = String),
    )
)]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(&state))
}
