#!/usr/bin/env bash
# `make bench`: release builds of all four services on their own database, exchange and ports;
# a load of concurrent creates through the gateway; then pgbench running the equivalent
# insert-plus-outbox transaction directly, for the ratio. Writes docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/dev/check-infra.sh
scripts/dev/mail-sink.sh

CONNECTIONS=${BENCH_CONNECTIONS:-64}
SECONDS_RUN=${BENCH_SECONDS:-20}
PG=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
# Loopback, so no TLS on either side: the services and pgbench both use plain TCP. (sqlx and
# libpq default to sslmode=prefer, which negotiates TLS wherever the server offers it.)
export PGSSLMODE=${PGSSLMODE:-disable}
DB=budgetsmart_bench
OUT=docs/benchmarks.md

cargo build --release -p engine -p analytics -p notification -p gateway -p e2e --bins
bin="${CARGO_TARGET_DIR:-target}/release"

psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"

. scripts/bench/release-stack.sh
release_stack_env bench "$DB" 1

pids=()
cleanup() { [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
for service in analytics notification engine gateway; do
  "$bin/$service" & pids+=($!)
done
for _ in $(seq 1 60); do curl -sf http://127.0.0.1:18080/readyz >/dev/null && break; sleep 1; done

# Analytics first, on a fresh database: the consumer alone, draining a full queue. Stop analytics, queue the events, then
# start it again; the inbox timestamps time the apply rate without start-up or polling.
ANALYTICS_EVENTS=${BENCH_ANALYTICS_EVENTS:-20000}
echo "== analytics consumer: $ANALYTICS_EVENTS transaction events from a full queue"
kill -TERM "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
"$bin/analytics_bench" publish "$ANALYTICS_EVENTS" 200
# Start from a clean checkpoint, so full-page writes after one do not land in this window only.
psql "$PG/$DB" -qc "CHECKPOINT"
"$bin/analytics" & pids[0]=$!
consumer=$("$bin/analytics_bench" drain "$ANALYTICS_EVENTS")
echo "$consumer"
# Waits (at most two minutes) until the trainer has served every queued retraining request.
trainer_idle() {
  for _ in $(seq 1 120); do
    [ "$(psql "$PG/$DB" -tAc "SELECT count(*) FROM analytics.training_requests")" = 0 ] && return
    sleep 1
  done
}
# Retraining is timed on a quiet service: wait until the trainer has served the drained users.
trainer_idle
echo "== analytics retraining: one user with two years of history"
retrain=$("$bin/analytics_bench" retrain 30)
echo "$retrain"
echo "== categorisation: sequential suggestions for one user with a trained model"
# Its model must train first; on a slow day that can miss the tool's two minutes. That costs
# this row, not the rest of the run.
categorize=$(GATEWAY=http://127.0.0.1:18080 "$bin/analytics_bench" categorize 1000 2>/dev/null) \
  || categorize="| categorisation | not measured this run: the user's model did not train within two minutes |"
echo "$categorize"


# forecast-eval per series, against statsforecast's AutoETS when the eval virtualenv has it
# (`make eval-analytics` creates it).
echo "== forecast-eval on the public series"
mean_seconds() { python3 -c 'import json,sys; r=[json.loads(l)["seconds"] for l in sys.stdin if l.strip()]; print(f"{1000*sum(r)/len(r):.1f}")'; }
eval_ms=$("$bin/forecast-eval" analytics/eval/data/public/*.csv 2>/dev/null | mean_seconds)
VENV=${EVAL_VENV:-.cache/eval-venv}
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import statsforecast" 2>/dev/null; then
  sf_ms="$("$VENV/bin/python" scripts/eval/statsforecast_baseline.py analytics/eval/data/public/*.csv | mean_seconds) ms"
else
  sf_ms="not measured (no statsforecast in $VENV; run make eval-analytics first)"
fi
echo "forecast-eval ${eval_ms} ms per series; statsforecast AutoETS ${sf_ms}"

# Email: the sink's own ceiling (lettre alone, no database or templates), then the service on
# a burst and at a steady rate. Before the gateway load, so analytics retraining its users does
# not share the two cores with it.
echo "== notification: alerts rendered and handed to the SMTP sink"
MAIL_EMAILS=${BENCH_MAIL_EMAILS:-3000}
mail_baseline=$("$bin/notification_bench" baseline "$MAIL_EMAILS" 4)
echo "$mail_baseline"
mail_burst=$("$bin/notification_bench" burst 200 "$MAIL_EMAILS")
echo "$mail_burst"
mail_latency=$("$bin/notification_bench" latency 150 20)
echo "$mail_latency"
# The sink keeps every message in memory; the bench's thousands are of no use to anyone.
curl -s -X DELETE http://127.0.0.1:${MAILDEV_WEB_PORT:-1080}/api/email/all >/dev/null || true

# Moderate load (2 clients: the direct calls reach about two thirds of what the machine can
# serve) is what the target is about; 8 clients saturate two cores, for the record.
gateway_overhead=""
for GW_CLIENTS in ${BENCH_GATEWAY_CLIENTS:-2 8}; do
  echo "== gateway overhead: GET /me through the gateway against GetMe over gRPC, $GW_CLIENTS clients"
  run=$("$bin/gateway_bench" http://127.0.0.1:18080 http://127.0.0.1:15051 "$GW_CLIENTS" "${BENCH_GATEWAY_SECONDS:-8}")
  echo "$run"
  gateway_overhead+="$run"$'\n\n'
done

echo "== load through the gateway: $CONNECTIONS connections, ${SECONDS_RUN}s"
# Every process's CPU ticks from just before the timed load (after registration) until the
# consumers have drained it, divided by the creates answered (issue 25).
cpu_dir=$(mktemp -d)
load=$(LOADGEN_ON_START="python3 scripts/bench/cpu_ticks.py snapshot $cpu_dir/before" \
  LOADGEN_ON_END="python3 scripts/bench/cpu_ticks.py snapshot $cpu_dir/after && echo \$LOADGEN_CREATES > $cpu_dir/creates" \
  "$bin/loadgen" http://127.0.0.1:18080 "$CONNECTIONS" "$SECONDS_RUN" bench.analytics.events bench.notification.events)
echo "$load"
cpu_table=$(python3 scripts/bench/cpu_ticks.py report "$cpu_dir/before" "$cpu_dir/after" "$(cat "$cpu_dir/creates")")
rm -rf "$cpu_dir"
echo "$cpu_table"

# Latency at a fixed offered rate of half the closed-loop throughput: what a user sees when
# the system has headroom. Open loop, so a stall is charged to every request it delays.
closed_rps=$(echo "$load" | sed -n 's/^| creates per second | \([0-9]*\) |/\1/p')
half=$(( ${closed_rps:-0} / 2 ))
# The closed loop's 64 users fall due for retraining two seconds after it stops (the trainer's
# quiet period), 64 retrainings at once; they are the closed loop's work, so they finish first
# instead of landing in this window (they did in 2026-12-06's 71.7 ms run). The open loop's own
# users are trained after its window: their first request is less than the 30 s maximum wait
# old when it ends.
trainer_idle
echo "== open loop through the gateway: $half creates/s (half the closed-loop rate), ${SECONDS_RUN}s"
open_load=$(LOADGEN_RATE=$half "$bin/loadgen" http://127.0.0.1:18080 256 "$SECONDS_RUN" bench.analytics.events bench.notification.events)
echo "$open_load"

# Password hashing under a burst (issue 11): 100 registrations at once, then 100 logins at once,
# with the engine's resident memory sampled every 100 ms. Target: every request answered, and
# the engine under 300 MB.
AUTH_BURST=${BENCH_AUTH_BURST:-100}
echo "== auth burst: $AUTH_BURST registrations, then $AUTH_BURST logins, at once"
engine_pid=${pids[2]}
auth_rss_before=$(rss_mb "$engine_pid")
peak_file=$(mktemp)
echo "$auth_rss_before" >"$peak_file"
( while kill -0 "$engine_pid" 2>/dev/null; do
    now=$(rss_mb "$engine_pid"); [ "$now" -gt "$(cat "$peak_file")" ] && echo "$now" >"$peak_file"; sleep 0.1
  done ) & sampler=$!
auth_burst=$(LOADGEN_AUTH_BURST=$AUTH_BURST "$bin/loadgen" http://127.0.0.1:18080 1 1)
kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
auth_rss_peak=$(cat "$peak_file"); rm -f "$peak_file"
auth_rss_after=$(rss_mb "$engine_pid")
echo "$auth_burst"
echo "engine RSS: ${auth_rss_before} MB before, peak ${auth_rss_peak} MB, ${auth_rss_after} MB after"

# File imports (issue 24): a 50,000-row file in each format, accepted (202) and written in the
# background, against our plain CSV in the same run; the engine's memory sampled throughout.
IMPORT_ROWS=${BENCH_IMPORT_ROWS:-50000}
echo "== file imports: $IMPORT_ROWS rows per format"
imports=$("$bin/import_bench" http://127.0.0.1:18080 "$IMPORT_ROWS" "$engine_pid")
echo "$imports"
imports_table=$(echo "$imports" | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
base = rows[0]["rows_per_second"] if rows else 0
print("| format | file | accepted (202) in | written in | rows per second | vs our CSV | engine RSS before / peak |")
print("|---|---|---|---|---|---|---|")
# (No quotes inside the f-string expressions: Python before 3.12 refuses a backslash there.)
for r in rows:
    fmt, mib, accept, secs = r["format"], r["bytes"] / 1048576, r["accept_seconds"], r["seconds"]
    rate, before, peak = r["rows_per_second"], r["engine_rss_before_mib"], r["engine_rss_peak_mib"]
    print(f"| {fmt} | {mib:.1f} MiB | {accept:.2f} s | {secs:.1f} s | {rate:.0f} | {rate / base:.2f} | {before} / {peak} MiB |")
')

echo "== pgbench: the same insert + outbox transaction straight into PostgreSQL"
uid=$(psql "$PG/$DB" -tAc "SELECT id FROM engine.users LIMIT 1")
script=$(mktemp)
cat > "$script" <<'SQL'
BEGIN;
INSERT INTO engine.transactions (id, user_id, occurred_on, description, amount, currency, type, fingerprint, source, home_currency, home_amount)
  VALUES (gen_random_uuid(), :uid::uuid, current_date, 'pgbench', 1.25, 'USD', 'debit', sha256(random()::text::bytea), 'api', 'USD', 1.25);
INSERT INTO engine.outbox (id, event_type, event_version, routing_key, user_id, payload)
  VALUES (gen_random_uuid(), 'transaction_created', 1, 'transaction_created.v1', :uid::uuid, '\x0a00'::bytea);
COMMIT;
SQL
for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || echo "bench: service pid $pid had already exited" >&2; done
kill -TERM "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; pids=()

# The analytics apply transaction in SQL, for the consumer's baseline, statement for statement:
# inbox; lock and tombstone check; read; the transaction, its day's total and the retraining
# request in one statement.
apply_script=$(mktemp)
cat > "$apply_script" <<'SQL'
\set cat random(1, 8)
\set day random(0, 729)
BEGIN;
INSERT INTO analytics.inbox (consumer, event_id, event_type) VALUES ('pgbench', gen_random_uuid(), 'transaction_created');
SELECT EXISTS (SELECT 1 FROM analytics.deleted_users WHERE user_id = :uid::uuid)
  FROM (SELECT pg_advisory_xact_lock(hashtextextended(gen_random_uuid()::text, 0))) AS locked;
SELECT version FROM analytics.transactions WHERE transaction_id = (SELECT gen_random_uuid());
WITH stored AS (INSERT INTO analytics.transactions (transaction_id, user_id, version, occurred_on, description, merchant, amount, currency, kind)
    VALUES (gen_random_uuid(), :uid::uuid, 1, current_date - :day::int, 'pgbench', 'pgbench', 12.34, 'USD', 'debit')),
  requested AS (INSERT INTO analytics.training_requests (user_id) VALUES (:uid::uuid))
INSERT INTO analytics.daily_totals (user_id, currency, day, category_id, spent, debit_count)
  VALUES (:uid::uuid, 'USD', current_date - :day::int, ('00000000-0000-0000-0000-00000000000' || :cat::text)::uuid, 12.34, 1)
  ON CONFLICT (user_id, currency, day, category_id) DO UPDATE SET spent = daily_totals.spent + EXCLUDED.spent,
  debit_count = daily_totals.debit_count + 1;
COMMIT;
SQL
apply_out=$(pgbench -n -M prepared -c 32 -j 2 -T 10 -D uid="$uid" -f "$apply_script" "$PG/$DB" 2>&1)
apply_tps=$(echo "$apply_out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)
rm -f "$apply_script"

logdir=$(mktemp -d)
pgbench_out=$(cd "$logdir" && pgbench -n -l -c "$CONNECTIONS" -j 2 -T "$SECONDS_RUN" -D uid="'$uid'" -f "$script" "$PG/$DB" 2>&1)
# Per-transaction log: the third column is the latency in microseconds.
p99=$(cat "$logdir"/pgbench_log.* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {i=int(NR*0.99); if (i<1) i=1; printf "%.1f", a[i]/1000}')
p50=$(cat "$logdir"/pgbench_log.* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {i=int(NR*0.50); if (i<1) i=1; printf "%.1f", a[i]/1000}')
rm -rf "$script" "$logdir"
echo "$pgbench_out" | tail -6
tps=$(echo "$pgbench_out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)
lat=$(echo "$pgbench_out" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' | head -1)

# The statement census, on a private PostgreSQL with pg_stat_statements (see census.sh).
echo "== statement census: every statement per create, by service"
census=$(scripts/bench/census.sh "$bin" "$CONNECTIONS" "${BENCH_CENSUS_SECONDS:-10}")
echo "$census"

rps=$(echo "$load" | sed -n 's/^| creates per second | \([0-9]*\) |/\1/p')
ratio=$(awk -v a="${rps:-0}" -v b="${tps:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }')
open_p99=$(echo "$open_load" | sed -n 's/^| latency p99 | \([0-9.]*\) ms |/\1/p')
cpu_total=$(echo "$cpu_table" | sed -n 's/^| \*\*all of the pipeline\*\* | \*\*\([0-9.]*\) ms\*\*.*/\1/p')
statements=$(echo "$census" | sed -n 's/^| \*\*all\*\* | \*\*\([0-9.]*\)\*\*.*/\1/p')
verdict() { awk -v v="$1" -v t="$2" -v dir="$3" 'BEGIN { if (v == "" || v == "?") print "not measured"; else if ((dir == "max" && v + 0 <= t + 0) || (dir == "min" && v + 0 >= t + 0)) print "met"; else print "not met" }'; }

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem=$(free -g | awk '/^Mem:/ {print $2 " GiB"}')
{
  echo "# Benchmarks"
  echo
  echo "Produced by \`make bench\` (scripts/bench/bench.sh) on $(date -u +%Y-%m-%d): $(nproc) cores ($cpu), $mem,"
  echo "$(uname -sr). All four services (release builds), PostgreSQL, RabbitMQ, Redis and the load generator"
  echo "share the machine. Every create is a real HTTP call → gateway (JWT check) → gRPC → engine (JWT check,"
  echo "insert + outbox + budget threshold check in one transaction) → relay → RabbitMQ → analytics and"
  echo "notification consumers."
  echo
  echo "## Per create, against the targets (issue 25)"
  echo
  echo "| measure | this run | target | |"
  echo "|---|---|---|---|"
  echo "| CPU per create, all processes (saturated closed loop) | ${cpu_total:-?} ms | at most 1.5 ms | $(verdict "${cpu_total:-}" 1.5 max) |"
  echo "| SQL statements per create, all services | ${statements:-?} | at most 8 | $(verdict "${statements:-}" 8 max) |"
  echo "| closed-loop creates/s as a share of pgbench's rate | ${ratio} | at least 0.20 | $(verdict "$ratio" 0.20 min) |"
  echo "| open-loop p99 at half the closed-loop rate | ${open_p99:-?} ms | at most 20 ms | $(verdict "${open_p99:-}" 20 max) |"
  echo
  echo "## Creates through the gateway"
  echo
  echo "Closed loop, $CONNECTIONS connections, one user each:"
  echo
  echo "$load"
  echo
  echo "Open loop at half that rate (target: p99 at most 20 ms):"
  echo
  echo "$open_load"
  echo
  echo "## CPU per create"
  echo
  echo "Each process's user and system clock ticks (\`/proc/PID/stat\`, every thread) from just before the"
  echo "closed-loop load above (after its users registered) until the consumers had drained it, divided"
  echo "by the creates answered 201 (\`scripts/bench/cpu_ticks.py\`). PostgreSQL is every backend and"
  echo "background process; RabbitMQ is the Erlang VM. pgbench's own transaction costs about 0.3–0.4 ms"
  echo "of CPU, client included, on this machine."
  echo
  echo "$cpu_table"
  echo
  echo "## Statements per create"
  echo
  echo "\`scripts/bench/census.sh\`: a private PostgreSQL with \`pg_stat_statements\` preloaded (the shared"
  echo "one is not restarted for it), a private release stack whose services connect as one role each,"
  echo "counters reset after registration, a closed-loop load, and every statement the services sent"
  echo "until the consumers drained it, divided by the creates. BEGIN and COMMIT are statements here;"
  echo "the relay's statements are the engine's. pgbench's transaction is 4 statements and 1 commit."
  echo
  echo "$census"
  echo
  echo "## Password hashing under a burst"
  echo
  echo "\`loadgen\` with \`LOADGEN_AUTH_BURST=$AUTH_BURST\`: $AUTH_BURST registrations sent at once, then $AUTH_BURST logins"
  echo "at once, after the load above; the engine's VmRSS sampled every 100 ms. Argon2id runs in at most"
  echo "\`PASSWORD_HASH_SLOTS\` (2) reusable 19 MiB buffers; a request that waits 3 s for one is answered 429"
  echo "with \`Retry-After\`. Target (issue 11): every request answered, the engine under 300 MB."
  echo
  echo "$auth_burst"
  echo "| engine resident memory | ${auth_rss_before} MB before, ${auth_rss_peak} MB at the peak, ${auth_rss_after} MB after |"
  echo
  echo "## File imports"
  echo
  echo "\`import_bench\`: for each format a fresh user uploads a $IMPORT_ROWS-row file through the gateway; past"
  echo "2,000 rows it is accepted (202) and written in the background in batches of 1,000, one transaction"
  echo "each (insert + outbox event + budget check per row). Time from upload to \`status: done\`; our plain CSV"
  echo "is the baseline of the same run. The engine reads a file twice (check, then stream) and holds one"
  echo "batch of parsed rows at a time: its peak resident memory is the file's bytes plus a bounded part."
  echo
  echo "$imports_table"
  echo
  echo "## Gateway overhead"
  echo
  echo "\`gateway_bench\`: closed-loop clients (2 is the moderate load the target is about; 8 saturate the machine), one user"
  echo "each. \`GET /api/v1/me\` through the gateway (HTTP/1.1 keep-alive, rate limit, JWT check, request span"
  echo "and metrics, then gRPC to the engine) against the engine's \`GetMe\` called over gRPC directly with the"
  echo "same token. Four alternating phases, two each, so noise lands on both sides. Target: at most 0.5 ms"
  echo "added at p50."
  echo
  echo "$gateway_overhead"
  echo
  echo "## pgbench: the equivalent insert-plus-outbox transaction, no services"
  echo
  echo "| metric | value |"
  echo "|---|---|"
  echo "| clients | $CONNECTIONS |"
  echo "| transactions per second | $(printf "%.0f" "${tps:-0}") |"
  echo "| latency average | $(printf "%.1f" "${lat:-0}") ms |"
  echo "| latency p50 | ${p50:-?} ms |"
  echo "| latency p99 | ${p99:-?} ms |"
  echo
  if [ -n "${tps:-}" ]; then
    echo "The full path reaches ${ratio} of the raw database rate (target: at least 0.20)."
  fi
  echo
  echo "## Analytics"
  echo
  echo "The consumer applying \`transaction_created\` events from a queue filled while it was stopped"
  echo "(200 users, two years of dates, 8 categories; \`analytics_bench publish\` then \`drain\`), on a"
  echo "fresh database before the load below. Each event is one transaction: inbox row, per-transaction"
  echo "lock with the tombstone check, read, then the row, its day's total and the retraining request in"
  echo "one statement. The baseline is pgbench running those statements as one transaction with 32"
  echo "clients (the consumer's prefetch) and prepared statements (as sqlx does), in the same run, after"
  echo "the load below."
  echo
  echo "| metric | value |"
  echo "|---|---|"
  echo "$consumer"
  echo "| pgbench, the same apply transaction | $(printf "%.0f" "${apply_tps:-0}") per second |"
  rate=$(echo "$consumer" | sed -n 's/^| events per second | \([0-9]*\) |/\1/p')
  echo "| consumer as a share of pgbench | $(awk -v a="${rate:-0}" -v b="${apply_tps:-1}" 'BEGIN { printf "%.2f", a / b }') |"
  echo
  echo "Retraining one user (\`analytics_bench retrain\`): model selection by backtest for every series,"
  echo "registry writes, the forecast of the open budget and its \`prediction_completed\` in the outbox, and"
  echo "the review of the user's spending (recurring payments, every debit scored for anomalies, insights,"
  echo "the categorisation model retrained), all in one transaction (rolled back between runs). Scoring"
  echo "rescans the user's whole history once per debounced retraining, so an import of thousands of"
  echo "events is scored once; the last row is the rate at which that rescan scores debits, to compare"
  echo "with the consumer's events per second above."
  echo
  echo "| metric | value |"
  echo "|---|---|"
  echo "$retrain"
  echo
  echo "Categorisation (\`analytics_bench categorize\`): one user with 300 labelled transactions and a"
  echo "trained model; sequential requests, each a different bank spelling, measured at the client. The"
  echo "baseline is a gRPC health check on the same channel, in the same loop."
  echo
  echo "| metric | value |"
  echo "|---|---|"
  echo "$categorize"
  echo
  echo "\`forecast-eval\` on the public monthly series (analytics/eval/data/public; all six candidates"
  echo "backtested at rolling origins, the winner refitted, 12 months forecast):"
  echo
  echo "| metric | value |"
  echo "|---|---|"
  echo "| forecast-eval, mean per series | ${eval_ms} ms |"
  echo "| statsforecast AutoETS (one model, after JIT warm-up), mean per series | ${sf_ms} |"
  echo
  echo "## Notification"
  echo
  echo "Budget alerts (\`notification_bench\`): \`budget_threshold_reached\` events published on the bench"
  echo "exchange for 200 users, each consumed (inbox, journal, preferences, quiet-hours check, the"
  echo "delivery row), then claimed, rendered from the templates (text and HTML), built as MIME with"
  echo "the unsubscribe headers, handed to maildev over pooled SMTP (4 senders) and recorded with its"
  echo "\`notification_sent\` in the outbox. Rates and latencies come from the rows' own timestamps."
  echo "The baseline is the service's SMTP client alone (lettre over its nodelay pool) sending the same rendered alert to the same sink, in the same run."
  echo
  echo "| measurement | result |"
  echo "|---|---|"
  echo "| sink ceiling | $mail_baseline |"
  echo "| burst | $mail_burst |"
  echo "| steady rate | $mail_latency |"
  echo
  echo "Target (issue 7): at least 200 emails/s rendered and handed to a local SMTP sink; event-to-inbox"
  echo "p99 under load recorded."
  echo
  echo "Targets (issue 5): at least 2,000 transaction events/s applied; retraining a user with two"
  echo "years of data under 100 ms. Forecast accuracy is in docs/analytics.md (\`make eval-analytics\`)."
  echo "Targets (issue 6): scoring keeps up with the 2,000 events/s consumer; categorisation answers in"
  echo "under 5 ms at p99. Anomaly, recurring and categorisation quality are in docs/analytics.md."
  echo
  echo "Target (issue 2): at least 1,000 creates/s with p99 ≤ 50 ms at 64 connections, consumers caught"
  echo "up within seconds. With 64 closed-loop connections, Little's law ties the two: 64 requests in"
  echo "flight at 1,000/s is 64 ms *average* latency, so p99 ≤ 50 ms needs more than 1,280 creates/s —"
  echo "compare the pgbench row above, which has no services, no broker and no HTTP at all."
  echo "See docs/architecture/performance.md for where the time goes."
  echo
  echo "This shared machine's speed varies from day to day by a factor of two to three (the same"
  echo "forecast-eval binary on the same series took 8.6 ms per series on 2026-11-25 and ${eval_ms} ms in"
  echo "this run), so read each row against the baseline measured beside it in the same run."
} > "$OUT.new"
python3 - "$OUT" "$OUT.new" <<'PY'
import os, sys
old_path, new_path = sys.argv[1], sys.argv[2]
old = open(old_path).read() if os.path.exists(old_path) else ""
new = open(new_path).read()
# Sections other runs write (`make soak`; the cold build, measured by hand): keep them.
for marker in ("## Memory under sustained load", "## Cold build"):
    if marker in old:
        section = marker + old.split(marker, 1)[1].split("\n## ", 1)[0]
        new = new.rstrip() + "\n\n" + section.rstrip() + "\n"
open(old_path, "w").write(new)
os.remove(new_path)
PY
echo "wrote $OUT"
