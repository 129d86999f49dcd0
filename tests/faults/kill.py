"""kill -9 of a region under mixed S3 and DynamoDB load, alternating regions, round
after round; the killed region restarts on its data dir each time."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from deployment import Row, deployment, finish, loaded
from faultload import TOKYO, US


# --------------------------------------------------------------------------- kill -9


@dataclass
class Kill9:
    rounds: int = 20
    load_s: float = 3.0
    down_s: float = 1.0

    name = "kill -9 under load"

    @staticmethod
    def short() -> "Kill9":
        return Kill9(rounds=2, load_s=1.5, down_s=0.5)

    def params(self) -> str:
        return f"{self.rounds} rounds, {self.load_s:g} s load + {self.down_s:g} s down each, alternating regions"

    def run(self, binary: Path, root: Path) -> Row:
        row = Row(self.name, self.params())
        with deployment(row, binary, root) as dep:
            dep.start()
            setup, ledger, load = loaded(dep, "kill9", pause=0.02)
            kills = {US: 0, TOKYO: 0}
            try:
                for i in range(self.rounds):
                    time.sleep(self.load_s)
                    victim = dep.pair.names[i % 2]
                    dep.kill(victim)
                    kills[victim] += 1
                    time.sleep(self.down_s)
                    dep.start(victim)
                time.sleep(1.0)
            finally:
                finish(row, dep, setup, ledger, load)
            row.notes.append(f"kills: us-east {kills[US]}, ap-tokyo {kills[TOKYO]}")
            row.notes.append(f"{row.other_failures} writes failed while a region was down (connection refused/reset)")
        return row
