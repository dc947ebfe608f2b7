#!/usr/bin/env bash
# `make soak`: ten minutes of sustained load on release builds of all four services, sampling
# each service's resident memory (VmRSS) every SOAK_SAMPLE seconds. The load is open-loop
# creates at SOAK_RATE per second plus SOAK_LOGIN_CLIENTS clients logging in back to back and
# registering a new account every tenth login, so argon2id runs the whole time. Before it, the
# warm-up the engine's growth was first seen with: the load's registrations and a 700-row
# import. Writes the series to .cache/soak/rss.csv and a section into docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/dev/check-infra.sh
scripts/dev/mail-sink.sh

SECONDS_RUN=${SOAK_SECONDS:-600}
SAMPLE=${SOAK_SAMPLE:-15}
RATE=${SOAK_RATE:-200}
LOGIN_CLIENTS=${SOAK_LOGIN_CLIENTS:-4}
PG=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
export PGSSLMODE=${PGSSLMODE:-disable}
DB=budgetsmart_soak
OUT=docs/benchmarks.md
dir=.cache/soak
mkdir -p "$dir"

cargo build --release -p engine -p analytics -p notification -p gateway -p e2e --bins
bin="${CARGO_TARGET_DIR:-target}/release"

psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
. scripts/bench/release-stack.sh
release_stack_env soak "$DB" 3

services=(gateway engine analytics notification)
pids=()
cleanup() { [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
for service in analytics notification engine gateway; do
  "$bin/$service" >"$dir/$service.log" 2>&1 & pids+=($!)
done
declare -A pid_of=([analytics]=${pids[0]} [notification]=${pids[1]} [engine]=${pids[2]} [gateway]=${pids[3]})
for _ in $(seq 1 60); do curl -sf http://127.0.0.1:38080/readyz >/dev/null && break; sleep 1; done

rss() { awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }  # one decimal, for the table
sample() { # label
  local row="$1"
  for s in "${services[@]}"; do row+=",$(rss "${pid_of[$s]}")"; done
  echo "$row" >>"$dir/rss.csv"
}
echo "elapsed_s,gateway_mb,engine_mb,analytics_mb,notification_mb" >"$dir/rss.csv"
sample idle

# Warm-up: a few dozen registrations (one user per load connection below) and a 700-row import.
api=http://127.0.0.1:38080/api/v1
email="soak-import-$(date +%s%N)@example.com"
curl -sf -X POST "$api/auth/register" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"benchmark passphrase\",\"name\":\"Soak\"}" >/dev/null
token=$(curl -sf -X POST "$api/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"benchmark passphrase\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
python3 - >"$dir/import.csv" <<'PY'
import datetime, random
random.seed(7)
print("date,description,amount,currency")
start = datetime.date.today() - datetime.timedelta(days=700)
for i in range(700):
    day = start + datetime.timedelta(days=i)
    print(f"{day},Store {random.randint(1, 40)},-{random.randint(100, 20000) / 100:.2f},USD")
PY
imported=$(curl -sf -X POST "$api/transactions/import" -H "authorization: Bearer $token" \
  -H 'content-type: text/csv' --data-binary @"$dir/import.csv")
echo "import: $imported"

echo "== soak: ${RATE} creates/s open loop and $LOGIN_CLIENTS login clients for ${SECONDS_RUN}s"
LOADGEN_RATE=$RATE LOADGEN_LOGIN_CLIENTS=$LOGIN_CLIENTS "$bin/loadgen" http://127.0.0.1:38080 64 "$SECONDS_RUN" \
  soak.analytics.events soak.notification.events >"$dir/load.md" 2>"$dir/loadgen.log" &
load=$!
started=$(date +%s)
while kill -0 "$load" 2>/dev/null; do
  sample "$(( $(date +%s) - started ))"
  sleep "$SAMPLE"
done
wait "$load"
sample "$(( $(date +%s) - started ))"
cat "$dir/load.md"
for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || { echo "soak: service pid $pid exited" >&2; exit 1; }; done

# Start is the first sample after a minute of load, when pools, caches and the password-hashing
# slots have filled; the table also shows idle and the first minute, where the growth happens.
report=$(python3 - "$dir/rss.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
names = ["gateway", "engine", "analytics", "notification"]
idle = rows[0]
load = [r for r in rows[1:]]
start = next((r for r in load if int(r["elapsed_s"]) >= 60), load[0])
end = load[-1]
print("| service | idle | after the warm-up import | peak in the first minute | at 1 min (start) | at end | end vs start | max after start |")
print("|---|---|---|---|---|---|---|---|")
worst = 0.0
for n in names:
    key = f"{n}_mb"
    first_minute = max(float(r[key]) for r in load if int(r["elapsed_s"]) < 60) if any(int(r["elapsed_s"]) < 60 for r in load) else float(start[key])
    after = [float(r[key]) for r in load if int(r["elapsed_s"]) >= int(start["elapsed_s"])]
    s, e = float(start[key]), float(end[key])
    change = (e - s) / s * 100
    worst = max(worst, abs(change))
    print(f"| {n} | {float(idle[key]):.1f} MB | {float(load[0][key]):.1f} MB | {first_minute:.1f} MB | {s:.1f} MB | {e:.1f} MB | {change:+.1f} % | {max(after):.1f} MB |")
print()
print(f"Largest change between the start and the end: {worst:.1f} % (target: within 10 %).")
PY
)
echo "$report"

section=$(cat <<EOF
## Memory under sustained load

Produced by \`make soak\` (scripts/bench/soak.sh) on $(date -u +%Y-%m-%d): release builds, ${SECONDS_RUN} s of
${RATE} creates/s (open loop) through the gateway and ${LOGIN_CLIENTS} clients logging in back to back,
each registering a new account every tenth login, after a warm-up of 64 registrations and a
700-row import. VmRSS sampled every ${SAMPLE} s (series: \`.cache/soak/rss.csv\`).

$report

The load itself:

$(cat "$dir/load.md")

The engine's memory is bounded by design: at most \`PASSWORD_HASH_SLOTS\` (2) argon2id hashes run
at once, each in a 19 MiB buffer kept for reuse (\`engine/src/users/passwords.rs\`), so hashing adds at
most 38 MiB however many logins arrive; a login that cannot get a slot within
\`PASSWORD_HASH_WAIT_MS\` is answered 429 with \`Retry-After\`.
EOF
)
# Replace the section if an earlier soak wrote one; benchmarks.md's other sections are bench's.
python3 - "$OUT" "$section" <<'PY'
import sys
path, section = sys.argv[1], sys.argv[2]
text = open(path).read()
marker = "## Memory under sustained load"
if marker in text:
    head, rest = text.split(marker, 1)
    tail = rest.split("\n## ", 1)
    text = head + section + ("\n\n## " + tail[1] if len(tail) > 1 else "\n")
else:
    text = text.rstrip() + "\n\n" + section + "\n"
open(path, "w").write(text)
PY
echo "wrote the soak section of $OUT"
