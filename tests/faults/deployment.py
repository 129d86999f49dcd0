"""What every fault scenario shares: a two-region deployment that counts panics and
exits nobody asked for (`Deployment`), the report row of counts (`Row`), and the
load's start and the audit at the end (`loaded`, `finish`). See scenarios.py.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from faultload import Audit, Ledger, Load, audit, two_way_setup  # noqa: E402
from regions import RegionPair  # noqa: E402

PANIC_PATTERNS = re.compile(
    r"panicked at|stack overflow|fatal runtime error|Aborted|SIGSEGV|SIGABRT|memory allocation of \d+ bytes failed"
)
MIB = 1024 * 1024


# --------------------------------------------------------------------------- results


@dataclass
class Row:
    scenario: str
    params: str
    acked: int = 0
    lost: int = 0
    divergence: int = 0
    panics: int = 0
    undocumented_5xx: int = 0
    documented_5xx: dict = field(default_factory=dict)
    other_failures: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)  # examples behind non-zero counts

    def ok(self) -> bool:
        return not (self.lost or self.divergence or self.panics or self.undocumented_5xx or self.problems)

    def fill(self, ledger: Ledger, result: Audit) -> None:
        self.acked = ledger.acked()
        self.lost = len(result.lost)
        self.divergence = result.divergence
        self.undocumented_5xx = len(ledger.undocumented_5xx)
        self.documented_5xx = {f"{code} {status}": n for (code, status), n in sorted(ledger.documented_5xx.items())}
        self.other_failures = sum(ledger.other_failures.values())
        self.details += result.lost[:5] + result.divergent[:5] + result.other[:5]
        self.details += [f"5xx: {u}" for u in ledger.undocumented_5xx[:5]]
        if result.other:
            self.problems.append(f"{len(result.other)} other audit problems, e.g. {result.other[0][:300]}")


# --------------------------------------------------------------------------- deployment


class Deployment:
    """A RegionPair that keeps count of panics and of exits nobody asked for."""

    def __init__(self, binary: Path, root: Path, *, proxies: bool = False, extra_config: str = ""):
        self.pair = RegionPair(binary, root, proxies=proxies, extra_config=extra_config)
        self.unexpected_exits: list[str] = []
        self.mounts: list[Path] = []

    def start(self, *names: str) -> None:
        for n in names or self.pair.names:
            self.pair.start(n)

    def kill(self, name: str) -> None:
        self._check_alive(name)
        self.pair.kill(name)

    def stop(self, name: str) -> None:
        """SIGTERM; the node must exit 0."""
        if not self._check_alive(name):
            return
        self.pair.stop(name)
        rc = self.pair[name].proc.returncode
        if rc != 0:
            self.unexpected_exits.append(f"{name} exited {rc} on SIGTERM")

    def _check_alive(self, name: str) -> bool:
        """False (and counted) when the node's process has exited without being asked to."""
        node = self.pair[name]
        if node.proc is not None and node.proc.poll() is not None:
            self.unexpected_exits.append(f"{name} had exited by itself ({node.proc.returncode})")
            return False
        return node.proc is not None

    def mount_tmpfs(self, name: str, size_mb: int) -> Path:
        """Puts region `name`'s data dir on a tmpfs of its own (before it starts)."""
        d = self.pair[name].data_dir
        d.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(d)], check=True, capture_output=True)
        self.mounts.append(d)
        return d

    def panics(self) -> list[str]:
        found = []
        for name, node in self.pair.nodes.items():
            with contextlib.suppress(OSError):
                for line in node.log_path.read_text(errors="replace").splitlines():
                    if PANIC_PATTERNS.search(line):
                        found.append(f"{name}: {line.strip()[:300]}")
        return found + self.unexpected_exits

    def close(self) -> None:
        for n in self.pair.names:
            if self.pair[n].proc is not None:
                self.stop(n)
        self.pair.close()
        for d in self.mounts:
            subprocess.run(["umount", "-l", str(d)], check=False, capture_output=True)


@contextlib.contextmanager
def deployment(row: Row, binary: Path, root: Path, **kw):
    dep = Deployment(binary, root, **kw)
    t0 = time.monotonic()
    try:
        yield dep
    finally:
        try:
            dep.close()
        finally:
            row.seconds = round(time.monotonic() - t0, 1)
            panics = dep.panics()
            row.panics = len(panics)
            row.details += panics[:5]


def loaded(dep: Deployment, hint: str, **load_kw):
    """Setup of the load in both regions; returns (setup, ledger, load) with the load started."""
    setup = two_way_setup(dep.pair, hint)
    ledger = Ledger()
    load = Load(dep.pair, setup, ledger, seed=hint, **load_kw).start()
    return setup, ledger, load


def finish(row: Row, dep: Deployment, setup, ledger: Ledger, load: Load, sync_timeout: float = 45) -> None:
    load.stop()
    row.fill(ledger, audit(dep.pair, setup, ledger, sync_timeout=sync_timeout))


def applied_from(pair, region: str, origin: str) -> dict:
    """What `region` has applied from `origin` (its /_tandem/replication applied_from)."""
    st = pair.replication_status(region)
    return {"applied": 0, "stale": 0, "clock_refused": 0, **st.get("applied_from", {}).get(origin, {})}
