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
# shellcheck source=scripts/service-lib.sh
. "$(dirname "$0")/service-lib.sh"
service_init "qdrant${VECTORDR_QDRANT_PORT:+-$VECTORDR_QDRANT_PORT}" qdrant
DIST=${VECTORDR_QDRANT_DIST:-$ROOT/../shared/qdrant}
ARCHIVE_NAME=qdrant-$QDRANT_VERSION-x86_64-linux-gnu.xz
TOOL="$CACHE/qdrant-$QDRANT_VERSION"
BIN="$TOOL/qdrant"
NAME=Qdrant

# The checksum SHA256SUMS records for $1 ("qdrant-...xz" or "qdrant (decompressed)").
sum_of() { sed -n "s/^\([0-9a-f]\{64\}\)  $1\$/\1/p" "$DIST/SHA256SUMS"; }

installed() {
  [ -x "$BIN" ] && [ -f "$TOOL/SHA256" ] && [ "$(cat "$TOOL/SHA256")" = "$(sha256sum "$BIN" | cut -d' ' -f1)" ]
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

# cd: Qdrant writes ./.qdrant-initialized (and reads ./config if present) in its working directory.
launch() {
  mkdir -p "$RUN/storage" "$RUN/snapshots"
  (
    cd "$RUN"
    QDRANT__SERVICE__HOST=127.0.0.1 QDRANT__SERVICE__HTTP_PORT=$PORT QDRANT__SERVICE__GRPC_PORT=$GRPC_PORT \
      QDRANT__STORAGE__STORAGE_PATH="$RUN/storage" QDRANT__STORAGE__SNAPSHOTS_PATH="$RUN/snapshots" \
      QDRANT__TELEMETRY_DISABLED=true QDRANT__LOG_LEVEL=WARN \
      exec setsid "$BIN" </dev/null >>"$LOG" 2>&1
  ) &
}

start() { start_service 60 0.1 http_ok "$(url)/readyz"; print_vars; }
stop() { stop_running 20; }
url() { echo "http://127.0.0.1:$PORT"; }
print_vars() { echo "QDRANT_URL=$(url)"; }

service_main 'start|stop|url|env' "$@"
