"""Health, metrics, the change feed, NotImplemented operations, virtual hosts, CLI flags."""

import json
import re

import requests

from e2e_helpers import (
    describe,
    error_code,
    free_port,
    md5_b64,
    parse_xml,
    s3_error,
    unique_bucket,
    write_config,
)

# ---------------------------------------------------------------- health & metrics


def test_health_is_unauthenticated_json_with_region(node):
    r = requests.get(node.endpoint + "/health", timeout=5)
    assert r.status_code == 200, describe(r)
    doc = r.json()
    assert doc["region"] == "us-east" and doc["status"] == "ok", doc
    assert r.headers.get("Content-Type", "").startswith("application/json")


def parse_metrics(text):
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})?)\s+(\S+)", line)
        assert m, f"unparseable metrics line: {line!r}"
        samples[m.group(1)] = float(m.group(3))
    return samples


def test_metrics_is_unauthenticated_prometheus_text_that_counts_requests(node, s3, bucket):
    r = requests.get(node.endpoint + "/metrics", timeout=5)
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Content-Type", "").startswith(("text/plain", "application/openmetrics-text"))
    assert "# TYPE" in r.text
    before = parse_metrics(r.text)
    assert before, "no samples in /metrics"
    for i in range(25):
        s3.put_object(Bucket=bucket, Key=f"m{i}", Body=b"x")
    after = parse_metrics(requests.get(node.endpoint + "/metrics", timeout=5).text)
    grown = [k for k, v in after.items() if v - before.get(k, 0.0) >= 25]
    assert grown, "no metric grew by >= 25 after 25 PUTs"


# ---------------------------------------------------------------- change feed


def mentions(change, *needles):
    text = json.dumps(change)
    return all(n in text for n in needles)


def test_changes_feed_lists_mutations_in_order(node, s3):
    start = node.changes(0)["last_seq"]
    b = unique_bucket("changes")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="feed-key", Body=b"one")
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=b, Key="feed-key", Body=b"two")
    s3.delete_object(Bucket=b, Key="feed-key")
    feed = node.changes(start)
    changes = feed["changes"]
    seqs = [c["seq"] for c in changes]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert all(s > start for s in seqs)
    assert feed["last_seq"] == seqs[-1]
    assert all(c["origin"] == "us-east" for c in changes)
    hlcs = [c["hlc"] for c in changes]
    assert all(isinstance(h, int) for h in hlcs)
    assert hlcs == sorted(hlcs)
    ours = [c for c in changes if mentions(c["change"], b)]
    assert len(ours) >= 5, json.dumps(changes)[:2000]
    key_changes = [c for c in ours if mentions(c["change"], "feed-key")]
    assert len(key_changes) == 3, json.dumps(ours)[:2000]  # put, put, delete marker
    first_bucket_change = ours[0]
    assert not mentions(first_bucket_change["change"], "feed-key")  # bucket creation comes first


def test_changes_after_last_seq_is_empty(node, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    last = node.changes(0)["last_seq"]
    feed = node.changes(last)
    assert feed["changes"] == []
    assert feed["last_seq"] == last


def test_changes_records_bucket_delete_and_version_delete(node, s3):
    b = unique_bucket("chg-del")
    s3.create_bucket(Bucket=b)
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    vid = s3.put_object(Bucket=b, Key="vk", Body=b"x")["VersionId"]
    start = node.changes(0)["last_seq"]
    s3.delete_object(Bucket=b, Key="vk", VersionId=vid)
    s3.delete_bucket(Bucket=b)
    ours = [c for c in node.changes(start)["changes"] if mentions(c["change"], b)]
    assert len(ours) == 2, json.dumps(ours)
    assert mentions(ours[0]["change"], vid)


def test_changes_endpoint_requires_signature(node):
    r = requests.get(node.endpoint + "/_tandem/changes?after=0", timeout=5)
    assert r.status_code == 403, describe(r)


# ---------------------------------------------------------------- NotImplemented


def test_unimplemented_operations_return_not_implemented_and_node_stays_healthy(node, s3, bucket):
    with s3_error("NotImplemented", 501):
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket,
            LifecycleConfiguration={
                "Rules": [{"ID": "x", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}}]
            },
        )
    with s3_error("NotImplemented", 501):
        s3.get_bucket_website(Bucket=bucket)
    r = node.request("GET", f"/{bucket}", query=[("website", "")])
    assert r.status_code == 501, describe(r)
    assert error_code(r) == "NotImplemented"
    assert r.headers.get("Content-Type", "").startswith(("application/xml", "text/xml"))
    assert requests.get(node.endpoint + "/health", timeout=5).json()["status"] == "ok"
    s3.put_object(Bucket=bucket, Key="still-works", Body=b"yes")
    assert s3.get_object(Bucket=bucket, Key="still-works")["Body"].read() == b"yes"


# ---------------------------------------------------------------- virtual-host style


def vhost(node, bucket):
    return f"{bucket}.localhost:{node.port}"


def test_virtual_host_style_put_get_list(node, s3, bucket):
    r = node.request("PUT", "/v/obj.txt", host=vhost(node, bucket), body=b"virtual host body",
                     headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, describe(r)
    assert s3.get_object(Bucket=bucket, Key="v/obj.txt")["Body"].read() == b"virtual host body"
    r = node.request("GET", "/v/obj.txt", host=vhost(node, bucket))
    assert r.status_code == 200, describe(r)
    assert r.content == b"virtual host body"
    r = node.request("GET", "/", host=vhost(node, bucket), query=[("list-type", "2")])
    assert r.status_code == 200, describe(r)
    root = parse_xml(r.content)
    assert root.findtext("Name") == bucket
    assert [c.findtext("Key") for c in root.findall("Contents")] == ["v/obj.txt"]


def test_virtual_host_style_missing_key_and_bucket(node, bucket):
    r = node.request("GET", "/nope", host=vhost(node, bucket))
    assert r.status_code == 404 and error_code(r) == "NoSuchKey", describe(r)
    missing = unique_bucket("vh-missing")
    r = node.request("GET", "/", host=vhost(node, missing))
    assert r.status_code == 404 and error_code(r) == "NoSuchBucket", describe(r)


def test_virtual_host_style_bucket_subresource(node, s3, bucket):
    body = b'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>'
    r = node.request("PUT", "/", host=vhost(node, bucket), query=[("versioning", "")], body=body,
                     headers={"Content-MD5": md5_b64(body)})
    assert r.status_code == 200, describe(r)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


def test_path_style_still_works_with_localhost_host(node, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"path style")
    r = node.request("GET", f"/{bucket}/k", host=f"localhost:{node.port}")
    assert r.status_code == 200, describe(r)
    assert r.content == b"path style"


# ---------------------------------------------------------------- serve flags


def test_region_flag_selects_region_and_listen_data_dir_flags_override_config(tandem_bin, tmp_path):
    from e2e_helpers import Node

    n = Node(tandem_bin, tmp_path, region="eu-west")
    unused = free_port()
    write_config(
        n.config_path,
        [
            {"name": "us-east", "listen": f"127.0.0.1:{free_port()}", "data_dir": str(tmp_path / "us")},
            {"name": "eu-west", "listen": f"127.0.0.1:{unused}", "data_dir": str(tmp_path / "eu-config")},
        ],
    )
    n.port = free_port()
    n.extra_args = ["--listen", f"127.0.0.1:{n.port}", "--data-dir", str(tmp_path / "eu-flag")]
    try:
        n.start()
        doc = requests.get(n.endpoint + "/health", timeout=5).json()
        assert doc["region"] == "eu-west" and doc["status"] == "ok", doc
        s3 = n.client()
        s3.create_bucket(Bucket="flag-bucket")
        s3.put_object(Bucket="flag-bucket", Key="k", Body=b"x")
        assert (tmp_path / "eu-flag").exists()
        assert not (tmp_path / "eu-config").exists()
        assert not (tmp_path / "us").exists()
        try:
            requests.get(f"http://127.0.0.1:{unused}/health", timeout=2)
            raise AssertionError("config listen address is served although --listen overrides it")
        except requests.ConnectionError:
            pass
    finally:
        n.stop()


def test_data_survives_graceful_restart(tandem_bin, tmp_path):
    from e2e_helpers import Node

    n = Node(tandem_bin, tmp_path)
    try:
        n.start()
        s3 = n.client()
        s3.create_bucket(Bucket="persist")
        s3.put_bucket_versioning(Bucket="persist", VersioningConfiguration={"Status": "Enabled"})
        v1 = s3.put_object(Bucket="persist", Key="k", Body=b"one", Metadata={"a": "b"})["VersionId"]
        s3.put_object(Bucket="persist", Key="k", Body=b"two")
        last = n.changes(0)["last_seq"]
        n.stop()
        n.start()
        s3 = n.client()
        assert s3.get_object(Bucket="persist", Key="k")["Body"].read() == b"two"
        old = s3.get_object(Bucket="persist", Key="k", VersionId=v1)
        assert old["Body"].read() == b"one" and old["Metadata"] == {"a": "b"}
        assert s3.get_bucket_versioning(Bucket="persist")["Status"] == "Enabled"
        assert n.changes(0)["last_seq"] == last
        s3.put_object(Bucket="persist", Key="k2", Body=b"after")
        assert n.changes(0)["last_seq"] > last
    finally:
        n.stop()
