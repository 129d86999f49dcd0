#!/usr/bin/env bash
# bench/dynamo/run.sh — DynamoDB PutItem/GetItem/Query benchmark: tandem vs peers.
#
# Starts tandem, dynalite in memory, dynalite on disk (--path) and moto_server
# on free 127.0.0.1 ports (data in a mktemp dir; on exit exactly those
# processes are killed and the dir removed), drives each with `dynamo-load`
# for put, get and query, then prints ops/s, p50/p99, errors, client/server
# CPU and the tandem/peer throughput ratios next to the targets
# (GetItem >= 1.5x dynalite in memory, PutItem >= 1x dynalite on disk).
#
# Environment (all optional):
#   BENCH_DURATION=10      measured seconds per run
#   BENCH_CONCURRENCY=32   requests in flight (= connections)
#   BENCH_WARMUP=1         unmeasured seconds before each run
#   BENCH_SERVERS="tandem dynalite-mem dynalite-disk moto"   subset/order; add
#       "tandem-policy" for tandem with a 20-statement identity policy on the
#       load key (its ratio to tandem is printed)
#   BENCH_OPS="put get query"
#   BENCH_ITEMS=1000       distinct items (10 per partition)
#   BENCH_ITEM_SIZE=200    bytes of each item's data attribute
#   BENCH_THREADS=1        dynamo-load runtime threads
#   BENCH_SKIP_BUILD=1     use the existing release binaries
#   BENCH_ROUNDS=1         runs per server and op, in alternating order (A B, B A, ...);
#                          the report keeps each server's median run, so neither
#                          server gains from always running first
set -euo pipefail

DURATION=${BENCH_DURATION:-10}
ROUNDS=${BENCH_ROUNDS:-1}
CONCURRENCY=${BENCH_CONCURRENCY:-32}
WARMUP=${BENCH_WARMUP:-1}
SERVERS=${BENCH_SERVERS:-"tandem dynalite-mem dynalite-disk moto"}
OPS=${BENCH_OPS:-"put get query"}
ITEMS=${BENCH_ITEMS:-1000}
ITEM_SIZE=${BENCH_ITEM_SIZE:-200}
THREADS=${BENCH_THREADS:-1}
DYNALITE_VERSION=4.0.0

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORKDIR=$ROOT/bench/.work
DYNALITE=$WORKDIR/dynalite/node_modules/.bin/dynalite
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
RESULTS=$WORKDIR/dynamo-results.jsonl
AK=AKIABENCH0000000001
SK=benchsecret000000000000000000000000001

source "$ROOT/bench/lib.sh"

# --------------------------------------------------- processes and cleanup
bench_workdir dynamo

# ------------------------------------------------------------ preparation
mkdir -p "$WORKDIR"
if [[ " $SERVERS " == *" dynalite-"* && ! -x $DYNALITE ]]; then
    log "installing dynalite $DYNALITE_VERSION into bench/.work/dynalite"
    npm install --prefix "$WORKDIR/dynalite" --no-audit --no-fund --loglevel=error "dynalite@$DYNALITE_VERSION" >&2
fi
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    log "building dynamo-load and tandem (release)"
    (cd "$ROOT" && cargo build --release -p tandem-bench-dynamo >&2)
    (cd "$ROOT" && cargo build --release -p tandem >&2) || {
        log "WARNING: tandem does not build; it is skipped (a stale binary would mislead)"
        NO_TANDEM=1
    }
fi
# pyenv's moto_server shim is a bash script that does not exec the server, so
# its pid would show no CPU: start the real entry point.
MOTO=$(pyenv which moto_server 2>/dev/null || command -v moto_server || true)

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ready NAME URL [STATUS]: wait until URL answers (with STATUS, if given).
ready() {
    local code
    for _ in $(seq 150); do
        kill -0 "${PID[$1]}" 2>/dev/null || { log "WARNING: $1 exited at startup:"; tail -5 "$WORK/$1.log" >&2; return 1; }
        code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$2" || true)
        if [[ -z ${3:-} && $code != 000 ]] || [[ $code == "${3:-}" ]]; then return 0; fi
        sleep 0.2
    done
    log "WARNING: $1 not ready after 30 s"
    return 1
}

launch() {
    local name=$1 port
    port=$(free_port)
    PORT[$name]=$port
    case $name in
    tandem | tandem-policy)
        [ -z "${NO_TANDEM:-}" ] && [ -x "$BIN/tandem" ] || return 1
        printf '[[regions]]\nname = "us-east"\nlisten = "127.0.0.1:%s"\ndata_dir = "%s"\n[[access_keys]]\naccess_key_id = "%s"\nsecret_access_key = "%s"\n' \
            "$port" "$WORK/$name-data" "$AK" "$SK" >"$WORK/$name.toml"
        if [ "$name" = tandem-policy ]; then
            echo "policy = '$(twenty_statement_policy dynamodb 'arn:aws:dynamodb:*:*:table/*')'" >>"$WORK/$name.toml"
        fi
        "$BIN/tandem" serve --config "$WORK/$name.toml" --region us-east >"$WORK/$name.log" 2>&1 &
        PID[$name]=$!
        ready "$name" "http://127.0.0.1:$port/health" 200
        ;;
    dynalite-mem)
        "$DYNALITE" --host 127.0.0.1 --port "$port" >"$WORK/$name.log" 2>&1 &
        PID[$name]=$!
        ready "$name" "http://127.0.0.1:$port/"
        ;;
    dynalite-disk)
        "$DYNALITE" --host 127.0.0.1 --port "$port" --path "$WORK/dynalite-data" >"$WORK/$name.log" 2>&1 &
        PID[$name]=$!
        ready "$name" "http://127.0.0.1:$port/"
        ;;
    moto)
        [ -n "$MOTO" ] || { log "WARNING: moto_server not on PATH"; return 1; }
        "$MOTO" -H 127.0.0.1 -p "$port" >"$WORK/moto.log" 2>&1 &
        PID[$name]=$!
        ready "$name" "http://127.0.0.1:$port/"
        ;;
    *) log "unknown server $name"; return 1 ;;
    esac
}

UP=()
for s in $SERVERS; do
    if launch "$s"; then
        UP+=("$s")
        log "$s on 127.0.0.1:${PORT[$s]} (pid ${PID[$s]})"
    elif [ -n "${PID[$s]:-}" ]; then
        kill -KILL "${PID[$s]}" 2>/dev/null || true
        unset "PID[$s]"
    fi
done
[ ${#UP[@]} -gt 0 ] || { log "no server started"; exit 1; }

# ------------------------------------------------------------------- runs
read -r LOADAVG _ </proc/loadavg
: >"$RESULTS"
for op in $OPS; do
  for round in $(seq 1 "$ROUNDS"); do
    ORDER=("${UP[@]}")
    if [ $((round % 2)) = 0 ]; then
        ORDER=()
        for ((i = ${#UP[@]} - 1; i >= 0; i--)); do ORDER+=("${UP[$i]}"); done
    fi
    for s in "${ORDER[@]}"; do
        log "$op -> $s (concurrency $CONCURRENCY, ${DURATION} s)"
        # Bounded (warm-up + run + time to write the items); run in the
        # background and `wait` so that Ctrl-C reaches the trap at once.
        timeout --kill-after=5 $((WARMUP + DURATION + 180)) "$BIN/dynamo-load" \
            --endpoint "http://127.0.0.1:${PORT[$s]}" --access-key "$AK" --secret-key "$SK" \
            --op "$op" --concurrency "$CONCURRENCY" --duration "$DURATION" --warmup "$WARMUP" \
            --items "$ITEMS" --item-size "$ITEM_SIZE" --threads "$THREADS" --create-table \
            --server-pid "${PID[$s]}" >"$WORK/out.json" 2>"$WORK/load.err" &
        PID[load]=$!
        status=0
        wait "${PID[load]}" || status=$?
        sed "s/^/    [$s] /" "$WORK/load.err" >&2
        if [ $status = 0 ]; then
            printf '%s\t%s\n' "$s" "$(cat "$WORK/out.json")" >>"$RESULTS"
        else
            log "WARNING: $op against $s failed"
            printf '%s\t{"op":"%s","failed":true}\n' "$s" "$op" >>"$RESULTS"
        fi
        unset 'PID[load]'
    done
  done
done

# ------------------------------------------------------------------ report
python3 - "$RESULTS" "$CONCURRENCY" "$DURATION" "$(nproc)" "$LOADAVG" "$ITEMS" "$ITEM_SIZE" <<'EOF'
import json, sys
path, conc, dur, ncpu, load, items, size = sys.argv[1:]
runs = {}
for line in open(path):
    server, js = line.rstrip("\n").split("\t", 1)
    runs.setdefault((json.loads(js)["op"], server), []).append(json.loads(js))
# Each server's median run by throughput (BENCH_ROUNDS); a failed run only
# when every run failed.
res = {}
for key, rs in runs.items():
    ok = sorted((r for r in rs if not r.get("failed")), key=lambda r: r["ops_per_sec"])
    res[key] = ok[len(ok) // 2] if ok else rs[0]
ops = list(dict.fromkeys(op for op, _ in res))
servers = list(dict.fromkeys(s for _, s in res))
print(f"\nDynamoDB benchmark: concurrency {conc}, {dur} s per run, {items} items of {size} B, "
      f"{ncpu} CPUs (CPU% = share of one core), load avg before: {load}")
head = f"{'op':<6} {'server':<14} {'ops/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'client CPU%':>11} {'server CPU%':>11}"
print(head); print("-" * len(head))
for op in ops:
    for s in servers:
        r = res.get((op, s))
        if r is None: continue
        if r.get("failed"):
            print(f"{op:<6} {s:<14} {'FAILED':>9}"); continue
        cpu = lambda v: "-" if v is None else f"{v:.0f}"
        print(f"{op:<6} {s:<14} {r['ops_per_sec']:>9.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
              f"{r['errors']:>6} {cpu(r['client_cpu_pct']):>11} {cpu(r['server_cpu_pct']):>11}")

def ratio(op, peer):
    t, p = res.get((op, "tandem")), res.get((op, peer))
    if not t or not p or t.get("failed") or p.get("failed") or not p["ops_per_sec"]:
        return None
    return t["ops_per_sec"] / p["ops_per_sec"]
targets = {"get": ("dynalite-mem", 1.5), "put": ("dynalite-disk", 1.0)}
peers = ["dynalite-mem", "dynalite-disk", "moto"]
print(f"\nthroughput ratio tandem/peer")
print(f"{'op':<6} " + " ".join(f"{'/' + p:>14}" for p in peers) + "  target")
for op in ops:
    fmt = lambda x: "n/a" if x is None else f"{x:.2f}x"
    line = f"{op:<6} " + " ".join(f"{fmt(ratio(op, p)):>14}" for p in peers)
    if op in targets:
        peer, want = targets[op]
        got = ratio(op, peer)
        line += f"  >= {want:g}x {peer}: " + ("n/a" if got is None else "PASS" if got >= want else "FAIL")
    print(line)
for op in ops:
    t, p = res.get((op, "tandem-policy")), res.get((op, "tandem"))
    if t and p and not t.get("failed") and not p.get("failed") and p["ops_per_sec"]:
        got = t["ops_per_sec"] / p["ops_per_sec"]
        print(f"{op:<6} tandem with a 20-statement policy / without: {got:.2f}x (target >= 0.95x: {'PASS' if got >= 0.95 else 'FAIL'})")
print("\ntandem verifies every signature and fsyncs every write; dynalite does neither.")
EOF
log "raw results: $RESULTS"
