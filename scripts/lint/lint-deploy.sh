#!/usr/bin/env bash
# `make lint-deploy`: the deployment files checked without a Docker engine or a cluster.
# hadolint on the Dockerfile, the Compose specification's schema on docker-compose.yml, every
# kustomize overlay rendered and validated (strict) against the Kubernetes 1.37 schemas, and
# .env.example against the variables the code reads, and the monitoring files (promtool on the
# alerting rules and their unit tests, dashboards against their schema). Tools come from PyPI
# into a venv, promtool from Debian's prometheus package.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${LINT_VENV:-.cache/lint-venv}
requirements=scripts/lint/lint-deploy-requirements.txt
if ! cmp -s "$requirements" "$VENV/.requirements" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$VENV/.requirements"
fi
bin="$VENV/bin"

echo "== hadolint infrastructure/Dockerfile"
"$bin/hadolint" --failure-threshold warning infrastructure/Dockerfile
echo "== docker-compose.yml against the Compose specification"
"$bin/check-jsonschema" --builtin-schema vendor.compose-spec docker-compose.yml
echo "== .github/workflows against the GitHub Actions schema"
"$bin/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/*.yml
rendered=$(mktemp -d)
trap 'rm -rf "$rendered"' EXIT
for overlay in infrastructure/kubernetes/overlays/*/; do
  name=$(basename "$overlay")
  echo "== kustomize overlay $name, validated against Kubernetes 1.37 (strict)"
  "$bin/kubectl" kustomize "$overlay" > "$rendered/$name.yaml"
  "$bin/kubernetes-validate" --strict --quiet -k 1.37.0 "$rendered/$name.yaml"
  echo "$(grep -c '^kind:' "$rendered/$name.yaml") objects valid"
done
echo "== .env.example against the code"
python3 scripts/lint/check-env-example.py
echo "== monitoring: promtool (config, rules, rule unit tests), the PrometheusRule, dashboards"
LINT_VENV="$VENV" infrastructure/monitoring/check.sh
