"""Keys holding control characters (\\x01, \\x1f, \\x7f, ...) round-trip as in S3: PutObject,
GetObject, HeadObject, CopyObject, DeleteObject, multipart uploads, and every listing —
percent-encoded with encoding-type=url (boto3's default for ListObjects, ListObjectsV2 and
ListObjectVersions), or as numeric character references (`&#x1;`) without it, as S3 writes
them. Errors echoing such a key still parse. NUL is refused (400 InvalidArgument)."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest

from botocore import parsers
from botocore.parsers import ResponseParserError

from e2e_helpers import parse_xml, s3_error, unique_bucket

KEYS = ["ctl/a\x01b", "ctl/\x1fend", "ctl/del\x7f", "ctl/tab\tand\x02", "ctl/nonchar\ufffe"]


@pytest.fixture(scope="module")
def versioned(node):
    s3 = node.client()
    name = unique_bucket("ctl-keys")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    for k in KEYS:
        s3.put_object(Bucket=name, Key=k, Body=k.encode())
    return name


def references(key: str) -> str:
    """The key as S3 writes it in a listing without encoding-type=url."""
    return "".join(c if c in "\t\n\r" or (" " <= c and c not in "\ufffe\uffff") else f"&#x{ord(c):X};" for c in key)


@pytest.mark.parametrize("key", KEYS)
def test_a_control_character_key_round_trips_through_put_get_head_copy_and_delete(s3, bucket, key):
    put = s3.put_object(Bucket=bucket, Key=key, Body=b"payload", Metadata={"m": "1"})
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"payload"
    assert s3.head_object(Bucket=bucket, Key=key)["ETag"] == put["ETag"]
    copy = key + "\x03copy"
    s3.copy_object(Bucket=bucket, Key=copy, CopySource={"Bucket": bucket, "Key": key})
    assert s3.get_object(Bucket=bucket, Key=copy)["Body"].read() == b"payload"
    s3.delete_object(Bucket=bucket, Key=key)
    with s3_error("404"):
        s3.head_object(Bucket=bucket, Key=key)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [copy]


def test_boto3_listings_return_the_keys_with_their_default_url_encoding(node, versioned):
    s3 = node.client()
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=versioned)["Contents"]) == sorted(KEYS)
    assert sorted(o["Key"] for o in s3.list_objects(Bucket=versioned)["Contents"]) == sorted(KEYS)
    assert sorted(v["Key"] for v in s3.list_object_versions(Bucket=versioned)["Versions"]) == sorted(KEYS)
    page = s3.list_objects_v2(Bucket=versioned, Prefix="ctl/", Delimiter="\x01")
    assert page["CommonPrefixes"] == [{"Prefix": "ctl/a\x01"}]
    after = s3.list_objects_v2(Bucket=versioned, StartAfter="ctl/a\x01b")
    assert "ctl/a\x01b" not in [o["Key"] for o in after["Contents"]]


def test_multipart_uploads_of_control_character_keys_list_url_encoded_and_complete(s3, bucket):
    key = "ctl/upload\x01\x1f"
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    listed = s3.list_multipart_uploads(Bucket=bucket, EncodingType="url")
    assert [unquote(u["Key"]) for u in listed["Uploads"]] == [key]
    assert listed["Uploads"][0]["Key"] == "ctl/upload%01%1F"
    part = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"part")
    # ListParts takes no encoding-type: its echo of the key is made parsable (U+FFFD).
    parts = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload)
    assert [p["PartNumber"] for p in parts["Parts"]] == [1] and parts["Key"] == "ctl/upload\ufffd\ufffd"
    s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
    )
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"part"


@pytest.mark.parametrize(
    "query,element",
    [
        ([("list-type", "2")], "Key"),
        ([], "Key"),
        ([("versions", "")], "Key"),
    ],
    ids=["v2", "v1", "versions"],
)
def test_a_listing_without_url_encoding_writes_character_references_as_s3(node, versioned, query, element):
    r = node.request("GET", f"/{versioned}", query=query)
    assert r.status_code == 200, r.content
    body = r.content.decode()
    for k in KEYS:
        assert f"<{element}>{references(k)}</{element}>" in body, (k, body)
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", body), "no raw control character"


def test_botocore_reads_the_url_encoded_listing_but_not_the_character_references(node, versioned):
    """Why boto3 asks for encoding-type=url: its XML parser refuses `&#x1;`, as for S3."""
    shape = node.client().meta.service_model.operation_model("ListObjectsV2").output_shape
    parser = parsers.create_parser("rest-xml")
    raw = node.request("GET", f"/{versioned}", query=[("list-type", "2")])
    with pytest.raises(ResponseParserError):
        parser.parse({"body": raw.content, "headers": dict(raw.headers), "status_code": 200}, shape)
    enc = node.request("GET", f"/{versioned}", query=[("list-type", "2"), ("encoding-type", "url")])
    parsed = parser.parse({"body": enc.content, "headers": dict(enc.headers), "status_code": 200}, shape)
    assert sorted(unquote(o["Key"]) for o in parsed["Contents"]) == sorted(KEYS)


def test_an_upload_listing_without_url_encoding_writes_character_references(node, s3, bucket):
    s3.create_multipart_upload(Bucket=bucket, Key="ctl/u\x01")
    r = node.request("GET", f"/{bucket}", query=[("uploads", "")])
    assert r.status_code == 200, r.content
    assert "<Key>ctl/u&#x1;</Key>" in r.content.decode()


def test_the_url_encoded_raw_listing_parses_and_decodes_to_the_keys(node, versioned):
    r = node.request("GET", f"/{versioned}", query=[("list-type", "2"), ("encoding-type", "url")])
    keys = [unquote(k.text) for k in parse_xml(r.content).iter("Key")]
    assert sorted(keys) == sorted(KEYS)


def test_an_error_about_a_control_character_key_parses(node, s3, bucket):
    r = node.request("GET", f"/{bucket}/missing\x01key")
    assert r.status_code == 404
    root = parse_xml(r.content)
    assert root.findtext("Code") == "NoSuchKey" and root.findtext("RequestId")
    with s3_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="missing\x01key")


def test_a_nul_in_a_key_is_refused_and_stores_nothing(s3, bucket):
    with s3_error("InvalidArgument", 400):
        s3.put_object(Bucket=bucket, Key="nul\x00key", Body=b"x")
    with s3_error("InvalidArgument", 400):
        s3.create_multipart_upload(Bucket=bucket, Key="nul\x00key")
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
