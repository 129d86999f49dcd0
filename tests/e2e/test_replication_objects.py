"""S3 cross-region replication between two real regions (us-east -> ap-tokyo, and back).

Covers: replicas byte-identical to their source version (empty, inline, 1 MiB,
multipart and CopyObject bodies) with the same version id, ETag, content type,
user metadata, tags, checksum, last-modified and part layout; ReplicationStatus
PENDING -> COMPLETED on the source and REPLICA on the copy, with the backlog
visible while a version is in flight; rule selection (prefix, tag and And
filters, overlapping rules by priority, disabled rules); delete markers
(DeleteObject and DeleteObjects) with DeleteMarkerReplication Enabled vs
Disabled; permanent deletes by version id staying local; versions written
before the rule staying local; tag and ACL edits replicating; a two-way setup
(ReplicaModifications) that exchanges writes and then goes quiet (nothing
loops), and concurrent tag edits in it converging; bucket-name uniqueness
across regions; the apply endpoint refusing user keys and anonymous requests
(and the replication key opening nothing else); the status JSON and /metrics;
a stopped peer: FAILED + "failing" while it is down, COMPLETED after it is
back, without operator action; kill -9 of the source with versions waiting.
"""

from __future__ import annotations

import hashlib
import threading
import time

import pytest
import requests
from botocore.exceptions import ClientError

from e2e_helpers import ALL_USERS, KEYS, Key, multipart_etag, random_bytes, s3_error, sigv4_sign, unique_bucket
from regions import REPL_KEY_ID, REPL_SECRET, replication_config, rule, wait_until

US, TOKYO = "us-east", "ap-tokyo"
MIB = 1024 * 1024
APPLY = "/_tandem/replication/apply"


# --------------------------------------------------------------------------- helpers


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def setup_pair(regions, hint: str, *rules_for, src_region: str = US, dests: int = 1):
    """A versioned source bucket in src_region and `dests` versioned buckets in the other region.

    `rules_for(dest_names) -> list of rules`; the configuration is applied once the
    destination buckets are known to the source region (both regions in sync).
    Returns (src, [dest...]).
    """
    dst_region = regions.other(src_region)
    src = regions.make_bucket(src_region, unique_bucket(hint + "-src"))
    dsts = [regions.make_bucket(dst_region, unique_bucket(f"{hint}-dst{i}")) for i in range(dests)]
    regions.wait_in_sync()
    if rules_for:
        (make,) = rules_for
        regions.s3(src_region).put_bucket_replication(
            Bucket=src, ReplicationConfiguration=replication_config(*make(dsts))
        )
    return src, dsts


def head(s3, bucket, key, version_id=None, **kw):
    """HeadObject, or None on 404."""
    args = dict(Bucket=bucket, Key=key, **kw)
    if version_id:
        args["VersionId"] = version_id
    try:
        return s3.head_object(**args)
    except ClientError as e:
        if e.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
            return None
        raise


def status_of(s3, bucket, key, version_id=None):
    h = head(s3, bucket, key, version_id)
    return None if h is None else h.get("ReplicationStatus")


def wait_status(s3, bucket, key, version_id, want, timeout=10.0):
    seen = []

    def check():
        seen.append(status_of(s3, bucket, key, version_id))
        return seen[-1] == want

    try:
        wait_until(check, timeout)
    except AssertionError:
        raise AssertionError(
            f"{bucket}/{key}?versionId={version_id}: ReplicationStatus still {seen[-1] if seen else '?'} "
            f"after {timeout}s, expected {want}"
        ) from None


def wait_replica(s3, bucket, key, version_id, timeout=10.0):
    return wait_until(lambda: head(s3, bucket, key, version_id), timeout, what=f"replica {bucket}/{key}@{version_id}")


def versions(s3, bucket, prefix=""):
    """(versions, delete markers) of a bucket as lists of (key, version id, is latest)."""
    r = s3.list_object_versions(Bucket=bucket, Prefix=prefix)
    vs = [(v["Key"], v["VersionId"], v["IsLatest"]) for v in r.get("Versions", [])]
    dms = [(d["Key"], d["VersionId"], d["IsLatest"]) for d in r.get("DeleteMarkers", [])]
    return vs, dms


def tags_of(s3, bucket, key, version_id):
    t = s3.get_object_tagging(Bucket=bucket, Key=key, VersionId=version_id)["TagSet"]
    return {x["Key"]: x["Value"] for x in t}


def body_of(s3, bucket, key, version_id):
    return s3.get_object(Bucket=bucket, Key=key, VersionId=version_id)["Body"].read()


def assert_same_version(src_s3, src, dst_s3, dst, key, vid, body: bytes):
    """The replica of (src, key, vid) in dst is the same version, byte for byte."""
    s = src_s3.head_object(Bucket=src, Key=key, VersionId=vid, ChecksumMode="ENABLED")
    r = dst_s3.head_object(Bucket=dst, Key=key, VersionId=vid, ChecksumMode="ENABLED")
    assert r["VersionId"] == vid
    assert r["ETag"] == s["ETag"]
    assert r["ContentLength"] == s["ContentLength"] == len(body)
    assert r.get("ContentType") == s.get("ContentType")
    assert r.get("Metadata") == s.get("Metadata")
    assert r["LastModified"] == s["LastModified"]
    for alg in ("ChecksumCRC32", "ChecksumCRC32C", "ChecksumSHA1", "ChecksumSHA256"):
        assert r.get(alg) == s.get(alg), alg
    assert r.get("ReplicationStatus") == "REPLICA", r.get("ReplicationStatus")
    assert s.get("ReplicationStatus") == "COMPLETED", s.get("ReplicationStatus")
    got = body_of(dst_s3, dst, key, vid)
    assert len(got) == len(body) and sha(got) == sha(body)
    assert tags_of(dst_s3, dst, key, vid) == tags_of(src_s3, src, key, vid)


def settle(regions, quiet: float = 1.0):
    """Both regions in sync, and still the same (no new changes, nothing shipped) `quiet` seconds later."""
    regions.wait_in_sync()

    def snap():
        out = {}
        for n in regions.names:
            st = regions.replication_status(n)
            out[n] = (st["last_seq"], [(p["shipper"]["shipped_changes"], p["backlog"]["changes"]) for p in st["peers"]])
        return out

    before = snap()
    time.sleep(quiet)
    after = snap()
    assert after == before, f"replication did not go quiet: {before} -> {after}"
    return after


# --------------------------------------------------------------------------- bodies and metadata


@pytest.mark.parametrize("size", [0, 1000, 64 * 1024 - 1, MIB], ids=["empty", "1000B", "inline-max", "1MiB"])
def test_replica_is_the_same_version_byte_for_byte(regions, size):
    src, (dst,) = setup_pair(regions, f"ident{size}", lambda d: [rule(d[0])])
    us, tk = regions.s3(US), regions.s3(TOKYO)
    body = random_bytes(size, seed=size)
    put = us.put_object(
        Bucket=src,
        Key="dir/obj.bin",
        Body=body,
        ContentType="application/x-test",
        Metadata={"color": "blue", "n": "42"},
        Tagging="team=core&tier=gold",
        ChecksumAlgorithm="SHA256",
    )
    vid = put["VersionId"]
    assert vid and vid != "null"
    wait_status(us, src, "dir/obj.bin", vid, "COMPLETED")
    assert_same_version(us, src, tk, dst, "dir/obj.bin", vid, body)
    h = tk.head_object(Bucket=dst, Key="dir/obj.bin")
    assert h["ContentType"] == "application/x-test"
    assert h["Metadata"] == {"color": "blue", "n": "42"}
    assert tags_of(tk, dst, "dir/obj.bin", vid) == {"team": "core", "tier": "gold"}
    assert versions(tk, dst) == ([("dir/obj.bin", vid, True)], [])


def test_multipart_object_replicates_with_its_etag_and_parts(regions):
    src, (dst,) = setup_pair(regions, "mpu", lambda d: [rule(d[0])])
    us, tk = regions.s3(US), regions.s3(TOKYO)
    parts = [random_bytes(5 * MIB, seed=1), random_bytes(5 * MIB, seed=2)]
    up = us.create_multipart_upload(
        Bucket=src, Key="big", ContentType="video/x-raw", Metadata={"m": "1"}, Tagging="k=v"
    )
    etags = []
    for i, p in enumerate(parts, 1):
        etags.append(us.upload_part(Bucket=src, Key="big", UploadId=up["UploadId"], PartNumber=i, Body=p)["ETag"])
    done = us.complete_multipart_upload(
        Bucket=src,
        Key="big",
        UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": i, "ETag": e} for i, e in enumerate(etags, 1)]},
    )
    vid = done["VersionId"]
    assert done["ETag"] == multipart_etag(parts)
    wait_status(us, src, "big", vid, "COMPLETED", timeout=15)
    assert_same_version(us, src, tk, dst, "big", vid, b"".join(parts))
    assert tk.head_object(Bucket=dst, Key="big", VersionId=vid)["ETag"] == multipart_etag(parts)
    # The part layout survives: partNumber reads give the same part on the replica.
    s2 = us.head_object(Bucket=src, Key="big", VersionId=vid, PartNumber=2)
    r2 = tk.head_object(Bucket=dst, Key="big", VersionId=vid, PartNumber=2)
    assert (r2["ContentLength"], r2.get("PartsCount")) == (s2["ContentLength"], s2.get("PartsCount")) == (5 * MIB, 2)
    got = tk.get_object(Bucket=dst, Key="big", VersionId=vid, PartNumber=2)["Body"].read()
    assert sha(got) == sha(parts[1])


def test_pending_while_in_flight_then_completed_and_backlog_visible(regions):
    src, (dst,) = setup_pair(regions, "pending", lambda d: [rule(d[0])])
    us = regions.s3(US)
    px = regions.proxy(TOKYO)
    px.delay(1200)  # us-east -> ap-tokyo requests arrive 1.2 s late
    try:
        body = b"x" * 5000
        vid = us.put_object(Bucket=src, Key="slow", Body=body)["VersionId"]
        h = us.head_object(Bucket=src, Key="slow", VersionId=vid)
        assert h.get("ReplicationStatus") == "PENDING"
        g = us.get_object(Bucket=src, Key="slow")
        assert g.get("ReplicationStatus") == "PENDING"
        p = regions.peer_status(US, TOKYO)
        assert p["state"] == "catching-up", p
        assert p["backlog"]["changes"] == 1 and p["backlog"]["bytes"] == len(body), p["backlog"]
        assert p["backlog"]["by_resource"] == {f"bucket/{dst}": {"changes": 1, "bytes": len(body)}}, p["backlog"]
        assert p["backlog"]["oldest_age_seconds"] >= 0
        assert regions.metric(US, "tandem_replication_backlog_changes", peer=TOKYO, resource=f"bucket/{dst}") == 1
        assert regions.replication_status(US)["last_seq"] > p["backlog"]["cursor"]
        wait_status(us, src, "slow", vid, "COMPLETED")
    finally:
        px.reset()
    h = regions.s3(TOKYO).head_object(Bucket=dst, Key="slow", VersionId=vid)
    assert h["ReplicationStatus"] == "REPLICA"
    regions.wait_in_sync()
    assert regions.metric(US, "tandem_replication_backlog_changes", peer=TOKYO, resource=f"bucket/{dst}") == 0


# --------------------------------------------------------------------------- rule selection


def control(regions, us, src, dst, key="zz-control", tagging="ctl=1"):
    """Writes a version the rules select and waits for it to arrive: everything logged before it has shipped."""
    vid = us.put_object(Bucket=src, Key=key, Body=b"control", Tagging=tagging)["VersionId"]
    wait_replica(regions.s3(TOKYO), dst, key, vid)
    regions.wait_in_sync()
    return vid


def test_prefix_filter(regions):
    src, (dst,) = setup_pair(regions, "prefix", lambda d: [rule(d[0], prefix="docs/")])
    us, tk = regions.s3(US), regions.s3(TOKYO)
    v_in = us.put_object(Bucket=src, Key="docs/a.txt", Body=b"in")["VersionId"]
    v_out = us.put_object(Bucket=src, Key="pics/b.txt", Body=b"out")["VersionId"]
    v_out2 = us.put_object(Bucket=src, Key="doc", Body=b"out")["VersionId"]
    control(regions, us, src, dst, key="docs/zz-control")
    assert status_of(us, src, "docs/a.txt", v_in) == "COMPLETED"
    assert status_of(us, src, "pics/b.txt", v_out) is None
    assert status_of(us, src, "doc", v_out2) is None
    keys = sorted(k for k, _, _ in versions(tk, dst)[0])
    assert keys == ["docs/a.txt", "docs/zz-control"]
    assert body_of(tk, dst, "docs/a.txt", v_in) == b"in"


def test_tag_filter(regions):
    src, (dst,) = setup_pair(regions, "tagf", lambda d: [rule(d[0], prefix=None, tags={"replicate": "yes"})])
    us, tk = regions.s3(US), regions.s3(TOKYO)
    v_yes = us.put_object(Bucket=src, Key="a", Body=b"1", Tagging="replicate=yes&other=x")["VersionId"]
    v_no = us.put_object(Bucket=src, Key="b", Body=b"2", Tagging="replicate=no")["VersionId"]
    v_none = us.put_object(Bucket=src, Key="c", Body=b"3")["VersionId"]
    control(regions, us, src, dst, tagging="replicate=yes")
    assert status_of(us, src, "a", v_yes) == "COMPLETED"
    assert status_of(us, src, "b", v_no) is None
    assert status_of(us, src, "c", v_none) is None
    assert sorted(k for k, _, _ in versions(tk, dst)[0]) == ["a", "zz-control"]
    assert tags_of(tk, dst, "a", v_yes) == {"replicate": "yes", "other": "x"}


def test_and_filter_needs_prefix_and_every_tag(regions):
    src, (dst,) = setup_pair(
        regions, "andf", lambda d: [rule(d[0], prefix="img/", tags={"color": "blue", "size": "L"})]
    )
    us, tk = regions.s3(US), regions.s3(TOKYO)
    v_all = us.put_object(Bucket=src, Key="img/1", Body=b"1", Tagging="color=blue&size=L&x=y")["VersionId"]
    us.put_object(Bucket=src, Key="img/2", Body=b"2", Tagging="color=blue")  # one tag missing
    us.put_object(Bucket=src, Key="img/3", Body=b"3", Tagging="color=blue&size=S")  # wrong value
    us.put_object(Bucket=src, Key="txt/4", Body=b"4", Tagging="color=blue&size=L")  # wrong prefix
    control(regions, us, src, dst, key="img/zz-control", tagging="color=blue&size=L")
    assert status_of(us, src, "img/1", v_all) == "COMPLETED"
    for k in ("img/2", "img/3", "txt/4"):
        assert status_of(us, src, k) is None, k
    assert sorted(k for k, _, _ in versions(tk, dst)[0]) == ["img/1", "img/zz-control"]


def test_overlapping_rules_highest_priority_wins(regions):
    src, (low, high) = setup_pair(
        regions,
        "prio",
        lambda d: [
            rule(d[0], rule_id="all-low", priority=1, prefix=""),
            rule(d[1], rule_id="hot-high", priority=7, prefix="hot/"),
        ],
        dests=2,
    )
    us, tk = regions.s3(US), regions.s3(TOKYO)
    v_hot = us.put_object(Bucket=src, Key="hot/x", Body=b"hot")["VersionId"]
    v_cold = us.put_object(Bucket=src, Key="cold/y", Body=b"cold")["VersionId"]
    wait_status(us, src, "hot/x", v_hot, "COMPLETED")
    wait_status(us, src, "cold/y", v_cold, "COMPLETED")
    regions.wait_in_sync()
    assert versions(tk, high)[0] == [("hot/x", v_hot, True)]
    assert versions(tk, low)[0] == [("cold/y", v_cold, True)]
    assert body_of(tk, high, "hot/x", v_hot) == b"hot"


def test_disabled_rule_ships_nothing(regions):
    src, (dst,) = setup_pair(regions, "disabled", lambda d: [rule(d[0], enabled=False)])
    us, tk = regions.s3(US), regions.s3(TOKYO)
    before = regions.peer_status(US, TOKYO)["shipper"]["shipped_changes"]
    vid = us.put_object(Bucket=src, Key="k", Body=b"nope")["VersionId"]
    us.delete_object(Bucket=src, Key="k")
    assert status_of(us, src, "k", vid) is None
    regions.wait_in_sync()
    time.sleep(0.3)
    p = regions.peer_status(US, TOKYO)
    assert p["shipper"]["shipped_changes"] == before
    assert p["backlog"]["changes"] == 0 and p["backlog"]["unroutable"] == 0
    assert versions(tk, dst) == ([], [])
    # Enabling the rule later does not ship the version written while it was disabled.
    us.put_bucket_replication(Bucket=src, ReplicationConfiguration=replication_config(rule(dst)))
    control(regions, us, src, dst)
    assert [k for k, _, _ in versions(tk, dst)[0]] == ["zz-control"]


# --------------------------------------------------------------------------- deletes


def test_delete_marker_replicates_when_enabled(regions):
    src, (dst,) = setup_pair(regions, "dm-on", lambda d: [rule(d[0], delete_markers=True)])
    us, tk = regions.s3(US), regions.s3(TOKYO)
    vid = us.put_object(Bucket=src, Key="gone", Body=b"soon deleted")["VersionId"]
    wait_status(us, src, "gone", vid, "COMPLETED")
    d = us.delete_object(Bucket=src, Key="gone")
    assert d.get("DeleteMarker") is True
    marker = d["VersionId"]
    wait_until(lambda: versions(tk, dst)[1] == [("gone", marker, True)], what="delete marker in ap-tokyo")
    assert versions(tk, dst)[0] == [("gone", vid, False)]
    assert head(tk, dst, "gone") is None
    assert body_of(tk, dst, "gone", vid) == b"soon deleted"  # the old version is still there
    # DeleteObjects writes delete markers that replicate the same way.
    for k in ("multi/1", "multi/2"):
        us.put_object(Bucket=src, Key=k, Body=b"m")
    r = us.delete_objects(Bucket=src, Delete={"Objects": [{"Key": "multi/1"}, {"Key": "multi/2"}]})
    markers = sorted((d["Key"], d["DeleteMarkerVersionId"], True) for d in r["Deleted"])
    wait_until(lambda: sorted(versions(tk, dst, "multi/")[1]) == markers, what="DeleteObjects markers in ap-tokyo")
    regions.wait_in_sync()
    assert versions(us, src) == versions(tk, dst)


def test_copy_object_creates_a_version_that_replicates(regions):
    src, (dst,) = setup_pair(regions, "copy", lambda d: [rule(d[0])])
    us, tk = regions.s3(US), regions.s3(TOKYO)
    us.put_object(Bucket=src, Key="orig", Body=b"copy me", Metadata={"q": "1"}, ContentType="text/plain")
    c = us.copy_object(Bucket=src, Key="copy", CopySource={"Bucket": src, "Key": "orig"})
    vid = c["VersionId"]
    wait_status(us, src, "copy", vid, "COMPLETED")
    assert_same_version(us, src, tk, dst, "copy", vid, b"copy me")
    assert tk.head_object(Bucket=dst, Key="copy")["Metadata"] == {"q": "1"}


def test_delete_marker_stays_local_when_disabled(regions):
    src, (dst,) = setup_pair(regions, "dm-off", lambda d: [rule(d[0], delete_markers=False)])
    us, tk = regions.s3(US), regions.s3(TOKYO)
    vid = us.put_object(Bucket=src, Key="kept", Body=b"still here")["VersionId"]
    wait_status(us, src, "kept", vid, "COMPLETED")
    marker = us.delete_object(Bucket=src, Key="kept")["VersionId"]
    assert head(us, src, "kept") is None
    control(regions, us, src, dst)
    assert versions(us, src)[1] == [("kept", marker, True)]
    assert versions(tk, dst)[1] == []
    assert tk.get_object(Bucket=dst, Key="kept")["Body"].read() == b"still here"


def test_permanent_delete_by_version_id_is_not_replicated(regions):
    src, (dst,) = setup_pair(regions, "permdel", lambda d: [rule(d[0], delete_markers=True)])
    us, tk = regions.s3(US), regions.s3(TOKYO)
    v1 = us.put_object(Bucket=src, Key="k", Body=b"v1")["VersionId"]
    v2 = us.put_object(Bucket=src, Key="k", Body=b"v2")["VersionId"]
    wait_status(us, src, "k", v2, "COMPLETED")
    wait_replica(tk, dst, "k", v2)
    us.delete_object(Bucket=src, Key="k", VersionId=v2)
    us.delete_object(Bucket=src, Key="k", VersionId=v1)
    assert versions(us, src) == ([], [])
    control(regions, us, src, dst)
    assert sorted(versions(tk, dst, prefix="k")[0]) == sorted([("k", v1, False), ("k", v2, True)])
    assert tk.get_object(Bucket=dst, Key="k")["Body"].read() == b"v2"


def test_versions_written_before_the_rule_are_not_shipped(regions):
    src, (dst,) = setup_pair(regions, "before")
    us, tk = regions.s3(US), regions.s3(TOKYO)
    v_old = us.put_object(Bucket=src, Key="old", Body=b"old")["VersionId"]
    regions.wait_in_sync()
    us.put_bucket_replication(Bucket=src, ReplicationConfiguration=replication_config(rule(dst)))
    v_new = us.put_object(Bucket=src, Key="new", Body=b"new")["VersionId"]
    wait_status(us, src, "new", v_new, "COMPLETED")
    regions.wait_in_sync()
    assert status_of(us, src, "old", v_old) is None
    assert versions(tk, dst)[0] == [("new", v_new, True)]


# --------------------------------------------------------------------------- edits


def test_tag_and_acl_edits_replicate(regions):
    src, (dst,) = setup_pair(regions, "edits", lambda d: [rule(d[0])])
    us, tk = regions.s3(US), regions.s3(TOKYO)
    vid = us.put_object(Bucket=src, Key="k", Body=b"body", Tagging="a=1")["VersionId"]
    wait_status(us, src, "k", vid, "COMPLETED")
    assert tags_of(tk, dst, "k", vid) == {"a": "1"}

    us.put_object_tagging(
        Bucket=src, Key="k", VersionId=vid, Tagging={"TagSet": [{"Key": "a", "Value": "2"}, {"Key": "c", "Value": "3"}]}
    )
    wait_until(lambda: tags_of(tk, dst, "k", vid) == {"a": "2", "c": "3"}, what="tag edit in ap-tokyo")

    us.delete_object_tagging(Bucket=src, Key="k", VersionId=vid)
    wait_until(lambda: tags_of(tk, dst, "k", vid) == {}, what="tag removal in ap-tokyo")

    us.put_object_acl(Bucket=src, Key="k", VersionId=vid, ACL="public-read")

    def public_on_replica():
        grants = tk.get_object_acl(Bucket=dst, Key="k", VersionId=vid)["Grants"]
        return any(g["Grantee"].get("URI") == ALL_USERS and g["Permission"] == "READ" for g in grants)

    wait_until(public_on_replica, what="public-read ACL on the replica")
    assert requests.get(f"{regions.endpoint(TOKYO)}/{dst}/k", timeout=5).content == b"body"
    # The edit did not create a new version anywhere.
    regions.wait_in_sync()
    assert versions(tk, dst)[0] == [("k", vid, True)]
    assert versions(us, src)[0] == [("k", vid, True)]


# --------------------------------------------------------------------------- two ways


def test_two_way_replication_exchanges_writes_and_goes_quiet(regions):
    us, tk = regions.s3(US), regions.s3(TOKYO)
    a = regions.make_bucket(US, unique_bucket("twoway-a"))
    b = regions.make_bucket(TOKYO, unique_bucket("twoway-b"))
    regions.wait_in_sync()
    us.put_bucket_replication(
        Bucket=a, ReplicationConfiguration=replication_config(rule(b, delete_markers=True, replica_modifications=True))
    )
    tk.put_bucket_replication(
        Bucket=b, ReplicationConfiguration=replication_config(rule(a, delete_markers=True, replica_modifications=True))
    )
    v1 = us.put_object(Bucket=a, Key="from-us", Body=b"us")["VersionId"]
    v2 = tk.put_object(Bucket=b, Key="from-tokyo", Body=b"tokyo")["VersionId"]
    wait_status(us, a, "from-us", v1, "COMPLETED")
    wait_status(tk, b, "from-tokyo", v2, "COMPLETED")
    assert status_of(tk, b, "from-us", v1) == "REPLICA"
    assert status_of(us, a, "from-tokyo", v2) == "REPLICA"
    settle(regions)
    # Each version exists exactly once in each bucket: replicas were not shipped back.
    want = sorted([("from-tokyo", v2, True), ("from-us", v1, True)])
    assert sorted(versions(us, a)[0]) == want
    assert sorted(versions(tk, b)[0]) == want
    assert status_of(us, a, "from-us", v1) == "COMPLETED"
    assert status_of(tk, b, "from-tokyo", v2) == "COMPLETED"

    # Same key written in both regions at once: both versions everywhere, same latest.
    barrier = threading.Barrier(2)
    out = {}

    def write(region, s3c, bucket):
        barrier.wait()
        out[region] = s3c.put_object(Bucket=bucket, Key="both", Body=region.encode())["VersionId"]

    ts = [
        threading.Thread(target=write, args=(US, regions.s3(US), a)),
        threading.Thread(target=write, args=(TOKYO, regions.s3(TOKYO), b)),
    ]
    [t.start() for t in ts]
    [t.join() for t in ts]
    wait_until(
        lambda: len(versions(us, a, "both")[0]) == 2 and len(versions(tk, b, "both")[0]) == 2,
        what="both versions in both",
    )
    va, vb = versions(us, a, "both")[0], versions(tk, b, "both")[0]
    assert sorted(va) == sorted(vb), (va, vb)
    assert {v for _, v, _ in va} == {out[US], out[TOKYO]}
    latest = [v for _, v, l in va if l]
    assert len(latest) == 1
    assert us.get_object(Bucket=a, Key="both")["Body"].read() == tk.get_object(Bucket=b, Key="both")["Body"].read()

    # An edit of a replica travels back to its source (ReplicaModifications), once.
    tk.put_object_tagging(
        Bucket=b, Key="from-us", VersionId=v1, Tagging={"TagSet": [{"Key": "seen", "Value": "tokyo"}]}
    )
    wait_until(lambda: tags_of(us, a, "from-us", v1) == {"seen": "tokyo"}, what="replica edit back in us-east")
    settle(regions)
    assert sorted(versions(us, a, "from")[0]) == want
    assert sorted(versions(tk, b, "from")[0]) == want


def test_replica_edit_stays_put_without_replica_modifications(regions):
    us, tk = regions.s3(US), regions.s3(TOKYO)
    a = regions.make_bucket(US, unique_bucket("norm-a"))
    b = regions.make_bucket(TOKYO, unique_bucket("norm-b"))
    regions.wait_in_sync()
    us.put_bucket_replication(Bucket=a, ReplicationConfiguration=replication_config(rule(b)))
    tk.put_bucket_replication(
        Bucket=b, ReplicationConfiguration=replication_config(rule(a, replica_modifications=False))
    )
    vid = us.put_object(Bucket=a, Key="k", Body=b"x", Tagging="t=src")["VersionId"]
    wait_status(us, a, "k", vid, "COMPLETED")
    tk.put_object_tagging(Bucket=b, Key="k", VersionId=vid, Tagging={"TagSet": [{"Key": "t", "Value": "replica"}]})
    # A later selected write from tokyo arrives in us-east: the edit (logged before it) did not travel.
    v2 = tk.put_object(Bucket=b, Key="zz", Body=b"later")["VersionId"]
    wait_replica(us, a, "zz", v2)
    regions.wait_in_sync()
    assert tags_of(us, a, "k", vid) == {"t": "src"}
    assert tags_of(tk, b, "k", vid) == {"t": "replica"}


def test_concurrent_tag_edits_in_a_two_way_setup_converge(regions):
    """Both regions edit the tags of the same version (source in us-east, its replica in
    ap-tokyo, ReplicaModifications both ways) while the edits are in flight (links slowed):
    the later edit must win in both regions (last writer wins), not swap places."""
    us, tk = regions.s3(US), regions.s3(TOKYO)
    a = regions.make_bucket(US, unique_bucket("tagrace-a"))
    b = regions.make_bucket(TOKYO, unique_bucket("tagrace-b"))
    regions.wait_in_sync()
    us.put_bucket_replication(
        Bucket=a, ReplicationConfiguration=replication_config(rule(b, replica_modifications=True))
    )
    tk.put_bucket_replication(
        Bucket=b, ReplicationConfiguration=replication_config(rule(a, replica_modifications=True))
    )
    vid = us.put_object(Bucket=a, Key="k", Body=b"x", Tagging="by=nobody")["VersionId"]
    wait_status(us, a, "k", vid, "COMPLETED")
    with regions.slow_links(300):
        us.put_object_tagging(Bucket=a, Key="k", VersionId=vid, Tagging={"TagSet": [{"Key": "by", "Value": "us"}]})
        time.sleep(0.01)  # ap-tokyo's edit is the later one
        tk.put_object_tagging(Bucket=b, Key="k", VersionId=vid, Tagging={"TagSet": [{"Key": "by", "Value": "tokyo"}]})
        regions.wait_in_sync(timeout=10)
    regions.wait_in_sync()
    got = {US: tags_of(us, a, "k", vid), TOKYO: tags_of(tk, b, "k", vid)}
    assert got == {US: {"by": "tokyo"}, TOKYO: {"by": "tokyo"}}, f"tags diverged: {got}"


# --------------------------------------------------------------------------- bucket names


def test_bucket_names_are_unique_across_regions(regions):
    us, tk = regions.s3(US), regions.s3(TOKYO)
    us_bob, tk_bob = regions.s3(US, "bob"), regions.s3(TOKYO, "bob")
    n1 = unique_bucket("uniq-us")
    us.create_bucket(Bucket=n1)
    n2 = unique_bucket("uniq-tk")
    tk_bob.create_bucket(Bucket=n2)
    regions.wait_in_sync()
    with s3_error("BucketAlreadyOwnedByYou", 409):
        tk.create_bucket(Bucket=n1)
    with s3_error("BucketAlreadyExists", 409):
        tk_bob.create_bucket(Bucket=n1)
    with s3_error("BucketAlreadyOwnedByYou", 409):
        us_bob.create_bucket(Bucket=n2)
    with s3_error("BucketAlreadyExists", 409):
        us.create_bucket(Bucket=n2)
    # The refused creations left nothing behind in the refusing region.
    assert n1 not in [b["Name"] for b in tk.list_buckets()["Buckets"]]
    assert n2 not in [b["Name"] for b in us_bob.list_buckets()["Buckets"]]

    # Deleting a bucket releases its name everywhere.
    us.delete_bucket(Bucket=n1)
    regions.wait_in_sync()
    tk_bob.create_bucket(Bucket=n1)
    regions.wait_in_sync()
    with s3_error("BucketAlreadyExists", 409):
        us.create_bucket(Bucket=n1)


# --------------------------------------------------------------------------- the apply endpoint


def signed_apply(regions, region: str, key: Key, *, sign_region: str, origin: str | None, service="tandem-replication"):
    node = regions[region]
    hdrs = {"Host": f"127.0.0.1:{node.port}"}
    if origin is not None:
        hdrs["x-tandem-origin"] = origin
    signed = sigv4_sign("POST", APPLY, [], hdrs, "UNSIGNED-PAYLOAD", key, region=sign_region, service=service)
    return requests.post(node.endpoint + APPLY, headers=signed.headers, data=b"", timeout=10)


REPL_KEY = Key(REPL_KEY_ID, REPL_SECRET, "replication")


def test_apply_endpoint_takes_only_the_replication_credential(regions):
    # Positive control: the replication key, as a peer signs (empty batch) -> accepted.
    ok = signed_apply(regions, US, REPL_KEY, sign_region=TOKYO, origin=TOKYO)
    assert ok.status_code == 200, ok.text
    answer = ok.json()
    assert {k: answer.get(k) for k in ("applied", "stale", "rejected")} == {"applied": 0, "stale": 0, "rejected": []}, answer

    refusals = {
        "admin key, peer scope": signed_apply(regions, US, KEYS["admin"], sign_region=TOKYO, origin=TOKYO),
        "admin key, s3 scope": signed_apply(
            regions, US, KEYS["admin"], sign_region="us-east-1", origin=TOKYO, service="s3"
        ),
        "bob key": signed_apply(regions, TOKYO, KEYS["bob"], sign_region=US, origin=US),
        "unsigned": requests.post(
            regions.endpoint(US) + APPLY, data=b"", headers={"x-tandem-origin": TOKYO}, timeout=10
        ),
        "unsigned with body": requests.post(regions.endpoint(TOKYO) + APPLY, data=b"\x00\x00\x00\x02{}", timeout=10),
        "replication key, origin is itself": signed_apply(regions, US, REPL_KEY, sign_region=US, origin=US),
        "replication key, unknown origin": signed_apply(regions, US, REPL_KEY, sign_region="eu-west", origin="eu-west"),
        "replication key, scope/origin mismatch": signed_apply(
            regions, US, REPL_KEY, sign_region=TOKYO, origin="eu-west"
        ),
        "replication key, wrong service": signed_apply(
            regions, US, REPL_KEY, sign_region=TOKYO, origin=TOKYO, service="s3"
        ),
    }
    bad = {name: (r.status_code, r.text[:200]) for name, r in refusals.items() if r.status_code != 403}
    assert not bad, f"apply accepted or mis-answered: {bad}"


def test_replication_key_opens_no_user_api(regions):
    repl = regions.s3(US, key=REPL_KEY)
    with pytest.raises(ClientError) as ei:
        repl.list_buckets()
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    r = regions[US].request("GET", "/_tandem/replication", key=REPL_KEY)
    assert r.status_code == 403, r.text[:300]


# --------------------------------------------------------------------------- status and metrics


def test_status_json_and_metrics_count_what_shipped(regions):
    src, (dst,) = setup_pair(regions, "stats", lambda d: [rule(d[0])])
    us = regions.s3(US)
    regions.wait_in_sync()
    p0 = regions.peer_status(US, TOKYO)
    a0 = regions.replication_status(TOKYO)["applied_from"].get(US, {"applied": 0, "batches": 0})
    lat0 = regions.metric(TOKYO, "tandem_replication_apply_latency_seconds_count", origin=US)
    sizes = [10, 70_000, 300_000]
    vids = [us.put_object(Bucket=src, Key=f"s{i}", Body=b"z" * n)["VersionId"] for i, n in enumerate(sizes)]
    for i, v in enumerate(vids):
        wait_status(us, src, f"s{i}", v, "COMPLETED")
    regions.wait_in_sync()

    st = regions.replication_status(US)
    assert st["region"] == US
    assert [p["peer"] for p in st["peers"]] == [TOKYO]
    p = st["peers"][0]
    assert p["url"] == regions.proxy(TOKYO).endpoint
    assert p["state"] == "in-sync"
    b = p["backlog"]
    assert (b["changes"], b["bytes"], b["unroutable"], b["truncated"], b["by_resource"]) == (0, 0, 0, False, {})
    assert b["last_seq"] == st["last_seq"]
    # the cursor is past the three shipped versions (it may lag over changes that ship nothing)
    assert p0["backlog"]["last_seq"] + 3 <= b["cursor"] <= b["last_seq"]
    s = p["shipper"]
    assert s["shipped_changes"] - p0["shipper"]["shipped_changes"] == 3
    assert s["shipped_bytes"] - p0["shipper"]["shipped_bytes"] == sum(sizes)
    assert s["consecutive_failures"] == 0
    assert s["last_success_ms"] and s["last_success_ms"] >= (p0["shipper"]["last_success_ms"] or 0)

    t = regions.replication_status(TOKYO)
    assert t["region"] == TOKYO and [q["peer"] for q in t["peers"]] == [US]
    a = t["applied_from"][US]
    assert a["applied"] - a0["applied"] == 3
    assert a["batches"] > a0["batches"]
    assert a["last_apply_ms"]

    # /metrics agrees with the status JSON.
    assert regions.metric(US, "tandem_replication_shipped_changes_total", peer=TOKYO) == s["shipped_changes"]
    assert regions.metric(US, "tandem_replication_shipped_bytes_total", peer=TOKYO) == s["shipped_bytes"]
    assert regions.metric(US, "tandem_replication_failures_total", peer=TOKYO) == s["failures"]
    assert regions.metric(US, "tandem_replication_backlog_changes", peer=TOKYO) == 0
    assert regions.metric(US, "tandem_replication_lag_seconds", peer=TOKYO) == 0
    assert regions.metric(TOKYO, "tandem_replication_applied_changes_total", origin=US) == a["applied"]
    assert regions.metric(TOKYO, "tandem_replication_apply_latency_seconds_count", origin=US) - lat0 == 3


# --------------------------------------------------------------------------- a stopped peer


def stopped_peer_setup(fresh_regions):
    pair = fresh_regions()
    src, (dst,) = setup_pair(pair, "down", lambda d: [rule(d[0])])
    us = pair.s3(US)
    v0 = us.put_object(Bucket=src, Key="before", Body=b"0")["VersionId"]
    wait_status(us, src, "before", v0, "COMPLETED")
    pair.stop(TOKYO)
    return pair, src, dst, us


def test_stopped_peer_fails_then_completes_when_back(fresh_regions):
    pair, src, dst, us = stopped_peer_setup(fresh_regions)
    body = random_bytes(200_000, seed=7)
    vid = us.put_object(Bucket=src, Key="while-down", Body=body)["VersionId"]
    wait_status(us, src, "while-down", vid, "FAILED")
    p = pair.peer_status(US, TOKYO)
    assert p["state"] == "failing", p
    assert p["shipper"]["failures"] > 0 and p["shipper"]["consecutive_failures"] > 0, p["shipper"]
    assert p["shipper"]["last_error"] and p["shipper"]["last_error_ms"], p["shipper"]
    assert p["backlog"]["changes"] >= 1 and p["backlog"]["bytes"] >= len(body), p["backlog"]
    assert pair.metric(US, "tandem_replication_failures_total", peer=TOKYO) > 0

    pair.start(TOKYO)
    wait_status(us, src, "while-down", vid, "COMPLETED", timeout=15)
    tk = pair.s3(TOKYO)
    assert_same_version(us, src, tk, dst, "while-down", vid, body)
    pair.wait_in_sync()
    p = pair.peer_status(US, TOKYO)
    assert p["state"] == "in-sync" and p["shipper"]["consecutive_failures"] == 0, p


def test_every_version_written_while_peer_is_down_shows_failed(fresh_regions):
    pair, src, dst, us = stopped_peer_setup(fresh_regions)
    v1 = us.put_object(Bucket=src, Key="first", Body=b"1")["VersionId"]
    wait_status(us, src, "first", v1, "FAILED")
    # The link is still down: a version written now is just as undeliverable.
    v2 = us.put_object(Bucket=src, Key="second", Body=b"2")["VersionId"]
    tried = pair.peer_status(US, TOKYO)["shipper"]["failures"]
    # Wait for two more failed attempts: at least one of them carried v2.
    wait_until(
        lambda: pair.peer_status(US, TOKYO)["shipper"]["failures"] >= tried + 2,
        timeout=12,
        what="two more failed attempts",
    )
    p = pair.peer_status(US, TOKYO)
    assert p["state"] == "failing" and p["backlog"]["changes"] == 2, p
    assert status_of(us, src, "second", v2) == "FAILED"
    pair.start(TOKYO)
    wait_status(us, src, "second", v2, "COMPLETED", timeout=15)
    wait_status(us, src, "first", v1, "COMPLETED", timeout=15)


def test_source_killed_before_shipping_ships_after_restart(fresh_regions):
    """kill -9 of the source region while versions wait to ship (link cut): the change log
    and the shipper's cursor are durable, so after a restart they ship on their own."""
    pair = fresh_regions(proxies=True)
    src, (dst,) = setup_pair(pair, "kill", lambda d: [rule(d[0])])
    us = pair.s3(US)
    bodies = {f"k{i}": random_bytes(30_000 * i + 1, seed=i) for i in range(3)}
    with pair.partitioned(TOKYO):
        vids = {k: us.put_object(Bucket=src, Key=k, Body=b)["VersionId"] for k, b in bodies.items()}
        wait_status(us, src, "k0", vids["k0"], "FAILED")
        assert pair.peer_status(US, TOKYO)["backlog"]["changes"] == 3
        pair.kill(US)
    pair.start(US)
    us = pair.s3(US)
    for k, vid in vids.items():
        wait_status(us, src, k, vid, "COMPLETED", timeout=15)
    tk = pair.s3(TOKYO)
    for k, vid in vids.items():
        assert_same_version(us, src, tk, dst, k, vid, bodies[k])
    pair.wait_in_sync()
    assert pair.peer_status(US, TOKYO)["shipper"]["shipped_changes"] == 3
