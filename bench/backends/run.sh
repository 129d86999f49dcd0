#!/usr/bin/env bash
# bench/backends/run.sh — the cost per request of the PostgreSQL backend:
# PUT 4 KiB and GET 4 KiB (s3-load) and PutItem and GetItem (dynamo-load)
# against two tandem nodes in the same run, one on the embedded backend and
# one on PostgreSQL (a throw-away local cluster, fsync on, started by
# scripts/postgres.sh). Prints ops/s, p50/p99 and the postgres/embedded
# ratio per operation.
#
# On one 2-core machine this measures what a request costs on each backend
# (PostgreSQL's round trips and its own CPU share the cores with tandem and
# the load generator), not scale-out across several nodes.
#
# Environment (all optional):
#   BENCH_DURATION=10      measured seconds per run
#   BENCH_CONCURRENCY=32   requests in flight (= connections)
#   BENCH_WARMUP=1         unmeasured seconds before each run
#   BENCH_OPS="put get"    for both APIs
#   BENCH_SKIP_BUILD=1     use the existing release binaries
set -euo pipefail

DURATION=${BENCH_DURATION:-10}
CONCURRENCY=${BENCH_CONCURRENCY:-32}
WARMUP=${BENCH_WARMUP:-1}
OPS=${BENCH_OPS:-"put get"}

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
RESULTS=$ROOT/bench/.work/backends-results.jsonl
AK=AKIABENCH0000000001
SK=benchsecret000000000000000000000000001

source "$ROOT/bench/lib.sh"
bench_workdir backends
mkdir -p "$ROOT/bench/.work"

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    log "building tandem, s3-load and dynamo-load (release)"
    (cd "$ROOT" && cargo build --release -p tandem -p tandem-bench-s3 -p tandem-bench-dynamo >&2)
fi

# The cluster is stopped by postgres.sh's own exit trap; keep ours too.
source "$ROOT/scripts/postgres.sh"
trap 'eval "$TANDEM_PG_STOP"; bench_cleanup' EXIT
psql "$TANDEM_TEST_POSTGRES" -qc "CREATE SCHEMA bench"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_node() {
    local name=$1 backend=$2 port
    port=$(free_port)
    PORT[$name]=$port
    cat >"$WORK/$name.toml" <<TOML
[[regions]]
name = "us-east"
listen = "127.0.0.1:$port"
data_dir = "$WORK/$name-data"
backend = "$backend"
[[access_keys]]
access_key_id = "$AK"
secret_access_key = "$SK"
TOML
    "$BIN/tandem" serve --config "$WORK/$name.toml" --region us-east >"$WORK/$name.log" 2>&1 &
    PID[$name]=$!
    for _ in $(seq 150); do
        curl -sf -o /dev/null -m 2 "http://127.0.0.1:$port/health" && return 0
        kill -0 "${PID[$name]}" 2>/dev/null || { tail -5 "$WORK/$name.log" >&2; return 1; }
        sleep 0.2
    done
    log "$name not healthy after 30 s"
    return 1
}

start_node embedded embedded
start_node postgres "$TANDEM_TEST_POSTGRES?options=-csearch_path%3Dbench"

read -r LOADAVG _ </proc/loadavg
log "1-min load average before the runs: $LOADAVG (other work on the machine skews results)"
: >"$RESULTS"
run() {
    local api=$1 op=$2 server=$3
    shift 3
    log "$api $op -> $server (c=$CONCURRENCY, ${DURATION}s)"
    timeout --kill-after=5 $((WARMUP + DURATION + 180)) "$@" \
        --endpoint "http://127.0.0.1:${PORT[$server]}" --access-key "$AK" --secret-key "$SK" \
        --op "$op" --concurrency "$CONCURRENCY" --duration "$DURATION" --warmup "$WARMUP" \
        --server-pid "${PID[$server]}" >"$WORK/run.json" &
    PID[load]=$!
    if wait "${PID[load]}"; then
        printf '%s\t%s\t%s\n' "$api" "$server" "$(cat "$WORK/run.json")" >>"$RESULTS"
    else
        log "WARNING: $api $op against $server failed"
    fi
    unset 'PID[load]'
}
for op in $OPS; do
    for server in embedded postgres; do
        run s3 "$op" "$server" "$BIN/s3-load" --region us-east-1 --bucket bench --create-bucket --size 4096 --keys 1000
    done
    for server in embedded postgres; do
        run dynamodb "$op" "$server" "$BIN/dynamo-load" --items 1000 --item-size 200 --create-table
    done
done

python3 - "$RESULTS" "$CONCURRENCY" "$DURATION" "$(nproc)" "$LOADAVG" <<'PY'
import json, sys
path, conc, dur, ncpu, loadavg = sys.argv[1:]
rows = {}
for line in open(path):
    api, server, js = line.rstrip("\n").split("\t", 2)
    r = json.loads(js)
    rows[(api, r["op"], server)] = r
names = {("s3", "put"): "PUT 4 KiB", ("s3", "get"): "GET 4 KiB", ("dynamodb", "put"): "PutItem", ("dynamodb", "get"): "GetItem"}
print(f"\nBackends: concurrency {conc}, {dur} s per run, {ncpu} CPUs, load avg before: {loadavg}")
hdr = f"{'operation':<10} {'backend':<9} {'ops/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'server CPU%':>11}"
print(hdr); print("-" * len(hdr))
for (api, op), name in names.items():
    for server in ("embedded", "postgres"):
        r = rows.get((api, op, server))
        if not r:
            continue
        cpu = "-" if r.get("server_cpu_pct") is None else f"{r['server_cpu_pct']:.0f}"
        print(f"{name:<10} {server:<9} {r['ops_per_sec']:>9.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['errors']:>6} {cpu:>11}")
print(f"\n{'operation':<10} postgres/embedded")
for (api, op), name in names.items():
    e, p = rows.get((api, op, "embedded")), rows.get((api, op, "postgres"))
    ratio = "n/a" if not e or not p or not e["ops_per_sec"] else f"{p['ops_per_sec'] / e['ops_per_sec']:.2f}x"
    print(f"{name:<10} {ratio}")
print("\nServer CPU is tandem's only; PostgreSQL's own processes share the same 2 cores.")
PY
log "raw results: $RESULTS"
