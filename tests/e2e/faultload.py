"""Mixed S3 and DynamoDB write load between two regions, a ledger of what was
acknowledged, and the audit that runs once the regions have settled — shared by
the replication fault tests (test_replication_faults.py) and the fault report
(tests/faults/).

* `two_way_setup(pair, hint)`: a versioned bucket in each region replicating to
  the other (replica edits and delete markers too), and a global table created
  in us-east with a replica in ap-tokyo.
* `Load(pair, setup, ledger)`: writer threads in both regions PUT objects
  (small, and some larger than 64 KiB, overwriting a few hot keys and deleting
  them now and then) and PutItem/DeleteItem items (mostly keys of their own,
  some keys writers of both regions share). Every acknowledged write goes into
  the `Ledger`; a failed one is recorded with its HTTP status and error code,
  so 5xx answers can be told apart: documented ones (`DOCUMENTED_5XX`) and
  the rest.
* `audit(pair, setup, ledger)`: after `pair.wait_in_sync()`, what the fault
  report counts — acknowledged writes missing or different in a region (lost),
  differences between the regions (`tandem replication diff` and a direct
  comparison of listings and scans), and other problems. `settle_and_check`
  asserts that all of them are empty.
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from dynamo_helpers import make_table, paginate, unique_table
from e2e_helpers import random_bytes, unique_bucket
from regions import replication_config, rule, wait_until

US, TOKYO = "us-east", "ap-tokyo"
KIB = 1024
INLINE_MAX = 64 * KIB
SYNC_TIMEOUT = 30.0

# 5xx answers tandem documents (README "Errors"): a full data volume and S3's
# SlowDown (the write gate's refusals are 409/400, not 5xx). Any other 5xx is a bug.
DOCUMENTED_5XX = {
    ("SlowDown", 503),
    ("InsufficientStorage", 507),
}


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
    seed: str | None  # random_bytes seed of the body (None: not known by seed)
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


def error_status(e: BaseException) -> tuple[int | None, str | None]:
    """(HTTP status, error code) of a botocore ClientError; (None, None) for a
    transport failure (connection refused or reset, timeout)."""
    if isinstance(e, ClientError):
        return e.response.get("ResponseMetadata", {}).get("HTTPStatusCode"), e.response.get("Error", {}).get("Code")
    return None, None


@dataclass
class Ledger:
    lock: threading.Lock = field(default_factory=threading.Lock)
    objects: list[ObjWrite] = field(default_factory=list)
    items: dict[str, list[ItemWrite]] = field(default_factory=dict)
    failures: list[tuple[float, str, str, str]] = field(default_factory=list)  # (at, region, op, error)
    # key -> how many object writes to it failed (their outcome is unknown: each may have made a version)
    unknown: dict[str, int] = field(default_factory=dict)
    # (code, status) -> count of 5xx answers, documented or not
    documented_5xx: Counter = field(default_factory=Counter)
    undocumented_5xx: list[tuple[str, str, int, str | None, str]] = field(default_factory=list)
    # (code, status) -> count of other failures (4xx, transport errors as ("transport", 0))
    other_failures: Counter = field(default_factory=Counter)

    def ack_object(self, w: ObjWrite) -> None:
        with self.lock:
            self.objects.append(w)

    def fail(self, region: str, op: str, e: BaseException, key: str | None = None) -> None:
        status, code = error_status(e)
        with self.lock:
            self.failures.append((time.monotonic(), region, op, repr(e)[:300]))
            if key is not None:
                self.unknown[key] = self.unknown.get(key, 0) + 1
            if status is not None and status >= 500:
                if (code, status) in DOCUMENTED_5XX:
                    self.documented_5xx[(code, status)] += 1
                else:
                    self.undocumented_5xx.append((region, op, status, code, repr(e)[:300]))
            else:
                self.other_failures[(code or "transport", status or 0)] += 1

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

    def acked(self) -> int:
        """Every acknowledged write: object versions, delete markers, item puts and deletes."""
        return len(self.acked_objects()) + self.acked_items()


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

    def __init__(
        self,
        pair,
        setup: Setup,
        ledger: Ledger,
        *,
        obj_writers=1,
        item_writers=1,
        pause=0.03,
        seed="load",
        large_share=0.12,
        timeout=15,
    ):
        self.pair, self.setup, self.ledger = pair, setup, ledger
        self.pause = pause
        self.large_share = large_share
        self.timeout = timeout
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

    def __enter__(self) -> "Load":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _guard(self, fn, region, tid, seed):
        try:
            fn(region, tid, seed)
        except BaseException as e:  # noqa: BLE001 - reported by stop()
            self.crashed.append(f"{fn.__name__} {region}/{tid}: {e!r}")

    def _nap(self, failed: bool) -> None:
        self.stop_event.wait(0.1 if failed else self.pause)

    def _objects(self, region: str, tid: int, seed: str) -> None:
        s3 = self.pair.s3(region, connect_timeout=2, read_timeout=self.timeout)
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
            large = rng.random() < self.large_share
            size = rng.randint(INLINE_MAX + 1, 200 * KIB) if large else rng.randint(0, 4 * KIB)
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
        ddb = self.pair.ddb(region, connect_timeout=2, read_timeout=self.timeout)
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


def diff(pair, kind: str, name: str):
    return pair.tandem("replication", "diff", f"--{kind}", name)


_DIFFERENCES = re.compile(r": (\d+) difference\(s\)")


def diff_problems(pair, setup: Setup) -> tuple[int, list[str]]:
    """`tandem replication diff` of both buckets and the table: (differences reported,
    descriptions of the targets that are not in sync)."""
    targets = [("bucket", setup.buckets[US]), ("bucket", setup.buckets[TOKYO]), ("table", setup.table)]
    count, bad = 0, []
    for kind, name in targets:
        p = diff(pair, kind, name)
        if p.returncode == 0 and f"{kind} {name}: in sync" in p.stdout:
            continue
        m = _DIFFERENCES.search(p.stdout)
        count += int(m.group(1)) if m else 1
        bad.append(f"diff --{kind} {name}: exit {p.returncode}\n{p.stdout[-3000:]}{p.stderr[-2000:]}")
    return count, bad


def assert_diff_clean(pair, setup: Setup) -> None:
    _, bad = diff_problems(pair, setup)
    assert not bad, "\n".join(bad)


def backlog_rows(text: str) -> dict[tuple[str, str], tuple[int, str]]:
    """(region, peer) -> (changes, state) from the table `tandem replication backlog` (and
    the second half of `tandem status`) prints."""
    rows = {}
    in_backlog = False
    for line in text.splitlines():
        parts = line.split()
        if parts[:1] == ["REGION"]:
            # Only the backlog table (its header has STATE), not the BEHIND table after it.
            in_backlog = "STATE" in parts
            continue
        if in_backlog and len(parts) >= 6 and parts[0] in (US, TOKYO) and parts[1] in (US, TOKYO):
            rows[(parts[0], parts[1])] = (int(parts[2].rstrip("+")), parts[5])
    return rows


# --------------------------------------------------------------------------- audit


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


@dataclass
class Audit:
    """What the regions hold compared with each other and with the ledger."""

    lost: list[str] = field(default_factory=list)  # acknowledged writes missing or different somewhere
    divergent: list[str] = field(default_factory=list)  # differences between the regions
    diff_differences: int = 0  # what `tandem replication diff` reported
    other: list[str] = field(default_factory=list)  # phantoms, wrong replication status
    stats: dict = field(default_factory=dict)

    @property
    def divergence(self) -> int:
        return len(self.divergent) + self.diff_differences

    def clean(self) -> bool:
        return not (self.lost or self.divergent or self.diff_differences or self.other)

    def describe(self) -> str:
        parts = []
        for name in ("lost", "divergent", "other"):
            items = getattr(self, name)
            if items:
                parts.append(f"{len(items)} {name}, e.g.\n  " + "\n  ".join(items[:10]))
        if self.diff_differences:
            parts.append(f"tandem replication diff: {self.diff_differences} difference(s)")
        return "\n".join(parts) or "clean"


def audit_objects(pair, setup: Setup, ledger: Ledger, out: Audit, sample: int = 40) -> None:
    """Both buckets hold the same versions; every acknowledged one is in both, identical."""
    listings = {r: list_versions(pair.s3(r), setup.buckets[r]) for r in pair.names}
    for r in pair.names:
        only = sorted(set(listings[r]) - set(listings[pair.other(r)]))
        out.divergent += [f"version {k} only in {r}" for k in only]
    changed = sorted(k for k in set(listings[US]) & set(listings[TOKYO]) if listings[US][k] != listings[TOKYO][k])
    out.divergent += [f"version {k}: us-east {listings[US][k]} / ap-tokyo {listings[TOKYO][k]}" for k in changed]

    acked = ledger.acked_objects()
    lost: dict[tuple[str, str], str] = {}
    for w in acked:
        want = ("marker", None, 0) if w.marker else ("version", w.etag, w.size)
        for r in pair.names:
            got = listings[r].get((w.key, w.version_id))
            if got is None or got[:3] != want:
                lost.setdefault((w.key, w.version_id), f"{r}: {w.key}@{w.version_id} from {w.region} is {got}, want {want}")
    # Nothing else: a version nobody acknowledged needs a write to its key that failed (and may
    # have been applied anyway), one per such write. Replays must not mint new versions.
    acked_ids = {(w.key, w.version_id) for w in acked}
    extra: dict[str, list[str]] = {}
    for key, vid in listings[US]:
        if (key, vid) not in acked_ids:
            extra.setdefault(key, []).append(vid)
    out.other += [
        f"versions nobody wrote (beyond failed writes to the key): {k} {v}"
        for k, v in extra.items()
        if len(v) > ledger.unknown.get(k, 0)
    ]

    versions = [w for w in acked if not w.marker]
    clients = {r: pair.s3(r) for r in pair.names}

    def head_both(w: ObjWrite) -> list[tuple[bool, str]]:
        bad = []
        for r in pair.names:
            h = head_or_none(clients[r], setup.buckets[r], w.key, w.version_id)
            want_status = "COMPLETED" if r == w.region else "REPLICA"
            if h is None:
                bad.append((True, f"{r}: HEAD {w.key}@{w.version_id} (from {w.region}) 404"))
                continue
            got = (h.get("VersionId"), h["ETag"], h["ContentLength"])
            if got != (w.version_id, w.etag, w.size):
                bad.append((True, f"{r}: HEAD {w.key}@{w.version_id} (from {w.region}) = {got}"))
            elif h.get("ReplicationStatus") != want_status:
                bad.append((False, f"{r}: {w.key}@{w.version_id} is {h.get('ReplicationStatus')}, want {want_status}"))
        return bad

    with ThreadPoolExecutor(6) as ex:
        for w, problems in zip(versions, ex.map(head_both, versions)):
            for is_lost, what in problems:
                if is_lost:
                    lost.setdefault((w.key, w.version_id), what)
                else:
                    out.other.append(what)

    # Byte-for-byte GETs of a sample of the writes whose body is known by its seed.
    for w in sample_of([w for w in versions if w.seed is not None], sample, seed=setup.table):
        body = random_bytes(w.size, seed=w.seed)
        for r in pair.names:
            got = clients[r].get_object(Bucket=setup.buckets[r], Key=w.key, VersionId=w.version_id)["Body"].read()
            if len(got) != w.size or hashlib.sha256(got).digest() != hashlib.sha256(body).digest():
                lost.setdefault((w.key, w.version_id), f"{r}: GET {w.key}@{w.version_id}: {len(got)} bytes differ")
    out.lost += list(lost.values())
    out.stats.update(
        versions=len(versions),
        markers=len(acked) - len(versions),
        unacknowledged=sum(len(v) for v in extra.values()),
        listed=len(listings[US]),
    )


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


def audit_items(pair, setup: Setup, ledger: Ledger, out: Audit) -> None:
    scans = {}
    for r in pair.names:
        items, _ = paginate(pair.ddb(r).scan, TableName=setup.table, ConsistentRead=True)
        scans[r] = {i["pk"]["S"]: i for i in items}
    a, b = scans[US], scans[TOKYO]
    out.divergent += [
        f"item {k}: us-east {a.get(k)} / ap-tokyo {b.get(k)}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)
    ]
    with ledger.lock:
        histories = {pk: list(h) for pk, h in ledger.items.items()}
    for pk, history in histories.items():
        for r, scan in scans.items():
            got = plain(scan.get(pk))
            if got not in expected_states(history):
                last = [(w.region, w.outcome, w.state and w.state["v"]) for w in history[-4:]]
                out.lost.append(f"{r}: item {pk} is {got and got.get('v')} (last writes {last})")
    out.other += [f"item nobody wrote: {k}" for k in sorted(set(a) - set(histories))]
    out.stats.update(items=len(a), keys=len(histories))


def audit(pair, setup: Setup, ledger: Ledger, sync_timeout: float = SYNC_TIMEOUT) -> Audit:
    """Waits until both regions report empty backlogs, then compares them with each other
    (`tandem replication diff`, listings, scans) and with the ledger."""
    out = Audit()
    t = time.monotonic()
    try:
        pair.wait_in_sync(timeout=sync_timeout)
    except AssertionError as e:
        out.divergent.append(f"not in sync after {sync_timeout}s: {str(e)[:1500]}")
    out.stats["caught_up_s"] = round(time.monotonic() - t, 1)
    out.diff_differences, bad = diff_problems(pair, setup)
    out.other += bad
    audit_objects(pair, setup, ledger, out)
    audit_items(pair, setup, ledger, out)
    return out


def settle_and_check(pair, setup: Setup, ledger: Ledger) -> dict:
    result = audit(pair, setup, ledger)
    assert result.clean(), result.describe()
    return result.stats


def assert_writes_made_progress(ledger: Ledger, after: float, what: str) -> None:
    for r in (US, TOKYO):
        n = len(ledger.acked_objects(r, after=after))
        assert n >= 5, f"only {n} objects acknowledged in {r} {what}"
