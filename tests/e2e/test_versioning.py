"""Bucket versioning: Enabled/Suspended, version ids, delete markers, ListObjectVersions."""

from e2e_helpers import describe, error_code, http_status, md5_hex, s3_error


def enable(s3, bucket, status="Enabled"):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})


def versions(s3, bucket, **kw):
    r = s3.list_object_versions(Bucket=bucket, **kw)
    return r.get("Versions", []), r.get("DeleteMarkers", [])


def test_new_bucket_has_no_versioning_status(s3, bucket):
    r = s3.get_bucket_versioning(Bucket=bucket)
    assert "Status" not in r


def test_put_get_bucket_versioning_enabled_then_suspended(s3, bucket):
    enable(s3, bucket)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    enable(s3, bucket, "Suspended")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"


def test_each_put_gets_a_distinct_version_id_and_old_versions_stay_readable(s3, bucket):
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="doc", Body=b"version one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="doc", Body=b"version two")["VersionId"]
    assert v1 and v2 and v1 != v2 and "null" not in (v1, v2)
    cur = s3.get_object(Bucket=bucket, Key="doc")
    assert cur["Body"].read() == b"version two"
    assert cur["VersionId"] == v2
    old = s3.get_object(Bucket=bucket, Key="doc", VersionId=v1)
    assert old["Body"].read() == b"version one"
    assert old["VersionId"] == v1
    h = s3.head_object(Bucket=bucket, Key="doc", VersionId=v1)
    assert h["ContentLength"] == len(b"version one")
    assert h["ETag"] == f'"{md5_hex(b"version one")}"'


def test_list_object_versions_orders_newest_first_and_marks_latest(s3, bucket):
    enable(s3, bucket)
    ids = [s3.put_object(Bucket=bucket, Key="a", Body=f"a{i}".encode())["VersionId"] for i in range(3)]
    b1 = s3.put_object(Bucket=bucket, Key="b", Body=b"b0")["VersionId"]
    vs, dms = versions(s3, bucket)
    assert dms == []
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in vs] == [
        ("a", ids[2], True),
        ("a", ids[1], False),
        ("a", ids[0], False),
        ("b", b1, True),
    ]
    assert [v["ETag"] for v in vs[:3]] == [f'"{md5_hex(f"a{i}".encode())}"' for i in (2, 1, 0)]
    vs, _ = versions(s3, bucket, Prefix="b")
    assert [v["VersionId"] for v in vs] == [b1]


def test_list_object_versions_paginates_with_key_and_version_markers(s3, bucket):
    enable(s3, bucket)
    expected = []
    for k in ("p", "q"):
        ids = [s3.put_object(Bucket=bucket, Key=k, Body=b"x")["VersionId"] for _ in range(3)]
        expected += [(k, i) for i in reversed(ids)]
    got, kw = [], {}
    for _ in range(10):
        r = s3.list_object_versions(Bucket=bucket, MaxKeys=2, **kw)
        got += [(v["Key"], v["VersionId"]) for v in r.get("Versions", [])]
        if not r["IsTruncated"]:
            break
        kw = {"KeyMarker": r["NextKeyMarker"], "VersionIdMarker": r["NextVersionIdMarker"]}
    assert got == expected


def test_delete_marker_hides_object_but_versions_remain(s3, bucket):
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"kept")["VersionId"]
    d = s3.delete_object(Bucket=bucket, Key="k")
    assert d["DeleteMarker"] is True
    marker_id = d["VersionId"]
    assert marker_id and marker_id != v1
    with s3_error("NoSuchKey", 404) as ei:
        s3.get_object(Bucket=bucket, Key="k")
    assert ei.value.response["ResponseMetadata"]["HTTPHeaders"].get("x-amz-delete-marker") == "true"
    with http_status(404):
        s3.head_object(Bucket=bucket, Key="k")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    vs, dms = versions(s3, bucket)
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in vs] == [("k", v1, False)]
    assert [(m["Key"], m["VersionId"], m["IsLatest"]) for m in dms] == [("k", marker_id, True)]
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=v1)["Body"].read() == b"kept"


def test_deleting_the_delete_marker_restores_the_object(s3, bucket):
    enable(s3, bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"back again")
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    r = s3.delete_object(Bucket=bucket, Key="k", VersionId=marker)
    assert r["VersionId"] == marker
    assert r.get("DeleteMarker") is True
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"back again"
    _, dms = versions(s3, bucket)
    assert dms == []


def test_delete_specific_version_removes_it_permanently(s3, bucket):
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    r = s3.delete_object(Bucket=bucket, Key="k", VersionId=v2)
    assert r["VersionId"] == v2
    assert not r.get("DeleteMarker")
    cur = s3.get_object(Bucket=bucket, Key="k")
    assert cur["Body"].read() == b"one" and cur["VersionId"] == v1
    vs, dms = versions(s3, bucket)
    assert [(v["VersionId"], v["IsLatest"]) for v in vs] == [(v1, True)]
    assert dms == []


def test_get_head_of_deleted_version_id_is_no_such_version(s3, bucket):
    enable(s3, bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"stay")
    gone = s3.put_object(Bucket=bucket, Key="k", Body=b"go")["VersionId"]
    s3.delete_object(Bucket=bucket, Key="k", VersionId=gone)
    with s3_error("NoSuchVersion", 404):
        s3.get_object(Bucket=bucket, Key="k", VersionId=gone)
    with http_status(404):
        s3.head_object(Bucket=bucket, Key="k", VersionId=gone)


def test_version_id_from_another_key_is_no_such_version(s3, bucket):
    enable(s3, bucket)
    s3.put_object(Bucket=bucket, Key="x", Body=b"x")
    other = s3.put_object(Bucket=bucket, Key="y", Body=b"y")["VersionId"]
    with s3_error("NoSuchVersion", 404):
        s3.get_object(Bucket=bucket, Key="x", VersionId=other)


def test_suspended_versioning_writes_null_version_and_keeps_older_versions(s3, bucket):
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"versioned")["VersionId"]
    enable(s3, bucket, "Suspended")
    s3.put_object(Bucket=bucket, Key="k", Body=b"null-1")
    s3.put_object(Bucket=bucket, Key="k", Body=b"null-2")  # overwrites the null version
    vs, _ = versions(s3, bucket)
    assert [(v["VersionId"], v["IsLatest"]) for v in vs] == [("null", True), (v1, False)]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"null-2"
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"null-2"
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=v1)["Body"].read() == b"versioned"


def test_suspended_delete_creates_null_delete_marker(s3, bucket):
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"v1")["VersionId"]
    enable(s3, bucket, "Suspended")
    d = s3.delete_object(Bucket=bucket, Key="k")
    assert d["DeleteMarker"] is True
    assert d["VersionId"] == "null"
    vs, dms = versions(s3, bucket)
    assert [(m["VersionId"], m["IsLatest"]) for m in dms] == [("null", True)]
    assert [v["VersionId"] for v in vs] == [v1]


def test_unversioned_bucket_lists_single_null_version(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"a")
    s3.put_object(Bucket=bucket, Key="k", Body=b"b")
    vs, dms = versions(s3, bucket)
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in vs] == [("k", "null", True)]
    assert dms == []


def test_delete_objects_with_version_ids_in_versioned_bucket(s3, bucket):
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="a", Body=b"1")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="a", Body=b"2")["VersionId"]
    s3.put_object(Bucket=bucket, Key="b", Body=b"b")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a", "VersionId": v2}, {"Key": "b"}]})
    deleted = {d["Key"]: d for d in r["Deleted"]}
    assert deleted["a"]["VersionId"] == v2
    assert deleted["b"]["DeleteMarker"] is True and deleted["b"]["DeleteMarkerVersionId"]
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"1"
    assert s3.get_object(Bucket=bucket, Key="a")["VersionId"] == v1
    with s3_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="b")


def test_copy_from_specific_source_version(s3, bucket):
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="src", Body=b"old body")["VersionId"]
    s3.put_object(Bucket=bucket, Key="src", Body=b"new body")
    r = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src", "VersionId": v1})
    assert r.get("CopySourceVersionId") == v1
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"old body"


def test_malformed_versioning_xml_is_malformed_xml(node, bucket):
    r = node.request("PUT", f"/{bucket}", query=[("versioning", "")], body=b"<VersioningConfiguration><Status>Enabled")
    assert r.status_code == 400, describe(r)
    assert error_code(r) == "MalformedXML", describe(r)


def test_versioning_on_missing_bucket_is_no_such_bucket(s3):
    with s3_error("NoSuchBucket", 404):
        s3.get_bucket_versioning(Bucket="t-versioning-missing-000001")
