"""Output is always valid or S3's: a client string S3 would echo into XML (a key, a
prefix, a marker, a version or upload id, a copy source) may hold a control character
(listings write it as a numeric character reference, as S3 does; every other answer
parses), NUL there and a tag or XML body holding a character XML 1.0 cannot carry
are refused (400 InvalidArgument, or MalformedXML for an XML body); characters XML
can carry (tab, non-ASCII, emoji) keep working. Keys themselves: test_s3_control_char_keys.py."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from e2e_helpers import md5_b64, parse_xml, unique_bucket

BAD = ["\x00", "\x01", "\x1f", "\ufffe"]
CONTROL = ["\x01", "\x1f", "\ufffe"]
ECHOED = [
    ("/{b}/obj", [("versionId", "v{x}")]),
    ("/{b}/obj", [("uploadId", "u{x}")]),
    ("/{b}", [("list-type", "2"), ("prefix", "p{x}")]),
    ("/{b}", [("list-type", "2"), ("start-after", "s{x}")]),
    ("/{b}", [("list-type", "2"), ("delimiter", "{x}")]),
    ("/{b}", [("marker", "m{x}")]),
    ("/{b}", [("versions", ""), ("key-marker", "k{x}")]),
    ("/{b}", [("versions", ""), ("version-id-marker", "v{x}"), ("key-marker", "k")]),
    ("/{b}", [("uploads", ""), ("key-marker", "k{x}")]),
    ("/{b}", [("uploads", ""), ("upload-id-marker", "u{x}"), ("key-marker", "k")]),
]


@pytest.fixture(scope="module")
def bucket(node):
    s3 = node.client()
    name = unique_bucket("xml-out")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="obj", Body=b"x")
    return name


def refused(r, code: str = "InvalidArgument"):
    assert r.status_code == 400, (r.status_code, r.content)
    root = parse_xml(r.content)  # the refusal itself parses
    assert root.findtext("Code") == code, r.content


@pytest.mark.parametrize("path,query", ECHOED)
def test_nul_in_echoed_query_parameters_is_refused(node, bucket, path, query):
    q = [(k, v.format(x="\x00")) for k, v in query]
    refused(node.request("GET", path.format(b=bucket), query=q))


def parses_with_references(body: bytes):
    """Parses an S3 answer, reading numeric references to characters XML 1.0 forbids."""
    text = re.sub(r"&#x([0-9A-Fa-f]+);", lambda m: f"[{m.group(1)}]", body.decode())
    return parse_xml(text.encode())


@pytest.mark.parametrize("bad", CONTROL)
@pytest.mark.parametrize("path,query", ECHOED)
def test_control_characters_in_echoed_query_parameters_answer_without_raw_characters(node, bucket, bad, path, query):
    q = [(k, v.format(x=bad)) for k, v in query]
    r = node.request("GET", path.format(b=bucket), query=q)
    assert r.status_code < 500, r.content
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", r.content.decode()), r.content
    if r.status_code == 200:
        parses_with_references(r.content)
    else:
        parse_xml(r.content)


def test_nul_keys_are_refused_on_every_write_path(node, bucket):
    key = "a\x00b"
    refused(node.request("PUT", f"/{bucket}/{key}", body=b"x"))
    refused(node.request("POST", f"/{bucket}/{key}", query=[("uploads", "")]))
    refused(node.request("PUT", f"/{bucket}/copy", headers={"x-amz-copy-source": f"/{bucket}/obj{quote(key)}"}))
    listing = parse_xml(node.request("GET", f"/{bucket}", query=[("list-type", "2")]).content)
    keys = [k.text for k in listing.iter("Key")]
    assert "copy" not in keys and not any(k.startswith("a") for k in keys), keys


@pytest.mark.parametrize("bad", BAD)
def test_tags_xml_cannot_carry_are_refused(node, bucket, bad):
    refused(node.request("PUT", f"/{bucket}/tagged", headers={"x-amz-tagging": f"t=v{quote(bad)}"}, body=b"x"))
    assert node.request("HEAD", f"/{bucket}/tagged").status_code == 404


@pytest.mark.parametrize("raw", [b"\x00", b"\x01", b"\xef\xbf\xbe"])
def test_xml_bodies_with_characters_xml_forbids_are_malformed_and_change_nothing(node, bucket, raw):
    s3 = node.client()
    docs = [
        ("POST", f"/{bucket}", [("delete", "")], b"<Delete><Object><Key>obj" + raw + b"</Key></Object></Delete>"),
        (
            "PUT",
            f"/{bucket}/obj",
            [("tagging", "")],
            b"<Tagging><TagSet><Tag><Key>t</Key><Value>v" + raw + b"</Value></Tag></TagSet></Tagging>",
        ),
        (
            "PUT",
            f"/{bucket}",
            [("cors", "")],
            b"<CORSConfiguration><CORSRule><AllowedOrigin>http://a" + raw
            + b"</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>",
        ),
    ]
    for method, path, query, doc in docs:
        r = node.request(method, path, query=query, body=doc, headers={"Content-MD5": md5_b64(doc)})
        refused(r, "MalformedXML")
    assert s3.get_object_tagging(Bucket=bucket, Key="obj")["TagSet"] == []
    assert parse_xml(node.request("GET", f"/{bucket}", query=[("cors", "")]).content).findtext("Code") == "NoSuchCORSConfiguration"
    assert s3.get_object(Bucket=bucket, Key="obj")["Body"].read() == b"x"


def test_an_error_message_quoting_client_json_still_parses(node, bucket):
    policy = b'{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::x\\u0001"}]}'
    r = node.request("PUT", f"/{bucket}", query=[("policy", "")], body=policy)
    assert r.status_code == 400, r.content
    assert parse_xml(r.content).findtext("Code") == "MalformedPolicy"


def test_keys_with_characters_xml_can_carry_round_trip_through_listings(node, bucket):
    s3 = node.client()
    keys = ["tab\there", "ü/日本/😀", "amp&lt<gt>'quote\"", "cr\rlf\n"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=f"ok/{k}", Body=b"1")
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="ok/")["Contents"]]
    assert sorted(listed) == sorted(f"ok/{k}" for k in keys)
    # Without encoding-type=url the raw listing still parses (XML turns a raw CR into LF).
    r = node.request("GET", f"/{bucket}", query=[("list-type", "2"), ("prefix", "ok/")])
    assert r.status_code == 200
    assert len(list(parse_xml(r.content).iter("Key"))) == len(keys)
