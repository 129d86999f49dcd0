"""POST Object: browser form uploads built from boto3's `generate_presigned_post` and sent
with `requests` as multipart/form-data, as a web page would (SigV4 and SigV2 policy
signatures, `${filename}`, success_action_status/redirect, metadata, tagging and acl
fields, anonymous uploads a bucket's ACL or policy allows), and the denied cases with S3's
codes and messages (missing key, file or signature field, fields after the file ignored,
content-length-range)."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from e2e_helpers import md5_hex, parse_xml


def post(form: dict, data: bytes, filename: str = "photo.jpg", url: str | None = None) -> requests.Response:
    return requests.post(
        url or form["url"],
        data=form["fields"],
        files={"file": (filename, data, "image/jpeg")},
        timeout=30,
        allow_redirects=False,
    )


def code_of(r: requests.Response) -> str | None:
    try:
        return parse_xml(r.content).findtext("Code")
    except Exception:
        return None


def error_of(r: requests.Response) -> dict:
    """The elements of an S3 XML error body, by name."""
    return {el.tag: el.text or "" for el in parse_xml(r.content)}


def missing_field_error(name: str) -> dict:
    return {
        "Code": "InvalidArgument",
        "Message": f"Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of the fields.",
        "ArgumentName": name,
        "ArgumentValue": "",
    }


def assert_refused(r: requests.Response, status: int, expected: dict):
    assert r.status_code == status, r.text
    got = error_of(r)
    assert {k: got.get(k) for k in expected} == expected, r.text
    assert got.get("RequestId") == r.headers["x-amz-request-id"], r.text


def post_parts(url: str, parts: list[tuple[str, tuple]]) -> requests.Response:
    """A form whose parts are sent in exactly this order (fields as (None, value))."""
    return requests.post(url, files=parts, timeout=30, allow_redirects=False)


def test_a_signed_form_upload_stores_the_file_under_its_filename(s3, bucket):
    form = s3.generate_presigned_post(bucket, "uploads/${filename}", ExpiresIn=300)
    r = post(form, b"\xff\xd8jpeg bytes", filename="cat.jpg")
    assert r.status_code == 204, r.text
    got = s3.get_object(Bucket=bucket, Key="uploads/cat.jpg")
    assert got["Body"].read() == b"\xff\xd8jpeg bytes"
    assert r.headers.get("ETag", "").strip('"') == md5_hex(b"\xff\xd8jpeg bytes")


@pytest.mark.parametrize("status", ["200", "201", "204"])
def test_success_action_status_chooses_the_answer(s3, bucket, status):
    form = s3.generate_presigned_post(
        bucket, f"s{status}", Fields={"success_action_status": status},
        Conditions=[{"success_action_status": status}], ExpiresIn=300,
    )
    r = post(form, b"data")
    assert r.status_code == int(status), r.text
    if status == "201":
        root = parse_xml(r.content)
        assert root.tag == "PostResponse"
        assert root.findtext("Bucket") == bucket and root.findtext("Key") == f"s{status}"
        assert root.findtext("ETag").strip('"') == md5_hex(b"data")
    assert s3.get_object(Bucket=bucket, Key=f"s{status}")["Body"].read() == b"data"


def test_success_action_redirect_answers_303_to_the_page_with_bucket_key_and_etag(s3, bucket):
    page = "https://app.example/done?from=form"
    form = s3.generate_presigned_post(
        bucket, "redir", Fields={"success_action_redirect": page},
        Conditions=[{"success_action_redirect": page}], ExpiresIn=300,
    )
    r = post(form, b"redirected")
    assert r.status_code == 303, r.text
    loc = urlparse(r.headers["Location"])
    q = parse_qs(loc.query)
    assert (loc.scheme, loc.netloc, loc.path) == ("https", "app.example", "/done")
    assert q["bucket"] == [bucket] and q["key"] == ["redir"] and q["from"] == ["form"]
    assert q["etag"][0].strip('"') == md5_hex(b"redirected")


def test_metadata_tagging_and_acl_fields_are_applied(s3, anon, bucket):
    tagging = "<Tagging><TagSet><Tag><Key>album</Key><Value>summer 2026</Value></Tag></TagSet></Tagging>"
    fields = {
        "x-amz-meta-camera": "pinhole",
        "Content-Type": "image/png",
        "tagging": tagging,
        "acl": "public-read",
    }
    conditions = [{"x-amz-meta-camera": "pinhole"}, ["starts-with", "$Content-Type", "image/"],
                  {"tagging": tagging}, {"acl": "public-read"}]
    form = s3.generate_presigned_post(bucket, "meta.png", Fields=fields, Conditions=conditions, ExpiresIn=300)
    r = post(form, b"png")
    assert r.status_code == 204, r.text
    head = s3.head_object(Bucket=bucket, Key="meta.png")
    assert head["Metadata"] == {"camera": "pinhole"} and head["ContentType"] == "image/png"
    tags = s3.get_object_tagging(Bucket=bucket, Key="meta.png")["TagSet"]
    assert tags == [{"Key": "album", "Value": "summer 2026"}]
    assert anon.get_object(Bucket=bucket, Key="meta.png")["Body"].read() == b"png"


def test_a_sigv2_policy_signature_is_accepted(node, bucket):
    v2 = node.client(signature_version="s3")
    form = v2.generate_presigned_post(bucket, "v2/${filename}", ExpiresIn=300)
    assert "signature" in form["fields"] and "AWSAccessKeyId" in form["fields"]
    r = post(form, b"sigv2", filename="old.txt")
    assert r.status_code == 204, r.text
    assert node.client().get_object(Bucket=bucket, Key="v2/old.txt")["Body"].read() == b"sigv2"


def test_content_length_range_bounds_the_file(s3, bucket):
    form = s3.generate_presigned_post(bucket, "sized", Conditions=[["content-length-range", 2, 8]], ExpiresIn=300)
    assert post(form, b"fits").status_code == 204
    big = post(form, b"x" * 9)
    assert (big.status_code, code_of(big)) == (400, "EntityTooLarge"), big.text
    assert_refused(big, 400, {"Message": "Your proposed upload exceeds the maximum allowed size", "MaxSizeAllowed": "8"})
    small = post(form, b"x")
    assert (small.status_code, code_of(small)) == (400, "EntityTooSmall"), small.text
    assert_refused(small, 400, {"Message": "Your proposed upload is smaller than the minimum allowed size", "MinSizeAllowed": "2"})
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["sized"]


def test_a_key_outside_the_policy_prefix_is_403(s3, bucket):
    form = s3.generate_presigned_post(bucket, "mine/${filename}", ExpiresIn=300)
    form["fields"]["key"] = "elsewhere/x"
    r = post(form, b"nope")
    assert (r.status_code, code_of(r)) == (403, "AccessDenied"), r.text
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_a_field_the_policy_does_not_name_is_403(s3, bucket):
    form = s3.generate_presigned_post(bucket, "k", ExpiresIn=300)
    form["fields"]["x-amz-meta-sneaky"] = "1"
    r = post(form, b"nope")
    assert (r.status_code, code_of(r)) == (403, "AccessDenied"), r.text


def test_an_expired_policy_is_403(s3, bucket):
    form = s3.generate_presigned_post(bucket, "late", ExpiresIn=1)
    time.sleep(2.1)
    r = post(form, b"late")
    assert (r.status_code, code_of(r)) == (403, "AccessDenied"), r.text


def test_a_tampered_policy_or_signature_is_403(s3, bucket):
    form = s3.generate_presigned_post(bucket, "t", ExpiresIn=300)
    bad_sig = {**form, "fields": {**form["fields"], "x-amz-signature": "0" * 64}}
    r = post(bad_sig, b"x")
    assert (r.status_code, code_of(r)) == (403, "SignatureDoesNotMatch"), r.text
    import base64

    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    policy["conditions"].append(["content-length-range", 0, 10**9])
    forged = {**form, "fields": {**form["fields"], "policy": base64.b64encode(json.dumps(policy).encode()).decode()}}
    r = post(forged, b"x")
    assert (r.status_code, code_of(r)) == (403, "SignatureDoesNotMatch"), r.text


def test_a_form_without_a_key_field_is_400_invalid_argument_and_stores_nothing(s3, bucket):
    form = s3.generate_presigned_post(bucket, "nokey", ExpiresIn=300)
    fields = {k: v for k, v in form["fields"].items() if k != "key"}
    r = requests.post(form["url"], data=fields, files={"file": ("a", b"x")}, timeout=30)
    assert_refused(r, 400, missing_field_error("key"))
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_a_key_sent_after_the_file_is_not_read(s3, bucket):
    form = s3.generate_presigned_post(bucket, "late-key", ExpiresIn=300)
    before = [(k, (None, v)) for k, v in form["fields"].items() if k != "key"]
    r = post_parts(form["url"], before + [("file", ("a", b"x")), ("key", (None, "late-key"))])
    assert_refused(r, 400, missing_field_error("key"))
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_a_form_without_a_file_is_400_invalid_argument(s3, bucket):
    form = s3.generate_presigned_post(bucket, "nofile", ExpiresIn=300)
    r = post_parts(form["url"], [(k, (None, v)) for k, v in form["fields"].items()])
    expected = {
        "Code": "InvalidArgument",
        "Message": "POST requires exactly one file upload per request.",
        "ArgumentName": "file",
        "ArgumentValue": "0",
    }
    assert_refused(r, 400, expected)
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


@pytest.mark.parametrize("dropped", ["policy", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"])
def test_a_sigv4_form_missing_a_signature_field_is_400_naming_it(s3, bucket, dropped):
    form = s3.generate_presigned_post(bucket, "partial", ExpiresIn=300)
    fields = {k: v for k, v in form["fields"].items() if k != dropped}
    r = post({**form, "fields": fields}, b"x")
    assert_refused(r, 400, missing_field_error(dropped))
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


@pytest.mark.parametrize("dropped,named", [("policy", "policy"), ("AWSAccessKeyId", "AWSAccessKeyId"), ("signature", "signature")])
def test_a_sigv2_form_missing_a_signature_field_is_400_naming_it(node, s3, bucket, dropped, named):
    form = node.client(signature_version="s3").generate_presigned_post(bucket, "partial", ExpiresIn=300)
    fields = {k: v for k, v in form["fields"].items() if k != dropped}
    r = post({**form, "fields": fields}, b"x")
    assert_refused(r, 400, missing_field_error(named))
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_a_signature_field_missing_from_a_form_into_a_public_write_bucket_is_still_400(s3, bucket):
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    form = s3.generate_presigned_post(bucket, "partial", ExpiresIn=300)
    fields = {k: v for k, v in form["fields"].items() if k != "x-amz-signature"}
    r = post({**form, "fields": fields}, b"x")
    assert_refused(r, 400, missing_field_error("x-amz-signature"))
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_fields_after_the_file_are_ignored(s3, bucket):
    form = s3.generate_presigned_post(bucket, "ordered", ExpiresIn=300)
    before = [(k, (None, v)) for k, v in form["fields"].items()]
    after = [("x-amz-meta-after", (None, "1")), ("key", (None, "other")), ("acl", (None, "public-read"))]
    r = post_parts(form["url"], before + [("file", ("f", b"body"))] + after)
    assert r.status_code == 204, r.text
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["ordered"]
    assert s3.head_object(Bucket=bucket, Key="ordered")["Metadata"] == {}


def test_an_anonymous_form_upload_needs_a_bucket_that_allows_it(s3, bucket):
    url = f"{s3.meta.endpoint_url}/{bucket}"
    r = requests.post(url, data={"key": "anon.txt"}, files={"file": ("anon.txt", b"hi")}, timeout=30)
    assert (r.status_code, code_of(r)) == (403, "AccessDenied"), r.text
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/drop/*"}],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    r = requests.post(url, data={"key": "drop/${filename}"}, files={"file": ("anon.txt", b"hi")}, timeout=30)
    assert r.status_code == 204, r.text
    assert s3.get_object(Bucket=bucket, Key="drop/anon.txt")["Body"].read() == b"hi"
    # The policy's resource is the key: outside drop/ is still denied.
    r = requests.post(url, data={"key": "other.txt"}, files={"file": ("x", b"hi")}, timeout=30)
    assert (r.status_code, code_of(r)) == (403, "AccessDenied"), r.text


def test_an_anonymous_form_upload_into_a_public_write_bucket(s3, bucket):
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    url = f"{s3.meta.endpoint_url}/{bucket}"
    r = requests.post(url, data={"key": "acl-drop"}, files={"file": ("f", b"via acl")}, timeout=30)
    assert r.status_code == 204, r.text
    assert s3.get_object(Bucket=bucket, Key="acl-drop")["Body"].read() == b"via acl"
