#!/usr/bin/env bash
# The server's structure, checked (docs/architecture.md): the layers, the write path with no
# ambient state, domain errors in services, typed roles and statuses, files a reader can hold,
# each route declared once, one end-to-end test binary. Prints what breaks a rule and fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
bad=0
fail() { echo "structure: $*"; bad=1; }

# 1. No ambient state on the write path: the one thread-local is argon2's work area (memory,
#    not state) in service/accounts.rs.
tl=$(grep -rln 'thread_local!' server/src || true)
[ "$tl" = "server/src/service/accounts.rs" ] || fail "thread_local! outside the argon2 work area: ${tl:-none}"
[ "$(grep -c 'thread_local!' server/src/service/accounts.rs)" = 1 ] || fail "service/accounts.rs: more than one thread_local!"

# 2. Services speak domain errors; the HTTP mapping lives in api/.
grep -rnE '\bApiError\b|\bStatusCode\b|actix_web' server/src/service && fail "service/ names ApiError, StatusCode or actix_web"

# 3. The layers: api/ and cli/ never touch diesel (comments aside); card-format is checked by run.sh.
grep -rn 'diesel' server/src/api server/src/cli | grep -vE '^[^:]+:[0-9]+: *//' && fail "api/ or cli/ uses diesel"

# 4. Roles and statuses are enums: no string comparison of them outside (de)serialisation.
grep -rnE '(role|status)(\(\))? *(==|!=) *"|"(paramedic|resident|proxy|city_admin|ed_staff|facility_manager)" *(==|!=)|(==|!=) *"(paramedic|resident|proxy|city_admin|ed_staff|facility_manager)"' server/src \
  && fail "a role or status compared as a string"

# 5. No file under server/src over 1,000 lines.
find server/src -name '*.rs' -print0 | xargs -0 wc -l | awk '$2 != "total" && $1 > 1000 { print; found = 1 } END { exit found }' \
  || fail "a file under server/src is over 1,000 lines"

# 6. Each route declared once: no hand-kept route table.
grep -rnE 'const ROUTES' server/src && fail "a hand-kept ROUTES table"

# 7. One end-to-end test binary (tests/tests/main.rs with a module per file).
grep -q '^autotests = false' tests/Cargo.toml || fail "tests/Cargo.toml: autotests = false is missing"
for f in tests/tests/*.rs; do
  m=$(basename "$f" .rs)
  [ "$m" = main ] && continue
  grep -qE "^mod $m;" tests/tests/main.rs || fail "tests/tests/$m.rs is not a module of tests/tests/main.rs"
done

# 8. Migrations: the same folders for both backends, and each version (the part before the first
#    `_`) once — diesel keys applied migrations by version, so a second folder with the same
#    version is silently never run.
[ "$(ls migrations/sqlite)" = "$(ls migrations/postgres)" ] || fail "migrations/sqlite and migrations/postgres differ"
dup=$(ls migrations/sqlite | sed 's/_.*//' | sort | uniq -d)
[ -z "$dup" ] || fail "migration version used twice: $dup"

[ "$bad" = 0 ] && echo "ok: structure (no ambient write state, domain errors, layers, typed roles, files ≤ 1,000 lines, routes declared once, one e2e binary, migration versions unique)"
exit "$bad"
