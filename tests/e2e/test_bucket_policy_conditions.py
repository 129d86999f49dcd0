"""Bucket policies on the shared policy engine: every condition operator family
(String*, Numeric*, Date*, Bool, IpAddress, Arn*, Null), `...IfExists`, the
`ForAnyValue:` / `ForAllValues:` qualifiers, each supported condition key,
a wildcard resource, NotPrincipal, a policy variable, the 20 KB limit, and
the owner's way back in from a Deny-all policy.

In each test the admin owns a fresh bucket and bob (a key without an identity
policy, not the owner) gets access only through the policy under test.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from e2e_helpers import unique_bucket

BOB_ARN = "arn:aws:iam::000000000000:user/bob"


def attempt(call) -> str:
    """"ok", or the S3 error code of the failed call."""
    try:
        call()
        return "ok"
    except ClientError as e:
        return e.response["Error"]["Code"]


def statement(effect: str, action, resource, condition=None, principal=None, not_principal=None) -> dict:
    s = {"Effect": effect, "Action": action, "Resource": resource}
    if not_principal is not None:
        s["NotPrincipal"] = not_principal
    else:
        s["Principal"] = principal if principal is not None else {"AWS": BOB_ARN}
    if condition is not None:
        s["Condition"] = condition
    return s


@pytest.fixture
def bucket(node, request):
    name = unique_bucket(request.node.name)
    s3 = node.client("admin")
    s3.create_bucket(Bucket=name)
    for key in ("pub/a", "priv/b", "home/bob/x", "home/admin/y", "src/o", "other/o"):
        s3.put_object(Bucket=name, Key=key, Body=key.encode())
    return name


@pytest.fixture
def bob(node):
    return node.client("bob")


def set_policy(node, bucket: str, *statements: dict) -> None:
    doc = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    node.client("admin").put_bucket_policy(Bucket=bucket, Policy=doc)


def list_with(bob, bucket, **kw) -> str:
    return attempt(lambda: bob.list_objects_v2(Bucket=bucket, **kw))


# --------------------------------------------------------- string family


def test_string_equals_on_prefix(node, bucket, bob):
    set_policy(node, bucket, statement("Allow", "s3:ListBucket", f"arn:aws:s3:::{bucket}", {"StringEquals": {"s3:prefix": "pub/"}}))
    assert list_with(bob, bucket, Prefix="pub/") == "ok"
    assert list_with(bob, bucket, Prefix="priv/") == "AccessDenied"
    assert list_with(bob, bucket) == "AccessDenied"


def test_string_not_equals_is_true_when_the_key_is_absent(node, bucket, bob):
    set_policy(node, bucket, statement("Allow", "s3:ListBucket", f"arn:aws:s3:::{bucket}", {"StringNotEquals": {"s3:prefix": "priv/"}}))
    assert list_with(bob, bucket, Prefix="pub/") == "ok"
    assert list_with(bob, bucket, Prefix="priv/") == "AccessDenied"
    assert list_with(bob, bucket) == "ok"


def test_string_equals_ignore_case(node, bucket, bob):
    set_policy(node, bucket, statement("Allow", "s3:ListBucket", f"arn:aws:s3:::{bucket}", {"StringEqualsIgnoreCase": {"s3:prefix": "PUB/"}}))
    assert list_with(bob, bucket, Prefix="pub/") == "ok"
    assert list_with(bob, bucket, Prefix="priv/") == "AccessDenied"


def test_string_not_equals_ignore_case(node, bucket, bob):
    set_policy(node, bucket, statement("Allow", "s3:ListBucket", f"arn:aws:s3:::{bucket}", {"StringNotEqualsIgnoreCase": {"s3:prefix": "PRIV/"}}))
    assert list_with(bob, bucket, Prefix="priv/") == "AccessDenied"
    assert list_with(bob, bucket, Prefix="pub/") == "ok"


def test_string_like_and_not_like(node, bucket, bob):
    set_policy(
        node,
        bucket,
        statement("Allow", "s3:ListBucket", f"arn:aws:s3:::{bucket}", {"StringLike": {"s3:prefix": "home/*"}, "StringNotLike": {"s3:prefix": "home/admin*"}}),
    )
    assert list_with(bob, bucket, Prefix="home/bob/") == "ok"
    assert list_with(bob, bucket, Prefix="home/admin/") == "AccessDenied"
    assert list_with(bob, bucket, Prefix="pub/") == "AccessDenied"


def test_delimiter_key(node, bucket, bob):
    set_policy(node, bucket, statement("Allow", "s3:ListBucket", f"arn:aws:s3:::{bucket}", {"StringEquals": {"s3:delimiter": "/"}}))
    assert list_with(bob, bucket, Delimiter="/") == "ok"
    assert list_with(bob, bucket) == "AccessDenied"


# --------------------------------------------------- numbers, dates, bools


def test_numeric_operators_on_max_keys(node, bucket, bob):
    set_policy(
        node,
        bucket,
        statement("Allow", "s3:ListBucket", f"arn:aws:s3:::{bucket}", {"NumericLessThanEquals": {"s3:max-keys": "10"}, "NumericGreaterThan": {"s3:max-keys": "1"}}),
    )
    assert list_with(bob, bucket, MaxKeys=10) == "ok"
    assert list_with(bob, bucket, MaxKeys=11) == "AccessDenied"
    assert list_with(bob, bucket, MaxKeys=1) == "AccessDenied"


@pytest.mark.parametrize("op,bound,expected", [
    ("DateLessThan", "2100-01-01T00:00:00Z", "ok"),
    ("DateGreaterThan", "2100-01-01T00:00:00Z", "AccessDenied"),
    ("DateGreaterThanEquals", "2020-01-01", "ok"),
    ("DateNotEquals", "2020-01-01T00:00:00Z", "ok"),
])
def test_date_operators_on_current_time(node, bucket, bob, op, bound, expected):
    set_policy(node, bucket, statement("Allow", "s3:GetObject", f"arn:aws:s3:::{bucket}/*", {op: {"aws:CurrentTime": bound}}))
    assert attempt(lambda: bob.get_object(Bucket=bucket, Key="pub/a")) == expected


@pytest.mark.parametrize("value,expected", [("false", "ok"), ("true", "AccessDenied")])
def test_bool_on_secure_transport(node, bucket, bob, value, expected):
    # The node serves plain HTTP here, so aws:SecureTransport is false.
    set_policy(node, bucket, statement("Allow", "s3:GetObject", f"arn:aws:s3:::{bucket}/*", {"Bool": {"aws:SecureTransport": value}}))
    assert attempt(lambda: bob.get_object(Bucket=bucket, Key="pub/a")) == expected


@pytest.mark.parametrize("op,cidr,expected", [
    ("IpAddress", "127.0.0.0/8", "ok"),
    ("IpAddress", "10.0.0.0/8", "AccessDenied"),
    ("NotIpAddress", "10.0.0.0/8", "ok"),
    ("NotIpAddress", "127.0.0.1/32", "AccessDenied"),
])
def test_ip_operators_on_source_ip(node, bucket, bob, op, cidr, expected):
    set_policy(node, bucket, statement("Allow", "s3:GetObject", f"arn:aws:s3:::{bucket}/*", {op: {"aws:SourceIp": cidr}}))
    assert attempt(lambda: bob.get_object(Bucket=bucket, Key="pub/a")) == expected


@pytest.mark.parametrize("op,arn,expected", [
    ("ArnLike", "arn:aws:iam::*:user/b*", "ok"),
    ("ArnEquals", BOB_ARN, "ok"),
    ("ArnEquals", "arn:aws:iam::000000000000:user/carol", "AccessDenied"),
    ("ArnNotLike", "arn:aws:iam::*:user/bob", "AccessDenied"),
])
def test_arn_operators_on_principal_arn(node, bucket, bob, op, arn, expected):
    set_policy(node, bucket, statement("Allow", "s3:GetObject", f"arn:aws:s3:::{bucket}/*", {op: {"aws:PrincipalArn": arn}}, principal="*"))
    assert attempt(lambda: bob.get_object(Bucket=bucket, Key="pub/a")) == expected


@pytest.mark.parametrize("key,value,expected", [
    ("aws:username", "bob", "ok"),
    ("aws:username", "carol", "AccessDenied"),
    ("aws:userid", "bob", "ok"),
])
def test_caller_keys(node, bucket, bob, key, value, expected):
    set_policy(node, bucket, statement("Allow", "s3:GetObject", f"arn:aws:s3:::{bucket}/*", {"StringEquals": {key: value}}, principal="*"))
    assert attempt(lambda: bob.get_object(Bucket=bucket, Key="pub/a")) == expected


# ----------------------------------------------------- null and IfExists


def test_null_on_an_acl_header(node, bucket, bob):
    set_policy(node, bucket, statement("Allow", "s3:PutObject", f"arn:aws:s3:::{bucket}/*", {"Null": {"s3:x-amz-acl": "true"}}))
    assert attempt(lambda: bob.put_object(Bucket=bucket, Key="n1", Body=b"x")) == "ok"
    assert attempt(lambda: bob.put_object(Bucket=bucket, Key="n2", Body=b"x", ACL="private")) == "AccessDenied"
    assert attempt(lambda: node.client("admin").head_object(Bucket=bucket, Key="n2")) == "404"


def test_if_exists_accepts_a_missing_key_but_checks_a_present_one(node, bucket, bob):
    set_policy(node, bucket, statement("Allow", "s3:PutObject", f"arn:aws:s3:::{bucket}/*", {"StringEqualsIfExists": {"s3:x-amz-acl": "private"}}))
    assert attempt(lambda: bob.put_object(Bucket=bucket, Key="i1", Body=b"x")) == "ok"
    assert attempt(lambda: bob.put_object(Bucket=bucket, Key="i2", Body=b"x", ACL="private")) == "ok"
    assert attempt(lambda: bob.put_object(Bucket=bucket, Key="i3", Body=b"x", ACL="public-read")) == "AccessDenied"


def test_grant_header_key(node, bucket, bob):
    set_policy(
        node,
        bucket,
        statement("Allow", "s3:PutObject", f"arn:aws:s3:::{bucket}/*"),
        statement("Deny", "s3:PutObject", f"arn:aws:s3:::{bucket}/*", {"Null": {"s3:x-amz-grant-read": "false"}}),
    )
    assert attempt(lambda: bob.put_object(Bucket=bucket, Key="g1", Body=b"x")) == "ok"
    grant = 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'
    assert attempt(lambda: bob.put_object(Bucket=bucket, Key="g2", Body=b"x", GrantRead=grant)) == "AccessDenied"


def test_server_side_encryption_required(node, bucket, bob):
    set_policy(
        node,
        bucket,
        statement("Allow", "s3:PutObject", f"arn:aws:s3:::{bucket}/*"),
        statement("Deny", "s3:PutObject", f"arn:aws:s3:::{bucket}/*", {"Null": {"s3:x-amz-server-side-encryption": "true"}}),
    )
    assert attempt(lambda: bob.put_object(Bucket=bucket, Key="e1", Body=b"x")) == "AccessDenied"
    assert attempt(lambda: bob.put_object(Bucket=bucket, Key="e2", Body=b"x", ServerSideEncryption="AES256")) == "ok"


# ------------------------------------------------------------ tag keys


def test_for_all_values_on_request_tag_keys(node, bucket, bob):
    set_policy(
        node,
        bucket,
        statement("Allow", "s3:PutObject", f"arn:aws:s3:::{bucket}/*", {"ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["team", "cost"]}}),
    )
    assert attempt(lambda: bob.put_object(Bucket=bucket, Key="t1", Body=b"x", Tagging="team=a")) == "ok"
    assert attempt(lambda: bob.put_object(Bucket=bucket, Key="t2", Body=b"x", Tagging="team=a&secret=b")) == "AccessDenied"
    # No tags at all: ForAllValues holds on an empty set.
    assert attempt(lambda: bob.put_object(Bucket=bucket, Key="t3", Body=b"x")) == "ok"


def test_for_any_value_on_request_tag_keys(node, bucket, bob):
    set_policy(
        node,
        bucket,
        statement("Allow", "s3:PutObject", f"arn:aws:s3:::{bucket}/*", {"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": ["team"]}}),
    )
    assert attempt(lambda: bob.put_object(Bucket=bucket, Key="a1", Body=b"x", Tagging="team=a&x=y")) == "ok"
    assert attempt(lambda: bob.put_object(Bucket=bucket, Key="a2", Body=b"x", Tagging="x=y")) == "AccessDenied"
    assert attempt(lambda: bob.put_object(Bucket=bucket, Key="a3", Body=b"x")) == "AccessDenied"


def test_request_object_tag(node, bucket, bob):
    set_policy(node, bucket, statement("Allow", "s3:PutObject", f"arn:aws:s3:::{bucket}/*", {"StringEquals": {"s3:RequestObjectTag/team": "blue"}}))
    assert attempt(lambda: bob.put_object(Bucket=bucket, Key="r1", Body=b"x", Tagging="team=blue")) == "ok"
    assert attempt(lambda: bob.put_object(Bucket=bucket, Key="r2", Body=b"x", Tagging="team=red")) == "AccessDenied"


def test_existing_object_tag(node, bucket, bob):
    admin = node.client("admin")
    admin.put_object(Bucket=bucket, Key="blue", Body=b"b", Tagging="team=blue")
    admin.put_object(Bucket=bucket, Key="red", Body=b"r", Tagging="team=red")
    set_policy(node, bucket, statement("Allow", "s3:GetObject", f"arn:aws:s3:::{bucket}/*", {"StringEquals": {"s3:ExistingObjectTag/team": "blue"}}))
    assert attempt(lambda: bob.get_object(Bucket=bucket, Key="blue")) == "ok"
    assert attempt(lambda: bob.get_object(Bucket=bucket, Key="red")) == "AccessDenied"


# ------------------------------------------------------- copy and versions


def test_copy_source_and_metadata_directive(node, bucket, bob):
    set_policy(
        node,
        bucket,
        statement("Allow", "s3:GetObject", f"arn:aws:s3:::{bucket}/*"),
        statement(
            "Allow",
            "s3:PutObject",
            f"arn:aws:s3:::{bucket}/*",
            {"StringLike": {"s3:x-amz-copy-source": f"{bucket}/src/*"}, "StringEqualsIfExists": {"s3:x-amz-metadata-directive": "COPY"}},
        ),
    )
    copy = lambda key, **kw: attempt(lambda: bob.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": key}, **kw))  # noqa: E731
    assert copy("src/o") == "ok"
    assert copy("other/o") == "AccessDenied"
    assert copy("src/o", MetadataDirective="REPLACE", Metadata={"a": "b"}) == "AccessDenied"


def test_version_id_key(node, bucket, bob):
    admin = node.client("admin")
    admin.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = admin.put_object(Bucket=bucket, Key="v", Body=b"1")["VersionId"]
    v2 = admin.put_object(Bucket=bucket, Key="v", Body=b"2")["VersionId"]
    set_policy(node, bucket, statement("Allow", "s3:GetObjectVersion", f"arn:aws:s3:::{bucket}/*", {"StringEquals": {"s3:VersionId": v1}}))
    assert attempt(lambda: bob.get_object(Bucket=bucket, Key="v", VersionId=v1)) == "ok"
    assert attempt(lambda: bob.get_object(Bucket=bucket, Key="v", VersionId=v2)) == "AccessDenied"


# --------------------------------------- resources, principals, variables


def test_a_policy_variable_in_the_resource(node, bucket, bob):
    set_policy(node, bucket, statement("Allow", "s3:GetObject", f"arn:aws:s3:::{bucket}/home/${{aws:username}}/*", principal="*"))
    assert attempt(lambda: bob.get_object(Bucket=bucket, Key="home/bob/x")) == "ok"
    assert attempt(lambda: bob.get_object(Bucket=bucket, Key="home/admin/y")) == "AccessDenied"
    # Anonymous callers have no aws:username, so the resource matches nothing.
    assert attempt(lambda: node.anon_client().get_object(Bucket=bucket, Key="home/bob/x")) == "AccessDenied"


def test_a_wildcard_resource(node, bucket, bob):
    set_policy(node, bucket, statement("Allow", "s3:GetObject", "arn:aws:s3:::*"))
    assert attempt(lambda: bob.get_object(Bucket=bucket, Key="pub/a")) == "ok"


def test_not_principal_denies_everyone_else(node, bucket, bob):
    set_policy(
        node,
        bucket,
        statement("Allow", "s3:GetObject", f"arn:aws:s3:::{bucket}/*", principal="*"),
        statement("Deny", "s3:GetObject", f"arn:aws:s3:::{bucket}/priv/*", not_principal={"AWS": "arn:aws:iam::000000000000:user/admin"}),
    )
    assert attempt(lambda: bob.get_object(Bucket=bucket, Key="pub/a")) == "ok"
    assert attempt(lambda: bob.get_object(Bucket=bucket, Key="priv/b")) == "AccessDenied"
    assert attempt(lambda: node.anon_client().get_object(Bucket=bucket, Key="priv/b")) == "AccessDenied"
    assert attempt(lambda: node.client("admin").get_object(Bucket=bucket, Key="priv/b")) == "ok"


# ------------------------------------------------------ what is refused


def test_an_unsupported_condition_key_is_refused_by_name(node, bucket):
    doc = json.dumps({"Statement": [statement("Allow", "s3:GetObject", f"arn:aws:s3:::{bucket}/*", {"StringEquals": {"s3:object-lock-mode": "GOVERNANCE"}})]})
    with pytest.raises(ClientError) as e:
        node.client("admin").put_bucket_policy(Bucket=bucket, Policy=doc)
    assert e.value.response["Error"]["Code"] == "MalformedPolicy"
    assert "s3:object-lock-mode" in e.value.response["Error"]["Message"]


def test_policies_are_limited_to_20_kb(node, bucket):
    stmt = statement("Allow", "s3:GetObject", [f"arn:aws:s3:::{bucket}/k{i:05d}" for i in range(2000)])
    doc = json.dumps({"Statement": [stmt]})
    assert len(doc) > 20 * 1024
    with pytest.raises(ClientError) as e:
        node.client("admin").put_bucket_policy(Bucket=bucket, Policy=doc)
    assert e.value.response["Error"]["Code"] == "MalformedPolicy"


def test_the_owner_can_always_remove_a_deny_all_policy(node, bucket):
    admin = node.client("admin")
    set_policy(node, bucket, statement("Deny", "s3:*", [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"], principal="*"))
    assert attempt(lambda: admin.get_object(Bucket=bucket, Key="pub/a")) == "AccessDenied"
    assert attempt(lambda: admin.get_bucket_policy(Bucket=bucket)) == "ok"
    assert attempt(lambda: admin.delete_bucket_policy(Bucket=bucket)) == "ok"
    assert attempt(lambda: admin.get_object(Bucket=bucket, Key="pub/a")) == "ok"


# ------------------------------------------------- versioned object actions


def test_naming_a_version_asks_for_the_version_actions(node, bucket, bob):
    """GET/DELETE with ?versionId= are s3:GetObjectVersion / s3:DeleteObjectVersion,
    as IAM has them: an Allow of s3:GetObject and s3:DeleteObject alone does not
    reach old versions, and DeleteObjects asks the same per key."""
    admin = node.client("admin")
    admin.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = admin.put_object(Bucket=bucket, Key="pub/v", Body=b"one")["VersionId"]
    admin.put_object(Bucket=bucket, Key="pub/v", Body=b"two")
    objects = f"arn:aws:s3:::{bucket}/pub/*"
    set_policy(node, bucket, statement("Allow", ["s3:GetObject", "s3:DeleteObject"], objects))
    assert bob.get_object(Bucket=bucket, Key="pub/v")["Body"].read() == b"two"
    assert attempt(lambda: bob.get_object(Bucket=bucket, Key="pub/v", VersionId=first)) == "AccessDenied"
    assert attempt(lambda: bob.delete_object(Bucket=bucket, Key="pub/v", VersionId=first)) == "AccessDenied"
    batch = bob.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "pub/v", "VersionId": first}]})
    assert [e["Code"] for e in batch.get("Errors", [])] == ["AccessDenied"], batch
    assert admin.get_object(Bucket=bucket, Key="pub/v", VersionId=first)["Body"].read() == b"one"

    set_policy(node, bucket, statement("Allow", ["s3:GetObjectVersion", "s3:DeleteObjectVersion"], objects))
    assert bob.get_object(Bucket=bucket, Key="pub/v", VersionId=first)["Body"].read() == b"one"
    assert attempt(lambda: bob.get_object(Bucket=bucket, Key="pub/v")) == "AccessDenied"
    bob.delete_object(Bucket=bucket, Key="pub/v", VersionId=first)
    assert attempt(lambda: admin.head_object(Bucket=bucket, Key="pub/v", VersionId=first)) in ("404", "NoSuchVersion")
