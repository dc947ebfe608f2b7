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

. scripts/dev/system.sh
trap system_stop EXIT
system_start .cache/logs/smoke-run.log

python3 scripts/dev/seed-data.py
python3 scripts/test/smoke.py
