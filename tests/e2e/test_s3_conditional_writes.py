"""Conditional writes (If-Match / If-None-Match on PutObject and CompleteMultipartUpload),
idempotent CompleteMultipartUpload, `Expect: 100-continue` on bodyless requests, and the
RequestId/HostId of error bodies, as S3 answers them."""

from __future__ import annotations

import socket
import threading
import time

from botocore.exceptions import ClientError

from e2e_helpers import md5_hex, parse_xml, random_bytes, s3_error, sigv4_sign, sha256_hex

MIB = 1024 * 1024


def test_put_with_if_none_match_star_creates_once_then_412(s3, bucket):
    r = s3.put_object(Bucket=bucket, Key="once", Body=b"first", IfNoneMatch="*")
    assert r["ETag"] == f'"{md5_hex(b"first")}"'
    with s3_error("PreconditionFailed", 412):
        s3.put_object(Bucket=bucket, Key="once", Body=b"second", IfNoneMatch="*")
    assert s3.get_object(Bucket=bucket, Key="once")["Body"].read() == b"first"


def test_put_with_if_match_replaces_only_the_matching_etag(s3, bucket):
    first = s3.put_object(Bucket=bucket, Key="cas", Body=b"v1")["ETag"]
    with s3_error("PreconditionFailed", 412):
        s3.put_object(Bucket=bucket, Key="cas", Body=b"v2", IfMatch='"00000000000000000000000000000000"')
    assert s3.get_object(Bucket=bucket, Key="cas")["Body"].read() == b"v1"
    s3.put_object(Bucket=bucket, Key="cas", Body=b"v2", IfMatch=first)
    assert s3.get_object(Bucket=bucket, Key="cas")["Body"].read() == b"v2"


def test_put_with_if_match_on_a_missing_key_is_404_no_such_key(s3, bucket):
    with s3_error("NoSuchKey", 404):
        s3.put_object(Bucket=bucket, Key="absent", Body=b"x", IfMatch='"abc"')
    s3.put_object(Bucket=bucket, Key="gone", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="gone")
    with s3_error("NoSuchKey", 404):
        s3.put_object(Bucket=bucket, Key="gone", Body=b"x", IfMatch="*")


def test_put_with_an_etag_in_if_none_match_is_not_implemented(node, bucket):
    r = node.request("PUT", f"/{bucket}/k", headers={"If-None-Match": '"abc"'}, body=b"x")
    assert r.status_code == 501, r.text
    assert parse_xml(r.content).findtext("Code") == "NotImplemented"


def test_concurrent_if_none_match_puts_of_one_key_let_exactly_one_win(node, bucket):
    results: list[str] = []
    lock = threading.Lock()

    def put(i: int) -> None:
        c = node.client()
        try:
            c.put_object(Bucket=bucket, Key="race", Body=f"writer-{i}".encode(), IfNoneMatch="*")
            outcome = f"won-{i}"
        except ClientError as e:
            outcome = e.response["Error"]["Code"]
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    winners = [r for r in results if r.startswith("won-")]
    assert len(results) == 8 and len(winners) == 1, results
    assert set(results) - set(winners) <= {"PreconditionFailed"}, results
    body = node.client().get_object(Bucket=bucket, Key="race")["Body"].read()
    assert body == f"writer-{winners[0][4:]}".encode()


def _upload(s3, bucket, key, parts):
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    done = [
        {"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=n, Body=p)["ETag"]}
        for n, p in enumerate(parts, start=1)
    ]
    return uid, done


def test_complete_with_if_none_match_star_on_an_existing_key_is_412(s3, bucket):
    s3.put_object(Bucket=bucket, Key="mp", Body=b"there")
    uid, done = _upload(s3, bucket, "mp", [b"new"])
    with s3_error("PreconditionFailed", 412):
        s3.complete_multipart_upload(
            Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": done}, IfNoneMatch="*"
        )
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"there"
    # The upload is still there: completing without the condition works.
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": done})
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"new"


def test_complete_with_if_match_needs_the_current_etag(s3, bucket):
    cur = s3.put_object(Bucket=bucket, Key="mpm", Body=b"old")["ETag"]
    uid, done = _upload(s3, bucket, "mpm", [b"newer"])
    with s3_error("PreconditionFailed", 412):
        s3.complete_multipart_upload(
            Bucket=bucket, Key="mpm", UploadId=uid, MultipartUpload={"Parts": done}, IfMatch='"ffff"'
        )
    s3.complete_multipart_upload(Bucket=bucket, Key="mpm", UploadId=uid, MultipartUpload={"Parts": done}, IfMatch=cur)
    assert s3.get_object(Bucket=bucket, Key="mpm")["Body"].read() == b"newer"


def test_completing_the_same_upload_again_answers_200_with_the_same_etag(s3, bucket):
    parts = [random_bytes(5 * MIB, seed=1), b"tail"]
    uid, done = _upload(s3, bucket, "again", parts)
    first = s3.complete_multipart_upload(Bucket=bucket, Key="again", UploadId=uid, MultipartUpload={"Parts": done})
    second = s3.complete_multipart_upload(Bucket=bucket, Key="again", UploadId=uid, MultipartUpload={"Parts": done})
    assert second["ETag"] == first["ETag"] and second["Key"] == "again"
    assert s3.get_object(Bucket=bucket, Key="again")["Body"].read() == b"".join(parts)
    # Other parts, or another key, are not the same completion.
    with s3_error("NoSuchUpload", 404):
        s3.complete_multipart_upload(Bucket=bucket, Key="again", UploadId=uid, MultipartUpload={"Parts": done[:1]})
    with s3_error("NoSuchUpload", 404):
        s3.complete_multipart_upload(Bucket=bucket, Key="other", UploadId=uid, MultipartUpload={"Parts": done})


def test_resending_a_part_before_completion_replaces_it(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="resend")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="resend", UploadId=uid, PartNumber=1, Body=b"first try")
    e = s3.upload_part(Bucket=bucket, Key="resend", UploadId=uid, PartNumber=1, Body=b"second")["ETag"]
    parts = s3.list_parts(Bucket=bucket, Key="resend", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [(1, e, 6)]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="resend", UploadId=uid, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]}
    )
    assert s3.get_object(Bucket=bucket, Key="resend")["Body"].read() == b"second"


def _signed_head(node, method: str, path: str, extra: dict[str, str]) -> bytes:
    hdrs = {"Host": f"127.0.0.1:{node.port}", **extra}
    from e2e_helpers import KEYS

    signed = sigv4_sign(method, path, [], hdrs, sha256_hex(b""), KEYS["admin"]).headers
    lines = [f"{method} {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in signed.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_until(sock: socket.socket, marker: bytes, have: bytes, timeout: float = 10) -> bytes:
    deadline = time.monotonic() + timeout
    while marker not in have:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {marker!r} in {have!r}")
        chunk = sock.recv(65536)
        if not chunk:
            break
        have += chunk
    return have


def test_a_bodyless_request_expecting_100_continue_gets_it_and_keeps_the_connection(node, bucket):
    put = _signed_head(
        node, "PUT", f"/{bucket}/empty", {"Content-Length": "0", "Expect": "100-continue"}
    )
    with socket.create_connection(("127.0.0.1", node.port), timeout=10) as sock:
        sock.sendall(put)
        got = _read_until(sock, b"\r\n\r\n", b"")
        assert got.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), got[:200]
        got = _read_until(sock, b"\r\n\r\n", got[len(b"HTTP/1.1 100 Continue\r\n\r\n") :])
        assert got.startswith(b"HTTP/1.1 200"), got[:300]
        assert b"connection: close" not in got.lower()
        # The same connection serves the next request.
        sock.sendall(_signed_head(node, "HEAD", f"/{bucket}/empty", {}))
        rest = got.split(b"\r\n\r\n", 1)[1]
        nxt = _read_until(sock, b"\r\n\r\n", rest)
        assert nxt.startswith(b"HTTP/1.1 200"), nxt[:300]
        assert b"content-length: 0" in nxt.lower()


def test_zero_byte_puts_with_boto3_do_not_stall_the_connection(node, bucket):
    s3 = node.client(read_timeout=5)
    for i, size in enumerate([0, 443, 0, 0, 70_000, 0]):
        t = time.monotonic()
        s3.put_object(Bucket=bucket, Key=f"z{i}", Body=b"x" * size)
        assert time.monotonic() - t < 3, f"PUT of {size} bytes took {time.monotonic() - t:.1f} s"


def test_error_bodies_carry_the_request_id_of_their_header_and_a_host_id(node, s3, bucket):
    r = node.request("GET", f"/{bucket}/missing")
    assert r.status_code == 404
    root = parse_xml(r.content)
    assert root.findtext("Code") == "NoSuchKey"
    assert root.findtext("RequestId") == r.headers["x-amz-request-id"] != ""
    assert root.findtext("HostId") == r.headers["x-amz-id-2"] != ""
    # Anonymous requests' errors carry them too, each with its own id.
    r2 = node.request("GET", "/no-such-bucket-anywhere/k", principal=None)
    assert parse_xml(r2.content).findtext("RequestId") == r2.headers["x-amz-request-id"]
    assert r2.headers["x-amz-request-id"] != r.headers["x-amz-request-id"]
    # boto3 reads them into its error metadata.
    try:
        s3.get_object(Bucket=bucket, Key="missing")
    except ClientError as e:
        meta = e.response["ResponseMetadata"]
        assert meta["RequestId"] and meta["HostId"]
    else:
        raise AssertionError("GET of a missing key succeeded")
