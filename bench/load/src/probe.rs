//! What the benchmark reads besides its own timings: the server's memory and CPU time from
//! `/proc/PID/…` (Linux), and its Prometheus `/metrics`.

use std::time::Duration;

/// Clock ticks per second of `/proc/PID/stat` times (`USER_HZ`, 100 on every Linux ABI).
const USER_HZ: f64 = 100.0;

/// Resident and peak resident memory, in KiB.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

/// `VmRSS` and `VmHWM` of `/proc/PID/status`.
pub fn memory(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
    };
    Some(Memory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

/// User + system CPU seconds of a process (`"self"` or a pid), all threads.
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces): state is
    // field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

/// Busy and iowait CPU seconds of the whole machine (`/proc/stat`, all CPUs): busy is user, nice,
/// system, irq, softirq and steal.
pub fn host_cpu_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    let at = |i: usize| v.get(i).copied().unwrap_or(0.0);
    // user nice system idle iowait irq softirq steal
    let busy = at(0) + at(1) + at(2) + at(5) + at(6) + at(7);
    Some((busy / USER_HZ, at(4) / USER_HZ))
}

/// The counters of the server's `/metrics` that the report uses.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    pub backend: Option<String>,
    pub duration_sum: Option<f64>,
    pub duration_count: Option<f64>,
    pub group_commits: Option<f64>,
    pub group_writes: Option<f64>,
}

pub async fn metrics(http: &reqwest::Client, base: &str) -> Option<Metrics> {
    let resp = http
        .get(format!("{base}/metrics"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()?;
    if !resp.status().is_success() {
        return None;
    }
    Some(parse_metrics(&resp.text().await.ok()?))
}

fn parse_metrics(text: &str) -> Metrics {
    let mut m = Metrics::default();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let value = value.parse::<f64>().ok();
        match name {
            "kyukit_http_request_duration_seconds_sum" => m.duration_sum = value,
            "kyukit_http_request_duration_seconds_count" => m.duration_count = value,
            "kyukit_db_group_commits_total" => m.group_commits = value,
            "kyukit_db_group_writes_total" => m.group_writes = value,
            _ => {
                if let Some(labels) = name.strip_prefix("kyukit_build_info{") {
                    m.backend = labels.split(',').find_map(|kv| {
                        kv.trim_end_matches('}')
                            .strip_prefix("backend=")
                            .map(|v| v.trim_matches('"').to_string())
                    });
                }
            }
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_server_metrics() {
        let m = parse_metrics(
            "# TYPE x counter\nkyukit_http_request_duration_seconds_sum 1.5\n\
             kyukit_http_request_duration_seconds_count 30\nkyukit_db_group_commits_total 7\n\
             kyukit_build_info{version=\"0.1.0\",backend=\"sqlite\"} 1\n",
        );
        assert_eq!(m.backend.as_deref(), Some("sqlite"));
        assert_eq!(m.duration_sum, Some(1.5));
        assert_eq!(m.duration_count, Some(30.0));
        assert_eq!(m.group_commits, Some(7.0));
        assert_eq!(m.group_writes, None);
    }

    #[test]
    fn reads_its_own_process() {
        assert!(cpu_seconds("self").is_some());
        let (busy, iowait) = host_cpu_seconds().unwrap();
        assert!(busy > 0.0 && iowait >= 0.0);
        let me = memory(std::process::id()).unwrap();
        assert!(me.rss_kib > 0 && me.hwm_kib >= me.rss_kib);
    }
}
