"""CreateBucket / HeadBucket / DeleteBucket / ListBuckets / GetBucketLocation."""

import pytest

from e2e_helpers import describe, error_code, http_status, s3_error, unique_bucket


def test_create_head_list_delete_bucket_roundtrip(s3, bucket_name):
    r = s3.create_bucket(Bucket=bucket_name)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.head_bucket(Bucket=bucket_name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert bucket_name in names
    assert s3.delete_bucket(Bucket=bucket_name)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with http_status(404):
        s3.head_bucket(Bucket=bucket_name)
    assert bucket_name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_list_buckets_is_sorted_and_has_creation_dates(s3):
    names = sorted(unique_bucket("lst") for _ in range(3))
    for n in reversed(names):
        s3.create_bucket(Bucket=n)
    listed = s3.list_buckets()["Buckets"]
    ours = [b for b in listed if b["Name"] in names]
    assert [b["Name"] for b in ours] == names
    assert all(b.get("CreationDate") is not None for b in ours)
    all_names = [b["Name"] for b in listed]
    assert all_names == sorted(all_names)


def test_list_buckets_shows_only_callers_own_buckets(s3, bob, bucket):
    bob_bucket = unique_bucket("bobs")
    bob.create_bucket(Bucket=bob_bucket)
    bob_names = [b["Name"] for b in bob.list_buckets()["Buckets"]]
    admin_names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert bob_bucket in bob_names and bucket not in bob_names
    assert bucket in admin_names and bob_bucket not in admin_names


def test_recreating_own_bucket_answers_200_as_s3_does_in_us_east_1(s3, bucket):
    # Signed for us-east-1, S3's legacy rule applies: the owner gets 200 (a peer
    # region's bucket stays 409 BucketAlreadyOwnedByYou: test_replication_objects).
    assert s3.create_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_creating_bucket_owned_by_another_principal_is_bucket_already_exists(bob, bucket):
    with s3_error("BucketAlreadyExists", 409):
        bob.create_bucket(Bucket=bucket)


@pytest.mark.parametrize(
    "name",
    [
        "ab",  # too short
        "a" * 64,  # too long
        "UpperCase",  # upper case
        "under_score",
        "-leading-dash",
        "trailing-dash-",
        "double..dots",
        "192.168.10.20",  # IP address
        "xn--prefix-reserved",
        "suffix-s3alias",
    ],
)
def test_invalid_bucket_name_is_rejected(node, name):
    r = node.request("PUT", f"/{name}")
    assert r.status_code == 400, describe(r)
    assert error_code(r) == "InvalidBucketName", describe(r)
    # and nothing was created
    r = node.request("HEAD", f"/{name}")
    assert r.status_code in (400, 404), describe(r)


def test_valid_edge_case_bucket_names_are_accepted(s3):
    names = ["abc", "a" * 63, "with.dots.ok", "0numeric-start9"]
    for n in names:
        s3.create_bucket(Bucket=n)
        assert s3.head_bucket(Bucket=n)["ResponseMetadata"]["HTTPStatusCode"] == 200
        s3.delete_bucket(Bucket=n)


def test_head_missing_bucket_is_404(s3):
    with http_status(404):
        s3.head_bucket(Bucket=unique_bucket("missing"))


def test_operations_on_missing_bucket_are_no_such_bucket(s3):
    b = unique_bucket("missing")
    with s3_error("NoSuchBucket", 404):
        s3.list_objects_v2(Bucket=b)
    with s3_error("NoSuchBucket", 404):
        s3.put_object(Bucket=b, Key="k", Body=b"x")
    with s3_error("NoSuchBucket", 404):
        s3.get_object(Bucket=b, Key="k")
    with s3_error("NoSuchBucket", 404):
        s3.delete_bucket(Bucket=b)


def test_delete_non_empty_bucket_is_bucket_not_empty(s3, bucket):
    s3.put_object(Bucket=bucket, Key="keep", Body=b"data")
    with s3_error("BucketNotEmpty", 409):
        s3.delete_bucket(Bucket=bucket)
    assert s3.get_object(Bucket=bucket, Key="keep")["Body"].read() == b"data"
    s3.delete_object(Bucket=bucket, Key="keep")
    assert s3.delete_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_versioned_bucket_with_only_delete_markers_is_not_empty(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"v1")
    s3.delete_object(Bucket=bucket, Key="k")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    with s3_error("BucketNotEmpty", 409):
        s3.delete_bucket(Bucket=bucket)


def test_bucket_can_be_recreated_after_delete(s3, bucket):
    s3.put_object(Bucket=bucket, Key="old", Body=b"old")
    s3.delete_object(Bucket=bucket, Key="old")
    s3.delete_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=bucket)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_other_principal_cannot_head_or_delete_bucket(bob, s3, bucket):
    with http_status(403):
        bob.head_bucket(Bucket=bucket)
    with s3_error("AccessDenied", 403):
        bob.delete_bucket(Bucket=bucket)
    assert s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_get_bucket_location_returns_node_region(node, s3, bucket):
    loc = s3.get_bucket_location(Bucket=bucket)
    assert loc["LocationConstraint"] == node.region


def test_get_bucket_location_of_missing_bucket_is_no_such_bucket(s3):
    with s3_error("NoSuchBucket", 404):
        s3.get_bucket_location(Bucket=unique_bucket("missing"))
