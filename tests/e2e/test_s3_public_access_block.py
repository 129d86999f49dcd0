"""Block Public Access (Put/Get/DeletePublicAccessBlock, each switch enforced),
GetBucketPolicyStatus, Object Ownership (BucketOwnerEnforced disables ACLs) and
`x-amz-expected-bucket-owner`."""

from __future__ import annotations

import json

import pytest

from e2e_helpers import ALL_USERS, s3_error

ALL_ON = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}


def public_read_policy(bucket: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}],
    })


def pab(s3, bucket, **switches):
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=switches)


def test_the_configuration_round_trips_and_deletes(s3, bucket):
    with s3_error("NoSuchPublicAccessBlockConfiguration", 404):
        s3.get_public_access_block(Bucket=bucket)
    pab(s3, bucket, BlockPublicAcls=True, RestrictPublicBuckets=True)
    got = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert got == {"BlockPublicAcls": True, "IgnorePublicAcls": False, "BlockPublicPolicy": False, "RestrictPublicBuckets": True}
    s3.delete_public_access_block(Bucket=bucket)
    with s3_error("NoSuchPublicAccessBlockConfiguration", 404):
        s3.get_public_access_block(Bucket=bucket)


def test_only_the_owner_manages_it(bob, s3, bucket):
    with s3_error("AccessDenied", 403):
        bob.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=ALL_ON)
    with s3_error("AccessDenied", 403):
        bob.get_bucket_policy_status(Bucket=bucket)


def test_block_public_acls_refuses_public_acls_everywhere(s3, bucket):
    pab(s3, bucket, BlockPublicAcls=True)
    with s3_error("AccessDenied", 403):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="public-read")
    with s3_error("AccessDenied", 403):
        s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    with s3_error("AccessDenied", 403):
        s3.create_multipart_upload(Bucket=bucket, Key="m", ACL="public-read-write")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with s3_error("AccessDenied", 403):
        s3.put_object_acl(Bucket=bucket, Key="k", GrantRead=f'uri="{ALL_USERS}"')
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="private")


def test_ignore_public_acls_stops_existing_public_grants_from_counting(s3, anon, bucket):
    s3.put_object(Bucket=bucket, Key="pub", Body=b"public", ACL="public-read")
    assert anon.get_object(Bucket=bucket, Key="pub")["Body"].read() == b"public"
    pab(s3, bucket, IgnorePublicAcls=True)
    with s3_error("AccessDenied", 403):
        anon.get_object(Bucket=bucket, Key="pub")
    s3.delete_public_access_block(Bucket=bucket)
    assert anon.get_object(Bucket=bucket, Key="pub")["Body"].read() == b"public"


def test_block_public_policy_refuses_public_policies_and_policy_status_tells(s3, bucket):
    with s3_error("NoSuchBucketPolicy", 404):
        s3.get_bucket_policy_status(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=public_read_policy(bucket))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    pab(s3, bucket, BlockPublicPolicy=True)
    with s3_error("AccessDenied", 403):
        s3.put_bucket_policy(Bucket=bucket, Policy=public_read_policy(bucket))
    private = json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "bob"}, "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}],
    })
    s3.put_bucket_policy(Bucket=bucket, Policy=private)
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False


def test_restrict_public_buckets_ignores_a_public_policy_for_anonymous_requests(s3, anon, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"via policy")
    s3.put_bucket_policy(Bucket=bucket, Policy=public_read_policy(bucket))
    assert anon.get_object(Bucket=bucket, Key="k")["Body"].read() == b"via policy"
    pab(s3, bucket, RestrictPublicBuckets=True)
    with s3_error("AccessDenied", 403):
        anon.get_object(Bucket=bucket, Key="k")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"via policy"


def test_ownership_controls_round_trip(s3, bucket):
    with s3_error("OwnershipControlsNotFoundError", 404):
        s3.get_bucket_ownership_controls(Bucket=bucket)
    for value in ("ObjectWriter", "BucketOwnerPreferred", "BucketOwnerEnforced"):
        s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": value}]})
        rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
        assert rules == [{"ObjectOwnership": value}]
    s3.delete_bucket_ownership_controls(Bucket=bucket)
    with s3_error("OwnershipControlsNotFoundError", 404):
        s3.get_bucket_ownership_controls(Bucket=bucket)


def test_bucket_owner_enforced_disables_acls(s3, bob, anon, bucket):
    s3.put_object(Bucket=bucket, Key="old", Body=b"x", ACL="public-read")
    s3.put_bucket_acl(Bucket=bucket, GrantWrite='id="bob"')
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    with s3_error("AccessControlListNotSupported", 400):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="public-read")
    with s3_error("AccessControlListNotSupported", 400):
        s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="bucket-owner-full-control")
    # Grants no longer give access: neither the object's nor the bucket's.
    with s3_error("AccessDenied", 403):
        anon.get_object(Bucket=bucket, Key="old")
    with s3_error("AccessDenied", 403):
        bob.put_object(Bucket=bucket, Key="by-bob", Body=b"x")


def test_expected_bucket_owner_must_match(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    owner = s3.get_bucket_acl(Bucket=bucket)["Owner"]["ID"]
    assert s3.get_object(Bucket=bucket, Key="k", ExpectedBucketOwner=owner)["Body"].read() == b"x"
    with s3_error("AccessDenied", 403):
        s3.get_object(Bucket=bucket, Key="k", ExpectedBucketOwner="111122223333")
    with s3_error("AccessDenied", 403):
        s3.list_objects_v2(Bucket=bucket, ExpectedBucketOwner="someone-else")
