"""Two tandem regions replicating to each other, for the replication e2e tests.

`RegionPair(binary, root)` writes one tandem.toml naming two regions
(us-east and ap-tokyo by default) with the two e2e access keys and a
[replication] credential, and runs one `tandem serve --region NAME` process
per region (an `e2e_helpers.Node` each: same data dir and port across
stop/kill/restart). With `proxies=True` a `faultproxy.FaultProxy` sits in
front of each region and is that region's `replication_url`, so a test can
partition or delay the link *into* a region (`pair.proxy(name)`), while
clients keep talking to the region directly. `extra_config` is TOML appended
to tandem.toml (a `[store]` section, say); `pair[name].env` is the extra
environment of a region's process.

Helpers: boto3 s3/dynamodb/dynamodbstreams clients per region and principal,
`replication_status(region)` (GET /_tandem/replication, SigV4-signed),
`metrics(region)` (parsed /metrics samples), `wait_until(predicate)`,
`wait_in_sync()` (every peer backlog of both regions is empty), and small
S3 conveniences (versioned buckets, replication rules). For applications:
`configure_apps(apps)` (tandem.toml with [[apps]] and `admin = true` on the
admin key), `tandem(*args)` (the CLI, signed as admin), `app_state`,
`put_app_state` and `wait_app_state` (the /_tandem/apps/{id}/state API).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

import requests

from e2e_helpers import KEYS, Node, describe, free_port, write_config
from faultproxy import FaultProxy

REGIONS = ("us-east", "ap-tokyo")
try:  # the region-to-region credential e2e_helpers.write_config puts in multi-region configs
    from e2e_helpers import REPLICATION_KEY as _REPLICATION_KEY
except ImportError:  # older e2e_helpers: regions.py appends its own [replication]
    _REPLICATION_KEY = ("E2EREPLICATIONKEY", "e2e-replication-secret-0001")
REPL_KEY_ID, REPL_SECRET = _REPLICATION_KEY
POLL = 0.05
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = POLL, what: str = "condition"):
    """Poll `predicate` until it returns something truthy; return that value.

    Exceptions from the predicate count as "not yet" until the deadline; then
    the last value (or exception) is part of the AssertionError.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = predicate()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - "not yet" until the deadline
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def parse_metrics(text: str) -> dict[tuple[str, frozenset], float]:
    """Prometheus text -> {(name, frozenset(labels.items())): value}."""
    out: dict[tuple[str, frozenset], float] = {}
    line_re = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
    label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = line_re.match(line)
        if not m:
            continue
        labels = frozenset(label_re.findall(m.group(2) or ""))
        try:
            out[(m.group(1), labels)] = float(m.group(3))
        except ValueError:
            continue
    return out


class RegionPair:
    """Two regions of one deployment, each its own `tandem serve` process."""

    def __init__(
        self,
        binary: Path,
        root: Path,
        names: tuple[str, str] = REGIONS,
        proxies: bool = False,
        extra_config: str = "",
    ):
        self.binary = Path(binary)
        self.root = Path(root)
        self.names = tuple(names)
        # TOML appended to tandem.toml (e.g. a [store] section).
        self.extra_config = extra_config
        self.root.mkdir(parents=True, exist_ok=True)
        # Nodes share root (so one tandem.toml); data dirs are root/data/<region>.
        self.nodes: dict[str, Node] = {n: Node(self.binary, self.root, region=n, port=free_port()) for n in self.names}
        self.proxies: dict[str, FaultProxy] = {}
        # Client URLs other than the node's own port (a proxy in front of it).
        self.public_urls: dict[str, str] = {}
        if proxies:
            for n in self.names:
                self.proxies[n] = FaultProxy(self.nodes[n].port, log_path=self.root / f"proxy-{n}.log").start()
        self.write_config()

    # -- config and lifecycle ---------------------------------------------

    @property
    def config_path(self) -> Path:
        return self.root / "tandem.toml"

    def write_config(self, admins: tuple[str, ...] = ("admin",)) -> None:
        regions = []
        for n in self.names:
            node = self.nodes[n]
            r = {
                "name": n,
                "listen": f"127.0.0.1:{node.port}",
                "public_url": self.public_urls.get(n, node.endpoint),
                "data_dir": str(node.data_dir),
            }
            if n in self.proxies:
                r["replication_url"] = self.proxies[n].endpoint
            regions.append(r)
        write_config(self.config_path, regions, admins=admins)
        if "[replication]" not in self.config_path.read_text():
            with open(self.config_path, "a") as f:
                f.write(f'\n[replication]\naccess_key_id = "{REPL_KEY_ID}"\nsecret_access_key = "{REPL_SECRET}"\n')
        if self.extra_config:
            with open(self.config_path, "a") as f:
                f.write("\n" + self.extra_config.strip() + "\n")

    def start(self, *names: str) -> "RegionPair":
        for n in names or self.names:
            self.nodes[n].start()
        return self

    def stop(self, *names: str) -> None:
        """SIGTERM (then SIGKILL after 10 s)."""
        for n in names or self.names:
            self.nodes[n].stop()

    def kill(self, *names: str) -> None:
        """SIGKILL."""
        for n in names or self.names:
            self.nodes[n].kill()

    def restart(self, *names: str) -> None:
        for n in names or self.names:
            self.nodes[n].stop()
            self.nodes[n].start()

    def close(self) -> None:
        self.stop()
        for p in self.proxies.values():
            p.stop()

    def __enter__(self) -> "RegionPair":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def __getitem__(self, name: str) -> Node:
        return self.nodes[name]

    def alive(self, name: str) -> bool:
        return self.nodes[name].alive()

    def proxy(self, name: str) -> FaultProxy:
        """The fault proxy in front of `name`'s replication_url (proxies=True only)."""
        return self.proxies[name]

    @contextlib.contextmanager
    def slow_links(self, ms: float, *names: str):
        """Delays replication *into* each named region (default both) by `ms` while the block runs."""
        names = names or tuple(self.proxies)
        try:
            for n in names:
                self.proxies[n].delay(ms)
            yield
        finally:
            for n in names:
                self.proxies[n].reset()

    @contextlib.contextmanager
    def partitioned(self, *names: str, mode: str = "partition"):
        """Cuts replication *into* each named region (default both) while the block runs."""
        names = names or tuple(self.proxies)
        try:
            for n in names:
                self.proxies[n].partition(mode)
            yield
        finally:
            for n in names:
                self.proxies[n].heal()

    def other(self, name: str) -> str:
        a, b = self.names
        return b if name == a else a

    def endpoint(self, name: str) -> str:
        return self.nodes[name].endpoint

    def logs(self, n: int = 30) -> str:
        """The last `n` log lines of each region (colour codes removed)."""
        return "\n".join(f"--- {name} log ---\n{_ANSI.sub('', node.log_tail(n))}" for name, node in self.nodes.items())

    # -- clients ------------------------------------------------------------

    def s3(self, name: str, principal: str = "admin", **cfg):
        return self.nodes[name].client(principal, **cfg)

    def ddb(self, name: str, principal: str = "admin", **cfg):
        from dynamo_helpers import ddb_client

        return ddb_client(self.nodes[name], principal, **cfg)

    def streams(self, name: str, principal: str = "admin", **cfg):
        from dynamo_helpers import streams_client

        return streams_client(self.nodes[name], principal, **cfg)

    # -- replication status ---------------------------------------------------

    def replication_status(self, name: str, principal: str = "admin") -> dict:
        r = self.nodes[name].request("GET", "/_tandem/replication", principal=principal, timeout=10)
        assert r.status_code == 200, f"{name} GET /_tandem/replication: {describe(r)}"
        return r.json()

    def peer_status(self, name: str, peer: str | None = None) -> dict:
        peer = peer or self.other(name)
        st = self.replication_status(name)
        for p in st["peers"]:
            if p["peer"] == peer:
                return p
        raise AssertionError(f"{name} status has no peer {peer}: {st}")

    def metrics(self, name: str) -> dict[tuple[str, frozenset], float]:
        r = requests.get(self.endpoint(name) + "/metrics", timeout=10)
        assert r.status_code == 200, describe(r)
        return parse_metrics(r.text)

    def metric(self, name: str, metric: str, **labels: str) -> float:
        """Sum of the samples of `metric` whose labels include `labels` (0 if none)."""
        want = set(labels.items())
        return sum(v for (m, ls), v in self.metrics(name).items() if m == metric and want <= set(ls))

    def in_sync(self) -> bool:
        for n in self.names:
            if not self.alive(n):
                return False
            st = self.replication_status(n)
            if not st["peers"] or any(p["backlog"]["changes"] != 0 for p in st["peers"]):
                return False
        return True

    def wait_in_sync(self, timeout: float = 10.0) -> None:
        """Until both regions report every peer backlog at 0 changes."""
        try:
            wait_until(self.in_sync, timeout, what="both regions in sync")
        except AssertionError as e:
            states = {}
            for n in self.names:
                try:
                    states[n] = self.replication_status(n)
                except Exception as ex:  # noqa: BLE001
                    states[n] = repr(ex)
            raise AssertionError(f"{e}\nstatus: {states}\n{self.logs(8)}") from None

    def wait_until(self, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition"):
        return wait_until(predicate, timeout, what=what)

    # -- S3 conveniences ------------------------------------------------------

    def make_bucket(self, name: str, bucket: str, versioned: bool = True, principal: str = "admin") -> str:
        s3 = self.s3(name, principal)
        s3.create_bucket(Bucket=bucket)
        if versioned:
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        return bucket

    # -- applications (test_apps.py, test_failover.py) -------------------------

    def configure_apps(self, apps: list[dict], admins: tuple[str, ...] = ("admin",)) -> None:
        """Rewrites tandem.toml as `write_config` does, with `admin = true` on the
        keys of `admins` and one [[apps]] section per dict of `apps` (keys as in
        tandem.toml: id, primary, secondary, buckets, tables, auto_failover).

        Running nodes read the file only when they (re)start; `tandem apply`
        pushes the apps to running nodes.
        """
        self.write_config(admins=admins)
        text = self.config_path.read_text()
        for app in apps:
            text += "\n[[apps]]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in app.items())
        self.config_path.write_text(text)

    def tandem(
        self, *args: str, timeout: float = 120, principal: str = "admin", config: Path | None = None
    ) -> subprocess.CompletedProcess:
        """`tandem <args> --config <tandem.toml, or config>`, signed with `principal`'s key."""
        env = dict(os.environ)
        env.update(
            AWS_ACCESS_KEY_ID=KEYS[principal].access_key_id,
            AWS_SECRET_ACCESS_KEY=KEYS[principal].secret_access_key,
            NO_COLOR="1",
        )
        env.pop("TANDEM_CONFIG", None)
        return subprocess.run(
            [str(self.binary), *args, "--config", str(config or self.config_path)],
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=self.root,
        )

    def app_state(self, name: str, app: str, timeout: float = 5) -> dict:
        """GET /_tandem/apps/{app}/state of region `name` (unauthenticated)."""
        r = requests.get(f"{self.endpoint(name)}/_tandem/apps/{app}/state", timeout=timeout)
        assert r.status_code == 200, f"{name} GET state of {app}: {describe(r)}"
        return r.json()

    def put_app_state(
        self,
        name: str,
        app: str,
        new_state: str | None = None,
        reason: str | None = None,
        principal: str | None = "admin",
        body: bytes | None = None,
    ) -> requests.Response:
        """PUT /_tandem/apps/{app}/state in region `name`, SigV4-signed by `principal`
        (unsigned when None); `body` replaces the JSON built from the arguments."""
        if body is None:
            doc: dict[str, Any] = {"AppId": app, "NewState": new_state}
            if reason is not None:
                doc["Reason"] = reason
            body = json.dumps(doc).encode()
        return self.nodes[name].request(
            "PUT",
            f"/_tandem/apps/{app}/state",
            body=body,
            headers={"Content-Type": "application/json"},
            principal=principal,
            timeout=10,
        )

    def wait_app_state(
        self, app: str, state: str, *names: str, min_version: int = 0, timeout: float = 10.0
    ) -> dict[str, dict]:
        """Until every named region (default both) reports `state` (at `min_version` or
        later) for `app`; returns each region's view."""
        names = names or self.names

        def seen():
            views = {n: self.app_state(n, app) for n in names}
            ok = all(v["State"] == state and v["Version"] >= min_version for v in views.values())
            return views if ok else None

        return wait_until(seen, timeout, what=f"{app} {state} (version >= {min_version}) in {', '.join(names)}")


# --------------------------------------------------------------------------- the photos app

PHOTOS_BUCKET = {"us-east": "photos-us-east", "ap-tokyo": "photos-ap-tokyo"}
PHOTOS_TABLE = "comments"


def photos_app(**extra) -> dict:
    """The photos app of test_apps.py and test_failover.py (as `tandem dev` defines it):
    primary us-east, secondary ap-tokyo, one bucket pair and the global table comments;
    `extra` adds keys (auto_failover, say)."""
    return {
        "id": "photos",
        "primary": "us-east",
        "secondary": "ap-tokyo",
        "buckets": [{"primary": PHOTOS_BUCKET["us-east"], "secondary": PHOTOS_BUCKET["ap-tokyo"]}],
        "tables": [{"name": PHOTOS_TABLE, "hash_key": "photo_id:S", "range_key": "comment_id:S"}],
        **extra,
    }


def deploy_photos(pair: RegionPair, **app_extra) -> RegionPair:
    """Starts `pair` with the photos app in tandem.toml, runs `tandem apply`, and waits
    until the table exists in ap-tokyo and both regions are in sync."""
    pair.configure_apps([photos_app(**app_extra)])
    pair.start()
    run = pair.tandem("apply")
    assert run.returncode == 0 and "applied." in run.stdout, run.stdout + run.stderr
    pair.wait_until(lambda: PHOTOS_TABLE in pair.ddb("ap-tokyo").list_tables()["TableNames"], what="the table in ap-tokyo")
    pair.wait_in_sync()
    return pair


def rule(
    dest_bucket: str,
    *,
    rule_id: str | None = None,
    priority: int | None = None,
    prefix: str | None = "",
    tags: dict[str, str] | None = None,
    enabled: bool = True,
    delete_markers: bool = False,
    replica_modifications: bool | None = None,
) -> dict:
    """One boto3 ReplicationConfiguration rule (V2 schema, with Filter)."""
    if tags and (prefix or len(tags) > 1):
        filt: dict[str, Any] = {
            "And": {
                **({"Prefix": prefix} if prefix else {}),
                "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
            }
        }
    elif tags:
        ((k, v),) = tags.items()
        filt = {"Tag": {"Key": k, "Value": v}}
    else:
        filt = {"Prefix": prefix or ""}
    r: dict[str, Any] = {
        "Status": "Enabled" if enabled else "Disabled",
        "Filter": filt,
        "Destination": {"Bucket": f"arn:aws:s3:::{dest_bucket}"},
        "DeleteMarkerReplication": {"Status": "Enabled" if delete_markers else "Disabled"},
    }
    if rule_id:
        r["ID"] = rule_id
    if priority is not None:
        r["Priority"] = priority
    if replica_modifications is not None:
        r["SourceSelectionCriteria"] = {
            "ReplicaModifications": {"Status": "Enabled" if replica_modifications else "Disabled"}
        }
    return r


def toml_value(v: Any) -> str:
    """A TOML value (strings, numbers, booleans, arrays and inline tables) for tandem.toml."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"no TOML form for {v!r}")


def replication_config(*rules: dict) -> dict:
    return {"Role": "arn:aws:iam::123456789012:role/tandem-replication", "Rules": list(rules)}


__all__ = [
    "KEYS",
    "PHOTOS_BUCKET",
    "PHOTOS_TABLE",
    "deploy_photos",
    "photos_app",
    "REGIONS",
    "REPL_KEY_ID",
    "REPL_SECRET",
    "RegionPair",
    "parse_metrics",
    "replication_config",
    "rule",
    "toml_value",
    "wait_until",
]
