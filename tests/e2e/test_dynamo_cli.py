"""The aws CLI (v1) `dynamodb` and `dynamodbstreams` commands against a node:
table lifecycle and waiters, items with JSON arguments and file:// inputs,
expressions, auto-paginated scan/query, batch and transactional writes, TTL, tags,
streams, and CLI-visible errors."""

import json

import pytest

from dynamo_helpers import make_table, unique_table


def ok(result):
    rc, out, err = result
    assert rc == 0, f"aws exited {rc}\nstdout: {out[-2000:]}\nstderr: {err[-2000:]}"
    return json.loads(out) if out.strip() else None


def fails(result, code):
    rc, out, err = result
    assert rc != 0, f"aws succeeded but {code} was expected: {out[-500:]}"
    assert code in err, f"expected {code} in stderr: {err[-1000:]}"
    return err


@pytest.fixture(scope="module")
def cli_table(node):
    name = unique_table("cli")
    ok(
        node.aws(
            "dynamodb", "create-table",
            "--table-name", name,
            "--attribute-definitions", "AttributeName=pk,AttributeType=S", "AttributeName=sk,AttributeType=N",
            "--key-schema", "AttributeName=pk,KeyType=HASH", "AttributeName=sk,KeyType=RANGE",
            "--billing-mode", "PAY_PER_REQUEST",
            "--stream-specification", "StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES",
        )
    )
    ok(node.aws("dynamodb", "wait", "table-exists", "--table-name", name))
    return name


def test_cli_create_describe_list_delete_table(node):
    name = unique_table("cli-life")
    out = ok(
        node.aws(
            "dynamodb", "create-table",
            "--table-name", name,
            "--attribute-definitions", "AttributeName=id,AttributeType=S",
            "--key-schema", "AttributeName=id,KeyType=HASH",
            "--provisioned-throughput", "ReadCapacityUnits=5,WriteCapacityUnits=5",
            "--tags", "Key=team,Value=tickets",
        )
    )
    assert out["TableDescription"]["TableName"] == name
    ok(node.aws("dynamodb", "wait", "table-exists", "--table-name", name))
    desc = ok(node.aws("dynamodb", "describe-table", "--table-name", name))["Table"]
    assert desc["TableStatus"] == "ACTIVE"
    assert desc["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert desc["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    assert name in ok(node.aws("dynamodb", "list-tables"))["TableNames"]
    tags = ok(node.aws("dynamodb", "list-tags-of-resource", "--resource-arn", desc["TableArn"]))["Tags"]
    assert tags == [{"Key": "team", "Value": "tickets"}]
    ok(node.aws("dynamodb", "delete-table", "--table-name", name))
    ok(node.aws("dynamodb", "wait", "table-not-exists", "--table-name", name))
    fails(node.aws("dynamodb", "describe-table", "--table-name", name), "ResourceNotFoundException")


def test_cli_list_tables_auto_paginates_small_pages(node, ddb):
    prefix = unique_table("cli-pg")
    for i in range(4):
        make_table(ddb, f"{prefix}-{i}")
    names = ok(node.aws("dynamodb", "list-tables", "--page-size", "1"))["TableNames"]
    assert [n for n in names if n.startswith(prefix)] == [f"{prefix}-{i}" for i in range(4)]
    assert len(names) == len(set(names))


def test_cli_put_get_update_delete_item(node, cli_table, tmp_path):
    item = {"pk": {"S": "cli"}, "sk": {"N": "1"}, "title": {"S": "hello"}, "tags": {"SS": ["a", "b"]}, "n": {"N": "10"}}
    ok(node.aws("dynamodb", "put-item", "--table-name", cli_table, "--item", json.dumps(item)))
    key = json.dumps({"pk": {"S": "cli"}, "sk": {"N": "1"}})
    got = ok(node.aws("dynamodb", "get-item", "--table-name", cli_table, "--key", key, "--consistent-read"))["Item"]
    assert got["title"] == {"S": "hello"} and sorted(got["tags"]["SS"]) == ["a", "b"]
    values = tmp_path / "values.json"
    values.write_text(json.dumps({":inc": {"N": "5"}, ":t": {"S": "bye"}}))
    out = ok(
        node.aws(
            "dynamodb", "update-item", "--table-name", cli_table, "--key", key,
            "--update-expression", "SET title = :t ADD n :inc REMOVE tags",
            "--expression-attribute-values", f"file://{values}",
            "--return-values", "ALL_NEW",
        )
    )
    assert out["Attributes"] == {"pk": {"S": "cli"}, "sk": {"N": "1"}, "title": {"S": "bye"}, "n": {"N": "15"}}
    got = ok(node.aws("dynamodb", "get-item", "--table-name", cli_table, "--key", key, "--projection-expression", "n"))
    assert got["Item"] == {"n": {"N": "15"}}
    ok(node.aws("dynamodb", "delete-item", "--table-name", cli_table, "--key", key))
    assert ok(node.aws("dynamodb", "get-item", "--table-name", cli_table, "--key", key)) in (None, {})


def test_cli_conditional_put_fails_with_conditional_check_failed(node, cli_table):
    item = json.dumps({"pk": {"S": "cond"}, "sk": {"N": "1"}})
    ok(node.aws("dynamodb", "put-item", "--table-name", cli_table, "--item", item, "--condition-expression", "attribute_not_exists(pk)"))
    err = fails(
        node.aws("dynamodb", "put-item", "--table-name", cli_table, "--item", item, "--condition-expression", "attribute_not_exists(pk)"),
        "ConditionalCheckFailedException",
    )
    assert "The conditional request failed" in err


def test_cli_query_and_scan_paginate_through_every_item(node, ddb, cli_table, tmp_path):
    reqs = {cli_table: [{"PutRequest": {"Item": {"pk": {"S": "many"}, "sk": {"N": str(i)}, "odd": {"BOOL": i % 2 == 1}}}} for i in range(22)]}
    f = tmp_path / "batch.json"
    f.write_text(json.dumps({cli_table: reqs[cli_table][:11]}))
    assert ok(node.aws("dynamodb", "batch-write-item", "--request-items", f"file://{f}"))["UnprocessedItems"] == {}
    assert ddb.batch_write_item(RequestItems={cli_table: reqs[cli_table][11:]})["UnprocessedItems"] == {}

    out = ok(
        node.aws(
            "dynamodb", "query", "--table-name", cli_table,
            "--key-condition-expression", "pk = :p AND sk >= :lo",
            "--expression-attribute-values", json.dumps({":p": {"S": "many"}, ":lo": {"N": "2"}}),
            "--page-size", "3",
        )
    )
    assert [int(i["sk"]["N"]) for i in out["Items"]] == list(range(2, 22))
    assert out["Count"] == 20
    out = ok(
        node.aws(
            "dynamodb", "query", "--table-name", cli_table,
            "--key-condition-expression", "pk = :p",
            "--filter-expression", "odd = :t",
            "--expression-attribute-values", json.dumps({":p": {"S": "many"}, ":t": {"BOOL": True}}),
            "--no-scan-index-forward",
        )
    )
    assert [int(i["sk"]["N"]) for i in out["Items"]] == list(range(21, 0, -2))
    out = ok(
        node.aws(
            "dynamodb", "scan", "--table-name", cli_table,
            "--filter-expression", "pk = :p",
            "--expression-attribute-values", json.dumps({":p": {"S": "many"}}),
            "--page-size", "4",
        )
    )
    assert sorted(int(i["sk"]["N"]) for i in out["Items"]) == list(range(22))
    # --max-items hands back a NextToken that continues where it stopped
    first = ok(node.aws("dynamodb", "scan", "--table-name", cli_table, "--max-items", "5", "--page-size", "2"))
    assert len(first["Items"]) == 5 and first.get("NextToken")
    rest = ok(node.aws("dynamodb", "scan", "--table-name", cli_table, "--starting-token", first["NextToken"]))
    keys = [(i["pk"]["S"], i["sk"]["N"]) for i in first["Items"] + rest["Items"]]
    assert len(keys) == len(set(keys))
    total = ddb.scan(TableName=cli_table, Select="COUNT", ConsistentRead=True)["Count"]
    assert len(keys) == total


def test_cli_batch_get_item(node, ddb, cli_table):
    for i in range(3):
        ddb.put_item(TableName=cli_table, Item={"pk": {"S": "bg"}, "sk": {"N": str(i)}})
    req = {cli_table: {"Keys": [{"pk": {"S": "bg"}, "sk": {"N": str(i)}} for i in range(4)]}}
    out = ok(node.aws("dynamodb", "batch-get-item", "--request-items", json.dumps(req)))
    assert sorted(int(i["sk"]["N"]) for i in out["Responses"][cli_table]) == [0, 1, 2]


def test_cli_transact_write_items_cancellation_is_reported(node, ddb, cli_table, tmp_path):
    ddb.put_item(TableName=cli_table, Item={"pk": {"S": "tx"}, "sk": {"N": "1"}})
    items = [
        {"Put": {"TableName": cli_table, "Item": {"pk": {"S": "tx"}, "sk": {"N": "2"}}}},
        {"ConditionCheck": {"TableName": cli_table, "Key": {"pk": {"S": "tx"}, "sk": {"N": "1"}}, "ConditionExpression": "attribute_not_exists(pk)"}},
    ]
    f = tmp_path / "tx.json"
    f.write_text(json.dumps(items))
    err = fails(node.aws("dynamodb", "transact-write-items", "--transact-items", f"file://{f}"), "TransactionCanceledException")
    assert "ConditionalCheckFailed" in err
    key2 = {"pk": {"S": "tx"}, "sk": {"N": "2"}}
    assert "Item" not in ddb.get_item(TableName=cli_table, Key=key2)
    f.write_text(json.dumps(items[:1]))
    ok(node.aws("dynamodb", "transact-write-items", "--transact-items", f"file://{f}"))
    assert ddb.get_item(TableName=cli_table, Key=key2)["Item"] == key2


def test_cli_time_to_live(node, cli_table):
    out = ok(node.aws("dynamodb", "update-time-to-live", "--table-name", cli_table, "--time-to-live-specification", "Enabled=true,AttributeName=expires_at"))
    assert out["TimeToLiveSpecification"] == {"Enabled": True, "AttributeName": "expires_at"}
    d = ok(node.aws("dynamodb", "describe-time-to-live", "--table-name", cli_table))["TimeToLiveDescription"]
    assert d["AttributeName"] == "expires_at" and d["TimeToLiveStatus"] in ("ENABLED", "ENABLING")


def test_cli_reads_the_stream(node, ddb, cli_table):
    ddb.put_item(TableName=cli_table, Item={"pk": {"S": "streamed"}, "sk": {"N": "1"}, "v": {"S": "a"}})
    ddb.delete_item(TableName=cli_table, Key={"pk": {"S": "streamed"}, "sk": {"N": "1"}})
    streams = ok(node.aws("dynamodbstreams", "list-streams", "--table-name", cli_table))["Streams"]
    assert len(streams) == 1
    arn = streams[0]["StreamArn"]
    desc = ok(node.aws("dynamodbstreams", "describe-stream", "--stream-arn", arn))["StreamDescription"]
    assert desc["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    records = []
    for shard in desc["Shards"]:
        it = ok(node.aws("dynamodbstreams", "get-shard-iterator", "--stream-arn", arn, "--shard-id", shard["ShardId"], "--shard-iterator-type", "TRIM_HORIZON"))["ShardIterator"]
        for _ in range(50):
            r = ok(node.aws("dynamodbstreams", "get-records", "--shard-iterator", it))
            records += r["Records"]
            if not r["Records"] or not r.get("NextShardIterator"):
                break
            it = r["NextShardIterator"]
    mine = [(r["eventName"], r["dynamodb"].get("NewImage"), r["dynamodb"].get("OldImage")) for r in records if r["dynamodb"]["Keys"]["pk"] == {"S": "streamed"}]
    item = {"pk": {"S": "streamed"}, "sk": {"N": "1"}, "v": {"S": "a"}}
    assert mine == [("INSERT", item, None), ("REMOVE", None, item)]


def test_cli_validation_error_is_reported_with_message(node, cli_table):
    err = fails(
        node.aws("dynamodb", "update-item", "--table-name", cli_table, "--key", json.dumps({"pk": {"S": "x"}, "sk": {"N": "1"}}), "--update-expression", "SET"),
        "ValidationException",
    )
    assert "Invalid UpdateExpression: Syntax error" in err
    fails(node.aws("dynamodb", "scan", "--table-name", unique_table("cli-missing")), "ResourceNotFoundException")
