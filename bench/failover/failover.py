"""Failover benchmark driver (RTO and RPO), called by bench/failover/run.sh.

Every run starts its own pair of regions (us-east primary, ap-tokyo
secondary of app `photos`) from a fresh tandem.toml and fresh data dirs under
--work, runs `tandem apply`, and stops them again at the end of the run. The
pids of every `tandem serve` started are appended to --work/pids so run.sh
can kill whatever is left if this driver itself is killed.

Case `auto` (app with auto_failover): writers PUT objects (and DynamoDB items)
to us-east; us-east is killed with SIGKILL; a probe PUTs to photos-ap-tokyo
every 20 ms until one is accepted. RTO = kill -> first accepted write in the
secondary. RPO = writes us-east acknowledged that ap-tokyo lacks after the
takeover. Then us-east is restarted (same data dir) to see how long it still
takes writes (it cannot know about the failover until ap-tokyo's state record
reaches it) and whether the lost writes arrive in ap-tokyo after all.

Case `planned` (no auto_failover): writers follow the app's write region
(GET /_tandem/apps/photos/state of both regions, highest Version wins; on a
NotWriteRegion/AppFenced refusal they re-read it and retry), while
`tandem failover photos --planned` and later `tandem failback photos` run.
Measured: each command's duration, the write-unavailability window (last
write acknowledged by the old write region -> first one by the new), and
whether every write the old write region acknowledged is in the new one right
after the command returns (RPO must be 0), then in both regions at the end.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

APP = "photos"
PRIMARY, SECONDARY = "us-east", "ap-tokyo"
BUCKET = {PRIMARY: "photos-us-east", SECONDARY: "photos-ap-tokyo"}
TABLE = "comments"
AK, SK = "BENCHKEY0001", "bench-secret-key-0001"
GATE_CODES = ("NotWriteRegion", "AppFenced")
PROBE_S = 0.02  # probe / state-poll interval
T0 = time.monotonic()


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def now() -> float:
    """Seconds on the monotonic clock since the driver started."""
    return time.monotonic() - T0


def ms(v: float | None) -> float | None:
    return None if v is None else round(1000 * v, 1)


# ------------------------------------------------------------------ clients

CLIENT_CONFIG = Config(
    # One attempt per request: a retry would hide the moment a write is refused.
    retries={"total_max_attempts": 1, "mode": "standard"},
    connect_timeout=0.5,
    read_timeout=2,
    s3={"addressing_style": "path"},
    max_pool_connections=4,
)


def clients(endpoint: str):
    """(s3, dynamodb) boto3 clients for one region (one pair per thread)."""
    session = boto3.session.Session(aws_access_key_id=AK, aws_secret_access_key=SK, region_name="us-east-1")
    return (
        session.client("s3", endpoint_url=endpoint, config=CLIENT_CONFIG),
        session.client("dynamodb", endpoint_url=endpoint, config=CLIENT_CONFIG),
    )


def error_code(e: Exception) -> str:
    if isinstance(e, ClientError):
        return e.response.get("Error", {}).get("Code") or str(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
    return type(e).__name__


def http_json(url: str, timeout: float = 1.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


# ------------------------------------------------------------------ cluster


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """Two `tandem serve` processes of one deployment, data under `root`."""

    def __init__(self, tandem: str, root: Path, pidfile: Path, auto: dict | None):
        self.tandem, self.root, self.pidfile = tandem, root, pidfile
        root.mkdir(parents=True)
        self.port = {r: free_port() for r in (PRIMARY, SECONDARY)}
        self.url = {r: f"http://127.0.0.1:{p}" for r, p in self.port.items()}
        self.proc: dict[str, subprocess.Popen] = {}
        self.config = root / "tandem.toml"
        auto_line = (
            f"auto_failover = {{ interval_ms = {auto['interval_ms']}, failures = {auto['failures']} }}\n" if auto else ""
        )
        self.config.write_text(
            f"""[[regions]]
name = "{PRIMARY}"
listen = "127.0.0.1:{self.port[PRIMARY]}"
data_dir = "{root}/a"
[[regions]]
name = "{SECONDARY}"
listen = "127.0.0.1:{self.port[SECONDARY]}"
data_dir = "{root}/b"
[[access_keys]]
access_key_id = "{AK}"
secret_access_key = "{SK}"
principal = "admin"
admin = true
[replication]
access_key_id = "BENCHREPLICATION"
secret_access_key = "bench-replication-secret-01"
[[apps]]
id = "{APP}"
primary = "{PRIMARY}"
secondary = "{SECONDARY}"
buckets = [{{ primary = "{BUCKET[PRIMARY]}", secondary = "{BUCKET[SECONDARY]}" }}]
tables = [{{ name = "{TABLE}", hash_key = "photo_id:S", range_key = "comment_id:S" }}]
{auto_line}"""
        )

    def start(self, region: str) -> None:
        env = dict(os.environ, NO_COLOR="1")
        with open(self.root / f"{region}.log", "ab") as logf:  # the child keeps its own copy
            p = subprocess.Popen(
                [self.tandem, "serve", "--config", str(self.config), "--region", region],
                stdout=logf, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip
        self.proc[region] = p
        with open(self.pidfile, "a") as f:
            f.write(f"{p.pid}\n")

    def healthy(self, region: str) -> bool:
        try:
            with urllib.request.urlopen(self.url[region] + "/health", timeout=0.5) as r:
                return r.status == 200
        except OSError:
            return False

    def wait_healthy(self, region: str, timeout: float = 30) -> float:
        """Polls /health every 20 ms; returns the time it first answered 200."""
        deadline = now() + timeout
        while now() < deadline:
            if self.proc[region].poll() is not None:
                raise RuntimeError(f"{region} exited during startup (see {self.root}/{region}.log)")
            if self.healthy(region):
                return now()
            time.sleep(PROBE_S)
        raise RuntimeError(f"{region} not healthy after {timeout} s")

    def up(self) -> None:
        for r in (PRIMARY, SECONDARY):
            self.start(r)
        for r in (PRIMARY, SECONDARY):
            self.wait_healthy(r)
        p = self.cli("apply", timeout=60)
        if p.returncode != 0 or "applied." not in p.stdout:
            raise RuntimeError(f"tandem apply failed ({p.returncode}): {p.stdout.strip()} {p.stderr.strip()}")

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        cmd = ["timeout", "--kill-after=5", str(int(timeout)), self.tandem, *args, "--config", str(self.config)]
        return subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, NO_COLOR="1"), check=False)

    def cli_timed(self, *args: str, timeout: float = 120) -> tuple[int, list[tuple[float, str]]]:
        """Runs a tandem command; returns its exit code and its output lines,
        each with the time it was read (stdout is line-buffered)."""
        cmd = ["timeout", "--kill-after=5", str(int(timeout)), self.tandem, *args, "--config", str(self.config)]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=dict(os.environ, NO_COLOR="1"))  # fmt: skip
        lines = [(now(), line.rstrip("\n")) for line in p.stdout]
        return p.wait(), lines

    def kill9(self, region: str) -> None:
        self.proc[region].send_signal(signal.SIGKILL)

    def stop(self) -> None:
        live = [p for p in self.proc.values() if p.poll() is None]
        for p in live:
            p.terminate()
        for p in live:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def state(self, region: str) -> dict | None:
        try:
            return http_json(f"{self.url[region]}/_tandem/apps/{APP}/state")
        except (OSError, ValueError):
            return None

    def warnings(self, expected: tuple[str, ...] = ()) -> tuple[int, list[str]]:
        """(WARN/ERROR lines that log a write-gate refusal, the first 10 other
        WARN/ERROR lines not in `expected`) of both logs."""
        refusals, out = 0, []
        for r in (PRIMARY, SECONDARY):
            try:
                text = (self.root / f"{r}.log").read_text(errors="replace")
            except OSError:
                continue
            for line in text.splitlines():
                parts = line.split()
                if len(parts) < 2 or parts[1] not in ("WARN", "ERROR"):
                    continue
                if any(x in line for x in REFUSAL_LINES):
                    refusals += 1
                elif not any(x in line for x in expected) and len(out) < 10:
                    out.append(f"{r}: {line}")
        return refusals, out


# ------------------------------------------------------------------ writers


@dataclass
class Ack:
    kind: str  # "s3" or "ddb"
    key: str
    region: str
    sent: float
    acked: float
    version: str | None = None


@dataclass
class Log:
    """Everything the writers saw, shared by all of them."""

    acks: list[Ack] = field(default_factory=list)
    errors: list[tuple[float, str, str]] = field(default_factory=list)  # (time, region, code)
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: dict[int, str] = field(default_factory=dict)  # writer id -> region of its request

    def ack(self, a: Ack) -> None:
        with self.lock:
            self.acks.append(a)

    def error(self, t: float, region: str, code: str) -> None:
        with self.lock:
            self.errors.append((t, region, code))

    def snapshot(self) -> tuple[list[Ack], list[tuple[float, str, str]]]:
        with self.lock:
            return list(self.acks), list(self.errors)


class Route:
    """Which region takes the app's writes: fixed, or followed through the state API."""

    def __init__(self, cluster: Cluster, fixed: str | None):
        self.cluster, self.fixed = cluster, fixed
        self.lock = threading.Lock()
        self.region: str | None = fixed or PRIMARY
        self.read_at = -1.0
        self.reads = 0

    def current(self) -> str | None:
        return self.region

    def refresh(self) -> str | None:
        """Re-reads the state in both regions (highest Version wins); at most
        one read per 10 ms however many writers ask."""
        if self.fixed:
            return self.fixed
        with self.lock:
            if now() - self.read_at >= 0.01:
                views = [v for v in (self.cluster.state(r) for r in (PRIMARY, SECONDARY)) if v]
                if views:
                    self.region = max(views, key=lambda v: v.get("Version", 0)).get("WriteRegion")
                self.read_at = now()
                self.reads += 1
            return self.region


class Writer(threading.Thread):
    """Paced writer: `rate` writes/s of one kind, to the region `route` names.
    A write refused by the gate is retried (same key) after the route is
    re-read; other errors are logged and the next key is written."""

    def __init__(self, wid: int, kind: str, cluster: Cluster, route: Route, log_: Log, rate: float, prefix: str, body: bytes):
        super().__init__(daemon=True, name=f"writer-{wid}")
        self.wid, self.kind, self.route, self.log, self.rate = wid, kind, route, log_, rate
        self.prefix, self.body = prefix, body
        self.clients = {r: clients(cluster.url[r]) for r in (PRIMARY, SECONDARY)}
        self.stop_event = threading.Event()

    def put(self, region: str, key: str) -> str | None:
        s3, ddb = self.clients[region]
        if self.kind == "s3":
            return s3.put_object(Bucket=BUCKET[region], Key=key, Body=self.body).get("VersionId")
        ddb.put_item(
            TableName=TABLE,
            Item={"photo_id": {"S": self.prefix}, "comment_id": {"S": key}, "text": {"S": "x" * 64}},
        )
        return None

    def run(self) -> None:
        n, due = 0, now() + random.random() / self.rate
        key = f"{self.prefix}/{self.kind}{self.wid}-{n:06d}"
        while not self.stop_event.is_set():
            delay = due - now()
            if delay > 0 and self.stop_event.wait(delay):
                break
            due = max(due + 1 / self.rate, now() - 1)  # catch up at most 1 s of missed slots
            region = self.route.current()
            if region is None:  # fenced: nobody takes writes; look again
                self.route.refresh()
                continue
            self.log.in_flight[self.wid] = region
            sent = now()
            try:
                version = self.put(region, key)
            except (ClientError, BotoCoreError) as e:
                t, code = now(), error_code(e)
                self.log.error(t, region, code)
                if code in GATE_CODES:
                    self.route.refresh()
                    continue  # same key again
            else:
                self.log.ack(Ack(self.kind, key, region, sent, now(), version))
            finally:
                self.log.in_flight.pop(self.wid, None)
            n += 1
            key = f"{self.prefix}/{self.kind}{self.wid}-{n:06d}"


def start_writers(cluster, route, log_, a, prefix: str) -> list[Writer]:
    kinds = ["s3" if i % 2 == 0 or not a.items else "ddb" for i in range(a.writers)]
    ws = [
        Writer(i, k, cluster, route, log_, a.rate / a.writers, prefix, os.urandom(a.size))
        for i, k in enumerate(kinds)
    ]
    for w in ws:
        w.start()
    return ws


def stop_writers(ws: list[Writer]) -> None:
    for w in ws:
        w.stop_event.set()
    for w in ws:
        w.join(10)


# ------------------------------------------------------------------ checks


class Checker:
    """Are acknowledged writes present in a region (objects: that exact version)?

    `listed_missing` takes one snapshot by listing (ListObjectVersions and a
    consistent Query per key prefix: a few requests, so it can run under load
    without stalling the writers); `head_missing` asks per write (HeadObject
    with the VersionId, consistent GetItem). `missing` lists and confirms what
    the listing lacks with per-write reads; a write the listing lacks but a
    read finds is counted in `list_discrepancies` (a listing bug)."""

    def __init__(self, cluster: Cluster, region: str, lister: ProcessPoolExecutor, threads: int = 4):
        self.region, self.lister = region, lister
        self.local = threading.local()
        self.url = cluster.url[region]
        self.pool = ThreadPoolExecutor(threads)
        self.list_discrepancies: list[str] = []
        # Client creation and the first paginated call load botocore models:
        # hundreds of ms holding the GIL. Do it now, not while writers are timed.
        self.listing("warm-up", {"s3", "ddb"})

    def _clients(self):
        if not hasattr(self.local, "c"):
            self.local.c = clients(self.url)
        return self.local.c

    def present(self, a: Ack) -> bool:
        s3, ddb = self._clients()
        try:
            if a.kind == "s3":
                kw = {"VersionId": a.version} if a.version else {}
                s3.head_object(Bucket=BUCKET[self.region], Key=a.key, **kw)
                return True
            item = ddb.get_item(
                TableName=TABLE, Key={"photo_id": {"S": prefix_of(a)}, "comment_id": {"S": a.key}}, ConsistentRead=True
            )
            return "Item" in item
        except ClientError as e:
            if error_code(e) in ("404", "NoSuchKey", "NoSuchVersion", "NotFound"):
                return False
            raise

    def head_missing(self, acks: list[Ack]) -> list[Ack]:
        found = list(self.pool.map(self.present, acks))
        return [a for a, ok in zip(acks, found) if not ok]

    def listing(self, prefix: str, kinds: set[str]) -> set[tuple[str, str | None]]:
        """(key, version) of the objects and (key, None) of the items under a prefix,
        listed by the lister process (parsing a listing holds the GIL for tens of
        ms, which would stall the writers whose unavailability is being timed)."""
        return set(self.lister.submit(list_region, self.url, self.region, prefix, tuple(kinds)).result(60))

    def listed_missing(self, acks: list[Ack]) -> list[Ack]:
        by_prefix: dict[str, set[str]] = {}
        for x in acks:
            by_prefix.setdefault(prefix_of(x), set()).add(x.kind)
        seen = set()
        for prefix, kinds in by_prefix.items():
            seen |= self.listing(prefix, kinds)
        return [x for x in acks if (x.key, x.version if x.kind == "s3" else None) not in seen]

    def missing(self, acks: list[Ack]) -> list[Ack]:
        listed = self.listed_missing(acks)
        really = self.head_missing(listed) if listed else []
        gone = {id(x) for x in really}
        self.list_discrepancies += [f"{x.key}@{x.version}" for x in listed if id(x) not in gone]
        return really

    def wait_present(self, acks: list[Ack], timeout: float) -> tuple[list[Ack], float]:
        """Re-checks the missing ones every 100 ms; (still missing, seconds waited)."""
        t0 = now()
        left = self.missing(acks)
        while left and now() - t0 < timeout:
            time.sleep(0.1)
            left = self.head_missing(left)
        return left, now() - t0

    def close(self) -> None:
        self.pool.shutdown()


_lister_clients: dict[str, tuple] = {}


def list_region(url: str, region: str, prefix: str, kinds: tuple[str, ...]) -> list[tuple[str, str | None]]:
    """Runs in the lister process: see Checker.listing."""
    if url not in _lister_clients:
        _lister_clients[url] = clients(url)
    s3, ddb = _lister_clients[url]
    out = []
    if "s3" in kinds:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET[region], Prefix=prefix + "/"):
            out += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
    if "ddb" in kinds:
        pages = ddb.get_paginator("query").paginate(
            TableName=TABLE,
            KeyConditionExpression="photo_id = :p",
            ExpressionAttributeValues={":p": {"S": prefix}},
            ProjectionExpression="comment_id",
            ConsistentRead=True,
        )
        for page in pages:
            out += [(i["comment_id"]["S"], None) for i in page.get("Items", [])]
    return out


def prefix_of(a: Ack) -> str:
    return a.key.split("/", 1)[0]


def probe_until(s3, region: str, accepted: bool, timeout: float, prefix: str):
    """PUTs a small object to `region`'s app bucket every 20 ms (with `s3`, a
    client made beforehand: making one takes ~100+ ms) until one is accepted
    (accepted=True) or refused by the gate (accepted=False).
    Returns (time the deciding answer came, its send time, {outcome: count}, keys acked)."""
    outcomes: dict[str, int] = {}
    acked: list[Ack] = []
    deadline, due, n = now() + timeout, now(), 0
    while now() < deadline:
        time.sleep(max(0.0, due - now()))
        due = max(due + PROBE_S, now())
        key, n = f"{prefix}/probe-{n:05d}", n + 1
        sent = now()
        try:
            v = s3.put_object(Bucket=BUCKET[region], Key=key, Body=b"probe").get("VersionId")
            t = now()
            outcomes["ok"] = outcomes.get("ok", 0) + 1
            acked.append(Ack("s3", key, region, sent, t, v))
            if accepted:
                return t, sent, outcomes, acked
        except (ClientError, BotoCoreError) as e:
            t, code = now(), error_code(e)
            outcomes[code] = outcomes.get(code, 0) + 1
            if not accepted and code in GATE_CODES:
                return t, sent, outcomes, acked
    return None, None, outcomes, acked


# ------------------------------------------------------------------ cases


# Log lines that are expected: refusals by the write gate (s3s logs every 5xx
# answer at ERROR level), and, after a kill, the watcher and the shipper
# retrying the dead peer.
REFUSAL_LINES = ("NotWriteRegion", "AppFenced")
EXPECTED_ALWAYS = ("STATE_UPDATED",)
EXPECTED_AUTO = ("primary health check failed", "secondary took over writes", "replication batch failed")


def run_auto(a, i: int) -> dict:
    root = a.work / f"auto-{i}"
    c = Cluster(a.tandem, root, a.pidfile, {"interval_ms": a.interval_ms, "failures": a.failures})
    row = {"case": "auto", "run": i, "interval_ms": a.interval_ms, "failures": a.failures,
           "detect_window_ms": a.interval_ms * a.failures, "rate": a.rate, "writers": a.writers}  # fmt: skip
    try:
        c.up()
        route, wlog = Route(c, PRIMARY), Log()
        prefix = f"auto{i}"
        probe_s3 = {r: clients(c.url[r])[0] for r in (PRIMARY, SECONDARY)}
        chk = Checker(c, SECONDARY, a.lister)
        ws = start_writers(c, route, wlog, a, prefix)
        time.sleep(a.pre)
        # -- kill the primary
        t_kill, wall_kill = now(), time.time()
        c.kill9(PRIMARY)
        stopper = threading.Thread(target=stop_writers, args=(ws,), daemon=True)
        stopper.start()
        t_ok, sent_ok, outcomes, _ = probe_until(probe_s3[SECONDARY], SECONDARY, True, a.rto_timeout, prefix)
        row["probe_outcomes"] = outcomes
        if t_ok is None:
            raise RuntimeError(f"no write accepted by {SECONDARY} within {a.rto_timeout} s of the kill ({outcomes})")
        row["rto_ms"] = ms(t_ok - t_kill)
        row["rto_send_ms"] = ms(sent_ok - t_kill)  # the accepted probe was sent this long after the kill
        view = c.state(SECONDARY) or {}
        row["state"] = {k: view.get(k) for k in ("State", "Version", "ChangedBy", "WriteRegion")}
        if view.get("ChangedAt"):
            row["state_changed_ms"] = round(view["ChangedAt"] - 1000 * wall_kill, 1)  # kill -> state written
        row["rto_minus_window_ms"] = round(row["rto_ms"] - row["detect_window_ms"], 1)
        stopper.join()
        acks, errors = wlog.snapshot()
        pre_kill = [x for x in acks if x.acked <= t_kill]
        row["acked"] = len(acks)
        row["acked_after_kill"] = len(acks) - len(pre_kill)  # answers already on the way when it died
        row["writer_errors_before_kill"] = sum(1 for t, _, _ in errors if t <= t_kill)
        lost = chk.missing(acks)
        row["lost"] = len(lost)
        row["lost_by_kind"] = {k: sum(1 for x in lost if x.kind == k) for k in ("s3", "ddb")}
        # RPO as time: the oldest lost write was acknowledged this long before the kill.
        row["rpo_ms"] = ms(max((t_kill - x.acked for x in lost), default=0.0))
        if lost:
            log(f"auto {i}: {len(lost)} acknowledged write(s) not in {SECONDARY}: "
                + ", ".join(f"{x.key} (acked {1000 * (t_kill - x.acked):.0f} ms before the kill)" for x in lost[:5]))  # fmt: skip
        if a.rejoin:
            row.update(rejoin(a, c, chk, lost, prefix, probe_s3[PRIMARY], t_kill))
        chk.close()
        row["list_discrepancies"] = chk.list_discrepancies[:20]
        row["refusals_logged"], row["warnings"] = c.warnings(EXPECTED_ALWAYS + EXPECTED_AUTO)
    except Exception as e:  # noqa: BLE001 - report and go on
        log(f"WARNING: auto run {i} failed: {e}")
        row["failed"] = str(e)
    finally:
        c.stop()
    return row


def rejoin(a, c: Cluster, chk: Checker, lost: list[Ack], prefix: str, s3, t_kill: float) -> dict:
    """Restarts the killed primary `a.down` s after the kill: how long does it
    still take writes, and do the writes it had not shipped reach the secondary?"""
    time.sleep(max(0.0, t_kill + a.down - now()))
    out = {"down_s": round(now() - t_kill, 2)}
    t_start = now()
    c.start(PRIMARY)
    t_healthy = c.wait_healthy(PRIMARY)
    out["rejoin_healthy_ms"] = ms(t_healthy - t_start)
    t_ref, _, outcomes, stale = probe_until(s3, PRIMARY, False, a.rto_timeout, prefix + "-rejoin")
    out["rejoin_probe_outcomes"] = outcomes
    out["rejoin_writes_accepted"] = len(stale)  # split-brain writes: old primary took them after the failover
    out["rejoin_refuses_after_ms"] = None if t_ref is None else ms(t_ref - t_healthy)
    view = c.state(PRIMARY) or {}
    out["rejoin_state"] = {k: view.get(k) for k in ("State", "Version", "WriteRegion")}
    if lost:
        left, _ = chk.wait_present(lost, a.drain_timeout)
        out["lost_recovered"] = len(lost) - len(left)
        out["lost_recovered_by_s"] = round(now() - t_start, 2) if not left else None  # after the restart began
    if stale:
        left, _ = chk.wait_present(stale, a.drain_timeout)
        out["rejoin_writes_replicated"] = len(stale) - len(left)
    return out


def switch_figures(acks: list[Ack], errors, old: str, new: str, t_cmd: float, t_done: float) -> dict:
    """Write-unavailability window of one switch old -> new, seen by the writers."""
    first_new = min((x.acked for x in acks if x.region == new and x.acked >= t_cmd), default=None)
    last_old = max((x.acked for x in acks if x.region == old and x.acked <= (first_new or t_done)), default=None)
    first_refusal = min((t for t, r, code in errors if r == old and code in GATE_CODES and t >= t_cmd), default=None)
    refused = sum(1 for t, r, code in errors if code in GATE_CODES and t >= t_cmd and (first_new is None or t <= first_new))
    other = sum(1 for t, r, code in errors if code not in GATE_CODES and t >= t_cmd and (first_new is None or t <= first_new))
    return {
        "window_ms": ms(first_new - last_old) if first_new is not None and last_old is not None else None,
        "fence_after_ms": ms(first_refusal - t_cmd) if first_refusal is not None else None,  # cmd start -> first refusal
        "first_new_after_cmd_end_ms": ms(first_new - t_done) if first_new is not None else None,
        "refused": refused,
        "other_errors": other,
    }


def switch(a, c: Cluster, wlog: Log, chk: Checker, verb: str, old: str, new: str) -> dict:
    """Runs `tandem failover --planned` / `tandem failback` under load and checks
    that everything `old` acknowledged is in `new` right after it returns."""
    args = ["failover", APP, "--planned"] if verb == "failover" else ["failback", APP]
    t_cmd = now()
    rc, lines = c.cli_timed(*args, "--timeout", str(int(a.drain_timeout)), timeout=a.drain_timeout + 30)
    t_done = now()
    out = {"cmd_ms": ms(t_done - t_cmd), "cmd_rc": rc, "cmd_lines": [[ms(t - t_cmd), line] for t, line in lines]}
    # Phases, from the command's own output: fenced, the other region caught up.
    for t, line in lines:
        if " fenced in " in line:
            out["cmd_fenced_ms"] = ms(t - t_cmd)
        elif " has applied every change of " in line:
            out["cmd_caught_up_ms"] = ms(t - t_cmd)
    if rc != 0:
        raise RuntimeError(f"tandem {' '.join(args)} failed ({rc}): " + " | ".join(x for _, x in lines)[-2000:])
    # Answers to writes `old` accepted may still be on their way to a writer:
    # wait (<= 3 s) until no writer has a request to `old` in flight.
    deadline = now() + 3
    while old in wlog.in_flight.values() and now() < deadline:
        time.sleep(0.005)
    acks, _ = wlog.snapshot()
    mine = [x for x in acks if x.region == old]
    t_check = now()
    missing = chk.listed_missing(mine)  # one listing: the snapshot at switch time
    out.update(checked=len(mine), missing=len(missing), check_ms=ms(now() - t_check))
    if missing:
        log(f"{verb}: {len(missing)} write(s) {old} acknowledged are not listed in {new} when the command returned: "
            + ", ".join(f"{x.key}@{x.version}" for x in missing[:5]))  # fmt: skip
    out["_acks"] = mine
    out["_t"] = (t_cmd, t_done)
    return out


def run_planned(a, i: int) -> dict:
    root = a.work / f"planned-{i}"
    c = Cluster(a.tandem, root, a.pidfile, None)
    row = {"case": "planned", "run": i, "rate": a.rate, "writers": a.writers}
    try:
        c.up()
        route, wlog = Route(c, None), Log()
        ws = start_writers(c, route, wlog, a, f"planned{i}")
        to_secondary, to_primary = Checker(c, SECONDARY, a.lister), Checker(c, PRIMARY, a.lister)
        try:
            time.sleep(a.pre)
            fo = switch(a, c, wlog, to_secondary, "failover", PRIMARY, SECONDARY)
            time.sleep(a.pre)
            fb = switch(a, c, wlog, to_primary, "failback", SECONDARY, PRIMARY)
            time.sleep(a.pre / 2)
        finally:
            stop_writers(ws)
        acks, errors = wlog.snapshot()
        for name, r, old, new, chk in (
            ("failover", fo, PRIMARY, SECONDARY, to_secondary),
            ("failback", fb, SECONDARY, PRIMARY, to_primary),
        ):
            t_cmd, t_done = r.pop("_t")
            r.update(switch_figures(acks, errors, old, new, t_cmd, t_done))
            # The same writes once more, one HEAD/GetItem each (now that no writer competes).
            r["head_missing"] = len(chk.head_missing(r.pop("_acks")))
            row.update({f"{name}_{k}": v for k, v in r.items()})
        row["rpo_writes"] = row["failover_missing"]
        row["acked"] = len(acks)
        row["acked_by_region"] = {r: sum(1 for x in acks if x.region == r) for r in (PRIMARY, SECONDARY)}
        row["writer_errors"] = {}
        for _, _, code in errors:
            row["writer_errors"][code] = row["writer_errors"].get(code, 0) + 1
        row["state_reads"] = route.reads
        # In the end every acknowledged write is in both regions.
        left_s, _ = to_secondary.wait_present(acks, a.drain_timeout)
        left_p, _ = to_primary.wait_present(acks, a.drain_timeout)
        row["final_missing"] = {PRIMARY: len(left_p), SECONDARY: len(left_s)}
        row["list_discrepancies"] = (to_primary.list_discrepancies + to_secondary.list_discrepancies)[:20]
        to_secondary.close()
        to_primary.close()
        row["refusals_logged"], row["warnings"] = c.warnings(EXPECTED_ALWAYS)
    except Exception as e:  # noqa: BLE001 - report and go on
        log(f"WARNING: planned run {i} failed: {e}")
        row["failed"] = str(e)
    finally:
        c.stop()
    return row


# ------------------------------------------------------------------ report


def med(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def f(v, unit="") -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.0f}{unit}" if abs(v) >= 10 else f"{v:.1f}{unit}"
    return f"{v}{unit}"


def print_auto(rows, a) -> None:
    print(f"\nCase 1 - automatic failover (unplanned): kill -9 of {PRIMARY}, probe PUTs to {BUCKET[SECONDARY]} every "
          f"{PROBE_S * 1000:.0f} ms")  # fmt: skip
    print(f"detection: auto_failover interval {a.interval_ms} ms x {a.failures} failures = "
          f"{a.interval_ms * a.failures} ms window; writers: {a.writers} at {a.rate:g} writes/s in total; "
          f"old primary restarted {a.down:g} s after the kill\n")  # fmt: skip
    hdr = (f"{'run':>3} | {'RTO ms':>7} {'RTO-win':>7} {'state@':>7} | {'acked':>6} {'lost':>4} {'RPO ms':>6} | "
           f"{'rejoin: ok writes':>17} {'refuses@ms':>10} {'lost back':>9}")  # fmt: skip
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        if r.get("failed"):
            print(f"{r['run']:>3} | run FAILED: {r['failed']}")
            continue
        back = "-" if not r["lost"] else f"{r.get('lost_recovered', 'n/a')}/{r['lost']}"
        print(f"{r['run']:>3} | {f(r['rto_ms']):>7} {f(r['rto_minus_window_ms']):>7} {f(r.get('state_changed_ms')):>7} | "
              f"{r['acked']:>6} {r['lost']:>4} {f(r['rpo_ms']):>6} | {f(r.get('rejoin_writes_accepted')):>17} "
              f"{f(r.get('rejoin_refuses_after_ms')):>10} {back:>9}")  # fmt: skip
    ok = [r for r in rows if not r.get("failed")]
    if ok:
        print(f"{'med':>3} | {f(med(ok, 'rto_ms')):>7} {f(med(ok, 'rto_minus_window_ms')):>7} "
              f"{f(med(ok, 'state_changed_ms')):>7} | {'':>6} {f(med(ok, 'lost')):>4} {f(med(ok, 'rpo_ms')):>6} |")  # fmt: skip
    print("""
RTO: kill -> first write accepted by the secondary (probe ack). RTO-win: RTO minus the detection window.
state@: kill -> the secondary wrote state failover (its ChangedAt, wall clock). lost: writes the primary
acknowledged before it died that the secondary lacks after the takeover (RPO in writes); RPO ms: how long
before the kill the oldest lost write was acknowledged. rejoin: the killed primary restarted on its data:
writes it still accepted before refusing (NotWriteRegion), when it began refusing (ms after /health
answered), and lost writes that reached the secondary afterwards.""")


def print_planned(rows) -> None:
    print("\nCase 2 - planned failover and failback under load (writers follow the state API)\n")
    hdr = (f"{'run':>3} | {'failover cmd ms':>15} {'window ms':>9} {'refused':>7} {'RPO':>3} {'HEAD':>4} | "
           f"{'failback cmd ms':>15} {'window ms':>9} {'refused':>7} {'miss':>4} {'HEAD':>4} | {'acked':>6} {'final miss':>10}")  # fmt: skip
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        if r.get("failed"):
            print(f"{r['run']:>3} | run FAILED: {r['failed']}")
            continue
        fm = r["final_missing"]
        print(f"{r['run']:>3} | {f(r['failover_cmd_ms']):>15} {f(r['failover_window_ms']):>9} {r['failover_refused']:>7} "
              f"{r['rpo_writes']:>3} {r['failover_head_missing']:>4} | {f(r['failback_cmd_ms']):>15} "
              f"{f(r['failback_window_ms']):>9} {r['failback_refused']:>7} {r['failback_missing']:>4} "
              f"{r['failback_head_missing']:>4} | {r['acked']:>6} {str(fm[PRIMARY]) + '/' + str(fm[SECONDARY]):>10}")  # fmt: skip
    ok = [r for r in rows if not r.get("failed")]
    if ok:
        def worst(k):
            return max(r[k] for r in ok)

        print(f"{'med':>3} | {f(med(ok, 'failover_cmd_ms')):>15} {f(med(ok, 'failover_window_ms')):>9} {'':>7} "
              f"{'':>3} {'':>4} | {f(med(ok, 'failback_cmd_ms')):>15} {f(med(ok, 'failback_window_ms')):>9} |")  # fmt: skip
        for name in ("failover", "failback"):
            print(f"    {name} command phases (median ms after start): fenced {f(med(ok, name + '_cmd_fenced_ms'))}, "
                  f"other region caught up {f(med(ok, name + '_cmd_caught_up_ms'))}, "
                  f"switched (command exits) {f(med(ok, name + '_cmd_ms'))}; first refusal seen by a writer "
                  f"{f(med(ok, name + '_fence_after_ms'))}, first write accepted by the new region "
                  f"{f(med(ok, name + '_first_new_after_cmd_end_ms'))} after the command exited")  # fmt: skip
        rpo = max(worst("rpo_writes"), worst("failover_head_missing"))
        back = max(worst("failback_missing"), worst("failback_head_missing"))
        final = max(max(r["final_missing"].values()) for r in ok)
        verdict = "PASS" if rpo == back == final == 0 else "FAIL"
        print(f"\nplanned failover RPO, worst run: {rpo} acknowledged write(s) missing in {SECONDARY} "
              f"(failback: {back} missing in {PRIMARY}; at the end: {final}) -> {verdict} (target 0)")  # fmt: skip
    print("""
cmd ms: duration of `tandem failover photos --planned` / `tandem failback photos`. window: last write the old
write region acknowledged -> first write the new one acknowledged (the writers' unavailability).
refused: NotWriteRegion/AppFenced answers the writers got in between (they re-read the state and retry).
RPO / miss: writes the old region acknowledged that the new one did not list (ListObjectVersions + Query)
right after the command returned; HEAD: the same writes checked one by one (HeadObject with VersionId,
consistent GetItem) after the writers stopped. final miss: acknowledged writes absent in us-east/ap-tokyo
at the end (after replication settled).""")


# ------------------------------------------------------------------ main


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tandem", required=True, help="path of the tandem binary")
    p.add_argument("--work", required=True, type=Path, help="scratch directory (one subdirectory per run)")
    p.add_argument("--results", required=True)
    p.add_argument("--cases", default="auto planned")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--rate", type=float, default=100, help="writes/s of all writers together")
    p.add_argument("--writers", type=int, default=4)
    p.add_argument("--items", type=int, default=1, help="1 = every other writer writes DynamoDB items")
    p.add_argument("--size", type=int, default=1024, help="object body bytes")
    p.add_argument("--pre", type=float, default=3, help="seconds of writes before the kill / between switches")
    p.add_argument("--interval-ms", type=int, default=200)
    p.add_argument("--failures", type=int, default=3)
    p.add_argument("--rto-timeout", type=float, default=30)
    p.add_argument("--drain-timeout", type=float, default=30)
    p.add_argument("--rejoin", type=int, default=1, help="1 = restart the killed primary after each auto run")
    p.add_argument("--down", type=float, default=5, help="seconds from the kill to the restart of the primary")
    a = p.parse_args(argv)
    a.pidfile = a.work / "pids"
    return a


def main(argv=None) -> int:
    a = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run `finally`: stop the regions
    with open("/proc/loadavg") as la:
        loadavg = la.read().split()[0]
    print(f"\nFailover RTO/RPO: {a.runs} run(s) per case, fresh regions each run, {os.cpu_count()} CPUs, "
          f"load avg before: {loadavg}")  # fmt: skip
    cases = a.cases.split()
    results = {"auto": [], "planned": []}
    a.lister = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    try:
        with open(a.results, "w") as out:
            for case in cases:
                for i in range(1, a.runs + 1):
                    log(f"{case} run {i}/{a.runs}")
                    row = run_auto(a, i) if case == "auto" else run_planned(a, i)
                    results[case].append(row)
                    out.write(json.dumps(row) + "\n")
                    out.flush()
    finally:
        a.lister.shutdown(cancel_futures=True)
    if results["auto"]:
        print_auto(results["auto"], a)
    if results["planned"]:
        print_planned(results["planned"])
    all_rows = [r for rows in results.values() for r in rows]
    if any(r.get("list_discrepancies") for r in all_rows):
        print("\nLISTING DISCREPANCIES (listing lacked writes a per-key read found):")
        for r in all_rows:
            if r.get("list_discrepancies"):
                print(f"  {r['case']} {r['run']}: " + ", ".join(r["list_discrepancies"]))
    refusals = sum(r.get("refusals_logged", 0) for r in all_rows)
    if refusals:
        print(f"\nthe regions logged {refusals} write-gate refusals (NotWriteRegion/AppFenced) at WARN/ERROR level")
    notes = [(r["case"], r["run"], w) for r in all_rows for w in r.get("warnings", [])]
    if notes:
        print("\nunexpected WARN/ERROR log lines (first 10 per run):")
        for case, run, w in notes:
            print(f"  {case} {run}: {w[:300]}")
    failed = any(r.get("failed") for rows in results.values() for r in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
