//! One row per load phase: the table for people, one JSON object for scripts.

use crate::load::Measured;
use crate::probe::Memory;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// What was measured: the request kind (`scan`, `login`, …), the server's backend and the world.
#[derive(Debug, Clone)]
pub struct Subject {
    /// `scan`, `login`: the table's rate column is `<kind>s/s`.
    pub kind: &'static str,
    pub backend: String,
    /// e.g. `32 devices, 200 cards`.
    pub world: String,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub kind: &'static str,
    pub backend: String,
    pub world: String,
    pub concurrency: usize,
    pub window_s: f64,
    /// Requests completed in the window (`201` and errors).
    pub requests: u64,
    pub ok: u64,
    pub errors: BTreeMap<String, u64>,
    /// `201` answers per second of the window.
    pub throughput: f64,
    /// Latency of the `201` answers, milliseconds.
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    /// Server memory (MiB): at the start of the benchmark (before setup), before this phase's
    /// warm-up, after its window; and the peak so far.
    pub rss_start_mib: Option<f64>,
    pub rss_before_mib: Option<f64>,
    pub rss_after_mib: Option<f64>,
    pub hwm_after_mib: Option<f64>,
    /// CPU used during the window, in cores (1.0 = one core busy all the time).
    pub server_cpu_cores: Option<f64>,
    pub bench_cpu_cores: Option<f64>,
    /// The whole machine during the window, in cores: busy (everything, e.g. PostgreSQL too) and
    /// waiting for I/O.
    pub host_cpu_cores: Option<f64>,
    pub host_iowait_cores: Option<f64>,
    /// Mean time in the server (its own /metrics histogram) during the window.
    pub server_mean_ms: Option<f64>,
    /// SQLite group commit, when the server reports it: commits (fsyncs) per second and write
    /// transactions per commit during the window.
    pub commits_per_s: Option<f64>,
    pub writes_per_commit: Option<f64>,
}

fn mib(m: Option<Memory>, peak: bool) -> Option<f64> {
    m.map(|m| (if peak { m.hwm_kib } else { m.rss_kib }) as f64 / 1024.0)
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.clamp(1, sorted.len()) - 1)
        .copied()
        .unwrap_or(0)
}

fn delta(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(b? - a?)
}

impl Report {
    pub fn new(
        subject: &Subject,
        concurrency: usize,
        rss_start: Option<Memory>,
        m: Measured,
    ) -> Self {
        let window_s = m
            .start
            .at
            .zip(m.end.at)
            .map(|(a, b)| (b - a).as_secs_f64())
            .unwrap_or_else(|| m.window.as_secs_f64())
            .max(1e-3);
        let ok = m.ok_micros.len() as u64;
        let failed: u64 = m.errors.values().sum();
        let ms = |us: u64| us as f64 / 1000.0;
        let mean_ms = if m.ok_micros.is_empty() {
            0.0
        } else {
            m.ok_micros.iter().sum::<u64>() as f64 / m.ok_micros.len() as f64 / 1000.0
        };
        let per_s = |d: Option<f64>| d.map(|d| d / window_s);
        let (ms0, ms1) = (m.start.metrics.clone(), m.end.metrics.clone());
        let metric = |f: fn(&crate::probe::Metrics) -> Option<f64>| {
            delta(ms0.as_ref().and_then(f), ms1.as_ref().and_then(f))
        };
        let server_mean_ms = match (metric(|x| x.duration_sum), metric(|x| x.duration_count)) {
            (Some(s), Some(n)) if n > 0.0 => Some(s / n * 1000.0),
            _ => None,
        };
        // Servers without group commit report no counters.
        let (commits, writes) = match (metric(|x| x.group_commits), metric(|x| x.group_writes)) {
            (Some(c), Some(w)) if c > 0.0 || w > 0.0 => (Some(c), Some(w)),
            _ => (None, None),
        };
        let host =
            |f: fn((f64, f64)) -> f64| per_s(delta(m.start.host_cpu.map(f), m.end.host_cpu.map(f)));
        Report {
            kind: subject.kind,
            backend: subject.backend.clone(),
            world: subject.world.clone(),
            concurrency,
            window_s,
            requests: ok + failed,
            ok,
            errors: m.errors,
            throughput: ok as f64 / m.window.as_secs_f64().max(1e-3),
            p50_ms: ms(percentile(&m.ok_micros, 50.0)),
            p95_ms: ms(percentile(&m.ok_micros, 95.0)),
            p99_ms: ms(percentile(&m.ok_micros, 99.0)),
            max_ms: ms(m.ok_micros.last().copied().unwrap_or(0)),
            mean_ms,
            rss_start_mib: mib(rss_start, false),
            rss_before_mib: mib(m.memory_before, false),
            rss_after_mib: mib(m.memory_after, false),
            hwm_after_mib: mib(m.memory_after, true),
            server_cpu_cores: per_s(delta(m.start.server_cpu, m.end.server_cpu)),
            bench_cpu_cores: per_s(delta(m.start.self_cpu, m.end.self_cpu)),
            host_cpu_cores: host(|h| h.0),
            host_iowait_cores: host(|h| h.1),
            server_mean_ms,
            commits_per_s: per_s(commits),
            writes_per_commit: match (commits, writes) {
                (Some(c), Some(w)) if c > 0.0 => Some(w / c),
                _ => None,
            },
        }
    }

    pub fn errors_text(&self) -> String {
        let total: u64 = self.errors.values().sum();
        if total == 0 {
            return "0".into();
        }
        let parts: Vec<String> = self
            .errors
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        format!("{total} ({})", parts.join(", "))
    }

    pub fn to_json(&self) -> Value {
        let round = |x: f64| (x * 1000.0).round() / 1000.0;
        let opt = |x: Option<f64>| x.map(round);
        json!({
            "bench": self.kind,
            "backend": self.backend,
            "world": self.world,
            "concurrency": self.concurrency,
            "window_s": round(self.window_s),
            "requests": self.requests,
            "ok": self.ok,
            "errors": self.errors,
            "throughput_per_s": round(self.throughput),
            "latency_ms": {
                "p50": round(self.p50_ms), "p95": round(self.p95_ms), "p99": round(self.p99_ms),
                "max": round(self.max_ms), "mean": round(self.mean_ms),
            },
            "server_rss_mib": {
                "start": opt(self.rss_start_mib), "before": opt(self.rss_before_mib),
                "after": opt(self.rss_after_mib), "peak": opt(self.hwm_after_mib),
            },
            "server_cpu_cores": opt(self.server_cpu_cores),
            "bench_cpu_cores": opt(self.bench_cpu_cores),
            "host_cpu_cores": opt(self.host_cpu_cores),
            "host_iowait_cores": opt(self.host_iowait_cores),
            "server_mean_ms": opt(self.server_mean_ms),
            "db_commits_per_s": opt(self.commits_per_s),
            "db_writes_per_commit": opt(self.writes_per_commit),
        })
    }
}

fn or_dash(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "-".into(), |x| format!("{x:.digits$}"))
}

/// A Markdown table, one row per report (all of one kind, or the rate column says
/// `requests/s`).
pub fn table(reports: &[Report]) -> String {
    let mut out = String::new();
    let kind = match reports.first() {
        Some(first) if reports.iter().all(|r| r.kind == first.kind) => first.kind,
        _ => "request",
    };
    let _ = writeln!(
        out,
        "| bench | backend | world | concurrency | requests | errors | {kind}s/s | p50 ms | p95 ms | p99 ms | max ms | server ms (mean) | server CPU | bench CPU | host CPU (iowait) | RSS before→after (peak) MiB | commits/s | writes/commit |"
    );
    let _ = writeln!(
        out,
        "|---|---|---|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|"
    );
    for r in reports {
        let rss = match (r.rss_before_mib, r.rss_after_mib, r.hwm_after_mib) {
            (Some(b), Some(a), Some(p)) => format!("{b:.1} → {a:.1} ({p:.1})"),
            _ => "-".into(),
        };
        let host = match (r.host_cpu_cores, r.host_iowait_cores) {
            (Some(b), Some(w)) => format!("{b:.2} ({w:.2})"),
            _ => "-".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} | {} | {} | {} |",
            r.kind,
            r.backend,
            r.world,
            r.concurrency,
            r.requests,
            r.errors_text(),
            r.throughput,
            r.p50_ms,
            r.p95_ms,
            r.p99_ms,
            r.max_ms,
            or_dash(r.server_mean_ms, 2),
            or_dash(r.server_cpu_cores, 2),
            or_dash(r.bench_cpu_cores, 2),
            host,
            rss,
            or_dash(r.commits_per_s, 0),
            or_dash(r.writes_per_commit, 1),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 95.0), 95);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&[7], 50.0), 7);
        assert_eq!(percentile(&[], 99.0), 0);
    }
}
