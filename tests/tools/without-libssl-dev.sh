#!/usr/bin/env bash
# Checks README's statement of what command 1 needs: builds the part that links OpenSSL (pq-sys,
# libpq compiled in) in a fresh target directory with every file of Debian's libssl-dev hidden by a
# private mount namespace (unshare -m; the rest of the machine keeps them). Expected: the build
# fails in openssl-sys asking for the OpenSSL headers, which README names. Run as root.
#   tests/tools/without-libssl-dev.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
dpkg -s libssl-dev >/dev/null 2>&1 || { echo "libssl-dev is not installed here: nothing to hide"; exit 0; }
target=$(mktemp -d)
trap 'rm -rf "$target"' EXIT
# shellcheck disable=SC2016
unshare -m bash -c '
  set -e
  for f in $(dpkg -L libssl-dev); do
    if [ -d "$f" ] && [ "${f#/usr/include/}" != "$f" ] && [ "$(basename "$f")" = openssl ]; then mount -t tmpfs none "$f"
    elif [ -f "$f" ] || [ -L "$f" ]; then [ -e "$f" ] && mount --bind /dev/null "$f" || true; fi
  done
  for d in /usr/include/x86_64-linux-gnu/openssl; do [ -d "$d" ] && mount -t tmpfs none "$d"; done
  echo "hidden: libssl-dev ($(pkg-config --exists openssl && echo "pkg-config still finds openssl" || echo "pkg-config: no openssl"); $(ls /usr/include/openssl | wc -l) headers left)"
  CARGO_TARGET_DIR="$1" cargo build --release --locked -p pq-sys 2>&1 | tail -n 25
  exit "${PIPESTATUS[0]}"
' _ "$target" && { echo "built without libssl-dev: README overstates what command 1 needs"; exit 1; } || echo "as README says: without libssl-dev the build stops in openssl-sys"
