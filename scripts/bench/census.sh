#!/usr/bin/env bash
# The statement census of `make bench` (issue 25): every SQL statement a create causes, in
# every service, counted by pg_stat_statements.
#
# The shared PostgreSQL does not preload pg_stat_statements, and a benchmark must not restart
# it, so this starts a private PostgreSQL (initdb into a temporary directory, its own port, the
# extension preloaded) and a private release stack on it. Each service connects as its own
# role, so every statement (BEGIN and COMMIT included) is counted against the service that sent
# it. After registration, the counters are reset; a closed-loop load runs; once the consumers
# have drained it, the counts are divided by the creates answered.
#
# Usage: scripts/bench/census.sh <bin dir> <connections> <seconds>. Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$1 connections=$2 seconds=$3
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
port=${CENSUS_PG_PORT:-25432}
dir=$(mktemp -d /tmp/census-pg.XXXXXX)
chown postgres "$dir" 2>/dev/null || true
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pids=()
cleanup() {
  [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null
  wait 2>/dev/null || true
  as_postgres "$pgbin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

as_postgres "$pgbin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
as_postgres "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/log" -w start -o \
  "-p $port -k $dir -c listen_addresses=127.0.0.1 -c shared_preload_libraries=pg_stat_statements -c max_connections=200" >/dev/null
PG="postgres://postgres@127.0.0.1:$port"
psql -q "$PG/postgres" -c "CREATE DATABASE census"
psql -q "$PG/census" -c "CREATE EXTENSION pg_stat_statements" \
  -c "CREATE ROLE engine SUPERUSER LOGIN" -c "CREATE ROLE analytics SUPERUSER LOGIN" \
  -c "CREATE ROLE notification SUPERUSER LOGIN" -c "CREATE ROLE gateway SUPERUSER LOGIN"

PGSSLMODE=${PGSSLMODE:-disable}
. scripts/bench/release-stack.sh
release_stack_env census census 2
for service in analytics notification engine gateway; do
  DATABASE_URL="postgres://$service@127.0.0.1:$port/census?sslmode=disable" "$bin/$service" & pids+=($!)
done
for _ in $(seq 1 60); do curl -sf http://127.0.0.1:28080/readyz >/dev/null && break; sleep 1; done

counts="$dir/creates"
reset="psql -qAt '$PG/census' -c 'SELECT pg_stat_statements_reset()' -c 'SELECT pg_stat_reset()' >/dev/null"
LOADGEN_ON_START="$reset" LOADGEN_ON_END="echo \$LOADGEN_CREATES > $counts" \
  "$bin/loadgen" http://127.0.0.1:28080 "$connections" "$seconds" census.analytics.events census.notification.events >/dev/null
creates=$(cat "$counts")

psql -qAt -F '|' "$PG/census" -v creates="$creates" <<'SQL' | python3 -c '
import sys
rows = [l.rstrip("\n").split("|", 3) for l in sys.stdin if l.strip()]
per = {}
top = []
commits = None
for kind, role, calls, text in rows:
    if kind == "c":
        commits = float(calls)
        continue
    per[role] = per.get(role, 0.0) + float(calls)
    top.append((float(calls), role, text))
total = sum(per.values())
print("| service | statements per create |")
print("|---|---|")
for role in ("engine", "analytics", "notification", "gateway"):
    print(f"| {role} | {per.get(role, 0.0):.2f} |")
print(f"| **all** | **{total:.2f}** (target: at most 8) |")
if commits is not None:
    print(f"| commits per create (read-only ones included) | {commits:.2f} |")
print()
print("The statements behind them, per create (those at 0.01 or more):")
print()
print("| service | per create | statement |")
print("|---|---|---|")
for calls, role, text in sorted(top, reverse=True):
    if calls >= 0.01:
        short = " ".join(text.split())
        short = short if len(short) <= 110 else short[:107] + "..."
        print(f"| {role} | {calls:.2f} | `{short.replace(chr(124), chr(92) + chr(124))}` |")
'
SELECT 's', r.rolname, round(sum(s.calls)::numeric / :creates, 4), regexp_replace(s.query, '\s+', ' ', 'g')
  FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
  JOIN pg_database d ON d.oid = s.dbid
 WHERE d.datname = 'census' AND r.rolname IN ('engine', 'analytics', 'notification', 'gateway')
   AND s.query NOT LIKE '%pg_stat_statements%' AND s.query NOT LIKE '%pg_stat_reset%'
 GROUP BY r.rolname, s.query;
SELECT 'c', '', round(xact_commit::numeric / :creates, 4), '' FROM pg_stat_database WHERE datname = 'census';
SQL
echo
echo "Creates measured: $creates ($connections connections, ${seconds} s, closed loop, on the private PostgreSQL)."
