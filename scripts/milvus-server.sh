#!/usr/bin/env bash
# Starts/stops a real Milvus-protocol server for tests and benchmarks, from the `milvus-lite` wheel
# (PyPI), on a loopback port, with its data in the git-ignored .cache/ folder of the checkout.
#
#   scripts/milvus-server.sh start   # prints MILVUS_ADDRESS=127.0.0.1:54340 on success
#   scripts/milvus-server.sh stop
#   scripts/milvus-server.sh url     # 127.0.0.1:54340 (gRPC, for @zilliz/milvus2-sdk-node `address`)
#   scripts/milvus-server.sh env     # export MILVUS_ADDRESS=... (for eval "$(scripts/milvus-server.sh env)")
#
# Why milvus-lite 3.x: it is a pure-Python rewrite of Milvus Lite (WAL + Parquet segments + FAISS)
# with a Milvus gRPC adapter (`milvus-lite server --host H --port P`), so the Node SDK talks to it
# over TCP exactly as to Milvus Standalone. It installs from PyPI in ~20 s and starts in ~1 s, with
# no Docker, etcd or MinIO. Its limits (see its README): RPCs it lacks answer UNIMPLEMENTED, no
# schema alteration, no auth, writes to one collection must be serialized.
# The server imports the gRPC stubs of `pymilvus` (not a dependency of milvus-lite), so both are pinned.
#
# Downloads are cached in ${VECTORDR_CACHE:-~/.cache/vectordr}, keyed by version.
set -euo pipefail

MILVUS_LITE_VERSION=3.2.2
PYMILVUS_VERSION=3.0.2 # provides pymilvus.grpc_gen, the protocol stubs the server is built on
PORT=${VECTORDR_MILVUS_PORT:-54340}
# shellcheck source=scripts/service-lib.sh
. "$(dirname "$0")/service-lib.sh"
service_init milvus milvus
VENV="$CACHE/venv-milvus-lite-$MILVUS_LITE_VERSION"
BIN="$VENV/bin/python"
NAME="Milvus Lite"

# The library's check compares /proc/PID/exe with $BIN, which for a Python server is the interpreter
# that every venv of that Python shares: also require our data folder on the process's command line.
eval "lib_$(declare -f running_pid)"
running_pid() {
  local pid
  pid=$(lib_running_pid) || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$DATA" || return 1
  echo "$pid"
}

installed() {
  [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - "$MILVUS_LITE_VERSION" "$PYMILVUS_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if (version("milvus-lite"), version("pymilvus")) == tuple(sys.argv[1:3]) else 1)
PY
}

install() {
  venv_install "$VENV" "~20 s" "milvus-lite==$MILVUS_LITE_VERSION" "pymilvus==$PYMILVUS_VERSION"
}

# A gRPC CheckHealth through the server's own stubs: the port being open is not enough to know that
# the Milvus service (and not some other gRPC server) answers.
port_healthy() { port_open && healthy; }

healthy() {
  "$VENV/bin/python" - "127.0.0.1:$PORT" <<'PY' >/dev/null 2>&1
import sys, grpc
from pymilvus.grpc_gen import milvus_pb2, milvus_pb2_grpc
with grpc.insecure_channel(sys.argv[1]) as ch:
    r = milvus_pb2_grpc.MilvusServiceStub(ch).CheckHealth(milvus_pb2.CheckHealthRequest(), timeout=5)
sys.exit(0 if r.isHealthy else 1)
PY
}

launch() {
  mkdir -p "$DATA"
  # A background job of a non-interactive shell starts with SIGINT ignored, so the CLI's graceful
  # shutdown (on KeyboardInterrupt: drain requests, close the data folder) is tied to SIGTERM here.
  PYTHONUNBUFFERED=1 setsid "$VENV/bin/python" -c '
import signal, sys
signal.signal(signal.SIGTERM, signal.default_int_handler)
from milvus_lite.cmdline import main
sys.exit(main(sys.argv[1:]))
' server --data-dir "$DATA" --host 127.0.0.1 --port "$PORT" </dev/null >>"$LOG" 2>&1 &
}

start() { start_service 60 0.1 port_healthy; print_vars; }
stop() { stop_running 20; }
url() { echo "127.0.0.1:$PORT"; }
print_vars() { echo "MILVUS_ADDRESS=$(url)"; }

service_main 'start|stop|url|env' "$@"
