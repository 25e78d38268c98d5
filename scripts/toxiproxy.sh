#!/usr/bin/env bash
# Starts/stops a toxiproxy server (TCP fault injection, built from its Go module) for tests, with its
# HTTP API on 127.0.0.1:54331 and its pid and log in the git-ignored .cache/toxiproxy folder.
# Proxies that tests create should listen on 127.0.0.1:54332-54339.
#
#   scripts/toxiproxy.sh start   # prints VECTORDR_TOXIPROXY_URL=http://127.0.0.1:54331 on success
#   scripts/toxiproxy.sh stop
#   scripts/toxiproxy.sh url     # http://127.0.0.1:54331
#   scripts/toxiproxy.sh bin     # the folder holding toxiproxy-server and toxiproxy-cli
#
# The first start builds toxiproxy-server and toxiproxy-cli with `go install` (about 30 s on 2 cores)
# into ${VECTORDR_CACHE:-~/.cache/vectordr}/toxiproxy-<version>/bin; later starts reuse them.
#
# The API, as the tests drive it (every call answers JSON; state lives in memory only):
#   API=http://127.0.0.1:54331
#   # a proxy in front of the S3 server (scripts/s3-server.sh): clients use 127.0.0.1:54332
#   curl -sf -X POST $API/proxies \
#     -d '{"name":"s3","listen":"127.0.0.1:54332","upstream":"127.0.0.1:54330","enabled":true}'   # 201
#   # reset_peer: the connection is closed with a TCP RST after `timeout` ms (0 = at once); the AWS
#   #   SDK (3.1169) throws name TimeoutError, code ECONNRESET, "read ECONNRESET"
#   curl -sf -X POST $API/proxies/s3/toxics \
#     -d '{"name":"rst","type":"reset_peer","stream":"upstream","toxicity":1,"attributes":{"timeout":0}}'   # 200
#   # timeout: data stops flowing and the connection is closed after `timeout` ms: the SDK throws
#   #   TimeoutError/ECONNRESET "socket hang up". With timeout 0 the connection is held open; the SDK's
#   #   requestHandler.requestTimeout did not fire then (it hung ~30 s, until MinIO closed its side),
#   #   while an abortSignal (AbortSignal.timeout(ms)) did: give the tests' requests a deadline.
#   curl -sf -X POST $API/proxies/s3/toxics \
#     -d '{"name":"hang","type":"timeout","stream":"upstream","toxicity":1,"attributes":{"timeout":2000}}'
#   # other useful toxics: latency {latency, jitter} ms, bandwidth {rate} KB/s, slicer, limit_data {bytes}
#   curl -sf -X DELETE $API/proxies/s3/toxics/rst                  # 204
#   curl -sf -X POST $API/proxies/s3 -d '{"enabled":false}'        # down: ECONNREFUSED
#   curl -sf -X POST $API/proxies/s3 -d '{"enabled":true}'         # up again
#   curl -sf $API/proxies                                          # all proxies with their toxics
#   curl -sf -X POST $API/reset                                    # 204: all proxies enabled, all toxics removed
#   curl -sf -X DELETE $API/proxies/s3                             # 204
# Toxics with "toxicity" < 1 apply to that fraction of connections; "stream" is upstream (client to
# server) or downstream (server to client, the default). Creating a proxy whose name exists answers 409.
set -euo pipefail

TOXIPROXY_VERSION=v2.12.0 # github.com/Shopify/toxiproxy/v2
PORT=${VECTORDR_TOXIPROXY_PORT:-54331}
# shellcheck source=scripts/service-lib.sh
. "$(dirname "$0")/service-lib.sh"
service_init toxiproxy toxiproxy
TOOL="$CACHE/toxiproxy-${TOXIPROXY_VERSION#v}"
BIN="$TOOL/bin/toxiproxy-server"
NAME=toxiproxy-server

install() {
  [ -x "$BIN" ] && [ -x "$TOOL/bin/toxiproxy-cli" ] && return
  command -v go >/dev/null 2>&1 || die "building toxiproxy needs Go >= 1.22 on PATH; none found"
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.toxiproxy-$TOXIPROXY_VERSION.lock"
  flock 9
  if [ -x "$BIN" ] && [ -x "$TOOL/bin/toxiproxy-cli" ]; then exec 9>&-; return; fi
  say "building toxiproxy $TOXIPROXY_VERSION with $(go version | awk '{print $3}') into $TOOL (first run only)"
  local tmp="$TOOL.tmp"
  rm -rf "$tmp"
  mkdir -p "$tmp/gobin" "$tmp/bin"
  local t0=$SECONDS
  if ! GOBIN="$tmp/gobin" CGO_ENABLED=0 GOFLAGS=-trimpath go install \
    -ldflags "-s -w -X github.com/Shopify/toxiproxy/v2.Version=${TOXIPROXY_VERSION#v}" \
    "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION" \
    "github.com/Shopify/toxiproxy/v2/cmd/cli@$TOXIPROXY_VERSION" >"$tmp/build.log" 2>&1; then
    tail -n 30 "$tmp/build.log" >&2
    die "go install github.com/Shopify/toxiproxy/v2/cmd/{server,cli}@$TOXIPROXY_VERSION failed (full log: $tmp/build.log)"
  fi
  # go install names the binaries after their folders (server, cli).
  mv "$tmp/gobin/server" "$tmp/bin/toxiproxy-server"
  mv "$tmp/gobin/cli" "$tmp/bin/toxiproxy-cli"
  rmdir "$tmp/gobin"
  rm -rf "$TOOL"
  mv "$tmp" "$TOOL"
  say "built toxiproxy in $((SECONDS - t0)) s"
  exec 9>&-
}

launch() {
  setsid "$BIN" -host 127.0.0.1 -port "$PORT" </dev/null >>"$LOG" 2>&1 &
}

start() { start_service 30 0.05 http_ok "$(url)/version"; print_vars; }
stop() { stop_running 10; }
url() { echo "http://127.0.0.1:$PORT"; }
print_vars() { echo "VECTORDR_TOXIPROXY_URL=$(url)"; }
print_bin() { echo "$TOOL/bin"; }

service_main 'start|stop|url|bin' "$@"
