"""The PostgreSQL backend as an operator meets it: `backend` in tandem.toml,
what start-up says when the URL is wrong or the database unreachable (never
the password), and writes landing in the database's own tables, where they
outlive the node.

Needs TANDEM_TEST_POSTGRES (scripts/postgres.sh starts a throw-away server).
"""

import os
import subprocess

import pytest

from dynamo_helpers import ddb_client, make_table
from e2e_helpers import Node, free_port, postgres_backend_url, write_config

SECRET = "hunter2-never-printed"


def server() -> str:
    url = os.environ.get("TANDEM_TEST_POSTGRES")
    if not url:
        pytest.fail("these tests need TANDEM_TEST_POSTGRES (source scripts/postgres.sh)")
    return url


def psql(url: str, sql: str) -> str:
    """`sql` through psql on `url` (a backend URL: its search_path option selects the schema)."""
    return subprocess.run(["psql", url, "-qAtc", sql], check=True, capture_output=True, text=True).stdout.strip()


def start_with_backend(tandem_bin, root, backend: str, timeout: float = 20, **fields):
    """Runs `tandem serve` on a config whose region has `backend` (and any
    other `fields`); returns the finished process."""
    node = Node(tandem_bin, root)
    node.root.mkdir(parents=True, exist_ok=True)
    region = {"name": node.region, "listen": f"127.0.0.1:{node.port}", "data_dir": str(node.data_dir), "backend": backend}
    write_config(node.config_path, [{**region, **fields}])
    return subprocess.run(
        [str(tandem_bin), "serve", "--config", str(node.config_path), "--region", node.region],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_backend_that_is_neither_embedded_nor_postgres_is_refused_without_its_password(tandem_bin, tmp_path):
    done = start_with_backend(tandem_bin, tmp_path, f"mysql://app:{SECRET}@db.internal/tandem")
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert 'backend must be "embedded" or a postgres:// URL' in out, out
    assert "us-east" in out, out
    assert SECRET not in out, out


def test_an_unreachable_database_fails_start_up_naming_it_without_its_password(tandem_bin, tmp_path):
    done = start_with_backend(tandem_bin, tmp_path, f"postgres://app:{SECRET}@127.0.0.1:1/tandem?connect_timeout=2")
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert "cannot connect to postgres://app@127.0.0.1:1/tandem" in out, out
    assert SECRET not in out, out


def test_a_password_from_pgpassword_is_used_and_never_logged(tandem_bin, tmp_path):
    """A role with a password, given only through PGPASSWORD: the node starts
    on it, and neither its log nor its answers show the password."""
    admin = server()
    psql(admin, f"DO $$ BEGIN CREATE ROLE tandem_pw LOGIN PASSWORD '{SECRET}'; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    psql(admin, "GRANT CREATE ON DATABASE postgres TO tandem_pw")
    url = postgres_backend_url(str(tmp_path / "pw")).replace("postgres://postgres@", "postgres://tandem_pw@")
    psql(admin, f"GRANT ALL ON SCHEMA {url.rsplit('%3D', 1)[1]} TO tandem_pw")
    node = Node(tandem_bin, tmp_path)
    node.env["PGPASSWORD"] = SECRET
    node.root.mkdir(parents=True, exist_ok=True)
    write_config(
        node.config_path,
        [{"name": node.region, "listen": f"127.0.0.1:{node.port}", "data_dir": str(node.data_dir), "backend": url}],
    )
    node.start()
    try:
        s3 = node.client()
        s3.create_bucket(Bucket="pw-bucket")
        s3.put_object(Bucket="pw-bucket", Key="k", Body=b"v")
        assert s3.get_object(Bucket="pw-bucket", Key="k")["Body"].read() == b"v"
        assert SECRET not in node.log_tail(10_000)
    finally:
        node.stop()


def test_writes_land_in_the_database_and_outlive_the_node(tandem_bin, tmp_path):
    """The region's tables are the database's: an object and an item written
    through the APIs are rows there, with their change-log entries; a new
    node with an empty data directory of its own, on the same database,
    serves the item (object bodies above 64 KiB stay in the data directory
    unless `bodies = "postgres"`, below)."""
    backend = postgres_backend_url(str(tmp_path / "shared"))
    node = Node(tandem_bin, tmp_path / "first")
    node.root.mkdir(parents=True, exist_ok=True)
    region = {"name": node.region, "listen": f"127.0.0.1:{node.port}", "data_dir": str(node.data_dir), "backend": backend}
    write_config(node.config_path, [region])
    node.start()
    s3 = node.client()
    s3.create_bucket(Bucket="rows")
    s3.put_object(Bucket="rows", Key="photo.jpg", Body=b"small body, kept inline")
    ddb = ddb_client(node)
    make_table(ddb, "rows")
    ddb.put_item(TableName="rows", Item={"pk": {"S": "a"}, "n": {"N": "1"}})
    node.stop()

    assert psql(backend, "SELECT convert_from(k, 'UTF8') FROM tandem_current") == "rows/photo.jpg"
    assert int(psql(backend, "SELECT count(*) FROM tandem_changes")) >= 4
    assert int(psql(backend, "SELECT count(*) FROM tandem_items")) == 1

    other = Node(tandem_bin, tmp_path / "second")
    other.root.mkdir(parents=True, exist_ok=True)
    write_config(other.config_path, [{**region, "listen": f"127.0.0.1:{other.port}", "data_dir": str(other.data_dir)}])
    other.start()
    try:
        item = ddb_client(other).get_item(TableName="rows", Key={"pk": {"S": "a"}})["Item"]
        assert item["n"] == {"N": "1"}
        body = other.client().get_object(Bucket="rows", Key="photo.jpg")["Body"].read()
        assert body == b"small body, kept inline"
    finally:
        other.stop()


def test_with_bodies_in_the_database_a_node_with_an_empty_data_directory_serves_every_body(tandem_bin, tmp_path):
    """`bodies = "postgres"`: a 3 MiB object's bytes are rows of tandem_bodies,
    not files of the data directory, so a second node with a data directory
    of its own reads the whole object and any range of it; deleting the
    object frees its rows after their grace, not before."""
    from e2e_helpers import random_bytes

    backend = postgres_backend_url(str(tmp_path / "bodies"))
    node = Node(tandem_bin, tmp_path / "first")
    node.root.mkdir(parents=True, exist_ok=True)
    region = {
        "name": node.region,
        "listen": f"127.0.0.1:{node.port}",
        "data_dir": str(node.data_dir),
        "backend": backend,
        "bodies": "postgres",
    }
    write_config(node.config_path, [region])
    node.start()
    big = random_bytes(3 * 1024 * 1024 + 77, seed=19)
    try:
        s3 = node.client()
        s3.create_bucket(Bucket="bodies")
        s3.put_object(Bucket="bodies", Key="big.bin", Body=big)
    finally:
        node.stop()
    assert int(psql(backend, "SELECT sum(length(data)) FROM tandem_bodies")) == len(big)
    blob_files = [p for p in (node.data_dir / "blobs").rglob("*") if p.is_file()]
    assert blob_files == [], blob_files

    other = Node(tandem_bin, tmp_path / "second")
    other.root.mkdir(parents=True, exist_ok=True)
    write_config(other.config_path, [{**region, "listen": f"127.0.0.1:{other.port}", "data_dir": str(other.data_dir)}])
    other.start()
    try:
        s3 = other.client()
        assert s3.get_object(Bucket="bodies", Key="big.bin")["Body"].read() == big
        start = 1024 * 1024 - 5
        got = s3.get_object(Bucket="bodies", Key="big.bin", Range=f"bytes={start}-{start + 99}")["Body"].read()
        assert got == big[start : start + 100]
        s3.delete_object(Bucket="bodies", Key="big.bin")
        assert int(psql(backend, "SELECT count(*) FROM tandem_bodies")) > 0, "freed rows wait out their grace"
    finally:
        other.stop()


def test_bodies_in_postgres_without_a_postgres_backend_are_refused(tandem_bin, tmp_path):
    done = start_with_backend(tandem_bin, tmp_path, "embedded", bodies="postgres")
    assert done.returncode != 0
    assert 'bodies = "postgres" keeps bodies in the backend\'s database' in done.stdout + done.stderr


def two_nodes(tandem_bin, root):
    """A region of two nodes over one PostgreSQL schema, bodies included: the
    region's own node and `[[regions.nodes]]` "b", started with `--node b`."""
    first = Node(tandem_bin, root)
    first.root.mkdir(parents=True, exist_ok=True)
    second = Node(tandem_bin, root)
    second.log_path = root / "us-east-b.log"
    second.extra_args = ["--node", "b"]
    region = {
        "name": first.region,
        "listen": f"127.0.0.1:{first.port}",
        "data_dir": str(first.data_dir),
        "backend": postgres_backend_url(str(root / "region")),
        "bodies": "postgres",
    }
    write_config(first.config_path, [region])
    with open(first.config_path, "a") as f:
        f.write(f'\n[[regions.nodes]]\nname = "b"\nlisten = "127.0.0.1:{second.port}"\n')
    first.start()
    second.start()
    return first, second


def test_two_nodes_of_a_region_serve_one_store_and_one_stream(tandem_bin, tmp_path):
    """`tandem serve --node b` runs a second node of the region on the same
    database, with a scratch directory of its own under the region's. What
    one node writes the other serves, and a DynamoDB stream read through
    either node gives the same records in the same order."""
    from dynamo_helpers import read_stream

    a, b = two_nodes(tandem_bin, tmp_path)
    try:
        assert "region us-east node b listening" in b.log_tail(2000)
        assert (a.data_dir / "nodes" / "b").is_dir(), "node b's scratch directory is under the region's"
        a.client().create_bucket(Bucket="shared")
        b.client().put_object(Bucket="shared", Key="from-b", Body=b"b wrote this")
        assert a.client().get_object(Bucket="shared", Key="from-b")["Body"].read() == b"b wrote this"

        table = make_table(ddb_client(a), "events", stream="NEW_AND_OLD_IMAGES")
        for i in range(20):
            via = a if i % 2 == 0 else b
            ddb_client(via).put_item(TableName=table, Item={"pk": {"S": f"k{i % 7}"}, "n": {"N": str(i)}})
        arn = ddb_client(a).describe_table(TableName=table)["Table"]["LatestStreamArn"]
        through = [read_stream(ddb_client(n, service="dynamodbstreams"), arn) for n in (a, b)]
        assert len(through[0]) == 20
        key = lambda r: (r["dynamodb"]["SequenceNumber"], r["eventName"], r["dynamodb"]["Keys"], r["dynamodb"].get("NewImage"))
        assert [key(r) for r in through[0]] == [key(r) for r in through[1]]
    finally:
        a.stop()
        b.stop()


def test_a_node_of_a_region_on_the_embedded_backend_is_refused(tandem_bin, tmp_path):
    node = Node(tandem_bin, tmp_path)
    node.root.mkdir(parents=True, exist_ok=True)
    write_config(
        node.config_path,
        [{"name": node.region, "listen": f"127.0.0.1:{node.port}", "data_dir": str(node.data_dir), "backend": "embedded"}],
    )
    with open(node.config_path, "a") as f:
        f.write(f'\n[[regions.nodes]]\nname = "b"\nlisten = "127.0.0.1:{free_port()}"\n')
    done = subprocess.run(
        [str(tandem_bin), "serve", "--config", str(node.config_path), "--region", node.region, "--node", "b"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.returncode != 0
    assert "[[regions.nodes]] share the region's database" in done.stdout + done.stderr
