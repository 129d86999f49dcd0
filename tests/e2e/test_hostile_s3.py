"""Regression tests for hostile S3 requests found by an adversarial probe: a
presigned URL whose holder adds unsigned `x-amz-*` headers (making the object
public), a replayed SigV2 request with a Date in 2001, unparsable Range and
If-Modified-Since headers (ignored, as RFC 9110 and S3 do), and control
characters in echoed parameters (refused or escaped, so every answer parses)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from email.utils import formatdate

import pytest
import requests

from e2e_helpers import KEYS, parse_xml, unique_bucket, xml_error

BODY = b"private bytes"


@pytest.fixture(scope="module")
def bucket(node):
    s3 = node.client()
    name = unique_bucket("hostile")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="obj", Body=BODY)
    return name


def test_presigned_put_with_unsigned_acl_header_is_refused_and_creates_nothing(node, bucket):
    s3 = node.client()
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "presigned"}, ExpiresIn=300)
    for extra in ({"x-amz-acl": "public-read"}, {"x-amz-grant-read": 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'}):
        r = requests.put(url, data=b"attacker", headers=extra, timeout=10)
        assert r.status_code == 403, (r.status_code, r.text)
        code, message = xml_error(r.content)
        assert code == "AccessDenied" and "not signed" in (message or ""), r.text
        assert requests.get(f"{node.endpoint}/{bucket}/presigned", timeout=10).status_code in (403, 404)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="presigned")
    r = requests.put(url, data=b"as signed", timeout=10)
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket=bucket, Key="presigned")["Body"].read() == b"as signed"
    assert requests.get(f"{node.endpoint}/{bucket}/presigned", timeout=10).status_code == 403


def sigv2_get(node, path: str, date: str) -> requests.Response:
    """A GET signed with SigV2 header auth over `date` (botocore's signer always
    stamps the current time, so the string to sign is built here)."""
    key = KEYS["admin"]
    string_to_sign = f"GET\n\n\n{date}\n{path}"
    digest = hmac.new(key.secret_access_key.encode(), string_to_sign.encode(), hashlib.sha1).digest()
    headers = {"Date": date, "Authorization": f"AWS {key.access_key_id}:{base64.b64encode(digest).decode()}"}
    return requests.get(node.endpoint + path, headers=headers, timeout=10)


def test_sigv2_request_with_a_stale_date_is_refused(node, bucket):
    fresh = sigv2_get(node, f"/{bucket}/obj", formatdate(usegmt=True))
    assert fresh.status_code == 200 and fresh.content == BODY, fresh.text
    stale = sigv2_get(node, f"/{bucket}/obj", "Mon, 01 Jan 2001 00:00:00 GMT")
    assert stale.status_code == 403, stale.text
    assert xml_error(stale.content)[0] == "RequestTimeTooSkewed", stale.text


@pytest.mark.parametrize("header", [{"Range": "bytes=abc"}, {"Range": "items=0-1"}, {"If-Modified-Since": "not a date"}, {"If-Unmodified-Since": "32 Foo 99"}])
def test_unparsable_range_and_conditional_headers_are_ignored(node, bucket, header):
    for method in ("GET", "HEAD"):
        r = node.request(method, f"/{bucket}/obj", headers=header)
        assert r.status_code == 200, (method, header, r.status_code, r.text)
        assert int(r.headers["Content-Length"]) == len(BODY)
        if method == "GET":
            assert r.content == BODY


@pytest.mark.parametrize("param", ["versionId", "uploadId", "key-marker", "prefix"])
def test_control_characters_in_echoed_parameters_never_break_the_xml(node, bucket, param):
    path = f"/{bucket}/obj" if param in ("versionId", "uploadId") else f"/{bucket}"
    query = [(param, "a\x00b\x01c")]
    if param == "key-marker":
        query.append(("versions", ""))
    r = node.request("GET", path, query=query)
    if r.status_code >= 400:
        assert r.status_code < 500, r.text
        code, _ = xml_error(r.content)
        assert code in ("InvalidArgument", "NoSuchVersion", "NoSuchUpload", "InvalidRequest"), r.text
    else:
        parse_xml(r.content)
