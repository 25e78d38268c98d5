#!/usr/bin/env bash
# Starts/stops a real Qdrant 1.18.3 for tests, on loopback ports, with its storage and snapshots in
# the git-ignored .cache/ folder of the checkout.
#
#   scripts/qdrant-server.sh start   # prints QDRANT_URL=http://127.0.0.1:54360 on success
#   scripts/qdrant-server.sh stop
#   scripts/qdrant-server.sh url     # http://127.0.0.1:54360 (REST; gRPC on 54361)
#   scripts/qdrant-server.sh env     # export QDRANT_URL=... (for eval "$(scripts/qdrant-server.sh env)")
#
# With QDRANT_URL set, the Qdrant suites run against this real server as well as (not instead of)
# the OpenAPI-validating test server (docs/adapters/qdrant.md#how-it-is-tested).
#
# The binary: no release download or Docker image can be fetched on the project's machines, so it is
# a build of Qdrant's v1.18.3 tag kept beside the clone, in ../shared/qdrant (see its README.md), or
# in $VECTORDR_QDRANT_DIST. It is unpacked once into ${VECTORDR_CACHE:-~/.cache/vectordr}/qdrant-1.18.3/
# and checked against the SHA256SUMS there (archive and binary) before it is ever run.
set -euo pipefail

QDRANT_VERSION=1.18.3
PORT=${VECTORDR_QDRANT_PORT:-54360}
GRPC_PORT=$((PORT + 1))
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${VECTORDR_CACHE:-$HOME/.cache/vectordr}
DIST=${VECTORDR_QDRANT_DIST:-$ROOT/../shared/qdrant}
ARCHIVE_NAME=qdrant-$QDRANT_VERSION-x86_64-linux-gnu.xz
TOOL="$CACHE/qdrant-$QDRANT_VERSION"
QDRANT="$TOOL/qdrant"
RUN="$ROOT/.cache/qdrant${VECTORDR_QDRANT_PORT:+-$VECTORDR_QDRANT_PORT}"
PIDFILE="$RUN/qdrant.pid"
LOG="$RUN/qdrant.log"

say() { echo "[qdrant-server] $*" >&2; }
die() { say "error: $*"; exit 1; }
BIN=$QDRANT
NAME=Qdrant
# shellcheck source=scripts/service-lib.sh
. "$ROOT/scripts/service-lib.sh"

# The checksum SHA256SUMS records for $1 ("qdrant-...xz" or "qdrant (decompressed)").
sum_of() { sed -n "s/^\([0-9a-f]\{64\}\)  $1\$/\1/p" "$DIST/SHA256SUMS"; }

installed() {
  [ -x "$QDRANT" ] && [ -f "$TOOL/SHA256" ] && [ "$(cat "$TOOL/SHA256")" = "$(sha256sum "$QDRANT" | cut -d' ' -f1)" ]
}

install() {
  installed && return
  [ -f "$DIST/$ARCHIVE_NAME" ] && [ -f "$DIST/SHA256SUMS" ] ||
    die "no Qdrant $QDRANT_VERSION build at $DIST/$ARCHIVE_NAME (with SHA256SUMS beside it); put the shared folder beside the clone or set VECTORDR_QDRANT_DIST"
  command -v xz >/dev/null 2>&1 || die "unpacking $ARCHIVE_NAME needs xz (Debian: xz-utils)"
  local want_xz want_bin
  want_xz=$(sum_of "$(printf '%s' "$ARCHIVE_NAME" | sed 's/\./\\./g')")
  want_bin=$(sum_of 'qdrant (decompressed)')
  [ -n "$want_xz" ] && [ -n "$want_bin" ] || die "$DIST/SHA256SUMS has no checksum for $ARCHIVE_NAME or the binary"
  mkdir -p "$CACHE"
  # One unpack at a time (parallel test runners may all call start).
  exec 8>"$CACHE/.qdrant-$QDRANT_VERSION.lock"
  flock 8
  if ! installed; then
    [ "$(sha256sum "$DIST/$ARCHIVE_NAME" | cut -d' ' -f1)" = "$want_xz" ] || die "$DIST/$ARCHIVE_NAME does not match its SHA256SUMS entry; refusing to run it"
    say "unpacking $ARCHIVE_NAME into $TOOL (first run only)"
    local tmp="$TOOL.tmp"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    xz -d -c "$DIST/$ARCHIVE_NAME" >"$tmp/qdrant"
    [ "$(sha256sum "$tmp/qdrant" | cut -d' ' -f1)" = "$want_bin" ] || die "the unpacked binary does not match its SHA256SUMS entry; refusing to run it"
    chmod +x "$tmp/qdrant"
    echo "$want_bin" >"$tmp/SHA256"
    rm -rf "$TOOL"
    mv "$tmp" "$TOOL"
  fi
  exec 8>&-
}

start() {
  install
  mkdir -p "$RUN/storage" "$RUN/snapshots"
  exec 9>"$RUN/.start.lock"
  flock 9
  if running_pid >/dev/null; then
    echo "QDRANT_URL=$(url)"
    return
  fi
  rm -f "$PIDFILE"
  port_open && die "127.0.0.1:$PORT is already in use by another process (not ours: no live pid in $PIDFILE)"
  # setsid: its own session, so a Ctrl-C in the calling terminal does not reach it; stop uses the pid.
  # cd: Qdrant writes ./.qdrant-initialized (and reads ./config if present) in its working directory.
  (
    cd "$RUN"
    QDRANT__SERVICE__HOST=127.0.0.1 QDRANT__SERVICE__HTTP_PORT=$PORT QDRANT__SERVICE__GRPC_PORT=$GRPC_PORT \
      QDRANT__STORAGE__STORAGE_PATH="$RUN/storage" QDRANT__STORAGE__SNAPSHOTS_PATH="$RUN/snapshots" \
      QDRANT__TELEMETRY_DISABLED=true QDRANT__LOG_LEVEL=WARN \
      exec setsid "$QDRANT" </dev/null >>"$LOG" 2>&1 9>&-
  ) &
  local pid=$!
  echo "$pid" >"$PIDFILE"
  wait_ready "$pid" 60 0.1 Qdrant "log: $LOG" http_ok "$(url)/readyz"
  exec 9>&-
  echo "QDRANT_URL=$(url)"
}

stop() {
  stop_running 20
}

url() {
  echo "http://127.0.0.1:$PORT"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) url ;;
  env) echo "export QDRANT_URL=$(url)" ;;
  *) echo "usage: $0 start|stop|url|env" >&2; exit 2 ;;
esac
