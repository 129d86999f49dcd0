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

# A 20-statement identity policy (JSON, one line) for the load key of SERVICE
# (s3 or dynamodb): 19 statements about other resources, some with
# conditions, that never match, and the last allowing everything on the
# benchmark's own RESOURCES. Every request is evaluated against all 20.
twenty_statement_policy() {
    local service=$1
    shift
    python3 - "$service" "$@" <<'PY'
import json, sys
service, resources = sys.argv[1], sys.argv[2:]
other = "arn:aws:s3:::other-{}/*" if service == "s3" else "arn:aws:dynamodb:*:*:table/other-{}"
stmts = []
for i in range(19):
    s = {"Effect": "Allow", "Action": [f"{service}:Get*", f"{service}:Put*"], "Resource": other.format(i)}
    if i % 3 == 0:
        s["Condition"] = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    stmts.append(s)
stmts.append({"Effect": "Allow", "Action": f"{service}:*", "Resource": resources})
print(json.dumps({"Version": "2012-10-17", "Statement": stmts}))
PY
}
