# Sourced by the scripts that need the whole system up as `make run` starts it (smoke, the
# backup and restore check, the TypeScript client's example). `system_start LOG` starts
# scripts/dev/run.sh in its own process group and waits until the gateway is ready;
# `system_stop` stops every service it started. Both expect GATEWAY_URL.

system_start() {
  local log=$1
  if curl -s -o /dev/null "$GATEWAY_URL/healthz"; then
    echo "something already answers at $GATEWAY_URL; stop it (a running make run?) first" >&2
    return 1
  fi
  mkdir -p "$(dirname "$log")"
  setsid scripts/dev/run.sh >"$log" 2>&1 &
  SYSTEM_PID=$!
  echo "starting the system (make run; output in $log)"
  for _ in $(seq 1 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$GATEWAY_URL/readyz" || true)" = 200 ] && return 0
    kill -0 "$SYSTEM_PID" 2>/dev/null || { echo "make run exited" >&2; tail -30 "$log" >&2; return 1; }
    sleep 2
  done
  echo "the system never became ready" >&2
  tail -30 "$log" >&2
  return 1
}

system_stop() {
  [ -n "${SYSTEM_PID:-}" ] || return 0
  # run.sh stops its services on TERM; its process group holds them all.
  kill -TERM -- "-$SYSTEM_PID" 2>/dev/null || true
  for _ in $(seq 1 30); do
    kill -0 "$SYSTEM_PID" 2>/dev/null || { SYSTEM_PID=""; return 0; }
    sleep 1
  done
  kill -KILL -- "-$SYSTEM_PID" 2>/dev/null || true
  SYSTEM_PID=""
}
