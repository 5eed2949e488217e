//! A closed-loop load phase, whatever the request: `concurrency` tasks, each sending one
//! request after another (an [`Op`]) for the warm-up and then the measured window; only requests
//! completed inside the window count. Scans, logins (and later reports) are `Op`s.

use crate::probe::{self, Memory, Metrics};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// One request's outcome: `Ok(())` for the expected answer, else the error key
/// (`"<status> <error code>"` or `transport`) and a message.
pub type OpResult = Result<(), (String, String)>;

/// A request to measure, sent by task `task` as its `seq`-th request. It returns the request's
/// **measured part**: what it does before returning the future (e.g. signing) is not timed.
pub trait Op: Send + Sync + 'static {
    fn prepare(
        &self,
        task: usize,
        seq: u64,
        rng: &mut Rng,
    ) -> Pin<Box<dyn Future<Output = OpResult> + Send + 'static>>;
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub concurrency: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub seed: u64,
    pub server_pid: Option<u32>,
}

/// Readings at one edge of the measured window.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub at: Option<Instant>,
    pub server_cpu: Option<f64>,
    pub self_cpu: Option<f64>,
    /// Whole machine: (busy, iowait) CPU seconds.
    pub host_cpu: Option<(f64, f64)>,
    pub metrics: Option<Metrics>,
}

/// What one load phase measured: requests completed inside the window.
#[derive(Debug, Default)]
pub struct Measured {
    /// Latency of each `201`, in microseconds, sorted.
    pub ok_micros: Vec<u64>,
    /// Everything else, by `"<status> <error code>"` (or `transport`).
    pub errors: BTreeMap<String, u64>,
    /// One message per error key, for the log.
    pub error_samples: BTreeMap<String, String>,
    pub window: Duration,
    /// Server memory just before the warm-up and after the window.
    pub memory_before: Option<Memory>,
    pub memory_after: Option<Memory>,
    pub start: Snapshot,
    pub end: Snapshot,
}

/// splitmix64: a tiny, seedable generator for the card choice.
#[derive(Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[derive(Debug, Default)]
struct TaskResult {
    ok_micros: Vec<u64>,
    errors: BTreeMap<String, u64>,
    error_samples: BTreeMap<String, String>,
}

async fn snapshot(http: &reqwest::Client, base: &str, pid: Option<u32>) -> Snapshot {
    Snapshot {
        at: Some(Instant::now()),
        server_cpu: pid.and_then(|p| probe::cpu_seconds(&p.to_string())),
        self_cpu: probe::cpu_seconds("self"),
        host_cpu: probe::host_cpu_seconds(),
        metrics: probe::metrics(http, base).await,
    }
}

pub async fn run(
    op: Arc<dyn Op>,
    http: &reqwest::Client,
    base: &str,
    plan: &Plan,
) -> Result<Measured, String> {
    let memory_before = plan.server_pid.and_then(probe::memory);
    let t0 = Instant::now();
    let warm_end = t0 + plan.warmup;
    let end = warm_end + plan.duration;
    let mut set = JoinSet::new();
    for task in 0..plan.concurrency {
        let op = op.clone();
        let mut rng = Rng(plan.seed.wrapping_mul(1_000_003).wrapping_add(task as u64));
        set.spawn(async move {
            let mut out = TaskResult::default();
            let mut seq = 0u64;
            while Instant::now() < end {
                seq += 1;
                let request = op.prepare(task, seq, &mut rng);
                let started = Instant::now();
                let result = request.await;
                let done = Instant::now();
                if done < warm_end || done > end {
                    continue;
                }
                match result {
                    Ok(()) => out
                        .ok_micros
                        .push(u64::try_from((done - started).as_micros()).unwrap_or(u64::MAX)),
                    Err((key, message)) => {
                        *out.errors.entry(key.clone()).or_insert(0) += 1;
                        out.error_samples.entry(key).or_insert(message);
                    }
                }
            }
            out
        });
    }
    tokio::time::sleep_until(warm_end.into()).await;
    let start = snapshot(http, base, plan.server_pid).await;
    tokio::time::sleep_until(end.into()).await;
    let end_snap = snapshot(http, base, plan.server_pid).await;
    let mut measured = Measured {
        window: plan.duration,
        memory_before,
        start,
        end: end_snap,
        ..Measured::default()
    };
    while let Some(joined) = set.join_next().await {
        let r = joined.map_err(|e| format!("scan task: {e}"))?;
        measured.ok_micros.extend(r.ok_micros);
        for (k, n) in r.errors {
            *measured.errors.entry(k).or_insert(0) += n;
        }
        for (k, m) in r.error_samples {
            measured.error_samples.entry(k).or_insert(m);
        }
    }
    measured.memory_after = plan.server_pid.and_then(probe::memory);
    measured.ok_micros.sort_unstable();
    for (key, message) in &measured.error_samples {
        eprintln!("  error {key}: e.g. {message}");
    }
    Ok(measured)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_seeded_and_in_range() {
        let (mut a, mut b) = (Rng(7), Rng(7));
        for _ in 0..1000 {
            let x = a.below(200);
            assert_eq!(x, b.below(200));
            assert!(x < 200);
        }
    }
}
