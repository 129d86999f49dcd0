"""Signed headers and request times as AWS requires them.

- Every x-amz-* header present must be signed (SigV4 header and presigned
  forms, S3 and DynamoDB); AWS answers 403 AccessDenied "There were headers
  present in the request which were not signed" with HeadersNotSigned.
- The SigV4 credential scope's date must be the date of x-amz-date.
- SigV2 header auth checks Date / x-amz-date against the 15-minute window.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import hashlib
import hmac
import json

import boto3
import requests
from botocore.config import Config

from e2e_helpers import ALL_USERS, KEYS, SIGNING_REGION, parse_xml, sha256_hex, sigv4_sign, unique_bucket, xml_error


def error_of(resp: requests.Response) -> tuple[str | None, dict]:
    root = parse_xml(resp.content)
    return root.findtext("Code"), {el.tag: el.text for el in root}


# -- unsigned x-amz-* headers ------------------------------------------------


def test_presigned_put_with_unsigned_acl_header_is_refused(node, s3):
    bucket = unique_bucket("presigned-acl")
    s3.create_bucket(Bucket=bucket)
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=300)
    for extra in ({"x-amz-acl": "public-read"}, {"x-amz-grant-read": f'uri="{ALL_USERS}"'}):
        r = requests.put(url, data=b"secret", headers=extra, timeout=10)
        assert r.status_code == 403, r.content
        code, fields = error_of(r)
        assert code == "AccessDenied"
        assert fields["Message"] == "There were headers present in the request which were not signed"
        assert fields["HeadersNotSigned"] == next(iter(extra))
        assert "Contents" not in s3.list_objects_v2(Bucket=bucket), "the refused PUT created the object"
    # The same URL without the extra header works, and the object stays private.
    r = requests.put(url, data=b"secret", timeout=10)
    assert r.status_code == 200, r.content
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"secret"
    assert requests.get(f"{node.endpoint}/{bucket}/k", timeout=10).status_code == 403
    grants = s3.get_object_acl(Bucket=bucket, Key="k")["Grants"]
    assert all(g["Grantee"].get("URI") != ALL_USERS for g in grants)


def test_presigned_get_and_put_by_boto3_keep_working_with_an_unsigned_payload_hash(node, s3):
    bucket = unique_bucket("presigned-ok")
    s3.create_bucket(Bucket=bucket)
    put = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=300)
    r = requests.put(put, data=b"data", headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}, timeout=10)
    assert r.status_code == 200, r.content
    get = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=300)
    r = requests.get(get, timeout=10)
    assert (r.status_code, r.content) == (200, b"data")


def test_a_presigned_url_that_signs_the_acl_may_set_it(node, s3):
    bucket = unique_bucket("presigned-signed-acl")
    s3.create_bucket(Bucket=bucket)
    url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "k", "ACL": "public-read"}, ExpiresIn=300
    )
    # botocore lists x-amz-acl among the signed headers; the holder sends it.
    assert "X-Amz-SignedHeaders=host%3Bx-amz-acl" in url
    r = requests.put(url, data=b"public", headers={"x-amz-acl": "public-read"}, timeout=10)
    assert r.status_code == 200, r.content
    assert requests.get(f"{node.endpoint}/{bucket}/k", timeout=10).content == b"public"


def test_a_header_signed_request_with_an_added_unsigned_x_amz_header_is_refused(node, s3):
    bucket = unique_bucket("header-unsigned")
    s3.create_bucket(Bucket=bucket)
    body = b"x"
    signed = sigv4_sign(
        "PUT", f"/{bucket}/k", [], {"Host": f"127.0.0.1:{node.port}"}, sha256_hex(body), KEYS["admin"]
    ).headers
    signed["x-amz-meta-added"] = "later"
    signed["x-amz-acl"] = "public-read"
    r = requests.put(f"{node.endpoint}/{bucket}/k", data=body, headers=signed, timeout=10)
    assert r.status_code == 403, r.content
    code, fields = error_of(r)
    assert code == "AccessDenied"
    assert sorted(fields["HeadersNotSigned"].split(", ")) == ["x-amz-acl", "x-amz-meta-added"]
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def dynamo_request(node, target: str, body: dict, extra: dict | None = None, now: dt.datetime | None = None):
    data = json.dumps(body).encode()
    headers = {
        "Host": f"127.0.0.1:{node.port}",
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": f"DynamoDB_20120810.{target}",
    }
    signed = sigv4_sign("POST", "/", [], headers, sha256_hex(data), KEYS["admin"], now=now, service="dynamodb").headers
    signed.update(extra or {})
    return requests.post(node.endpoint + "/", data=data, headers=signed, timeout=10)


def test_dynamodb_refuses_an_unsigned_x_amz_header_and_boto3_still_works(node):
    r = dynamo_request(node, "ListTables", {})
    assert r.status_code == 200, r.content
    r = dynamo_request(node, "ListTables", {}, extra={"x-amz-security-token": "forged"})
    assert r.status_code == 400, r.content
    assert r.json()["__type"].endswith("InvalidSignatureException")
    assert "x-amz-security-token" in r.json()["message"]
    ddb = boto3.session.Session().client(
        "dynamodb",
        endpoint_url=node.endpoint,
        region_name=SIGNING_REGION,
        aws_access_key_id=KEYS["admin"].access_key_id,
        aws_secret_access_key=KEYS["admin"].secret_access_key,
        config=Config(retries={"total_max_attempts": 1}),
    )
    assert "TableNames" in ddb.list_tables()


# -- the credential scope's date ---------------------------------------------


def test_a_credential_scope_dated_another_day_is_malformed(node, s3):
    bucket = unique_bucket("scope-date")
    s3.create_bucket(Bucket=bucket)
    now = dt.datetime.now(dt.timezone.utc)
    signed = sigv4_sign(
        "GET", f"/{bucket}", [], {"Host": f"127.0.0.1:{node.port}"}, sha256_hex(b""), KEYS["admin"],
        now=now - dt.timedelta(days=1),
    ).headers
    signed["x-amz-date"] = now.strftime("%Y%m%dT%H%M%SZ")
    r = requests.get(f"{node.endpoint}/{bucket}", headers=signed, timeout=10)
    assert r.status_code == 400, r.content
    code, fields = error_of(r)
    assert code == "AuthorizationHeaderMalformed"
    assert "Date is not the same as X-Amz-Date" in fields["Message"]
    url = s3.generate_presigned_url("list_objects_v2", Params={"Bucket": bucket}, ExpiresIn=300)
    yesterday = (now - dt.timedelta(days=1)).strftime("%Y%m%d")
    forged = url.replace(f"%2F{now.strftime('%Y%m%d')}%2F", f"%2F{yesterday}%2F")
    assert forged != url
    r = requests.get(forged, timeout=10)
    assert (r.status_code, xml_error(r.content)[0]) == (400, "AuthorizationQueryParametersError")
    r = dynamo_request(node, "ListTables", {}, now=now - dt.timedelta(days=1), extra={"x-amz-date": signed["x-amz-date"]})
    assert r.status_code == 400 and "Credential scope" in r.json()["message"], r.content


# -- SigV2 --------------------------------------------------------------------


def sigv2_get(node, path: str, date_header: str, date: str):
    key = KEYS["admin"]
    amz = f"x-amz-date:{date}\n" if date_header == "x-amz-date" else ""
    string_to_sign = f"GET\n\n\n{'' if amz else date}\n{amz}{path}"
    sig = base64.b64encode(hmac.new(key.secret_access_key.encode(), string_to_sign.encode(), hashlib.sha1).digest()).decode()
    headers = {date_header: date, "Authorization": f"AWS {key.access_key_id}:{sig}"}
    return requests.get(node.endpoint + path, headers=headers, timeout=10)


def test_a_sigv2_request_dated_2001_is_refused_and_a_current_one_works(node, s3):
    bucket = unique_bucket("sigv2")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v2")
    now = email.utils.formatdate(usegmt=True)
    stale = "Mon, 01 Jan 2001 00:00:00 GMT"
    for header in ("Date", "x-amz-date"):
        r = sigv2_get(node, f"/{bucket}/k", header, now)
        assert (r.status_code, r.content) == (200, b"v2"), (header, r.content)
        r = sigv2_get(node, f"/{bucket}/k", header, stale)
        assert r.status_code == 403, r.content
        code, fields = error_of(r)
        assert code == "RequestTimeTooSkewed"
        assert fields["RequestTime"] == stale
    r = sigv2_get(node, f"/{bucket}/k", "Date", "not a date")
    assert (r.status_code, xml_error(r.content)[0]) == (403, "AccessDenied")


def test_botocore_sigv2_clients_still_work(node, s3):
    bucket = unique_bucket("sigv2-boto")
    s3.create_bucket(Bucket=bucket)
    v2 = node.client(signature_version="s3")
    v2.put_object(Bucket=bucket, Key="k", Body=b"hmac-v1")
    assert v2.get_object(Bucket=bucket, Key="k")["Body"].read() == b"hmac-v1"
    url = v2.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=300)
    assert requests.get(url, timeout=10).content == b"hmac-v1"
