"""Put / Get / Head / Delete / Copy object, ranges, conditionals, DeleteObjects."""

import datetime as dt
import time

import pytest

from e2e_helpers import (
    describe,
    error_code,
    http_status,
    md5_b64,
    md5_hex,
    random_bytes,
    s3_error,
    unique_bucket,
)


def test_put_get_roundtrip_keeps_bytes_content_type_metadata_and_md5_etag(s3, bucket):
    body = random_bytes(70_001, seed=1)
    put = s3.put_object(
        Bucket=bucket,
        Key="dir/file.bin",
        Body=body,
        ContentType="application/x-test",
        Metadata={"color": "blue", "multi-word": "Hello World"},
    )
    assert put["ETag"] == f'"{md5_hex(body)}"'
    got = s3.get_object(Bucket=bucket, Key="dir/file.bin")
    assert got["Body"].read() == body
    assert got["ContentType"] == "application/x-test"
    assert got["ContentLength"] == len(body)
    assert got["ETag"] == f'"{md5_hex(body)}"'
    assert got["Metadata"] == {"color": "blue", "multi-word": "Hello World"}
    assert isinstance(got["LastModified"], dt.datetime)


def test_head_object_returns_size_etag_type_and_metadata_without_body(s3, bucket):
    body = b"head me" * 100
    s3.put_object(Bucket=bucket, Key="h", Body=body, ContentType="text/plain", Metadata={"k": "v"})
    h = s3.head_object(Bucket=bucket, Key="h")
    assert h["ContentLength"] == len(body)
    assert h["ETag"] == f'"{md5_hex(body)}"'
    assert h["ContentType"] == "text/plain"
    assert h["Metadata"] == {"k": "v"}
    assert h["AcceptRanges"] == "bytes"


def test_standard_headers_cache_control_disposition_encoding_are_stored(s3, bucket):
    s3.put_object(
        Bucket=bucket,
        Key="hdrs",
        Body=b"abc",
        CacheControl="max-age=60",
        ContentDisposition='attachment; filename="x.txt"',
        ContentEncoding="identity",
        ContentLanguage="en",
    )
    h = s3.head_object(Bucket=bucket, Key="hdrs")
    assert h["CacheControl"] == "max-age=60"
    assert h["ContentDisposition"] == 'attachment; filename="x.txt"'
    assert h["ContentEncoding"] == "identity"
    assert h["ContentLanguage"] == "en"


def test_empty_object_has_md5_of_empty_string(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    assert put["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["ContentLength"] == 0
    assert got["Body"].read() == b""


def test_overwrite_replaces_content_and_metadata(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"first", Metadata={"a": "1"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"second!", Metadata={"b": "2"})
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"second!"
    assert got["Metadata"] == {"b": "2"}


@pytest.mark.parametrize(
    "key",
    [
        "with space.txt",
        "plus+sign",
        "percent%20literal",
        "unicode-ünï©ødé-日本",
        "deep/nested/path/to/obj",
        "special!-_.*'()&$@=;:,?",
        "tilde~and#hash",
        "trailing/",
    ],
)
def test_keys_with_special_characters_roundtrip(s3, bucket, key):
    body = key.encode() * 3
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert key in listed


def test_get_missing_key_is_no_such_key(s3, bucket):
    with s3_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="nope")


def test_head_missing_key_is_404(s3, bucket):
    with http_status(404):
        s3.head_object(Bucket=bucket, Key="nope")


def test_delete_object_removes_it_and_is_idempotent(s3, bucket):
    s3.put_object(Bucket=bucket, Key="gone", Body=b"x")
    assert s3.delete_object(Bucket=bucket, Key="gone")["ResponseMetadata"]["HTTPStatusCode"] == 204
    with s3_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="gone")
    # deleting a key that does not exist is still 204
    assert s3.delete_object(Bucket=bucket, Key="gone")["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_large_single_put_roundtrip(s3, bucket):
    body = random_bytes(6 * 1024 * 1024 + 17, seed=2)
    put = s3.put_object(Bucket=bucket, Key="big", Body=body)
    assert put["ETag"] == f'"{md5_hex(body)}"'
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == body


def test_correct_content_md5_is_accepted_and_wrong_one_is_bad_digest(s3, bucket):
    body = b"integrity"
    s3.put_object(Bucket=bucket, Key="ok", Body=body, ContentMD5=md5_b64(body))
    assert s3.get_object(Bucket=bucket, Key="ok")["Body"].read() == body
    with s3_error("BadDigest", 400):
        s3.put_object(Bucket=bucket, Key="bad", Body=body, ContentMD5=md5_b64(b"other"))
    with s3_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="bad")


def test_malformed_content_md5_is_invalid_digest(node, bucket):
    r = node.request("PUT", f"/{bucket}/k", body=b"abc", headers={"Content-MD5": "not-base64-md5"})
    assert r.status_code == 400, describe(r)
    assert error_code(r) == "InvalidDigest", describe(r)


# ---------------------------------------------------------------- ranges

RANGE_BODY = bytes(range(256)) * 4  # 1024 bytes


@pytest.fixture
def ranged(s3, bucket):
    s3.put_object(Bucket=bucket, Key="r", Body=RANGE_BODY)
    return bucket


@pytest.mark.parametrize(
    "header,start,end",
    [
        ("bytes=0-9", 0, 9),
        ("bytes=100-199", 100, 199),
        ("bytes=1000-", 1000, 1023),
        ("bytes=-24", 1000, 1023),
        ("bytes=1020-5000", 1020, 1023),
        ("bytes=0-0", 0, 0),
    ],
)
def test_range_get_returns_206_with_exact_slice_and_content_range(s3, ranged, header, start, end):
    got = s3.get_object(Bucket=ranged, Key="r", Range=header)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["Body"].read() == RANGE_BODY[start : end + 1]
    assert got["ContentRange"] == f"bytes {start}-{end}/1024"
    assert got["ContentLength"] == end - start + 1


def test_unsatisfiable_range_is_invalid_range_416(s3, ranged):
    with s3_error("InvalidRange", 416):
        s3.get_object(Bucket=ranged, Key="r", Range="bytes=1024-2000")
    with s3_error("InvalidRange", 416):
        s3.get_object(Bucket=ranged, Key="r", Range="bytes=5000-")


def test_range_head_reports_partial_length(s3, ranged):
    h = s3.head_object(Bucket=ranged, Key="r", Range="bytes=10-19")
    assert h["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert h["ContentLength"] == 10
    assert h["ContentRange"] == "bytes 10-19/1024"


# ---------------------------------------------------------------- conditionals


@pytest.fixture
def cond(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="c", Body=b"conditional")
    lm = s3.head_object(Bucket=bucket, Key="c")["LastModified"]
    return bucket, put["ETag"], lm


def test_if_match_with_current_etag_returns_object(s3, cond):
    bucket, etag, _ = cond
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"conditional"


def test_if_match_with_other_etag_is_precondition_failed(s3, cond):
    bucket, _, _ = cond
    with s3_error("PreconditionFailed", 412):
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"0123456789abcdef0123456789abcdef"')
    with http_status(412):
        s3.head_object(Bucket=bucket, Key="c", IfMatch='"0123456789abcdef0123456789abcdef"')


def test_if_none_match_with_current_etag_is_304_not_modified(s3, cond):
    bucket, etag, _ = cond
    with http_status(304):
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    with http_status(304):
        s3.head_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    got = s3.get_object(Bucket=bucket, Key="c", IfNoneMatch='"0123456789abcdef0123456789abcdef"')
    assert got["Body"].read() == b"conditional"


def test_if_modified_since_after_last_modified_is_304(s3, cond):
    bucket, _, lm = cond
    with http_status(304):
        s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=lm + dt.timedelta(hours=1))
    got = s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=lm - dt.timedelta(hours=1))
    assert got["Body"].read() == b"conditional"


def test_if_unmodified_since_before_last_modified_is_precondition_failed(s3, cond):
    bucket, _, lm = cond
    with s3_error("PreconditionFailed", 412):
        s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=lm - dt.timedelta(hours=1))
    got = s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=lm + dt.timedelta(hours=1))
    assert got["Body"].read() == b"conditional"


def test_conditional_put_if_none_match_star_refuses_existing_key(s3, bucket):
    s3.put_object(Bucket=bucket, Key="once", Body=b"first", IfNoneMatch="*")
    with s3_error("PreconditionFailed", 412):
        s3.put_object(Bucket=bucket, Key="once", Body=b"second", IfNoneMatch="*")
    assert s3.get_object(Bucket=bucket, Key="once")["Body"].read() == b"first"


# ---------------------------------------------------------------- copy


def test_copy_object_same_bucket_copies_bytes_etag_and_metadata(s3, bucket):
    body = random_bytes(10_000, seed=3)
    s3.put_object(Bucket=bucket, Key="src", Body=body, ContentType="image/png", Metadata={"m": "1"})
    r = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert r["CopyObjectResult"]["ETag"] == f'"{md5_hex(body)}"'
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == body
    assert got["ContentType"] == "image/png"
    assert got["Metadata"] == {"m": "1"}


def test_copy_object_across_buckets_with_replace_directive(s3, bucket):
    other = unique_bucket("copydst")
    s3.create_bucket(Bucket=other)
    s3.put_object(Bucket=bucket, Key="src key", Body=b"payload", Metadata={"old": "x"})
    s3.copy_object(
        Bucket=other,
        Key="copied",
        CopySource={"Bucket": bucket, "Key": "src key"},
        MetadataDirective="REPLACE",
        Metadata={"new": "y"},
        ContentType="text/x-new",
    )
    got = s3.get_object(Bucket=other, Key="copied")
    assert got["Body"].read() == b"payload"
    assert got["Metadata"] == {"new": "y"}
    assert got["ContentType"] == "text/x-new"
    # source untouched
    assert s3.get_object(Bucket=bucket, Key="src key")["Metadata"] == {"old": "x"}


def test_copy_from_missing_source_is_no_such_key(s3, bucket):
    with s3_error("NoSuchKey", 404):
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "missing"})


def test_copy_source_if_match_mismatch_is_precondition_failed(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"abc")
    with s3_error("PreconditionFailed", 412):
        s3.copy_object(
            Bucket=bucket,
            Key="dst",
            CopySource={"Bucket": bucket, "Key": "src"},
            CopySourceIfMatch='"0123456789abcdef0123456789abcdef"',
        )


# ---------------------------------------------------------------- DeleteObjects


def test_delete_objects_batch_deletes_listed_keys_only(s3, bucket):
    for i in range(6):
        s3.put_object(Bucket=bucket, Key=f"k{i}", Body=b"x")
    r = s3.delete_objects(
        Bucket=bucket,
        Delete={"Objects": [{"Key": "k0"}, {"Key": "k2"}, {"Key": "k4"}, {"Key": "never-existed"}]},
    )
    deleted = sorted(d["Key"] for d in r.get("Deleted", []))
    assert deleted == ["k0", "k2", "k4", "never-existed"]
    assert r.get("Errors", []) == []
    remaining = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert remaining == ["k1", "k3", "k5"]


def test_delete_objects_quiet_mode_reports_nothing(s3, bucket):
    for i in range(3):
        s3.put_object(Bucket=bucket, Key=f"q{i}", Body=b"x")
    r = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": f"q{i}"} for i in range(3)], "Quiet": True}
    )
    assert r.get("Deleted", []) == []
    assert r.get("Errors", []) == []
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_delete_objects_with_malformed_xml_is_malformed_xml(node, bucket):
    body = b"<Delete><Object><Key>a</Key></Object"
    r = node.request("POST", f"/{bucket}", query=[("delete", "")], body=body,
                     headers={"Content-MD5": md5_b64(body)})
    assert r.status_code == 400, describe(r)
    assert error_code(r) == "MalformedXML", describe(r)


# ---------------------------------------------------------------- size limit


def test_single_put_over_5gib_is_entity_too_large_before_body_is_read(node, s3, bucket):
    from e2e_helpers import KEYS, raw_http, sigv4_sign

    size = 5 * 1024**3 + 1
    host = f"127.0.0.1:{node.port}"
    signed = sigv4_sign(
        "PUT", f"/{bucket}/huge", [], {"Host": host, "Content-Length": str(size)}, "UNSIGNED-PAYLOAD", KEYS["admin"]
    )
    head = f"PUT /{bucket}/huge HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in signed.headers.items()) + "\r\n"
    # only 64 KiB of the announced 5 GiB + 1 are ever sent
    status, headers, body = raw_http(node.port, head.encode(), b"\0" * 65536, timeout=20)
    assert status == 400, (status, body[:300])
    assert b"<Code>EntityTooLarge</Code>" in body, body[:300]
    with s3_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="huge")


# ---------------------------------------------------------------- atomicity


def test_concurrent_overwrites_and_reads_never_see_torn_objects(node, bucket):
    import threading

    bodies = [bytes([i]) * (150_000 + i * 1000) for i in range(8)]
    valid = {md5_hex(b): len(b) for b in bodies}
    problems = []
    stop = threading.Event()

    def write(i):
        c = node.client()
        for _ in range(6):
            c.put_object(Bucket=bucket, Key="contended", Body=bodies[i])

    def read():
        c = node.client()
        while not stop.is_set():
            try:
                got = c.get_object(Bucket=bucket, Key="contended")
            except Exception as e:  # NoSuchKey before the first write lands
                if "NoSuchKey" not in str(e):
                    problems.append(repr(e))
                continue
            data = got["Body"].read()
            if valid.get(md5_hex(data)) != len(data) or got["ETag"] != f'"{md5_hex(data)}"':
                problems.append(f"torn read: {len(data)} bytes, etag {got['ETag']}")

    readers = [threading.Thread(target=read) for _ in range(3)]
    writers = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join(timeout=120)
    stop.set()
    for t in readers:
        t.join(timeout=60)
    assert problems == [], problems[:5]
    final = node.client().get_object(Bucket=bucket, Key="contended")["Body"].read()
    assert md5_hex(final) in valid


def test_a_put_after_a_zero_byte_put_on_the_same_connection_is_answered(node, bucket):
    """boto3 sends `Expect: 100-continue` with a zero-byte PutObject; hyper sends no 100
    Continue for an empty body, and botocore would then misread the next answer on that
    connection and hang until its read timeout. The node writes the 100 Continue itself
    (as S3 does), so every PUT on the connection gets its answer in time."""
    s3 = node.client(read_timeout=5)
    for i, size in enumerate([0, 443, 0, 0, 70_000, 0, 10]):
        t = time.monotonic()
        s3.put_object(Bucket=bucket, Key=f"z{i}", Body=b"x" * size)
        assert time.monotonic() - t < 3, f"PUT of {size} bytes after a zero-byte PUT took {time.monotonic() - t:.1f} s"
        assert s3.head_object(Bucket=bucket, Key=f"z{i}")["ContentLength"] == size
