#!/usr/bin/env bash
# `make run`: build and start all four services in this terminal. Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/dev/check-infra.sh
# A real SMTP server with a web inbox, so the emails can be seen (it keeps running after Ctrl-C).
scripts/dev/mail-sink.sh
cargo build --bins -p engine -p analytics -p notification -p gateway
bin="${CARGO_TARGET_DIR:-target}/debug"
# The ECB reference rates the repository ships (Nov 2025 to Apr 2026), so foreign-currency
# transactions of those days convert out of the box. Set RATES_URL for today's rates.
"$bin/engine" rates import data/rates/eurofxref-hist.csv
pids=()
stop() {
  trap - INT TERM EXIT
  [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  echo "all services stopped"
}
trap stop INT TERM EXIT
# Consumers first: they declare their queues at start, so no event published later is dropped.
# Each service's output also goes to .cache/logs/<service>.log, for `make logs`.
mkdir -p .cache/logs
for service in analytics notification engine gateway; do
  "$bin/$service" > >(tee -a ".cache/logs/$service.log") 2>&1 &
  pids+=($!)
done
echo "BudgetSmart is starting: gateway on http://127.0.0.1:8080, email inbox on http://127.0.0.1:1080 (Ctrl-C stops everything)"
# If any service exits, stop the rest rather than run half a system.
wait -n "${pids[@]}" || true
