"""Operator failover and failback, and automatic failover, between two real regions.

Every test has a region pair of its own (us-east primary, ap-tokyo secondary)
with the admin key marked `admin = true` and one app, photos (buckets
photos-us-east / photos-ap-tokyo, global table comments), made by
`tandem apply`.

* Planned failover under a running writer: a writer thread keeps writing
  objects and items to whichever region `/_tandem/apps/photos/state` names as
  the write region (re-reading it whenever a write is refused with
  NotWriteRegion/AppFenced) and records every acknowledged write. `tandem
  failover photos --planned` runs while it writes; the moment it returns,
  every write the primary acknowledged is in the secondary (RPO 0), without
  waiting. The writer then writes to the secondary; `tandem failback photos`
  runs while it writes; the moment it returns, every write the secondary
  acknowledged is in the primary, and the app is active with writes in the
  primary again. No write is acknowledged by a region outside its turn.
* A planned failover while the link into the secondary is cut times out,
  leaves the app fenced (nobody takes writes) and does not switch; run again
  after the link heals, it completes with the lagging writes in the secondary.
* Unplanned failover: kill -9 of the primary, `tandem failover photos`
  switches through the secondary, which takes writes; the restarted primary
  learns the newer state and refuses writes (NotWriteRegion).
* Automatic failover (auto_failover = {interval_ms = 200, failures = 3}):
  kill -9 of the primary; the time from the kill to the first write the
  secondary accepts (the RTO) is printed and must be under 5 s; the restarted
  old primary refuses writes. The watcher leaves an operator's fence alone.
  After a longer outage (the secondary's shipper backed off), the restarted
  old primary must refuse writes from its first request, not only once the
  secondary's next retry delivers the state.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests
from botocore.exceptions import ClientError

from e2e_helpers import KEYS, refusal_status_ok, s3_error, write_refused
from regions import PHOTOS_BUCKET, PHOTOS_TABLE, deploy_photos, photos_app

US, TOKYO = "us-east", "ap-tokyo"
APP = "photos"
BUCKET = PHOTOS_BUCKET
TABLE = PHOTOS_TABLE
RTO_LIMIT = 5.0
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def deployed(fresh_regions, proxies: bool = False, **app_extra):
    """A started pair of this test's own with the photos app applied in both regions."""
    return deploy_photos(fresh_regions(start=False, proxies=proxies), **app_extra)


def S(v: str) -> dict:
    return {"S": v}


def item_key(cid: str, photo: str = "writer") -> dict:
    return {"photo_id": S(photo), "comment_id": S(cid)}


# --------------------------------------------------------------------------- the writer


@dataclass
class Ack:
    kind: str  # "object" or "item"
    region: str
    key: str
    version_id: str | None
    at: float


@dataclass
class Writer:
    """Writes objects and items to the app's write region until stopped (`threads` threads,
    each its own keys and clients)."""

    pair: object
    threads: int = 2
    acks: list[Ack] = field(default_factory=list)
    refusals: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    no_write_region: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop_event: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self):
        self.workers = [
            threading.Thread(target=self._run, args=(tid,), name=f"writer-{tid}", daemon=True)
            for tid in range(self.threads)
        ]

    def start(self) -> Writer:
        for w in self.workers:
            w.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        for w in self.workers:
            w.join(timeout=30)
            assert not w.is_alive(), f"{w.name} did not stop"

    def write_region(self) -> str | None:
        """The write region as /_tandem/apps/photos/state says (the newest view of the regions that answer)."""
        best = None
        for r in self.pair.names:
            try:
                v = requests.get(f"{self.pair.endpoint(r)}/_tandem/apps/{APP}/state", timeout=2).json()
            except (requests.RequestException, ValueError):
                continue
            if best is None or v["Version"] > best["Version"]:
                best = v
        return best and best["WriteRegion"]

    def count(self, region: str, after: float = 0.0) -> int:
        with self.lock:
            return sum(1 for a in self.acks if a.region == region and a.at > after)

    def acked(self, region: str) -> list[Ack]:
        with self.lock:
            return [a for a in self.acks if a.region == region]

    def _ack(self, a: Ack) -> None:
        with self.lock:
            self.acks.append(a)

    def _attempt(self, region: str, kind: str, fn) -> bool:
        """Runs one write; False when it was refused or failed (then the state is read again)."""
        try:
            fn()
            return True
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code")
            with self.lock:
                if code in ("NotWriteRegion", "AppFenced"):
                    status = e.response["ResponseMetadata"]["HTTPStatusCode"]
                    if not refusal_status_ok(e):
                        self.errors.append(f"{kind} in {region}: {code} with HTTP {status}")
                    self.refusals[(region, code)] += 1
                else:
                    self.errors.append(f"{kind} in {region}: {code}: {e}")
        except Exception as e:  # noqa: BLE001 - recorded; the test fails on any
            with self.lock:
                self.errors.append(f"{kind} in {region}: {e!r}")
        return False

    def _run(self, tid: int) -> None:
        s3 = {r: self.pair.s3(r) for r in self.pair.names}
        ddb = {r: self.pair.ddb(r) for r in self.pair.names}
        n = 0
        region = self.write_region()
        while not self.stop_event.is_set():
            if region is None:
                with self.lock:
                    self.no_write_region += 1
                time.sleep(0.01)
                region = self.write_region()
                continue
            n += 1
            key = f"w{tid}-{n:06d}"
            out: dict = {}

            def put_object(region=region, key=key, n=n, out=out):
                out["v"] = s3[region].put_object(
                    Bucket=BUCKET[region], Key=key, Body=f"{key} from {region} #{n}".encode()
                )["VersionId"]

            if not self._attempt(region, "PutObject", put_object):
                region = self.write_region()
                continue
            self._ack(Ack("object", region, key, out["v"], time.monotonic()))

            def put_item(region=region, key=key, n=n):
                ddb[region].put_item(
                    TableName=TABLE,
                    Item={"photo_id": S("writer"), "comment_id": S(key), "n": {"N": str(n)}, "region": S(region)},
                )

            if not self._attempt(region, "PutItem", put_item):
                region = self.write_region()
                continue
            self._ack(Ack("item", region, key, None, time.monotonic()))
            time.sleep(0.003)


def missing_in(pair, region: str, acks: list[Ack]) -> list[str]:
    """The acknowledged writes `region` does not hold (right now: no waiting)."""
    s3, ddb = pair.s3(region), pair.ddb(region)

    def check(a: Ack) -> str | None:
        try:
            if a.kind == "object":
                h = s3.head_object(Bucket=BUCKET[region], Key=a.key, VersionId=a.version_id)
                return None if h["VersionId"] == a.version_id else f"object {a.key} {a.version_id}: {h['VersionId']}"
            got = ddb.get_item(TableName=TABLE, Key=item_key(a.key), ConsistentRead=True).get("Item")
            return None if got and got["region"] == S(a.region) else f"item {a.key}: {got}"
        except ClientError as e:
            return f"{a.kind} {a.key} {a.version_id or ''}: {e.response.get('Error')}"

    with ThreadPoolExecutor(8) as pool:
        return [m for m in pool.map(check, acks) if m]


def log_of(pair, region: str) -> str:
    return ANSI.sub("", pair[region].log_path.read_text(errors="replace"))


# --------------------------------------------------------------------------- planned failover and failback


def test_planned_failover_and_failback_under_a_running_writer_lose_nothing(fresh_regions):
    pair = deployed(fresh_regions)
    writer = Writer(pair).start()
    try:
        pair.wait_until(lambda: writer.count(US) >= 300, timeout=15, what="writes in us-east")

        t_fo0 = time.monotonic()
        fo = pair.tandem("failover", APP, "--planned", "--timeout", "30")
        t_fo1 = time.monotonic()
        assert fo.returncode == 0, fo.stdout + fo.stderr
        assert "planned failover done" in fo.stdout and "(RPO 0)" in fo.stdout, fo.stdout
        # RPO 0: every write the primary acknowledged is in the secondary the moment failover returns.
        primary_acks = writer.acked(US)
        missing = missing_in(pair, TOKYO, primary_acks)
        assert not missing, f"{len(missing)} of {len(primary_acks)} acknowledged writes missing in ap-tokyo: {missing[:10]}"
        for r in pair.names:
            v = pair.app_state(r, APP)
            assert (v["State"], v["WriteRegion"]) == ("failover", TOKYO), v

        pair.wait_until(lambda: writer.count(TOKYO, after=t_fo1) >= 300, timeout=15, what="writes in ap-tokyo")

        t_fb0 = time.monotonic()
        fb = pair.tandem("failback", APP, "--timeout", "30")
        t_fb1 = time.monotonic()
        assert fb.returncode == 0, fb.stdout + fb.stderr
        assert "failback done" in fb.stdout, fb.stdout
        # Every write the secondary accepted during failover is in the primary the moment failback returns.
        secondary_acks = writer.acked(TOKYO)
        missing = missing_in(pair, US, secondary_acks)
        assert not missing, f"{len(missing)} of {len(secondary_acks)} failover-era writes missing in us-east: {missing[:10]}"
        views = pair.wait_app_state(APP, "active")
        for v in views.values():
            assert v["WriteRegion"] == US and v["Version"] == views[US]["Version"], views

        pair.wait_until(lambda: writer.count(US, after=t_fb1) >= 50, timeout=15, what="writes in us-east again")
    finally:
        writer.stop()

    assert not writer.errors, f"unexpected write errors: {writer.errors[:10]}"
    acks = writer.acks
    us_acks = [a for a in acks if a.region == US]
    tk_acks = [a for a in acks if a.region == TOKYO]
    # Each region acknowledged writes only in its turn.
    assert all(a.at < t_fo1 or a.at > t_fb0 for a in us_acks), "us-east acknowledged a write while failed over"
    assert all(t_fo0 < a.at < t_fb1 for a in tk_acks), "ap-tokyo acknowledged a write outside the failover"
    # The writer was refused while the app was fenced or had moved, and found the new write region.
    assert writer.refusals or writer.no_write_region, "the writer never saw a switch"

    # Both regions end with every acknowledged write.
    pair.wait_in_sync(timeout=30)
    for r in pair.names:
        missing = missing_in(pair, r, acks)
        assert not missing, f"{r} lacks {len(missing)} acknowledged writes: {missing[:10]}"

    def gap(before: list[Ack], after: list[Ack]) -> float:
        return min(a.at for a in after) - max(a.at for a in before)

    print(
        f"\nplanned failover: {len(us_acks)} acknowledged writes (objects and items) in us-east, {len(tk_acks)} in ap-tokyo; "
        f"failover took {t_fo1 - t_fo0:.2f} s (writer gap {gap([a for a in us_acks if a.at < t_fo1], tk_acks):.2f} s), "
        f"failback {t_fb1 - t_fb0:.2f} s (writer gap {gap(tk_acks, [a for a in us_acks if a.at > t_fb0]):.2f} s); "
        f"refusals {dict(writer.refusals)}, {writer.no_write_region} polls without a write region"
    )


def test_planned_failover_whose_wait_cannot_finish_restores_the_state(fresh_regions):
    """The link into the secondary is slowed so that a planned failover cannot drain in
    its timeout: the primary is fenced, the wait gives up, and the app is active in the
    primary again (writes work there). With --stay-fenced it stays fenced instead; run
    again once the link is back, it completes with every acknowledged write in the
    secondary."""
    pair = deployed(fresh_regions, proxies=True)
    us_s3, us_ddb = pair.s3(US), pair.ddb(US)
    with pair.slow_links(4000, TOKYO):
        stuck = [us_s3.put_object(Bucket=BUCKET[US], Key=f"stuck-{i}", Body=b"lagging")["VersionId"] for i in range(20)]
        us_ddb.put_item(TableName=TABLE, Item={**item_key("stuck"), "v": S("lagging")})
        t0 = time.monotonic()
        out = pair.tandem("failover", APP, "--planned", "--timeout", "1")
        took = time.monotonic() - t0
        assert out.returncode != 0, out.stdout + out.stderr
        assert "abandoned" in out.stderr and "active again" in out.stderr, out.stderr
        assert 1 <= took < 15, took
        v = pair.app_state(US, APP)
        assert (v["State"], v["WriteRegion"]) == ("active", US), v
        us_s3.put_object(Bucket=BUCKET[US], Key="after-abandon", Body=b"ok")

        out = pair.tandem("failover", APP, "--planned", "--timeout", "1", "--stay-fenced")
        assert out.returncode != 0 and "stays fenced" in out.stderr, out.stdout + out.stderr
        v = pair.app_state(US, APP)
        assert (v["State"], v["WriteRegion"]) == ("fenced", None), v
        with write_refused("AppFenced"):
            us_s3.put_object(Bucket=BUCKET[US], Key="while-fenced", Body=b"no")
        # The secondary must not have been switched.
        with write_refused("NotWriteRegion"):
            pair.s3(TOKYO).put_object(Bucket=BUCKET[TOKYO], Key="while-fenced", Body=b"no")
    out = pair.tandem("failover", APP, "--planned", "--timeout", "30")
    assert out.returncode == 0 and "(RPO 0)" in out.stdout, out.stdout + out.stderr
    tk_s3 = pair.s3(TOKYO)
    for i, v in enumerate(stuck):
        tk_s3.head_object(Bucket=BUCKET[TOKYO], Key=f"stuck-{i}", VersionId=v)
    got = pair.ddb(TOKYO).get_item(TableName=TABLE, Key=item_key("stuck"), ConsistentRead=True).get("Item")
    assert got and got["v"] == S("lagging"), got
    views = pair.wait_app_state(APP, "failover")
    assert all(v["WriteRegion"] == TOKYO for v in views.values()), views
    tk_s3.put_object(Bucket=BUCKET[TOKYO], Key="after", Body=b"tokyo")


def test_planned_failover_over_a_failing_link_is_refused_before_fencing(fresh_regions):
    pair = deployed(fresh_regions, proxies=True)
    us_s3 = pair.s3(US)
    with pair.partitioned(TOKYO):
        us_s3.put_object(Bucket=BUCKET[US], Key="cut-off", Body=b"x")
        pair.wait_until(lambda: pair.peer_status(US)["state"] == "failing", what="the link to show failing")
        out = pair.tandem("failover", APP, "--planned")
        assert out.returncode != 0, out.stdout + out.stderr
        assert "is failing" in out.stderr and "nothing was changed" in out.stderr, out.stderr
        assert f"`tandem failover {APP}`" in out.stderr, out.stderr
        assert pair.app_state(US, APP)["State"] == "active"
        us_s3.put_object(Bucket=BUCKET[US], Key="still-writable", Body=b"x")


def test_planned_failover_to_a_stopped_secondary_is_refused_before_fencing(fresh_regions):
    pair = deployed(fresh_regions)
    pair.stop(TOKYO)
    t0 = time.monotonic()
    out = pair.tandem("failover", APP, "--planned")
    assert out.returncode != 0, out.stdout + out.stderr
    assert time.monotonic() - t0 < 15
    assert f"{TOKYO} is not reachable" in out.stderr and "nothing was changed" in out.stderr, out.stderr
    assert f"start {TOKYO}" in out.stderr, out.stderr
    v = pair.app_state(US, APP)
    assert (v["State"], v["WriteRegion"]) == ("active", US), v
    pair.s3(US).put_object(Bucket=BUCKET[US], Key="still-writable", Body=b"x")


def test_state_set_to_a_stopped_write_region_is_refused_unless_forced(fresh_regions):
    pair = deployed(fresh_regions)
    pair.stop(TOKYO)
    out = pair.tandem("state", "set", APP, "failover")
    assert out.returncode != 0, out.stdout + out.stderr
    assert f"{TOKYO}, which would take {APP}'s writes, is not reachable" in out.stderr, out.stderr
    assert f"`tandem state set {APP} failover --force`" in out.stderr and "nothing was changed" in out.stderr, out.stderr
    assert pair.app_state(US, APP)["State"] == "active"
    forced = pair.tandem("state", "set", APP, "failover", "--force")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert pair.app_state(US, APP)["State"] == "failover"


def test_ready_endpoint_turns_unhealthy_when_a_peer_link_fails(fresh_regions):
    """/health/ready reports the store, each peer link and each app's state and write
    region, 200 while all is well. With the link into ap-tokyo cut and nothing to ship,
    us-east's heartbeats stop getting through: its ready check answers 503 naming the
    link, while /health (the cheap ping) stays 200; healed, it is 200 again."""
    pair = deployed(fresh_regions, proxies=True)

    def ready(region):
        r = requests.get(f"{pair.endpoint(region)}/health/ready", timeout=10)
        return r.status_code, r.json()

    for region in pair.names:
        code, body = pair.wait_until(lambda region=region: (c := ready(region))[0] == 200 and c, what=f"{region} ready")
        assert body["status"] == "ready" and body["store"]["status"] == "ok", body
        assert [p["peer"] for p in body["peers"]] == [pair.other(region)], body
        (app,) = body["apps"]
        assert (app["app"], app["state"], app["write_region"], app["writes_here"]) == (APP, "active", US, region == US), app
    with pair.partitioned(TOKYO):
        t0 = time.monotonic()
        code, body = pair.wait_until(lambda: (c := ready(US))[0] == 503 and c, timeout=15, what="us-east unready")
        print(f"\nready turned 503 {time.monotonic() - t0:.1f} s after the cut")
        assert body["status"] == "unready", body
        assert any(f"replication to {TOKYO} is failing" in p for p in body["problems"]), body
        assert body["peers"][0]["failing"] is True, body
        assert requests.get(f"{pair.endpoint(US)}/health", timeout=5).status_code == 200
        pair.s3(US).put_object(Bucket=BUCKET[US], Key="while-cut", Body=b"x")
        pair.wait_until(lambda: pair.metric(US, "tandem_replication_backlog_changes", peer=TOKYO) == 1,
                        what="the waiting change in the backlog series")
    pair.wait_until(lambda: ready(US)[0] == 200, timeout=15, what="us-east ready again")
    # Drained backlogs are exported as 0, not dropped.
    pair.wait_in_sync()
    series = pair.metrics(US)
    backlog = {m: [v for (name, ls), v in series.items() if name == m and ("peer", TOKYO) in ls]
               for m in ("tandem_replication_peer_backlog_changes", "tandem_replication_backlog_changes")}
    assert all(v == [0] for v in backlog.values()), backlog


def test_repeated_failover_and_failback_change_nothing(fresh_regions):
    pair = deployed(fresh_regions)
    out = pair.tandem("failback", APP)
    assert out.returncode == 0 and "already active" in out.stdout, out.stdout + out.stderr
    version = pair.app_state(US, APP)["Version"]
    assert pair.tandem("failover", APP, "--planned").returncode == 0
    switched = pair.wait_app_state(APP, "failover")[TOKYO]["Version"]
    for args in (("failover", APP, "--planned"), ("failover", APP)):
        out = pair.tandem(*args)
        assert out.returncode == 0 and "already failed over" in out.stdout, out.stdout + out.stderr
        assert pair.app_state(TOKYO, APP)["Version"] == switched
    pair.s3(TOKYO).put_object(Bucket=BUCKET[TOKYO], Key="never-fenced", Body=b"x")
    assert pair.tandem("failback", APP).returncode == 0
    back = pair.wait_app_state(APP, "active")[US]["Version"]
    out = pair.tandem("failback", APP)
    assert out.returncode == 0 and "already active" in out.stdout, out.stdout + out.stderr
    assert pair.app_state(US, APP)["Version"] == back > version


def test_refused_write_fails_fast_with_the_sdks_default_retries(fresh_regions):
    """NotWriteRegion is not retried by botocore's default retry policies (S3 409,
    DynamoDB 400), and the message says where to write instead."""
    pair = deployed(fresh_regions)
    for mode in ("legacy", "standard"):
        s3 = pair.s3(TOKYO, retries={"mode": mode})
        t0 = time.monotonic()
        with write_refused("NotWriteRegion", US) as ei:
            s3.put_object(Bucket=BUCKET[TOKYO], Key="wrong-region", Body=b"x")
        assert time.monotonic() - t0 < 1.0
        assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
        assert ei.value.response["ResponseMetadata"]["RetryAttempts"] == 0
        message = ei.value.response["Error"]["Message"]
        assert f"bucket {BUCKET[US]}" in message and pair.endpoint(US).split("//")[1] in message, message
        ddb = pair.ddb(TOKYO, retries={"mode": mode})
        t0 = time.monotonic()
        with write_refused("NotWriteRegion", US) as ei:
            ddb.put_item(TableName=TABLE, Item=item_key("wrong-region"))
        assert time.monotonic() - t0 < 1.0
        assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert f"table {TABLE}" in ei.value.response["Error"]["Message"]


def test_status_exits_non_zero_when_a_region_is_down(fresh_regions):
    pair = deployed(fresh_regions)
    out = pair.tandem("status")
    assert out.returncode == 0, out.stdout + out.stderr
    pair.stop(TOKYO)
    out = pair.tandem("status")
    assert out.returncode != 0, out.stdout + out.stderr
    assert f"{TOKYO} is down" in out.stderr, out.stderr


# --------------------------------------------------------------------------- unplanned failover


def test_unplanned_failover_with_the_primary_killed(fresh_regions):
    pair = deployed(fresh_regions)
    us_s3, us_ddb = pair.s3(US), pair.ddb(US)
    before = [us_s3.put_object(Bucket=BUCKET[US], Key=f"pre-{i}", Body=b"before")["VersionId"] for i in range(5)]
    us_ddb.put_item(TableName=TABLE, Item={**item_key("pre"), "v": S("before")})
    pair.wait_in_sync()
    v0 = pair.app_state(TOKYO, APP)["Version"]

    pair.kill(US)
    out = pair.tandem("failover", APP, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "unreachable" in out.stdout, out.stdout
    view = pair.app_state(TOKYO, APP)
    assert (view["State"], view["WriteRegion"], view["ChangedIn"]) == ("failover", TOKYO, TOKYO), view
    assert view["Version"] == v0 + 1, view

    # The secondary takes writes, and serves what the primary had shipped.
    tk_s3, tk_ddb = pair.s3(TOKYO), pair.ddb(TOKYO)
    put = tk_s3.put_object(Bucket=BUCKET[TOKYO], Key="during-outage", Body=b"tokyo")
    tk_ddb.put_item(TableName=TABLE, Item={**item_key("during-outage"), "v": S("tokyo")})
    for i, v in enumerate(before):
        assert tk_s3.get_object(Bucket=BUCKET[TOKYO], Key=f"pre-{i}", VersionId=v)["Body"].read() == b"before"

    # The old primary comes back, learns the newer state, and refuses writes.
    pair.start(US)
    t0 = time.monotonic()
    pair.wait_app_state(APP, "failover", US, min_version=v0 + 1, timeout=15)
    learned = time.monotonic() - t0
    with write_refused("NotWriteRegion", TOKYO):
        us_s3.put_object(Bucket=BUCKET[US], Key="after-restart", Body=b"us")
    with write_refused("NotWriteRegion", TOKYO):
        us_ddb.put_item(TableName=TABLE, Item={**item_key("after-restart"), "v": S("us")})
    with write_refused("NotWriteRegion", TOKYO):
        us_s3.delete_object(Bucket=BUCKET[US], Key="pre-0")
    # The secondary's writes reach it; reads are served.
    pair.wait_until(
        lambda: us_s3.head_object(Bucket=BUCKET[US], Key="during-outage", VersionId=put["VersionId"]),
        timeout=15,
        what="the outage-era object in us-east",
    )
    got = pair.wait_until(
        lambda: us_ddb.get_item(TableName=TABLE, Key=item_key("during-outage"), ConsistentRead=True).get("Item"),
        timeout=15,
        what="the outage-era item in us-east",
    )
    assert got["v"] == S("tokyo")
    assert "after-restart" not in [o["Key"] for o in us_s3.list_objects_v2(Bucket=BUCKET[US]).get("Contents", [])]
    print(f"\nunplanned failover: restarted us-east learned the failover state {learned:.2f} s after start")


RPO_LINE = re.compile(r"(\S+) had (?:at least )?(\d+) changes? \(([\d.]+) MiB, ([\d.]+) s\) that (\S+) has not received")


def test_unplanned_failover_prints_the_acknowledged_writes_the_secondary_has_not_received(fresh_regions):
    """The link into ap-tokyo is delayed 4 s by the fault proxy. One object goes first, so
    its batch is on the wire when 19 more are written: those wait for the next batch. Once
    a heartbeat taken after the last write has reached ap-tokyo, the link is cut (what is
    in flight never arrives) and us-east is killed. The unplanned failover's figure, the
    metric and `tandem status` must all count exactly the acknowledged objects that are
    missing in ap-tokyo, with their bytes."""
    pair = deployed(fresh_regions, proxies=True)
    us_s3, size = pair.s3(US), 10_000
    pair.proxy(TOKYO).delay(4000)
    keys = ["rpo-0"]
    us_s3.put_object(Bucket=BUCKET[US], Key=keys[0], Body=b"a" * size)
    time.sleep(0.5)  # the first batch is under way; the rest waits for its answer
    for i in range(1, 20):
        keys.append(f"rpo-{i}")
        us_s3.put_object(Bucket=BUCKET[US], Key=keys[-1], Body=b"b" * size)
    last_seq = pair.replication_status(US)["last_seq"]

    def heard_everything():
        b = pair.replication_status(TOKYO)["behind"].get(US)
        return b if b and b["origin_last_seq"] >= last_seq else None

    before = pair.wait_until(heard_everything, timeout=20, what="a heartbeat taken after the last write")
    pair.proxy(TOKYO).partition()
    pair.kill(US)
    out = pair.tandem("failover", APP, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    m = RPO_LINE.search(out.stdout)
    assert m, out.stdout
    present = {o["Key"] for o in pair.s3(TOKYO).list_objects_v2(Bucket=BUCKET[TOKYO]).get("Contents", [])}
    missing = [k for k in keys if k not in present]
    print(f"\nRPO exposure: {m.group(0)}; {len(missing)} acknowledged objects missing in {TOKYO} (seen {before})")
    assert missing, f"setup: every write reached {TOKYO} before the cut ({before})"
    assert (m.group(1), m.group(5)) == (US, TOKYO), m.group(0)
    assert int(m.group(2)) == len(missing), (m.group(0), missing)
    assert abs(float(m.group(3)) - len(missing) * size / 2**20) < 0.01, m.group(0)
    assert 0 < float(m.group(4)) < 30, m.group(0)
    assert pair.metric(TOKYO, "tandem_replication_behind_changes", origin=US) == len(missing)
    assert pair.metric(TOKYO, "tandem_replication_behind_bytes", origin=US) == len(missing) * size
    st = pair.tandem("status")
    assert st.returncode != 0, st.stdout
    behind_table = st.stdout.split("BEHIND", 1)[-1]
    row = re.search(rf"^{TOKYO}\s+{US}\s+(\d+)\s", behind_table, re.M)
    assert row and int(row.group(1)) == len(missing), st.stdout


def test_state_history_keeps_who_where_and_why_and_counters_survive_a_restart(fresh_regions):
    """A fence through the API (admin key) and an unplanned failover through the CLI are
    both in `tandem state history`, each once, with the principal, its access key id, the
    client address, from -> to, the reason, where it was made and that both regions applied
    it. A write refused in the old primary is counted per app, region and reason. The
    state-change counters read the same after both regions restart."""
    pair = deployed(fresh_regions)
    r = pair.put_app_state(US, APP, "fenced", reason="maintenance window")
    assert r.status_code == 200, r.text
    pair.wait_app_state(APP, "fenced")
    out = pair.tandem("failover", APP)
    assert out.returncode == 0, out.stdout + out.stderr
    pair.wait_app_state(APP, "failover")
    with write_refused("NotWriteRegion", TOKYO):
        pair.s3(US).put_object(Bucket=BUCKET[US], Key="refused", Body=b"x")
    refused = dict(app=APP, region=US, reason="NotWriteRegion")
    assert pair.metric(US, "tandem_app_refused_writes_total", **refused) == 1

    out = pair.tandem("state", "history", APP, "--output", "json")
    assert out.returncode == 0, out.stdout + out.stderr
    history = json.loads(out.stdout)["history"]
    steps = [(h["from"], h["to"], h["made_in"], sorted(h["applied_in"])) for h in history]
    assert steps == [("active", "fenced", US, sorted(pair.names)), ("fenced", "failover", TOKYO, sorted(pair.names))], history
    fence, failover = history
    admin = KEYS["admin"]
    assert (fence["by"], fence["access_key_id"], fence["reason"]) == (admin.principal, admin.access_key_id, "maintenance window")
    assert fence["remote_addr"].startswith("127.0.0.1:"), fence
    assert (failover["by"], failover["reason"]) == (admin.principal, "unplanned failover"), failover
    assert fence["version"] < failover["version"]
    text = pair.tandem("state", "history", APP)
    assert text.returncode == 0 and "active -> fenced" in text.stdout and "maintenance window" in text.stdout, text.stdout

    def counters():
        return {
            (r, st): pair.metric(r, "tandem_app_state_changes_total", app=APP, state=st)
            for r in pair.names
            for st in ("fenced", "failover")
        }

    before = counters()
    assert set(before.values()) == {1.0}, before
    pair.restart()
    pair.wait_until(lambda: all(pair.alive(n) for n in pair.names), what="both regions back")
    assert counters() == before


# --------------------------------------------------------------------------- automatic failover


def test_automatic_failover_when_the_primary_dies(fresh_regions):
    pair = deployed(fresh_regions, auto_failover={"interval_ms": 200, "failures": 3})
    tk_s3, tk_ddb = pair.s3(TOKYO, connect_timeout=1, read_timeout=5), pair.ddb(TOKYO, connect_timeout=1, read_timeout=5)
    # While the primary answers, the watcher leaves the app alone.
    time.sleep(1.5)
    for r in pair.names:
        v = pair.app_state(r, APP)
        assert (v["State"], v["Version"]) == ("active", 0), v
    with write_refused("NotWriteRegion", US):
        tk_s3.put_object(Bucket=BUCKET[TOKYO], Key="too-early", Body=b"x")

    pair.kill(US)
    t_kill = time.monotonic()
    refusals, first = 0, None
    while time.monotonic() - t_kill < 20:
        try:
            first = tk_s3.put_object(Bucket=BUCKET[TOKYO], Key="first-write", Body=b"tokyo takes over")
            break
        except ClientError as e:
            assert e.response["Error"]["Code"] == "NotWriteRegion", e.response
            refusals += 1
            time.sleep(0.02)
    rto = time.monotonic() - t_kill
    assert first is not None, f"ap-tokyo took no write within 20 s of the primary's death:\n{pair.logs(15)}"
    print(f"\nautomatic failover: RTO {rto:.2f} s from kill -9 of us-east to the first write ap-tokyo accepted "
          f"({refusals} refused before)")
    assert rto < RTO_LIMIT, f"RTO {rto:.2f} s exceeds {RTO_LIMIT} s"
    tk_ddb.put_item(TableName=TABLE, Item={**item_key("first-write"), "v": S("tokyo")})

    view = pair.app_state(TOKYO, APP)
    assert (view["State"], view["WriteRegion"], view["ChangedBy"]) == ("failover", TOKYO, "auto-failover"), view
    assert view["Version"] == 1 and view["ChangedIn"] == TOKYO, view
    assert "automatic failover" in view["Reason"], view
    assert any(
        "STATE_UPDATED" in line and 'state="failover"' in line and "by=auto-failover" in line
        for line in log_of(pair, TOKYO).splitlines()
    ), pair.logs(10)
    assert pair.metric(TOKYO, "tandem_app_state", app=APP, state="failover") == 1

    # The old primary comes back: it learns the failover and refuses writes.
    pair.start(US)
    pair.wait_app_state(APP, "failover", US, min_version=1, timeout=15)
    us_s3, us_ddb = pair.s3(US), pair.ddb(US)
    with write_refused("NotWriteRegion", TOKYO):
        us_s3.put_object(Bucket=BUCKET[US], Key="old-primary", Body=b"no")
    with write_refused("NotWriteRegion", TOKYO):
        us_ddb.put_item(TableName=TABLE, Item={**item_key("old-primary"), "v": S("no")})
    pair.wait_until(
        lambda: us_s3.head_object(Bucket=BUCKET[US], Key="first-write", VersionId=first["VersionId"]),
        timeout=15,
        what="the first failover write in us-east",
    )
    # Nothing flips back by itself now that the primary answers again.
    time.sleep(1.0)
    for r in pair.names:
        v = pair.app_state(r, APP)
        assert (v["State"], v["Version"]) == ("failover", 1), v


def test_apply_adds_auto_failover_to_a_running_app_without_a_restart(fresh_regions):
    """Nothing to create, yet apply pushes the changed spec; the watcher in the
    secondary then fails the app over when the primary dies."""
    pair = deployed(fresh_regions)
    pair.configure_apps([photos_app(auto_failover={"interval_ms": 200, "failures": 3})])
    run = pair.tandem("apply")
    assert run.returncode == 0 and "app specs pushed" in run.stdout, run.stdout + run.stderr
    pair.kill(US)
    views = pair.wait_until(
        lambda: pair.app_state(TOKYO, APP)["State"] == "failover", timeout=RTO_LIMIT, what="automatic failover"
    )
    assert views
    pair.s3(TOKYO).put_object(Bucket=BUCKET[TOKYO], Key="after-auto", Body=b"x")


def test_automatic_failover_leaves_an_operator_fence_alone(fresh_regions):
    """The watcher switches only an *active* app: fenced by an operator, it stays fenced
    however long the primary is gone."""
    pair = deployed(fresh_regions, auto_failover={"interval_ms": 200, "failures": 3})
    r = pair.put_app_state(US, APP, "fenced", reason="operator: maintenance")
    assert r.status_code == 200, r.text
    pair.wait_app_state(APP, "fenced", min_version=1)
    pair.kill(US)
    time.sleep(2.0)  # ten health checks, three times the threshold
    v = pair.app_state(TOKYO, APP)
    assert (v["State"], v["Version"], v["ChangedBy"]) == ("fenced", 1, "admin"), v
    with write_refused("AppFenced"):
        pair.s3(TOKYO).put_object(Bucket=BUCKET[TOKYO], Key="x", Body=b"no")


def test_restarted_old_primary_refuses_writes_from_its_first_request(fresh_regions):
    """After an outage long enough for the secondary's shipper to back off (8 s), the old
    primary restarts next to a reachable secondary that took over. From the moment it
    serves, it must not take writes for the app (nor say it does through the state
    API): otherwise both regions accept writes for the app at once (split brain)
    until the secondary's next retry delivers the state."""
    pair = deployed(fresh_regions, auto_failover={"interval_ms": 200, "failures": 3})
    pair.kill(US)
    pair.wait_app_state(APP, "failover", TOKYO, min_version=1, timeout=10)
    time.sleep(8.0)
    pair.start(US)
    t0 = time.monotonic()
    us_s3 = pair.s3(US)
    accepted, views = [], []
    while time.monotonic() - t0 < 6.0:
        views.append(pair.app_state(US, APP)["WriteRegion"])
        try:
            us_s3.put_object(Bucket=BUCKET[US], Key=f"split-{len(accepted)}", Body=b"old primary")
            accepted.append(round(time.monotonic() - t0, 2))
        except ClientError as e:
            assert e.response["Error"]["Code"] == "NotWriteRegion", e.response
            break
        time.sleep(0.05)
    assert not accepted, (
        f"the restarted old primary accepted {len(accepted)} writes for {APP} during "
        f"{accepted[-1]:.2f} s after it started serving, while {TOKYO} held the writes; "
        f"its state API said write region {sorted(set(views), key=str)}"
    )
    assert set(views) == {TOKYO}, views
