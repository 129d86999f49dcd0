#!/usr/bin/env bash
# Runs every test of the repository: Rust unit and integration tests (the
# store's on both backends), a short fuzz run of every fuzz target and of the
# random-request fuzzer, the end-to-end suite that drives real tandem
# processes with the aws CLI and boto3 (and its storage suites again on the
# PostgreSQL backend), then the photos app in headless Chromium (tests/browser).
# Installs what the tests need that a fresh machine may lack.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> installing test dependencies"
python3 -m pip install --quiet --disable-pip-version-check -r tests/e2e/requirements.txt
source scripts/faketime.sh
source scripts/dig.sh
source scripts/s3_clients.sh
# test_edge.py checks TLS + HTTP/2 with curl.
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl; }
source scripts/photos_app.sh
# The console bundles its chart library: it must be the published package.
bash scripts/console_vendor.sh
# A throw-away PostgreSQL cluster for the suites that run on the PostgreSQL
# backend (exports TANDEM_TEST_POSTGRES; stopped when this script exits).
source scripts/postgres.sh

echo "==> checking that both lock files are current"
# The fuzz workspace has its own Cargo.lock; a crate added to the main
# workspace must be added there too (cd fuzz && cargo update --workspace).
cargo metadata --locked --format-version 1 >/dev/null
cargo metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml >/dev/null

echo "==> building (release)"
cargo build --release --workspace --locked

echo "==> Rust tests"
env -u TANDEM_TEST_POSTGRES cargo test --release --workspace --locked

echo "==> store tests on the PostgreSQL backend, bodies in files and then in PostgreSQL"
cargo test --release --locked -p tandem-store
TANDEM_TEST_BODIES=postgres cargo test --release --locked -p tandem-store

echo "==> fuzz smoke: every fuzz target for 20,000 inputs or 15 s"
bash scripts/fuzz.sh --smoke

echo "==> random-request fuzzer against a node (bounded)"
python3 tests/fuzz/request_fuzzer.py --binary target/release/tandem --requests 3000 --seconds 45

echo "==> end-to-end tests"
export TANDEM_BIN="$PWD/target/release/tandem"
python3 -m pytest -q tests/e2e "$@"

echo "==> end-to-end tests on the PostgreSQL backend with bodies in PostgreSQL (S3, DynamoDB, replication, apps and failover)"
TANDEM_E2E_BACKEND=postgres TANDEM_E2E_BODIES=postgres python3 -m pytest -q \
    tests/e2e/test_objects.py tests/e2e/test_buckets.py tests/e2e/test_listing.py \
    tests/e2e/test_multipart.py tests/e2e/test_versioning.py tests/e2e/test_crash.py \
    tests/e2e/test_dynamo_items.py tests/e2e/test_dynamo_query_scan.py tests/e2e/test_dynamo_tables.py \
    tests/e2e/test_dynamo_indexes.py tests/e2e/test_dynamo_batch_transact.py tests/e2e/test_dynamo_streams.py \
    tests/e2e/test_replication_objects.py tests/e2e/test_replication_tables.py \
    tests/e2e/test_apps.py tests/e2e/test_failover.py tests/e2e/test_postgres_backend.py "$@"

echo "==> browser tests (the photos app in headless chromium through the edge)"
node --test --test-reporter=spec tests/browser/
