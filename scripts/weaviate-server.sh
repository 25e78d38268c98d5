#!/usr/bin/env bash
# Starts/stops a real Weaviate (weaviate-server built from its Go module) for tests and benchmarks,
# on loopback ports, with its data and backups in the git-ignored .cache/ folder of the checkout.
#
#   scripts/weaviate-server.sh start   # prints WEAVIATE_URL=... and WEAVIATE_GRPC=... on success
#   scripts/weaviate-server.sh stop
#   scripts/weaviate-server.sh env     # export lines, for eval "$(scripts/weaviate-server.sh env)"
#   scripts/weaviate-server.sh bin     # builds (if needed) and prints the binary's path
#
# The first start builds weaviate-server with `go install` (about 7 minutes on 2 cores) into
# ${VECTORDR_CACHE:-~/.cache/vectordr}/weaviate-<version>/bin; later starts reuse it.
# Modules: backup-filesystem (native backups, for the benchmark's comparison); Weaviate 1.35 enables
# its API-based vectorizers (text2vec-openai, -cohere, ...) by default, so a collection can record a
# vectorizer; tests always supply vectors, so nothing calls out. Modules that need a local inference
# container (text2vec-transformers, ...) are not enabled. Single node, anonymous access, telemetry off.
# VECTORDR_WEAVIATE_ASYNC_INDEXING=true starts it with ASYNC_INDEXING (vector index built in the
# background; the benchmark uses it to time loading and index building apart).
set -euo pipefail

WEAVIATE_VERSION=v1.35.2 # github.com/weaviate/weaviate
PORT=${VECTORDR_WEAVIATE_PORT:-54350}
GRPC_PORT=$((PORT + 1))
GOSSIP_PORT=$((PORT + 2))
DATA_PORT=$((PORT + 3))
RAFT_PORT=$((PORT + 4))
RAFT_RPC_PORT=$((PORT + 5))
# shellcheck source=scripts/service-lib.sh
. "$(dirname "$0")/service-lib.sh"
# A second server (VECTORDR_WEAVIATE_PORT set) gets its own folder, so it can run beside the tests' one.
service_init "weaviate${VECTORDR_WEAVIATE_PORT:+-$VECTORDR_WEAVIATE_PORT}" weaviate
TOOL="$CACHE/weaviate-$WEAVIATE_VERSION"
BACKUPS="$RUN/backups"
BIN="$TOOL/bin/weaviate-server"
NAME=Weaviate

install() {
  go_install_tool "$TOOL" weaviate-server "github.com/weaviate/weaviate/cmd/weaviate-server@$WEAVIATE_VERSION" "~7 min on 2 cores"
}

print_vars() {
  echo "WEAVIATE_URL=$(url)"
  echo "WEAVIATE_GRPC=127.0.0.1:$GRPC_PORT"
  echo "WEAVIATE_BACKUP_PATH=$BACKUPS"
  echo "WEAVIATE_PIDFILE=$PIDFILE"
}

launch() {
  mkdir -p "$DATA" "$BACKUPS"
  PERSISTENCE_DATA_PATH="$DATA" \
    AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED=true \
    DEFAULT_VECTORIZER_MODULE=none \
    ENABLE_MODULES=backup-filesystem \
    BACKUP_FILESYSTEM_PATH="$BACKUPS" \
    CLUSTER_HOSTNAME=vectordr-node1 \
    CLUSTER_ADVERTISE_ADDR=127.0.0.1 \
    CLUSTER_GOSSIP_BIND_PORT=$GOSSIP_PORT \
    CLUSTER_DATA_BIND_PORT=$DATA_PORT \
    RAFT_PORT=$RAFT_PORT \
    RAFT_INTERNAL_RPC_PORT=$RAFT_RPC_PORT \
    RAFT_BOOTSTRAP_EXPECT=1 \
    RAFT_JOIN=vectordr-node1 \
    GRPC_PORT=$GRPC_PORT \
    DISABLE_TELEMETRY=true \
    LIMIT_RESOURCES=true \
    ASYNC_INDEXING="${VECTORDR_WEAVIATE_ASYNC_INDEXING:-false}" \
    QUERY_DEFAULTS_LIMIT=100 \
    LOG_LEVEL=warning \
    setsid "$BIN" --host 127.0.0.1 --port "$PORT" --scheme http </dev/null >>"$LOG" 2>&1 &
}

start() { start_service 120 0.2 http_ok "$(url)/v1/.well-known/ready"; print_vars; }
stop() { stop_running 30; }
url() { echo "http://127.0.0.1:$PORT"; }
print_bin() { echo "$BIN"; }

service_main 'start|stop|url|env|bin' "$@"
