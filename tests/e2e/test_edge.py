"""`tandem edge` end to end: two real regions with the photos app, two edge
nodes in front of them (plain HTTP), a throwaway origin that answers 503, and
`tandem dev` for TLS + HTTP/2.

Distributions (chosen by the Host header):
- site.test: a private bucket in us-east served as a static site (the edge
  signs with its own key; `index.html` is the default root object);
- flaky.test: an origin group whose primary always answers 503;
- group.test: an origin group us-east -> ap-tokyo over the app's replicated
  buckets (killed with SIGKILL by the last test of the module);
- anything else: the photos app, every method routed by its state.
"""

from __future__ import annotations

import http.server
import os
import re
import statistics
import subprocess
import threading
import time
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config

from e2e_helpers import KEYS, SIGNING_REGION, describe, free_port
from regions import PHOTOS_BUCKET, RegionPair, deploy_photos, parse_metrics, wait_until

SITE_BUCKET = "edge-site-private"
ADMIN = KEYS["admin"]


class Always503(http.server.BaseHTTPRequestHandler):
    """An origin that is up but broken: every answer (its /health too) is 503."""

    hits: list[str] = []
    port = 0

    def do_GET(self):  # noqa: N802 - http.server's naming
        Always503.hits.append(self.path)
        body = b"<Error><Code>InternalError</Code></Error>"
        self.send_response(503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def edge_config(e1: int, e2: int, flaky: int) -> str:
    group = (
        f'primary = {{ region = "us-east", bucket = "{PHOTOS_BUCKET["us-east"]}" }}, '
        f'secondary = {{ region = "ap-tokyo", bucket = "{PHOTOS_BUCKET["ap-tokyo"]}" }}'
    )
    return f"""
[edge]
access_key_id = "{ADMIN.access_key_id}"
probe_interval_ms = 200
app_poll_interval_ms = 200

[[edge.nodes]]
name = "e1"
listen = "127.0.0.1:{e1}"

[[edge.nodes]]
name = "e2"
listen = "127.0.0.1:{e2}"

[[edge.distributions]]
name = "site"
hosts = ["site.test"]
default_root_object = "index.html"
[[edge.distributions.behaviors]]
cache = {{ default_ttl_secs = 60 }}
origin = {{ kind = "region", region = "us-east", bucket = "{SITE_BUCKET}" }}

[[edge.distributions]]
name = "flaky"
hosts = ["flaky.test"]
[[edge.distributions.behaviors]]
origin = {{ kind = "group", primary = {{ url = "http://127.0.0.1:{flaky}" }}, secondary = {{ region = "us-east", bucket = "{SITE_BUCKET}" }} }}

[[edge.distributions]]
name = "group"
hosts = ["group.test"]
[[edge.distributions.behaviors]]
origin = {{ kind = "group", {group}, connect_timeout_ms = 500, response_timeout_ms = 5000 }}

[[edge.distributions]]
name = "app"
[[edge.distributions.behaviors]]
methods = ["GET", "HEAD", "PUT", "POST", "DELETE"]
sign = false
origin = {{ kind = "app", app = "photos" }}
"""


class Edge:
    """One `tandem edge --name NAME` process."""

    def __init__(self, binary: Path, config: Path, name: str, port: int, log: Path):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._log = open(log, "ab")
        self.log_path = log
        self.proc = subprocess.Popen(
            [str(binary), "edge", "--config", str(config), "--name", name],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        wait_until(lambda: requests.get(self.url + "/metrics", timeout=1).status_code == 200, 15, what=f"edge {name} up")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()


@pytest.fixture(scope="module")
def deployment(tandem_bin, tmp_path_factory):
    root = tmp_path_factory.mktemp("edge")
    flaky = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Always503)
    Always503.port = flaky.server_address[1]
    threading.Thread(target=flaky.serve_forever, daemon=True).start()
    e1, e2 = free_port(), free_port()
    pair = RegionPair(tandem_bin, root, extra_config=edge_config(e1, e2, flaky.server_address[1]))
    edges = []
    try:
        deploy_photos(pair)
        edges = [Edge(tandem_bin, pair.config_path, n, p, root / f"edge-{n}.log") for n, p in (("e1", e1), ("e2", e2))]
        yield pair, edges
    finally:
        for e in edges:
            e.stop()
        pair.close()
        flaky.shutdown()


def edge_s3(edge: Edge):
    return boto3.session.Session().client(
        "s3",
        endpoint_url=edge.url,
        aws_access_key_id=ADMIN.access_key_id,
        aws_secret_access_key=ADMIN.secret_access_key,
        region_name=SIGNING_REGION,
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def edge_metrics(edge: Edge) -> dict:
    r = requests.get(edge.url + "/metrics", timeout=5)
    assert r.status_code == 200, describe(r)
    return parse_metrics(r.text)


def metric(samples: dict, name: str, **labels) -> float:
    want = set(labels.items())
    return sum(v for (m, ls), v in samples.items() if m == name and want <= set(ls))


def p99_ms(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98] * 1000


def test_a_private_bucket_is_served_as_a_static_site_through_the_edge_only(deployment):
    pair, (e1, _) = deployment
    s3 = pair.s3("us-east")
    s3.create_bucket(Bucket=SITE_BUCKET)
    s3.put_object(Bucket=SITE_BUCKET, Key="index.html", Body=b"<h1>home</h1>", ContentType="text/html")
    s3.put_object(Bucket=SITE_BUCKET, Key="css/site.css", Body=b"body{}")
    direct = requests.get(f"{pair.endpoint('us-east')}/{SITE_BUCKET}/index.html", timeout=5)
    assert direct.status_code == 403, f"anonymous direct access must be denied: {describe(direct)}"
    home = requests.get(e1.url + "/", headers={"Host": "site.test"}, timeout=5)
    assert home.status_code == 200, describe(home)
    assert home.content == b"<h1>home</h1>"
    assert home.headers["x-edge-origin"] == "us-east" and home.headers["x-edge-failover"] == "false"
    assert home.headers["x-cache"] in ("Miss", "Hit", "RefreshHit", "Stale")
    css = requests.get(e1.url + "/css/site.css", headers={"Host": "site.test"}, timeout=5)
    assert css.status_code == 200 and css.content == b"body{}", describe(css)
    put = requests.put(e1.url + "/x.html", data=b"defaced", headers={"Host": "site.test"}, timeout=5)
    assert put.status_code == 403, f"the site behaviour allows GET and HEAD only: {describe(put)}"
    assert "x.html" not in [o["Key"] for o in s3.list_objects_v2(Bucket=SITE_BUCKET).get("Contents", [])]


def test_a_primary_answering_503_is_skipped_by_its_breaker_and_viewers_see_no_error(deployment):
    pair, (e1, _) = deployment
    s3 = pair.s3("us-east")
    s3.put_object(Bucket=SITE_BUCKET, Key="ok.txt", Body=b"fine")
    before = [p for p in Always503.hits if p != "/health"]
    first = requests.get(e1.url + "/ok.txt", headers={"Host": "flaky.test"}, timeout=5)
    assert first.status_code == 200 and first.content == b"fine", describe(first)
    assert first.headers["x-edge-failover"] == "true" and first.headers["x-edge-origin"] == "us-east"
    times = []
    with requests.Session() as http:
        for _ in range(100):
            t = time.monotonic()
            r = http.get(e1.url + "/ok.txt", headers={"Host": "flaky.test"}, timeout=5)
            times.append(time.monotonic() - t)
            assert r.status_code == 200, describe(r)
    sent_to_primary = [p for p in Always503.hits if p != "/health"][len(before) :]
    print(f"\n503 primary: next 100 requests p99 {p99_ms(times):.1f} ms, {len(sent_to_primary)} reached the broken primary")
    assert len(sent_to_primary) <= 1, f"the breaker must keep requests away from the broken primary: {sent_to_primary}"
    assert p99_ms(times) < 50
    m = edge_metrics(e1)
    assert metric(m, "tandem_edge_breaker_open", origin=f"127.0.0.1:{Always503.port}") == 1
    assert metric(m, "tandem_edge_requests_total", distribution="flaky", status="2xx") >= 101


def aws_cli(edge: Edge, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CA_BUNDLE"):
        env.pop(var, None)
    env.update(
        AWS_ACCESS_KEY_ID=ADMIN.access_key_id,
        AWS_SECRET_ACCESS_KEY=ADMIN.secret_access_key,
        AWS_DEFAULT_REGION=SIGNING_REGION,
        AWS_CONFIG_FILE="/nonexistent",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_MAX_ATTEMPTS="1",
        AWS_PAGER="",
    )
    return subprocess.run(["aws", "--endpoint-url", edge.url, *args], env=env, capture_output=True, text=True, timeout=60)


def put_until_region(s3, key: str, region: str, timeout: float = 3.0) -> float:
    """PUTs through the edge until the write lands in `region`; seconds it took."""
    start = time.monotonic()

    def landed():
        r = s3.put_object(Bucket=PHOTOS_BUCKET["us-east"], Key=key, Body=b"v")
        return r["ResponseMetadata"]["HTTPHeaders"].get("x-edge-region") == region

    wait_until(landed, timeout, interval=0.02, what=f"a PUT through the edge landing in {region}")
    return time.monotonic() - start


def test_app_routing_follows_planned_failover_and_state_set_for_every_method(deployment):
    pair, (e1, _) = deployment
    s3 = edge_s3(e1)
    r = s3.put_object(Bucket=PHOTOS_BUCKET["us-east"], Key="a.jpg", Body=b"one")
    assert r["ResponseMetadata"]["HTTPHeaders"]["x-edge-region"] == "us-east"
    assert pair.s3("us-east").get_object(Bucket=PHOTOS_BUCKET["us-east"], Key="a.jpg")["Body"].read() == b"one"
    ddb = boto3.session.Session().client(
        "dynamodb",
        endpoint_url=e1.url,
        aws_access_key_id=ADMIN.access_key_id,
        aws_secret_access_key=ADMIN.secret_access_key,
        region_name=SIGNING_REGION,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )
    item = {"photo_id": {"S": "a"}, "comment_id": {"S": "1"}, "text": {"S": "nice"}}
    ddb.put_item(TableName="comments", Item=item)

    fo = pair.tandem("failover", "photos", "--planned", "--timeout", "30")
    assert fo.returncode == 0, fo.stdout + fo.stderr
    took = put_until_region(s3, "after-failover.jpg", "ap-tokyo")
    print(f"\nedge followed `tandem failover --planned` in {took * 1000:.0f} ms")
    assert took < 1.0
    tokyo = pair.s3("ap-tokyo")
    assert tokyo.get_object(Bucket=PHOTOS_BUCKET["ap-tokyo"], Key="after-failover.jpg")["Body"].read() == b"v"
    # The viewer names the us-east bucket; the edge rewrote it and re-signed as the viewer.
    ddb.put_item(TableName="comments", Item={**item, "comment_id": {"S": "2"}})
    out = aws_cli(e1, "s3", "rm", f"s3://{PHOTOS_BUCKET['us-east']}/a.jpg")
    assert out.returncode == 0, out.stdout + out.stderr
    pair.wait_until(
        lambda: "Contents" not in tokyo.list_objects_v2(Bucket=PHOTOS_BUCKET["ap-tokyo"], Prefix="a.jpg"),
        what="the DELETE applied in ap-tokyo",
    )
    out = aws_cli(e1, "dynamodb", "get-item", "--table-name", "comments", "--key", '{"photo_id":{"S":"a"},"comment_id":{"S":"2"}}')
    assert out.returncode == 0 and "nice" in out.stdout, out.stdout + out.stderr

    back = pair.tandem("state", "set", "photos", "active", "--reason", "edge test")
    assert back.returncode == 0, back.stdout + back.stderr
    took = put_until_region(s3, "after-state-set.jpg", "us-east")
    print(f"edge followed `tandem state set` in {took * 1000:.0f} ms")
    assert took < 1.0


def test_invalidation_reaches_every_edge_node_and_needs_an_admin_signature(deployment):
    pair, (e1, e2) = deployment
    run = pair.tandem("edge", "invalidate", "/css/*", "/index.html")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "e1" in run.stdout and "e2" in run.stdout and run.stdout.count(" ok ") == 2, run.stdout
    unsigned = requests.post(e1.url + "/_tandem/edge/invalidations", json={"Paths": ["/*"]}, timeout=5)
    assert unsigned.status_code == 403, describe(unsigned)
    bob = pair.tandem("edge", "invalidate", "/x", principal="bob")
    assert bob.returncode == 0, "the CLI signs with the file's admin key when AWS_ACCESS_KEY_ID is not one"
    assert metric(edge_metrics(e2), "tandem_edge_invalidations_total") >= 2


def test_killing_the_primary_fails_over_at_once_and_the_breaker_keeps_the_next_100_fast(deployment):
    pair, (e1, _) = deployment
    pair.s3("us-east").put_object(Bucket=PHOTOS_BUCKET["us-east"], Key="kill.txt", Body=b"replicated")
    tokyo = pair.s3("ap-tokyo")
    pair.wait_until(lambda: tokyo.get_object(Bucket=PHOTOS_BUCKET["ap-tokyo"], Key="kill.txt"), what="replication")
    url = e1.url + "/kill.txt"
    with requests.Session() as http:
        warm = http.get(url, headers={"Host": "group.test"}, timeout=5)
        assert warm.status_code == 200 and warm.headers["x-edge-origin"] == "us-east", describe(warm)
        pair.kill("us-east")
        t = time.monotonic()
        first = http.get(url, headers={"Host": "group.test"}, timeout=5)
        first_ms = (time.monotonic() - t) * 1000
        assert first.status_code == 200 and first.content == b"replicated", describe(first)
        assert first.headers["x-edge-origin"] == "ap-tokyo" and first.headers["x-edge-failover"] == "true"
        times = []
        for _ in range(100):
            t = time.monotonic()
            r = http.get(url, headers={"Host": "group.test"}, timeout=5)
            times.append(time.monotonic() - t)
            assert r.status_code == 200 and r.headers["x-edge-origin"] == "ap-tokyo", describe(r)
    print(f"\nkill -9 primary: first request {first_ms:.1f} ms, next 100 p99 {p99_ms(times):.1f} ms")
    assert p99_ms(times) < 50
    assert metric(edge_metrics(e1), "tandem_edge_breaker_open", origin="us-east") == 1


DEV_KEYS = {"AWS_ACCESS_KEY_ID": "TANDEMDEVACCESSKEY01", "AWS_SECRET_ACCESS_KEY": "tandem-dev-secret-key-do-not-use-in-prod"}


def dev_aws(endpoint: str, region: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CA_BUNDLE"):
        env.pop(var, None)
    env.update(DEV_KEYS, AWS_DEFAULT_REGION=region, AWS_CONFIG_FILE="/nonexistent", AWS_MAX_ATTEMPTS="1", PYTHONWARNINGS="ignore")
    env.update(AWS_SHARED_CREDENTIALS_FILE="/nonexistent", AWS_EC2_METADATA_DISABLED="true", AWS_PAGER="")
    cmd = ["aws", "--no-verify-ssl", "--endpoint-url", endpoint, *args]
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def test_tandem_dev_edge_speaks_tls_and_http2_and_follows_a_failover_across_signing_regions(tandem_bin, tmp_path):
    port = free_port()
    while free_port() in (port + 1, port + 2):
        port = free_port()
    proc = subprocess.Popen(
        [str(tandem_bin), "dev", "--port", str(port), "--data-dir", str(tmp_path / "d")],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        edge = f"https://127.0.0.1:{port + 2}"
        wait_until(lambda: requests.get(edge + "/metrics", verify=False, timeout=1).status_code == 200, 20, what="dev edge")
        out = subprocess.run(
            ["curl", "-sk", "--http2", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", edge + "/metrics"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        assert out.stdout == "2 200", out.stdout + out.stderr
        out = subprocess.run(
            ["curl", "-sk", "--http1.1", "-D", "-", "-o", "/dev/null", edge + "/photos-us-east/none"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        assert out.stdout.startswith("HTTP/1.1 403") and "x-edge-region: us-east" in out.stdout, out.stdout
        (tmp_path / "cat.txt").write_text("meow")
        # The viewer signs for us-east-1 and names the us-east bucket, before and after the failover.
        cp = dev_aws(edge, "us-east-1", "s3", "cp", "cat.txt", "s3://photos-us-east/before.txt", cwd=tmp_path)
        assert cp.returncode == 0, cp.stdout + cp.stderr
        env = dict(os.environ, **DEV_KEYS, NO_COLOR="1")
        fo = subprocess.run([str(tandem_bin), "failover", "photos", "--planned"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert fo.returncode == 0, fo.stdout + fo.stderr
        # The operator's client reaches the edge over HTTPS, trusting the dev certificate (tandem-https).
        inv = subprocess.run([str(tandem_bin), "edge", "invalidate", "/photos-us-east/*"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert inv.returncode == 0 and re.search(r"https://127\.0\.0\.1:\d+\s+ok", inv.stdout), inv.stdout + inv.stderr
        cp = dev_aws(edge, "us-east-1", "s3", "cp", "cat.txt", "s3://photos-us-east/after.txt", cwd=tmp_path)
        assert cp.returncode == 0, cp.stdout + cp.stderr
        tokyo = f"http://127.0.0.1:{port + 1}"
        ls = dev_aws(tokyo, "ap-northeast-1", "s3", "ls", "s3://photos-ap-tokyo/", cwd=tmp_path)
        assert "after.txt" in ls.stdout, ls.stdout + ls.stderr
        # DynamoDB sends no payload hash header: the edge verifies the body it holds.
        item = '{"photo_id":{"S":"p"},"comment_id":{"S":"c"}}'
        put = dev_aws(edge, "us-east-1", "dynamodb", "put-item", "--table-name", "comments", "--item", item, cwd=tmp_path)
        assert put.returncode == 0, put.stdout + put.stderr
        key = ["--table-name", "comments", "--key", item]
        got = dev_aws(tokyo, "ap-northeast-1", "dynamodb", "get-item", *key, cwd=tmp_path)
        assert '"p"' in got.stdout, got.stdout + got.stderr
    finally:
        proc.terminate()
        text = proc.communicate(timeout=15)[0]
    assert f"edge       https://127.0.0.1:{port + 2}" in text, text
