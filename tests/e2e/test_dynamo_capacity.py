"""ReturnConsumedCapacity (TOTAL and INDEXES) on every operation that takes it,
with units computed as DynamoDB does: 4 KB read units (halved when eventually
consistent, Query/Scan rounding the total they read), 1 KB write units of the
larger image, index writes only where the index's projection changes (two when
its key changes), transactions doubled, batches per table."""

import pytest

from dynamo_helpers import ddb_client, ddb_error, make_table, unique_table

S = lambda v: {"S": v}  # noqa: E731
KB = 1024


@pytest.fixture(scope="module")
def ddb(node):
    return ddb_client(node)


@pytest.fixture(scope="module")
def table(ddb):
    """pk S / sk N, a KEYS_ONLY GSI on g and an ALL LSI on l."""
    return make_table(
        ddb,
        unique_table("capacity"),
        ("pk", "S"),
        ("sk", "N"),
        gsis=[{"name": "byG", "hash": ("g", "S"), "projection": "KEYS_ONLY"}],
        lsis=[{"name": "byL", "range": ("l", "S")}],
    )


def blob(n_bytes: int) -> dict:
    return S("x" * n_bytes)


def item(sk: int, size: int, **extra) -> dict:
    """An item of about `size` bytes (attribute names and key included in DynamoDB's size)."""
    return {"pk": S("p"), "sk": {"N": str(sk)}, "b": blob(size), **extra}


def test_put_reports_1_kb_write_units_and_index_writes(ddb, table):
    r = ddb.put_item(TableName=table, Item=item(1, 2 * KB + 10, g=S("g1")), ReturnConsumedCapacity="INDEXES")
    c = r["ConsumedCapacity"]
    assert c["TableName"] == table
    assert c["Table"] == {"CapacityUnits": 3.0, "WriteCapacityUnits": 3.0}
    assert c["GlobalSecondaryIndexes"] == {"byG": {"CapacityUnits": 1.0, "WriteCapacityUnits": 1.0}}
    assert "LocalSecondaryIndexes" not in c  # no l attribute: not in the LSI
    assert c["CapacityUnits"] == 4.0 and c["WriteCapacityUnits"] == 4.0
    total = ddb.put_item(TableName=table, Item=item(2, 100), ReturnConsumedCapacity="TOTAL")["ConsumedCapacity"]
    assert total == {"TableName": table, "CapacityUnits": 1.0, "WriteCapacityUnits": 1.0}
    assert "ConsumedCapacity" not in ddb.put_item(TableName=table, Item=item(2, 100), ReturnConsumedCapacity="NONE")


def test_update_charges_the_larger_image_and_indexes_whose_view_changes(ddb, table):
    ddb.put_item(TableName=table, Item=item(3, 10, g=S("g"), l=S("l")))
    r = ddb.update_item(
        TableName=table,
        Key={"pk": S("p"), "sk": {"N": "3"}},
        UpdateExpression="SET b = :b",
        ExpressionAttributeValues={":b": blob(3 * KB)},
        ReturnConsumedCapacity="INDEXES",
    )["ConsumedCapacity"]
    # The KEYS_ONLY GSI does not see b; the ALL LSI does (4 KB item).
    assert r["Table"]["WriteCapacityUnits"] == 4.0
    assert "GlobalSecondaryIndexes" not in r
    assert r["LocalSecondaryIndexes"] == {"byL": {"CapacityUnits": 4.0, "WriteCapacityUnits": 4.0}}
    r = ddb.update_item(
        TableName=table,
        Key={"pk": S("p"), "sk": {"N": "3"}},
        UpdateExpression="SET g = :g REMOVE b",
        ExpressionAttributeValues={":g": S("moved")},
        ReturnConsumedCapacity="INDEXES",
    )["ConsumedCapacity"]
    assert r["GlobalSecondaryIndexes"]["byG"]["WriteCapacityUnits"] == 2.0  # delete + put of the entry
    assert r["Table"]["WriteCapacityUnits"] == 4.0  # the old image was 4 KB


def test_delete_charges_the_deleted_item(ddb, table):
    ddb.put_item(TableName=table, Item=item(4, 5 * KB))
    r = ddb.delete_item(TableName=table, Key={"pk": S("p"), "sk": {"N": "4"}}, ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"]["CapacityUnits"] == 6.0
    r = ddb.delete_item(TableName=table, Key={"pk": S("p"), "sk": {"N": "4"}}, ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"]["CapacityUnits"] == 1.0


def test_get_item_rounds_to_4_kb_and_halves_eventual_reads(ddb, table):
    ddb.put_item(TableName=table, Item=item(5, 9 * KB))
    key = {"pk": S("p"), "sk": {"N": "5"}}
    strong = ddb.get_item(TableName=table, Key=key, ConsistentRead=True, ReturnConsumedCapacity="TOTAL")["ConsumedCapacity"]
    assert strong == {"TableName": table, "CapacityUnits": 3.0, "ReadCapacityUnits": 3.0}
    eventual = ddb.get_item(TableName=table, Key=key, ReturnConsumedCapacity="INDEXES")["ConsumedCapacity"]
    assert eventual["CapacityUnits"] == 1.5 and eventual["Table"] == {"CapacityUnits": 1.5, "ReadCapacityUnits": 1.5}
    missing = ddb.get_item(TableName=table, Key={"pk": S("none"), "sk": {"N": "0"}}, ReturnConsumedCapacity="TOTAL")
    assert missing["ConsumedCapacity"]["CapacityUnits"] == 0.5


def test_query_rounds_the_total_read_and_charges_the_index_queried(ddb):
    t = make_table(ddb, unique_table("capacity-q"), ("pk", "S"), ("sk", "N"), gsis=[{"name": "byG", "hash": ("g", "S")}])
    for i in range(10):
        ddb.put_item(TableName=t, Item={"pk": S("q"), "sk": {"N": str(i)}, "g": S("g"), "b": blob(1000)})
    r = ddb.query(TableName=t, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("q")}, ConsistentRead=True, ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"]["CapacityUnits"] == 3.0  # ~10 KB together, not 10 x 1 unit
    r = ddb.query(
        TableName=t, IndexName="byG", KeyConditionExpression="g = :g", ExpressionAttributeValues={":g": S("g")}, ReturnConsumedCapacity="INDEXES"
    )["ConsumedCapacity"]
    assert r["GlobalSecondaryIndexes"] == {"byG": {"CapacityUnits": 1.5, "ReadCapacityUnits": 1.5}}
    assert r["Table"] == {"CapacityUnits": 0.0}
    r = ddb.scan(TableName=t, FilterExpression="sk = :n", ExpressionAttributeValues={":n": {"N": "1"}}, ReturnConsumedCapacity="TOTAL")
    assert r["Count"] == 1 and r["ConsumedCapacity"]["CapacityUnits"] == 1.5  # the filter does not reduce what was read


def test_batches_report_per_table(ddb, table):
    other = make_table(ddb, unique_table("capacity-b"), ("pk", "S"))
    r = ddb.batch_write_item(
        RequestItems={
            table: [{"PutRequest": {"Item": item(10, 1500)}}, {"PutRequest": {"Item": item(11, 10)}}],
            other: [{"PutRequest": {"Item": {"pk": S("o"), "b": blob(10)}}}],
        },
        ReturnConsumedCapacity="TOTAL",
    )
    got = {c["TableName"]: c["CapacityUnits"] for c in r["ConsumedCapacity"]}
    assert got == {table: 3.0, other: 1.0}
    r = ddb.batch_get_item(
        RequestItems={table: {"Keys": [{"pk": S("p"), "sk": {"N": "10"}}, {"pk": S("p"), "sk": {"N": "11"}}], "ConsistentRead": True}, other: {"Keys": [{"pk": S("o")}]}},
        ReturnConsumedCapacity="TOTAL",
    )
    got = {c["TableName"]: c["CapacityUnits"] for c in r["ConsumedCapacity"]}
    assert got == {table: 2.0, other: 0.5}  # each item rounds up on its own


def test_transactions_cost_double(ddb, table):
    r = ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": item(20, 1500)}},
            {"ConditionCheck": {"TableName": table, "Key": {"pk": S("p"), "sk": {"N": "11"}}, "ConditionExpression": "attribute_exists(pk)"}},
        ],
        ReturnConsumedCapacity="TOTAL",
    )
    assert r["ConsumedCapacity"] == [{"TableName": table, "CapacityUnits": 6.0, "ReadCapacityUnits": 2.0, "WriteCapacityUnits": 4.0}]
    r = ddb.transact_get_items(TransactItems=[{"Get": {"TableName": table, "Key": {"pk": S("p"), "sk": {"N": "20"}}}}], ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"] == [{"TableName": table, "CapacityUnits": 2.0, "ReadCapacityUnits": 2.0}]


def test_unknown_return_consumed_capacity_is_refused(ddb, table):
    with ddb_error("ValidationException", message=r"Value 'ALL' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: \[INDEXES, TOTAL, NONE\]"):
        ddb.get_item(TableName=table, Key={"pk": S("p"), "sk": {"N": "1"}}, ReturnConsumedCapacity="ALL")
