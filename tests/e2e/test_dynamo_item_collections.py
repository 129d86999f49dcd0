"""Item collections of tables with local secondary indexes: DynamoDB caps the
items sharing one partition key value (with their local-index entries) at
10 GB. The node here sets `[dynamodb] item_collection_max_bytes` low, so the
edge of the limit is reached with a few small items: the largest collection
accepted, the first byte over refused with
ItemCollectionSizeLimitExceededException (changing nothing), for PutItem,
UpdateItem, BatchWriteItem and TransactWriteItems; deletes make room again;
`ReturnItemCollectionMetrics = SIZE` reports the collection. The sizes are
computed here independently, by DynamoDB's documented rules: an item's size
plus, per local-index entry, its projected attributes and 100 bytes."""

import pytest

from dynamo_helpers import ddb_client, ddb_error, make_table, unique_table
from e2e_helpers import Node

S = lambda v: {"S": v}  # noqa: E731
LIMIT = 4000
INDEX_OVERHEAD = 100
EXCEEDED = r"^Collection size exceeded\.$"


def item_size(item: dict) -> int:
    """DynamoDB's size of an item of string attributes."""
    return sum(len(name.encode()) + len(value["S"].encode()) for name, value in item.items())


def footprint(item: dict) -> int:
    """What an item counts for: itself plus its KEYS_ONLY entry in byV (if it has v)."""
    size = item_size(item)
    if "v" in item:
        size += item_size({k: item[k] for k in ("pk", "sk", "v")}) + INDEX_OVERHEAD
    return size


@pytest.fixture(scope="module")
def limited(tandem_bin, tmp_path_factory):
    n = Node(tandem_bin, tmp_path_factory.mktemp("collections"))
    n.write_config()
    with open(n.config_path, "a") as f:
        f.write(f"\n[dynamodb]\nitem_collection_max_bytes = {LIMIT}\n")
    n.start()
    yield n
    n.stop()


@pytest.fixture(scope="module")
def ddb(limited):
    return ddb_client(limited)


@pytest.fixture
def table(ddb):
    return make_table(
        ddb, unique_table("coll"), ("pk", "S"), ("sk", "S"), lsis=[{"name": "byV", "range": ("v", "S"), "projection": "KEYS_ONLY"}]
    )


def item(pk: str, sk: str, pad: int, v: str | None = "x") -> dict:
    out = {"pk": S(pk), "sk": S(sk), "data": S("d" * pad)}
    if v is not None:
        out["v"] = S(v)
    return out


def fill_to(ddb, table: str, pk: str, target: int) -> int:
    """Puts items into partition `pk` until its collection is exactly `target` bytes; returns the count."""
    used, n = 0, 0
    while used < target:
        base, rest = footprint(item(pk, f"{n:04}", 0)), target - used
        # The last item takes what is left; the one before leaves it enough.
        pad = rest - base if rest - base <= 1000 else min(1000, rest - 2 * base)
        assert pad >= 0, "target not reachable exactly"
        it = item(pk, f"{n:04}", pad)
        ddb.put_item(TableName=table, Item=it)
        used += footprint(it)
        n += 1
    assert used == target
    return n


def count(ddb, table: str, pk: str) -> int:
    return ddb.query(TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S(pk)}, Select="COUNT")["Count"]


def test_a_collection_fills_to_the_limit_and_the_first_byte_over_is_refused(ddb, table):
    n = fill_to(ddb, table, "full", LIMIT - footprint(item("full", "last", 0)))
    last = item("full", "last", 0)
    ddb.put_item(TableName=table, Item=last)  # exactly LIMIT bytes now
    with ddb_error("ItemCollectionSizeLimitExceededException", message=EXCEEDED):
        ddb.put_item(TableName=table, Item=item("full", "more", 0))
    with ddb_error("ItemCollectionSizeLimitExceededException", message=EXCEEDED):
        ddb.update_item(TableName=table, Key={"pk": S("full"), "sk": S("last")}, UpdateExpression="SET grow = :g", ExpressionAttributeValues={":g": S("g")})
    assert count(ddb, table, "full") == n + 1
    assert "grow" not in ddb.get_item(TableName=table, Key={"pk": S("full"), "sk": S("last")})["Item"]
    # Another partition of the same table is its own collection.
    ddb.put_item(TableName=table, Item=item("other", "1", 500))
    # A write that keeps the size, or shrinks it, is still accepted at the limit.
    ddb.put_item(TableName=table, Item=last)
    ddb.update_item(TableName=table, Key={"pk": S("full"), "sk": S("0000")}, UpdateExpression="REMOVE v")
    # ...and made room: the removed index entry is what can be written again.
    freed = footprint(item("full", "0000", 0)) - item_size(item("full", "0000", 0, v=None))
    grow = "g" * (freed - len("grow"))
    ddb.update_item(TableName=table, Key={"pk": S("full"), "sk": S("last")}, UpdateExpression="SET grow = :g", ExpressionAttributeValues={":g": S(grow)})
    with ddb_error("ItemCollectionSizeLimitExceededException", message=EXCEEDED):
        ddb.put_item(TableName=table, Item={"pk": S("full"), "sk": S("tiny")})


def test_deleting_items_makes_room_again(ddb, table):
    fill_to(ddb, table, "p", LIMIT)
    extra = item("p", "extra", 0)
    with ddb_error("ItemCollectionSizeLimitExceededException", message=EXCEEDED):
        ddb.put_item(TableName=table, Item=extra)
    ddb.delete_item(TableName=table, Key={"pk": S("p"), "sk": S("0000")})
    ddb.put_item(TableName=table, Item=extra)


def test_item_collection_metrics_report_the_key_and_the_size_range(ddb, table):
    out = ddb.put_item(TableName=table, Item=item("m", "1", 10), ReturnItemCollectionMetrics="SIZE")
    assert out["ItemCollectionMetrics"] == {"ItemCollectionKey": {"pk": S("m")}, "SizeEstimateRangeGB": [0.0, 1.0]}
    out = ddb.update_item(
        TableName=table, Key={"pk": S("m"), "sk": S("1")}, UpdateExpression="SET w = :w", ExpressionAttributeValues={":w": S("w")},
        ReturnItemCollectionMetrics="SIZE",
    )
    assert out["ItemCollectionMetrics"]["ItemCollectionKey"] == {"pk": S("m")}
    out = ddb.delete_item(TableName=table, Key={"pk": S("m"), "sk": S("1")}, ReturnItemCollectionMetrics="SIZE")
    assert out["ItemCollectionMetrics"]["ItemCollectionKey"] == {"pk": S("m")}
    assert "ItemCollectionMetrics" not in ddb.put_item(TableName=table, Item=item("m", "2", 1))
    assert "ItemCollectionMetrics" not in ddb.put_item(TableName=table, Item=item("m", "3", 1), ReturnItemCollectionMetrics="NONE")
    with ddb_error("ValidationException", message=r"^1 validation error detected: Value 'ALL' at 'returnItemCollectionMetrics' failed to satisfy constraint: Member must satisfy enum value set: \[SIZE, NONE\]$"):
        ddb.put_item(TableName=table, Item=item("m", "4", 1), ReturnItemCollectionMetrics="ALL")


def test_a_table_without_local_indexes_has_no_collection_limit(ddb):
    plain = make_table(ddb, unique_table("plain"), ("pk", "S"), ("sk", "S"))
    for n in range(LIMIT // 1000 + 2):
        out = ddb.put_item(TableName=plain, Item=item("p", str(n), 1000), ReturnItemCollectionMetrics="SIZE")
        assert "ItemCollectionMetrics" not in out
    assert count(ddb, plain, "p") == LIMIT // 1000 + 2


def test_a_batch_over_the_limit_is_refused_whole(ddb, table):
    fill_to(ddb, table, "b", LIMIT - 200)
    puts = [{"PutRequest": {"Item": item("b", f"new{i}", 0)}} for i in range(5)]
    with ddb_error("ItemCollectionSizeLimitExceededException", message=EXCEEDED):
        ddb.batch_write_item(RequestItems={table: puts})
    assert ddb.get_item(TableName=table, Key={"pk": S("b"), "sk": S("new0")}).get("Item") is None
    out = ddb.batch_write_item(RequestItems={table: puts[:1]}, ReturnItemCollectionMetrics="SIZE")
    assert out["ItemCollectionMetrics"] == {table: [{"ItemCollectionKey": {"pk": S("b")}, "SizeEstimateRangeGB": [0.0, 1.0]}]}


def test_a_transaction_over_the_limit_is_cancelled_naming_the_write(ddb, table):
    fill_to(ddb, table, "t", LIMIT - 100)
    steps = [
        {"Put": {"TableName": table, "Item": item("elsewhere", "1", 0)}},
        {"Put": {"TableName": table, "Item": item("t", "new", 200)}},
    ]
    with ddb_error("TransactionCanceledException", message=r"\[None, ItemCollectionSizeLimitExceeded\]") as e:
        ddb.transact_write_items(TransactItems=steps)
    reasons = e.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ItemCollectionSizeLimitExceeded"]
    assert ddb.get_item(TableName=table, Key={"pk": S("elsewhere"), "sk": S("1")}).get("Item") is None
    out = ddb.transact_write_items(TransactItems=steps[:1], ReturnItemCollectionMetrics="SIZE")
    assert out["ItemCollectionMetrics"][table][0]["ItemCollectionKey"] == {"pk": S("elsewhere")}


def test_items_outside_the_local_index_count_only_themselves(ddb, table):
    n = 0
    used = 0
    while used + 1000 <= LIMIT:
        it = item("nov", f"{n:04}", 1000 - item_size(item("nov", f"{n:04}", 0, v=None)), v=None)
        assert item_size(it) == 1000
        ddb.put_item(TableName=table, Item=it)
        used += 1000
        n += 1
    assert used == LIMIT
    with ddb_error("ItemCollectionSizeLimitExceededException", message=EXCEEDED):
        ddb.put_item(TableName=table, Item={"pk": S("nov"), "sk": S("z")})


def test_the_count_survives_a_restart_and_a_dropped_table_starts_empty(ddb, limited, table):
    fill_to(ddb, table, "r", LIMIT)
    limited.stop()
    limited.start()
    ddb = ddb_client(limited)
    with ddb_error("ItemCollectionSizeLimitExceededException", message=EXCEEDED):
        ddb.put_item(TableName=table, Item=item("r", "extra", 0))
    ddb.delete_table(TableName=table)
    make_table(ddb, table, ("pk", "S"), ("sk", "S"), lsis=[{"name": "byV", "range": ("v", "S"), "projection": "KEYS_ONLY"}])
    fill_to(ddb, table, "r", LIMIT)
