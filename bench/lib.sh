# bench/lib.sh — sourced by the bench scripts: logging, a scratch directory,
# and a cleanup trap that stops exactly the processes a script started
# (recorded in PID[name]) and removes the directory, on exit or Ctrl-C.
#
#   source "$(dirname "$0")/../lib.sh"
#   bench_workdir s3          # sets WORK, installs the trap
#   PID[tandem]=$!            # after starting a server in the background

log() { printf '[bench] %s\n' "$*" >&2; }

declare -A PID=() PORT=()

bench_cleanup() {
    trap - EXIT INT TERM
    if [ ${#PID[@]} -gt 0 ]; then
        kill -TERM "${PID[@]}" 2>/dev/null || true
        # Escalate to KILL for anything that ignores TERM for 5 s.
        (sleep 5; kill -KILL "${PID[@]}" 2>/dev/null) &
        local dog=$!
        wait "${PID[@]}" 2>/dev/null || true
        kill "$dog" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}

bench_workdir() {
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/tandem-bench-$1.XXXXXX")
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}
