"""Helpers for the DynamoDB end-to-end tests (test_dynamo_*.py).

Clients for the DynamoDB and DynamoDB Streams JSON protocols of a running
node, table setup, an assertion helper for DynamoDB's JSON errors, a raw
SigV4-signed request (for bodies boto3 would refuse to send), pagination
helpers that check every page, and a stream reader.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from typing import Any, Callable

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from e2e_helpers import KEYS, SIGNING_REGION, Key

JSON_CT = "application/x-amz-json-1.0"
DDB = "DynamoDB_20120810."
STREAMS = "DynamoDBStreams_20120810."

# --------------------------------------------------------------------------
# clients
# --------------------------------------------------------------------------


def _config(**cfg) -> Config:
    opts = dict(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30)
    opts.update(cfg)
    return Config(**opts)


def ddb_client(node, principal: str = "admin", key: Key | None = None, service: str = "dynamodb", **cfg):
    """A boto3 low-level client for `dynamodb` (or `dynamodbstreams`) against the node."""
    key = key or KEYS[principal]
    return boto3.session.Session().client(
        service,
        endpoint_url=node.endpoint,
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret_access_key,
        region_name=SIGNING_REGION,
        config=_config(**cfg),
    )


def streams_client(node, principal: str = "admin", **cfg):
    return ddb_client(node, principal, service="dynamodbstreams", **cfg)


def ddb_resource(node, principal: str = "admin"):
    key = KEYS[principal]
    return boto3.session.Session().resource(
        "dynamodb",
        endpoint_url=node.endpoint,
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret_access_key,
        region_name=SIGNING_REGION,
        config=_config(),
    )


# --------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------


def unique_table(hint: str = "t") -> str:
    """A valid, unique table name derived from a test name."""
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", hint).strip("-")[:60] or "t"
    return f"{base}-{os.urandom(4).hex()}"


def key_schema(hash_key: tuple[str, str], range_key: tuple[str, str] | None = None) -> list[dict]:
    ks = [{"AttributeName": hash_key[0], "KeyType": "HASH"}]
    if range_key:
        ks.append({"AttributeName": range_key[0], "KeyType": "RANGE"})
    return ks


def make_table(
    ddb,
    name: str | None = None,
    hash_key: tuple[str, str] = ("pk", "S"),
    range_key: tuple[str, str] | None = None,
    *,
    gsis: list[dict] | None = None,
    lsis: list[dict] | None = None,
    extra_attrs: list[tuple[str, str]] | None = None,
    stream: str | None = None,
    **kw,
) -> str:
    """CreateTable (PAY_PER_REQUEST) and return its name.

    `gsis`/`lsis` are short specs: {"name", "hash": (attr, type), "range": (attr, type) | None,
    "projection": "ALL" | "KEYS_ONLY" | ("INCLUDE", [attrs])}; their key attributes are
    added to AttributeDefinitions.
    """
    name = name or unique_table()
    attrs: dict[str, str] = {hash_key[0]: hash_key[1]}
    if range_key:
        attrs[range_key[0]] = range_key[1]
    for a, t in extra_attrs or []:
        attrs[a] = t

    def index(spec: dict, local: bool) -> dict:
        h = spec.get("hash", hash_key)
        r = spec.get("range")
        attrs[h[0]] = h[1]
        if r:
            attrs[r[0]] = r[1]
        proj = spec.get("projection", "ALL")
        if isinstance(proj, tuple):
            projection = {"ProjectionType": proj[0], "NonKeyAttributes": proj[1]}
        else:
            projection = {"ProjectionType": proj}
        return {"IndexName": spec["name"], "KeySchema": key_schema(h, r), "Projection": projection}

    args: dict[str, Any] = dict(TableName=name, KeySchema=key_schema(hash_key, range_key), BillingMode="PAY_PER_REQUEST")
    if gsis:
        args["GlobalSecondaryIndexes"] = [index(g, False) for g in gsis]
    if lsis:
        args["LocalSecondaryIndexes"] = [index(s, True) for s in lsis]
    if stream:
        args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream}
    args["AttributeDefinitions"] = [{"AttributeName": a, "AttributeType": t} for a, t in attrs.items()]
    args.update(kw)
    ddb.create_table(**args)
    return name


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------


def error_info(e: ClientError) -> tuple[str | None, str | None, int | None]:
    r = e.response
    return (
        r.get("Error", {}).get("Code"),
        r.get("Error", {}).get("Message"),
        r.get("ResponseMetadata", {}).get("HTTPStatusCode"),
    )


@contextlib.contextmanager
def ddb_error(code: str | tuple[str, ...], message: str | None = None, status: int | None = 400):
    """Assert that the block raises a ClientError with this error code (and HTTP status).

    `message` is a regular expression searched (case-insensitively) in the error message.
    The context value is the pytest ExceptionInfo, so `ei.value.response` is the parsed body.
    """
    codes = (code,) if isinstance(code, str) else tuple(code)
    try:
        with pytest.raises(ClientError) as ei:
            yield ei
    except pytest.fail.Exception:
        raise AssertionError(f"expected {'/'.join(codes)} (message ~ {message!r}) but the call succeeded") from None
    got_code, got_msg, got_status = error_info(ei.value)
    assert got_code in codes, f"expected {codes}, got {got_code} (HTTP {got_status}): {got_msg!r}"
    if status is not None:
        assert got_status == status, f"expected HTTP {status} for {got_code}, got {got_status}: {got_msg!r}"
    if message is not None:
        assert got_msg is not None and re.search(message, got_msg, re.I | re.S), (
            f"{got_code} message {got_msg!r} does not match /{message}/"
        )


# --------------------------------------------------------------------------
# raw requests
# --------------------------------------------------------------------------


def raw_request(
    node,
    target: str,
    body: bytes | str | dict,
    *,
    key: Key | None = KEYS["admin"],
    service: str = "dynamodb",
    content_type: str = JSON_CT,
    extra_headers: dict | None = None,
    tamper: Callable[[dict], None] | None = None,
) -> requests.Response:
    """POST / with this X-Amz-Target and body, SigV4-signed with `key` (unsigned if key is None)."""
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    url = node.endpoint + "/"
    headers = {"Content-Type": content_type, "X-Amz-Target": target, **(extra_headers or {})}
    req = AWSRequest(method="POST", url=url, data=body, headers=headers)
    if key is not None:
        SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), service, SIGNING_REGION).add_auth(req)
    hdrs = dict(req.headers.items())
    if tamper:
        tamper(hdrs)
    return requests.post(url, data=body, headers=hdrs, timeout=30)


def raw_error(resp: requests.Response) -> tuple[int, str, str]:
    """(status, short __type, message) of a DynamoDB JSON error response."""
    try:
        doc = resp.json()
    except ValueError:
        raise AssertionError(f"not a JSON error body: HTTP {resp.status_code} {resp.content[:300]!r}") from None
    t = doc.get("__type", "")
    return resp.status_code, t.rsplit("#", 1)[-1], doc.get("message", doc.get("Message", ""))


def describe_raw(resp: requests.Response) -> str:
    return f"HTTP {resp.status_code} {resp.headers.get('content-type')} {resp.content[:500]!r}"


# --------------------------------------------------------------------------
# pagination
# --------------------------------------------------------------------------


def paginate(call: Callable[..., dict], max_pages: int = 10_000, **kw) -> tuple[list[dict], list[dict]]:
    """Follow LastEvaluatedKey until absent; return (all items, responses)."""
    items: list[dict] = []
    pages: list[dict] = []
    start = None
    for _ in range(max_pages):
        args = dict(kw)
        if start is not None:
            args["ExclusiveStartKey"] = start
        r = call(**args)
        pages.append(r)
        items += r.get("Items", [])
        start = r.get("LastEvaluatedKey")
        if not start:
            return items, pages
    raise AssertionError(f"pagination did not finish after {max_pages} pages")


def wait_until(fn: Callable[[], Any], timeout: float = 15.0, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


# --------------------------------------------------------------------------
# streams
# --------------------------------------------------------------------------


def stream_arn(ddb, table: str) -> str:
    arn = ddb.describe_table(TableName=table)["Table"].get("LatestStreamArn")
    assert arn, f"table {table} has no LatestStreamArn"
    return arn


def read_shard(streams, arn: str, shard_id: str, iterator_type: str = "TRIM_HORIZON", **it_kw) -> list[dict]:
    """Every record currently in one shard from this iterator position."""
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id, ShardIteratorType=iterator_type, **it_kw)[
        "ShardIterator"
    ]
    return drain(streams, it)


def drain(streams, iterator: str, limit: int | None = None) -> list[dict]:
    """GetRecords until a call returns no records (or the shard is closed)."""
    out: list[dict] = []
    for _ in range(1000):
        kw = {"ShardIterator": iterator}
        if limit:
            kw["Limit"] = limit
        r = streams.get_records(**kw)
        recs = r.get("Records", [])
        out += recs
        nxt = r.get("NextShardIterator")
        if not recs or not nxt:
            return out
        iterator = nxt
    raise AssertionError("GetRecords never ran dry")


def read_stream(streams, arn: str) -> list[dict]:
    """All records of all shards of a stream (parents before children), TRIM_HORIZON."""
    desc = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    shards = desc.get("Shards", [])
    assert shards, f"stream has no shards: {desc}"
    out: list[dict] = []
    for sh in shards:
        out += read_shard(streams, arn, sh["ShardId"])
    return out


def seq(rec: dict) -> int:
    return int(rec["dynamodb"]["SequenceNumber"])

