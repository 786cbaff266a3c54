#!/usr/bin/env bash
# `make monitor`: a Prometheus on this machine scraping the local lensflow API with the repo's
# recording and alert rules. Runs in the foreground; Ctrl-C stops it. Without a prometheus binary,
# points at the Compose stack instead (which also brings Grafana).
#
# Environment: LENSFLOW_HOME (state dir, default ./.lensflow), LENSFLOW_PORT (the API's port, 8000),
# PROMETHEUS_PORT (9090), PROMETHEUS_BIN (/usr/bin/prometheus), SCRAPE_INTERVAL (5s).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
home=${LENSFLOW_HOME:-$repo/.lensflow}
api_port=${LENSFLOW_PORT:-8000}
prom_port=${PROMETHEUS_PORT:-9090}
prometheus=${PROMETHEUS_BIN:-/usr/bin/prometheus}
interval=${SCRAPE_INTERVAL:-5s}

if [[ ! -x $prometheus ]]; then
  cat >&2 <<MSG
monitor: no Prometheus binary at $prometheus.
  Install Debian's package (sudo apt-get install prometheus) and run 'make monitor' again,
  or run the whole stack in Docker with 'make up': Prometheus on http://127.0.0.1:9090 and
  Grafana with the lensflow dashboards on http://127.0.0.1:3000.
MSG
  exit 1
fi

state=$home/prometheus
mkdir -p "$state/data"
config=$state/prometheus.yml
# '|' as the sed delimiter: the values hold slashes and colons, never '|'.
sed -e "s|@SCRAPE_INTERVAL@|$interval|g" \
    -e "s|@SCRAPE_TIMEOUT@|$interval|g" \
    -e "s|@RULES_DIR@|$repo/prometheus/rules|g" \
    -e "s|@API_TARGET@|127.0.0.1:$api_port|g" \
    -e "s|@PROMETHEUS_TARGET@|127.0.0.1:$prom_port|g" \
    "$repo/prometheus/prometheus.local.yml.in" > "$config"

if ! (exec 3<>"/dev/tcp/127.0.0.1/$api_port") 2>/dev/null; then
  echo "monitor: nothing listens on 127.0.0.1:$api_port yet; start the API ('make serve' or 'make run')." >&2
  echo "monitor: Prometheus starts anyway and shows the target down until it does." >&2
fi

ui=http://127.0.0.1:$prom_port
cat <<MSG
monitor: Prometheus $("$prometheus" --version 2>&1 | head -n1 | awk '{print $3}') scraping http://127.0.0.1:$api_port/metrics every $interval
  config    $config
  data      $state/data
  targets   $ui/targets
  alerts    $ui/alerts
  rules     $ui/rules
  graph     $ui/graph?g0.expr=job_route%3Alensflow_http_requests%3Arate1m
  Grafana dashboards need the Compose stack ('make up'); docs/monitoring.md explains each metric and alert.
  Ctrl-C stops Prometheus.
MSG

exec "$prometheus" \
  --config.file="$config" \
  --storage.tsdb.path="$state/data" \
  --storage.tsdb.retention.time=7d \
  --web.listen-address="127.0.0.1:$prom_port" \
  --log.level=warn
