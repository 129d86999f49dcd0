"""`tandem drill` end to end: two real regions with the photos app (automatic
failover on), one `tandem edge` in front, and the drill's hooks in
tandem.toml driving the test's own region processes: `kill` sends SIGKILL
to the primary's pid, `restart` asks the test (by a marker file) to start it
again. The drill's figures are checked against the test's own count: its
own writer through the edge measures the outage, and every write the drill
says was acknowledged is looked up in both regions with boto3."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config

from e2e_helpers import KEYS, SIGNING_REGION, free_port
from faultproxy import FaultProxy
from regions import PHOTOS_BUCKET, PHOTOS_TABLE, RegionPair, deploy_photos, wait_until

ADMIN = KEYS["admin"]


def extra_config(root: Path, edge_port: int) -> str:
    return f"""
[edge]
access_key_id = "{ADMIN.access_key_id}"
probe_interval_ms = 200
app_poll_interval_ms = 200

[[edge.nodes]]
name = "e1"
listen = "127.0.0.1:{edge_port}"

[[edge.distributions]]
name = "app"
[[edge.distributions.behaviors]]
methods = ["GET", "HEAD", "PUT", "POST", "DELETE"]
sign = false
origin = {{ kind = "app", app = "photos" }}

[drill]
rto_seconds = 3
rpo_writes = 0
kill = "kill -9 $(cat {root}/{{region}}.pid)"
restart = "touch {root}/{{region}}.restart"
"""


class Restarter:
    """Starts a region again when the drill's restart hook asks (a marker file)."""

    def __init__(self, pair: RegionPair, root: Path):
        self.pair, self.root = pair, root
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def write_pids(self):
        for name, node in self.pair.nodes.items():
            (self.root / f"{name}.pid").write_text(str(node.proc.pid))

    def run(self):
        while not self.done.is_set():
            for name, node in self.pair.nodes.items():
                marker = self.root / f"{name}.restart"
                if marker.exists():
                    marker.unlink()
                    node.proc.wait(timeout=30)
                    node.start()
                    self.write_pids()
            time.sleep(0.05)


@contextlib.contextmanager
def edge_in_front(tandem_bin, pair: RegionPair, root: Path, edge_port: int):
    """`tandem edge` of the deployment's tandem.toml; yields its URL."""
    edge = subprocess.Popen(
        [str(tandem_bin), "edge", "--config", str(pair.config_path), "--name", "e1"],
        stdout=open(root / "edge.log", "ab"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{edge_port}"
        wait_until(lambda: requests.get(url + "/metrics", timeout=1).status_code == 200, 15, what="edge up")
        yield url
    finally:
        edge.terminate()
        edge.wait(timeout=10)


@pytest.fixture
def deployment(tandem_bin, tmp_path):
    edge_port = free_port()
    pair = RegionPair(tandem_bin, tmp_path, extra_config=extra_config(tmp_path, edge_port))
    restarter = None
    try:
        deploy_photos(pair, auto_failover={"interval_ms": 200, "failures": 3})
        restarter = Restarter(pair, tmp_path)
        restarter.write_pids()
        with edge_in_front(tandem_bin, pair, tmp_path, edge_port) as url:
            yield pair, url, tmp_path
    finally:
        if restarter:
            restarter.done.set()
        pair.close()


def curl_hooks(hooks: dict[str, list[str]]) -> str:
    """`[drill]` hook lines that POST to fault-proxy control URLs, in order."""
    lines = []
    for name, urls in hooks.items():
        command = " && ".join(f"curl -sf -X POST '{url}' >/dev/null" for url in urls)
        lines.append(f'{name} = "{command}"')
    return "\n".join(lines) + "\n"


@pytest.fixture
def partitionable(tandem_bin, tmp_path):
    """The deployment of `deployment`, with replication between the regions
    through fault proxies that the drill's partition and heal hooks drive
    (their control API, with curl)."""
    edge_port = free_port()
    pair = RegionPair(tandem_bin, tmp_path, proxies=True, extra_config=extra_config(tmp_path, edge_port))
    controls = [pair.proxy(n).control_url for n in pair.names]
    pair.extra_config += curl_hooks({action: [f"{url}/{action}" for url in controls] for action in ("partition", "heal")})
    try:
        # No automatic failover: ap-tokyo checks us-east over the link the
        # partition cuts, so it would take the writes (a drill of that is --kill-primary).
        deploy_photos(pair)
        with edge_in_front(tandem_bin, pair, tmp_path, edge_port) as url:
            yield pair, url, tmp_path
    finally:
        pair.close()


@pytest.fixture
def slowable(tandem_bin, tmp_path):
    """The deployment of `deployment` with every request to us-east (the
    edge's, the replication's) through a fault proxy whose delay the drill's
    slow and unslow hooks set."""
    edge_port = free_port()
    pair = RegionPair(tandem_bin, tmp_path, extra_config=extra_config(tmp_path, edge_port))
    front = FaultProxy(pair["us-east"].port, log_path=tmp_path / "proxy-front.log").start()
    pair.public_urls["us-east"] = front.endpoint
    pair.extra_config += curl_hooks({"slow": [f"{front.control_url}/delay?ms={{ms}}"], "unslow": [f"{front.control_url}/reset"]})
    try:
        deploy_photos(pair)
        with edge_in_front(tandem_bin, pair, tmp_path, edge_port) as url:
            yield pair, url, tmp_path, front
    finally:
        pair.close()
        front.stop()


class BacklogWatcher:
    """The test's own view of a partition: us-east's backlog towards ap-tokyo, polled."""

    def __init__(self, pair: RegionPair):
        self.pair = pair
        self.peak = 0
        self.seen: list[tuple[float, int | str]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            try:
                changes = self.pair.peer_status("us-east", "ap-tokyo")["backlog"]["changes"]
                self.peak = max(self.peak, changes)
                self.seen.append((time.monotonic(), changes))
            except Exception as e:  # noqa: BLE001 - a missed poll only lowers the peak
                self.seen.append((time.monotonic(), repr(e)[:80]))
            time.sleep(0.2)

    def finish(self) -> int:
        self.stop.set()
        self.thread.join(timeout=10)
        return self.peak


def edge_s3(url: str):
    return boto3.session.Session().client(
        "s3",
        endpoint_url=url,
        aws_access_key_id=ADMIN.access_key_id,
        aws_secret_access_key=ADMIN.secret_access_key,
        region_name=SIGNING_REGION,
        config=Config(
            s3={"addressing_style": "path"}, retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=2, read_timeout=2
        ),
    )


class OwnWriter:
    """The test's own count: a PUT through the edge every 50 ms, each outcome timed."""

    def __init__(self, url: str):
        self.s3 = edge_s3(url)
        # (sent at, acknowledged, seconds it took)
        self.outcomes: list[tuple[float, bool, float]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        n = 0
        while not self.stop.is_set():
            n += 1
            t = time.monotonic()
            try:
                self.s3.put_object(Bucket=PHOTOS_BUCKET["us-east"], Key=f"own/{n:06}", Body=b"own")
                ok = True
            except Exception:  # noqa: BLE001 - any failure is an outage the test counts
                ok = False
            self.outcomes.append((t, ok, time.monotonic() - t))
            time.sleep(0.05)

    def finish(self) -> float:
        """Seconds from the first failed PUT to the first acknowledged one after it."""
        self.stop.set()
        self.thread.join(timeout=10)
        failures = [t for t, ok, _ in self.outcomes if not ok]
        if not failures:
            return 0.0
        first = failures[0]
        after = [t for t, ok, _ in self.outcomes if ok and t > first]
        return (after[0] if after else self.outcomes[-1][0]) - first


def drill(pair: RegionPair, root: Path, *flags: str):
    out = root / "drill.json"
    run = pair.tandem("drill", "photos", *flags, "--steady", "2", "--json", str(out), timeout=240)
    print(run.stdout[-3000:])
    return run, json.loads(out.read_text()) if out.exists() else None


def check_acknowledged_writes_in_both_regions(pair: RegionPair, report: dict) -> int:
    """Looks up every acknowledged write in both regions; returns how many."""
    acked = [w for w in report["writes"] if w["acknowledged"]]
    assert acked, "the drill acknowledged no write"
    for region in ("us-east", "ap-tokyo"):
        s3, ddb = pair.s3(region), pair.ddb(region)
        listed = set()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=PHOTOS_BUCKET[region], Prefix=f"drill/{report['run']}/"):
            listed.update(o["Key"] for o in page.get("Contents", []))
        items = set()
        for page in ddb.get_paginator("query").paginate(
            TableName=PHOTOS_TABLE,
            KeyConditionExpression="photo_id = :p",
            ExpressionAttributeValues={":p": {"S": f"drill-{report['run']}"}},
            ConsistentRead=True,
        ):
            items.update(i["comment_id"]["S"] for i in page["Items"])
        missing = [w["id"] for w in acked if w["id"] not in (listed if w["kind"] == "object" else items)]
        assert missing == [], f"acknowledged writes missing in {region}: {missing[:10]}"
    return len(acked)


def test_a_planned_drill_reports_rpo_zero_and_both_regions_hold_every_acknowledged_write(deployment):
    pair, _, root = deployment
    run, report = drill(pair, root, "--planned")
    assert run.returncode == 0, run.stdout + run.stderr
    assert report["rpo_missing"] == []
    assert "RPO" in run.stdout and "0 write(s) missing" in run.stdout
    assert report["regions_served"] == ["ap-tokyo", "us-east"]
    assert [result for _, result in report["diff"]] == ["in sync", "in sync"], report["diff"]
    assert report["verify_errors"] == []
    assert report["converge_seconds"] is not None
    acked = check_acknowledged_writes_in_both_regions(pair, report)
    assert acked == report["writes_acknowledged"]
    assert report["writes_failed"] == sum(1 for w in report["writes"] if not w["acknowledged"])
    # Both regions keep the report for the console.
    for region in ("us-east", "ap-tokyo"):
        listed = pair[region].request("GET", "/_tandem/drills", principal="admin", timeout=10)
        assert listed.status_code == 200, listed.text
        kept = listed.json()["drills"][0]
        assert kept["run"] == report["run"] and kept["rto_seconds"] == report["rto_seconds"], kept
        assert kept["failure"] == report["failure"] and kept["kept_at_ms"] > 0


def test_killing_the_primary_recovers_within_3_s_through_the_edge_and_loses_no_write(deployment):
    pair, url, root = deployment
    own = OwnWriter(url)
    run, report = drill(pair, root, "--kill-primary")
    own_rto = own.finish()
    assert run.returncode == 0, run.stdout + run.stderr
    print(f"drill RTO {report['rto_seconds']:.2f} s, the test's own writer saw {own_rto:.2f} s")
    assert report["rto_seconds"] is not None and report["rto_seconds"] < 3.0
    assert report["rpo_missing"] == [] and report["verify_errors"] == []
    # What ap-tokyo lacked while us-east was down: writes us-east acknowledged
    # just before the kill; they came back with the restart (rpo_missing).
    assert isinstance(report["rpo_missing_during_outage"], list)
    print(f"missing in ap-tokyo during the outage: {report['rpo_missing_during_outage']}")
    assert report["writes_failed"] > 0, "the kill caused no failed write: nothing was measured"
    # The drill's writer and the test's each measure the same outage.
    assert abs(report["rto_seconds"] - own_rto) < 1.0, (report["rto_seconds"], own_rto)
    assert report["rpo_predicted_changes"] is not None
    assert "ap-tokyo" in report["regions_served"]
    acked = check_acknowledged_writes_in_both_regions(pair, report)
    assert acked == report["writes_acknowledged"]


def test_a_missed_target_fails_the_drill(deployment):
    pair, _, root = deployment
    text = pair.config_path.read_text().replace("rto_seconds = 3", "rto_seconds = 0.001")
    strict = root / "strict.toml"
    strict.write_text(text)
    out = root / "strict.json"
    run = pair.tandem("drill", "photos", "--planned", "--steady", "1", "--json", str(out), config=strict, timeout=240)
    report = json.loads(out.read_text())
    if report["rto_seconds"] is None or report["rto_seconds"] > 0.001:
        assert run.returncode == 1, run.stdout + run.stderr
        assert "missed its targets" in run.stderr and "TARGET MISSED" in run.stdout
    else:
        assert run.returncode == 0


def test_a_drill_that_needs_a_hook_says_which_and_injects_nothing(deployment):
    pair, _, root = deployment
    run = pair.tandem("drill", "photos", "--partition", "2", "--steady", "1", timeout=120)
    assert run.returncode == 1
    assert "needs `[drill] partition` in tandem.toml" in run.stderr, run.stderr
    # A partition hook without its heal is refused before it can run.
    marker = root / "partitioned"
    half = root / "half.toml"
    half.write_text(pair.config_path.read_text().replace("[drill]\n", f'[drill]\npartition = "touch {marker}"\n'))
    run = pair.tandem("drill", "photos", "--partition", "2", "--steady", "1", config=half, timeout=120)
    assert run.returncode == 1 and "needs `[drill] heal` in tandem.toml" in run.stderr, run.stdout + run.stderr
    assert not marker.exists(), "the partition hook ran although nothing could heal it"


def test_a_partition_drill_shows_the_backlog_it_caused_and_loses_nothing(partitionable):
    pair, _, root = partitionable
    watcher = BacklogWatcher(pair)
    run, report = drill(pair, root, "--partition", "3")
    own_peak = watcher.finish()
    assert run.returncode == 0, run.stdout + run.stderr
    print(f"backlog peak: drill {report['max_backlog_changes']}, the test's own poll {own_peak}")
    # The primary kept taking writes: nothing failed, nothing was lost.
    assert report["rto_seconds"] == 0 and report["writes_failed"] == 0, report
    assert report["rpo_missing"] == [] and report["verify_errors"] == []
    # Cut for 3 s while writing two changes every 50 ms: both saw a backlog
    # build up, of the same size (the drill samples every 500 ms, the test every 200 ms).
    assert own_peak >= 20 and report["max_backlog_changes"] >= 20, (own_peak, report["max_backlog_changes"])
    assert abs(report["max_backlog_changes"] - own_peak) <= 0.3 * own_peak, (own_peak, report["max_backlog_changes"])
    assert report["regions_served"] == ["us-east"]
    assert report["max_lag_seconds"] >= 1.0, report["max_lag_seconds"]
    assert report["converge_seconds"] is not None
    assert [result for _, result in report["diff"]] == ["in sync", "in sync"], report["diff"]
    # The hooks ran: the proxies refused replication while cut, and forward again.
    stats = [pair.proxy(n).stats() for n in pair.names]
    assert all(st["mode"] == "forward" for st in stats), stats
    assert sum(st["refused"] + st["dropped"] for st in stats) > 0, stats
    check_acknowledged_writes_in_both_regions(pair, report)


def test_ctrl_c_during_a_partition_heals_it_and_says_so(partitionable):
    pair, _, root = partitionable
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ADMIN.access_key_id, "AWS_SECRET_ACCESS_KEY": ADMIN.secret_access_key, "NO_COLOR": "1"}
    drill_proc = subprocess.Popen(
        [str(pair.binary), "drill", "photos", "--partition", "60", "--steady", "1", "--config", str(pair.config_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=root,
    )
    try:
        wait_until(lambda: all(pair.proxy(n).stats()["mode"] == "partition" for n in pair.names), 30, what="the partition hook")
        drill_proc.send_signal(signal.SIGINT)
        out, err = drill_proc.communicate(timeout=30)
    finally:
        if drill_proc.poll() is None:
            drill_proc.kill()
    assert drill_proc.returncode == 1, out + err
    assert "interrupted while replication cut for 60 s was in place: it was undone" in err, out + err
    assert all(pair.proxy(n).stats()["mode"] == "forward" for n in pair.names), "the heal hook ran"
    pair.wait_in_sync(timeout=30)


def test_a_slowed_primary_shows_in_the_write_latency_and_loses_nothing(slowable):
    pair, url, root, front = slowable
    own = OwnWriter(url)
    run, report = drill(pair, root, "--slow-primary", "300")
    own.finish()
    assert run.returncode == 0, run.stdout + run.stderr
    before, during = report["write_latency_before"], report["write_latency_during"]
    print(f"write latency p50 before {before['p50_ms']} ms, during {during['p50_ms']} ms")
    # Each write reaches us-east through the proxy once: 300 ms more while slowed.
    assert before["p50_ms"] < 150, before
    assert during["p50_ms"] >= 300, during
    assert report["rpo_missing"] == [] and report["verify_errors"] == []
    assert report["regions_served"] == ["us-east"]
    # The test's own writer through the edge saw the same slowdown.
    slowed = [took for t, ok, took in own.outcomes if ok and took >= 0.3]
    assert len(slowed) >= 5, own.outcomes[-20:]
    assert front.stats()["delay_ms"] == 0, "the unslow hook ran"
    check_acknowledged_writes_in_both_regions(pair, report)
