#!/usr/bin/env bash
# Throwaway PostgreSQL 15 and MariaDB 10.11 for the test suite, on 127.0.0.1, in a folder of their own.
#   db-servers.sh start ROOT PG_PORT MY_PORT   installs what is missing, starts both, prints KEY=VALUE lines
#   db-servers.sh stop ROOT                    stops both by the pids recorded under ROOT, then deletes ROOT
# Nothing touches the machine's default clusters. Needs root (apt-get, runuser); PostgreSQL runs as 'postgres'.
set -euo pipefail
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PG_PASSWORD=${PG_PASSWORD:-pg-S3cret-pass}
MY_PASSWORD=${MY_PASSWORD:-my-S3cret-pass}

log() { echo "rig: $*" >&2; }

install_missing() {
  local need=()
  [ -x "$PGBIN/initdb" ] || need+=(postgresql-15)
  command -v mariadbd >/dev/null 2>&1 || need+=(mariadb-server mariadb-client)
  [ ${#need[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || { log "missing ${need[*]} and not root: install them first"; exit 1; }
  log "installing ${need[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null 2>&1 || true
  apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${need[@]}" >/dev/null
}

start_pg() {
  local root=$1 port=$2 dir=$1/pg
  mkdir -p "$dir"; chown postgres:postgres "$dir"
  echo "$PG_PASSWORD" > "$dir/pwfile"; chown postgres "$dir/pwfile"; chmod 600 "$dir/pwfile"
  ( cd /tmp && runuser -u postgres -- "$PGBIN/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 ) \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  rm -f "$dir/pwfile"
  ( cd /tmp && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_prepared_transactions=64 -c max_connections=300 \
          -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=64MB" start >/dev/null ) \
    || { tail -20 "$dir/server.log" >&2; exit 1; }
  head -1 "$dir/data/postmaster.pid" > "$root/pg.pid"
  runuser -u postgres -- psql -h "$dir" -p "$port" -U postgres -XAtq -c \
    "CREATE ROLE app LOGIN SUPERUSER PASSWORD '$PG_PASSWORD'" >/dev/null
}

start_my() {
  local root=$1 port=$2 dir=$1/my
  mkdir -p "$dir/tmp"; chown -R mysql:mysql "$dir"
  mariadb-install-db --no-defaults --user=mysql --datadir="$dir/data" --tmpdir="$dir/tmp" \
      --auth-root-authentication-method=socket --auth-root-socket-user=root --skip-test-db \
      >"$dir/install-db.log" 2>&1 || { cat "$dir/install-db.log" >&2; exit 1; }
  setsid mariadbd --no-defaults --user=mysql --datadir="$dir/data" --tmpdir="$dir/tmp" --socket="$dir/mysqld.sock" \
      --port="$port" --bind-address=127.0.0.1 --skip-name-resolve --pid-file="$dir/mariadbd.pid" \
      --log-error="$dir/error.log" --innodb-flush-log-at-trx-commit=2 --innodb-buffer-pool-size=128M \
      --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci --max-connections=400 \
      </dev/null >/dev/null 2>&1 &
  for _ in $(seq 1 240); do
    mariadb-admin --no-defaults --socket="$dir/mysqld.sock" -uroot ping >/dev/null 2>&1 && break; sleep 0.25
  done
  mariadb-admin --no-defaults --socket="$dir/mysqld.sock" -uroot ping >/dev/null 2>&1 || { tail -20 "$dir/error.log" >&2; exit 1; }
  cp "$dir/mariadbd.pid" "$root/my.pid"
  mariadb --no-defaults --socket="$dir/mysqld.sock" -uroot -e \
    "CREATE USER 'app'@'%' IDENTIFIED BY '$MY_PASSWORD'; GRANT ALL ON *.* TO 'app'@'%' WITH GRANT OPTION;"
}

stop_pid() { # pidfile name
  [ -s "$1" ] || return 0
  local pid; pid=$(cat "$1")
  # pids wrap fast: only signal a process that is still the server we started
  if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$2"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}

case "${1:-}" in
start)
  root=$2; pgport=$3; myport=$4
  install_missing
  mkdir -p "$root"; chmod 0755 "$root"
  start_pg "$root" "$pgport" & pgjob=$!
  start_my "$root" "$myport" & myjob=$!
  wait $pgjob; wait $myjob
  echo "PG_PORT=$pgport"; echo "PG_PASSWORD=$PG_PASSWORD"; echo "PG_VERSION=$("$PGBIN/postgres" --version | awk '{print $3}')"
  echo "MY_PORT=$myport"; echo "MY_PASSWORD=$MY_PASSWORD"; echo "MY_VERSION=$(mariadbd --version | awk '{print $3}')"
  ;;
stop)
  root=$2
  stop_pid "$root/pg.pid" postgres
  stop_pid "$root/my.pid" mariadbd
  case "$root" in /tmp/*) rm -rf "$root" ;; esac
  ;;
*) echo "usage: $0 start ROOT PG_PORT MY_PORT | stop ROOT" >&2; exit 2 ;;
esac
