#!/usr/bin/env bash
# `make smoke`: what a newcomer does, scripted. Starts the system as `make run` does, seeds a
# fresh demo user with `make seed-data`, and checks through the gateway that the forecast,
# anomalies, subscriptions, model comparison and monthly summary email are all there
# (scripts/test/smoke.py). Stops the system afterwards, whatever happened.
set -euo pipefail
cd "$(dirname "$0")/../.."
export GATEWAY_URL="${GATEWAY_URL:-http://127.0.0.1:8080}"
# A user of its own, so a database kept from earlier runs does not matter.
export SEED_EMAIL="${SEED_EMAIL:-smoke-$(date +%s)@budgetsmart.localhost}"

if curl -s -o /dev/null "$GATEWAY_URL/healthz"; then
  echo "smoke: something already answers at $GATEWAY_URL; stop it (a running make run?) first" >&2
  exit 1
fi
log=.cache/logs/smoke-run.log
mkdir -p .cache/logs
setsid scripts/dev/run.sh >"$log" 2>&1 &
run=$!
stop() {
  # run.sh stops its services on TERM; its process group holds them all.
  kill -TERM -- "-$run" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 "$run" 2>/dev/null || return 0; sleep 1; done
  kill -KILL -- "-$run" 2>/dev/null || true
}
trap stop EXIT

echo "smoke: starting the system (make run; output in $log)"
for _ in $(seq 1 300); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$GATEWAY_URL/readyz" || true)" = 200 ] && break
  kill -0 "$run" 2>/dev/null || { echo "smoke: make run exited" >&2; tail -30 "$log" >&2; exit 1; }
  sleep 2
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "$GATEWAY_URL/readyz")" = 200 ] || { echo "smoke: never ready" >&2; tail -30 "$log" >&2; exit 1; }

python3 scripts/dev/seed-data.py
python3 scripts/test/smoke.py
