"""Replication under faults, between two real regions under a steady write load.

Every test uses a region pair of its own (`fresh_regions(proxies=True)`: a
FaultProxy in front of each region's replication_url; clients talk to the
regions directly) with a two-way setup: a versioned bucket in each region,
rules both ways (ReplicaModifications and DeleteMarkerReplication enabled),
and a global table created in us-east with a replica in ap-tokyo.

Writer threads in BOTH regions continuously PUT objects (small, and some
larger than 64 KiB, overwriting a few hot keys and deleting them now and then)
and PutItem/DeleteItem items. A ledger records every acknowledged write (key,
version id, ETag, body seed; for items every attempted state and whether it
was acknowledged). Afterwards, once both regions report an empty backlog:

* `tandem replication diff` exits 0 ("in sync") for both buckets and the table;
* both buckets list exactly the same versions and delete markers;
* every acknowledged version is in both regions with the same version id,
  ETag and size (HEAD of all of them, GET of a sample compared byte for byte),
  ReplicationStatus COMPLETED at its origin and REPLICA in the other region;
* both regions scan to identical items, and each item's state is the one its
  last acknowledged write left (or a later write whose outcome is unknown).

Faults: kill -9 of ap-tokyo (the destination of us-east's writes) mid-load and
a restart 3 s later; kill -9 of us-east (a source with acknowledged versions
still waiting to ship) and a restart; a partition of both replication links
held for TANDEM_PARTITION_SECONDS (default 60) while both regions keep
taking writes, then healed; a graceful restart of a source mid-replication,
after which its shipper resumes from its durable cursor (no gaps, nothing
shipped from the start again).
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from dynamo_helpers import make_table, paginate, unique_table
from e2e_helpers import KEYS, random_bytes, unique_bucket
from regions import replication_config, rule, wait_until

US, TOKYO = "us-east", "ap-tokyo"
KIB = 1024
INLINE_MAX = 64 * KIB
PARTITION_SECONDS = float(os.environ.get("TANDEM_PARTITION_SECONDS", "60"))
SYNC_TIMEOUT = 30.0


# --------------------------------------------------------------------------- setup


@dataclass
class Setup:
    buckets: dict[str, str]  # region -> its bucket
    table: str


def two_way_setup(pair, hint: str) -> Setup:
    """A bucket in each region replicating to the other (replica edits and delete markers
    too), and a global table with replicas in both regions."""
    a = pair.make_bucket(US, unique_bucket(hint + "-us"))
    b = pair.make_bucket(TOKYO, unique_bucket(hint + "-tk"))
    pair.wait_in_sync()
    for region, src, dst in ((US, a, b), (TOKYO, b, a)):
        pair.s3(region).put_bucket_replication(
            Bucket=src,
            ReplicationConfiguration=replication_config(
                rule(dst, rule_id="all", priority=1, delete_markers=True, replica_modifications=True)
            ),
        )
    us = pair.ddb(US)
    table = make_table(us, unique_table(hint))
    r = us.update_table(TableName=table, ReplicaUpdates=[{"Create": {"RegionName": TOKYO}}])
    assert {x["RegionName"] for x in r["TableDescription"].get("Replicas", [])} == {US, TOKYO}
    tk = pair.ddb(TOKYO)
    wait_until(lambda: tk.describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE", what="replica table")
    pair.wait_in_sync()
    return Setup({US: a, TOKYO: b}, table)


# --------------------------------------------------------------------------- ledger


@dataclass
class ObjWrite:
    region: str
    bucket: str
    key: str
    version_id: str
    etag: str | None  # None for a delete marker
    size: int
    seed: str | None
    marker: bool
    at: float  # time.monotonic() of the acknowledgement


@dataclass
class ItemWrite:
    region: str
    state: dict | None  # the item after the write (None: deleted)
    started: float
    shared: bool  # a key writers of both regions write
    outcome: str = "pending"  # "acked", or "unknown" when the request failed
    at: float = 0.0


@dataclass
class Ledger:
    lock: threading.Lock = field(default_factory=threading.Lock)
    objects: list[ObjWrite] = field(default_factory=list)
    items: dict[str, list[ItemWrite]] = field(default_factory=dict)
    failures: list[tuple[float, str, str, str]] = field(default_factory=list)  # (at, region, op, error)
    # key -> how many object writes to it failed (their outcome is unknown: each may have made a version)
    unknown: dict[str, int] = field(default_factory=dict)

    def ack_object(self, w: ObjWrite) -> None:
        with self.lock:
            self.objects.append(w)

    def fail(self, region: str, op: str, e: BaseException, key: str | None = None) -> None:
        with self.lock:
            self.failures.append((time.monotonic(), region, op, repr(e)[:300]))
            if key is not None:
                self.unknown[key] = self.unknown.get(key, 0) + 1

    def item_attempt(self, pk: str, region: str, state: dict | None) -> ItemWrite:
        w = ItemWrite(region, state, time.monotonic(), pk.startswith("shared-"))
        with self.lock:
            self.items.setdefault(pk, []).append(w)
        return w

    def acked_objects(self, region: str | None = None, after: float = 0.0, before: float = float("inf")):
        with self.lock:
            return [w for w in self.objects if (region is None or w.region == region) and after <= w.at < before]

    def failures_of(self, region: str):
        with self.lock:
            return [f for f in self.failures if f[1] == region]

    def acked_items(self, region: str | None = None) -> int:
        with self.lock:
            return sum(1 for h in self.items.values() for w in h if w.outcome == "acked" and region in (None, w.region))


def S(v: str) -> dict:
    return {"S": v}


def N(v) -> dict:
    return {"N": str(v)}


def plain(item: dict | None) -> dict | None:
    return None if item is None else {k: v for k, v in item.items() if not k.startswith("aws:rep:")}


# --------------------------------------------------------------------------- load


class Load:
    """Writer threads in both regions until stop(): objects into each region's bucket and items
    into the global table. A failed request is recorded and the writer carries on."""

    def __init__(self, pair, setup: Setup, ledger: Ledger, *, obj_writers=1, item_writers=1, pause=0.03, seed="load"):
        self.pair, self.setup, self.ledger = pair, setup, ledger
        self.pause = pause
        self.stop_event = threading.Event()
        self.threads = []
        self.crashed: list[str] = []
        for region in pair.names:
            for t in range(obj_writers):
                self.threads.append(
                    threading.Thread(target=self._guard, args=(self._objects, region, t, seed), daemon=True)
                )
            for t in range(item_writers):
                self.threads.append(
                    threading.Thread(target=self._guard, args=(self._items, region, t, seed), daemon=True)
                )

    def start(self) -> "Load":
        for t in self.threads:
            t.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in self.threads), "a writer thread did not stop"
        assert not self.crashed, f"writer threads crashed: {self.crashed}"

    def _guard(self, fn, region, tid, seed):
        try:
            fn(region, tid, seed)
        except BaseException as e:  # noqa: BLE001 - reported by stop()
            self.crashed.append(f"{fn.__name__} {region}/{tid}: {e!r}")

    def _nap(self, failed: bool) -> None:
        self.stop_event.wait(0.1 if failed else self.pause)

    def _objects(self, region: str, tid: int, seed: str) -> None:
        s3 = self.pair.s3(region, connect_timeout=2, read_timeout=15)
        bucket = self.setup.buckets[region]
        rng = random.Random(f"{seed}/{region}/obj/{tid}")
        live_hot: set[str] = set()
        i = 0
        while not self.stop_event.is_set():
            i += 1
            r = rng.random()
            if r < 0.07 and live_hot:
                key = sorted(live_hot)[rng.randrange(len(live_hot))]
                try:
                    d = s3.delete_object(Bucket=bucket, Key=key)
                except Exception as e:  # noqa: BLE001
                    self.ledger.fail(region, f"DeleteObject {key}", e, key=key)
                    self._nap(True)
                    continue
                assert d.get("DeleteMarker") is True and d.get("VersionId"), d
                live_hot.discard(key)
                self.ledger.ack_object(
                    ObjWrite(region, bucket, key, d["VersionId"], None, 0, None, True, time.monotonic())
                )
                self._nap(False)
                continue
            key = f"{region}/w{tid}/hot{rng.randrange(4)}" if r < 0.25 else f"{region}/w{tid}/o{i:06d}"
            size = rng.randint(INLINE_MAX + 1, 200 * KIB) if rng.random() < 0.12 else rng.randint(0, 4 * KIB)
            body_seed = f"{seed}/{region}/{tid}/{i}"
            body = random_bytes(size, seed=body_seed)
            try:
                p = s3.put_object(Bucket=bucket, Key=key, Body=body)
            except Exception as e:  # noqa: BLE001
                self.ledger.fail(region, f"PutObject {key}", e, key=key)
                self._nap(True)
                continue
            assert p.get("VersionId") and p["VersionId"] != "null", p
            if "/hot" in key:
                live_hot.add(key)
            self.ledger.ack_object(
                ObjWrite(region, bucket, key, p["VersionId"], p["ETag"], size, body_seed, False, time.monotonic())
            )
            self._nap(False)

    def _items(self, region: str, tid: int, seed: str) -> None:
        ddb = self.pair.ddb(region, connect_timeout=2, read_timeout=15)
        table = self.setup.table
        rng = random.Random(f"{seed}/{region}/item/{tid}")
        i = 0
        while not self.stop_event.is_set():
            i += 1
            # Mostly keys of this writer's own; some keys every writer of both regions writes.
            pk = f"shared-{rng.randrange(3)}" if rng.random() < 0.1 else f"{region}-w{tid}-{rng.randrange(10)}"
            delete = rng.random() < 0.2
            state = (
                None
                if delete
                else {
                    "pk": S(pk),
                    "v": N(i),
                    "by": S(f"{region}/{tid}"),
                    "pad": S("p" * rng.randint(0, 2000)),
                }
            )
            w = self.ledger.item_attempt(pk, region, state)
            try:
                if delete:
                    ddb.delete_item(TableName=table, Key={"pk": S(pk)})
                else:
                    ddb.put_item(TableName=table, Item=state)
                w.outcome, w.at = "acked", time.monotonic()
            except Exception as e:  # noqa: BLE001
                w.outcome = "unknown"
                self.ledger.fail(region, f"{'DeleteItem' if delete else 'PutItem'} {pk}", e)
                self._nap(True)
                continue
            self._nap(False)


# --------------------------------------------------------------------------- the CLI


def tandem_cli(pair, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`tandem <args> --config <the pair's tandem.toml>`, signed as admin."""
    env = dict(os.environ)
    env.update(
        AWS_ACCESS_KEY_ID=KEYS["admin"].access_key_id,
        AWS_SECRET_ACCESS_KEY=KEYS["admin"].secret_access_key,
        NO_COLOR="1",
    )
    env.pop("TANDEM_CONFIG", None)
    return subprocess.run(
        [str(pair.binary), *args, "--config", str(pair.config_path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=pair.root,
    )


def diff(pair, kind: str, name: str) -> subprocess.CompletedProcess:
    return tandem_cli(pair, "replication", "diff", f"--{kind}", name)


def assert_diff_clean(pair, setup: Setup) -> None:
    targets = [("bucket", setup.buckets[US]), ("bucket", setup.buckets[TOKYO]), ("table", setup.table)]
    bad = []
    for kind, name in targets:
        p = diff(pair, kind, name)
        if p.returncode != 0 or f"{kind} {name}: in sync" not in p.stdout:
            bad.append(f"diff --{kind} {name}: exit {p.returncode}\n{p.stdout[-3000:]}{p.stderr[-2000:]}")
    assert not bad, "\n".join(bad)


def backlog_rows(text: str) -> dict[tuple[str, str], tuple[int, str]]:
    """(region, peer) -> (changes, state) from the table `tandem replication backlog` (and
    the second half of `tandem status`) prints."""
    rows = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 6 and parts[0] in (US, TOKYO) and parts[1] in (US, TOKYO):
            rows[(parts[0], parts[1])] = (int(parts[2].rstrip("+")), parts[5])
    return rows


# --------------------------------------------------------------------------- checks


def list_versions(s3, bucket: str) -> dict[tuple[str, str], tuple]:
    """(key, version id) -> ("version", etag, size, is latest) | ("marker", None, 0, is latest)."""
    out = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for v in page.get("Versions", []):
            out[(v["Key"], v["VersionId"])] = ("version", v["ETag"], v["Size"], v["IsLatest"])
        for d in page.get("DeleteMarkers", []):
            out[(d["Key"], d["VersionId"])] = ("marker", None, 0, d["IsLatest"])
    return out


def head_or_none(s3, bucket, key, version_id):
    try:
        return s3.head_object(Bucket=bucket, Key=key, VersionId=version_id)
    except ClientError as e:
        if e.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
            return None
        raise


def sample_of(writes: list[ObjWrite], n: int, seed: str) -> list[ObjWrite]:
    """Every large version (up to n/2) and small ones up to n, reproducibly."""
    rng = random.Random(seed)
    large = [w for w in writes if w.size > INLINE_MAX]
    small = [w for w in writes if w.size <= INLINE_MAX]
    picked = rng.sample(large, min(len(large), n // 2))
    return picked + rng.sample(small, min(len(small), n - len(picked)))


def check_objects(pair, setup: Setup, ledger: Ledger, sample: int = 40) -> dict:
    """Both buckets hold the same versions; every acknowledged one is in both, identical."""
    listings = {r: list_versions(pair.s3(r), setup.buckets[r]) for r in pair.names}
    only = {r: sorted(set(listings[r]) - set(listings[pair.other(r)]))[:10] for r in pair.names}
    changed = sorted(k for k in set(listings[US]) & set(listings[TOKYO]) if listings[US][k] != listings[TOKYO][k])
    assert not any(only.values()) and not changed, (
        f"the buckets differ: only in us-east {only[US]}, only in ap-tokyo {only[TOKYO]}, "
        f"different {[(k, listings[US][k], listings[TOKYO][k]) for k in changed[:10]]}"
    )

    acked = ledger.acked_objects()
    missing = []
    for w in acked:
        want = ("marker", None, 0) if w.marker else ("version", w.etag, w.size)
        for r in pair.names:
            got = listings[r].get((w.key, w.version_id))
            if got is None or got[:3] != want:
                missing.append((r, w.region, w.key, w.version_id, want, got))
    assert not missing, f"{len(missing)} acknowledged writes missing or different, e.g. {missing[:10]}"
    # Nothing else: a version nobody acknowledged needs a write to its key that failed (and may
    # have been applied anyway), one per such write. Replays must not mint new versions.
    acked_ids = {(w.key, w.version_id) for w in acked}
    extra: dict[str, list[str]] = {}
    for key, vid in listings[US]:
        if (key, vid) not in acked_ids:
            extra.setdefault(key, []).append(vid)
    phantoms = {k: v for k, v in extra.items() if len(v) > ledger.unknown.get(k, 0)}
    assert not phantoms, (
        f"versions nobody wrote (beyond failed writes to their keys): {dict(list(phantoms.items())[:10])}"
    )

    # HEAD every acknowledged version in both regions.
    versions = [w for w in acked if not w.marker]
    clients = {r: pair.s3(r) for r in pair.names}

    def head_both(w: ObjWrite) -> list[str]:
        bad = []
        for r in pair.names:
            h = head_or_none(clients[r], setup.buckets[r], w.key, w.version_id)
            want_status = "COMPLETED" if r == w.region else "REPLICA"
            if h is None:
                bad.append(f"{r}: HEAD {w.key}@{w.version_id} (from {w.region}) 404")
                continue
            got = (h.get("VersionId"), h["ETag"], h["ContentLength"], h.get("ReplicationStatus"))
            if got != (w.version_id, w.etag, w.size, want_status):
                bad.append(
                    f"{r}: HEAD {w.key}@{w.version_id} (from {w.region}) = {got}, "
                    f"want {(w.version_id, w.etag, w.size, want_status)}"
                )
        return bad

    with ThreadPoolExecutor(6) as ex:
        problems = [p for ps in ex.map(head_both, versions) for p in ps]
    assert not problems, f"{len(problems)} HEAD problems, e.g.\n" + "\n".join(problems[:15])

    # GET a sample byte for byte in both regions.
    for w in sample_of(versions, sample, seed=setup.table):
        body = random_bytes(w.size, seed=w.seed)
        for r in pair.names:
            got = clients[r].get_object(Bucket=setup.buckets[r], Key=w.key, VersionId=w.version_id)["Body"].read()
            assert len(got) == w.size and hashlib.sha256(got).digest() == hashlib.sha256(body).digest(), (
                f"{r}: GET {w.key}@{w.version_id} (from {w.region}): {len(got)} bytes, not the {w.size} written"
            )
    return {
        "versions": len(versions),
        "markers": len(acked) - len(versions),
        "unacknowledged": sum(len(v) for v in extra.values()),
        "listed": len(listings[US]),
    }


def expected_states(history: list[ItemWrite]) -> list[dict | None]:
    """States an item may be in after its writes: the last acknowledged write's, or that of any
    write after it whose outcome is unknown. Keys written from several threads (shared keys):
    any attempted state, or absent."""
    if history and history[0].shared:
        return [None] + [w.state for w in history]
    last = max((i for i, w in enumerate(history) if w.outcome == "acked"), default=None)
    if last is None:
        return [None] + [w.state for w in history]
    return [history[last].state] + [w.state for w in history[last + 1 :]]


def check_items(pair, setup: Setup, ledger: Ledger) -> dict:
    scans = {}
    for r in pair.names:
        items, _ = paginate(pair.ddb(r).scan, TableName=setup.table, ConsistentRead=True)
        scans[r] = {i["pk"]["S"]: i for i in items}
    a, b = scans[US], scans[TOKYO]
    diffs = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    assert not diffs, "items differ between the regions: " + "; ".join(
        f"{k}: us-east {a.get(k)} / ap-tokyo {b.get(k)}" for k in diffs[:8]
    )
    wrong = []
    with ledger.lock:
        histories = {pk: list(h) for pk, h in ledger.items.items()}
    for pk, history in histories.items():
        allowed = expected_states(history)
        got = plain(a.get(pk))
        if got not in allowed:
            last = [(w.region, w.outcome, w.state and w.state["v"]) for w in history[-4:]]
            wrong.append(f"{pk}: {got and got.get('v')} (last writes {last})")
    assert not wrong, f"{len(wrong)} items not in the state their acknowledged writes left: {wrong[:10]}"
    extra = set(a) - set(histories)
    assert not extra, f"items nobody wrote: {sorted(extra)[:10]}"
    return {"items": len(a), "keys": len(histories)}


def settle_and_check(pair, setup: Setup, ledger: Ledger) -> dict:
    t = time.monotonic()
    pair.wait_in_sync(timeout=SYNC_TIMEOUT)
    caught_up = time.monotonic() - t
    assert_diff_clean(pair, setup)
    out = {"caught_up_s": round(caught_up, 1)}
    out.update(check_objects(pair, setup, ledger))
    out.update(check_items(pair, setup, ledger))
    return out


def assert_writes_made_progress(ledger: Ledger, after: float, what: str) -> None:
    for r in (US, TOKYO):
        n = len(ledger.acked_objects(r, after=after))
        assert n >= 5, f"only {n} objects acknowledged in {r} {what}"


# --------------------------------------------------------------------------- kill -9


def test_destination_killed_and_restarted_under_write_load(fresh_regions):
    """kill -9 of ap-tokyo while both regions take writes; restart 3 s later. us-east's
    writes must keep being acknowledged, its shipper must report the peer failing while it
    is down, and afterwards everything acknowledged anywhere is in both regions."""
    pair = fresh_regions(proxies=True)
    setup = two_way_setup(pair, "kill-dst")
    ledger = Ledger()
    load = Load(pair, setup, ledger, pause=0.02, seed="kill-dst").start()
    try:
        time.sleep(3)
        assert_writes_made_progress(ledger, 0, "before the kill")
        killed_at = time.monotonic()
        pair.kill(TOKYO)
        # us-east notices: its shipper to ap-tokyo is failing, with work waiting.
        p = wait_until(
            lambda: (s := pair.peer_status(US, TOKYO))["state"] == "failing" and s["backlog"]["changes"] > 0 and s,
            timeout=3,
            what="us-east -> ap-tokyo failing with a backlog while ap-tokyo is down",
        )
        assert p["shipper"]["consecutive_failures"] > 0, p
        time.sleep(max(0.0, killed_at + 3 - time.monotonic()))
        pair.start(TOKYO)
        restarted_at = time.monotonic()
        time.sleep(3)
    finally:
        load.stop()
    assert_writes_made_progress(ledger, restarted_at, "after the restart")
    # Writers of the live region never failed; those of the killed one only while it was down.
    assert ledger.failures_of(US) == [], ledger.failures_of(US)[:5]
    tk_fail = ledger.failures_of(TOKYO)
    assert tk_fail, "no ap-tokyo write failed: was it really killed?"
    late = [f for f in tk_fail if not killed_at - 0.5 <= f[0] <= restarted_at + 1.0]
    assert not late, f"ap-tokyo writes failed outside the outage: {late[:5]}"
    stats = settle_and_check(pair, setup, ledger)
    print(f"\nkill ap-tokyo: {stats}, {len(tk_fail)} failed writes during the outage")


def test_source_killed_with_unshipped_acknowledged_writes(fresh_regions):
    """kill -9 of us-east mid-load while its link to ap-tokyo is slow (so versions it has
    acknowledged are still waiting to ship): they survive the crash in us-east, ship after
    the restart, and everything else converges too."""
    pair = fresh_regions(proxies=True)
    setup = two_way_setup(pair, "kill-src")
    ledger = Ledger()
    load = Load(pair, setup, ledger, pause=0.02, seed="kill-src").start()
    try:
        with pair.slow_links(400, TOKYO):  # us-east -> ap-tokyo batches arrive 0.4 s late
            time.sleep(3)
            assert_writes_made_progress(ledger, 0, "before the kill")
            waiting = wait_until(
                lambda: pair.peer_status(US, TOKYO)["backlog"]["changes"],
                timeout=5,
                what="a us-east -> ap-tokyo backlog",
            )
            killed_at = time.monotonic()
            pair.kill(US)
        acked_before_kill = ledger.acked_objects(US, before=killed_at)
        # What the proxy still held is delivered within its 0.4 s delay; what is missing in
        # ap-tokyo after that was acknowledged by us-east but never shipped.
        time.sleep(1)
        tk = pair.s3(TOKYO)
        unshipped = [
            w
            for w in acked_before_kill
            if not w.marker and head_or_none(tk, setup.buckets[TOKYO], w.key, w.version_id) is None
        ]
        assert unshipped, f"every version us-east acknowledged had reached ap-tokyo at the kill (backlog was {waiting})"
        time.sleep(max(0.0, killed_at + 3 - time.monotonic()))
        pair.start(US)
        restarted_at = time.monotonic()
        time.sleep(3)
    finally:
        load.stop()
    assert_writes_made_progress(ledger, restarted_at, "after the restart")
    assert ledger.failures_of(TOKYO) == [], ledger.failures_of(TOKYO)[:5]
    us_fail = ledger.failures_of(US)
    assert us_fail, "no us-east write failed: was it really killed?"
    late = [f for f in us_fail if not killed_at - 0.5 <= f[0] <= restarted_at + 1.0]
    assert not late, f"us-east writes failed outside the outage: {late[:5]}"
    # Acknowledged before the crash -> still in us-east, with the same ETag.
    us = pair.s3(US)
    lost = [
        (w.key, w.version_id)
        for w in acked_before_kill
        if not w.marker
        and ((h := head_or_none(us, setup.buckets[US], w.key, w.version_id)) is None or h["ETag"] != w.etag)
    ]
    assert not lost, f"{len(lost)} versions acknowledged by us-east before kill -9 are gone after restart: {lost[:10]}"
    stats = settle_and_check(pair, setup, ledger)
    print(
        f"\nkill us-east: {stats}; backlog at the kill {waiting}, "
        f"{len(unshipped)} acknowledged versions not yet in ap-tokyo at the kill, {len(us_fail)} failed writes"
    )


# --------------------------------------------------------------------------- partition


def test_partition_held_then_healed_under_write_load(fresh_regions):
    """Both replication links cut for TANDEM_PARTITION_SECONDS (60 by default) while both regions
    keep taking writes: clients see no errors, both shippers report "failing" with a backlog,
    versions written meanwhile are FAILED/PENDING and absent from the other region, and diff
    reports the divergence. After the heal everything converges within SYNC_TIMEOUT."""
    pair = fresh_regions(proxies=True)
    setup = two_way_setup(pair, "partition")
    a, b = setup.buckets[US], setup.buckets[TOKYO]
    ledger = Ledger()
    load = Load(pair, setup, ledger, pause=0.05, seed="partition").start()
    clients = {r: pair.s3(r) for r in pair.names}
    try:
        time.sleep(1.5)
        assert_writes_made_progress(ledger, 0, "before the partition")
        with pair.partitioned():
            cut_at = time.monotonic()

            # Both shippers fail, with work waiting.
            def both_failing():
                ps = {r: pair.peer_status(r) for r in pair.names}
                return all(p["state"] == "failing" and p["backlog"]["changes"] > 0 for p in ps.values()) and ps

            ps = wait_until(both_failing, timeout=10, what="both peers failing with a backlog")
            for r, p in ps.items():
                assert p["shipper"]["consecutive_failures"] > 0 and p["shipper"]["last_error"], (r, p["shipper"])

            # ... and the operator CLI says so.
            st = tandem_cli(pair, "status")
            assert st.returncode == 0, st.stdout + st.stderr
            rows = backlog_rows(st.stdout)
            assert set(rows) == {(US, TOKYO), (TOKYO, US)}, st.stdout
            assert all(state == "failing" and n > 0 for n, state in rows.values()), st.stdout
            bl = tandem_cli(pair, "replication", "backlog")
            assert bl.returncode == 0, bl.stdout + bl.stderr
            rows = backlog_rows(bl.stdout)
            assert all(rows.get(k, (0, ""))[0] > 0 and rows[k][1] == "failing" for k in ((US, TOKYO), (TOKYO, US))), (
                bl.stdout
            )
            assert "last error:" in bl.stdout, bl.stdout

            # diff sees the divergence (so "in sync" after the heal means something).
            for kind, name in (("bucket", a), ("bucket", b), ("table", setup.table)):
                p = diff(pair, kind, name)
                assert p.returncode == 1 and "missing" in p.stdout, (
                    f"diff --{kind} {name} during the partition: exit {p.returncode}\n{p.stdout[-2000:]}{p.stderr[-1000:]}"
                )

            # Versions written during the partition: FAILED (the shipper tried) in each region.
            for r in pair.names:

                def one_failed(r=r):
                    for w in ledger.acked_objects(r, after=cut_at)[:50]:
                        if (
                            not w.marker
                            and clients[r]
                            .head_object(Bucket=setup.buckets[r], Key=w.key, VersionId=w.version_id)
                            .get("ReplicationStatus")
                            == "FAILED"
                        ):
                            return True
                    return False

                wait_until(
                    one_failed, timeout=15, interval=0.5, what=f"a version written in {r} during the partition FAILED"
                )

            # Hold the partition; shortly before the heal, every version acknowledged since the cut
            # is FAILED or PENDING at its origin and absent from the other region.
            time.sleep(max(0.0, cut_at + PARTITION_SECONDS - 8 - time.monotonic()))
            problems = []
            during = ledger.acked_objects(after=cut_at)

            def check(w: ObjWrite) -> list[str]:
                out = []
                other = pair.other(w.region)
                if not w.marker:
                    s = clients[w.region].head_object(Bucket=setup.buckets[w.region], Key=w.key, VersionId=w.version_id)
                    if s.get("ReplicationStatus") not in ("FAILED", "PENDING"):
                        out.append(
                            f"{w.region}: {w.key}@{w.version_id} is {s.get('ReplicationStatus')} during the partition"
                        )
                    if head_or_none(clients[other], setup.buckets[other], w.key, w.version_id) is not None:
                        out.append(f"{other}: has {w.key}@{w.version_id} written in {w.region} during the partition")
                return out

            with ThreadPoolExecutor(6) as ex:
                problems = [p for ps_ in ex.map(check, during) for p in ps_]
            assert not problems, f"{len(problems)} problems during the partition, e.g.\n" + "\n".join(problems[:15])
            assert (
                len([w for w in during if w.region == US]) >= 20 and len([w for w in during if w.region == TOKYO]) >= 20
            )
            still = {r: pair.peer_status(r)["state"] for r in pair.names}
            assert still == {US: "failing", TOKYO: "failing"}, still
            time.sleep(max(0.0, cut_at + PARTITION_SECONDS - time.monotonic()))
            held = time.monotonic() - cut_at
        healed_at = time.monotonic()
        time.sleep(2)  # writes keep coming across the heal
    finally:
        load.stop()
    assert held >= PARTITION_SECONDS
    # Client traffic never went through the proxies: no write failed anywhere.
    assert ledger.failures == [], ledger.failures[:5]
    assert_writes_made_progress(ledger, healed_at, "after the heal")
    stats = settle_and_check(pair, setup, ledger)
    n_during = len(ledger.acked_objects(after=cut_at, before=healed_at))
    print(
        f"\npartition {held:.0f}s: {stats}, {n_during} object writes acknowledged during it, "
        f"{ledger.acked_items()} item writes in all"
    )


# --------------------------------------------------------------------------- shipper restart


def test_shipper_resumes_from_its_cursor_after_a_graceful_restart(fresh_regions):
    """200 objects written in us-east while its link to ap-tokyo is slow; us-east is stopped
    (SIGTERM) and restarted while part of them has arrived. All 200 arrive with their version
    ids, none twice, and the restarted shipper ships only what its durable cursor had not
    covered (it does not start over)."""
    pair = fresh_regions(proxies=True)
    setup = two_way_setup(pair, "cursor")
    a, b = setup.buckets[US], setup.buckets[TOKYO]
    us, tk = pair.s3(US), pair.s3(TOKYO)
    shipped0 = pair.peer_status(US, TOKYO)["shipper"]["shipped_changes"]
    written: dict[str, tuple[str, str, int, str]] = {}
    px = pair.proxy(TOKYO)
    px.delay(300)
    try:
        for i in range(200):
            key = f"obj/{i:03d}"
            size = 100 * KIB if i % 10 == 0 else 700 + i
            seed = f"cursor/{i}"
            p = us.put_object(Bucket=a, Key=key, Body=random_bytes(size, seed=seed))
            written[key] = (p["VersionId"], p["ETag"], size, seed)
            time.sleep(0.01)
        st = pair.peer_status(US, TOKYO)
        arrived = len(list_versions(tk, b))
        durable = st["shipper"]["shipped_changes"] - shipped0
        assert 0 < arrived < 200, f"{arrived} of 200 had arrived when the writes ended: not mid-replication"
        assert st["backlog"]["changes"] > 0, st
        pair.stop(US)
        assert pair[US].proc.returncode == 0, f"us-east did not stop gracefully (exit {pair[US].proc.returncode})"
        pair.start(US)
    finally:
        px.reset()
    pair.wait_in_sync(timeout=SYNC_TIMEOUT)
    # The new process resumed from its cursor: it shipped no more than what was left after it.
    shipped_after = pair.peer_status(US, TOKYO)["shipper"]["shipped_changes"]
    assert shipped_after <= 200 - durable, (
        f"after the restart us-east shipped {shipped_after} changes, but only {200 - durable} "
        f"were left after its cursor ({durable} acknowledged before the stop)"
    )
    got = list_versions(tk, b)
    want = {(k, v[0]): ("version", v[1], v[2]) for k, v in written.items()}
    assert {k: g[:3] for k, g in got.items()} == want, (
        f"ap-tokyo: missing {sorted(set(want) - set(got))[:10]}, extra {sorted(set(got) - set(want))[:10]}"
    )
    assert list_versions(us, a) == got
    for key, (vid, etag, size, seed) in written.items():
        s = us.head_object(Bucket=a, Key=key, VersionId=vid)
        assert s.get("ReplicationStatus") == "COMPLETED", (key, s.get("ReplicationStatus"))
        if size > INLINE_MAX:
            body = tk.get_object(Bucket=b, Key=key, VersionId=vid)["Body"].read()
            assert body == random_bytes(size, seed=seed), key
    assert_diff_clean(pair, setup)
    print(
        f"\ncursor: {arrived}/200 arrived and {durable} acknowledged at the stop; {shipped_after} shipped after the restart"
    )
