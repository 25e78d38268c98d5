#!/usr/bin/env bash
# Starts/stops a REAL Milvus 2.3.5 standalone server for tests, from PyPI's `milvus` package (the
# Milvus binary with embedded etcd and RocksMQ, no Docker or MinIO), with every port it opens on
# loopback and its data in the git-ignored .cache/ folder of the checkout.
#
#   scripts/milvus-standalone.sh start   # prints MILVUS_STANDALONE_ADDRESS=127.0.0.1:54345 (~40-60 s)
#   scripts/milvus-standalone.sh stop
#   scripts/milvus-standalone.sh url     # 127.0.0.1:54345 (gRPC, for @zilliz/milvus2-sdk-node `address`)
#   scripts/milvus-standalone.sh env     # export MILVUS_STANDALONE_ADDRESS=...
#
# Why beside milvus-lite (scripts/milvus-server.sh): milvus-lite is a Python re-implementation of
# Milvus's gRPC API and differs from Milvus where it matters (it parses any int64 literal, accepts
# nullable fields, has dropCollectionProperties); this is the Milvus server itself, so the suites
# see the real parser, validation and version. The package's own launcher (`milvus-server`) picks
# free ports near the defaults (2379, 19530, 9091, ...) and leaves etcd on 2379/2380; here the
# config is resolved with fixed ports and then the Milvus binary is exec'ed, so the pid file holds
# the server itself (no Python parent left behind), and etcd gets its own config file.
#
# Ports (override the base with VECTORDR_MILVUS_STANDALONE_PORT; the rest follow from 54370):
#   54345 gRPC proxy (the address clients use)
#   54370..54380 etcd client/peer, proxy internal, root/query/index/data coordinators and nodes,
#   metrics + /healthz (VECTORDR_MILVUS_STANDALONE_INTERNAL_BASE moves this block)
#
# The package is installed into a venv cached in ${VECTORDR_CACHE:-~/.cache/vectordr}, keyed by version.
set -euo pipefail

MILVUS_VERSION=2.3.5
PORT=${VECTORDR_MILVUS_STANDALONE_PORT:-54345}
BASE_PORT=${VECTORDR_MILVUS_STANDALONE_INTERNAL_BASE:-54370}
# shellcheck source=scripts/service-lib.sh
. "$(dirname "$0")/service-lib.sh"
service_init milvus-standalone milvus
VENV="$CACHE/venv-milvus-standalone-$MILVUS_VERSION"
LOG="$RUN/logs/milvus-stdout.log"
LOG_HINT="logs: $RUN/logs"
METRICS_PORT=$((BASE_PORT + 10))
STARTUP_S=${VECTORDR_MILVUS_STANDALONE_STARTUP_S:-180}
# The Milvus binary the launcher unpacks from the wheel into $RUN/bin (the library's running_pid
# compares /proc/PID/exe with it; it lives in this checkout only, so no other process matches).
BIN="$RUN/bin/milvus"
NAME="Milvus standalone"

installed() {
  [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - "$MILVUS_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if version("milvus") == sys.argv[1] else 1)
PY
}

install() {
  venv_install "$VENV" "~60 MB" "milvus==$MILVUS_VERSION"
}

# Resolves the package's config template with our ports and folders, unpacks the binaries (once per
# wheel: the package keeps an md5 per file), then replaces itself with the Milvus binary. Uses the
# package's MilvusServerConfig and _initialize_data_files, pinned by MILVUS_VERSION above.
read -r -d '' LAUNCHER <<'PY' || true
import os, socket, sys
from os.path import join
import milvus

base, proxy, first = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
names = ['etcd_port', 'etcd_peer_port', 'proxy_internal_port', 'root_coord_port', 'query_coord_port',
         'query_node_port', 'index_coord_port', 'index_node_port', 'data_coord_port', 'data_node_port', 'metrics_port']
ports = {n: first + i for i, n in enumerate(names)}

# Embedded etcd takes its listeners from its own config file (else localhost:2379 and :2380).
etcd_conf = join(base, 'configs', 'embed-etcd.yaml')
os.makedirs(join(base, 'configs'), exist_ok=True)
with open(etcd_conf, 'w', encoding='utf-8') as f:
    client, peer = f"http://127.0.0.1:{ports['etcd_port']}", f"http://127.0.0.1:{ports['etcd_peer_port']}"
    f.write(f'name: vectordr\nlisten-client-urls: {client}\nadvertise-client-urls: {client}\n'
            f'listen-peer-urls: {peer}\ninitial-advertise-peer-urls: {peer}\ninitial-cluster: vectordr={peer}\n')

config = milvus.MilvusServerConfig()
# The package test-binds each port without SO_REUSEADDR, which fails for a minute after a stop while
# old connections sit in TIME_WAIT; Milvus (Go) binds with it. A port another process listens on
# still fails the bind.
def try_bind_port(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(('127.0.0.1', port))
        sock.listen()
        return sock
    except OSError:
        sock.close()
        return None
config.try_bind_port = try_bind_port
# The template has no etcd.config.path line to fill; add one under `etcd:`.
config.template_text = config.template_text.replace('\netcd:\n', f'\netcd:\n  config:\n    path: {etcd_conf}\n', 1)
template_ports = {k: v for k, v in ports.items() if k in config.configurable_items}
config.update(data_dir=base, proxy_port=proxy, **template_ports)
for component in ('rootCoord', 'proxy', 'queryCoord', 'queryNode', 'indexNode', 'dataCoord', 'dataNode'):
    config.set(f'{component}.ip', '127.0.0.1')
config.set('etcd.endpoints', f"127.0.0.1:{ports['etcd_port']}")
config.resolve()  # binds each port once to check it is free, then writes configs/milvus.yaml
milvus._initialize_data_files(base)

exe = join(base, 'bin', 'milvus')
env = dict(os.environ, DEPLOY_MODE='STANDALONE', METRICS_PORT=str(ports['metrics_port']), MILVUS_RUN_DIR=join(base, 'run'),
           LD_LIBRARY_PATH=':'.join([join(base, 'bin'), os.environ.get('LD_LIBRARY_PATH', '')]))
os.chdir(base)  # Milvus reads ./configs/milvus.yaml
os.execve(exe, [exe, 'run', 'standalone'], env)
PY

port_healthy() { port_open && healthy; }

healthy() {
  "$VENV/bin/python" - "$METRICS_PORT" <<'PY' >/dev/null 2>&1
import sys, urllib.request
with urllib.request.urlopen(f'http://127.0.0.1:{sys.argv[1]}/healthz', timeout=5) as r:
    sys.exit(0 if b'OK' in r.read() else 1)
PY
}

# Any port of our block held by another process fails the start early with its number.
check_ports() {
  local p
  for p in "$PORT" $(seq "$BASE_PORT" $((BASE_PORT + 10))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      die "127.0.0.1:$p is already in use by another process (not ours: no live pid in $PIDFILE); set VECTORDR_MILVUS_STANDALONE_PORT / VECTORDR_MILVUS_STANDALONE_INTERNAL_BASE"
    fi
  done
}

# setsid also makes it a process group, so stop can signal anything Milvus may have started as well
# as the pid.
launch() {
  mkdir -p "$RUN/logs"
  setsid "$VENV/bin/python" -c "$LAUNCHER" "$RUN" "$PORT" "$BASE_PORT" </dev/null >>"$LOG" 2>&1 &
}

started() {
  # The launcher exec'ed the binary in place: the pid must now be Milvus itself.
  running_pid >/dev/null || { stop; die "pid $1 is not $BIN after startup ($LOG_HINT)"; }
  say "ready in $((SECONDS - $2)) s"
}

start() { start_service "$STARTUP_S" 0.5 port_healthy; print_vars; }

stop() {
  local pid
  if pid=$(running_pid); then
    # Milvus flushes and closes etcd and RocksMQ on SIGTERM (a few seconds); then its process group.
    stop_running 30
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
}

url() { echo "127.0.0.1:$PORT"; }
print_vars() { echo "MILVUS_STANDALONE_ADDRESS=$(url)"; }

service_main 'start|stop|url|env' "$@"
