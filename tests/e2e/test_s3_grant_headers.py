"""`x-amz-grant-*` headers on the operations that create something (CreateBucket,
PutObject, CopyObject, CreateMultipartUpload) check their grantees as PutObjectAcl
and PutBucketAcl do: an unknown canonical user id or a malformed header is 400
`InvalidArgument`, an e-mail address that resolves to no account is 400
`UnresolvableGrantByEmailAddress`, and nothing is created when refused."""

from __future__ import annotations

import pytest

from e2e_helpers import s3_error, unique_bucket

# (header value, S3's error code)
REFUSED = [
    ('id="no-such-canonical-user"', "InvalidArgument"),
    ('emailAddress="someone@example.com"', "UnresolvableGrantByEmailAddress"),
    ("no-equals-sign-here", "InvalidArgument"),
    ('uri="http://acs.amazonaws.com/groups/global/NoSuchGroup"', "InvalidArgument"),
]

OBJECT_GRANTS = ["GrantRead", "GrantReadACP", "GrantWriteACP", "GrantFullControl"]


def put_object(s3, bucket, grant):
    s3.put_object(Bucket=bucket, Key="new", Body=b"body", **grant)


def copy_object(s3, bucket, grant):
    s3.put_object(Bucket=bucket, Key="src", Body=b"source")
    s3.copy_object(Bucket=bucket, Key="new", CopySource={"Bucket": bucket, "Key": "src"}, **grant)


def create_multipart_upload(s3, bucket, grant):
    s3.create_multipart_upload(Bucket=bucket, Key="new", **grant)


def nothing_written(s3, bucket) -> bool:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return "new" not in keys and uploads == []


@pytest.mark.parametrize("op", [put_object, copy_object, create_multipart_upload], ids=lambda f: f.__name__)
@pytest.mark.parametrize("header", OBJECT_GRANTS)
@pytest.mark.parametrize("value,code", REFUSED, ids=["unknown-id", "email", "malformed", "unknown-group"])
def test_object_grant_headers_with_unresolvable_grantees_are_refused_and_write_nothing(s3, bucket, op, header, value, code):
    with s3_error(code, 400):
        op(s3, bucket, {header: value})
    assert nothing_written(s3, bucket)


@pytest.mark.parametrize("op", [put_object, copy_object, create_multipart_upload], ids=lambda f: f.__name__)
def test_object_grant_headers_naming_a_known_user_are_applied(s3, bucket, op):
    op(s3, bucket, {"GrantRead": 'id="bob"'})
    if op is create_multipart_upload:
        assert len(s3.list_multipart_uploads(Bucket=bucket)["Uploads"]) == 1
        return
    grants = s3.get_object_acl(Bucket=bucket, Key="new")["Grants"]
    assert ("bob", "READ") in [(g["Grantee"].get("ID"), g["Permission"]) for g in grants]


@pytest.mark.parametrize("header", OBJECT_GRANTS + ["GrantWrite"])
@pytest.mark.parametrize("value,code", REFUSED, ids=["unknown-id", "email", "malformed", "unknown-group"])
def test_create_bucket_grant_headers_with_unresolvable_grantees_are_refused_and_create_nothing(s3, header, value, code):
    name = unique_bucket("grants")
    with s3_error(code, 400):
        s3.create_bucket(Bucket=name, **{header: value})
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_create_bucket_grant_headers_naming_a_known_user_are_applied(s3):
    name = unique_bucket("grants")
    s3.create_bucket(Bucket=name, GrantWrite='id="bob"')
    grants = s3.get_bucket_acl(Bucket=name)["Grants"]
    assert ("bob", "WRITE") in [(g["Grantee"].get("ID"), g["Permission"]) for g in grants]
