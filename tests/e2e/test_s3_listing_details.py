"""Listing details S3 clients rely on: `encoding-type=url` (a space is %20, not +) in keys,
prefixes and markers, an empty delimiter not echoed, ListObjects v1 always carrying
`Marker`, and ListBuckets pagination (max-buckets, continuation-token, prefix)."""

from __future__ import annotations

from urllib.parse import unquote

from e2e_helpers import parse_xml, s3_error, unique_bucket

KEYS = ["a b/c+d.txt", "a b/e%f", "plain", "ünï code"]


def listing(node, bucket, **params):
    r = node.request("GET", f"/{bucket}", query=[(k.replace("_", "-"), v) for k, v in params.items()])
    assert r.status_code == 200, r.text
    return parse_xml(r.content)


def test_url_encoding_uses_percent_20_for_spaces_in_keys_and_prefixes(node, s3, bucket):
    for k in KEYS:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    v2 = listing(node, bucket, list_type="2", encoding_type="url", prefix="a b/")
    assert v2.findtext("Prefix") == "a%20b/"
    keys = [c.findtext("Key") for c in v2.findall("Contents")]
    assert keys == ["a%20b/c%2Bd.txt", "a%20b/e%25f"]
    assert all("+" not in k for k in keys)
    rolled = listing(node, bucket, list_type="2", encoding_type="url", delimiter="/")
    assert [p.findtext("Prefix") for p in rolled.findall("CommonPrefixes")] == ["a%20b/"]
    plain = [c.findtext("Key") for c in listing(node, bucket, encoding_type="url").findall("Contents")]
    assert [unquote(k) for k in plain] == sorted(KEYS, key=lambda k: k.encode())
    # boto3 asks for url encoding and decodes it back.
    got = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="a b/")["Contents"]]
    assert got == ["a b/c+d.txt", "a b/e%f"]
    versions = listing(node, bucket, versions="", encoding_type="url", prefix="a b/")
    assert [v.findtext("Key") for v in versions.findall("Version")] == ["a%20b/c%2Bd.txt", "a%20b/e%25f"]


def test_an_empty_delimiter_is_not_echoed(node, s3, bucket):
    s3.put_object(Bucket=bucket, Key="d/x", Body=b"x")
    for params in ({"list_type": "2"}, {}, {"versions": ""}):
        root = listing(node, bucket, delimiter="", **params)
        assert root.find("Delimiter") is None, params
        assert root.find("CommonPrefixes") is None and root.find("Contents") is not None or "versions" in params


def test_list_objects_v1_always_returns_marker(node, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k1", Body=b"x")
    root = listing(node, bucket)
    assert root.find("Marker") is not None and (root.findtext("Marker") or "") == ""
    assert listing(node, bucket, marker="k0").findtext("Marker") == "k0"
    assert s3.list_objects(Bucket=bucket)["Marker"] == ""


def test_list_buckets_pages_with_max_buckets_and_continuation_token(node, s3):
    stem = unique_bucket("pager")
    names = sorted(f"{stem}-{i}" for i in range(5))
    for n in names:
        s3.create_bucket(Bucket=n)
    seen, token, pages = [], None, 0
    while pages < 10:
        kw = {"MaxBuckets": 2, "Prefix": stem}
        if token:
            kw["ContinuationToken"] = token
        page = s3.list_buckets(**kw)
        pages += 1
        seen += [b["Name"] for b in page["Buckets"]]
        assert len(page["Buckets"]) <= 2 and page.get("Prefix") == stem
        token = page.get("ContinuationToken")
        if not token:
            break
    assert seen == names and pages == 3
    assert [b["Name"] for b in s3.list_buckets(Prefix=stem)["Buckets"]] == names
    r = node.request("GET", "/", query=[("max-buckets", "0")])
    assert r.status_code == 400 and parse_xml(r.content).findtext("Code") == "InvalidArgument", r.text
    with s3_error("InvalidArgument", 400):
        s3.list_buckets(ContinuationToken="!!not-a-token!!")
