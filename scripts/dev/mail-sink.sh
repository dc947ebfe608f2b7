#!/usr/bin/env bash
# Makes sure an SMTP sink with a web inbox listens locally (maildev: SMTP on SMTP_PORT, default
# 1025; inbox on MAILDEV_WEB_PORT, default 1080). Leaves any server already on the SMTP port
# alone, so a real relay or a sink you started yourself wins. Used by `make run` and `make test`.
set -euo pipefail
cd "$(dirname "$0")/mail-sink"
smtp_port=${SMTP_PORT:-1025}
web_port=${MAILDEV_WEB_PORT:-1080}
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if listening "$smtp_port"; then
  exit 0
fi
if ! command -v node >/dev/null 2>&1; then
  echo "error: nothing listens for SMTP on 127.0.0.1:$smtp_port and Node.js is not installed." >&2
  echo "       Install Node.js 20+ (for maildev), or point SMTP_HOST/SMTP_PORT at a server." >&2
  exit 1
fi
if [ ! -x node_modules/.bin/maildev ]; then
  echo "mail sink: installing maildev (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
log_dir="../../../.dev"
mkdir -p "$log_dir"
# setsid: the sink outlives the shell that started it, so `make test` can reuse it next time.
setsid node_modules/.bin/maildev --ip 127.0.0.1 --web-ip 127.0.0.1 -s "$smtp_port" -w "$web_port" \
  >"$log_dir/maildev.log" 2>&1 < /dev/null &
for _ in $(seq 1 50); do
  if listening "$smtp_port" && listening "$web_port"; then
    echo "mail sink: maildev on smtp://127.0.0.1:$smtp_port, inbox at http://127.0.0.1:$web_port/"
    exit 0
  fi
  sleep 0.2
done
echo "error: maildev did not start; see .dev/maildev.log" >&2
exit 1
