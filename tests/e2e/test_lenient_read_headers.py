"""Range and conditional headers as RFC 9110 and S3 treat them: on GET and
HEAD, an unparsable Range or a malformed If-Modified-Since/If-Unmodified-Since
is ignored (200 with the whole object), whether the client signed the header
(boto3 signs every header) or not (a presigned URL, an anonymous read); a valid
date in an obsolete format is understood."""

from __future__ import annotations

import datetime as dt
import email.utils

import pytest
import requests

from e2e_helpers import http_status, s3_error, unique_bucket

BODY = b"0123456789abcdef"
BAD_RANGES = ["bytes=abc", "items=0-1", "bytes=0-1,3-4", "bytes=5-2", "bytes=-", "bytes 0-1"]


@pytest.fixture(scope="module")
def bucket(node):
    s3 = node.client()
    name = unique_bucket("lenient")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="obj", Body=BODY)
    return name


@pytest.mark.parametrize("rng", BAD_RANGES)
def test_an_unparsable_signed_range_is_ignored_by_get_and_head(node, bucket, rng):
    s3 = node.client()
    got = s3.get_object(Bucket=bucket, Key="obj", Range=rng)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert got["Body"].read() == BODY
    assert "ContentRange" not in got
    head = s3.head_object(Bucket=bucket, Key="obj", Range=rng)
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert head["ContentLength"] == len(BODY)


def test_valid_and_unsatisfiable_ranges_keep_their_meaning(node, bucket):
    s3 = node.client()
    got = s3.get_object(Bucket=bucket, Key="obj", Range="bytes=2-5")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["Body"].read() == b"2345"
    with s3_error("InvalidRange", 416):
        s3.get_object(Bucket=bucket, Key="obj", Range="bytes=100-200")


def test_an_unparsable_range_on_a_presigned_or_anonymous_get_is_ignored(node, bucket):
    s3 = node.client()
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "obj"}, ExpiresIn=300)
    r = requests.get(url, headers={"Range": "bytes=abc"}, timeout=10)
    assert (r.status_code, r.content) == (200, BODY)
    public = unique_bucket("lenient-public")
    s3.create_bucket(Bucket=public)
    s3.put_object(Bucket=public, Key="obj", Body=BODY, ACL="public-read")
    r = requests.get(f"{node.endpoint}/{public}/obj", headers={"Range": "items=0-1"}, timeout=10)
    assert (r.status_code, r.content) == (200, BODY)


@pytest.mark.parametrize("name", ["If-Modified-Since", "If-Unmodified-Since"])
@pytest.mark.parametrize("value", ["not a date", "Mon, 32 Foo 2024 99:00:00 GMT", "0"])
def test_a_malformed_conditional_date_is_ignored(node, bucket, name, value):
    for method in ("GET", "HEAD"):
        r = node.request(method, f"/{bucket}/obj", headers={name: value})  # signed, header included
        assert r.status_code == 200, (method, r.status_code, r.content)
        assert int(r.headers["Content-Length"]) == len(BODY)
        if method == "GET":
            assert r.content == BODY


def test_a_valid_date_in_the_rfc_2822_form_still_applies(node, bucket):
    future = email.utils.format_datetime(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1))  # "+0000" form
    past = email.utils.format_datetime(dt.datetime(2001, 1, 1, tzinfo=dt.timezone.utc))
    assert future.endswith("+0000")
    assert node.request("GET", f"/{bucket}/obj", headers={"If-Modified-Since": future}).status_code == 304
    assert node.request("GET", f"/{bucket}/obj", headers={"If-Unmodified-Since": past}).status_code == 412
    s3 = node.client()
    with http_status(304):
        s3.head_object(Bucket=bucket, Key="obj", IfModifiedSince=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1))
