"""The edge's cache through real processes: one `tandem serve` region holding a private
bucket, one `tandem edge` in front of it with a cached behaviour.

x-cache Miss / Hit / Stale, wildcard invalidation visible in under 1 s (measured),
Range and 304 answered by the cache, 100 concurrent misses making one origin GET
(counted from the region's own /metrics), and stale-if-error once the region is killed
(last test: it kills the region).
"""

from __future__ import annotations

import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from faultproxy import FaultProxy
from e2e_helpers import KEYS, Node, free_port, sha256_hex, sigv4_sign, unique_bucket


class Edge:
    """A `tandem edge` process of the node's tandem.toml."""

    def __init__(self, binary, node: Node, bucket: str, slow_origin_port: int):
        self.binary = binary
        self.node = node
        self.port = free_port()
        self.log_path = node.root / "edge.log"
        self.proc = None
        admin = KEYS["admin"].access_key_id
        with open(node.config_path, "a") as f:
            f.write(
                f"""
[edge]
access_key_id = "{admin}"

[[edge.nodes]]
name = "e1"
listen = "127.0.0.1:{self.port}"

[[edge.distributions]]
name = "site"

[[edge.distributions.behaviors]]
path = "/slow/*"
cache = {{ default_ttl_secs = 60 }}
origin = {{ kind = "region", url = "http://127.0.0.1:{slow_origin_port}", bucket = "{bucket}" }}

[[edge.distributions.behaviors]]
path = "*"
cache = {{ default_ttl_secs = 60 }}
origin = {{ kind = "region", region = "{node.region}", bucket = "{bucket}" }}
"""
            )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(self.binary), "edge", "--config", str(self.node.config_path), "--name", "e1"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"tandem edge exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                requests.get(self.url + "/_edge_probe", timeout=2)
                return
            except requests.RequestException:
                time.sleep(0.1)
        pytest.fail(f"tandem edge not answering after {timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def get(self, path: str, headers: dict | None = None) -> requests.Response:
        return requests.get(self.url + path, headers=headers or {}, timeout=10)

    def invalidate(self, paths: list[str]) -> requests.Response:
        body = json.dumps({"Paths": paths}).encode()
        path = "/_tandem/edge/invalidations"
        hdrs = {"Host": f"127.0.0.1:{self.port}", "Content-Type": "application/json"}
        signed = sigv4_sign("POST", path, [], hdrs, sha256_hex(body), KEYS["admin"])
        return requests.post(self.url + path, headers=signed.headers, data=body, timeout=10)


@pytest.fixture(scope="module")
def site(tandem_bin, tmp_path_factory):
    """(region node, edge, bucket, s3 client, delaying proxy); the bucket stays private.
    Paths under /slow/ reach the region through a TCP proxy that can delay answers."""
    node = Node(tandem_bin, tmp_path_factory.mktemp("edge-cache"))
    node.write_config()
    bucket = unique_bucket("edge")
    slow = FaultProxy(node.port).start()
    edge = Edge(tandem_bin, node, bucket, slow.port)
    node.start()
    s3 = node.client("admin")
    s3.create_bucket(Bucket=bucket)
    edge.start()
    yield node, edge, bucket, s3, slow
    edge.stop()
    slow.stop()
    node.stop()


def put(s3, bucket: str, key: str, body: bytes, cache_control: str) -> str:
    """Puts an object; returns its ETag."""
    r = s3.put_object(Bucket=bucket, Key=key, Body=body, CacheControl=cache_control, ContentType="text/plain")
    return r["ETag"]


def origin_gets(node: Node) -> int:
    """GetObject requests the region served, from its own /metrics."""
    text = requests.get(node.endpoint + "/metrics", timeout=10).text
    total = 0
    for line in text.splitlines():
        if line.startswith("tandem_requests_total{") and 'op="GetObject"' in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def edge_metric(edge: Edge, name: str) -> int:
    """A counter of the edge's own /metrics (the cache's counters are exported there)."""
    text = requests.get(edge.url + "/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return int(float(line.rsplit(" ", 1)[1]))
    raise AssertionError(f"{name} not in the edge's metrics:\n{text[:2000]}")


def test_private_bucket_is_denied_directly_but_served_through_the_edge(site):
    node, edge, bucket, s3, _ = site
    put(s3, bucket, "private.txt", b"secret page", "max-age=60")
    assert requests.get(f"{node.endpoint}/{bucket}/private.txt", timeout=10).status_code == 403
    r = edge.get("/private.txt")
    assert (r.status_code, r.content) == (200, b"secret page"), edge.log_tail()


def test_x_cache_says_miss_then_hit_then_stale_while_revalidating(site):
    node, edge, bucket, s3, _ = site
    put(s3, bucket, "swr.txt", b"first", "max-age=1, stale-while-revalidate=30")
    first = edge.get("/swr.txt")
    assert (first.status_code, first.headers.get("x-cache"), first.content) == (200, "Miss", b"first")
    second = edge.get("/swr.txt")
    assert (second.headers.get("x-cache"), second.content) == ("Hit", b"first")
    put(s3, bucket, "swr.txt", b"second", "max-age=60")
    time.sleep(1.3)
    stale = edge.get("/swr.txt")
    assert (stale.headers.get("x-cache"), stale.content) == ("Stale", b"first")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        r = edge.get("/swr.txt")
        if r.content == b"second":
            break
        time.sleep(0.05)
    assert (r.headers.get("x-cache"), r.content) == ("Hit", b"second")


def test_wildcard_invalidation_is_visible_within_one_second(site):
    node, edge, bucket, s3, _ = site
    for name in ("a", "b"):
        put(s3, bucket, f"inv/{name}.txt", b"old " + name.encode(), "max-age=600")
        assert edge.get(f"/inv/{name}.txt").headers.get("x-cache") == "Miss"
        assert edge.get(f"/inv/{name}.txt").headers.get("x-cache") == "Hit"
    put(s3, bucket, "keep.txt", b"kept", "max-age=600")
    edge.get("/keep.txt")
    for name in ("a", "b"):
        put(s3, bucket, f"inv/{name}.txt", b"new " + name.encode(), "max-age=600")
    start = time.monotonic()
    r = edge.invalidate(["/inv/*"])
    assert r.status_code == 200, r.text
    assert r.json()["Removed"] == 2
    seen = {}
    deadline = start + 5
    while len(seen) < 2 and time.monotonic() < deadline:
        for name in ("a", "b"):
            if name not in seen and edge.get(f"/inv/{name}.txt").content == b"new " + name.encode():
                seen[name] = time.monotonic() - start
    visible = max(seen.values(), default=99.0)
    print(f"\nwildcard invalidation visible after {visible * 1000:.1f} ms")
    assert len(seen) == 2 and visible < 1.0, seen
    assert edge.get("/keep.txt").headers.get("x-cache") == "Hit"


def test_range_and_if_none_match_are_answered_from_the_cache(site):
    node, edge, bucket, s3, _ = site
    body = bytes(range(256)) * 4
    etag = put(s3, bucket, "range.bin", body, "max-age=600")
    assert edge.get("/range.bin").headers.get("x-cache") == "Miss"
    before = origin_gets(node)
    part = edge.get("/range.bin", {"Range": "bytes=10-19"})
    assert (part.status_code, part.headers.get("x-cache")) == (206, "Hit")
    assert part.headers.get("Content-Range") == "bytes 10-19/1024"
    assert part.content == body[10:20]
    past = edge.get("/range.bin", {"Range": "bytes=5000-"})
    assert (past.status_code, past.headers.get("Content-Range")) == (416, "bytes */1024")
    same = edge.get("/range.bin", {"If-None-Match": etag})
    assert (same.status_code, same.content, same.headers.get("x-cache")) == (304, b"", "Hit")
    other = edge.get("/range.bin", {"If-None-Match": '"nope"'})
    assert (other.status_code, other.content) == (200, body)
    assert origin_gets(node) == before


def test_hundred_concurrent_misses_make_one_origin_request(site):
    """The origin answers 250 ms late, so the 100 viewers really are in flight at once."""
    node, edge, bucket, s3, slow = site
    body = b"x" * 4096
    put(s3, bucket, "slow/collapse.txt", body, "max-age=600")
    slow.delay(250, direction="down")
    before = origin_gets(node)
    collapsed_before = edge_metric(edge, "tandem_edge_cache_collapsed_total")
    with ThreadPoolExecutor(max_workers=100) as pool:
        results = list(pool.map(lambda _: edge.get("/slow/collapse.txt"), range(100)))
    slow.delay(0, direction="down")
    assert all(r.status_code == 200 and r.content == body for r in results)
    after = origin_gets(node)
    outcomes = {o: sum(r.headers.get("x-cache") == o for r in results) for o in ("Miss", "Hit")}
    collapsed = edge_metric(edge, "tandem_edge_cache_collapsed_total") - collapsed_before
    print(f"\n100 concurrent misses: {after - before} origin GetObject, x-cache {outcomes}, {collapsed} collapsed waiters")
    assert after - before == 1
    assert collapsed >= 50, outcomes


def test_stale_if_error_serves_the_cached_copy_after_the_region_is_killed(site):
    node, edge, bucket, s3, _ = site
    put(s3, bucket, "sie.txt", b"survives", "max-age=1, stale-if-error=120")
    assert edge.get("/sie.txt").headers.get("x-cache") == "Miss"
    time.sleep(1.2)
    node.kill()
    r = edge.get("/sie.txt")
    assert (r.status_code, r.headers.get("x-cache"), r.content) == (200, "Stale", b"survives"), edge.log_tail()
    missing = edge.get("/never-cached.txt")
    assert missing.status_code in (502, 503, 504)
