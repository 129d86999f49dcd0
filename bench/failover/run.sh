#!/usr/bin/env bash
# bench/failover/run.sh — RTO and RPO of an app's failover between two regions.
#
# bench/failover/failover.py (boto3) starts, per run, two fresh tandem regions
# (us-east primary, ap-tokyo secondary of app `photos`) on free loopback ports
# with data in a mktemp dir, runs `tandem apply`, and measures:
#   auto     kill -9 of the primary under write load; RTO = kill -> first write
#            accepted by the secondary (auto_failover 200 ms x 3), RPO = writes
#            the primary acknowledged that the secondary lacks; then the old
#            primary is restarted (how long it still takes writes, do the lost
#            writes come back);
#   planned  `tandem failover photos --planned` and `tandem failback photos`
#            under load from writers that follow the state API: command time,
#            write-unavailability window, RPO (must be 0).
# Every `tandem serve` it starts is killed and the directory removed on exit.
#
# Environment (all optional):
#   BENCH_RUNS=3            runs per case (fresh regions and data each run)
#   BENCH_CASES="auto planned"
#   BENCH_RATE=100          writes/s of all writers together
#   BENCH_WRITERS=4         writer threads (every other one writes DynamoDB items)
#   BENCH_ITEMS=1           0 = objects only
#   BENCH_SIZE=1024         object body bytes
#   BENCH_PRE=3             seconds of writes before the kill / between switches
#   BENCH_INTERVAL_MS=200   auto_failover interval_ms
#   BENCH_FAILURES=3        auto_failover failures
#   BENCH_REJOIN=1          0 = do not restart the killed primary
#   BENCH_DOWN=5            seconds from the kill to the restart of the old primary
#   BENCH_DRAIN_TIMEOUT=30  seconds to wait for replication where it is awaited
#   BENCH_KEEP=0            1 = keep the scratch dir (logs, data) and print its path
#   BENCH_SKIP_BUILD=1      use the existing release binary
set -euo pipefail

RUNS=${BENCH_RUNS:-3}
CASES=${BENCH_CASES:-"auto planned"}
RATE=${BENCH_RATE:-100}
WRITERS=${BENCH_WRITERS:-4}
ITEMS=${BENCH_ITEMS:-1}
SIZE=${BENCH_SIZE:-1024}
PRE=${BENCH_PRE:-3}
INTERVAL_MS=${BENCH_INTERVAL_MS:-200}
FAILURES=${BENCH_FAILURES:-3}
REJOIN=${BENCH_REJOIN:-1}
DOWN=${BENCH_DOWN:-5}
DRAIN_TIMEOUT=${BENCH_DRAIN_TIMEOUT:-30}

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$ROOT/bench
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
TANDEM=$TARGET_DIR/release/tandem
RESULTS=$BENCH/.work/failover-results.jsonl

log() { printf '[bench] %s\n' "$*" >&2; }

# ---------------------------------------------------------------- cleanup
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tandem-bench-failover.XXXXXX")
DRIVER=
# The driver stops the regions it started; whatever is left (driver killed
# hard) is in $WORK/pids: kill those still running our binary, and only them.
cleanup() {
    trap - EXIT INT TERM
    if [ -n "$DRIVER" ] && kill -0 "$DRIVER" 2>/dev/null; then
        kill -TERM "$DRIVER" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$DRIVER" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$DRIVER" 2>/dev/null || true
    fi
    if [ -f "$WORK/pids" ]; then
        while read -r pid; do
            if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$TANDEM")" ]; then
                kill -KILL "$pid" 2>/dev/null || true
            fi
        done <"$WORK/pids"
    fi
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------ preparation
mkdir -p "$BENCH/.work"
python3 -c 'import boto3' 2>/dev/null || { log "python3 with boto3 is needed"; exit 1; }
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    log "building tandem (release)"
    (cd "$ROOT" && cargo build --release -p tandem >&2)
fi
[ -x "$TANDEM" ] || { log "missing $TANDEM"; exit 1; }

read -r LOADAVG _ </proc/loadavg
log "1-min load average before the runs: $LOADAVG (other work on the machine skews results)"
runs=$((RUNS * $(wc -w <<<"$CASES")))
# Bounded: per run setup + load phases + every wait the driver may do, plus slack.
budget=$((runs * (4 * PRE + ${DOWN%.*} + 4 * DRAIN_TIMEOUT + 120) + 120))
timeout --kill-after=10 "$budget" python3 "$BENCH/failover/failover.py" \
    --tandem "$TANDEM" --work "$WORK" --results "$RESULTS" \
    --cases "$CASES" --runs "$RUNS" --rate "$RATE" --writers "$WRITERS" --items "$ITEMS" \
    --size "$SIZE" --pre "$PRE" --interval-ms "$INTERVAL_MS" --failures "$FAILURES" \
    --rejoin "$REJOIN" --down "$DOWN" --drain-timeout "$DRAIN_TIMEOUT" &
# In the background + `wait`, so INT/TERM reach the trap at once.
DRIVER=$!
status=0
wait "$DRIVER" || status=$?
DRIVER=
log "raw results: $RESULTS"
exit "$status"
