#!/usr/bin/env bash
# bench/s3/run.sh — S3 throughput/latency benchmark: tandem vs peer servers.
#
# Starts tandem, s3s-fs and moto_server on free loopback ports (data in a
# mktemp dir, everything killed and removed on exit), drives each with
# `s3-load` for {PUT,GET} x {4 KiB,1 MiB}, and prints ops/s, p50/p99 latency,
# client and server CPU, and the tandem/peer ratios. A do-nothing server
# (`s3-null`) is benchmarked too as the load generator's own ceiling.
#
# Environment (all optional):
#   BENCH_DURATION=10      measured seconds per run
#   BENCH_CONCURRENCY=32   requests in flight (= connections)
#   BENCH_WARMUP=1         unmeasured seconds before each run
#   BENCH_SERVERS="tandem s3s-fs moto null"   subset/order of servers; add
#                          "tandem-policy" for tandem with a 20-statement
#                          identity policy on the load key (ratio vs tandem)
#   BENCH_OPS="put get"  BENCH_SIZES="4096 1048576"
#   BENCH_KEYS_SMALL=1000 BENCH_KEYS_LARGE=64  keys per run (< 1 MiB / >= 1 MiB)
#   BENCH_THREADS=1        s3-load runtime threads
#   BENCH_REGION=us-east-1 SigV4 region in the credential scope
#   BENCH_SKIP_BUILD=1     use the existing release binaries
set -euo pipefail

DURATION=${BENCH_DURATION:-10}
CONCURRENCY=${BENCH_CONCURRENCY:-32}
WARMUP=${BENCH_WARMUP:-1}
SERVERS=${BENCH_SERVERS:-"tandem s3s-fs moto null"}
OPS=${BENCH_OPS:-"put get"}
SIZES=${BENCH_SIZES:-"4096 1048576"}
KEYS_SMALL=${BENCH_KEYS_SMALL:-1000}
KEYS_LARGE=${BENCH_KEYS_LARGE:-64}
THREADS=${BENCH_THREADS:-1}
REGION=${BENCH_REGION:-us-east-1}

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$ROOT/bench
S3S_FS=$BENCH/.work/cargo/bin/s3s-fs
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
LOAD=$TARGET_DIR/release/s3-load
NULL=$TARGET_DIR/release/s3-null
TANDEM=$TARGET_DIR/release/tandem
RESULTS=$BENCH/.work/s3-results.jsonl

AK=AKIABENCH0000000001
SK=benchsecret000000000000000000000000001

source "$ROOT/bench/lib.sh"

# ---------------------------------------------------------------- cleanup
bench_workdir s3

# ------------------------------------------------------------ preparation
mkdir -p "$BENCH/.work"
if [[ " $SERVERS " == *" s3s-fs "* && ! -x $S3S_FS ]]; then
    log "installing s3s-fs 0.14.1 into bench/.work/cargo"
    cargo install s3s-fs --version 0.14.1 --locked --features binary --root "$BENCH/.work/cargo" >&2
fi
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    log "building s3-load (release)"
    (cd "$ROOT" && cargo build --release -p tandem-bench-s3 >&2)
    if [[ " $SERVERS " == *" tandem "* ]]; then
        log "building tandem (release)"
        (cd "$ROOT" && cargo build --release -p tandem >&2) || {
            log "WARNING: tandem failed to build; skipping it (a stale binary would mislead)"
            TANDEM_BUILD_FAILED=1
        }
    fi
fi

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_http NAME URL WANT: poll until the status is WANT ("any" = any answer).
wait_http() {
    local name=$1 url=$2 want=$3 code
    for _ in $(seq 150); do
        if ! kill -0 "${PID[$name]}" 2>/dev/null; then
            log "WARNING: $name exited during startup; last log lines:"
            tail -5 "$WORK/$name.log" >&2
            return 1
        fi
        code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" || true)
        if [[ $want == any && $code != 000 ]] || [[ $code == "$want" ]]; then return 0; fi
        sleep 0.2
    done
    log "WARNING: $name not ready after 30 s"
    return 1
}

start_server() {
    local name=$1 port
    port=$(free_port)
    PORT[$name]=$port
    case $name in
    tandem | tandem-policy)
        [ -z "${TANDEM_BUILD_FAILED:-}" ] || return 1
        [ -x "$TANDEM" ] || { log "WARNING: no tandem binary; skipping"; return 1; }
        mkdir -p "$WORK/$name-data"
        cat >"$WORK/$name.toml" <<EOF
[[regions]]
name = "us-east"
listen = "127.0.0.1:$port"
data_dir = "$WORK/$name-data"
[[access_keys]]
access_key_id = "$AK"
secret_access_key = "$SK"
EOF
        if [ "$name" = tandem-policy ]; then
            echo "policy = '$(twenty_statement_policy s3 arn:aws:s3:::bench 'arn:aws:s3:::bench/*')'" >>"$WORK/$name.toml"
        fi
        "$TANDEM" serve --config "$WORK/$name.toml" --region us-east >"$WORK/$name.log" 2>&1 &
        PID[$name]=$!
        wait_http "$name" "http://127.0.0.1:$port/health" 200
        ;;
    s3s-fs)
        mkdir -p "$WORK/s3s-fs-data"
        "$S3S_FS" --host 127.0.0.1 --port "$port" --access-key "$AK" --secret-key "$SK" \
            "$WORK/s3s-fs-data" >"$WORK/s3s-fs.log" 2>&1 &
        PID[$name]=$!
        wait_http s3s-fs "http://127.0.0.1:$port/" any
        ;;
    moto)
        # pyenv's shim does not exec the server: start the real script so the
        # pid we track (and kill) is the server itself.
        "$(pyenv which moto_server 2>/dev/null || command -v moto_server)" -H 127.0.0.1 -p "$port" >"$WORK/moto.log" 2>&1 &
        PID[$name]=$!
        wait_http moto "http://127.0.0.1:$port/" any
        ;;
    null)
        "$NULL" --listen "127.0.0.1:$port" >"$WORK/null.log" 2>&1 &
        PID[$name]=$!
        wait_http null "http://127.0.0.1:$port/" any
        ;;
    *) log "unknown server $name"; return 1 ;;
    esac
}

RUNNING=()
for s in $SERVERS; do
    if start_server "$s"; then
        RUNNING+=("$s")
        log "$s listening on 127.0.0.1:${PORT[$s]} (pid ${PID[$s]})"
    else
        [ -n "${PID[$s]:-}" ] && { kill -KILL "${PID[$s]}" 2>/dev/null || true; unset "PID[$s]"; }
    fi
done
[ ${#RUNNING[@]} -gt 0 ] || { log "no server started"; exit 1; }

# ------------------------------------------------------------------ runs
read -r LOADAVG _ </proc/loadavg
log "1-min load average before the runs: $LOADAVG (other work on the machine skews results)"
: >"$RESULTS"
for op in $OPS; do
    for size in $SIZES; do
        keys=$KEYS_SMALL
        [ "$size" -ge 1048576 ] && keys=$KEYS_LARGE
        for s in "${RUNNING[@]}"; do
            log "$op $size B -> $s (c=$CONCURRENCY, ${DURATION}s)"
            # Bounded: warm-up + run + generous time for pre-population. Run in
            # the background and `wait`, so INT/TERM reach the trap at once.
            timeout --kill-after=5 $((WARMUP + DURATION + 240)) "$LOAD" \
                --endpoint "http://127.0.0.1:${PORT[$s]}" --access-key "$AK" --secret-key "$SK" \
                --region "$REGION" --bucket bench --create-bucket --op "$op" --size "$size" \
                --concurrency "$CONCURRENCY" --duration "$DURATION" --warmup "$WARMUP" \
                --keys "$keys" --threads "$THREADS" --server-pid "${PID[$s]}" >"$WORK/run.json" &
            PID[load]=$!
            if wait "${PID[load]}"; then
                printf '%s\t%s\n' "$s" "$(cat "$WORK/run.json")" >>"$RESULTS"
            else
                log "WARNING: run failed: $op $size $s"
                printf '%s\t{"op":"%s","size":%s,"failed":true}\n' "$s" "$op" "$size" >>"$RESULTS"
            fi
            unset 'PID[load]'
        done
    done
done

# ----------------------------------------------------------------- table
python3 - "$RESULTS" "$CONCURRENCY" "$DURATION" "$(nproc)" "$LOADAVG" <<'EOF'
import json, sys
path, conc, dur, ncpu, loadavg = sys.argv[1:]
rows = []
for line in open(path):
    server, js = line.rstrip("\n").split("\t", 1)
    r = json.loads(js); r["server"] = server; rows.append(r)

def size_str(n):
    return f"{n // 1048576} MiB" if n >= 1048576 else f"{n // 1024} KiB"

print(f"\nS3 benchmark: concurrency {conc}, {dur} s per run, {ncpu} CPUs "
      f"(CPU% = share of one core; machine total = {int(ncpu) * 100}%), load avg before: {loadavg}")
hdr = f"{'op':<4} {'size':>6}  {'server':<7} {'ops/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'client CPU%':>11} {'server CPU%':>11}"
print(hdr); print("-" * len(hdr))
by = {}
for r in rows:
    by[(r["op"], r["size"], r["server"])] = r
    if r.get("failed"):
        print(f"{r['op'].upper():<4} {size_str(r['size']):>6}  {r['server']:<7} {'FAILED':>9}")
        continue
    srv = "-" if r["server_cpu_pct"] is None else f"{r['server_cpu_pct']:.0f}"
    print(f"{r['op'].upper():<4} {size_str(r['size']):>6}  {r['server']:<7} {r['ops_per_sec']:>9.0f} "
          f"{r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['errors']:>6} {r['client_cpu_pct']:>11.0f} {srv:>11}")

targets = {("put", 4096): 2.5, ("get", 4096): 10.0}
print(f"\n{'op':<4} {'size':>6}  {'tandem/s3s-fs':>13} {'tandem/moto':>11}  target vs s3s-fs")
def ratio_of(a, b, k):
    x, y = by.get(k + (a,)), by.get(k + (b,))
    if not x or not y or x.get("failed") or y.get("failed") or not y["ops_per_sec"]:
        return None
    return x["ops_per_sec"] / y["ops_per_sec"]

seen = []
for r in rows:
    k = (r["op"], r["size"])
    if k in seen: continue
    seen.append(k)
    def ratio(peer):
        t, p = by.get(k + ("tandem",)), by.get(k + (peer,))
        if not t or not p or t.get("failed") or p.get("failed") or not p["ops_per_sec"]:
            return None
        return t["ops_per_sec"] / p["ops_per_sec"]
    a, b = ratio("s3s-fs"), ratio("moto")
    with_policy = ratio_of("tandem-policy", "tandem", k)
    if with_policy is not None:
        print(f"{k[0].upper():<4} {size_str(k[1]):>6}  tandem with a 20-statement policy / without: {with_policy:.2f}x "
              f"(target >= 0.95x: {'PASS' if with_policy >= 0.95 else 'FAIL'})")
    want = targets.get(k, 2.0 if k[1] >= 1048576 else None)
    verdict = "" if want is None else f">= {want:g}x: " + ("n/a" if a is None else ("PASS" if a >= want else "FAIL"))
    fmt = lambda x: "n/a" if x is None else f"{x:.2f}x"
    print(f"{k[0].upper():<4} {size_str(k[1]):>6}  {fmt(a):>13} {fmt(b):>11}  {verdict}")
print("\n'null' = s3-null, a do-nothing server: the load generator's ceiling on this machine.")
EOF
log "raw results: $RESULTS"
