"""Access control: ownership, bucket policies, canned ACLs, presigned URLs, auth errors."""

import datetime as dt
import json
import time

import requests

from e2e_helpers import (
    ALL_USERS,
    AUTH_USERS,
    KEYS,
    Key,
    describe,
    error_code,
    s3_error,
    unique_bucket,
)


def anon_get(node, bucket, key):
    return requests.get(f"{node.endpoint}/{bucket}/{key}", timeout=10)


def anon_put(node, bucket, key, body):
    return requests.put(f"{node.endpoint}/{bucket}/{key}", data=body, timeout=10)


def anon_list(node, bucket):
    return requests.get(f"{node.endpoint}/{bucket}?list-type=2", timeout=10)


def assert_denied(resp):
    assert resp.status_code == 403, describe(resp)
    assert error_code(resp) == "AccessDenied", describe(resp)


def policy(bucket, *statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def stmt(effect, principal, actions, resources, sid=None):
    s = {"Effect": effect, "Principal": principal, "Action": actions, "Resource": resources}
    if sid:
        s["Sid"] = sid
    return s


def obj_arn(bucket, pattern="*"):
    return f"arn:aws:s3:::{bucket}/{pattern}"


def bucket_arn(bucket):
    return f"arn:aws:s3:::{bucket}"


BOB = {"AWS": ["bob"]}

# ---------------------------------------------------------------- default privacy


def test_buckets_and_objects_are_private_by_default(node, s3, bob, bucket):
    s3.put_object(Bucket=bucket, Key="secret", Body=b"top secret")
    assert_denied(anon_get(node, bucket, "secret"))
    assert_denied(anon_list(node, bucket))
    assert_denied(anon_put(node, bucket, "new", b"x"))
    with s3_error("AccessDenied", 403):
        bob.get_object(Bucket=bucket, Key="secret")
    with s3_error("AccessDenied", 403):
        bob.put_object(Bucket=bucket, Key="bobs", Body=b"x")
    with s3_error("AccessDenied", 403):
        bob.list_objects_v2(Bucket=bucket)
    with s3_error("AccessDenied", 403):
        bob.delete_object(Bucket=bucket, Key="secret")
    assert s3.get_object(Bucket=bucket, Key="secret")["Body"].read() == b"top secret"
    with s3_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="new")


def test_anonymous_list_buckets_is_access_denied(node):
    r = requests.get(node.endpoint + "/", timeout=10)
    assert_denied(r)


# ---------------------------------------------------------------- bucket policy


def test_policy_allowing_get_to_everyone_enables_anonymous_get_only(node, s3, bucket):
    s3.put_object(Bucket=bucket, Key="pub.txt", Body=b"hello world")
    s3.put_bucket_policy(
        Bucket=bucket, Policy=policy(bucket, stmt("Allow", "*", "s3:GetObject", obj_arn(bucket)))
    )
    r = anon_get(node, bucket, "pub.txt")
    assert r.status_code == 200, describe(r)
    assert r.content == b"hello world"
    assert_denied(anon_put(node, bucket, "pub.txt", b"overwrite"))
    assert_denied(anon_list(node, bucket))
    assert_denied(requests.delete(f"{node.endpoint}/{bucket}/pub.txt", timeout=10))
    assert s3.get_object(Bucket=bucket, Key="pub.txt")["Body"].read() == b"hello world"


def test_policy_resource_prefix_limits_anonymous_access(node, s3, bucket):
    s3.put_object(Bucket=bucket, Key="public/a", Body=b"A")
    s3.put_object(Bucket=bucket, Key="private/b", Body=b"B")
    s3.put_bucket_policy(
        Bucket=bucket, Policy=policy(bucket, stmt("Allow", "*", "s3:GetObject", obj_arn(bucket, "public/*")))
    )
    assert anon_get(node, bucket, "public/a").content == b"A"
    assert_denied(anon_get(node, bucket, "private/b"))


def test_policy_deny_for_bob_overrides_public_allow(node, s3, bob, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=policy(
            bucket,
            stmt("Allow", "*", "s3:GetObject", obj_arn(bucket), "AllowAll"),
            stmt("Deny", BOB, "s3:GetObject", obj_arn(bucket), "DenyBob"),
        ),
    )
    assert anon_get(node, bucket, "k").content == b"data"
    with s3_error("AccessDenied", 403):
        bob.get_object(Bucket=bucket, Key="k")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"data"


def test_policy_grants_bob_listed_actions_and_deny_blocks_delete(s3, bob, bucket):
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=policy(
            bucket,
            stmt("Allow", BOB, ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], obj_arn(bucket)),
            stmt("Allow", BOB, "s3:ListBucket", bucket_arn(bucket)),
            stmt("Deny", BOB, "s3:DeleteObject", obj_arn(bucket)),
        ),
    )
    bob.put_object(Bucket=bucket, Key="from-bob", Body=b"bob wrote this")
    assert bob.get_object(Bucket=bucket, Key="from-bob")["Body"].read() == b"bob wrote this"
    assert [o["Key"] for o in bob.list_objects_v2(Bucket=bucket)["Contents"]] == ["from-bob"]
    with s3_error("AccessDenied", 403):
        bob.delete_object(Bucket=bucket, Key="from-bob")
    assert s3.get_object(Bucket=bucket, Key="from-bob")["Body"].read() == b"bob wrote this"
    # bob still cannot manage the bucket itself
    with s3_error("AccessDenied", 403):
        bob.delete_bucket_policy(Bucket=bucket)


def test_policy_allowing_bob_does_not_allow_anonymous(node, s3, bob, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"bob only")
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, stmt("Allow", BOB, "s3:GetObject", obj_arn(bucket))))
    assert bob.get_object(Bucket=bucket, Key="k")["Body"].read() == b"bob only"
    assert_denied(anon_get(node, bucket, "k"))


def test_put_get_delete_bucket_policy_roundtrip(node, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    doc = policy(bucket, stmt("Allow", "*", "s3:GetObject", obj_arn(bucket), "Pub"))
    assert s3.put_bucket_policy(Bucket=bucket, Policy=doc)["ResponseMetadata"]["HTTPStatusCode"] in (200, 204)
    got = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert got["Statement"][0]["Effect"] == "Allow"
    assert got["Statement"][0]["Sid"] == "Pub"
    assert got["Statement"][0]["Action"] in ("s3:GetObject", ["s3:GetObject"])
    assert got["Statement"][0]["Resource"] in (obj_arn(bucket), [obj_arn(bucket)])
    assert anon_get(node, bucket, "k").status_code == 200
    assert s3.delete_bucket_policy(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with s3_error("NoSuchBucketPolicy", 404):
        s3.get_bucket_policy(Bucket=bucket)
    assert_denied(anon_get(node, bucket, "k"))


def test_get_policy_without_one_is_no_such_bucket_policy(s3, bucket):
    with s3_error("NoSuchBucketPolicy", 404):
        s3.get_bucket_policy(Bucket=bucket)


def test_malformed_policy_is_rejected(s3, bucket):
    with s3_error("MalformedPolicy", 400):
        s3.put_bucket_policy(Bucket=bucket, Policy="{not json")
    with s3_error("MalformedPolicy", 400):
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Maybe"}]}))


def test_only_owner_can_set_bucket_policy(bob, bucket):
    with s3_error("AccessDenied", 403):
        bob.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, stmt("Allow", "*", "s3:*", obj_arn(bucket))))
    with s3_error("AccessDenied", 403):
        bob.get_bucket_policy(Bucket=bucket)


# ---------------------------------------------------------------- canned ACLs


def grants(acl):
    out = set()
    for g in acl["Grants"]:
        gr = g["Grantee"]
        out.add((gr.get("URI") or gr.get("ID"), g["Permission"]))
    return out


def test_default_bucket_acl_is_owner_full_control(s3, bucket):
    acl = s3.get_bucket_acl(Bucket=bucket)
    owner = acl["Owner"]["ID"]
    assert owner
    assert grants(acl) == {(owner, "FULL_CONTROL")}


def test_create_bucket_public_read_allows_anonymous_list_but_not_object_read(node, s3, bucket_name):
    s3.create_bucket(Bucket=bucket_name, ACL="public-read")
    s3.put_object(Bucket=bucket_name, Key="listed", Body=b"x")
    r = anon_list(node, bucket_name)
    assert r.status_code == 200, describe(r)
    assert b"<Key>listed</Key>" in r.content
    assert_denied(anon_put(node, bucket_name, "anon", b"x"))
    assert_denied(anon_get(node, bucket_name, "listed"))
    acl = s3.get_bucket_acl(Bucket=bucket_name)
    assert (ALL_USERS, "READ") in grants(acl)


def test_create_bucket_public_read_write_allows_anonymous_put(node, s3, bucket_name):
    s3.create_bucket(Bucket=bucket_name, ACL="public-read-write")
    r = anon_put(node, bucket_name, "dropbox", b"anonymous upload")
    assert r.status_code == 200, describe(r)
    assert s3.get_object(Bucket=bucket_name, Key="dropbox")["Body"].read() == b"anonymous upload"
    acl = s3.get_bucket_acl(Bucket=bucket_name)
    assert {(ALL_USERS, "READ"), (ALL_USERS, "WRITE")} <= grants(acl)


def test_create_bucket_authenticated_read_allows_bob_list_not_anonymous(node, s3, bob, bucket_name):
    s3.create_bucket(Bucket=bucket_name, ACL="authenticated-read")
    s3.put_object(Bucket=bucket_name, Key="k", Body=b"x")
    assert [o["Key"] for o in bob.list_objects_v2(Bucket=bucket_name)["Contents"]] == ["k"]
    assert_denied(anon_list(node, bucket_name))
    assert (AUTH_USERS, "READ") in grants(s3.get_bucket_acl(Bucket=bucket_name))


def test_put_bucket_acl_changes_anonymous_access(node, s3, bucket):
    assert_denied(anon_list(node, bucket))
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert anon_list(node, bucket).status_code == 200
    assert (ALL_USERS, "READ") in grants(s3.get_bucket_acl(Bucket=bucket))
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    assert_denied(anon_list(node, bucket))
    owner = s3.get_bucket_acl(Bucket=bucket)["Owner"]["ID"]
    assert grants(s3.get_bucket_acl(Bucket=bucket)) == {(owner, "FULL_CONTROL")}


def test_put_object_with_public_read_acl_allows_anonymous_get_of_that_object_only(node, s3, bucket):
    s3.put_object(Bucket=bucket, Key="open", Body=b"public bytes", ACL="public-read")
    s3.put_object(Bucket=bucket, Key="closed", Body=b"private bytes")
    r = anon_get(node, bucket, "open")
    assert r.status_code == 200, describe(r)
    assert r.content == b"public bytes"
    assert_denied(anon_get(node, bucket, "closed"))
    assert_denied(anon_put(node, bucket, "open", b"overwrite"))
    acl = s3.get_object_acl(Bucket=bucket, Key="open")
    assert (ALL_USERS, "READ") in grants(acl)
    assert (acl["Owner"]["ID"], "FULL_CONTROL") in grants(acl)


def test_put_object_acl_toggles_anonymous_read(node, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"toggle")
    assert_denied(anon_get(node, bucket, "k"))
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="public-read")
    assert anon_get(node, bucket, "k").content == b"toggle"
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="private")
    assert_denied(anon_get(node, bucket, "k"))
    acl = s3.get_object_acl(Bucket=bucket, Key="k")
    assert grants(acl) == {(acl["Owner"]["ID"], "FULL_CONTROL")}


def test_object_authenticated_read_acl_allows_bob_not_anonymous(node, s3, bob, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"members", ACL="authenticated-read")
    assert bob.get_object(Bucket=bucket, Key="k")["Body"].read() == b"members"
    assert_denied(anon_get(node, bucket, "k"))
    with s3_error("AccessDenied", 403):
        bob.put_object(Bucket=bucket, Key="k", Body=b"no")


def test_object_acl_of_missing_key_is_no_such_key(s3, bucket):
    with s3_error("NoSuchKey", 404):
        s3.get_object_acl(Bucket=bucket, Key="missing")


def test_only_owner_can_change_acls(bob, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with s3_error("AccessDenied", 403):
        bob.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    with s3_error("AccessDenied", 403):
        bob.put_object_acl(Bucket=bucket, Key="k", ACL="public-read")


# ---------------------------------------------------------------- presigned URLs


def test_presigned_get_url_works_without_credentials(node, s3, bucket):
    s3.put_object(Bucket=bucket, Key="dir/pre signed.bin", Body=b"\x00presigned\xff")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "dir/pre signed.bin"}, ExpiresIn=300)
    assert "X-Amz-Signature=" in url
    r = requests.get(url, timeout=10)
    assert r.status_code == 200, describe(r)
    assert r.content == b"\x00presigned\xff"


def test_presigned_put_url_uploads_without_credentials(node, s3, bucket):
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "uploaded"}, ExpiresIn=300)
    r = requests.put(url, data=b"via presigned put", timeout=10)
    assert r.status_code == 200, describe(r)
    assert s3.get_object(Bucket=bucket, Key="uploaded")["Body"].read() == b"via presigned put"


def test_expired_presigned_url_is_access_denied(node, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=1)
    time.sleep(2.5)
    r = requests.get(url, timeout=10)
    assert r.status_code == 403, describe(r)
    assert error_code(r) == "AccessDenied", describe(r)


def test_tampered_presigned_url_is_signature_does_not_match(node, s3, bucket):
    s3.put_object(Bucket=bucket, Key="a", Body=b"a")
    s3.put_object(Bucket=bucket, Key="b", Body=b"b")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "a"}, ExpiresIn=300)
    r = requests.get(url.replace(f"/{bucket}/a?", f"/{bucket}/b?"), timeout=10)
    assert r.status_code == 403, describe(r)
    assert error_code(r) == "SignatureDoesNotMatch", describe(r)


def test_presigned_url_of_principal_without_access_is_denied(node, bob, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    url = bob.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=300)
    r = requests.get(url, timeout=10)
    assert r.status_code == 403, describe(r)
    assert error_code(r) == "AccessDenied", describe(r)


# ---------------------------------------------------------------- authentication errors


def test_wrong_secret_is_signature_does_not_match(node, bucket):
    bad = node.client(key=Key(KEYS["admin"].access_key_id, "wrong-secret-000000000000000000000000", "admin"))
    with s3_error("SignatureDoesNotMatch", 403):
        bad.list_objects_v2(Bucket=bucket)
    with s3_error("SignatureDoesNotMatch", 403):
        bad.put_object(Bucket=bucket, Key="k", Body=b"x")


def test_unknown_access_key_is_invalid_access_key_id(node, bucket):
    bad = node.client(key=Key("AKIAUNKNOWN000000000", "whatever0000000000000000000000000000000", "x"))
    with s3_error("InvalidAccessKeyId", 403):
        bad.list_buckets()
    with s3_error("InvalidAccessKeyId", 403):
        bad.get_object(Bucket=bucket, Key="k")


def test_request_signed_an_hour_off_is_request_time_too_skewed(node, bucket):
    for delta in (dt.timedelta(hours=1), dt.timedelta(hours=-1)):
        r = node.request("GET", f"/{bucket}", query=[("list-type", "2")], now=dt.datetime.now(dt.timezone.utc) + delta)
        assert r.status_code == 403, describe(r)
        assert error_code(r) == "RequestTimeTooSkewed", describe(r)
    r = node.request("GET", f"/{bucket}", query=[("list-type", "2")], now=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=2))
    assert r.status_code == 200, describe(r)


def test_signature_over_modified_header_is_signature_does_not_match(node, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    r = node.request("GET", f"/{bucket}/k", headers={"Range": "bytes=0-0"})
    assert r.status_code == 206, describe(r)
    import e2e_helpers as h

    signed = h.sigv4_sign("GET", f"/{bucket}/k", [], {"Host": f"127.0.0.1:{node.port}", "Range": "bytes=0-0"},
                          h.EMPTY_SHA256, KEYS["admin"])
    hdrs = dict(signed.headers)
    hdrs["Range"] = "bytes=0-1"
    r = requests.get(f"{node.endpoint}/{bucket}/k", headers=hdrs, timeout=10)
    assert r.status_code == 403, describe(r)
    assert error_code(r) == "SignatureDoesNotMatch", describe(r)


def test_bucket_created_by_bob_is_owned_by_bob_and_private(node, s3, bob, bucket):
    b = unique_bucket("bob-owned")
    bob.create_bucket(Bucket=b)
    bob.put_object(Bucket=b, Key="k", Body=b"bob's")
    assert bob.get_object(Bucket=b, Key="k")["Body"].read() == b"bob's"
    assert_denied(anon_get(node, b, "k"))
    bob_owner = bob.get_bucket_acl(Bucket=b)["Owner"]["ID"]
    admin_owner = s3.get_bucket_acl(Bucket=bucket)["Owner"]["ID"]
    assert bob_owner and admin_owner and bob_owner != admin_owner


def test_presigned_url_with_unknown_key_is_invalid_access_key_id(node, bucket):
    bad = node.client(key=Key("AKIAUNKNOWN000000000", "whatever0000000000000000000000000000000", "x"))
    url = bad.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=300)
    r = requests.get(url, timeout=10)
    assert r.status_code == 403, describe(r)
    assert error_code(r) == "InvalidAccessKeyId", describe(r)
