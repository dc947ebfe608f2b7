#!/usr/bin/env bash
# `make client-example` (CI): the TypeScript client (clients/typescript) against the running
# system. Starts the system as `make run` does, generates the client's types from the
# gateway's /openapi.json, compiles the client and its example with tsc (a path, parameter or
# field the API no longer has is a compile error), and runs the example: register, log in,
# create a budget and a transaction, read the forecast. So a change to the API that breaks the
# client breaks the build.
set -euo pipefail
cd "$(dirname "$0")/../.."
export GATEWAY_URL=${GATEWAY_URL:-http://127.0.0.1:8080}
. scripts/dev/system.sh
trap system_stop EXIT
system_start .cache/logs/client-example-run.log
cd clients/typescript
npm ci --no-audit --no-fund --loglevel=error
BUDGETSMART_OPENAPI="$GATEWAY_URL/openapi.json" npm run --silent generate
npm run --silent build
npm run --silent example
