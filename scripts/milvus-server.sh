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
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${VECTORDR_CACHE:-$HOME/.cache/vectordr}
VENV="$CACHE/venv-milvus-lite-$MILVUS_LITE_VERSION"
RUN="$ROOT/.cache/milvus"
DATA="$RUN/data"
PIDFILE="$RUN/milvus.pid"
LOG="$RUN/milvus.log"

say() { echo "[milvus-server] $*" >&2; }
die() { say "error: $*"; exit 1; }
BIN="$VENV/bin/python"
NAME="Milvus Lite"
# shellcheck source=scripts/service-lib.sh
. "$ROOT/scripts/service-lib.sh"

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
  installed && return
  mkdir -p "$CACHE"
  # One install at a time (parallel test runners may all call start).
  exec 8>"$CACHE/.venv-milvus-lite-$MILVUS_LITE_VERSION.lock"
  flock 8
  if ! installed; then
    say "installing milvus-lite==$MILVUS_LITE_VERSION pymilvus==$PYMILVUS_VERSION into $VENV (first run only; ~20 s)"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
      "milvus-lite==$MILVUS_LITE_VERSION" "pymilvus==$PYMILVUS_VERSION"
    installed || die "installed milvus-lite into $VENV but cannot import the pinned versions"
  fi
  exec 8>&-
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

start() {
  install
  mkdir -p "$DATA"
  exec 9>"$RUN/.start.lock"
  flock 9
  if running_pid >/dev/null; then
    echo "MILVUS_ADDRESS=$(url)"
    return
  fi
  rm -f "$PIDFILE"
  port_open && die "127.0.0.1:$PORT is already in use by another process (not ours: no live pid in $PIDFILE)"
  # setsid: its own session, so a Ctrl-C in the calling terminal does not reach it; stop uses the pid.
  # A background job of a non-interactive shell starts with SIGINT ignored, so the CLI's graceful
  # shutdown (on KeyboardInterrupt: drain requests, close the data folder) is tied to SIGTERM here.
  PYTHONUNBUFFERED=1 setsid "$VENV/bin/python" -c '
import signal, sys
signal.signal(signal.SIGTERM, signal.default_int_handler)
from milvus_lite.cmdline import main
sys.exit(main(sys.argv[1:]))
' server --data-dir "$DATA" --host 127.0.0.1 --port "$PORT" \
    </dev/null >>"$LOG" 2>&1 9>&- &
  local pid=$!
  echo "$pid" >"$PIDFILE"
  wait_ready "$pid" 60 0.1 'Milvus Lite' "log: $LOG" port_healthy
  exec 9>&-
  echo "MILVUS_ADDRESS=$(url)"
}

stop() {
  stop_running 20
}

url() {
  echo "127.0.0.1:$PORT"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) url ;;
  env) echo "export MILVUS_ADDRESS=$(url)" ;;
  *) echo "usage: $0 start|stop|url|env" >&2; exit 2 ;;
esac
