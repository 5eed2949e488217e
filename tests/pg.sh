#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for the tests: `tests/pg.sh start DIR` prints a DATABASE_URL base;
# `tests/pg.sh stop DIR` stops it and deletes DIR. Unix socket only (no TCP port to collide on).
# PostgreSQL refuses to run as root, so as root it runs as the `postgres` user.
set -euo pipefail
cmd=$1 dir=$2
pgbin=$(dirname "$(readlink -f "$(command -v initdb)")")
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$cmd" in
  start)
    rm -rf "$dir" && mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_pg "$pgbin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    as_pg "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses='' -k $dir -c fsync=on -c synchronous_commit=on -c max_connections=400 -c shared_buffers=64MB" start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgres://postgres@localhost/postgres?host=$dir"
    ;;
  stop)
    if [ -d "$dir/data" ]; then as_pg "$pgbin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true; fi
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
