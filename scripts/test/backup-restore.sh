#!/usr/bin/env bash
# `make backup-check` (CI): backups that restore. On a database of its own, it starts the system
# as `make run` does, fills it through the API (`make seed-data`: 18 months of a household),
# waits until everything has settled, and reads every answer the user can GET. Then `make
# backup` while the system runs, stop the system, digest every row of every table, `make
# restore` (drop the database, restore the dump), digest every row again, start the system
# on an empty Redis, and read every answer again. Any row or answer that differs fails it.
# It prints how long the restore and the start took: the recovery time in docs/operations.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
export GATEWAY_URL=${GATEWAY_URL:-http://127.0.0.1:8080}
export DATABASE_URL=postgres://postgres@127.0.0.1:5432/budgetsmart_backup_check
# Several sign-ups and sign-ins within a minute from one address (the seed and the check's own
# logins): above the default auth rate limit's burst of 5.
export RATE_LIMIT_AUTH_PER_MIN=1000 RATE_LIMIT_AUTH_BURST=100
export SEED_EMAIL="backup-check-$(date +%s)@budgetsmart.localhost" SEED_PASSWORD="backup-check-$(date +%s)-pw"
# Its own exchange and queues, so no event of another run reaches this database.
export EVENTS_EXCHANGE=backupcheck.events EVENTS_DLX=backupcheck.dlx EVENTS_QUEUE_PREFIX=backupcheck.
work=$(mktemp -d)
export BACKUP_DIR=$work
. scripts/dev/system.sh
trap 'system_stop; rm -rf "$work"' EXIT

. scripts/ops/database-url.sh
printf '%s\n' 'DROP DATABASE IF EXISTS :"db" WITH (FORCE);' 'CREATE DATABASE :"db";' \
  | psql -X -q --dbname "$MAINTENANCE_URL" -v ON_ERROR_STOP=1 -v db="$DATABASE_NAME"

export REDIS_KEY_PREFIX="backupcheck-$(date +%s)-before:"
system_start .cache/logs/backup-check-before.log
python3 scripts/dev/seed-data.py >/dev/null
python3 scripts/test/snapshot.py quiet
python3 scripts/test/snapshot.py answers > "$work/answers-before.json"
# Reading them logged in (a session row); settle again, so the dump and the rows agree.
python3 scripts/test/snapshot.py quiet
dump=$(scripts/ops/backup.sh)
system_stop
python3 scripts/test/snapshot.py rows > "$work/rows-before.json"
echo "backup-check: $(du -h "$dump" | cut -f1) dump of $(python3 -c 'import json,sys; print(sum(v[0] for v in json.load(open(sys.argv[1])).values()))' "$work/rows-before.json") rows"

started=$(date +%s.%N)
scripts/ops/restore.sh "$dump"
restored=$(date +%s.%N)
python3 scripts/test/snapshot.py rows > "$work/rows-after.json"
echo "backup-check: every row"
python3 scripts/test/snapshot.py compare "$work/rows-before.json" "$work/rows-after.json"

# An empty Redis (a new key prefix): every answer comes from the restored database.
export REDIS_KEY_PREFIX="backupcheck-$(date +%s)-after:"
ready_from=$(date +%s.%N)
system_start .cache/logs/backup-check-after.log
ready=$(date +%s.%N)
python3 scripts/test/snapshot.py answers > "$work/answers-after.json"
echo "backup-check: every answer"
python3 scripts/test/snapshot.py compare "$work/answers-before.json" "$work/answers-after.json"
python3 -c 'import sys; a = [float(x) for x in sys.argv[1:]]; print(f"backup-check: restore {a[1] - a[0]:.1f} s, then the system ready in {a[3] - a[2]:.1f} s")' \
  "$started" "$restored" "$ready_from" "$ready"
