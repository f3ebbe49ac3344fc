#!/usr/bin/env bash
# A throwaway PostgreSQL 15 streaming-replication cluster on 127.0.0.1 for the routing tests: node 0 is the primary,
# nodes 1..N are hot standbys made with `pg_basebackup -R`. Node 1 is the synchronous standby
# (synchronous_standby_names = 'FIRST 1 (s1, s2, ...)'), so a commit is acknowledged only once s1 has flushed it.
#   pg-replicas.sh start ROOT PORT0 PORT1 [PORT2 ...]   creates and starts the cluster, prints KEY=VALUE lines
#   pg-replicas.sh stop ROOT                             stops every node by the pid it recorded, deletes ROOT
#   pg-replicas.sh stop-node ROOT N [fast|immediate]     stops one node (immediate = a crash, no shutdown checkpoint)
#   pg-replicas.sh start-node ROOT N                     starts a stopped node again with its old settings
#   pg-replicas.sh promote ROOT N                        promotes standby N and waits until it accepts writes
#   pg-replicas.sh reload ROOT N                         re-reads node N's configuration files (pg_hba.conf)
# Needs root (runuser); PostgreSQL runs as 'postgres'. User 'app' (superuser) has the password $PG_PASSWORD.
set -euo pipefail
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PG_PASSWORD=${PG_PASSWORD:-pg-S3cret-pass}

log() { echo "pg-replicas: $*" >&2; }
as_pg() { ( cd /tmp && runuser -u postgres -- "$@" ); }

node_dir() { echo "$1/n$2"; }

record_pid() { # root n
  local dir; dir=$(node_dir "$1" "$2")
  head -1 "$dir/data/postmaster.pid" > "$dir/pid"
}

start_node() { # root n
  local root=$1 n=$2 dir port
  dir=$(node_dir "$root" "$n"); port=$(cat "$dir/port")
  as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "-p $port -k $dir" start >/dev/null \
    || { tail -20 "$dir/server.log" >&2; exit 1; }
  record_pid "$root" "$n"
}

stop_node() { # root n mode
  local root=$1 n=$2 mode=${3:-fast} dir pid
  dir=$(node_dir "$root" "$n")
  [ -s "$dir/pid" ] || return 0
  pid=$(cat "$dir/pid")
  # pids wrap fast: only signal a process that is still the postmaster we started (its data directory is ours)
  if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "postgres"; then
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m "$mode" -w -t 60 stop >/dev/null 2>&1 || {
      kill -KILL "$pid" 2>/dev/null || true
    }
  fi
  rm -f "$dir/pid"
}

cmd_start() {
  local root=$1; shift
  local ports=("$@") count=$# names=() i
  [ "$count" -ge 2 ] || { log "need a primary port and at least one standby port"; exit 2; }
  mkdir -p "$root"; chmod 0755 "$root"
  for ((i = 1; i < count; i++)); do names+=("s$i"); done
  local sync_names; sync_names=$(IFS=,; echo "${names[*]}" | sed 's/,/, /g')

  local dir; dir=$(node_dir "$root" 0)
  mkdir -p "$dir"; chown postgres:postgres "$dir"; echo "${ports[0]}" > "$dir/port"
  echo "$PG_PASSWORD" > "$dir/pwfile"; chown postgres "$dir/pwfile"; chmod 600 "$dir/pwfile"
  as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" --auth-local=trust \
      --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  rm -f "$dir/pwfile"
  # Written to postgresql.conf so that every standby copies it; a standby needs max_prepared_transactions >= its primary's.
  cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
max_connections = 200
max_prepared_transactions = 64
shared_buffers = 32MB
wal_level = replica
max_wal_senders = 10
wal_keep_size = 128MB
hot_standby = on
synchronous_commit = on
fsync = off
full_page_writes = off
wal_receiver_status_interval = 1s
log_min_messages = warning
EOF
  # Replication connections from loopback need no password; everything else uses scram (user app).
  sed -i '1i host replication replicator 127.0.0.1/32 trust' "$dir/data/pg_hba.conf"
  start_node "$root" 0
  as_pg psql -h "$dir" -p "${ports[0]}" -U postgres -XAtq -c \
    "CREATE ROLE app LOGIN SUPERUSER PASSWORD '$PG_PASSWORD'; CREATE ROLE replicator LOGIN REPLICATION;" >/dev/null

  local pids=()
  for ((i = 1; i < count; i++)); do
    (
      local sdir; sdir=$(node_dir "$root" "$i")
      mkdir -p "$sdir"; chown postgres:postgres "$sdir"; echo "${ports[$i]}" > "$sdir/port"
      as_pg "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "${ports[0]}" -U replicator -D "$sdir/data" -R -X stream \
          --checkpoint=fast --no-sync >"$sdir/basebackup.log" 2>&1 || { cat "$sdir/basebackup.log" >&2; exit 1; }
      echo "primary_conninfo = 'host=127.0.0.1 port=${ports[0]} user=replicator application_name=s$i'" \
        >>"$sdir/data/postgresql.auto.conf"
      start_node "$root" "$i"
    ) & pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done

  # Wait until the synchronous standby is streaming, so that the first commit does not wait for it.
  for _ in $(seq 1 200); do
    n=$(as_pg psql -h "$dir" -p "${ports[0]}" -U postgres -XAtq -c \
      "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
    [ "$n" = "$((count - 1))" ] && break; sleep 0.05
  done
  # Synchronous replication only now: with no standby connected, the setup's own commits would wait forever.
  # ALTER SYSTEM writes the primary's postgresql.auto.conf only, so a promoted standby does not wait for anyone.
  as_pg psql -h "$dir" -p "${ports[0]}" -U postgres -XAtq \
    -c "ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 ($sync_names)'" -c "SELECT pg_reload_conf()" >/dev/null
  echo "PG_PORTS=$(IFS=,; echo "${ports[*]}")"
  echo "PG_PASSWORD=$PG_PASSWORD"
  echo "PG_VERSION=$("$PGBIN/postgres" --version | awk '{print $3}')"
}

cmd_stop() {
  local root=$1 d
  for d in "$root"/n*; do
    [ -d "$d" ] || continue
    stop_node "$root" "${d##*/n}" immediate
  done
  case "$root" in /tmp/*) rm -rf "$root" ;; esac
}

cmd_promote() {
  local root=$1 n=$2 dir
  dir=$(node_dir "$root" "$n")
  as_pg "$PGBIN/pg_ctl" -D "$dir/data" -w -t 60 promote >/dev/null
}

case "${1:-}" in
start) shift; cmd_start "$@" ;;
stop) cmd_stop "$2" ;;
stop-node) stop_node "$2" "$3" "${4:-fast}" ;;
start-node) start_node "$2" "$3" ;;
promote) cmd_promote "$2" "$3" ;;
reload) as_pg "$PGBIN/pg_ctl" -D "$(node_dir "$2" "$3")/data" reload >/dev/null ;;
*) echo "usage: $0 start ROOT PORT0 PORT1 [PORT2...] | stop ROOT | stop-node ROOT N [fast|immediate] | start-node ROOT N | promote ROOT N | reload ROOT N" >&2; exit 2 ;;
esac
