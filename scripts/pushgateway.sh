#!/usr/bin/env bash
# Starts/stops a Prometheus Pushgateway (Debian's prometheus-pushgateway package, unpacked without
# root into ${VECTORDR_CACHE:-~/.cache/vectordr}/pushgateway-<version>/) for the metrics tests
# (test/metrics/), on 127.0.0.1:54390, its pid and log in the git-ignored .cache/pushgateway folder.
# Metrics are kept in memory only (no --persistence.file): every start is empty.
#
#   scripts/pushgateway.sh start   # prints VECTORDR_PUSHGATEWAY_URL=http://127.0.0.1:54390 on success
#   scripts/pushgateway.sh stop
#   scripts/pushgateway.sh url
#   scripts/pushgateway.sh env     # export lines, for eval "$(scripts/pushgateway.sh env)"
#   scripts/pushgateway.sh bin     # installs (if needed) and prints the binary's path
#
# The API the tests use (https://github.com/prometheus/pushgateway#api):
#   curl -sf -X PUT --data-binary @metrics.prom $URL/metrics/job/vectordr/collection/docs   # replace the group
#   curl -sf $URL/api/v1/metrics                                                          # every group, as JSON
#   curl -sf -X DELETE $URL/metrics/job/vectordr/collection/docs                          # delete the group
set -euo pipefail

PUSHGATEWAY_VERSION=1.5.1-2+b5 # Debian 12 (bookworm)
PORT=${VECTORDR_PUSHGATEWAY_PORT:-54390}
# shellcheck source=scripts/service-lib.sh
. "$(dirname "$0")/service-lib.sh"
service_init pushgateway pushgateway
TOOL="$CACHE/pushgateway-$PUSHGATEWAY_VERSION"
BIN="$TOOL/usr/bin/prometheus-pushgateway"
NAME=pushgateway

install() { deb_install "$TOOL" usr/bin/prometheus-pushgateway prometheus-pushgateway "$PUSHGATEWAY_VERSION"; }

launch() {
  setsid "$BIN" --web.listen-address="127.0.0.1:$PORT" </dev/null >>"$LOG" 2>&1 &
}

start() { start_service 30 0.05 http_ok "$(url)/-/ready"; print_vars; }
stop() { stop_running 10; }
url() { echo "http://127.0.0.1:$PORT"; }
print_vars() { echo "VECTORDR_PUSHGATEWAY_URL=$(url)"; }
print_bin() { echo "$BIN"; }

service_main 'start|stop|url|env|bin' "$@"
