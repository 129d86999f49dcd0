#!/usr/bin/env bash
# bench/identity/run.sh — sign-ins per second (USER_PASSWORD_AUTH and SRP)
# and GetCredentialsForIdentity per second, against `tandem serve` (one
# region with a user pool and an identity pool) and moto_server's
# cognito-idp/cognito-identity, both started by this run on free 127.0.0.1
# ports with data in a mktemp directory. Prints the argon2id cost tandem
# hashes with, a table, and the tandem/moto ratios. moto checks no SRP proof
# and hashes no password, so its numbers are an upper bound for a Python
# server, not a like-for-like peer. Not part of CI.
#
#   bench/identity/run.sh                        # 10 s per case and server
#   BENCH_DURATION=3 bench/identity/run.sh       # quick look
#
# BENCH_DURATION (10) seconds per case, BENCH_PROCS (4) client processes,
# BENCH_USERS (20) users signing in, BENCH_CASES ("password srp credentials"),
# BENCH_SKIP_BUILD (0) 1 = use the existing release binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib.sh
bench_workdir identity

DURATION=${BENCH_DURATION:-10}
PROCS=${BENCH_PROCS:-4}
USERS=${BENCH_USERS:-20}
CASES=${BENCH_CASES:-"password srp credentials"}

python3 -m pip install --quiet --disable-pip-version-check -r tests/e2e/requirements.txt "moto[server]==5.2.1" >&2
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    log "building tandem (release)"
    cargo build --release -p tandem >&2
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT[tandem]=$(free_port)
PORT[moto]=$(free_port)
KEY=BENCHADMINKEY0000001
SECRET=bench-admin-secret-00000000000000000001
SIGNING_KEY=$(python3 -c '
import base64
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
print(base64.b64encode(k.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())).decode())')

cat >"$WORK/tandem.toml" <<TOML
[[regions]]
name = "bench"
listen = "127.0.0.1:${PORT[tandem]}"
public_url = "http://127.0.0.1:${PORT[tandem]}"
data_dir = "$WORK/tandem-data"

[[access_keys]]
access_key_id = "$KEY"
secret_access_key = "$SECRET"
principal = "admin"
admin = true

[sts]
signing_key = "bench-session-signing-key-000000000000000000"

[[roles]]
name = "photos-user"
trust = []
policy = '''{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/private/\${cognito-identity.amazonaws.com:sub}/*"}]}'''

[identity]
signing_key = "$SIGNING_KEY"

[[identity.user_pools]]
id = "us-east-1_photos"
name = "photos"

[[identity.user_pools.clients]]
id = "photosweb"
name = "web"

[[identity.identity_pools]]
id = "us-east-1:photos"
user_pool = "us-east-1_photos"
role = "photos-user"
TOML

target/release/tandem serve --config "$WORK/tandem.toml" --region bench >"$WORK/tandem.log" 2>&1 &
PID[tandem]=$!
moto_server -H 127.0.0.1 -p "${PORT[moto]}" >"$WORK/moto.log" 2>&1 &
PID[moto]=$!

for server in tandem moto; do
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:${PORT[$server]}/" && break
        sleep 0.1
    done
done
argon2=$(grep -o 'argon2id m=[0-9]* KiB t=[0-9]* p=[0-9]*' "$WORK/tandem.log" | head -1 || true)
log "tandem hashes passwords with ${argon2:-(not logged: see tandem.log)}"
log "moto checks no SRP proof and hashes no password"

python3 bench/identity/identity_bench.py \
    --tandem "http://127.0.0.1:${PORT[tandem]}" --tandem-pid "${PID[tandem]}" \
    --moto "http://127.0.0.1:${PORT[moto]}" --moto-pid "${PID[moto]}" \
    --key "$KEY" --secret "$SECRET" \
    --tandem-pool '{"pool": "us-east-1_photos", "client": "photosweb", "identity_pool": "us-east-1:photos"}' \
    --cases "$CASES" --procs "$PROCS" --duration "$DURATION" --users "$USERS" \
    --results bench/.work/identity-results.jsonl
echo "argon2id cost: ${argon2:-unknown}"
