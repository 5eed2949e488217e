#!/usr/bin/env bash
# What a scan costs the server, from outside it: context switches and CPU time per scan
# (`perf stat -e context-switches,task-clock` on the server process) and bytes it wrote to
# storage per scan (`write_bytes` of /proc/PID/io: WAL appends and checkpoints), over a window in
# the middle of a `bench/scan_load.sh` run; the scans in the window are the `accesses` rows added
# meanwhile (read with `sqlite3` read-only, or `psql`). Needs perf, and sqlite3 or psql.
#
# PostgreSQL (`--database-url URL`, a cluster with `pg_stat_statements` preloaded, e.g. one from
# `bench/scan_cost.sh --start-pg DIR`): also the statements per scan (`pg_stat_statements`, reset
# at the window's start, every statement of the bench's database, utility ones included), the
# PostgreSQL server's CPU per scan (utime + stime in /proc of the postmaster and all its
# children: backends, WAL writer, checkpointer, …) and the total against SQLite's server CPU.
#
#   bench/scan_cost.sh [--bin-dir DIR] [--concurrency N] [--window SECS] [--database-url URL]
#                                                                     [target/release 16 6 SQLite]
#   bench/scan_cost.sh --start-pg DIR     a throwaway cluster (tests/pg.sh) with pg_stat_statements;
#                                         prints its URL
#   bench/scan_cost.sh --stop-pg DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin_dir=$root/target/release concurrency=16 window=6 database_url=""
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
while [ $# -gt 0 ]; do
  case "$1" in
    --bin-dir) bin_dir=$(cd "$2" && pwd); shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --window) window=$2; shift 2 ;;
    --database-url) database_url=$2; shift 2 ;;
    --start-pg)
      url=$("$root/tests/pg.sh" start "$2")
      psql -q -X "$url" -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'" >/dev/null
      pgbin=$(dirname "$(readlink -f "$(command -v initdb)")")
      as_pg "$pgbin/pg_ctl" -D "$2/data" -w -t 60 restart >/dev/null
      psql -q -X "$url" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
      echo "$url"; exit 0 ;;
    --stop-pg) "$root/tests/pg.sh" stop "$2"; exit 0 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
for tool in perf $([ -n "$database_url" ] && echo psql || echo sqlite3); do
  command -v "$tool" >/dev/null || { echo "scan_cost: needs $tool" >&2; exit 1; }
done
out=$(mktemp -d "${TMPDIR:-/tmp}/kyukit-scan-cost.XXXXXX")
trap 'rm -rf "$out"' EXIT
db_args=()
[ -n "$database_url" ] && db_args=(--database-url "$database_url")
# Setup (≈ 4 s on an idle host, longer on a busy one), 2 s warm-up, then the window once the
# scans have begun, with room on both sides.
"$root/bench/scan_load.sh" --bin-dir "$bin_dir" --concurrency "$concurrency" \
  --duration $((window + 6)) --warmup 2 "${db_args[@]}" >"$out/run.txt" 2>&1 &
load=$!
pid=""
for _ in $(seq 1 600); do
  pid=$(pgrep -f "^$bin_dir/kyukit serve" | head -1 || true)
  [ -n "$pid" ] && break
  sleep 0.2
done
[ -n "$pid" ] || { cat "$out/run.txt" >&2; echo "scan_cost: no server" >&2; exit 1; }
arg() { tr '\0' '\n' <"/proc/$pid/cmdline" | grep -A1 -x -- "$1" | tail -1; }
ticks() { cat "$@" 2>/dev/null | awk '{s += $14 + $15} END {print s + 0}'; }
if [ -n "$database_url" ]; then
  bench_url=$(arg --database-url)
  bench_db=${bench_url%%\?*} bench_db=${bench_db##*/}
  sql() { psql -X -A -t -q "$database_url" -c "$1"; }
  count() { psql -X -A -t -q "$bench_url" -c "SELECT count(*) FROM accesses"; }
  postmaster=$(head -1 "$(sql 'SHOW data_directory')/postmaster.pid")
  # The postmaster (with its exited children's: cutime, cstime) and its children now.
  pg_ticks() {
    echo $(($(awk '{print $14 + $15 + $16 + $17}' "/proc/$postmaster/stat") +
      $(ticks $(pgrep -P "$postmaster" | sed 's#.*#/proc/&/stat#'))))
  }
else
  data=$(arg --data-dir)
  count() { sqlite3 "file:$data/kyukit.db?mode=ro" "SELECT count(*) FROM accesses"; }
fi
for _ in $(seq 1 1200); do
  [ "$(count 2>/dev/null || echo 0)" -gt 0 ] && break
  sleep 0.1
done
sleep 3
written() { awk '/^write_bytes/ {print $2}' "/proc/$pid/io"; }
if [ -n "$database_url" ]; then
  sql "SELECT pg_stat_statements_reset()" >/dev/null
  pg_before=$(pg_ticks)
fi
before=$(count) wrote=$(written) load_avg=$(cut -d' ' -f1-3 /proc/loadavg)
perf stat -x, -e context-switches,task-clock -p "$pid" -- sleep "$window" 2>"$out/perf.txt"
after=$(count) wrote=$(($(written) - wrote))
pg=""
if [ -n "$database_url" ]; then
  pg_cpu=$(($(pg_ticks) - pg_before))
  statements=$(sql "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '$bench_db'")
  sql "SELECT calls, left(regexp_replace(query, '\s+', ' ', 'g'), 110) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '$bench_db' ORDER BY calls DESC LIMIT 25" >"$out/statements.txt"
  pg="$statements $pg_cpu $(getconf CLK_TCK)"
fi
wait "$load"
awk -F, -v n=$((after - before)) -v w="$wrote" -v pg="$pg" -v la="$load_avg" '
  /context-switches/ {c = $1} /task-clock/ {t = $1}
  END {
    printf "scans in the window: %d; per scan: %.2f context switches, %.0f us of server CPU, %.1f KiB written\n", n, c / n, t * 1000 / n, w / 1024 / n
    if (pg != "") {
      split(pg, p, " ")
      printf "postgresql per scan: %.1f statements, %.0f us of PostgreSQL CPU; server + PostgreSQL %.0f us\n", p[1] / n, p[2] * 1e6 / p[3] / n, t * 1000 / n + p[2] * 1e6 / p[3] / n
    }
    printf "load average at the window'"'"'s start: %s\n", la
  }
' "$out/perf.txt"
grep '^| scan' "$out/run.txt" | awk -F'|' '{printf "whole run: %s scans/s, p99 %s ms\n", $8, $11}' | tr -s ' '
if [ -n "$database_url" ] && [ -n "${SCAN_COST_STATEMENTS:-}" ]; then
  echo "statements in the window (calls, query):"; cat "$out/statements.txt"
fi
