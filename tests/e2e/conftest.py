"""Fixtures for the tandem end-to-end suite.

One `tandem serve` node per test module (fixture `node`), on a free loopback
port, with a temp config holding two access keys (admin and bob) and a temp
data dir. Set TANDEM_BIN to use another binary; otherwise
target/release/tandem is (re)built once per session with
`cargo build --release -p tandem` unless TANDEM_E2E_NO_BUILD=1.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2e_helpers import KEYS, Node, find_binary, unique_bucket  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def tandem_bin() -> Path:
    if os.environ.get("TANDEM_BIN"):
        return Path(os.environ["TANDEM_BIN"])
    if os.environ.get("TANDEM_E2E_NO_BUILD") != "1":
        p = subprocess.run(
            ["cargo", "build", "--release", "-p", "tandem"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if p.returncode != 0:
            pytest.fail("cargo build --release -p tandem failed:\n" + p.stderr[-4000:], pytrace=False)
    return find_binary()


@pytest.fixture(scope="module")
def node(tandem_bin, tmp_path_factory):
    """A running node shared by the tests of one module."""
    n = Node(tandem_bin, tmp_path_factory.mktemp("node"))
    n.start()
    yield n
    n.stop()


@pytest.fixture
def fresh_node(tandem_bin, tmp_path):
    """A node of this test's own (for tests that kill or reconfigure it)."""
    nodes: list[Node] = []

    def make(**kw) -> Node:
        n = Node(tandem_bin, tmp_path / f"n{len(nodes)}", **kw)
        nodes.append(n)
        return n

    yield make
    for n in nodes:
        n.stop()


@pytest.fixture(autouse=True)
def _node_still_alive(request):
    """After every test that used the shared node, the node must still be running."""
    yield
    if "node" in request.fixturenames:
        n = request.getfixturevalue("node")
        if not n.alive():
            pytest.fail(f"tandem died during this test (exit {n.proc.returncode}):\n{n.log_tail()}")


@pytest.fixture
def s3(node):
    """boto3 client for the admin principal."""
    return node.client("admin")


@pytest.fixture
def bob(node):
    """boto3 client for the bob principal."""
    return node.client("bob")


@pytest.fixture
def anon(node):
    """Unsigned boto3 client."""
    return node.anon_client()


@pytest.fixture
def bucket_name(request) -> str:
    return unique_bucket(request.node.name)


@pytest.fixture
def bucket(s3, bucket_name) -> str:
    """A fresh bucket owned by admin."""
    s3.create_bucket(Bucket=bucket_name)
    return bucket_name


@pytest.fixture
def keys():
    return KEYS


# ---------------------------------------------------------------- DynamoDB (test_dynamo_*.py)


@pytest.fixture
def ddb(node):
    """boto3 `dynamodb` client for the admin principal."""
    from dynamo_helpers import ddb_client

    return ddb_client(node)


@pytest.fixture
def ddb_streams(node):
    """boto3 `dynamodbstreams` client for the admin principal."""
    from dynamo_helpers import streams_client

    return streams_client(node)


# ---------------------------------------------------------------- two regions (test_replication_*.py)


@pytest.fixture(scope="module")
def regions(tandem_bin, tmp_path_factory):
    """Two running regions (us-east, ap-tokyo) replicating to each other, shared by one module.

    Each region's replication_url is a FaultProxy (`regions.proxy(name)`); a test that
    delays or partitions a link must undo it (`proxy.reset()`) before it ends.
    """
    from regions import RegionPair

    pair = RegionPair(tandem_bin, tmp_path_factory.mktemp("regions"), proxies=True)
    try:
        pair.start()
        yield pair
    finally:
        pair.close()


@pytest.fixture
def fresh_regions(tandem_bin, tmp_path):
    """Factory of region pairs of this test's own (for tests that stop, kill or partition regions).

    `fresh_regions(proxies=True)` puts a FaultProxy in front of each region's replication_url.
    """
    from regions import RegionPair

    pairs = []

    def make(start: bool = True, **kw):
        pair = RegionPair(tandem_bin, tmp_path / f"pair{len(pairs)}", **kw)
        pairs.append(pair)
        if start:
            pair.start()
        return pair

    yield make
    for pair in pairs:
        pair.close()


@pytest.fixture(autouse=True)
def _regions_still_alive(request):
    """After every test that used the shared region pair, both regions must still be running."""
    yield
    if "regions" in request.fixturenames:
        pair = request.getfixturevalue("regions")
        dead = [n for n in pair.names if not pair.alive(n)]
        if dead:
            pytest.fail(f"region(s) {dead} died during this test:\n{pair.logs()}")
