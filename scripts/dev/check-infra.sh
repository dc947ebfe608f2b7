#!/usr/bin/env bash
# Checks that PostgreSQL, Redis and RabbitMQ answer on their ports; says how to start any that
# does not. Used by `make run` and `make test`.
set -u
host_port() { # URL default-port -> "host port"
  local rest=${1#*://}; rest=${rest#*@}; rest=${rest%%/*}
  local host=${rest%%:*} port=${rest##*:}
  [ "$port" = "$rest" ] && port=$2
  echo "$host $port"
}
check() { # name url default-port how-to-start
  read -r host port < <(host_port "$2" "$3")
  if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
    return 0
  fi
  echo "error: $1 is not reachable at $host:$port." >&2
  echo "       Start it with: $4" >&2
  echo "       (or, from the repository root: docker compose up -d $5)" >&2
  return 1
}
ok=0
check PostgreSQL "${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/budgetsmart}" 5432 \
  'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start' postgres || ok=1
check Redis "${REDIS_URL:-redis://127.0.0.1:6379}" 6379 \
  'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no' redis || ok=1
check RabbitMQ "${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}" 5672 'rabbitmq-server -detached' rabbitmq || ok=1
exit $ok
