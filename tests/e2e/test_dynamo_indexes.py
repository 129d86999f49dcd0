"""Global and local secondary indexes: sparse indexing, consistency after PutItem,
UpdateItem (changing or removing the indexed attribute) and DeleteItem, projections
(ALL, KEYS_ONLY, INCLUDE), sort order and pagination on an index, GSIs added and
removed by UpdateTable (existing items are backfilled), and index errors."""

import pytest

from dynamo_helpers import ddb_client, ddb_error, make_table, paginate, unique_table, wait_until


@pytest.fixture(scope="module")
def table(node):
    """Orders: pk=customer, sk=order id; GSI byStatus (status, total); GSI byEmail KEYS_ONLY;
    GSI byRegion INCLUDE [note]; LSI byTotal (pk, amt)."""
    return make_table(
        ddb_client(node),
        unique_table("orders"),
        ("pk", "S"),
        ("sk", "S"),
        gsis=[
            {"name": "byStatus", "hash": ("st", "S"), "range": ("amt", "N")},
            {"name": "byEmail", "hash": ("email", "S"), "projection": "KEYS_ONLY"},
            {"name": "byRegion", "hash": ("rg", "S"), "projection": ("INCLUDE", ["note"])},
        ],
        lsis=[{"name": "byTotal", "range": ("amt", "N")}],
    )


def gsi(ddb, table, index, cond, values, **kw):
    return ddb.query(TableName=table, IndexName=index, KeyConditionExpression=cond, ExpressionAttributeValues=values, **kw)


def ids(items):
    return [i["sk"]["S"] for i in items]


def by_status(ddb, table, st, **kw):
    return ids(gsi(ddb, table, "byStatus", "st = :s", {":s": {"S": st}}, **kw)["Items"])


def order(pk, sk, **attrs):
    item = {"pk": {"S": pk}, "sk": {"S": sk}}
    for k, v in attrs.items():
        item[k] = {"N": str(v)} if isinstance(v, (int, float)) else {"S": v}
    return item


def test_gsi_query_returns_items_by_index_key_in_index_sort_order(ddb, table):
    ddb.put_item(TableName=table, Item=order("c1", "o1", st="open-a", amt=30))
    ddb.put_item(TableName=table, Item=order("c2", "o2", st="open-a", amt=5))
    ddb.put_item(TableName=table, Item=order("c1", "o3", st="open-a", amt=100))
    ddb.put_item(TableName=table, Item=order("c3", "o4", st="shipped-a", amt=7))
    assert by_status(ddb, table, "open-a") == ["o2", "o1", "o3"]
    assert by_status(ddb, table, "open-a", ScanIndexForward=False) == ["o3", "o1", "o2"]
    r = gsi(ddb, table, "byStatus", "st = :s AND amt > :t", {":s": {"S": "open-a"}, ":t": {"N": "9"}})
    assert ids(r["Items"]) == ["o1", "o3"]
    # an ALL projection returns whole items
    assert r["Items"][0] == order("c1", "o1", st="open-a", amt=30)


def test_items_without_the_index_key_are_not_in_the_gsi(ddb, table):
    ddb.put_item(TableName=table, Item=order("c9", "sparse1", st="sparse-b", amt=1))
    ddb.put_item(TableName=table, Item=order("c9", "sparse2", amt=2))  # no st
    ddb.put_item(TableName=table, Item=order("c9", "sparse3", st="sparse-b"))  # no total (index range key)
    assert by_status(ddb, table, "sparse-b") == ["sparse1"]
    r = ddb.scan(TableName=table, IndexName="byStatus", FilterExpression="pk = :c", ExpressionAttributeValues={":c": {"S": "c9"}})
    assert ids(r["Items"]) == ["sparse1"]


def test_updating_the_indexed_attribute_moves_the_item_in_the_gsi(ddb, table):
    ddb.put_item(TableName=table, Item=order("c5", "mv1", st="pending-c", amt=10))
    ddb.put_item(TableName=table, Item=order("c5", "mv2", st="pending-c", amt=20))
    assert by_status(ddb, table, "pending-c") == ["mv1", "mv2"]
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": "c5"}, "sk": {"S": "mv1"}},
        UpdateExpression="SET st = :s",
        ExpressionAttributeValues={":s": {"S": "done-c"}},
    )
    assert by_status(ddb, table, "pending-c") == ["mv2"]
    assert by_status(ddb, table, "done-c") == ["mv1"]
    # changing the index sort key reorders it
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": "c5"}, "sk": {"S": "mv2"}},
        UpdateExpression="SET st = :s, amt = :t",
        ExpressionAttributeValues={":s": {"S": "done-c"}, ":t": {"N": "1"}},
    )
    assert by_status(ddb, table, "done-c") == ["mv2", "mv1"]
    assert by_status(ddb, table, "pending-c") == []
    # updating a non-key attribute shows up in the index projection
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": "c5"}, "sk": {"S": "mv1"}},
        UpdateExpression="SET extra = :e",
        ExpressionAttributeValues={":e": {"S": "seen"}},
    )
    items = gsi(ddb, table, "byStatus", "st = :s", {":s": {"S": "done-c"}})["Items"]
    assert items[1]["extra"] == {"S": "seen"}


def test_removing_the_indexed_attribute_drops_the_item_from_the_gsi(ddb, table):
    ddb.put_item(TableName=table, Item=order("c6", "rm1", st="rm-d", amt=1))
    ddb.put_item(TableName=table, Item=order("c6", "rm2", st="rm-d", amt=2))
    ddb.update_item(TableName=table, Key={"pk": {"S": "c6"}, "sk": {"S": "rm1"}}, UpdateExpression="REMOVE st")
    assert by_status(ddb, table, "rm-d") == ["rm2"]
    ddb.update_item(TableName=table, Key={"pk": {"S": "c6"}, "sk": {"S": "rm2"}}, UpdateExpression="REMOVE amt")
    assert by_status(ddb, table, "rm-d") == []
    # putting it back indexes it again
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": "c6"}, "sk": {"S": "rm1"}},
        UpdateExpression="SET st = :s",
        ExpressionAttributeValues={":s": {"S": "rm-d"}},
    )
    assert by_status(ddb, table, "rm-d") == ["rm1"]


def test_deleting_or_replacing_an_item_updates_the_gsi(ddb, table):
    ddb.put_item(TableName=table, Item=order("c7", "d1", st="del-e", amt=1))
    ddb.put_item(TableName=table, Item=order("c7", "d2", st="del-e", amt=2))
    ddb.delete_item(TableName=table, Key={"pk": {"S": "c7"}, "sk": {"S": "d1"}})
    assert by_status(ddb, table, "del-e") == ["d2"]
    ddb.put_item(TableName=table, Item=order("c7", "d2", st="other-e", amt=2))
    assert by_status(ddb, table, "del-e") == []
    assert by_status(ddb, table, "other-e") == ["d2"]
    ddb.put_item(TableName=table, Item=order("c7", "d2"))  # replaced without index attributes
    assert by_status(ddb, table, "other-e") == []


def test_conditional_failure_leaves_the_gsi_unchanged(ddb, table):
    ddb.put_item(TableName=table, Item=order("c8", "cf", st="cond-f", amt=1))
    with ddb_error("ConditionalCheckFailedException"):
        ddb.update_item(
            TableName=table,
            Key={"pk": {"S": "c8"}, "sk": {"S": "cf"}},
            UpdateExpression="SET st = :s",
            ConditionExpression="attribute_not_exists(pk)",
            ExpressionAttributeValues={":s": {"S": "cond-g"}},
        )
    assert by_status(ddb, table, "cond-f") == ["cf"]
    assert by_status(ddb, table, "cond-g") == []


def test_keys_only_gsi_projects_table_and_index_keys(ddb, table):
    ddb.put_item(TableName=table, Item=order("c10", "k1", email="x@example.test", st="ko", amt=3, note="n"))
    r = gsi(ddb, table, "byEmail", "email = :e", {":e": {"S": "x@example.test"}})
    assert r["Items"] == [{"pk": {"S": "c10"}, "sk": {"S": "k1"}, "email": {"S": "x@example.test"}}]


def test_include_gsi_projects_keys_and_listed_attributes(ddb, table):
    ddb.put_item(TableName=table, Item=order("c11", "i1", rg="eu-inc", note="keep", other="drop", amt=1))
    r = gsi(ddb, table, "byRegion", "rg = :r", {":r": {"S": "eu-inc"}})
    assert r["Items"] == [{"pk": {"S": "c11"}, "sk": {"S": "i1"}, "rg": {"S": "eu-inc"}, "note": {"S": "keep"}}]


def test_gsi_with_many_items_per_key_paginates_without_duplicates(ddb, table):
    for i in range(23):
        ddb.put_item(TableName=table, Item=order(f"cp{i % 4}", f"page{i:02d}", st="paged-h", amt=i % 5))
    items, pages = paginate(
        ddb.query,
        TableName=table,
        IndexName="byStatus",
        KeyConditionExpression="st = :s",
        ExpressionAttributeValues={":s": {"S": "paged-h"}},
        Limit=4,
    )
    got = ids(items)
    assert sorted(got) == [f"page{i:02d}" for i in range(23)]
    assert len(got) == len(set(got))
    totals = [int(i["amt"]["N"]) for i in items]
    assert totals == sorted(totals)
    lek = pages[0]["LastEvaluatedKey"]
    # an index's LastEvaluatedKey carries the table key and the index key
    assert set(lek) == {"pk", "sk", "st", "amt"}


def test_lsi_query_orders_a_partition_by_the_alternate_sort_key(ddb, table):
    for sk, amt_v in [("l1", 50), ("l2", 5), ("l3", 500), ("l4", 50)]:
        ddb.put_item(TableName=table, Item=order("lsi-cust", sk, amt=amt_v))
    ddb.put_item(TableName=table, Item=order("lsi-cust", "l5"))  # no total: not in the LSI
    r = ddb.query(
        TableName=table,
        IndexName="byTotal",
        KeyConditionExpression="pk = :c",
        ExpressionAttributeValues={":c": {"S": "lsi-cust"}},
    )
    assert [int(i["amt"]["N"]) for i in r["Items"]] == [5, 50, 50, 500]
    assert ids(r["Items"])[0] == "l2" and ids(r["Items"])[-1] == "l3"
    r = ddb.query(
        TableName=table,
        IndexName="byTotal",
        KeyConditionExpression="pk = :c AND amt BETWEEN :a AND :b",
        ExpressionAttributeValues={":c": {"S": "lsi-cust"}, ":a": {"N": "6"}, ":b": {"N": "100"}},
        ConsistentRead=True,
    )
    assert sorted(ids(r["Items"])) == ["l1", "l4"]
    # the LSI follows updates
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": "lsi-cust"}, "sk": {"S": "l3"}},
        UpdateExpression="SET amt = :t",
        ExpressionAttributeValues={":t": {"N": "1"}},
    )
    r = ddb.query(
        TableName=table, IndexName="byTotal", KeyConditionExpression="pk = :c", ExpressionAttributeValues={":c": {"S": "lsi-cust"}}
    )
    assert ids(r["Items"])[0] == "l3"


def test_update_table_adds_a_gsi_that_indexes_existing_items_and_new_writes(ddb):
    t = make_table(ddb, unique_table("addgsi"), ("pk", "S"))
    for i in range(10):
        ddb.put_item(TableName=t, Item={"pk": {"S": f"k{i}"}, "color": {"S": "red" if i % 2 else "blue"}})
    ddb.update_table(
        TableName=t,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "color", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": "byColor",
                    "KeySchema": [{"AttributeName": "color", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            }
        ],
    )

    def active():
        idx = ddb.describe_table(TableName=t)["Table"].get("GlobalSecondaryIndexes", [])
        return [g for g in idx if g["IndexName"] == "byColor" and g["IndexStatus"] == "ACTIVE"]

    wait_until(active, timeout=20, what="byColor to become ACTIVE")
    red = ddb.query(
        TableName=t, IndexName="byColor", KeyConditionExpression="color = :c", ExpressionAttributeValues={":c": {"S": "red"}}
    )["Items"]
    assert sorted(i["pk"]["S"] for i in red) == ["k1", "k3", "k5", "k7", "k9"]
    ddb.put_item(TableName=t, Item={"pk": {"S": "k10"}, "color": {"S": "red"}})
    ddb.update_item(TableName=t, Key={"pk": {"S": "k1"}}, UpdateExpression="REMOVE color")
    red = ddb.query(
        TableName=t, IndexName="byColor", KeyConditionExpression="color = :c", ExpressionAttributeValues={":c": {"S": "red"}}
    )["Items"]
    assert sorted(i["pk"]["S"] for i in red) == ["k10", "k3", "k5", "k7", "k9"]


def test_update_table_deletes_a_gsi(ddb):
    t = make_table(ddb, unique_table("delgsi"), gsis=[{"name": "byX", "hash": ("x", "S")}])
    ddb.put_item(TableName=t, Item={"pk": {"S": "a"}, "x": {"S": "1"}})
    ddb.update_table(TableName=t, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "byX"}}])

    def gone():
        idx = ddb.describe_table(TableName=t)["Table"].get("GlobalSecondaryIndexes", [])
        return not [g for g in idx if g["IndexName"] == "byX"]

    wait_until(gone, timeout=20, what="byX to be deleted")
    with ddb_error("ValidationException", message="The table does not have the specified index: byX"):
        ddb.query(TableName=t, IndexName="byX", KeyConditionExpression="x = :v", ExpressionAttributeValues={":v": {"S": "1"}})
    # the table's items are untouched
    assert ddb.get_item(TableName=t, Key={"pk": {"S": "a"}})["Item"] == {"pk": {"S": "a"}, "x": {"S": "1"}}


def test_query_on_unknown_index_is_validation_error(ddb, table):
    with ddb_error("ValidationException", message="The table does not have the specified index: nope"):
        gsi(ddb, table, "nope", "st = :s", {":s": {"S": "x"}})


def test_consistent_read_on_gsi_is_validation_error(ddb, table):
    with ddb_error("ValidationException", message="Consistent reads are not supported on global secondary indexes"):
        gsi(ddb, table, "byStatus", "st = :s", {":s": {"S": "x"}}, ConsistentRead=True)


def test_wrong_type_for_an_index_key_attribute_is_rejected(ddb, table):
    with ddb_error("ValidationException", message=r"Type mismatch for Index Key st Expected: S Actual: N IndexName: byStatus"):
        ddb.put_item(TableName=table, Item={"pk": {"S": "bad"}, "sk": {"S": "bad"}, "st": {"N": "1"}})
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "bad"}, "sk": {"S": "bad"}})
    ddb.put_item(TableName=table, Item=order("bad2", "bad2", st="ok-z"))
    with ddb_error("ValidationException", message=r"Type mismatch for Index Key"):
        ddb.update_item(
            TableName=table,
            Key={"pk": {"S": "bad2"}, "sk": {"S": "bad2"}},
            UpdateExpression="SET amt = :t",
            ExpressionAttributeValues={":t": {"S": "not-a-number"}},
        )
    assert "amt" not in ddb.get_item(TableName=table, Key={"pk": {"S": "bad2"}, "sk": {"S": "bad2"}})["Item"]


def test_empty_string_for_an_index_key_attribute_is_rejected(ddb, table):
    with ddb_error("ValidationException", message=r"empty string value.*IndexName: byStatus|IndexName: byStatus.*empty string"):
        ddb.put_item(TableName=table, Item={"pk": {"S": "e"}, "sk": {"S": "e"}, "st": {"S": ""}})
