#!/usr/bin/env bash
# The national-shape benchmark (issue 22): a fresh `kyukit serve` on one machine, regions (or
# municipalities) with fire departments, crews and hospitals, 10,000 live hospital feeds (SSE over
# loopback), crews posting pre-arrival reports at a national and a burst rate; POST → event latency
# on every feed a report reaches, every event accounted for, server RSS and CPU.
#
#   bench/national.sh [options] [-- more kyukit-bench national options]
#     --connections N      live hospital feeds                                          [10000]
#     --regions N          regions of one municipality (without --municipalities)       [40]
#     --municipalities N   N municipalities (`kyukit municipality create`, each with its
#                          own administrator), one region each                           [0: off]
#     --rates LIST         reports per second of each measured phase                     [2,20]
#     --phase-secs S       seconds per phase                                             [30]
#     --json               one JSON object instead of the table
#     --pg                 run on PostgreSQL: a throwaway cluster (tests/pg.sh) in the work dir
#     --keep               keep the data directory and the server log
#     --no-build           use the binaries already in target/release
#     --bin-dir DIR        take kyukit and kyukit-bench from DIR; implies --no-build
# The defaults of kyukit-bench national: 10 hospitals per region with 2 ED staff sessions each,
# 2 crews per region, 3 hospitals asked per incident (see `kyukit-bench national --help`).
# Server settings come from its environment (e.g. KYUKIT_WORKERS). The server keeps its default
# per-address connection cap (256): every hospital's feeds come from its own loopback address.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
connections=10000 regions=40 municipalities=0 rates=2,20 phase_secs=30
json="" pg="" keep="" build=1 bin_dir="" extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --connections) connections=$2; shift 2 ;;
    --regions) regions=$2; shift 2 ;;
    --municipalities) municipalities=$2; shift 2 ;;
    --rates) rates=$2; shift 2 ;;
    --phase-secs) phase_secs=$2; shift 2 ;;
    --json) json=--json; shift ;;
    --pg) pg=1; shift ;;
    --keep) keep=1; shift ;;
    --no-build) build=""; shift ;;
    --bin-dir) bin_dir=$(cd "$2" && pwd); build=""; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
log() { echo "national: $*" >&2; }

if [ -n "$build" ]; then
  (cd "$root" && nice -n 5 cargo build --release -p kyukit-server --bin kyukit -p kyukit-bench --bin kyukit-bench) >&2
fi
bin_dir=${bin_dir:-$root/target/release}
kyukit=$bin_dir/kyukit bench=$bin_dir/kyukit-bench

# Every feed is a file descriptor in this process and in the server's.
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt $((connections + 1000)) ]; then
  log "ulimit -Hn is $hard: too low for $connections feeds (raise the hard limit, e.g. in limits.conf)"
  exit 1
fi
ulimit -n "$hard"

work=$(mktemp -d "${TMPDIR:-/tmp}/kyukit-national.XXXXXX")
server_pid="" pg_dir=""
cleanup() {
  set +e
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null
  fi
  if [ -n "$pg_dir" ]; then "$root/tests/pg.sh" stop "$pg_dir" >/dev/null 2>&1; fi
  if [ -z "$keep" ]; then rm -rf "$work"; else log "kept $work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

db_args=()
if [ -n "$pg" ]; then
  # Not under $work (mode 0700): tests/pg.sh runs the cluster as another user when root.
  pg_dir=$(mktemp -u "${TMPDIR:-/tmp}/kyukit-national-pg.XXXXXX")
  db_args=(--database-url "$("$root/tests/pg.sh" start "$pg_dir")")
  log "PostgreSQL cluster in $pg_dir"
fi

export KYUKIT_ADMIN_PASSWORD="bench administrator password"
admin_out=$("$kyukit" admin create --data-dir "$work/data" "${db_args[@]}" --login-id admin --name "Bench administrator")
KYUKIT_ADMIN_TOTP_SECRET=$(sed -n 's/^ *secret: *//p' <<<"$admin_out")
export KYUKIT_ADMIN_TOTP_SECRET

muni_args=()
if [ "$municipalities" -gt 0 ]; then
  # One municipality per region, each with its own administrator (codes 900001…: not real ones).
  list=$work/municipalities.json
  echo "[" >"$list"
  for i in $(seq 1 "$municipalities"); do
    code=$(printf '9%05d' "$i")
    "$kyukit" municipality create --data-dir "$work/data" "${db_args[@]}" --code "$code" \
      --name-ja "負荷試験市$i" --name-en "Bench City $i" >/dev/null
    out=$("$kyukit" admin create --data-dir "$work/data" "${db_args[@]}" --municipality "$code" \
      --login-id "admin$code" --name "Bench administrator $code")
    secret=$(sed -n 's/^ *secret: *//p' <<<"$out")
    [ "$i" -gt 1 ] && echo "," >>"$list"
    printf '{"code":"%s","admin_login":"admin%s","admin_password":"%s","admin_totp_secret":"%s"}\n' \
      "$code" "$code" "$KYUKIT_ADMIN_PASSWORD" "$secret" >>"$list"
  done
  echo "]" >>"$list"
  muni_args=(--municipalities "$list")
  log "$municipalities municipalities created, each with its administrator"
fi

"$kyukit" serve --listen 127.0.0.1:0 --data-dir "$work/data" "${db_args[@]}" \
  --logins-per-addr-per-min 0 --logins-per-id-per-min 0 \
  >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
base_url=""
for _ in $(seq 200); do
  base_url=$(sed -n 's#.*health: *\(http://127\.0\.0\.1:[0-9]*\)/healthz.*#\1#p' "$work/server.out" 2>/dev/null | head -1 || true)
  if [ -n "$base_url" ] && curl -fsS "$base_url/healthz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then cat "$work/server.out" "$work/server.log" >&2; exit 1; fi
  base_url=""; sleep 0.1
done
[ -n "$base_url" ] || { log "server did not become healthy"; cat "$work/server.log" >&2; exit 1; }
log "server $base_url (pid $server_pid, open files limit $(sed -n 's/^Max open files *\([0-9]*\).*/\1/p' /proc/$server_pid/limits)), data $work/data"
log "host: $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), load average $(cut -d' ' -f1-3 /proc/loadavg), commit $(cd "$root" && git rev-parse --short HEAD)"

status=0
"$bench" national --server "$base_url" --admin-login admin --server-pid "$server_pid" \
  --connections "$connections" --regions "$regions" "${muni_args[@]}" \
  --rates "$rates" --phase-secs "$phase_secs" $json "${extra[@]}" || status=$?
log "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
log "server log: $(wc -l <"$work/server.log") lines, $(grep -c '"level":"ERROR"' "$work/server.log" || true) errors, $(grep -c '"level":"WARN"' "$work/server.log" || true) warnings"
exit "$status"
