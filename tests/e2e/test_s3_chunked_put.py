"""Header-signed PutObject and UploadPart sent with `Transfer-Encoding: chunked` and no
`Content-Length` (what HTTP clients do with a body of unknown length): accepted with
an UNSIGNED-PAYLOAD or hex SHA-256 payload hash, and as aws-chunked
(STREAMING-AWS4-HMAC-SHA256-PAYLOAD with x-amz-decoded-content-length); the stored
bytes are the ones sent and the ETag is their MD5. A wrong hash or signature stores
nothing; a body that stalls is cut by the body-progress timeout (400 RequestTimeout)."""

from __future__ import annotations

import time

import pytest
import requests

from e2e_helpers import (
    KEYS,
    Node,
    encode_signed_chunks,
    md5_hex,
    parse_xml,
    random_bytes,
    raw_http,
    sha256_hex,
    sigv4_sign,
    split_chunks,
    unique_bucket,
    xml_error,
)

PROGRESS = 2.0


def chunked_put(node, path: str, data: bytes, payload_hash: str, query=None, extra: dict | None = None, key=None,
                piece: int = 1000, body: bytes | None = None) -> requests.Response:
    """A signed PUT whose body goes out in pieces (requests sends Transfer-Encoding: chunked)."""
    query = query or []
    headers = {"Host": f"127.0.0.1:{node.port}", **(extra or {})}
    signed = sigv4_sign("PUT", path, query, headers, payload_hash, key or KEYS["admin"])
    wire = data if body is None else body
    url = node.endpoint + path + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else "")
    return requests.put(url, headers=signed.headers, data=iter(split_chunks(wire, piece) or [b""]), timeout=60)


def code_of(r: requests.Response) -> str | None:
    return parse_xml(r.content).findtext("Code")


def assert_stored(s3, bucket: str, key: str, data: bytes, r: requests.Response):
    assert r.status_code == 200, r.text
    assert r.headers["ETag"].strip('"') == md5_hex(data)
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == data
    assert got["ETag"].strip('"') == md5_hex(data) and got["ContentLength"] == len(data)


def test_an_unsigned_payload_put_without_content_length_is_stored(node, s3, bucket):
    data = b"streamed without a length"
    r = chunked_put(node, f"/{bucket}/unsigned", data, "UNSIGNED-PAYLOAD", piece=5)
    assert "Content-Length" not in r.request.headers and r.request.headers["Transfer-Encoding"] == "chunked"
    assert_stored(s3, bucket, "unsigned", data, r)


def test_a_hashed_payload_put_without_content_length_is_stored(node, s3, bucket):
    data = random_bytes(3 * 1024 * 1024 + 17, seed=1)  # past the in-memory part: spooled to a file
    r = chunked_put(node, f"/{bucket}/hashed", data, sha256_hex(data), piece=256 * 1024)
    assert_stored(s3, bucket, "hashed", data, r)


def test_an_empty_chunked_put_is_an_empty_object(node, s3, bucket):
    r = chunked_put(node, f"/{bucket}/empty", b"", sha256_hex(b""))
    assert_stored(s3, bucket, "empty", b"", r)


def test_a_chunked_put_whose_hash_does_not_match_stores_nothing(node, s3, bucket):
    r = chunked_put(node, f"/{bucket}/liar", b"what was sent", sha256_hex(b"something else"))
    assert (r.status_code, code_of(r)) == (400, "XAmzContentSHA256Mismatch"), r.text
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_a_chunked_put_with_a_bad_signature_is_403_and_stores_nothing(node, s3, bucket):
    from e2e_helpers import Key

    forged = Key(KEYS["admin"].access_key_id, "not-the-secret", "admin")
    r = chunked_put(node, f"/{bucket}/forged", b"x" * 100, "UNSIGNED-PAYLOAD", key=forged)
    assert (r.status_code, code_of(r)) == (403, "SignatureDoesNotMatch"), r.text
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_an_upload_part_without_content_length_is_stored(node, s3, bucket):
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    first = random_bytes(5 * 1024 * 1024, seed=2)
    last = b"tail"
    etags = []
    for number, (data, hash_) in enumerate([(first, "UNSIGNED-PAYLOAD"), (last, sha256_hex(last))], start=1):
        q = [("partNumber", str(number)), ("uploadId", upload)]
        r = chunked_put(node, f"/{bucket}/mp", data, hash_, query=q, piece=512 * 1024)
        assert r.status_code == 200, r.text
        assert r.headers["ETag"].strip('"') == md5_hex(data)
        etags.append(r.headers["ETag"])
    parts = [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": parts})
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == first + last


def test_aws_chunked_sent_with_transfer_encoding_chunked_is_stored(node, s3, bucket):
    data = random_bytes(200_000, seed=3)
    path = f"/{bucket}/aws-chunked"
    headers = {
        "Host": f"127.0.0.1:{node.port}",
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(data)),
    }
    signed = sigv4_sign("PUT", path, [], headers, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", KEYS["admin"])
    wire = encode_signed_chunks(signed, data, 64 * 1024)
    r = requests.put(node.endpoint + path, headers=signed.headers, data=iter(split_chunks(wire, 10_000)), timeout=60)
    assert "Content-Length" not in r.request.headers
    assert_stored(s3, bucket, "aws-chunked", data, r)
    assert "ContentEncoding" not in s3.head_object(Bucket=bucket, Key="aws-chunked")


@pytest.fixture(scope="module")
def impatient(tandem_bin, tmp_path_factory):
    """A node whose request bodies may stall at most PROGRESS seconds."""
    n = Node(tandem_bin, tmp_path_factory.mktemp("impatient"))
    n.write_config()
    with open(n.config_path, "a") as f:
        f.write(f"\n[server]\nbody_progress_timeout_secs = {PROGRESS}\n")
    n.start()
    yield n
    n.stop()


def test_a_chunked_put_that_stalls_is_cut_with_request_timeout_and_stores_nothing(impatient):
    s3 = impatient.client()
    bucket = unique_bucket("chunked-stall")
    s3.create_bucket(Bucket=bucket)
    path = f"/{bucket}/stalled"
    signed = sigv4_sign("PUT", path, [], {"Host": f"127.0.0.1:{impatient.port}"}, "UNSIGNED-PAYLOAD", KEYS["admin"])
    head = f"PUT {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in signed.headers.items())
    head += "Transfer-Encoding: chunked\r\n\r\n"
    start = time.monotonic()
    status, _, body = raw_http(impatient.port, head.encode(), b"5\r\nhello\r\n", timeout=PROGRESS + 8)
    assert (status, xml_error(body)[0]) == (400, "RequestTimeout"), body
    assert time.monotonic() - start < PROGRESS + 5
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
