# Sourced by scripts/bench/bench.sh and scripts/bench/soak.sh: the environment of a private release stack.
# `release_stack_env <name> <database> <digit>` points all four services at their own database,
# exchange, queue and Redis prefix `<name>`, on ports <digit>8080 (gateway), <digit>505x (gRPC)
# and <digit>910x (admin), so a run never meets `make run` or another run. Limits stay on (their
# cost is part of what is measured) but high enough never to refuse a load from one address.
release_stack_env() {
  local name=$1 db=$2 d=$3
  export APP_ENV=development DATABASE_URL="$PG/$db?sslmode=$PGSSLMODE" RUST_LOG=warn
  export EVENTS_EXCHANGE=$name.events EVENTS_DLX=$name.dlx EVENTS_QUEUE_PREFIX=$name. REDIS_KEY_PREFIX="$name:$(date +%s):"
  export ENGINE_GRPC_ADDR=127.0.0.1:${d}5051 ANALYTICS_GRPC_ADDR=127.0.0.1:${d}5052 NOTIFICATION_GRPC_ADDR=127.0.0.1:${d}5053
  export GATEWAY_ADMIN_ADDR=127.0.0.1:${d}9100 ENGINE_ADMIN_ADDR=127.0.0.1:${d}9101 ANALYTICS_ADMIN_ADDR=127.0.0.1:${d}9102 NOTIFICATION_ADMIN_ADDR=127.0.0.1:${d}9103
  export GATEWAY_ADDR=127.0.0.1:${d}8080 ENGINE_URL=http://127.0.0.1:${d}5051 ANALYTICS_URL=http://127.0.0.1:${d}5052 NOTIFICATION_URL=http://127.0.0.1:${d}5053
  export DATABASE_MAX_CONNECTIONS=32 LOGIN_MAX_FAILURES_PER_IP=100000
  export RATE_LIMIT_AUTH_PER_MIN=1000000 RATE_LIMIT_AUTH_BURST=100000 RATE_LIMIT_USER_PER_MIN=1000000 RATE_LIMIT_USER_BURST=100000
}

# Resident memory of process `$1` in MB (0 once it is gone).
rss_mb() { awk '/^VmRSS:/ {printf "%d", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo 0; }
