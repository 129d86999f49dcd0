"""ListObjectsV2 and ListObjects (v1): prefix, delimiter, start-after, paging."""

import urllib.parse

import pytest

from e2e_helpers import describe, md5_hex, parse_xml

KEYS = sorted(
    [
        "a.txt",
        "b/1.txt",
        "b/2.txt",
        "b/sub/3.txt",
        "c/4.txt",
        "c/5.txt",
        "d",
        "photos/2024/jan/x.jpg",
        "photos/2024/feb/y.jpg",
        "photos/2025/z.jpg",
        "z-last",
    ]
)


@pytest.fixture(scope="module")
def listed_bucket(node):
    s3 = node.client()
    name = "t-listing-fixture-" + __import__("os").urandom(4).hex()
    s3.create_bucket(Bucket=name)
    for k in KEYS:
        s3.put_object(Bucket=name, Key=k, Body=k.encode())
    return name


def all_keys_v2(s3, bucket, **kw):
    keys, prefixes, pages = [], [], 0
    token = None
    while True:
        args = dict(kw)
        if token:
            args["ContinuationToken"] = token
        r = s3.list_objects_v2(Bucket=bucket, **args)
        pages += 1
        keys += [o["Key"] for o in r.get("Contents", [])]
        prefixes += [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        if not r["IsTruncated"]:
            assert "NextContinuationToken" not in r
            return keys, prefixes, pages
        token = r["NextContinuationToken"]
        assert token
        assert pages < 100


def test_list_v2_returns_all_keys_sorted_with_sizes_and_etags(s3, listed_bucket):
    r = s3.list_objects_v2(Bucket=listed_bucket)
    assert [o["Key"] for o in r["Contents"]] == KEYS
    assert r["KeyCount"] == len(KEYS)
    assert r["IsTruncated"] is False
    for o in r["Contents"]:
        assert o["Size"] == len(o["Key"].encode())
        assert o["ETag"] == f'"{md5_hex(o["Key"].encode())}"'
        assert o["LastModified"] is not None


def test_list_v2_prefix_filters_keys(s3, listed_bucket):
    r = s3.list_objects_v2(Bucket=listed_bucket, Prefix="b/")
    assert [o["Key"] for o in r["Contents"]] == ["b/1.txt", "b/2.txt", "b/sub/3.txt"]
    assert r["Prefix"] == "b/"
    r = s3.list_objects_v2(Bucket=listed_bucket, Prefix="nothing-here")
    assert r["KeyCount"] == 0 and "Contents" not in r


def test_list_v2_delimiter_groups_common_prefixes(s3, listed_bucket):
    r = s3.list_objects_v2(Bucket=listed_bucket, Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["a.txt", "d", "z-last"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["b/", "c/", "photos/"]
    assert r["KeyCount"] == 6
    r = s3.list_objects_v2(Bucket=listed_bucket, Delimiter="/", Prefix="photos/2024/")
    assert "Contents" not in r
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["photos/2024/feb/", "photos/2024/jan/"]
    r = s3.list_objects_v2(Bucket=listed_bucket, Delimiter="/", Prefix="b/")
    assert [o["Key"] for o in r["Contents"]] == ["b/1.txt", "b/2.txt"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["b/sub/"]


def test_list_v2_start_after_skips_keys_up_to_and_including_it(s3, listed_bucket):
    r = s3.list_objects_v2(Bucket=listed_bucket, StartAfter="c/4.txt")
    assert [o["Key"] for o in r["Contents"]] == [k for k in KEYS if k > "c/4.txt"]
    assert r["StartAfter"] == "c/4.txt"


@pytest.mark.parametrize("page", [1, 2, 3, 5])
def test_list_v2_max_keys_and_continuation_tokens_page_through_every_key_once(s3, listed_bucket, page):
    first = s3.list_objects_v2(Bucket=listed_bucket, MaxKeys=page)
    assert first["MaxKeys"] == page
    assert first["KeyCount"] == page
    assert first["IsTruncated"] is True
    keys, _, pages = all_keys_v2(s3, listed_bucket, MaxKeys=page)
    assert keys == KEYS
    assert pages == -(-len(KEYS) // page)


def test_list_v2_paging_with_delimiter_counts_prefixes_once(s3, listed_bucket):
    keys, prefixes, _ = all_keys_v2(s3, listed_bucket, Delimiter="/", MaxKeys=2)
    assert keys == ["a.txt", "d", "z-last"]
    assert prefixes == ["b/", "c/", "photos/"]


def test_list_v2_fetch_owner_returns_owner(s3, listed_bucket):
    r = s3.list_objects_v2(Bucket=listed_bucket, FetchOwner=True, MaxKeys=1)
    assert r["Contents"][0].get("Owner", {}).get("ID")


def test_list_v2_empty_bucket(s3, bucket):
    r = s3.list_objects_v2(Bucket=bucket)
    assert r["KeyCount"] == 0
    assert r["IsTruncated"] is False
    assert "Contents" not in r


def test_list_v1_marker_pages_through_all_keys(s3, listed_bucket):
    keys, marker, pages = [], None, 0
    while True:
        args = {"Bucket": listed_bucket, "MaxKeys": 4}
        if marker:
            args["Marker"] = marker
        r = s3.list_objects(**args)
        pages += 1
        batch = [o["Key"] for o in r.get("Contents", [])]
        keys += batch
        if not r["IsTruncated"]:
            break
        # without a delimiter NextMarker is optional: the last key is the marker
        marker = r.get("NextMarker") or batch[-1]
        assert pages < 50
    assert keys == KEYS
    assert pages == 3


def test_list_v1_marker_skips_keys(s3, listed_bucket):
    r = s3.list_objects(Bucket=listed_bucket, Marker="b/sub/3.txt")
    assert [o["Key"] for o in r["Contents"]] == [k for k in KEYS if k > "b/sub/3.txt"]
    assert r["Marker"] == "b/sub/3.txt"


def test_list_v1_delimiter_truncated_returns_next_marker(s3, listed_bucket):
    r = s3.list_objects(Bucket=listed_bucket, Delimiter="/", MaxKeys=2)
    assert r["IsTruncated"] is True
    got = [o["Key"] for o in r.get("Contents", [])] + [p["Prefix"] for p in r.get("CommonPrefixes", [])]
    assert sorted(got) == ["a.txt", "b/"]
    assert r["NextMarker"] == "b/"
    r2 = s3.list_objects(Bucket=listed_bucket, Delimiter="/", Marker=r["NextMarker"])
    got2 = [o["Key"] for o in r2.get("Contents", [])] + [p["Prefix"] for p in r2.get("CommonPrefixes", [])]
    assert sorted(got2) == ["c/", "d", "photos/", "z-last"]


def test_list_v2_raw_xml_without_encoding_type_has_literal_keys(node, s3, bucket):
    key = "sp ace/plus+pct%.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    r = node.request("GET", f"/{bucket}", query=[("list-type", "2")])
    assert r.status_code == 200, describe(r)
    root = parse_xml(r.content)
    assert root.tag == "ListBucketResult"
    assert [c.findtext("Key") for c in root.findall("Contents")] == [key]
    assert root.findtext("KeyCount") == "1"
    r = node.request("GET", f"/{bucket}", query=[("list-type", "2"), ("encoding-type", "url")])
    root = parse_xml(r.content)
    assert root.findtext("EncodingType") == "url"
    encoded = [c.findtext("Key") for c in root.findall("Contents")]
    assert len(encoded) == 1 and "+pct" not in encoded[0] and "%.txt" not in encoded[0], encoded
    assert urllib.parse.unquote_plus(encoded[0]) == key
