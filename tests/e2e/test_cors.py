"""Bucket CORS configuration and CORS preflight / actual requests."""

import requests

from e2e_helpers import describe, error_code, s3_error

RULES = [
    {
        "AllowedOrigins": ["https://app.example.com"],
        "AllowedMethods": ["GET", "PUT"],
        "AllowedHeaders": ["x-custom", "content-type"],
        "ExposeHeaders": ["ETag"],
        "MaxAgeSeconds": 600,
    },
    {"AllowedOrigins": ["*"], "AllowedMethods": ["HEAD"]},
]


def preflight(node, bucket, origin, method, req_headers=None, key="obj"):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if req_headers:
        h["Access-Control-Request-Headers"] = req_headers
    return requests.options(f"{node.endpoint}/{bucket}/{key}", headers=h, timeout=10)


def test_put_get_delete_bucket_cors_roundtrip(s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    got = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert len(got) == 2
    assert got[0]["AllowedOrigins"] == ["https://app.example.com"]
    assert got[0]["AllowedMethods"] == ["GET", "PUT"]
    assert got[0]["AllowedHeaders"] == ["x-custom", "content-type"]
    assert got[0]["ExposeHeaders"] == ["ETag"]
    assert got[0]["MaxAgeSeconds"] == 600
    assert got[1]["AllowedOrigins"] == ["*"] and got[1]["AllowedMethods"] == ["HEAD"]
    assert s3.delete_bucket_cors(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with s3_error("NoSuchCORSConfiguration", 404):
        s3.get_bucket_cors(Bucket=bucket)


def test_get_cors_without_configuration_is_no_such_cors_configuration(s3, bucket):
    with s3_error("NoSuchCORSConfiguration", 404):
        s3.get_bucket_cors(Bucket=bucket)


def test_preflight_matching_rule_returns_allow_headers(node, s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    r = preflight(node, bucket, "https://app.example.com", "PUT", "x-custom")
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Access-Control-Allow-Origin") == "https://app.example.com"
    methods = [m.strip() for m in r.headers.get("Access-Control-Allow-Methods", "").split(",")]
    assert "PUT" in methods
    assert "x-custom" in r.headers.get("Access-Control-Allow-Headers", "").lower()
    assert r.headers.get("Access-Control-Max-Age") == "600"


def test_preflight_wildcard_origin_rule(node, s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    r = preflight(node, bucket, "http://anything.test", "HEAD")
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Access-Control-Allow-Origin") in ("*", "http://anything.test")


def test_preflight_with_unlisted_origin_is_403(node, s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES[:1]})
    r = preflight(node, bucket, "https://evil.example.org", "GET")
    assert r.status_code == 403, describe(r)
    assert "Access-Control-Allow-Origin" not in r.headers


def test_preflight_with_unlisted_method_is_403(node, s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES[:1]})
    r = preflight(node, bucket, "https://app.example.com", "DELETE")
    assert r.status_code == 403, describe(r)
    assert "Access-Control-Allow-Origin" not in r.headers


def test_preflight_with_unlisted_request_header_is_403(node, s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES[:1]})
    r = preflight(node, bucket, "https://app.example.com", "GET", "x-not-allowed")
    assert r.status_code == 403, describe(r)


def test_preflight_without_cors_configuration_is_403(node, bucket):
    r = preflight(node, bucket, "https://app.example.com", "GET")
    assert r.status_code == 403, describe(r)
    assert "Access-Control-Allow-Origin" not in r.headers


def test_preflight_after_delete_cors_is_403(node, s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    assert preflight(node, bucket, "https://app.example.com", "GET").status_code == 200
    s3.delete_bucket_cors(Bucket=bucket)
    assert preflight(node, bucket, "https://app.example.com", "GET").status_code == 403


def test_actual_get_with_matching_origin_carries_cors_headers(node, s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    s3.put_object(Bucket=bucket, Key="obj", Body=b"cors body")
    r = node.request("GET", f"/{bucket}/obj", headers={"Origin": "https://app.example.com"})
    assert r.status_code == 200, describe(r)
    assert r.content == b"cors body"
    assert r.headers.get("Access-Control-Allow-Origin") == "https://app.example.com"
    assert "etag" in r.headers.get("Access-Control-Expose-Headers", "").lower()
    r = node.request("GET", f"/{bucket}/obj", headers={"Origin": "https://evil.example.org"})
    assert r.status_code == 200
    assert "Access-Control-Allow-Origin" not in r.headers


def test_malformed_cors_xml_is_malformed_xml(node, bucket):
    body = b"<CORSConfiguration><CORSRule><AllowedOrigin>x</AllowedOrigin>"
    r = node.request("PUT", f"/{bucket}", query=[("cors", "")], body=body,
                     headers={"Content-MD5": __import__("e2e_helpers").md5_b64(body)})
    assert r.status_code == 400, describe(r)
    assert error_code(r) == "MalformedXML", describe(r)


def test_other_principal_cannot_change_cors(bob, bucket):
    with s3_error("AccessDenied", 403):
        bob.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
