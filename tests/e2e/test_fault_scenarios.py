"""The fault report's scenarios (tests/faults/scenarios.py) at CI size: each starts a
two-region deployment of its own, injects its fault under mixed S3 and DynamoDB load in
both regions, heals and audits. Every one must end with nothing acknowledged lost, no
divergence between the regions (`tandem replication diff` and a direct comparison), no
panic or abort, no 5xx other than the documented ones, and its own expectations met
(disk full: InsufficientStorage answers, reads going on and writes resuming without a
restart; clock far ahead: refusals counted and the local clock not dragged; ...).

`scripts/fault_report.sh` runs the same scenarios at full size (20 kill rounds, ...)
and prints the report table (tests/faults/REPORT.md).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))

import scenarios  # noqa: E402


def can_mount_tmpfs(tmp_path: Path) -> bool:
    d = tmp_path / "probe"
    d.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(d)], capture_output=True)
    if p.returncode == 0:
        subprocess.run(["umount", str(d)], check=False)
    return p.returncode == 0


def run(key: str, tandem_bin: Path, tmp_path: Path) -> scenarios.Row:
    row = scenarios.run_scenario(key, tandem_bin, tmp_path, short=True)
    print(f"\n{row.scenario}: {row.acked} acknowledged, {row.seconds} s; {'; '.join(row.notes)}")
    assert row.acked > 100, f"too little load to mean anything: {row}"
    assert row.ok(), (
        f"{row.scenario}: lost {row.lost}, divergence {row.divergence}, panics {row.panics}, "
        f"undocumented 5xx {row.undocumented_5xx}\nproblems: {row.problems}\ndetails:\n" + "\n".join(row.details)
    )
    return row


def test_kill_9_rounds_under_mixed_load_lose_nothing_and_converge(tandem_bin, tmp_path):
    run("kill9", tandem_bin, tmp_path)


@pytest.mark.parametrize("key", ["disk-full", "disk-full-no-reserve"])
def test_a_full_disk_refuses_writes_clearly_keeps_reads_and_recovers_without_restart(key, tandem_bin, tmp_path):
    if not can_mount_tmpfs(tmp_path):
        pytest.skip("cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN)")
    row = run(key, tandem_bin, tmp_path)
    assert row.documented_5xx.get("InsufficientStorage 507"), row


def test_a_flapping_partition_loses_nothing_and_converges(tandem_bin, tmp_path):
    run("flapping", tandem_bin, tmp_path)


def test_one_way_loss_of_requests_or_answers_loses_nothing_and_converges(tandem_bin, tmp_path):
    run("one-way", tandem_bin, tmp_path)


def test_clock_skew_of_5_s_each_way_converges_and_causal_overwrites_win(tandem_bin, tmp_path):
    run("clock-skew", tandem_bin, tmp_path)


def test_a_clock_far_ahead_is_held_off_counted_and_converges_once_allowed(tandem_bin, tmp_path):
    run("clock-ahead", tandem_bin, tmp_path)
