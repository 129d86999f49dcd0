"""CORS headers on actual responses (not only preflights): a GET, PUT or error answer
to an `Origin` a rule matches carries Allow-Origin, Allow-Methods, Expose-Headers,
Max-Age and `Vary: Origin`; an origin or method no rule allows gets none."""

from __future__ import annotations

import requests

RULES = [
    {
        "AllowedOrigins": ["https://app.example.com"],
        "AllowedMethods": ["GET", "PUT"],
        "ExposeHeaders": ["ETag", "x-amz-version-id"],
        "MaxAgeSeconds": 300,
    },
    {"AllowedOrigins": ["*"], "AllowedMethods": ["HEAD"]},
]
ORIGIN = "https://app.example.com"


def cors_headers(r: requests.Response) -> dict[str, str]:
    return {k.lower(): v for k, v in r.headers.items() if k.lower().startswith("access-control-") or k.lower() == "vary"}


def test_a_get_from_an_allowed_origin_carries_the_rule_headers(node, s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    r = node.request("GET", f"/{bucket}/k", headers={"Origin": ORIGIN})
    assert r.status_code == 200
    h = cors_headers(r)
    assert h["access-control-allow-origin"] == ORIGIN
    assert [m.strip() for m in h["access-control-allow-methods"].split(",")] == ["GET", "PUT"]
    assert [m.strip() for m in h["access-control-expose-headers"].split(",")] == ["ETag", "x-amz-version-id"]
    assert h["access-control-max-age"] == "300"
    assert "Origin" in [v.strip() for v in h["vary"].split(",")]


def test_a_put_and_an_error_answer_carry_them_too(node, s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    put = node.request("PUT", f"/{bucket}/p", headers={"Origin": ORIGIN}, body=b"y")
    assert put.status_code == 200 and cors_headers(put)["access-control-allow-origin"] == ORIGIN
    missing = node.request("GET", f"/{bucket}/absent", headers={"Origin": ORIGIN})
    assert missing.status_code == 404 and cors_headers(missing)["access-control-allow-origin"] == ORIGIN


def test_a_wildcard_rule_answers_star(node, s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    r = node.request("HEAD", f"/{bucket}/k", headers={"Origin": "http://elsewhere.test"})
    h = cors_headers(r)
    assert h["access-control-allow-origin"] == "*" and h["access-control-allow-methods"] == "HEAD"
    assert "access-control-allow-credentials" not in h


def test_no_matching_rule_means_no_cors_headers(node, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert cors_headers(node.request("GET", f"/{bucket}/k", headers={"Origin": ORIGIN})) == {}
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    assert cors_headers(node.request("GET", f"/{bucket}/k", headers={"Origin": "https://evil.test"})) == {}
    # DELETE is allowed by no rule, even for the listed origin.
    r = node.request("DELETE", f"/{bucket}/k", headers={"Origin": ORIGIN})
    assert r.status_code == 204 and cors_headers(r) == {}
    assert cors_headers(node.request("PUT", f"/{bucket}/k", body=b"z")) == {}
