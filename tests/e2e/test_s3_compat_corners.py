"""S3 corners SDKs and tools meet: 304/416/tagging-count answers, bodies (aws-chunked
framing is not a stored Content-Encoding, RFC 2047 metadata, presigned chunked PUT),
presigned lifetimes, SigV2 header-signed requests, versioning and ACL corners."""

from __future__ import annotations

import time

import pytest
import requests

from e2e_helpers import (
    ALL_USERS,
    crc32_b64,
    encode_unsigned_chunks,
    parse_xml,
    s3_error,
)


def test_304_carries_etag_and_last_modified(node, s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["ETag"]
    r = node.request("GET", f"/{bucket}/k", headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b""
    assert r.headers["ETag"] == etag and r.headers["Last-Modified"]
    assert "Content-Length" not in r.headers or r.headers["Content-Length"] == "0"


def test_part_numbers_of_a_plain_object(node, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"0123456789")
    one = node.request("GET", f"/{bucket}/k", query=[("partNumber", "1")])
    assert one.status_code in (200, 206) and one.content == b"0123456789"
    two = node.request("GET", f"/{bucket}/k", query=[("partNumber", "2")])
    assert two.status_code == 416 and parse_xml(two.content).findtext("Code") == "InvalidPartNumber"


def test_get_and_head_carry_the_tag_count(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=1&b=2")
    assert s3.get_object(Bucket=bucket, Key="k")["TagCount"] == 2
    head = s3.head_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPHeaders"]
    assert head["x-amz-tagging-count"] == "2"
    s3.put_object(Bucket=bucket, Key="none", Body=b"x")
    assert "x-amz-tagging-count" not in s3.head_object(Bucket=bucket, Key="none")["ResponseMetadata"]["HTTPHeaders"]


def test_deleting_a_missing_key_in_an_unversioned_bucket_is_204(s3, bucket):
    r = s3.delete_object(Bucket=bucket, Key="never-was")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_aws_chunked_is_not_stored_as_a_content_encoding(node, s3, bucket):
    data = b"hello world"
    body = encode_unsigned_chunks(data, 5, ("x-amz-checksum-crc32", crc32_b64(data)))
    for key, sent, stored in [("gz", "gzip, aws-chunked", "gzip"), ("only", "aws-chunked", None)]:
        r = node.request(
            "PUT", f"/{bucket}/{key}",
            headers={
                "Content-Encoding": sent, "x-amz-decoded-content-length": str(len(data)),
                "x-amz-trailer": "x-amz-checksum-crc32", "Content-Length": str(len(body)),
            },
            body=body, payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        )
        assert r.status_code == 200, r.text
        assert s3.head_object(Bucket=bucket, Key=key).get("ContentEncoding") == stored
    assert s3.get_object(Bucket=bucket, Key="only")["Body"].read() == data


def test_rfc2047_metadata_is_decoded_and_encoded_back(node, s3, bucket):
    r = node.request("PUT", f"/{bucket}/m", headers={"x-amz-meta-name": "=?UTF-8?Q?h=C3=A9llo?="}, body=b"x")
    assert r.status_code == 200, r.text
    head = node.request("HEAD", f"/{bucket}/m")
    assert head.headers["x-amz-meta-name"] == "=?UTF-8?B?aMOpbGxv?="
    # Copies keep the decoded text.
    s3.copy_object(Bucket=bucket, Key="m2", CopySource={"Bucket": bucket, "Key": "m"})
    assert s3.head_object(Bucket=bucket, Key="m2")["Metadata"]["name"] == "=?UTF-8?B?aMOpbGxv?="


def test_a_presigned_put_streamed_chunked_without_length_is_accepted(s3, bucket):
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "te"}, ExpiresIn=300)
    r = requests.put(url, data=iter([b"abc", b"def", b"ghi"]), timeout=30)
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket=bucket, Key="te")["Body"].read() == b"abcdefghi"


def test_presigned_lifetimes_outside_a_week_and_expired_urls_are_403(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=604801)
    r = requests.get(url, timeout=10)
    assert r.status_code == 403 and parse_xml(r.content).findtext("Code") == "AccessDenied", r.text
    assert "604800" in parse_xml(r.content).findtext("Message")
    ok = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=604800)
    assert requests.get(ok, timeout=10).content == b"x"
    short = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=1)
    time.sleep(2.1)
    r = requests.get(short, timeout=10)
    assert r.status_code == 403 and parse_xml(r.content).findtext("Code") == "AccessDenied", r.text


def test_sigv2_header_signed_requests_work_on_buckets_and_objects(node, bucket):
    v2 = node.client(signature_version="s3")
    v2.put_object(Bucket=bucket, Key="dir/v2 key+x", Body=b"v2", Metadata={"a": "b"})
    assert v2.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert [o["Key"] for o in v2.list_objects(Bucket=bucket, Prefix="dir/")["Contents"]] == ["dir/v2 key+x"]
    assert v2.list_objects_v2(Bucket=bucket)["KeyCount"] == 1
    assert v2.get_bucket_acl(Bucket=bucket)["Owner"]["ID"]
    v2.put_object_tagging(Bucket=bucket, Key="dir/v2 key+x", Tagging={"TagSet": [{"Key": "t", "Value": "1"}]})
    deleted = v2.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "dir/v2 key+x"}]})
    assert [d["Key"] for d in deleted["Deleted"]] == ["dir/v2 key+x"]


def test_suspending_versioning_on_a_never_versioned_bucket_stores_suspended(s3, bucket):
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    s3.put_object(Bucket=bucket, Key="k", Body=b"2")
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [("null", True)]


def test_acl_grants_to_unknown_users_or_emails_are_refused(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with s3_error("InvalidArgument", 400):
        s3.put_object_acl(Bucket=bucket, Key="k", GrantRead='id="no-such-canonical-user"')
    with s3_error("UnresolvableGrantByEmailAddress", 400):
        s3.put_object_acl(Bucket=bucket, Key="k", GrantRead='emailAddress="someone@example.com"')
    with s3_error("InvalidArgument", 400):
        s3.put_bucket_acl(Bucket=bucket, GrantRead='id="nobody-here"')
    s3.put_object_acl(Bucket=bucket, Key="k", GrantRead='id="bob"')


def test_a_grant_list_can_be_emptied_and_groups_have_type_and_uri_only(s3, bucket):
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    acl = s3.get_bucket_acl(Bucket=bucket)
    group = [g["Grantee"] for g in acl["Grants"] if g["Grantee"]["Type"] == "Group"]
    assert group == [{"Type": "Group", "URI": ALL_USERS}]
    s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy={"Owner": acl["Owner"], "Grants": []})
    grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    assert [(g["Grantee"].get("ID"), g["Permission"]) for g in grants] == [(acl["Owner"]["ID"], "FULL_CONTROL")]


def test_recreating_an_owned_bucket_outside_us_east_1_is_409(fresh_node):
    """A region that signs as eu-west-1 answers S3's 409 BucketAlreadyOwnedByYou
    where us-east-1 answers 200 (test_buckets.py)."""
    import boto3
    from botocore.config import Config

    from e2e_helpers import KEYS, write_config

    n = fresh_node()
    n.root.mkdir(parents=True, exist_ok=True)
    region = {"name": n.region, "listen": f"127.0.0.1:{n.port}", "data_dir": str(n.data_dir), "signing_region": "eu-west-1"}
    write_config(n.config_path, [region])
    n.start()
    k = KEYS["admin"]
    c = boto3.session.Session().client(
        "s3", endpoint_url=n.endpoint, region_name="eu-west-1",
        aws_access_key_id=k.access_key_id, aws_secret_access_key=k.secret_access_key,
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
    )
    config = {"LocationConstraint": "eu-west-1"}
    c.create_bucket(Bucket="recreated-eu", CreateBucketConfiguration=config)
    with s3_error("BucketAlreadyOwnedByYou", 409):
        c.create_bucket(Bucket="recreated-eu", CreateBucketConfiguration=config)
