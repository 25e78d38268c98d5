#!/usr/bin/env bash
# Installs the Python readers that test/format/foreign-readers.test.ts checks segments against:
# pyarrow and DuckDB, pinned, from PyPI, into a cached venv (no server to start).
#
#   scripts/python-readers.sh env      # export VECTORDR_PYREADERS_PYTHON=<venv>/bin/python (installs first)
#   scripts/python-readers.sh bin      # installs, prints the venv's python
#
# The venv is ${VECTORDR_CACHE:-~/.cache/vectordr}/pyreaders-pyarrow<v>-duckdb<v>; the first run
# takes ~30 s (two binary wheels), later runs reuse it.
set -euo pipefail

PYARROW_VERSION=26.0.1
DUCKDB_VERSION=2.0.0
# shellcheck source=scripts/service-lib.sh
. "$(dirname "$0")/service-lib.sh"
service_init pyreaders
VENV="$CACHE/pyreaders-pyarrow$PYARROW_VERSION-duckdb$DUCKDB_VERSION"
BIN="$VENV/bin/python"
NAME="Python segment readers"

installed() {
  [ -x "$BIN" ] && "$BIN" - "$PYARROW_VERSION" "$DUCKDB_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if (version("pyarrow"), version("duckdb")) == tuple(sys.argv[1:3]) else 1)
PY
}

install() {
  venv_install "$VENV" "~30 s" "pyarrow==$PYARROW_VERSION" "duckdb==$DUCKDB_VERSION"
}

print_vars() { echo "VECTORDR_PYREADERS_PYTHON=$BIN"; }
print_bin() { echo "$BIN"; }

case "${1:-}" in
  env)
    install
    echo "export $(print_vars)"
    ;;
  bin)
    install
    print_bin
    ;;
  *)
    echo "usage: $0 env|bin" >&2
    exit 2
    ;;
esac
