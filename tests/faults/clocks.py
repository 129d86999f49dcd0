"""Clock faults, with region processes run under libfaketime (wall clock shifted,
monotonic clocks real): skew of +-5 s between the regions, where last-writer-wins
must still converge and a write made after seeing another must win; and a clock
far ahead, which the other region's HLC guard must hold off (counted, not
followed) until the clock is fixed and the operator raises the bound."""

from __future__ import annotations

import glob
import os
import time
from dataclasses import dataclass
from pathlib import Path

from deployment import Row, applied_from, deployment, finish, loaded
from faultload import TOKYO, US, ItemWrite, Ledger, Load, N, ObjWrite, S, two_way_setup
from regions import wait_until


# --------------------------------------------------------------------------- clocks


def libfaketime() -> str:
    """Path of libfaketime (installed by scripts/test.sh: apt-get install faketime)."""
    env = os.environ.get("TANDEM_LIBFAKETIME")
    found = [env] if env else sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    if not found or not Path(found[0]).exists():
        raise RuntimeError("libfaketime not found: apt-get install -y faketime (scripts/test.sh does)")
    return found[0]


def skew_env(offset: str) -> dict[str, str]:
    """Environment that runs a process with its wall clock shifted by `offset` (libfaketime's
    syntax: "+5s", "-5s", "+10m"); monotonic clocks (timers, timeouts) stay real."""
    return {
        "LD_PRELOAD": libfaketime(),
        "FAKETIME": offset,
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "FAKETIME_DONT_RESET": "1",
    }


def clock_of(pair, region: str) -> dict:
    return pair.replication_status(region)["clock"]


def check_offset(row: Row, pair, region: str, want_ms: float, tolerance_ms: float = 1500) -> None:
    """The node's wall clock really is shifted (libfaketime took effect)."""
    got = clock_of(pair, region)["wall_ms"] - time.time() * 1000
    if abs(got - want_ms) > tolerance_ms:
        row.problems.append(f"{region}'s clock is {got / 1000:+.1f} s off, not {want_ms / 1000:+.1f} s: faketime failed?")


def causal_overwrites(pair, setup, ledger: Ledger, first: str, then: str, n: int) -> list[str]:
    """n times: write an item and an object in `first`, wait until `then` has them, overwrite
    both in `then`. The second write happened after the first (it saw it), so it must win in
    both regions even when `then`'s clock is behind. Returns the keys where it did not."""
    ddb = {r: pair.ddb(r) for r in pair.names}
    s3 = {r: pair.s3(r) for r in pair.names}
    keys = []
    for i in range(n):
        pk = f"causal-{first}-{i}"
        for region, v in ((first, 1), (then, 2)):
            state = {"pk": S(pk), "v": N(v), "by": S(region)}
            w: ItemWrite = ledger.item_attempt(pk, region, state)
            ddb[region].put_item(TableName=setup.table, Item=state)
            w.outcome, w.at = "acked", time.monotonic()
            if region == first:
                wait_until(
                    lambda: "Item" in ddb[then].get_item(TableName=setup.table, Key={"pk": S(pk)}, ConsistentRead=True),
                    timeout=10,
                    what=f"{pk} in {then}",
                )
        key = f"causal/{first}-{i}"
        put(s3[first], ledger, first, setup.buckets[first], key, b"first")
        dest = setup.buckets[then]
        wait_until(lambda: s3[then].get_object(Bucket=dest, Key=key)["Body"].read() == b"first", timeout=10, what=key)
        put(s3[then], ledger, then, dest, key, b"then")
        keys.append((pk, key))
    pair.wait_in_sync(timeout=30)
    wrong = []
    for pk, key in keys:
        for r in pair.names:
            item = ddb[r].get_item(TableName=setup.table, Key={"pk": S(pk)}, ConsistentRead=True).get("Item")
            if not item or item["v"]["N"] != "2":
                wrong.append(f"{r}: item {pk} = {item and item['v']}, the later write from {then} lost")
            for b in setup.buckets.values():
                if b != setup.buckets[r]:
                    continue
                body = s3[r].get_object(Bucket=b, Key=key)["Body"].read()
                if body != b"then":
                    wrong.append(f"{r}: object {key} = {body!r}, the later write from {then} lost")
    return wrong


def put(s3, ledger: Ledger, region: str, bucket: str, key: str, body: bytes) -> None:
    """A PutObject recorded in the ledger (no body seed: the audit's byte-for-byte sample
    leaves it out; HEADs still check its ETag and size in both regions)."""
    p = s3.put_object(Bucket=bucket, Key=key, Body=body)
    ledger.ack_object(ObjWrite(region, bucket, key, p["VersionId"], p["ETag"], len(body), None, False, time.monotonic()))


@dataclass
class ClockSkew:
    skew_s: int = 5
    load_s: float = 10.0
    causal: int = 20

    name = "clock skew +-5 s"

    @staticmethod
    def short() -> "ClockSkew":
        return ClockSkew(load_s=3.0, causal=4)

    def params(self) -> str:
        return (
            f"us-east +{self.skew_s} s, ap-tokyo -{self.skew_s} s (libfaketime); {self.load_s:g} s load; "
            f"{self.causal} item+object overwrites made in ap-tokyo after seeing us-east's"
        )

    def run(self, binary: Path, root: Path) -> Row:
        row = Row(self.name, self.params())
        with deployment(row, binary, root) as dep:
            dep.pair[US].env.update(skew_env(f"+{self.skew_s}s"))
            dep.pair[TOKYO].env.update(skew_env(f"-{self.skew_s}s"))
            dep.start()
            pair = dep.pair
            check_offset(row, pair, US, self.skew_s * 1000)
            check_offset(row, pair, TOKYO, -self.skew_s * 1000)
            setup, ledger, load = loaded(dep, "skew", pause=0.03)
            try:
                time.sleep(self.load_s)
                wrong = causal_overwrites(pair, setup, ledger, US, TOKYO, self.causal)
                lead = clock_of(pair, TOKYO)["lead_ms"] / 1000
            finally:
                finish(row, dep, setup, ledger, load)
            row.lost += len(wrong)
            row.details += wrong[:5]
            row.notes.append(f"ap-tokyo's HLC led its wall clock by {lead:.1f} s (it observed us-east)")
            refused = sum(clock_of(pair, r)["refused"] for r in pair.names)
            row.notes.append(f"{self.causal * 2} causal overwrites, {len(wrong)} lost; clock guard refusals {refused}")
            if refused:
                row.problems.append(f"the clock guard refused {refused} timestamps at a skew of {2 * self.skew_s} s")
        return row


@dataclass
class ClockAhead:
    ahead_min: int = 10
    load_s: float = 6.0

    name = "clock far ahead"

    @staticmethod
    def short() -> "ClockAhead":
        return ClockAhead(load_s=2.5)

    def params(self) -> str:
        return (
            f"ap-tokyo +{self.ahead_min} min (guard: 5 min) for {self.load_s:g} s of load; then its clock "
            f"fixed and us-east's `max_clock_lead_ms` raised to {self.ahead_min + 5} min"
        )

    def run(self, binary: Path, root: Path) -> Row:
        row = Row(self.name, self.params())
        with deployment(row, binary, root) as dep:
            pair = dep.pair
            dep.start()
            # The buckets, their name claims and the table are set up with both clocks right;
            # then ap-tokyo restarts with its clock far ahead.
            setup = two_way_setup(pair, "ahead")
            dep.stop(TOKYO)
            pair[TOKYO].env.update(skew_env(f"+{self.ahead_min}m"))
            dep.start(TOKYO)
            check_offset(row, pair, TOKYO, self.ahead_min * 60_000)
            ledger = Ledger()
            load = Load(pair, setup, ledger, seed="ahead", pause=0.03).start()
            try:
                time.sleep(self.load_s)
                self.expect_held(row, pair)
                # The operator fixes ap-tokyo's clock; what it wrote keeps its future stamps
                # (and so do its next writes, until real time passes its clock's floor), so
                # they stay held until the bound is raised, in both regions.
                pair.extra_config = f"[store]\nmax_clock_lead_ms = {(self.ahead_min + 5) * 60_000}\n"
                pair.write_config()
                dep.stop(TOKYO)
                pair[TOKYO].env.clear()
                dep.start(TOKYO)
                time.sleep(1.0)
                still = applied_from(pair, US, TOKYO)["clock_refused"]
                dep.stop(US)
                dep.start(US)
                time.sleep(1.0)
            finally:
                finish(row, dep, setup, ledger, load)
            row.notes.append(f"with ap-tokyo's clock fixed, {still} batches in all still refused until the raise")
            lead = clock_of(pair, US)["lead_ms"] / 60_000
            row.notes.append(f"after the raise us-east's HLC leads its clock by {lead:.1f} min (accepted by the operator)")
        return row

    def expect_held(self, row: Row, pair) -> None:
        us = clock_of(pair, US)
        held = applied_from(pair, US, TOKYO)
        m = pair.metric(US, "tandem_hlc_refused_total")
        shipper = pair.peer_status(TOKYO, US)
        row.notes.append(
            f"while ahead: us-east refused {held['clock_refused']} batches ({us['refused']} stamps, "
            f"metric {m:.0f}), its HLC lead {us['lead_ms']} ms; ap-tokyo's shipper: {shipper['state']}"
        )
        if not held["clock_refused"] or not us["refused"] or not m:
            row.problems.append(f"us-east did not count refusals of ap-tokyo's future stamps: {us} {held}")
        if us["lead_ms"] > 60_000:
            row.problems.append(f"us-east's HLC was dragged {us['lead_ms']} ms ahead of its clock")
        if "clock" not in (shipper["shipper"].get("last_error") or ""):
            row.problems.append(f"ap-tokyo's shipper does not say why it fails: {shipper['shipper']}")
        st = pair.tandem("status")
        line = next((x.split() for x in st.stdout.splitlines() if x.startswith(US + " ")), [])
        if st.returncode != 0 or len(line) < 6 or not line[5].isdigit() or int(line[5]) == 0:
            row.problems.append(f"`tandem status` shows no clock refusals for us-east:\n{st.stdout}{st.stderr}")
