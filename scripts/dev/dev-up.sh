#!/usr/bin/env bash
# `make dev-up`: the datastores and the mail sink, ready for `make run` and `make test`.
# With a Docker engine, the compose stack's postgres, redis, rabbitmq and maildev; without one,
# the machine's own servers, started with the commands scripts/dev/check-infra.sh prints (each only
# if its port is closed, so a running server is left alone).
set -euo pipefail
cd "$(dirname "$0")/../.."
if docker info >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  exec docker compose up -d --wait postgres redis rabbitmq maildev
fi
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
start() { # name port command...
  local name=$1 port=$2; shift 2
  up "$port" && { echo "$name: already listening on $port"; return 0; }
  echo "$name: starting"
  "$@" || true
  for _ in $(seq 1 60); do up "$port" && return 0; sleep 1; done
  echo "$name did not come up on port $port" >&2
  return 1
}
start PostgreSQL 5432 bash -c 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start'
start Redis 6379 redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
start RabbitMQ 5672 rabbitmq-server -detached
# RabbitMQ accepts TCP a little before it accepts AMQP sessions; wait until it answers.
for _ in $(seq 1 60); do
  rabbitmq-diagnostics -q check_running >/dev/null 2>&1 && break
  sleep 1
done
scripts/dev/mail-sink.sh
