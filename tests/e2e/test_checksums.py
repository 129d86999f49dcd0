"""Flexible checksums and the SigV4 payload forms (signed, unsigned, aws-chunked, trailers)."""

from urllib.parse import quote

import requests

from e2e_helpers import (
    KEYS,
    crc32_b64,
    describe,
    encode_signed_chunks,
    encode_unsigned_chunks,
    error_code,
    md5_hex,
    random_bytes,
    s3_error,
    sha256_b64,
    sha256_hex,
    sigv4_sign,
)

# ---------------------------------------------------------------- boto3 flexible checksums


def test_boto3_default_crc32_checksum_is_stored_and_returned_with_checksum_mode(s3, bucket):
    body = random_bytes(100_000, seed=80)
    sent = {}

    def capture(request, **kw):
        sent.update({k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()})

    s3.meta.events.register("before-send.s3.PutObject", capture)
    put = s3.put_object(Bucket=bucket, Key="crc", Body=body)
    assert "x-amz-checksum-crc32" in sent, f"boto3 did not send a CRC32 checksum: {sorted(sent)}"
    assert put.get("ChecksumCRC32") == crc32_b64(body)
    got = s3.get_object(Bucket=bucket, Key="crc", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got.get("ChecksumCRC32") == crc32_b64(body)
    head = s3.head_object(Bucket=bucket, Key="crc", ChecksumMode="ENABLED")
    assert head.get("ChecksumCRC32") == crc32_b64(body)


def test_boto3_crc32_trailer_form_is_accepted(s3, bucket):
    """boto3 sends CRC32 as an aws-chunked trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER,
    Transfer-Encoding: chunked) over TLS; force that form over plain HTTP."""
    body = random_bytes(300_000, seed=86)
    sent = {}

    def use_trailer(params, **kw):
        algo = params["context"].get("checksum", {}).get("request_algorithm")
        if algo:
            algo["in"] = "trailer"

    def capture(request, **kw):
        sent.update({k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()})

    s3.meta.events.register("before-call.s3.PutObject", use_trailer)
    s3.meta.events.register("before-send.s3.PutObject", capture)
    put = s3.put_object(Bucket=bucket, Key="trailer-boto", Body=body)
    assert sent.get("x-amz-content-sha256") == "STREAMING-UNSIGNED-PAYLOAD-TRAILER", sent
    assert sent.get("x-amz-trailer") == "x-amz-checksum-crc32"
    assert put.get("ChecksumCRC32") == crc32_b64(body)
    got = s3.get_object(Bucket=bucket, Key="trailer-boto", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got.get("ChecksumCRC32") == crc32_b64(body)


def test_sha256_checksum_algorithm_is_stored_and_returned(s3, bucket):
    body = b"sha256 checksum body" * 1000
    put = s3.put_object(Bucket=bucket, Key="sha", Body=body, ChecksumAlgorithm="SHA256")
    assert put.get("ChecksumSHA256") == sha256_b64(body)
    got = s3.get_object(Bucket=bucket, Key="sha", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got.get("ChecksumSHA256") == sha256_b64(body)


def test_wrong_explicit_crc32_is_bad_digest_and_nothing_is_stored(s3, bucket):
    body = b"checksummed"
    with s3_error("BadDigest", 400):
        s3.put_object(Bucket=bucket, Key="bad", Body=body, ChecksumCRC32=crc32_b64(b"something else"))
    with s3_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="bad")


def test_wrong_explicit_sha256_is_bad_digest(s3, bucket):
    with s3_error("BadDigest", 400):
        s3.put_object(Bucket=bucket, Key="bad", Body=b"abc", ChecksumSHA256=sha256_b64(b"xyz"))


def test_correct_explicit_crc32_is_accepted(s3, bucket):
    body = b"explicit crc"
    s3.put_object(Bucket=bucket, Key="ok", Body=body, ChecksumCRC32=crc32_b64(body))
    assert s3.get_object(Bucket=bucket, Key="ok", ChecksumMode="ENABLED")["ChecksumCRC32"] == crc32_b64(body)


def test_upload_part_with_wrong_crc32_is_bad_digest(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp", ChecksumAlgorithm="CRC32")["UploadId"]
    with s3_error("BadDigest", 400):
        s3.upload_part(
            Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=b"part",
            ChecksumCRC32=crc32_b64(b"not the part"),
        )
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid)


# ---------------------------------------------------------------- raw payload forms


def host(node):
    return f"127.0.0.1:{node.port}"


def test_unsigned_payload_put_is_accepted(node, s3, bucket):
    body = b"unsigned payload body"
    r = node.request("PUT", f"/{bucket}/unsigned", body=body, payload_hash="UNSIGNED-PAYLOAD")
    assert r.status_code == 200, describe(r)
    assert s3.get_object(Bucket=bucket, Key="unsigned")["Body"].read() == body


def test_signed_payload_hash_mismatch_is_rejected(node, s3, bucket):
    r = node.request("PUT", f"/{bucket}/mismatch", body=b"actual body", payload_hash=sha256_hex(b"signed body"))
    assert r.status_code == 400, describe(r)
    assert error_code(r) == "XAmzContentSHA256Mismatch", describe(r)
    with s3_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="mismatch")


def streaming_put(node, bucket, key, data, mode, chunk=64 * 1024, trailer=None, corrupt_chunk=None,
                  wrong_trailer=False, query=()):
    path = f"/{bucket}/{key}"
    query = list(query)
    hdrs = {
        "Host": host(node),
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(data)),
    }
    trailer_kv = None
    if trailer:
        value = crc32_b64(b"wrong" + data) if wrong_trailer else crc32_b64(data)
        trailer_kv = ("x-amz-checksum-crc32", value)
        hdrs["x-amz-trailer"] = "x-amz-checksum-crc32"
    if mode == "unsigned-trailer":
        payload = encode_unsigned_chunks(data, chunk, trailer_kv)
        hdrs["Content-Length"] = str(len(payload))
        signed = sigv4_sign("PUT", path, query, hdrs, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", KEYS["admin"])
    else:
        ph = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" + ("-TRAILER" if trailer else "")
        # the encoded length depends only on chunk sizes and fixed-width signatures
        probe = sigv4_sign("PUT", path, query, dict(hdrs, **{"Content-Length": "0"}), ph, KEYS["admin"])
        length = len(encode_signed_chunks(probe, data, chunk, trailer_kv))
        hdrs["Content-Length"] = str(length)
        signed = sigv4_sign("PUT", path, query, hdrs, ph, KEYS["admin"])
        payload = encode_signed_chunks(signed, data, chunk, trailer_kv, corrupt_chunk=corrupt_chunk)
        assert len(payload) == length
    url = node.endpoint + path + ("?" + "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in query) if query else "")
    return requests.put(url, data=payload, headers=signed.headers, timeout=30)


def test_signed_aws_chunked_put_stores_decoded_bytes(node, s3, bucket):
    data = random_bytes(200_000, seed=81)
    r = streaming_put(node, bucket, "chunked", data, "signed")
    assert r.status_code == 200, describe(r)
    got = s3.get_object(Bucket=bucket, Key="chunked")
    assert got["ContentLength"] == len(data)
    assert got["Body"].read() == data


def test_signed_aws_chunked_put_with_bad_chunk_signature_is_rejected(node, s3, bucket):
    data = random_bytes(150_000, seed=82)
    r = streaming_put(node, bucket, "badchunk", data, "signed", corrupt_chunk=1)
    assert r.status_code == 403, describe(r)
    assert error_code(r) == "SignatureDoesNotMatch", describe(r)
    with s3_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="badchunk")


def test_unsigned_payload_with_crc32_trailer_is_verified_and_stored(node, s3, bucket):
    data = random_bytes(130_000, seed=83)
    r = streaming_put(node, bucket, "trailer", data, "unsigned-trailer", trailer=True)
    assert r.status_code == 200, describe(r)
    got = s3.get_object(Bucket=bucket, Key="trailer", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got.get("ChecksumCRC32") == crc32_b64(data)


def test_unsigned_payload_with_wrong_crc32_trailer_is_bad_digest(node, s3, bucket):
    data = random_bytes(70_000, seed=84)
    r = streaming_put(node, bucket, "badtrailer", data, "unsigned-trailer", trailer=True, wrong_trailer=True)
    assert r.status_code == 400, describe(r)
    assert error_code(r) == "BadDigest", describe(r)
    with s3_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="badtrailer")


def test_signed_aws_chunked_put_with_signed_crc32_trailer(node, s3, bucket):
    data = random_bytes(100_000, seed=85)
    r = streaming_put(node, bucket, "signedtrailer", data, "signed", trailer=True)
    assert r.status_code == 200, describe(r)
    got = s3.get_object(Bucket=bucket, Key="signedtrailer", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got.get("ChecksumCRC32") == crc32_b64(data)


def test_signed_aws_chunked_upload_part_assembles_correctly(node, s3, bucket):
    first, last = random_bytes(5 * 1024 * 1024, seed=87), random_bytes(40_000, seed=88)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="chunked-mp")["UploadId"]
    etags = []
    for n, part in enumerate((first, last), start=1):
        r = streaming_put(node, bucket, "chunked-mp", part, "signed",
                          query=[("partNumber", str(n)), ("uploadId", uid)])
        assert r.status_code == 200, describe(r)
        assert r.headers.get("ETag") == f'"{md5_hex(part)}"'
        etags.append({"PartNumber": n, "ETag": r.headers["ETag"]})
    s3.complete_multipart_upload(Bucket=bucket, Key="chunked-mp", UploadId=uid, MultipartUpload={"Parts": etags})
    assert s3.get_object(Bucket=bucket, Key="chunked-mp")["Body"].read() == first + last
