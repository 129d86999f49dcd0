"""Network faults on the replication links (the fault proxy in front of each region's
replication_url; clients talk to the regions directly): a flapping partition of
both links, and one-way loss — requests lost, answers lost, one direction refused
while the other flows."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

from deployment import Row, applied_from, deployment, finish, loaded
from faultload import TOKYO, US
from regions import wait_until


# --------------------------------------------------------------------------- partitions


@dataclass
class Flapping:
    flaps: int = 20
    min_s: float = 0.3
    max_s: float = 2.0

    name = "flapping partition"

    @staticmethod
    def short() -> "Flapping":
        return Flapping(flaps=5, min_s=0.2, max_s=0.8)

    def params(self) -> str:
        return (
            f"{self.flaps} cuts of both links, each {self.min_s:g}-{self.max_s:g} s, "
            f"healed {self.min_s:g}-{self.max_s:g} s between; refused and black-holed in turn"
        )

    def run(self, binary: Path, root: Path) -> Row:
        row = Row(self.name, self.params())
        rng = random.Random("flapping")
        with deployment(row, binary, root, proxies=True) as dep:
            dep.start()
            setup, ledger, load = loaded(dep, "flap", pause=0.03)
            cut_total = 0.0
            try:
                time.sleep(1.0)
                for i in range(self.flaps):
                    mode = "partition" if i % 2 == 0 else "blackhole"
                    cut = rng.uniform(self.min_s, self.max_s)
                    with dep.pair.partitioned(mode=mode):
                        time.sleep(cut)
                    cut_total += cut
                    time.sleep(rng.uniform(self.min_s, self.max_s))
                time.sleep(1.0)
            finally:
                finish(row, dep, setup, ledger, load)
            row.notes.append(f"links down {cut_total:.1f} s in all")
            if ledger.failures:
                row.problems.append(f"client writes failed though clients never crossed the proxies: {ledger.failures[0]}")
        return row


@dataclass
class OneWay:
    hold_s: float = 8.0

    name = "one-way loss"

    @staticmethod
    def short() -> "OneWay":
        return OneWay(hold_s=2.5)

    def params(self) -> str:
        return (
            f"{self.hold_s:g} s each: requests us-east->ap-tokyo lost; answers ap-tokyo->us-east "
            f"lost (batches applied, sender resends); link into ap-tokyo refused, the other way up"
        )

    def run(self, binary: Path, root: Path) -> Row:
        row = Row(self.name, self.params())
        with deployment(row, binary, root, proxies=True) as dep:
            dep.start()
            pair = dep.pair
            setup, ledger, load = loaded(dep, "oneway", pause=0.03)
            try:
                time.sleep(1.0)
                # 1. Into ap-tokyo, requests are lost: us-east's batches never arrive.
                self.phase(pair, TOKYO, "drop-up")
                # 2. Out of us-east, answers are lost: ap-tokyo's batches are applied in us-east
                #    but ap-tokyo never hears, times out or is reset, and sends them again.
                stale0 = applied_from(pair, US, TOKYO)["stale"]
                self.phase(pair, US, "drop-down")
                pair.wait_in_sync(timeout=30)
                resent = applied_from(pair, US, TOKYO)["stale"] - stale0
                row.notes.append(f"{resent} changes re-sent after lost answers were applied again as stale (idempotent)")
                # 3. The link into ap-tokyo is refused; ap-tokyo -> us-east keeps flowing.
                self.phase(pair, TOKYO, "partition")
                time.sleep(1.0)
            finally:
                finish(row, dep, setup, ledger, load)
            lost_bytes = {n: pair.proxy(n).stats() for n in pair.names}
            row.notes.append(
                f"proxy lost {lost_bytes[TOKYO]['bytes_lost_client_to_target']} request bytes into ap-tokyo, "
                f"{lost_bytes[US]['bytes_lost_target_to_client']} answer bytes out of us-east"
            )
            if ledger.failures:
                row.problems.append(f"client writes failed though clients never crossed the proxies: {ledger.failures[0]}")
        return row

    def phase(self, pair, into: str, mode: str) -> None:
        """Holds `mode` on the link into region `into` for hold_s while the other direction is
        checked to keep flowing."""
        other = pair.other(into)
        px = pair.proxy(into)
        px.partition(mode)
        try:
            t_end = time.monotonic() + self.hold_s
            # The other direction (into `other`) keeps delivering.
            before = applied_from(pair, other, into)["applied"]
            wait_until(
                lambda: applied_from(pair, other, into)["applied"] > before,
                timeout=self.hold_s + 5,
                what=f"{into} -> {other} keeps delivering while {mode} holds into {into}",
            )
            time.sleep(max(0.0, t_end - time.monotonic()))
        finally:
            px.heal()
