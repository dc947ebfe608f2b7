#!/usr/bin/env bash
# `make dev-down`: stops what `make dev-up` started in Docker. Servers installed on the machine
# itself are shared with everything else on it, so they are left running, and this says so.
set -euo pipefail
cd "$(dirname "$0")/../.."
if docker info >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  exec docker compose down
fi
echo "no Docker engine: PostgreSQL, Redis and RabbitMQ are this machine's own servers and stay up."
echo "Stop them yourself if you must: pg_ctlcluster <version> main stop; redis-cli shutdown; rabbitmqctl stop"
