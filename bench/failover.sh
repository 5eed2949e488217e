#!/usr/bin/env bash
# PostgreSQL 15 high availability with pg_auto_failover, on loopback: kill -9 the primary again and
# again under two Kyukit instances' writes; check that no acknowledged write is lost, that the audit
# chain verifies and that an ED feed resumes; measure the time without successful writes.
# Opt-in (minutes per run; not in tests/run.sh). docs/operations.md *High availability*.
#
#   bench/failover.sh [--cycles 20] [--dir /tmp/ha-bench] [--no-build] [--keep] [-- kyukit-bench failover args]
#
# The cluster: a monitor (port P), node_1 (P+1) and node_2 (P+2) under DIR, run as the `postgres`
# user when invoked as root, with the settings of docs/operations.md (synchronous standby:
# `synchronous_standby_names = ANY 1 (...)` set by the monitor). The driver
# (`kyukit-bench failover`, bench/load/src/failover.rs) calls back this script:
#   bench/failover.sh up DIR | primary DIR | kill-primary DIR | rejoin DIR NODE | wait-healthy DIR | down DIR
# kill-primary kills -9 the primary node's pg_autoctl processes and its postmaster (the PIDs of
# that node's own supervisor and DIR/node_N/postmaster.pid) — a lost machine, as the keeper would
# otherwise restart a killed postmaster in place, which is a restart, not a failover.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
port0=${KYUKIT_HA_PORT:-55400}

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- env "$@"; else env "$@"; fi; }
pgenv() {
  local dir=$1
  echo PATH=/usr/lib/postgresql/15/bin:/usr/local/bin:/usr/bin:/bin XDG_CONFIG_HOME=$dir/xdg/config \
    XDG_DATA_HOME=$dir/xdg/data XDG_RUNTIME_DIR=$dir/xdg/run
}
autoctl() { local dir=$1; shift; as_pg $(pgenv "$dir") pg_autoctl "$@"; }
monitor_url() { echo "postgres://autoctl_node@127.0.0.1:$port0/pg_auto_failover?sslmode=disable"; }
psql_monitor() { as_pg PATH=/usr/bin:/bin psql -X -q -A -t -h 127.0.0.1 -p "$port0" -U autoctl_node -d pg_auto_failover -c "$1"; }

ensure_installed() {
  if ! command -v pg_autoctl >/dev/null || [ ! -e /usr/lib/postgresql/15/lib/pgautofailover.so ]; then
    echo "installing pg_auto_failover (postgresql-15-auto-failover, pg-auto-failover-cli)" >&2
    apt-get update -q >&2 && apt-get install -y -q postgresql-15-auto-failover pg-auto-failover-cli >&2
  fi
}

# node_N's state as the monitor sees it: "reported assigned"
node_state() { psql_monitor "SELECT reportedstate || ' ' || goalstate FROM pgautofailover.node WHERE nodename = '$1'"; }
primary() { psql_monitor "SELECT nodename FROM pgautofailover.node WHERE reportedstate IN ('primary','wait_primary','single') AND goalstate IN ('primary','wait_primary','single') ORDER BY nodeid LIMIT 1"; }

start_node() { # DIR N: pg_autoctl run for an existing node, in the background
  local dir=$1 n=$2
  as_pg $(pgenv "$dir") setsid pg_autoctl run --pgdata "$dir/node_$n" >>"$dir/node_$n.log" 2>&1 </dev/null &
}

wait_healthy() { # DIR: a primary and a secondary, both reported as assigned
  local dir=$1
  for _ in $(seq 1 240); do
    local s1 s2
    s1=$(node_state node_1 2>/dev/null || true) s2=$(node_state node_2 2>/dev/null || true)
    case "$s1|$s2" in
      "primary primary|secondary secondary"|"secondary secondary|primary primary") return 0 ;;
    esac
    sleep 0.5
  done
  echo "cluster not healthy after 120 s: node_1 $s1, node_2 $s2" >&2
  return 1
}

up() {
  local dir=$1
  ensure_installed
  rm -rf "$dir" && mkdir -p "$dir/xdg/run" && chmod 700 "$dir/xdg/run"
  [ "$(id -u)" = 0 ] && chown -R postgres "$dir"
  autoctl "$dir" create monitor --pgdata "$dir/monitor" --pgport "$port0" --hostname 127.0.0.1 \
    --listen 127.0.0.1 --auth trust --no-ssl >"$dir/monitor.log" 2>&1
  # Failover timing (docs/operations.md): the monitor declares a node unhealthy after 6 s without
  # a successful health check (checked every 1 s), and promotes the standby 8 s after asking the
  # unreachable primary to demote; each keeper demotes its own primary after 5 s cut off from both
  # the monitor and the standby (below the monitor's 8 s: no two primaries).
  as_pg $(pgenv "$dir") setsid pg_autoctl run --pgdata "$dir/monitor" >>"$dir/monitor.log" 2>&1 </dev/null &
  for _ in $(seq 1 60); do psql_monitor "SELECT 1" >/dev/null 2>&1 && break; sleep 0.5; done
  as_pg PATH=/usr/bin:/bin psql -X -q -h 127.0.0.1 -p "$port0" -U postgres -d pg_auto_failover \
    -c "ALTER SYSTEM SET pgautofailover.health_check_period = 1000" \
    -c "ALTER SYSTEM SET pgautofailover.health_check_timeout = 1000" \
    -c "ALTER SYSTEM SET pgautofailover.health_check_retry_delay = 500" \
    -c "ALTER SYSTEM SET pgautofailover.node_considered_unhealthy_timeout = 6000" \
    -c "ALTER SYSTEM SET pgautofailover.primary_demote_timeout = 8000" \
    -c "SELECT pg_reload_conf()" >/dev/null
  for n in 1 2; do
    autoctl "$dir" create postgres --pgdata "$dir/node_$n" --pgport $((port0 + n)) --hostname 127.0.0.1 \
      --listen 127.0.0.1 --auth trust --no-ssl --dbname kyukit --name "node_$n" \
      --monitor "$(monitor_url)" >"$dir/node_$n.log" 2>&1
    autoctl "$dir" config set --pgdata "$dir/node_$n" timeout.network_partition_timeout 5 >/dev/null
    start_node "$dir" "$n"
    if [ "$n" = 1 ]; then
      for _ in $(seq 1 120); do [ "$(primary)" = node_1 ] && break; sleep 0.5; done
    else
      # pg_basebackup waits for a checkpoint: ask for it now rather than at the next timeout.
      for _ in $(seq 1 20); do sleep 1; as_pg PATH=/usr/bin:/bin psql -X -q -h 127.0.0.1 -p $((port0 + 1)) -U postgres -d kyukit -c CHECKPOINT >/dev/null 2>&1 || true
        [ "$(node_state node_2)" != "wait_standby wait_standby" ] && break; done
    fi
  done
  wait_healthy "$dir"
  as_pg PATH=/usr/bin:/bin psql -X -q -h 127.0.0.1 -p $((port0 + 1)) -U postgres -d kyukit -c "CREATE EXTENSION IF NOT EXISTS amcheck" >/dev/null
  echo "postgres://postgres@127.0.0.1:$((port0 + 1)),127.0.0.1:$((port0 + 2))/kyukit?target_session_attrs=read-write&connect_timeout=2"
}

kill_primary() { # DIR: prints the killed node's number
  local dir=$1 p n pids
  p=$(primary); n=${p#node_}
  [ -n "$n" ] || { echo "no primary" >&2; return 1; }
  # The node's pg_autoctl supervisor (its command line names its data directory) and its children.
  pids=$(pgrep -f "pg_autoctl (run|create postgres) --pgdata $dir/node_$n( |$)" || true)
  for s in $pids; do pids="$pids $(pgrep -P "$s" || true)"; done
  pids="$pids $(head -1 "$dir/node_$n/postmaster.pid")"
  kill -9 $pids
  echo "$n"
}

down() {
  local dir=$1 pids=""
  for d in monitor node_1 node_2; do
    for s in $(pgrep -f "pg_autoctl (run|create [a-z]+) --pgdata $dir/$d( |$)" || true); do pids="$pids $s"; done
  done
  [ -n "$pids" ] && kill -TERM $pids 2>/dev/null || true
  sleep 3
  for d in monitor node_1 node_2; do
    [ -f "$dir/$d/postmaster.pid" ] && as_pg PATH=/usr/lib/postgresql/15/bin:/usr/bin:/bin pg_ctl -D "$dir/$d" -m immediate stop >/dev/null 2>&1 || true
  done
  rm -rf "$dir"
}

case "${1:-run}" in
  up) up "$2" ;;
  primary) primary ;;
  kill-primary) kill_primary "$2" ;;
  rejoin) start_node "$2" "$3" ;;
  wait-healthy) wait_healthy "$2" ;;
  down) down "$2" ;;
  *)
    cycles=20 dir=/tmp/ha-bench build=1 keep=0 extra=()
    while [ $# -gt 0 ]; do
      case "$1" in
        run) ;;
        --cycles) cycles=$2; shift ;;
        --dir) dir=$2; shift ;;
        --no-build) build=0 ;;
        --keep) keep=1 ;;
        --) shift; extra=("$@"); break ;;
        *) echo "usage: $0 [--cycles N] [--dir DIR] [--no-build] [--keep] [-- driver args]" >&2; exit 2 ;;
      esac
      shift
    done
    case "$dir" in /tmp/ha-*) ;; *) echo "--dir must be under /tmp/ha-*" >&2; exit 2 ;; esac
    [ "$build" = 1 ] && (cd "$repo" && cargo build -p kyukit-server -p kyukit-bench)
    ensure_installed
    down "$dir" 2>/dev/null || true
    url=$(up "$dir")
    echo "cluster up: $url" >&2
    trap '[ "$keep" = 1 ] || down "$dir"' EXIT
    data=$(mktemp -d /tmp/ha-kyukit-XXXXXX)
    "$repo/target/debug/kyukit-bench" failover --kyukit "$repo/target/debug/kyukit" --script "$0" \
      --cluster "$dir" --database-url "$url" --data-dir "$data/data" --cycles "$cycles" "${extra[@]}"
    ;;
esac
