#!/usr/bin/env bash
# Runs docs/walkthrough.md as a newcomer would: every ```sh block, in order, in one bash shell
# (set -euo pipefail) started at the root of the repository. Fails if any command fails, if the
# incident did not end accepted by the hospital, if port 8080 is taken, or if the walkthrough left
# files in the checkout. The server it starts in the background is always stopped.
#   tests/walkthrough.sh            (tests/run.sh runs it after the oracle tests)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
doc=docs/walkthrough.md

for tool in curl jq cargo git setsid; do
  command -v "$tool" >/dev/null || { echo "walkthrough: $tool is required"; exit 1; }
done
if (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null; then
  echo "walkthrough: something already listens on 127.0.0.1:8080 (the walkthrough's server needs that port); stop it and run again"
  exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kyukit-walkthrough.XXXXXX")
script="$tmp/walkthrough.bash"
pgid=""
cleanup() {
  # The walkthrough's shell runs in its own process group: stop it and its background server.
  if [ -n "$pgid" ]; then
    kill -TERM -- "-$pgid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pgid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# The sh blocks, in order, and the assertion at the end: the crew's last read of the incident
# (saved by the walkthrough in $W/incident.json) shows it accepted by the hospital it asked.
{
  echo 'set -euo pipefail'
  awk '
    /^```sh[[:space:]]*$/ { inside = 1; n++; printf "\n# --- block %d (%s line %d)\n", n, FILENAME, FNR; next }
    /^```/ { inside = 0; next }
    inside { print }
    END { if (n == 0) exit 1 }
  ' "$doc"
  cat <<'EOF'

# --- the assertion (tests/walkthrough.sh)
jq -e --arg h "$HOSPITAL" '
  .status == "accepted" and .destination.id == $h
  and any(.targets[]; .hospital.id == $h and .status == "accepted")
' "$W/incident.json" >/dev/null || { echo "walkthrough: the incident did not end accepted by $HOSPITAL:"; jq . "$W/incident.json"; exit 1; }
echo "walkthrough: incident $INCIDENT accepted by hospital $HOSPITAL"
EOF
} >"$script"
blocks=$(grep -c '^# --- block ' "$script")

# A newcomer's environment: nothing that points the server or the clients elsewhere.
unset DATABASE_URL
while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep '^KYUKIT_' || true)

tree_before=$(git status --porcelain 2>/dev/null || true)
echo "walkthrough: running the $blocks sh blocks of $doc from $root"
# `mktemp -d` in the walkthrough lands under $tmp, so cleanup removes whatever it made.
TMPDIR="$tmp" setsid bash "$script" </dev/null &
pgid=$!
status=0
wait "$pgid" || status=$?
if [ "$status" -ne 0 ]; then
  echo
  echo "walkthrough: FAILED (exit $status); the generated script was:"
  cat -n "$script"
  exit "$status"
fi
tree_after=$(git status --porcelain 2>/dev/null || true)
if [ "$tree_before" != "$tree_after" ]; then
  echo "walkthrough: it changed files in the checkout:"
  diff <(echo "$tree_before") <(echo "$tree_after") || true
  exit 1
fi
echo "walkthrough: ok ($blocks blocks, the checkout unchanged)"
