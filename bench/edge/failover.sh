#!/usr/bin/env bash
# bench/edge/failover.sh — steady GET and PUT load through `tandem edge` (app
# origin, automatic failover) while the primary region gets kill -9: prints
# the errors and the longest stall clients saw, and how soon writes are
# accepted again (targets: GET 0 errors, stall < 1 s; PUT again < 2 s).
# The driver is bench/edge/failover.py; it reuses bench/failover's cluster.
#
#   bench/edge/failover.sh                      # 3 s before the kill, 5 s after
#   BENCH_SKIP_BUILD=1 bench/edge/failover.sh   # use the existing release binary
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib.sh
bench_workdir edge-failover

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    log "building tandem (release)"
    cargo build --release -p tandem >&2
fi
TANDEM=${CARGO_TARGET_DIR:-$PWD/target}/release/tandem
python3 bench/edge/failover.py --tandem "$TANDEM" --work "$WORK" \
    --get-threads "${BENCH_GET_THREADS:-4}" --put-threads "${BENCH_PUT_THREADS:-2}" \
    --pre "${BENCH_PRE:-3}" --post "${BENCH_POST:-5}"
