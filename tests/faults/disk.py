"""A full data volume: a region's data dir on a small tmpfs, filled to the last byte
while both regions write. Writes there must be refused with InsufficientStorage
(507), reads must go on, and writes must succeed again once space is freed,
without a restart — with the store's free-space reserve on, and off (then redb
itself hits ENOSPC and the store reopens its database)."""

from __future__ import annotations

import os
import random
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ClientError

from deployment import MIB, Row, deployment, finish, loaded
from faultload import US, Ledger, ObjWrite


# --------------------------------------------------------------------------- disk full


def fill_volume(path: Path, deadline_s: float = 30) -> int:
    """Writes `path` until the volume has no byte left; returns the bytes written."""
    written = 0
    deadline = time.monotonic() + deadline_s
    with open(path, "wb", buffering=0) as f:
        for chunk in (MIB, 64 * 1024, 4096, 512, 1):
            block = b"\0" * chunk
            while time.monotonic() < deadline:
                try:
                    f.write(block)
                except OSError:
                    break
                written += chunk
    return written


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


@dataclass
class DiskFull:
    reserve_mb: int = 8
    tmpfs_mb: int = 96
    before_s: float = 3.0
    full_s: float = 8.0
    after_s: float = 3.0

    @property
    def name(self) -> str:
        return "disk full, reserve on" if self.reserve_mb else "disk full, reserve off"

    @staticmethod
    def short(reserve_mb: int = 8) -> "DiskFull":
        return DiskFull(reserve_mb=reserve_mb, tmpfs_mb=64, before_s=1.5, full_s=3.0, after_s=1.5)

    def params(self) -> str:
        return (
            f"us-east data on a {self.tmpfs_mb} MiB tmpfs, `min_free_bytes` {self.reserve_mb} MiB; "
            f"filled to 0 bytes free for {self.full_s:g} s, then the filler removed"
        )

    def run(self, binary: Path, root: Path) -> Row:
        row = Row(self.name, self.params())
        extra = f"[store]\nmin_free_bytes = {self.reserve_mb * MIB}\n"
        with deployment(row, binary, root, extra_config=extra) as dep:
            volume = dep.mount_tmpfs(US, self.tmpfs_mb)
            dep.start()
            setup, ledger, load = loaded(dep, "diskfull", pause=0.02, large_share=0.3)
            reads = Reads(dep.pair, setup, ledger, US)
            try:
                time.sleep(self.before_s)
                filler = volume / "filler"
                filled = fill_volume(filler)
                full_at = time.monotonic()
                row.notes.append(f"filled {filled / MIB:.0f} MiB, {free_bytes(volume)} bytes left")
                reads.start()
                time.sleep(self.full_s)
                refused = dict(ledger.documented_5xx)
                reads.stop()
                filler.unlink()
                freed_at = time.monotonic()
                recovered = first_write_after(dep.pair, setup, ledger, freed_at)
                row.notes.append(f"writes resumed {recovered:.1f} s after space was freed, no restart")
                time.sleep(self.after_s)
            finally:
                finish(row, dep, setup, ledger, load)
            self.expect(row, ledger, refused, reads, full_at)
        return row

    def expect(self, row: Row, ledger: Ledger, refused: dict, reads: "Reads", full_at: float) -> None:
        s3_full = sum(n for (code, _), n in refused.items() if code == "InsufficientStorage")
        if not s3_full:
            row.problems.append("no write was refused with InsufficientStorage while the disk was full")
        sample = next((f[3] for f in ledger.failures if "InsufficientStorage" in f[3]), None)
        if sample:
            row.notes.append("answer: " + re.sub(r"\s+", " ", sample)[:160])
        if reads.ok == 0:
            row.problems.append("no read succeeded while the disk was full")
        row.notes.append(f"reads while full: {reads.ok} ok, {reads.failed} failed")
        late = [f for f in ledger.failures_of(US) if f[0] > reads.stopped_at + 15]
        if late:
            row.problems.append(f"us-east writes still failing 15 s after space was freed: {late[0][3][:200]}")


class Reads:
    """GETs of acknowledged objects of one region, in a thread, until stop()."""

    def __init__(self, pair, setup, ledger: Ledger, region: str):
        self.pair, self.setup, self.ledger, self.region = pair, setup, ledger, region
        self.ok = self.failed = 0
        self.stopped_at = float("inf")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        self.stopped_at = time.monotonic()

    def _run(self) -> None:
        s3 = self.pair.s3(self.region, connect_timeout=2, read_timeout=10)
        rng = random.Random("reads")
        while not self._stop.is_set():
            writes = [w for w in self.ledger.acked_objects(self.region) if not w.marker]
            if writes:
                w = rng.choice(writes)
                try:
                    s3.get_object(Bucket=w.bucket, Key=w.key, VersionId=w.version_id)["Body"].read()
                    self.ok += 1
                except Exception as e:  # noqa: BLE001 - counted, 5xx classified by the ledger
                    self.failed += 1
                    self.ledger.fail(self.region, f"GetObject {w.key}", e)
            self._stop.wait(0.05)


def first_write_after(pair, setup, ledger: Ledger, since: float, timeout: float = 20) -> float:
    """Seconds from `since` until a PutObject to us-east succeeds (recorded in the ledger)."""
    s3 = pair.s3(US, connect_timeout=2, read_timeout=10)
    bucket, key = setup.buckets[US], "probe/after-full"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            p = s3.put_object(Bucket=bucket, Key=key, Body=b"")
        except ClientError as e:
            ledger.fail(US, f"PutObject {key}", e, key=key)
            time.sleep(0.1)
            continue
        ledger.ack_object(ObjWrite(US, bucket, key, p["VersionId"], p["ETag"], 0, None, False, time.monotonic()))
        return time.monotonic() - since
    raise AssertionError(f"no write to us-east succeeded within {timeout} s of freeing space")
