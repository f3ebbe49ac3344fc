#!/usr/bin/env bash
# A throwaway MariaDB 10.11 primary + read-only replica with GTID replication on 127.0.0.1, for the routing tests.
#   mariadb-replica.sh start ROOT PRIMARY_PORT REPLICA_PORT   creates and starts both, prints KEY=VALUE lines
#   mariadb-replica.sh stop ROOT                              stops both by the pids recorded under ROOT, deletes ROOT
#   mariadb-replica.sh sql ROOT primary|replica "SQL"        runs SQL as root over the node's socket
# User 'app'@'127.0.0.1' (password $MY_PASSWORD) has data privileges plus SLAVE MONITOR and BINLOG MONITOR, but not
# SUPER or READ_ONLY ADMIN, so the replica's read_only applies to it (root ignores read_only).
# Needs root (mariadb-install-db --user=mysql). Gotchas: --no-defaults must come first; parallel install-db runs need
# separate --tmpdir; 10.11 does not accept CHANGE REPLICATION SOURCE (use CHANGE MASTER TO ... MASTER_USE_GTID).
set -euo pipefail
MY_PASSWORD=${MY_PASSWORD:-my-S3cret-pass}
REPL_PASSWORD=repl-pass

log() { echo "mariadb-replica: $*" >&2; }
cli() { local root=$1 n=$2; shift 2; mariadb --no-defaults -uroot -S "$root/$n/mysqld.sock" "$@"; }

start_one() { # root name port server-id extra...
  local root=$1 n=$2 port=$3 id=$4; shift 4
  local d=$root/$n
  setsid mariadbd --no-defaults --user=mysql --datadir="$d/data" --socket="$d/mysqld.sock" --pid-file="$d/mysqld.pid" \
    --log-error="$d/error.log" --port="$port" --bind-address=127.0.0.1 --skip-name-resolve --tmpdir="$d/tmp" \
    --innodb-buffer-pool-size=64M --innodb-log-file-size=48M --innodb-flush-log-at-trx-commit=2 \
    --server-id="$id" --log-bin="$d/binlog/mysql-bin" --relay-log="$d/binlog/relay-bin" --binlog-format=ROW \
    --gtid-strict-mode=1 --log-slave-updates=1 --max-connections=200 \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci "$@" </dev/null >>"$d/stdout.log" 2>&1 &
  for _ in $(seq 1 300); do
    mariadb-admin --no-defaults -uroot -S "$d/mysqld.sock" ping >/dev/null 2>&1 && { cp "$d/mysqld.pid" "$root/$n.pid"; return 0; }
    sleep 0.1
  done
  log "$n failed to start"; tail -20 "$d/error.log" >&2; return 1
}

cmd_start() {
  local root=$1 pport=$2 rport=$3 n pids=()
  mkdir -p "$root"; chmod 0755 "$root"
  for n in primary replica; do
    mkdir -p "$root/$n"/{data,tmp,binlog}; chown -R mysql:mysql "$root/$n"
    mariadb-install-db --no-defaults --user=mysql --datadir="$root/$n/data" --tmpdir="$root/$n/tmp" \
      --auth-root-authentication-method=socket --auth-root-socket-user=root --skip-test-db >"$root/$n/install.log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || { tail "$root"/*/install.log >&2; exit 1; }; done
  start_one "$root" primary "$pport" 1 & local p1=$!
  start_one "$root" replica "$rport" 2 --read-only=1 & local p2=$!
  wait $p1; wait $p2
  for n in primary replica; do
    cli "$root" $n -e "SET sql_log_bin=0;
      CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY '$MY_PASSWORD';
      GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, ALTER, SLAVE MONITOR, BINLOG MONITOR ON *.* TO 'app'@'127.0.0.1';"
  done
  cli "$root" primary -e "SET sql_log_bin=0;
    CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY '$REPL_PASSWORD';
    GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1';"
  cli "$root" replica -e "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$pport, MASTER_USER='repl',
      MASTER_PASSWORD='$REPL_PASSWORD', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1; START SLAVE;"
  for _ in $(seq 1 100); do
    r=$(cli "$root" replica -e "SHOW SLAVE STATUS\G" | grep -cE "Slave_(IO|SQL)_Running: Yes" || true)
    [ "$r" = 2 ] && break; sleep 0.1
  done
  [ "$r" = 2 ] || { log "replication did not start"; cli "$root" replica -e "SHOW SLAVE STATUS\G" >&2; exit 1; }
  echo "MY_PRIMARY_PORT=$pport"; echo "MY_REPLICA_PORT=$rport"; echo "MY_PASSWORD=$MY_PASSWORD"
  echo "MY_VERSION=$(mariadbd --version | awk '{print $3}')"
}

stop_pid() { # pidfile
  [ -s "$1" ] || return 0
  local pid; pid=$(cat "$1")
  # pids wrap fast: only signal a process that is still the server we started
  if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q mariadbd; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}

case "${1:-}" in
start) cmd_start "$2" "$3" "$4" ;;
stop)
  stop_pid "$2/replica.pid"; stop_pid "$2/primary.pid"
  case "$2" in /tmp/*) rm -rf "$2" ;; esac
  ;;
sql) cli "$2" "$3" -N -e "$4" ;;
*) echo "usage: $0 start ROOT PRIMARY_PORT REPLICA_PORT | stop ROOT | sql ROOT primary|replica SQL" >&2; exit 2 ;;
esac
