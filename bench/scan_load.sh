#!/usr/bin/env bash
# Load benchmark: build release, start a throwaway `kyukit serve` (rate limits off), create its
# first administrator, and run `kyukit-bench scan` (or `login`) against it; stop everything on exit.
#
#   bench/scan_load.sh [options] [-- more kyukit-bench options]
#     --bench scan|login|prearrival  what to measure: signed card scans, residents' logins, or
#                             pre-arrival latency (report POST → ED SSE event and → push;
#                             `--iterations N` after `--`)                                 [scan]
#     --concurrency LIST      e.g. 16,64,128 (one measurement per value, same world)    [64]
#     --devices N --residents N --duration SECS --warmup SECS                          [32 200 20 3]
#     --idle SECS             after the load, wait SECS and print the server's idle RSS
#                             (with its RSS when it had just started)                   [0: skip]
#     --json                  JSON lines instead of the table
#     --database-url URL      run on PostgreSQL: a fresh database is created next to the URL's
#                             (same server, name kyukit_bench_<time>) and dropped afterwards
#     --pg-cluster DIR        start a throwaway cluster with tests/pg.sh in DIR (stopped and
#                             deleted afterwards) and use it as --database-url
#     --keep                  keep the data directory, server log and PostgreSQL database
#     --no-build              use the binaries already in target/release
#     --bin-dir DIR           take kyukit and kyukit-bench from DIR (e.g. another commit's build);
#                             implies --no-build
# Server settings come from its environment (e.g. KYUKIT_DB_WRITERS, KYUKIT_WORKERS).
# Only loopback traffic; the server listens on 127.0.0.1 on a port the kernel picks.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
concurrency=64 devices=32 residents="" duration=20 warmup=3 bench_kind=scan idle=0
json="" database_url="" pg_cluster="" keep="" build=1 bin_dir="" extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bench) bench_kind=$2; shift 2 ;;
    --idle) idle=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --devices) devices=$2; shift 2 ;;
    --residents) residents=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --json) json=--json; shift ;;
    --database-url) database_url=$2; shift 2 ;;
    --pg-cluster) pg_cluster=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --no-build) build=""; shift ;;
    --bin-dir) bin_dir=$(cd "$2" && pwd); build=""; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
log() { echo "scan_load: $*" >&2; }

if [ -n "$build" ]; then
  (cd "$root" && cargo build --release -p kyukit-server -p kyukit-bench) >&2
fi
bin_dir=${bin_dir:-$root/target/release}
kyukit=$bin_dir/kyukit bench=$bin_dir/kyukit-bench

work=$(mktemp -d "${TMPDIR:-/tmp}/kyukit-bench.XXXXXX")
server_pid="" bench_db="" admin_url=""
cleanup() {
  set +e
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; fi
  if [ -n "$bench_db" ] && [ -z "$keep" ] && [ -z "$pg_cluster" ]; then
    psql -q -X "$admin_url" -c "DROP DATABASE IF EXISTS $bench_db" >/dev/null 2>&1
  fi
  if [ -n "$pg_cluster" ]; then "$root/tests/pg.sh" stop "$pg_cluster"; fi
  if [ -z "$keep" ]; then rm -rf "$work"; else log "kept $work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "$pg_cluster" ]; then
  database_url=$("$root/tests/pg.sh" start "$pg_cluster")
  log "PostgreSQL cluster in $pg_cluster"
fi
db_args=()
if [ -n "$database_url" ]; then
  # postgres://user@host[:port]/db[?query] → same server, database kyukit_bench_<time>, empty.
  admin_url=$database_url
  query="" base=$database_url
  case "$database_url" in *\?*) query="?${database_url#*\?}"; base=${database_url%%\?*} ;; esac
  bench_db=kyukit_bench_$(date +%s)_$$
  psql -q -X -v ON_ERROR_STOP=1 "$admin_url" -c "CREATE DATABASE $bench_db" >/dev/null
  db_args=(--database-url "${base%/*}/$bench_db$query")
  log "PostgreSQL database $bench_db"
fi

export KYUKIT_ADMIN_PASSWORD="bench administrator password"
admin_out=$("$kyukit" admin create --data-dir "$work/data" "${db_args[@]}" --login-id admin --name "Bench administrator")
# The administrator's second factor (printed once by `kyukit admin create`).
KYUKIT_ADMIN_TOTP_SECRET=$(sed -n 's/^ *secret: *//p' <<<"$admin_out")
export KYUKIT_ADMIN_TOTP_SECRET

"$kyukit" serve --listen 127.0.0.1:0 --data-dir "$work/data" "${db_args[@]}" \
  --scans-per-device-per-min 0 --scans-per-addr-per-min 0 \
  --logins-per-addr-per-min 0 --logins-per-id-per-min 0 \
  --registrations-per-addr-per-min 0 \
  $([ "$bench_kind" = prearrival ] && echo --push-allow-insecure-loopback) \
  >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
base_url=""
for _ in $(seq 100); do
  base_url=$(sed -n 's#.*health: *\(http://127\.0\.0\.1:[0-9]*\)/healthz.*#\1#p' "$work/server.out" | head -1)
  if [ -n "$base_url" ] && curl -fsS "$base_url/healthz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then cat "$work/server.out" "$work/server.log" >&2; exit 1; fi
  base_url=""; sleep 0.1
done
[ -n "$base_url" ] || { log "server did not become healthy"; cat "$work/server.log" >&2; exit 1; }
log "server $base_url (pid $server_pid), data $work/data, log $work/server.log"
log "host: $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), data on $(df -T "$work" | awk 'NR==2 {print $2}')"

rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$server_pid/status" | awk '{printf "%.1f", $1/1024}'; }
sleep 1
rss_fresh=$(rss)
case "$bench_kind" in
  scan) world=(--devices "$devices" --residents "${residents:-200}") ;;
  login) world=(--residents "${residents:-16}") ;;
  prearrival) world=() ;;
  *) log "unknown --bench $bench_kind (scan, login or prearrival)"; exit 2 ;;
esac
if [ "$bench_kind" = prearrival ]; then
  "$bench" prearrival --server "$base_url" --admin-login admin "${extra[@]}"
else
  "$bench" "$bench_kind" --server "$base_url" --admin-login admin --server-pid "$server_pid" \
    "${world[@]}" --concurrency "$concurrency" \
    --duration "$duration" --warmup "$warmup" $json "${extra[@]}"
fi
if [ "$idle" -gt 0 ]; then
  sleep "$idle"
  log "server idle RSS: $rss_fresh MiB just started, $(rss) MiB ${idle} s after the load ($(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$server_pid/status" | awk '{printf "%.1f", $1/1024}') MiB peak)"
fi
log "server log: $(wc -l <"$work/server.log") lines, $(grep -c '"level":"ERROR"' "$work/server.log" || true) errors, $(grep -c '"level":"WARN"' "$work/server.log" || true) warnings"
