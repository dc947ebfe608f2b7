#!/usr/bin/env bash
# Checks the monitoring files; meant to run from scripts/lint/lint-deploy.sh (make lint-deploy)
# after the lint venv exists:
#   infrastructure/monitoring/check.sh
# Needs promtool: Debian's `prometheus` package. Install it without its recommended node
# exporter, which would take port 9100 (the gateway's admin port) on a host running systemd:
#   apt-get install -y --no-install-recommends prometheus
# PyYAML and check-jsonschema come from the lint venv (LINT_VENV, default .cache/lint-venv).
set -euo pipefail
cd "$(dirname "$0")/../.."
m=infrastructure/monitoring
venv=${LINT_VENV:-.cache/lint-venv}
python=python3
[ -x "$venv/bin/python" ] && python="$venv/bin/python"
check_jsonschema=check-jsonschema
[ -x "$venv/bin/check-jsonschema" ] && check_jsonschema="$venv/bin/check-jsonschema"
command -v promtool >/dev/null 2>&1 || {
  echo "promtool not found: apt-get install -y --no-install-recommends prometheus" >&2
  exit 1
}

echo "== promtool check config"
promtool check config "$m/prometheus/prometheus.yml"
echo "== promtool check rules"
promtool check rules "$m/prometheus/alerts.yml"
echo "== promtool test rules"
promtool test rules "$m/prometheus/alerts_test.yml"
echo "== PrometheusRule generated from alerts.yml"
"$python" "$m/render_prometheusrule.py" --check
echo "== alerts tested both ways, runbook sections, dashboard layout"
"$python" "$m/check_monitoring.py"
echo "== dashboards against $m/grafana/dashboard.schema.json"
"$check_jsonschema" --schemafile "$m/grafana/dashboard.schema.json" "$m"/grafana/dashboards/*.json
