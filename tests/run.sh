#!/usr/bin/env bash
# Runs every Kyukit test on a fresh machine, installing what the tests need.
#   ./tests/run.sh
# Needs: cargo (Rust 1.90+), python3 with venv, node 20+ with npm; as root on Debian it installs what
# else is missing (pkg-config, libssl-dev, poppler-utils, chromium, fonts-noto-cjk, curl, jq).
# Installs the Python test oracles into target/oracle-venv and the browser suites' npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target
export CARGO_TERM_COLOR=never
step() { printf '\n== %s  [%d s since the start]\n' "$*" "$SECONDS"; }

# The tests write only under target/ (and ignored dependency folders): the tree's status afterwards
# must be what it was before (checked at the end).
tree_before=$(git status --porcelain 2>/dev/null || true)

step "toolchain"
cargo --version
python3 --version

# What the build links (libpq's TLS uses the system OpenSSL; README "Two commands"), and the PDF
# renderer the oracle tests use: installed with apt-get on Debian when run as root, else named.
need_pkgs=()
command -v pkg-config >/dev/null || need_pkgs+=(pkg-config)
pkg-config --exists openssl 2>/dev/null || need_pkgs+=(libssl-dev)
command -v pdftoppm >/dev/null || need_pkgs+=(poppler-utils)
command -v chromium >/dev/null || need_pkgs+=(chromium)
command -v curl >/dev/null || need_pkgs+=(curl)   # curl and jq: the walkthrough
command -v jq >/dev/null || need_pkgs+=(jq)
# Without a Japanese font the pages render as empty boxes in the screenshots.
{ command -v fc-list >/dev/null && [ -n "$(fc-list :lang=ja 2>/dev/null)" ]; } || need_pkgs+=(fonts-noto-cjk)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    step "installing ${need_pkgs[*]} (apt-get)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}"
  else
    echo "missing: ${need_pkgs[*]} — install them (Debian: apt-get install ${need_pkgs[*]}) and run again"; exit 1
  fi
fi

# The test tools download while the compiler runs (network, not CPU): the oracles' Python venv and
# the browser suites' npm packages. Each is awaited (and its log shown on failure) before first use.
venv=target/oracle-venv
await_prep() { # NAME PID LOG
  if ! wait "$2"; then echo "installing $1 failed:"; cat "$3"; exit 1; fi
}
(
  if [ ! -x "$venv/bin/python" ] || ! cmp -s tests/oracle/requirements.txt "$venv/requirements.txt"; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/oracle/requirements.txt
    cp tests/oracle/requirements.txt "$venv/requirements.txt"
  fi
) > target/prep-venv.log 2>&1 &
venv_pid=$!
( cd tests/browser && npm ci --no-audit --no-fund --loglevel=error \
  && cd field && npm ci --no-audit --no-fund --loglevel=error ) > target/prep-npm.log 2>&1 &
npm_pid=$!

step "format and lints (cargo fmt --check, clippy -D warnings)"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

step "the card crate is pure: no database, web framework or async runtime in its dependency tree"
deps=$(cargo tree -p kyukit-card -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)
for forbidden in diesel actix-web actix-rt tokio reqwest; do
  if grep -qx "$forbidden" <<<"$deps"; then echo "kyukit-card depends on $forbidden"; exit 1; fi
  # The literal checks from the issue: `cargo tree -i` must find nothing.
  if cargo tree -p kyukit-card -i "$forbidden" >/dev/null 2>&1; then echo "cargo tree -p kyukit-card -i $forbidden found it"; exit 1; fi
done
echo "ok: kyukit-card has none of diesel, actix-web, actix-rt, tokio, reqwest"

step "unsafe code: the workspace denies it; two reviewed blocks: the group-commit writer's (server/src/db/mod.rs) and the idle malloc_trim (server/src/main.rs)"
unsafe_files=$(find . -name '*.rs' -not -path '*/target/*' -not -path '*/node_modules/*' -print0 | xargs -0 grep -lE '\bunsafe *(\{|fn|impl|trait)' | sort -u || true)
if [ "$unsafe_files" != "$(printf './server/src/db/mod.rs\n./server/src/main.rs')" ]; then echo "unsafe code outside the two reviewed places: $unsafe_files"; exit 1; fi
for f_n in server/src/db/mod.rs:1 server/src/main.rs:2; do
  f=${f_n%:*} n=${f_n#*:}
  [ "$(grep -c 'allow(unsafe_code)' "$f")" = "$n" ] || { echo "$f must allow unsafe_code exactly $n time(s)"; exit 1; }
done
echo "ok: unsafe code only in server/src/db/mod.rs (Db::write) and server/src/main.rs (getrusage, malloc_trim)"

step "structure: the write path has no ambient state, services speak domain errors, roles are typed, files stay small, routes are declared once (tests/tools/structure.sh)"
tests/tools/structure.sh

step "the fuzz target compiles (its lock file current: --locked)"
cargo check -q --locked --manifest-path card-format/fuzz/Cargo.toml

step "PostgreSQL: a throwaway cluster for the end-to-end suite (initdb/pg_ctl; removed afterwards)"
pgdir="${TMPDIR:-/tmp}/kyukit-pg-$$"
trap 'tests/pg.sh stop "$pgdir"' EXIT
KYUKIT_TEST_PG_URL=$(tests/pg.sh start "$pgdir")
export KYUKIT_TEST_PG_URL KYUKIT_REQUIRE_PG=1
echo "cluster up at $pgdir"

step "Rust tests (unit, integration, property, golden vectors; e2e on SQLite and PostgreSQL; benches run once as tests)"
cargo test --workspace --all-targets 2>&1 | tee target/cargo-test.log
sqlite_ok=$(grep -cE '^test .*::sqlite \.\.\. ok$' target/cargo-test.log || true)
pg_ok=$(grep -cE '^test .*::postgres \.\.\. ok$' target/cargo-test.log || true)
echo "end-to-end scenarios passed: ${sqlite_ok} on SQLite, ${pg_ok} on PostgreSQL"
[ "$sqlite_ok" -gt 0 ] && [ "$sqlite_ok" = "$pg_ok" ] || { echo "the e2e suite must pass on both backends"; exit 1; }

step "the binaries the remaining suites drive; the oracles' venv and the browser suites' packages"
# The crash tests drive `kyukit-bench crash` and the print oracles the `printables` example. Built for
# the whole workspace with its examples, the dependencies' features are those `cargo test` just built
# (seconds); `-p` on a few packages resolves other features and compiles second copies (1.5 minutes
# for the binaries, and minutes more for `cargo run -p kyukit-print`, which the print oracle ran).
cargo build --quiet --workspace --bins --examples
export KYUKIT_PRINTABLES_BIN="$PWD/target/debug/examples/printables"
await_prep "the oracles' Python packages" "$venv_pid" target/prep-venv.log
await_prep "the browser suites' npm packages" "$npm_pid" target/prep-npm.log
command -v node >/dev/null || { echo "node (20+) is required for the browser suite"; exit 1; }

# Two lanes at once, each its own servers on their own ports and data directories: the oracles, the
# fuzzer and the walkthrough; the two browser suites. Mostly waiting on I/O and on each other's
# processes, so together they take about the longer lane, not the sum. Each lane's output is shown
# when it ends, whole; the run fails if either failed.
lane_checks() {
  step "oracle tests (zxing-cpp, ndeflib, cryptography, cbor2, Pillow, fhir.resources) against the kyukit binary"
  KYUKIT_BIN="$PWD/target/debug/kyukit" KYUKIT_BENCH_BIN="$PWD/target/debug/kyukit-bench" \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider --durations=8 tests/oracle
  step "schema-driven fuzzing: schemathesis against the live /api/v1/openapi.json as a resident and as a city administrator (tests/fuzz_api.sh)"
  tests/fuzz_api.sh "$venv/bin/python" "$PWD/target/debug/kyukit" 50
  step "the walkthrough: every sh block of docs/walkthrough.md, run as written (tests/walkthrough.sh)"
  tests/walkthrough.sh
}
lane_browsers() {
  step "browser suite (Debian Chromium via playwright-core; axe-core; screenshots in target/screenshots/pages/)"
  KYUKIT_BIN="$PWD/target/debug/kyukit" KYUKIT_FIELD_BIN="$PWD/target/debug/kyukit-field" node tests/browser/run.mjs
  step "browser tests: the paramedic PWA and the ED board in Debian's Chromium (playwright-core, axe-core; tests/browser/field; screenshots in target/screenshots/field/)"
  (
    cd tests/browser/field
    node --test unit.test.mjs
    KYUKIT_BIN="$OLDPWD/target/debug/kyukit" ORACLE_PYTHON="$OLDPWD/$venv/bin/python" node run.mjs
  )
}
step "two lanes at once: [oracles, fuzzing, walkthrough] and [the two browser suites]"
( set -e; lane_checks ) > target/lane-checks.log 2>&1 &
checks_pid=$!
( set -e; lane_browsers ) > target/lane-browsers.log 2>&1 &
browsers_pid=$!
checks_rc=0; wait "$checks_pid" || checks_rc=$?
echo "---- lane 1: oracles, fuzzing, walkthrough (exit $checks_rc; ended at $SECONDS s) ----"
cat target/lane-checks.log
browsers_rc=0; wait "$browsers_pid" || browsers_rc=$?
echo "---- lane 2: the browser suites (exit $browsers_rc; ended at $SECONDS s) ----"
cat target/lane-browsers.log
[ "$checks_rc" = 0 ] && [ "$browsers_rc" = 0 ] || { echo "a lane failed: oracles/fuzz/walkthrough exit $checks_rc, browser suites exit $browsers_rc"; exit 1; }

step "the tests left the tree as they found it (git status)"
tree_after=$(git status --porcelain 2>/dev/null || true)
if [ "$tree_before" != "$tree_after" ]; then
  echo "the tests changed files in the checkout:"; diff <(echo "$tree_before") <(echo "$tree_after") || true; exit 1
fi
echo "ok"

echo "all tests passed in $SECONDS s"
