#!/usr/bin/env bash
# A PostgreSQL 16 + pgvector primary and a streaming standby (from the `pgserver` wheel, through
# scripts/pg-server.sh's install), on loopback ports, data in the git-ignored .cache/pg-replica/.
# For the failover-routing tests (issue 7): kill the primary, promote the standby, bring the old
# primary back, and see what the router does.
#
#   scripts/pg-replica.sh start        # prints PG_PRIMARY_URL=..., PG_STANDBY_URL=..., PG_REPLICA_BIN=..., PG_REPLICA_DIR=...
#   scripts/pg-replica.sh stop
#   scripts/pg-replica.sh reset        # stop and delete both data directories
#
# VECTORDR_PG_SYNC=1 makes the standby synchronous (synchronous_standby_names = 'standby1',
# synchronous_commit = on): a commit is acknowledged only once the standby has flushed it.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PRIMARY_PORT=${VECTORDR_PG_PRIMARY_PORT:-54341}
STANDBY_PORT=${VECTORDR_PG_STANDBY_PORT:-54342}
RUN="$ROOT/.cache/pg-replica"
PRIMARY="$RUN/primary"
STANDBY="$RUN/standby"
PGBIN=$("$ROOT/scripts/pg-server.sh" bin)
OS_USER=""
[ "$(id -u)" = "0" ] && OS_USER=vectordr-pg

as_pg() {
  if [ -n "$OS_USER" ]; then runuser -u "$OS_USER" -- "$@"; else "$@"; fi
}

say() { echo "[pg-replica] $*" >&2; }

running() { [ -f "$1/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$1" status >/dev/null 2>&1; }

init_primary() {
  as_pg "$PGBIN/initdb" -D "$PRIMARY" -U postgres --auth=trust --encoding=UTF8 --locale=C >/dev/null
  cat >>"$PRIMARY/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PRIMARY_PORT
unix_socket_directories = '$RUN'
max_connections = 50
shared_buffers = 128MB
wal_level = replica
max_wal_senders = 8
max_replication_slots = 8
wal_keep_size = 256MB
hot_standby = on
wal_log_hints = on
CONF
  echo "host replication postgres 127.0.0.1/32 trust" >>"$PRIMARY/pg_hba.conf"
}

init_standby() {
  as_pg "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -D "$STANDBY" -R -X stream -c fast >/dev/null
  # The standby's own port and socket; it follows the primary as application_name standby1.
  sed -i "s/^port = .*/port = $STANDBY_PORT/; s#^unix_socket_directories = .*#unix_socket_directories = '$RUN'#" "$STANDBY/postgresql.conf"
  sed -i "s/^synchronous_standby_names.*//" "$STANDBY/postgresql.conf"
  sed -i "s/^primary_conninfo = '\(.*\)'/primary_conninfo = '\1 application_name=standby1'/" "$STANDBY/postgresql.auto.conf"
}

start() {
  mkdir -p "$RUN"
  if [ -n "$OS_USER" ]; then chown "$OS_USER" "$RUN"; fi
  [ -f "$PRIMARY/PG_VERSION" ] || init_primary
  running "$PRIMARY" || as_pg "$PGBIN/pg_ctl" -D "$PRIMARY" -l "$RUN/primary.log" -w -t 60 start >/dev/null
  as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -qAtc 'CREATE EXTENSION IF NOT EXISTS vector' postgres >/dev/null
  [ -f "$STANDBY/PG_VERSION" ] || init_standby
  running "$STANDBY" || as_pg "$PGBIN/pg_ctl" -D "$STANDBY" -l "$RUN/standby.log" -w -t 60 start >/dev/null
  # Wait until the standby streams (pg_stat_replication on the primary shows it).
  local deadline=$((SECONDS + 60))
  until [ "$(as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -qAtc "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'" postgres 2>/dev/null || echo 0)" -ge 1 ]; do
    [ $SECONDS -lt $deadline ] || { say "standby not streaming after 60 s (logs: $RUN/*.log)"; exit 1; }
    sleep 0.2
  done
  # Synchronous only once the standby streams: before, every commit (CREATE EXTENSION too) would wait.
  local names=''
  [ "${VECTORDR_PG_SYNC:-0}" = "1" ] && names='standby1'
  as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -qAtc "ALTER SYSTEM SET synchronous_standby_names = '$names'" postgres >/dev/null
  as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -qAtc "SELECT pg_reload_conf()" postgres >/dev/null
  echo "PG_PRIMARY_URL=postgres://postgres@127.0.0.1:$PRIMARY_PORT/postgres"
  echo "PG_STANDBY_URL=postgres://postgres@127.0.0.1:$STANDBY_PORT/postgres"
  echo "PG_REPLICA_BIN=$PGBIN"
  echo "PG_REPLICA_DIR=$RUN"
}

stop() {
  for d in "$STANDBY" "$PRIMARY"; do
    if [ -f "$d/postmaster.pid" ]; then as_pg "$PGBIN/pg_ctl" -D "$d" -m fast -w stop >/dev/null 2>&1 || true; fi
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  reset) stop; rm -rf "$PRIMARY" "$STANDBY" ;;
  *) echo "usage: $0 start|stop|reset" >&2; exit 2 ;;
esac
