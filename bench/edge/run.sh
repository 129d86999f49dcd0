#!/usr/bin/env bash
# bench/edge/run.sh — wrk through `tandem edge` and through nginx configured as
# an equivalent caching reverse proxy (upstream keep-alive), in the same run,
# in front of one tandem region: a cached 4 KiB object, a cached 1 MiB object
# and an uncached (proxied) 4 KiB object. Prints requests/s, p99 and the
# edge/nginx ratio (targets: cached >= 1.0x, proxied >= 0.8x). Not in CI.
#
#   bench/edge/run.sh                    # 3 rounds of 10 s per object and proxy
#   BENCH_DURATION=3 bench/edge/run.sh   # quick look
#   BENCH_ROUNDS=5 bench/edge/run.sh     # more alternating runs per object
#   BENCH_PIN=1 bench/edge/run.sh        # wrk on CPU 0, the servers on CPU 1,
#                                        # so the ratio is about the servers
#                                        # and not how the scheduler mixes them
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib.sh
bench_workdir edge

DURATION=${BENCH_DURATION:-10}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-2}
ROUNDS=${BENCH_ROUNDS:-3}
# With BENCH_PIN=1 the client and the servers get a core each.
CLIENT_CPU=(); SERVER_CPU=()
if [ "${BENCH_PIN:-0}" = 1 ]; then
    CLIENT_CPU=(taskset -c 0); SERVER_CPU=(taskset -c 1)
fi

for tool in nginx wrk; do
    if ! command -v "$tool" >/dev/null; then
        log "installing $tool (apt-get)"
        apt-get update -qq >/dev/null && apt-get install -y -qq "$tool" >/dev/null
    fi
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    log "building tandem (release)"
    cargo build --release -p tandem >&2
fi
TANDEM=${CARGO_TARGET_DIR:-$PWD/target}/release/tandem

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT[region]=$(free_port); PORT[edge]=$(free_port); PORT[nginx]=$(free_port)
KEY=AKIABENCHADMIN000001
SECRET=bench-admin-secret-0000000000000001

cat > "$WORK/tandem.toml" <<TOML
[[regions]]
name = "us-east"
listen = "127.0.0.1:${PORT[region]}"
data_dir = "$WORK/data"

[[access_keys]]
access_key_id = "$KEY"
secret_access_key = "$SECRET"
admin = true

[edge]
[[edge.nodes]]
name = "bench"
listen = "127.0.0.1:${PORT[edge]}"

[[edge.distributions]]
name = "bench"
[[edge.distributions.behaviors]]
path = "/cached/*"
sign = false
cache = { default_ttl_secs = 300 }
origin = { kind = "region", region = "us-east", bucket = "bench" }
[[edge.distributions.behaviors]]
sign = false
origin = { kind = "region", region = "us-east", bucket = "bench" }
TOML

TANDEM_LOG=warn "${SERVER_CPU[@]}" "$TANDEM" serve --config "$WORK/tandem.toml" --region us-east >"$WORK/region.log" 2>&1 &
PID[region]=$!
TANDEM_LOG=warn "${SERVER_CPU[@]}" "$TANDEM" edge --config "$WORK/tandem.toml" --name bench >"$WORK/edge.log" 2>&1 &
PID[edge]=$!

mkdir -p "$WORK/nginx/cache" "$WORK/nginx/logs" "$WORK/nginx/tmp"
cat > "$WORK/nginx/nginx.conf" <<NGINX
# Workers as this user: the scratch directory is private to it.
user $(id -un);
worker_processes auto;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    # Tuned as an operator would for this load: keep client connections
    # open (the default closes one every 1,000 requests), send cached files
    # with sendfile, and keep their descriptors open between hits.
    keepalive_requests 1000000;
    sendfile on;
    tcp_nopush on;
    open_file_cache max=1000 inactive=60s;
    proxy_cache_path $WORK/nginx/cache keys_zone=edge:16m max_size=1g inactive=10m;
    proxy_temp_path $WORK/nginx/tmp;
    client_body_temp_path $WORK/nginx/tmp;
    upstream origin { server 127.0.0.1:${PORT[region]}; keepalive 64; }
    server {
        listen 127.0.0.1:${PORT[nginx]};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host 127.0.0.1:${PORT[region]};
        location /cached/ {
            proxy_cache edge;
            proxy_cache_valid 200 300s;
            proxy_cache_lock on;
            proxy_ignore_headers Cache-Control Expires Set-Cookie;
            proxy_pass http://origin/bench/cached/;
        }
        location / { proxy_pass http://origin/bench/; }
    }
}
NGINX
"${SERVER_CPU[@]}" "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" >"$WORK/nginx.log" 2>&1 &
PID[nginx]=$!

for name in region edge nginx; do
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "http://127.0.0.1:${PORT[$name]}/" && break
        sleep 0.1
    done
done

log "uploading the objects (public-read, so nginx fetches them unsigned as the edge does)"
export AWS_ACCESS_KEY_ID=$KEY AWS_SECRET_ACCESS_KEY=$SECRET AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""
aws_s3() { aws --endpoint-url "http://127.0.0.1:${PORT[region]}" s3api "$@" >/dev/null; }
aws_s3 create-bucket --bucket bench
head -c 4096 /dev/urandom > "$WORK/4k"
head -c 1048576 /dev/urandom > "$WORK/1m"
aws_s3 put-object --bucket bench --key cached/4k --body "$WORK/4k" --acl public-read
aws_s3 put-object --bucket bench --key cached/1m --body "$WORK/1m" --acl public-read
aws_s3 put-object --bucket bench --key proxied/4k --body "$WORK/4k" --acl public-read

# wrk's "Requests/sec" and its 99% latency in ms.
run_wrk() {
    local out
    out=$(timeout $((DURATION + 30)) "${CLIENT_CPU[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$1" 2>&1) || true
    local rps p99 errors
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' <<<"$out")
    errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
    echo "${rps:-0} ${p99:-nan} ${errors:-none}"
}

# Each object is measured ROUNDS times, edge and nginx taking turns, and the
# ratio is taken of the medians: one 8-second run on a shared 2-core machine
# varies by 10-20%.
printf '\n%-12s %-6s %-8s %12s %10s   %s\n' object round proxy "req/s" "p99 ms" errors
declare -A RPS=()
for object in cached/4k cached/1m proxied/4k; do
    for proxy in edge nginx; do
        curl -s -o /dev/null "http://127.0.0.1:${PORT[$proxy]}/$object"   # warm the cache
    done
    for round in $(seq 1 "$ROUNDS"); do
        for proxy in edge nginx; do
            read -r rps p99 errors <<<"$(run_wrk "http://127.0.0.1:${PORT[$proxy]}/$object")"
            RPS[$object.$proxy]="${RPS[$object.$proxy]:-} $rps"
            printf '%-12s %-6s %-8s %12s %10s   %s\n' "$object" "$round" "$proxy" "$rps" "$p99" "$errors"
        done
    done
done
echo
for object in cached/4k cached/1m proxied/4k; do
    target=1.0; [ "$object" = proxied/4k ] && target=0.8
    python3 - "$object" "$target" "${RPS[$object.edge]}" "${RPS[$object.nginx]}" <<'PY'
import statistics, sys
object, target = sys.argv[1], float(sys.argv[2])
edge, nginx = (statistics.median(map(float, runs.split())) for runs in sys.argv[3:5])
ratio = edge / nginx if nginx else 0
print(f"{object:<12} median edge {edge:10.0f} req/s, nginx {nginx:10.0f}: edge/nginx {ratio:.2f}x (target >= {target}x)")
PY
done
if [ -s "$WORK/nginx/logs/error.log" ]; then
    log "nginx error log (last lines):"
    tail -5 "$WORK/nginx/logs/error.log" >&2
fi
