#!/usr/bin/env bash
# Runs every test of the repository: Rust unit and integration tests, then the
# end-to-end suite that drives real tandem processes with the aws CLI and boto3.
# Installs what the tests need that a fresh machine may lack.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> installing test dependencies"
python3 -m pip install --quiet --disable-pip-version-check -r tests/e2e/requirements.txt
source scripts/faketime.sh

echo "==> building (release)"
cargo build --release --workspace --locked

echo "==> Rust tests"
cargo test --release --workspace --locked

echo "==> end-to-end tests"
export TANDEM_BIN="$PWD/target/release/tandem"
python3 -m pytest -q tests/e2e "$@"
