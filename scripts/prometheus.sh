#!/usr/bin/env bash
# Starts/stops a Prometheus server (Debian's prometheus package, unpacked without root into
# ${VECTORDR_CACHE:-~/.cache/vectordr}/prometheus-<version>/) for the metrics tests (test/metrics/),
# on 127.0.0.1:54391, with its TSDB, config, pid and log in the git-ignored .cache/prometheus folder.
# It scrapes the Pushgateway of scripts/pushgateway.sh (127.0.0.1:54390, honor_labels) every second
# and evaluates the example alert rules (examples/prometheus/vectordr-backup.rules.yml) every second.
# The package also brings promtool (`promtool check rules`, `promtool test rules`, `promtool check metrics`).
# Every start begins with an empty TSDB.
#
#   scripts/prometheus.sh start   # prints VECTORDR_PROMETHEUS_URL=http://127.0.0.1:54391 and VECTORDR_PROMTOOL=<path>
#   scripts/prometheus.sh stop
#   scripts/prometheus.sh url
#   scripts/prometheus.sh env     # export lines, for eval "$(scripts/prometheus.sh env)"
#   scripts/prometheus.sh bin     # installs (if needed) and prints the folder holding prometheus and promtool
#
#   curl -s "$URL/api/v1/query?query=vectordr_backup_last_successful_timestamp"   # what it scraped
#   curl -s "$URL/api/v1/rules" ; curl -s "$URL/api/v1/alerts"                     # the rules, their alerts
set -euo pipefail

PROMETHEUS_VERSION=2.42.0+ds-5+deb12u1 # Debian 12 (bookworm)
PORT=${VECTORDR_PROMETHEUS_PORT:-54391}
PUSHGATEWAY_PORT=${VECTORDR_PUSHGATEWAY_PORT:-54390}
# shellcheck source=scripts/service-lib.sh
. "$(dirname "$0")/service-lib.sh"
service_init prometheus prometheus
TOOL="$CACHE/prometheus-$PROMETHEUS_VERSION"
BIN="$TOOL/usr/bin/prometheus"
NAME=prometheus

install() { deb_install "$TOOL" usr/bin/prometheus prometheus "$PROMETHEUS_VERSION"; }

launch() {
  rm -rf "$DATA"
  mkdir -p "$DATA"
  cat >"$RUN/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $ROOT/examples/prometheus/vectordr-backup.rules.yml
scrape_configs:
  - job_name: pushgateway
    honor_labels: true
    static_configs:
      - targets: ['127.0.0.1:$PUSHGATEWAY_PORT']
YAML
  setsid "$BIN" --config.file="$RUN/prometheus.yml" --storage.tsdb.path="$DATA" --storage.tsdb.retention.time=1d \
    --web.listen-address="127.0.0.1:$PORT" </dev/null >>"$LOG" 2>&1 &
}

start() { start_service 60 0.1 http_ok "$(url)/-/ready"; print_vars; }
stop() { stop_running 15; }
url() { echo "http://127.0.0.1:$PORT"; }
print_vars() {
  echo "VECTORDR_PROMETHEUS_URL=$(url)"
  echo "VECTORDR_PROMTOOL=$TOOL/usr/bin/promtool"
}
print_bin() { echo "$TOOL/usr/bin"; }

service_main 'start|stop|url|env|bin' "$@"
