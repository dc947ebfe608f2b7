#!/usr/bin/env bash
# `make restore FILE=<dump>`: replaces the database with a dump from `make backup` (or the
# CronJob). Destructive by design, so it refuses while anything else is connected to the
# database (stop `make run` or scale the services to zero first) and checks the dump's .sha256
# when there is one. The database is dropped, created empty, and filled by pg_restore, which
# stops at the first error. Start the services afterwards: their migrations find the schema
# at the dump's version and apply only what is newer.
set -euo pipefail
cd "$(dirname "$0")/../.."
file=${1:-${FILE:-}}
[ -n "$file" ] && [ -f "$file" ] || { echo "usage: make restore FILE=<a .dump from make backup>" >&2; exit 2; }
. scripts/ops/database-url.sh
if [ -f "$file.sha256" ]; then
  (cd "$(dirname "$file")" && sha256sum --quiet --check "$(basename "$file").sha256")
fi
pg_restore --list "$file" >/dev/null  # a readable archive before anything is dropped
# psql interpolates :'db' in its input, not in -c.
others=$(echo "SELECT count(*) FROM pg_stat_activity WHERE datname = :'db' AND pid <> pg_backend_pid()" \
  | psql -X -tA --dbname "$MAINTENANCE_URL" -v db="$DATABASE_NAME")
if [ "$others" != 0 ]; then
  echo "restore: $others other connection(s) to $DATABASE_NAME; stop the services first" >&2
  exit 1
fi
started=$(date +%s.%N)
printf '%s\n' 'DROP DATABASE IF EXISTS :"db";' 'CREATE DATABASE :"db";' \
  | psql -X -q --dbname "$MAINTENANCE_URL" -v ON_ERROR_STOP=1 -v db="$DATABASE_NAME"
pg_restore --exit-on-error --no-owner --no-privileges --dbname "$DATABASE_URL" "$file"
echo "restored $file into $DATABASE_NAME in $(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$started" "$(date +%s.%N)") s"
