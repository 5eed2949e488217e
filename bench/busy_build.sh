#!/usr/bin/env bash
# Keeps the machine's cores busy with a real build, to check that the test command passes while
# another build runs (issue 17): clones this checkout into a temporary directory and builds the
# workspace in release mode from nothing (`cargo clean` between rounds), round after round, until
# the stop file exists. Prints one line per round (seconds, release binary size).
#   bench/busy_build.sh STOPFILE [JOBS]      # JOBS defaults to the number of cores
set -euo pipefail
stop=${1:?usage: bench/busy_build.sh STOPFILE [JOBS]}
jobs=${2:-$(nproc)}
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/kyukit-busy-XXXXXX")
trap 'rm -rf "$work"' EXIT
git clone -q "$src" "$work/kyukit"
cd "$work/kyukit"
round=0
while [ ! -e "$stop" ]; do
  round=$((round + 1))
  cargo clean -q
  start=$SECONDS
  if cargo build -q --release --workspace -j "$jobs" 2>/dev/null; then
    printf 'busy build round %d: %d s, kyukit %s bytes\n' "$round" $((SECONDS - start)) "$(stat -c %s target/release/kyukit)"
  else
    printf 'busy build round %d: failed after %d s\n' "$round" $((SECONDS - start))
  fi
done
