#!/usr/bin/env bash
# `make profile`: where each process spends its CPU during a create load (issue 25).
#
# The release stack on its own database (as `make bench` runs it), 64 closed-loop clients for
# PROFILE_SECONDS (default 15), and `perf record` sampling every CPU (cpu-clock, 499 Hz; this
# machine has no hardware counters) from just after registration until the consumers have
# drained the load. Writes, under .cache/profile/:
#   perf.data                  the samples (`perf report -i .cache/profile/perf.data`)
#   <process>.txt              the hottest symbols of each process, self time
#   <process>.folded           its stacks folded for a flame graph (inferno-flamegraph or
#                              flamegraph.pl turn one into an SVG)
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/dev/check-infra.sh
command -v perf >/dev/null || { echo "make profile needs perf (Debian: apt-get install linux-perf)" >&2; exit 1; }

SECONDS_RUN=${PROFILE_SECONDS:-15}
CONNECTIONS=${PROFILE_CONNECTIONS:-64}
PG=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
export PGSSLMODE=${PGSSLMODE:-disable}
DB=budgetsmart_profile
OUT=.cache/profile

cargo build --release -p engine -p analytics -p notification -p gateway -p e2e --bins
bin="${CARGO_TARGET_DIR:-target}/release"
psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
rm -rf "$OUT" && mkdir -p "$OUT"

. scripts/bench/release-stack.sh
release_stack_env profile "$DB" 3
pids=()
cleanup() { [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
for service in analytics notification engine gateway; do
  "$bin/$service" & pids+=($!)
done
for _ in $(seq 1 60); do curl -sf http://127.0.0.1:38080/readyz >/dev/null && break; sleep 1; done

# With frame pointers absent from release builds, -g gives the leaf and a few callers: enough
# for self time per symbol, which is what the lever choice needs.
LOADGEN_ON_START="perf record -a -g -e cpu-clock -F 499 -o $OUT/perf.data >$OUT/perf.log 2>&1 & echo \$! > $OUT/perf.pid; sleep 0.5" \
LOADGEN_ON_END="p=\$(cat $OUT/perf.pid); kill -INT \$p; while kill -0 \$p 2>/dev/null; do sleep 0.2; done" \
  "$bin/loadgen" http://127.0.0.1:38080 "$CONNECTIONS" "$SECONDS_RUN" profile.analytics.events profile.notification.events \
  | tee "$OUT/load.md"

# Threads of the Rust services are all named tokio-rt-worker, so a service is chosen by its
# process id; PostgreSQL's backends by their name; RabbitMQ by the Erlang VM's process id.
beam=$(pgrep -o beam.smp || true)
declare -A selector=(
  [postgres]="--comms postgres" [analytics]="--pid ${pids[0]}" [notification]="--pid ${pids[1]}"
  [engine]="--pid ${pids[2]}" [gateway]="--pid ${pids[3]}" [beam.smp]="${beam:+--pid $beam}"
)
for process in postgres engine analytics gateway notification beam.smp; do
  [ -z "${selector[$process]}" ] && continue
  # shellcheck disable=SC2086 # the selector is two words on purpose
  perf report -i "$OUT/perf.data" ${selector[$process]} --stdio --no-children --sort dso,symbol \
    --percent-limit 0.5 -g none 2>/dev/null | grep -v '^$' >"$OUT/$process.txt" || true
  # shellcheck disable=SC2086
  perf script -i "$OUT/perf.data" ${selector[$process]} -F comm,ip,sym 2>/dev/null | python3 -c '
import sys, collections
# A sample is a line with the process name, then one indented line per frame, leaf first.
stacks, frames = collections.Counter(), None
def flush():
    if frames:
        stacks[";".join(reversed(frames))] += 1
for line in sys.stdin:
    if not line.strip():
        continue
    if not line[0].isspace():
        flush()
        frames = []
    elif frames is not None:
        parts = line.split(None, 1)
        frames.append(parts[1].split("+")[0].strip() if len(parts) == 2 else "[unknown]")
flush()
for stack, n in stacks.items():
    print(stack, n)
' >"$OUT/$process.folded" || true
  echo "== $process (self time, share of all samples)"
  grep -E '^ +[0-9.]+%' "$OUT/$process.txt" | sed -E 's/ {2,}/  /g' | head -12 || true
done
# Each process's share of every sample (the kernel's work on its behalf included).
echo "== share of all samples by process"
perf script -i "$OUT/perf.data" -F comm,pid 2>/dev/null | python3 -c '
import collections, sys
names = dict(zip(sys.argv[1::2], sys.argv[2::2]))
counts = collections.Counter()
for line in sys.stdin:
    parts = line.split()
    if len(parts) >= 2:
        comm, pid = " ".join(parts[:-1]), parts[-1]
        counts[names.get(pid, comm)] += 1
total = sum(counts.values())
for name, n in counts.most_common(10):
    print(f"{100 * n / total:5.1f}%  {name}")
' "${pids[0]}" analytics "${pids[1]}" notification "${pids[2]}" engine "${pids[3]}" gateway "${beam:-none}" RabbitMQ
echo "wrote $OUT (perf.data, <process>.txt, <process>.folded)"
