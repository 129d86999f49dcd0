"""Regression tests for hostile DynamoDB input found by an adversarial probe:
an oversized condition that overflowed the stack, a ProjectionExpression whose
parsing was quadratic in its paths and stalled the runtime, and items nested
deeper than the store could read back ("poison items" that broke reads, the
change log, Streams and replication). Each limit is tested at its edge: the
largest accepted value works end to end, the first refused one gets
DynamoDB's message and changes nothing."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from dynamo_helpers import ddb_client, ddb_error, make_table, read_stream, stream_arn, streams_client, unique_table

MAX_EXPRESSION = 4096
NEST = "Nesting Levels have exceeded supported limits"


@pytest.fixture(scope="module")
def ddb(node):
    return ddb_client(node, read_timeout=60)


@pytest.fixture(scope="module")
def table(ddb):
    t = make_table(ddb, unique_table("hostile"), ("pk", "S"), stream="NEW_AND_OLD_IMAGES")
    ddb.put_item(TableName=t, Item={"pk": {"S": "base"}, "a": {"N": "1"}})
    return t


def or_chain(terms: int) -> str:
    return " OR ".join(["a = :v"] * terms)


def nested(levels: int) -> dict:
    """An attribute value with `levels` maps nested in one another."""
    value: dict = {"S": "leaf"}
    for _ in range(levels):
        value = {"M": {"m": value}}
    return value


def health_latency(node) -> float:
    start = time.monotonic()
    r = requests.get(node.endpoint + "/health", timeout=30)
    assert r.status_code == 200
    return time.monotonic() - start


def test_condition_of_4000_terms_is_refused_and_node_survives(node, ddb, table):
    expression = or_chain(4000)  # about 40 KB: once a stack overflow that aborted the process
    with ddb_error("ValidationException", r"Invalid ConditionExpression: Expression size has exceeded the maximum allowed size; expression size: \d+"):
        ddb.put_item(
            TableName=table,
            Item={"pk": {"S": "c"}},
            ConditionExpression=expression,
            ExpressionAttributeValues={":v": {"N": "1"}},
        )
    assert node.alive()
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "c"}})


def test_condition_of_exactly_4_kb_is_evaluated(ddb, table):
    expression = or_chain(100)  # 199 operators: under the 300-operator limit (test_dynamo_limits.py)
    expression += " " * (MAX_EXPRESSION - len(expression))
    assert len(expression) == MAX_EXPRESSION
    ddb.put_item(
        TableName=table,
        Item={"pk": {"S": "base"}, "a": {"N": "1"}},
        ConditionExpression=expression,
        ExpressionAttributeValues={":v": {"N": "1"}},
    )
    with ddb_error("ValidationException", r"expression size: 4097"):
        ddb.put_item(
            TableName=table,
            Item={"pk": {"S": "base"}},
            ConditionExpression=expression + " ",
            ExpressionAttributeValues={":v": {"N": "1"}},
        )


@pytest.mark.parametrize("kind", ["UpdateExpression", "FilterExpression", "ProjectionExpression", "KeyConditionExpression"])
def test_every_expression_kind_has_the_4_kb_limit(ddb, table, kind):
    big = "a" + ", a" * 2100
    calls = {
        "UpdateExpression": lambda: ddb.update_item(TableName=table, Key={"pk": {"S": "base"}}, UpdateExpression="SET " + big.replace(", a", ", a = a")),
        "FilterExpression": lambda: ddb.scan(TableName=table, FilterExpression=or_chain(600), ExpressionAttributeValues={":v": {"N": "1"}}),
        "ProjectionExpression": lambda: ddb.get_item(TableName=table, Key={"pk": {"S": "base"}}, ProjectionExpression=big),
        "KeyConditionExpression": lambda: ddb.query(
            TableName=table, KeyConditionExpression="pk = :v" + " " * 5000, ExpressionAttributeValues={":v": {"S": "base"}}
        ),
    }
    with ddb_error("ValidationException", rf"Invalid {kind}: Expression size has exceeded the maximum allowed size"):
        calls[kind]()


def test_in_takes_100_operands_and_refuses_101(ddb, table):
    def condition(n: int) -> dict:
        names = [f":v{i}" for i in range(n)]
        return dict(
            ConditionExpression=f"a IN ({', '.join(names)})",
            ExpressionAttributeValues={name: {"N": str(i)} for i, name in enumerate(names)},
        )

    ddb.put_item(TableName=table, Item={"pk": {"S": "base"}, "a": {"N": "1"}}, **condition(100))
    with ddb_error("ValidationException", r"The IN operator is provided with too many operands; number of operands: 101"):
        ddb.put_item(TableName=table, Item={"pk": {"S": "base"}, "a": {"N": "2"}}, **condition(101))
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "base"}})["Item"]["a"] == {"N": "1"}


def test_projection_of_100000_paths_is_refused_fast_and_health_stays_responsive(node, ddb, table):
    huge = ", ".join(f"p{i}" for i in range(100_000))  # once > 30 s of CPU on an async worker
    errors: list[Exception] = []

    def hammer():
        try:
            c = ddb_client(node)
            with ddb_error("ValidationException", r"Expression size has exceeded"):
                c.get_item(TableName=table, Key={"pk": {"S": "base"}}, ProjectionExpression=huge)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    start = time.monotonic()
    for t in threads:
        t.start()
    latency = health_latency(node)
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert time.monotonic() - start < 10
    assert latency < 2.0, f"/health took {latency:.2f}s while projections were parsed"


def test_projection_at_the_limit_with_many_distinct_paths_answers_quickly(ddb, table):
    paths = []
    while len(", ".join(paths + [f"q{len(paths)}"])) <= MAX_EXPRESSION:
        paths.append(f"q{len(paths)}")
    start = time.monotonic()
    item = ddb.get_item(TableName=table, Key={"pk": {"S": "base"}}, ProjectionExpression=", ".join(paths))
    assert time.monotonic() - start < 2.0
    assert "Item" not in item or item["Item"] == {}


def test_item_nested_32_levels_round_trips_through_reads_changes_and_streams(node, ddb, table):
    deep = nested(32)
    ddb.put_item(TableName=table, Item={"pk": {"S": "deep"}, "d": deep})
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "deep"}}, ConsistentRead=True)["Item"]["d"] == deep
    scanned = [i for i in ddb.scan(TableName=table)["Items"] if i["pk"] == {"S": "deep"}]
    assert scanned and scanned[0]["d"] == deep
    changes = node.changes(0)
    assert any(c["change"].get("new", {}) and c["change"]["new"].get("pk") == {"S": "deep"} for c in changes["changes"])
    records = read_stream(streams_client(node), stream_arn(ddb, table))
    assert any(r["dynamodb"].get("NewImage", {}).get("d") == deep for r in records)
    ddb.delete_item(TableName=table, Key={"pk": {"S": "deep"}})


def test_put_nested_33_levels_is_refused_and_stores_nothing(ddb, table):
    with ddb_error("ValidationException", NEST):
        ddb.put_item(TableName=table, Item={"pk": {"S": "too-deep"}, "d": nested(33)})
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "too-deep"}}, ConsistentRead=True)
    with ddb_error("ValidationException", NEST):
        ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": {"pk": {"S": "too-deep"}, "d": nested(40)}}}]})
    with ddb_error("ValidationException", NEST):
        ddb.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": {"pk": {"S": "too-deep"}, "d": nested(33)}}}])
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "too-deep"}}, ConsistentRead=True)


def test_update_that_would_nest_past_32_levels_is_refused_and_changes_nothing(node, ddb, table):
    """The probe's poison item: UpdateItem SETting a deep value inside a deep map."""
    ddb.put_item(TableName=table, Item={"pk": {"S": "grow"}, "d": nested(20)})
    before = node.changes(0)["changes"]
    path = "d" + ".m" * 19  # the innermost of the 20 maps
    with ddb_error("ValidationException", NEST):
        ddb.update_item(
            TableName=table,
            Key={"pk": {"S": "grow"}},
            UpdateExpression=f"SET {path}.x = :deep",
            ExpressionAttributeValues={":deep": nested(20)},
        )
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "grow"}}, ConsistentRead=True)["Item"]["d"] == nested(20)
    assert len(node.changes(0)["changes"]) == len(before)
    # The log, Streams and scans still read past the item.
    assert ddb.scan(TableName=table)["Items"]
    read_stream(streams_client(node), stream_arn(ddb, table))
