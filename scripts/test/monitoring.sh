#!/usr/bin/env bash
# `make monitoring-check` (CI): every dashboard panel's query returns data from a real
# Prometheus. Starts the system as `make run` does and a private Prometheus (Debian's package)
# that scrapes the four admin ports every 2 s with the alerting and recording rules loaded,
# fills the system through the API (`make seed-data`) and a short create load (`loadgen`),
# then runs each panel's query (infrastructure/monitoring/panel_queries.py) and fails naming
# every one that returned no series. Also fails if a rule does not evaluate.
set -euo pipefail
cd "$(dirname "$0")/../.."
export GATEWAY_URL=${GATEWAY_URL:-http://127.0.0.1:8080}
# Several sign-ups and sign-ins within a minute from one address (the seed, the load's users,
# the checks' own logins): above the default auth rate limit of 10 a minute.
export RATE_LIMIT_AUTH_PER_MIN=1000 RATE_LIMIT_AUTH_BURST=100
export SEED_EMAIL="monitoring-$(date +%s)@budgetsmart.localhost"
command -v prometheus >/dev/null 2>&1 || { echo "needs Debian's prometheus package (apt-get install -y --no-install-recommends prometheus)" >&2; exit 1; }
cargo build -q -p e2e --bin loadgen
work=$(mktemp -d)
port=${MONITORING_PROMETHEUS_PORT:-19090}
. scripts/dev/system.sh
prometheus_pid=""
cleanup() {
  [ -n "$prometheus_pid" ] && kill "$prometheus_pid" 2>/dev/null && wait "$prometheus_pid" 2>/dev/null
  system_stop
  rm -rf "$work"
}
trap cleanup EXIT
system_start .cache/logs/monitoring-run.log

cat > "$work/prometheus.yml" <<YAML
global:
  scrape_interval: 2s
  evaluation_interval: 2s
rule_files:
  - $PWD/infrastructure/monitoring/prometheus/alerts.yml
scrape_configs:
YAML
for pair in gateway:9100 engine:9101 analytics:9102 notification:9103; do
  printf '  - job_name: %s\n    static_configs:\n      - targets: ["127.0.0.1:%s"]\n' "${pair%%:*}" "${pair##*:}" >> "$work/prometheus.yml"
done
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
  --web.listen-address="127.0.0.1:$port" --log.level=warn > .cache/logs/monitoring-prometheus.log 2>&1 &
prometheus_pid=$!

python3 scripts/dev/seed-data.py >/dev/null
"${CARGO_TARGET_DIR:-target}/debug/loadgen" "$GATEWAY_URL" 4 5 analytics.events notification.events >/dev/null
# Rates need two scrapes, and the queue depths are sampled every 15 s: ask again for up to a
# minute until every panel has data, then once more for the record.
for _ in $(seq 1 30); do
  python3 infrastructure/monitoring/panel_queries.py "http://127.0.0.1:$port" >/dev/null 2>&1 && break
  sleep 2
done
echo "monitoring-check: rules"
python3 - "$port" <<'PY'
import json, sys, urllib.request
groups = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/api/v1/rules"))["data"]["groups"]
bad = [(g["name"], r["name"], r.get("lastError")) for g in groups for r in g["rules"] if r.get("health") != "ok"]
print(f"{sum(len(g['rules']) for g in groups)} rules evaluated" + ("" if not bad else f"; failing: {bad}"))
sys.exit(1 if bad else 0)
PY
echo "monitoring-check: every panel's query"
python3 infrastructure/monitoring/panel_queries.py "http://127.0.0.1:$port"
