#!/usr/bin/env bash
# One extra throwaway PostgreSQL 15 on 127.0.0.1 with settings of the caller's choice (fsync on for benchmarks,
# max_prepared_transactions = 0 to test a refusal). User 'app', superuser, password $PG_PASSWORD.
#   pg-server.sh start ROOT PORT [-c name=value ...]   starts it, prints PG_PORT / PG_PASSWORD
#   pg-server.sh stop ROOT                             stops it by the pid recorded under ROOT, then deletes ROOT
# Needs root (runuser); PostgreSQL itself runs as 'postgres'. ROOT must be under /tmp.
set -euo pipefail
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PG_PASSWORD=${PG_PASSWORD:-pg-S3cret-pass}

case "${1:-}" in
start)
  root=$2; port=$3; shift 3
  dir=$root/pg
  mkdir -p "$dir"; chmod 0755 "$root"; chown postgres:postgres "$dir"
  echo "$PG_PASSWORD" > "$dir/pwfile"; chown postgres "$dir/pwfile"; chmod 600 "$dir/pwfile"
  ( cd /tmp && runuser -u postgres -- "$PGBIN/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 ) \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  rm -f "$dir/pwfile"
  ( cd /tmp && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 $*" start >/dev/null ) \
    || { tail -20 "$dir/server.log" >&2; exit 1; }
  head -1 "$dir/data/postmaster.pid" > "$root/pg.pid"
  runuser -u postgres -- psql -h "$dir" -p "$port" -U postgres -XAtq -c \
    "CREATE ROLE app LOGIN SUPERUSER PASSWORD '$PG_PASSWORD'" >/dev/null
  echo "PG_PORT=$port"; echo "PG_PASSWORD=$PG_PASSWORD"
  ;;
stop)
  root=$2
  if [ -s "$root/pg.pid" ]; then
    pid=$(cat "$root/pg.pid")
    # pids wrap fast: only signal a process that is still the server we started
    if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q postgres; then
      kill -INT "$pid" 2>/dev/null || true
      for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  case "$root" in /tmp/*) rm -rf "$root" ;; esac
  ;;
*) echo "usage: $0 start ROOT PORT [-c name=value ...] | stop ROOT" >&2; exit 2 ;;
esac
