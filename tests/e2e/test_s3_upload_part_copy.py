"""UploadPartCopy (whole source, ranges, versioned sources, bad ranges, the source's
access check) and GetObjectAttributes (ETag, Checksum, ObjectParts with pagination,
StorageClass, ObjectSize, versions)."""

from __future__ import annotations

import pytest

from e2e_helpers import md5_hex, multipart_etag, random_bytes, s3_error

MIB = 1024 * 1024


@pytest.fixture
def source(s3, bucket):
    data = random_bytes(6 * MIB, seed=7)
    s3.put_object(Bucket=bucket, Key="src", Body=data)
    return data


def test_copied_parts_whole_and_ranged_assemble_into_the_object(s3, bucket, source):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    whole = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=1, CopySource={"Bucket": bucket, "Key": "src"})
    assert whole["CopyPartResult"]["ETag"] == f'"{md5_hex(source)}"'
    assert whole["CopyPartResult"]["LastModified"]
    ranged = s3.upload_part_copy(
        Bucket=bucket, Key="dst", UploadId=uid, PartNumber=2,
        CopySource={"Bucket": bucket, "Key": "src"}, CopySourceRange="bytes=10-1033",
    )
    piece = source[10:1034]
    assert ranged["CopyPartResult"]["ETag"] == f'"{md5_hex(piece)}"'
    parts = [{"PartNumber": 1, "ETag": whole["CopyPartResult"]["ETag"]}, {"PartNumber": 2, "ETag": ranged["CopyPartResult"]["ETag"]}]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="dst", UploadId=uid, MultipartUpload={"Parts": parts})
    assert done["ETag"] == multipart_etag([source, piece])
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == source + piece


def test_a_copied_part_comes_from_the_version_named(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="v", Body=b"version one")["VersionId"]
    s3.put_object(Bucket=bucket, Key="v", Body=b"version two!")
    uid = s3.create_multipart_upload(Bucket=bucket, Key="from-v1")["UploadId"]
    r = s3.upload_part_copy(
        Bucket=bucket, Key="from-v1", UploadId=uid, PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "v", "VersionId": v1},
    )
    assert r["CopySourceVersionId"] == v1
    s3.complete_multipart_upload(
        Bucket=bucket, Key="from-v1", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": r["CopyPartResult"]["ETag"]}]},
    )
    assert s3.get_object(Bucket=bucket, Key="from-v1")["Body"].read() == b"version one"


@pytest.mark.parametrize("bad", ["bytes=-", "bytes=1-", "bytes=0--1", "bytes=5-2", "0-10", "bytes=-10"])
def test_improper_copy_ranges_are_invalid_argument(s3, bucket, bad):
    s3.put_object(Bucket=bucket, Key="small", Body=b"0123456789" * 3)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="d")["UploadId"]
    with s3_error("InvalidArgument", 400):
        s3.upload_part_copy(
            Bucket=bucket, Key="d", UploadId=uid, PartNumber=1,
            CopySource={"Bucket": bucket, "Key": "small"}, CopySourceRange=bad,
        )


def test_a_range_beyond_the_source_is_refused(s3, bucket):
    s3.put_object(Bucket=bucket, Key="small", Body=b"0123456789" * 2)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="d")["UploadId"]
    with s3_error(("InvalidArgument", "InvalidRange")) as ei:
        s3.upload_part_copy(
            Bucket=bucket, Key="d", UploadId=uid, PartNumber=1,
            CopySource={"Bucket": bucket, "Key": "small"}, CopySourceRange="bytes=0-20",
        )
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 416)


def test_copying_a_part_needs_read_access_to_the_source(s3, bob, bucket, bucket_name):
    s3.put_object(Bucket=bucket, Key="secret", Body=b"private")
    mine = bucket_name + "-bob"
    bob.create_bucket(Bucket=mine)
    uid = bob.create_multipart_upload(Bucket=mine, Key="stolen")["UploadId"]
    with s3_error("AccessDenied", 403):
        bob.upload_part_copy(Bucket=mine, Key="stolen", UploadId=uid, PartNumber=1, CopySource={"Bucket": bucket, "Key": "secret"})
    s3.put_object_acl(Bucket=bucket, Key="secret", ACL="authenticated-read")
    r = bob.upload_part_copy(Bucket=mine, Key="stolen", UploadId=uid, PartNumber=1, CopySource={"Bucket": bucket, "Key": "secret"})
    assert r["CopyPartResult"]["ETag"] == f'"{md5_hex(b"private")}"'


def test_copy_part_errors_for_missing_upload_source_and_part_number(s3, bucket, source):
    with s3_error("NoSuchUpload", 404):
        s3.upload_part_copy(Bucket=bucket, Key="d", UploadId="nope", PartNumber=1, CopySource={"Bucket": bucket, "Key": "src"})
    uid = s3.create_multipart_upload(Bucket=bucket, Key="d")["UploadId"]
    with s3_error("NoSuchKey", 404):
        s3.upload_part_copy(Bucket=bucket, Key="d", UploadId=uid, PartNumber=1, CopySource={"Bucket": bucket, "Key": "absent"})
    with s3_error("InvalidArgument", 400):
        s3.upload_part_copy(Bucket=bucket, Key="d", UploadId=uid, PartNumber=10001, CopySource={"Bucket": bucket, "Key": "src"})
    with s3_error("PreconditionFailed", 412):
        s3.upload_part_copy(
            Bucket=bucket, Key="d", UploadId=uid, PartNumber=1,
            CopySource={"Bucket": bucket, "Key": "src"}, CopySourceIfMatch='"ffff"',
        )


ALL = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]


def test_object_attributes_of_a_simple_object(s3, bucket):
    body = b"attributes"
    s3.put_object(Bucket=bucket, Key="a", Body=body, ChecksumAlgorithm="SHA256")
    r = s3.get_object_attributes(Bucket=bucket, Key="a", ObjectAttributes=ALL)
    assert r["ETag"].strip('"') == md5_hex(body)
    assert r["ObjectSize"] == len(body)
    assert r["StorageClass"] == "STANDARD"
    assert r["Checksum"]["ChecksumSHA256"]
    assert "ObjectParts" not in r
    only = s3.get_object_attributes(Bucket=bucket, Key="a", ObjectAttributes=["ObjectSize"])
    assert only["ObjectSize"] == len(body) and "ETag" not in only and "StorageClass" not in only


def test_object_parts_of_a_multipart_object_are_paginated(s3, bucket):
    key = "mp"
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts = [random_bytes(5 * MIB, seed=s) for s in (1, 2)] + [b"last"]
    done = [
        {"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=n, Body=p)["ETag"]}
        for n, p in enumerate(parts, start=1)
    ]
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": done})
    page = s3.get_object_attributes(Bucket=bucket, Key=key, ObjectAttributes=["ObjectParts"], MaxParts=2)["ObjectParts"]
    assert page["TotalPartsCount"] == 3 and page["IsTruncated"] is True
    assert [(p["PartNumber"], p["Size"]) for p in page["Parts"]] == [(1, 5 * MIB), (2, 5 * MIB)]
    rest = s3.get_object_attributes(
        Bucket=bucket, Key=key, ObjectAttributes=["ObjectParts"], MaxParts=2, PartNumberMarker=page["NextPartNumberMarker"]
    )["ObjectParts"]
    assert [(p["PartNumber"], p["Size"]) for p in rest["Parts"]] == [(3, 4)] and rest["IsTruncated"] is False


def test_object_attributes_of_versions_and_missing_keys(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"three")
    r = s3.get_object_attributes(Bucket=bucket, Key="k", VersionId=v1, ObjectAttributes=["ObjectSize", "ETag"])
    assert r["ObjectSize"] == 3 and r["VersionId"] == v1
    assert s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["ObjectSize"])["ObjectSize"] == 5
    with s3_error("NoSuchKey", 404):
        s3.get_object_attributes(Bucket=bucket, Key="absent", ObjectAttributes=["ETag"])
    with s3_error("InvalidArgument", 400):
        s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["Colour"])
