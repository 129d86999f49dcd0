#!/usr/bin/env bash
# The fault report: builds tandem, then runs every fault scenario of
# tests/faults/scenarios.py at full size (20 kill -9 rounds, disk full with and
# without the free-space reserve, a flapping partition, one-way loss, clock skew
# of +-5 s and a clock far ahead) against real two-region deployments, and
# prints one page of markdown with the counts per scenario.
#
#   scripts/fault_report.sh                         # all, full size
#   scripts/fault_report.sh --short                 # the CI sizes
#   scripts/fault_report.sh --out tests/faults/REPORT.md kill9
#
# Needs root (the disk-full scenarios mount a tmpfs) and libfaketime (installed
# here when missing). Exit status 1 when a count that must be 0 is not.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/faketime.sh
python3 -m pip install --quiet --disable-pip-version-check -r tests/e2e/requirements.txt
cargo build --release -p tandem --locked
export TANDEM_BIN="$PWD/target/release/tandem"
exec python3 tests/faults/report.py "$@"
