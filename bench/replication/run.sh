#!/usr/bin/env bash
# bench/replication/run.sh — replication lag under sustained PUT load.
#
# Starts two tandem regions (us-east, ap-tokyo) on free loopback ports with a
# faultproxy (tests/e2e/faultproxy.py) on the us-east -> ap-tokyo replication
# hop, data in a mktemp dir (everything killed and removed on exit). Then
# bench/replication/lag.py replicates bucket src (us-east) to dst (ap-tokyo)
# and, for each PUT rate x object size and each injected one-way delay, runs
# `s3-load --rate` against src and reads ap-tokyo's commit-to-apply latency
# histogram: p50/p99 lag, p99 minus the delay (target: < 1 s), drain time,
# versions shipped vs PUTs acknowledged.
#
# Environment (all optional):
#   BENCH_DURATION=20       measured seconds of load per run
#   BENCH_WARMUP=2          unmeasured seconds of load before each run
#   BENCH_CASES="200:4096 500:4096 50:1048576"   RATE:SIZE (PUT/s : body bytes)
#   BENCH_DELAYS="0 80"     one-way delays (ms) injected us-east -> ap-tokyo
#   BENCH_CONCURRENCY=32    max PUTs in flight (= connections)
#   BENCH_KEYS=100000       key space of the PUTs (each PUT a new version anyway)
#   BENCH_THREADS=1         s3-load runtime threads
#   BENCH_DRAIN_TIMEOUT=120 seconds to wait for replication to catch up
#   BENCH_VERIFY=1          count versions in src and dst at the end
#   BENCH_SKIP_BUILD=1      use the existing release binaries
set -euo pipefail

DURATION=${BENCH_DURATION:-20}
WARMUP=${BENCH_WARMUP:-2}
CASES=${BENCH_CASES:-"200:4096 500:4096 50:1048576"}
DELAYS=${BENCH_DELAYS:-"0 80"}
CONCURRENCY=${BENCH_CONCURRENCY:-32}
KEYS=${BENCH_KEYS:-100000}
THREADS=${BENCH_THREADS:-1}
DRAIN_TIMEOUT=${BENCH_DRAIN_TIMEOUT:-120}
VERIFY=${BENCH_VERIFY:-1}

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$ROOT/bench
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
LOAD=$TARGET_DIR/release/s3-load
TANDEM=$TARGET_DIR/release/tandem
RESULTS=$BENCH/.work/replication-results.jsonl

AK=BENCHKEY0001
SK=bench-secret-key-0001

source "$ROOT/bench/lib.sh"

# ---------------------------------------------------------------- cleanup
bench_workdir replication

# ------------------------------------------------------------ preparation
mkdir -p "$BENCH/.work"
command -v aws >/dev/null || { log "the aws CLI is needed (bucket setup)"; exit 1; }
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    log "building s3-load and tandem (release)"
    (cd "$ROOT" && cargo build --release -p tandem-bench-s3 -p tandem >&2)
fi
[ -x "$TANDEM" ] && [ -x "$LOAD" ] || { log "missing $TANDEM or $LOAD"; exit 1; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_http NAME URL: poll until URL answers 200.
wait_http() {
    local name=$1 url=$2
    for _ in $(seq 150); do
        if ! kill -0 "${PID[$name]}" 2>/dev/null; then
            log "$name exited during startup; last log lines:"
            tail -5 "$WORK/$name.log" >&2
            return 1
        fi
        [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" || true)" = 200 ] && return 0
        sleep 0.2
    done
    log "$name not ready after 30 s"
    return 1
}

# ---------------------------------------------------------------- servers
PORT[us-east]=$(free_port)
PORT[ap-tokyo]=$(free_port)

# The proxy picks its own ports (no race) and announces them on one line.
python3 "$ROOT/tests/e2e/faultproxy.py" --listen 127.0.0.1:0 --control 127.0.0.1:0 \
    --target "127.0.0.1:${PORT[ap-tokyo]}" >"$WORK/proxy.out" 2>"$WORK/proxy.log" &
PID[proxy]=$!
for _ in $(seq 100); do
    [ -s "$WORK/proxy.out" ] && break
    sleep 0.1
done
read -r _ _ PROXY_ADDR _ CONTROL_ADDR _ <"$WORK/proxy.out" || { log "faultproxy did not start"; exit 1; }

cat >"$WORK/tandem.toml" <<EOF
[[regions]]
name = "us-east"
listen = "127.0.0.1:${PORT[us-east]}"
data_dir = "$WORK/us-east"

# us-east ships to ap-tokyo through the proxy (the hop the delay is put on).
[[regions]]
name = "ap-tokyo"
listen = "127.0.0.1:${PORT[ap-tokyo]}"
data_dir = "$WORK/ap-tokyo"
replication_url = "http://$PROXY_ADDR"

[[access_keys]]
access_key_id = "$AK"
secret_access_key = "$SK"
principal = "admin"

[replication]
access_key_id = "BENCHREPLICATION"
secret_access_key = "bench-replication-secret-01"
EOF
for region in us-east ap-tokyo; do
    NO_COLOR=1 "$TANDEM" serve --config "$WORK/tandem.toml" --region "$region" >"$WORK/$region.log" 2>&1 &
    PID[$region]=$!
done
for region in us-east ap-tokyo; do
    wait_http "$region" "http://127.0.0.1:${PORT[$region]}/health" || exit 1
    log "$region listening on 127.0.0.1:${PORT[$region]} (pid ${PID[$region]})"
done
log "faultproxy $PROXY_ADDR -> ap-tokyo, control $CONTROL_ADDR (pid ${PID[proxy]})"

# ------------------------------------------------------------------ runs
read -r LOADAVG _ </proc/loadavg
log "1-min load average before the runs: $LOADAVG (other work on the machine skews results)"
runs=$(($(wc -w <<<"$CASES") * $(wc -w <<<"$DELAYS")))
# Bounded: per run warm-up + load + two drain waits + slack, plus setup/verify.
budget=$((runs * (WARMUP + DURATION + 2 * DRAIN_TIMEOUT + 60) + 300))
timeout --kill-after=10 "$budget" python3 "$BENCH/replication/lag.py" \
    --us "http://127.0.0.1:${PORT[us-east]}" --tokyo "http://127.0.0.1:${PORT[ap-tokyo]}" \
    --proxy-control "http://$CONTROL_ADDR" \
    --pids "us-east=${PID[us-east]},ap-tokyo=${PID[ap-tokyo]},proxy=${PID[proxy]}" \
    --load "$LOAD" --access-key "$AK" --secret-key "$SK" \
    --cases "$CASES" --delays "$DELAYS" --duration "$DURATION" --warmup "$WARMUP" \
    --concurrency "$CONCURRENCY" --keys "$KEYS" --threads "$THREADS" \
    --drain-timeout "$DRAIN_TIMEOUT" --verify "$VERIFY" --results "$RESULTS" &
# In the background + `wait`, so INT/TERM reach the trap at once.
PID[driver]=$!
status=0
wait "${PID[driver]}" || status=$?
unset 'PID[driver]'
for region in us-east ap-tokyo; do
    # (ANSI colours stripped, in case the logger adds them anyway)
    warnings=$(sed 's/\x1b\[[0-9;]*m//g' "$WORK/$region.log" | grep -E '^\S+ +(WARN|ERROR) ' || true)
    if [ -n "$warnings" ]; then
        log "$region logged $(wc -l <<<"$warnings") warnings/errors; the first 5:"
        head -5 <<<"$warnings" >&2
    fi
done
log "raw results: $RESULTS"
exit "$status"
