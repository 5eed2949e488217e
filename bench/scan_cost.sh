#!/usr/bin/env bash
# What a scan costs the server, from outside it: context switches and CPU time per scan
# (`perf stat -e context-switches,task-clock` on the server process) and bytes it wrote to
# storage per scan (`write_bytes` of /proc/PID/io: WAL appends and checkpoints), over a window in
# the middle of a `bench/scan_load.sh` run on SQLite; the scans in the window are the `accesses`
# rows added meanwhile (read with `sqlite3`, read-only). Needs perf and sqlite3.
#
#   bench/scan_cost.sh [--bin-dir DIR] [--concurrency N] [--window SECS]     [target/release 16 6]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin_dir=$root/target/release concurrency=16 window=6
while [ $# -gt 0 ]; do
  case "$1" in
    --bin-dir) bin_dir=$(cd "$2" && pwd); shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --window) window=$2; shift 2 ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
for tool in perf sqlite3; do
  command -v "$tool" >/dev/null || { echo "scan_cost: needs $tool" >&2; exit 1; }
done
out=$(mktemp -d "${TMPDIR:-/tmp}/kyukit-scan-cost.XXXXXX")
trap 'rm -rf "$out"' EXIT
# Setup (≈ 4 s) + 2 s warm-up, then the window, with room on both sides.
"$root/bench/scan_load.sh" --bin-dir "$bin_dir" --concurrency "$concurrency" \
  --duration $((window + 8)) --warmup 2 >"$out/run.txt" 2>&1 &
load=$!
pid=""
for _ in $(seq 1 150); do
  pid=$(pgrep -f "^$bin_dir/kyukit serve" | head -1 || true)
  [ -n "$pid" ] && break
  sleep 0.2
done
[ -n "$pid" ] || { cat "$out/run.txt" >&2; echo "scan_cost: no server" >&2; exit 1; }
sleep 8
data=$(tr '\0' '\n' <"/proc/$pid/cmdline" | grep -A1 -x -- --data-dir | tail -1)
count() { sqlite3 "file:$data/kyukit.db?mode=ro" "SELECT count(*) FROM accesses"; }
written() { awk '/^write_bytes/ {print $2}' "/proc/$pid/io"; }
before=$(count) wrote=$(written)
perf stat -x, -e context-switches,task-clock -p "$pid" -- sleep "$window" 2>"$out/perf.txt"
after=$(count) wrote=$(($(written) - wrote))
wait "$load"
awk -F, -v n=$((after - before)) -v w="$wrote" '
  /context-switches/ {c = $1} /task-clock/ {t = $1}
  END {printf "scans in %s window: %d; per scan: %.2f context switches, %.0f us of server CPU, %.1f KiB written\n", "the", n, c / n, t * 1000 / n, w / 1024 / n}
' "$out/perf.txt"
grep '^| scan' "$out/run.txt" | awk -F'|' '{printf "whole run: %s scans/s, p99 %s ms\n", $8, $11}' | tr -s ' '
