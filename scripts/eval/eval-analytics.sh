#!/usr/bin/env bash
# `make eval-analytics`: runs `forecast-eval` (the service's model selection) on the public and
# synthetic monthly series in analytics/eval/data, compares with statsforecast's AutoETS,
# AutoTheta and AutoARIMA on the same splits when Python can install it, runs `behaviour-eval`
# (anomalies, recurring payments, categorisation) on synthetic labelled transactions and
# `household-eval` (forecasts by parts, recurring kinds, categories on new merchants) on
# labelled households, and writes docs/analytics.md.
#
# The public CSVs are committed, so only EVAL_REFRESH_DATA=1 re-exports them from statsmodels and
# sktime (into a virtualenv under .cache/). EVAL_STATSFORECAST=0 skips the Python comparison.
set -euo pipefail
cd "$(dirname "$0")/../.."

DATA=analytics/eval/data
VENV=${EVAL_VENV:-.cache/eval-venv}
OUT=docs/analytics.md
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

venv() {
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/python" -c "import $1" 2>/dev/null || "$VENV/bin/pip" install -q "$2"
}

if [ "${EVAL_REFRESH_DATA:-0}" = 1 ] || ! ls "$DATA"/public/*.csv >/dev/null 2>&1; then
  venv statsmodels statsmodels
  venv sktime sktime
  "$VENV/bin/python" scripts/eval/export_datasets.py "$DATA/public" >/dev/null
fi
python3 scripts/eval/synthetic.py "$DATA/synthetic" >/dev/null
python3 scripts/eval/transactions.py "$DATA/transactions" >/dev/null
python3 scripts/eval/households.py "$DATA/households" >/dev/null

cargo build --release -p analytics --bin forecast-eval --bin behaviour-eval --bin household-eval
bin="${CARGO_TARGET_DIR:-target}/release/forecast-eval"
for set in public synthetic; do
  echo "== forecast-eval on $set series"
  "$bin" "$DATA/$set"/*.csv > "$results/$set.jsonl"
done

echo "== behaviour-eval on synthetic transactions"
"${CARGO_TARGET_DIR:-target}/release/behaviour-eval" "$DATA/transactions/transactions.csv" \
  "$DATA/transactions/subscriptions.csv" > "$results/behaviour.json"

echo "== household-eval on labelled households"
"${CARGO_TARGET_DIR:-target}/release/household-eval" "$DATA/households/households.csv" > "$results/households.json"

if [ "${EVAL_STATSFORECAST:-1}" = 1 ] && venv statsforecast statsforecast; then
  for set in public synthetic; do
    echo "== statsforecast AutoETS, AutoTheta and AutoARIMA on $set series"
    "$VENV/bin/python" scripts/eval/statsforecast_baseline.py "$DATA/$set"/*.csv > "$results/${set}_statsforecast.jsonl" || true
  done
fi

python3 scripts/eval/report.py "$results" "make eval-analytics" > "$OUT"
echo "wrote $OUT"
grep -E '^\*\*' "$OUT"
