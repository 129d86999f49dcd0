#!/usr/bin/env bash
# bench/dns/run.sh — queries per second of one cached answer (a static A
# record) with dnsperf, against `tandem dns` and against nsd serving the same
# zone, both started by this run on free 127.0.0.1 ports. Prints both and the
# tandem/nsd ratio (target >= 0.5). Installs dnsperf and nsd with apt-get if
# they are missing. Not part of CI.
#
#   bench/dns/run.sh                        # 10 s per server
#   BENCH_DURATION=3 bench/dns/run.sh       # quick look
#
# BENCH_DURATION (10) seconds of load per server, BENCH_OUTSTANDING (100)
# queries in flight, BENCH_CLIENTS (1) dnsperf threads/sockets,
# BENCH_SKIP_BUILD (0) 1 = use the existing release binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib.sh
bench_workdir dns

DURATION=${BENCH_DURATION:-10}
OUTSTANDING=${BENCH_OUTSTANDING:-100}
CLIENTS=${BENCH_CLIENTS:-1}

need=()
command -v dnsperf >/dev/null 2>&1 || need+=(dnsperf)
command -v nsd >/dev/null 2>&1 || need+=(nsd)
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
# The package starts a system nsd on port 53; this run starts its own.
systemctl stop nsd >/dev/null 2>&1 || true

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    log "building tandem (release)"
    cargo build --release -p tandem >&2
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT[tandem]=$(free_port)
PORT[nsd]=$(free_port)

# The zone, for both servers.
cat >"$WORK/bench.test.zone" <<ZONE
\$TTL 60
@   IN SOA ns1.bench.test. hostmaster.bench.test. 1 3600 600 86400 60
@   IN NS  ns1.bench.test.
www IN A   192.0.2.1
ZONE
cat >"$WORK/tandem.toml" <<TOML
[[regions]]
name = "bench"
listen = "127.0.0.1:1"
data_dir = "$WORK/unused"

[[access_keys]]
access_key_id = "BENCHUNUSEDKEY000001"
secret_access_key = "bench-unused-secret-0000000000000001"

[dns]
listen = "127.0.0.1:${PORT[tandem]}"

[dns.rate_limit]
responses_per_sec = 4000000000
burst = 4000000000

[[dns.zones]]
name = "bench.test"

[[dns.zones.records]]
name = "www"
type = "A"
values = ["192.0.2.1"]
TOML
cat >"$WORK/nsd.conf" <<CONF
server:
    ip-address: 127.0.0.1@${PORT[nsd]}
    port: ${PORT[nsd]}
    username: ""
    chroot: ""
    zonesdir: "$WORK"
    pidfile: "$WORK/nsd.pid"
    database: ""
    xfrdfile: "$WORK/xfrd.state"
    zonelistfile: "$WORK/zone.list"
    logfile: "$WORK/nsd.log"
    server-count: 1
    verbosity: 0
    # Rate limiting off, as in tandem's config above (both would throttle one source).
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: bench.test
    zonefile: bench.test.zone
CONF
echo "www.bench.test A" >"$WORK/queries.txt"

TANDEM_LOG=warn target/release/tandem dns --config "$WORK/tandem.toml" >"$WORK/tandem.stdout" 2>&1 &
PID[tandem]=$!
nsd -d -c "$WORK/nsd.conf" >"$WORK/nsd.stdout" 2>&1 &
PID[nsd]=$!

wait_answer() {
    for _ in $(seq 100); do
        if dig @127.0.0.1 -p "$1" +time=1 +tries=1 +short www.bench.test A 2>/dev/null | grep -q 192.0.2.1; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

declare -A QPS=()
for server in tandem nsd; do
    if ! wait_answer "${PORT[$server]}"; then
        log "$server does not answer; skipped: $(tail -3 "$WORK/$server.stdout" 2>/dev/null | tr '\n' ' ')"
        QPS[$server]=n/a
        continue
    fi
    log "$server: dnsperf for ${DURATION}s, $OUTSTANDING in flight, $CLIENTS client(s)"
    out=$(timeout $((DURATION + 30)) dnsperf -s 127.0.0.1 -p "${PORT[$server]}" -d "$WORK/queries.txt" \
        -l "$DURATION" -q "$OUTSTANDING" -c "$CLIENTS" -T "$CLIENTS" 2>&1 || true)
    echo "$out" | grep -E "Queries (sent|completed|lost)|Response codes|Queries per second|Average Latency" | sed "s/^/  $server: /" >&2
    QPS[$server]=$(echo "$out" | awk '/Queries per second/ {print $4}')
    [ -n "${QPS[$server]}" ] || QPS[$server]=n/a
done

printf '\n%-8s %14s\n' server "queries/s"
for server in tandem nsd; do
    printf '%-8s %14s\n' "$server" "${QPS[$server]}"
done
if [[ ${QPS[tandem]} != n/a && ${QPS[nsd]} != n/a ]]; then
    ratio=$(python3 -c "print(f'{${QPS[tandem]}/${QPS[nsd]}:.2f}')")
    echo "tandem/nsd = ${ratio}x (target >= 0.5x)"
fi
