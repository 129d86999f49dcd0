"""Object tagging and bucket replication configuration."""

import pytest
from e2e_helpers import describe, error_code, md5_b64, s3_error


def tagset(resp):
    return sorted((t["Key"], t["Value"]) for t in resp["TagSet"])


# ---------------------------------------------------------------- tagging


def test_tagging_header_on_put_is_returned_by_get_object_tagging(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="team=storage&env=test%20env")
    assert tagset(s3.get_object_tagging(Bucket=bucket, Key="k")) == [("env", "test env"), ("team", "storage")]
    assert s3.get_object(Bucket=bucket, Key="k")["TagCount"] == 2


def test_put_object_tagging_replaces_tags_and_delete_clears_them(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="old=1")
    s3.put_object_tagging(
        Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "two"}]}
    )
    assert tagset(s3.get_object_tagging(Bucket=bucket, Key="k")) == [("a", "1"), ("b", "two")]
    assert s3.delete_object_tagging(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_object_without_tags_has_empty_tag_set(s3, bucket):
    s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    assert s3.get_object_tagging(Bucket=bucket, Key="plain")["TagSet"] == []


def test_tagging_missing_object_is_no_such_key(s3, bucket):
    with s3_error("NoSuchKey", 404):
        s3.get_object_tagging(Bucket=bucket, Key="missing")
    with s3_error("NoSuchKey", 404):
        s3.put_object_tagging(Bucket=bucket, Key="missing", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})


def test_tags_survive_copy_by_default(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"x", Tagging="copy=me")
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert tagset(s3.get_object_tagging(Bucket=bucket, Key="dst")) == [("copy", "me")]


def test_tagging_specific_version(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"1", Tagging="v=1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"2", Tagging="v=2")
    assert tagset(s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=v1)) == [("v", "1")]
    assert tagset(s3.get_object_tagging(Bucket=bucket, Key="k")) == [("v", "2")]


def test_other_principal_cannot_read_tags(bob, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=b")
    with s3_error("AccessDenied", 403):
        bob.get_object_tagging(Bucket=bucket, Key="k")


# ---------------------------------------------------------------- replication

REPLICATION = {
    "Role": "arn:aws:iam::123456789012:role/tandem-replication",
    "Rules": [
        {
            "ID": "to-eu",
            "Priority": 1,
            "Status": "Enabled",
            "Filter": {"Prefix": "docs/"},
            "DeleteMarkerReplication": {"Status": "Enabled"},
            "Destination": {"Bucket": "arn:aws:s3:::destination-bucket"},
        }
    ],
}


@pytest.fixture(scope="module")
def destination(node):
    """The bucket the rules name: replication rules must name an existing bucket."""
    node.client("admin").create_bucket(Bucket="destination-bucket")
    return "destination-bucket"


def test_replication_to_a_bucket_nobody_holds_is_refused(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    config = {**REPLICATION, "Rules": [{**REPLICATION["Rules"][0], "Destination": {"Bucket": "arn:aws:s3:::no-such-destination"}}]}
    with s3_error("InvalidRequest", 400):
        s3.put_bucket_replication(Bucket=bucket, ReplicationConfiguration=config)


def test_versioning_cannot_be_suspended_under_replication(s3, bucket, destination):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_replication(Bucket=bucket, ReplicationConfiguration=REPLICATION)
    with s3_error("InvalidBucketState", 409):
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


def test_put_get_delete_bucket_replication_roundtrip(s3, bucket, destination):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_replication(Bucket=bucket, ReplicationConfiguration=REPLICATION)
    got = s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"]
    assert got["Role"] == REPLICATION["Role"]
    assert len(got["Rules"]) == 1
    rule = got["Rules"][0]
    assert rule["ID"] == "to-eu"
    assert rule["Status"] == "Enabled"
    assert rule["Priority"] == 1
    assert rule["Filter"] == {"Prefix": "docs/"}
    assert rule["Destination"]["Bucket"] == "arn:aws:s3:::destination-bucket"
    assert rule["DeleteMarkerReplication"] == {"Status": "Enabled"}
    assert s3.delete_bucket_replication(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with s3_error("ReplicationConfigurationNotFoundError", 404):
        s3.get_bucket_replication(Bucket=bucket)


def test_get_replication_without_configuration_is_not_found(s3, bucket):
    with s3_error("ReplicationConfigurationNotFoundError", 404):
        s3.get_bucket_replication(Bucket=bucket)


def test_malformed_replication_xml_is_rejected(node, s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    body = b"<ReplicationConfiguration><Role>arn:x</Role><Rule><Status>Enabled"
    r = node.request("PUT", f"/{bucket}", query=[("replication", "")], body=body,
                     headers={"Content-MD5": md5_b64(body)})
    assert r.status_code == 400, describe(r)
    assert error_code(r) == "MalformedXML", describe(r)
    with s3_error("ReplicationConfigurationNotFoundError", 404):
        s3.get_bucket_replication(Bucket=bucket)


def test_replication_without_rules_or_destination_is_rejected(node, s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for body in (
        b"<ReplicationConfiguration><Role>arn:aws:iam::1:role/r</Role></ReplicationConfiguration>",
        b"<ReplicationConfiguration><Role>arn:aws:iam::1:role/r</Role><Rule><ID>x</ID>"
        b"<Status>Enabled</Status><Prefix></Prefix></Rule></ReplicationConfiguration>",
    ):
        r = node.request("PUT", f"/{bucket}", query=[("replication", "")], body=body,
                         headers={"Content-MD5": md5_b64(body)})
        assert r.status_code == 400, describe(r)
        assert error_code(r) in ("MalformedXML", "InvalidRequest"), describe(r)
    with s3_error("ReplicationConfigurationNotFoundError", 404):
        s3.get_bucket_replication(Bucket=bucket)


def test_only_owner_can_configure_replication(bob, s3, bucket, destination):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    with s3_error("AccessDenied", 403):
        bob.put_bucket_replication(Bucket=bucket, ReplicationConfiguration=REPLICATION)
