"""Fault scenarios between two real regions under mixed S3 and DynamoDB load.

Each scenario starts its own two-region deployment (`tandem serve` per region,
`regions.RegionPair`), runs the load of `faultload.Load` in both regions (a
versioned bucket per region replicating both ways, a global table) while it
injects one kind of fault, heals, and audits (`faultload.audit`). It returns a
`Row` with the counts of the fault report:

* writes acknowledged (object versions, delete markers, item puts and deletes);
* writes lost: acknowledged writes missing or different in either region;
* divergence after heal: what `tandem replication diff` reports plus what a
  direct comparison of both regions' listings and scans finds;
* panics and aborts: "panicked at", stack overflows and aborts in the node
  logs, and exits nobody asked for (a graceful stop must exit 0);
* 5xx answers other than the documented ones (`faultload.DOCUMENTED_5XX`),
  and, for information, the documented ones;

and `problems`: expectations of the scenario itself that did not hold (the
disk did not fill, a clock was not skewed, a refusal was not counted, ...).

The scenarios (parameters in each dataclass; `short()` is the CI size):

* `Kill9`: kill -9 of a region (alternating) mid-load, restart, N rounds;
* `DiskFull`: a region's data dir on a small tmpfs, filled to the last byte
  while both regions write; writes there must fail with InsufficientStorage
  (507), reads go on, and writes succeed again once the filler file is
  removed — with the free-space reserve on, and with it off (redb itself
  then hits ENOSPC and the store reopens its database);
* `Flapping`: both replication links cut and restored over and over
  (refused and black-holed connections, random durations);
* `OneWay`: one-way loss through the fault proxy: requests into ap-tokyo
  lost (its answers would flow), answers out of us-east lost (the batches
  are applied, the sender never hears and resends), then the link into
  ap-tokyo refused while the other direction works;
* `ClockSkew`: us-east's clock +5 s, ap-tokyo's -5 s (libfaketime): LWW
  still converges, and a write made in the slow region after it has seen a
  write of the fast one wins in both regions (the HLC observed it);
* `ClockAhead`: ap-tokyo's clock 10 min ahead, beyond the 5-minute guard:
  us-east refuses its batches (counted in status and metrics) and its own
  clock is not dragged ahead; ap-tokyo's clock is fixed and us-east's bound
  raised by the operator; everything converges with nothing lost.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clocks import ClockAhead, ClockSkew  # noqa: E402
from deployment import Row  # noqa: E402
from disk import DiskFull  # noqa: E402
from kill import Kill9  # noqa: E402
from network import Flapping, OneWay  # noqa: E402

SCENARIOS: dict[str, Callable[[bool], object]] = {
    "kill9": lambda short: Kill9.short() if short else Kill9(),
    "disk-full": lambda short: DiskFull.short() if short else DiskFull(),
    "disk-full-no-reserve": lambda short: DiskFull.short(reserve_mb=0) if short else DiskFull(reserve_mb=0),
    "flapping": lambda short: Flapping.short() if short else Flapping(),
    "one-way": lambda short: OneWay.short() if short else OneWay(),
    "clock-skew": lambda short: ClockSkew.short() if short else ClockSkew(),
    "clock-ahead": lambda short: ClockAhead.short() if short else ClockAhead(),
}


def run(scenario, binary: Path, root: Path) -> Row:
    """Runs one scenario; a scenario that breaks is a row that says so."""
    try:
        return scenario.run(binary, root)
    except BaseException as e:  # noqa: BLE001 - pytest.fail (a node that did not start) too
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        row = Row(scenario.name, scenario.params())
        row.problems.append(f"scenario failed: {type(e).__name__}: {str(e)[:1500]}")
        return row


def run_scenario(key: str, binary: Path, root: Path, short: bool = False) -> Row:
    return run(SCENARIOS[key](short), binary, root / key)


__all__ = ["SCENARIOS", "ClockAhead", "ClockSkew", "DiskFull", "Flapping", "Kill9", "OneWay", "Row", "run", "run_scenario"]
