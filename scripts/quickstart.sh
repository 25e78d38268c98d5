#!/usr/bin/env bash
# One command on a fresh machine: install dependencies if needed, then run the embedded quickstart
# (PGlite + pgvector, local repository: snapshot, simulated disaster, restore, verify).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/tsx ]; then
  npm install --no-audit --no-fund --loglevel=error
fi
exec node_modules/.bin/tsx examples/quickstart.ts
