"""BatchGetItem, BatchWriteItem (with UnprocessedItems retried until empty), and
TransactWriteItems / TransactGetItems: all-or-nothing, ConditionCheck,
TransactionCanceledException with per-item CancellationReasons, idempotency tokens,
and index consistency."""

import pytest

from dynamo_helpers import ddb_client, ddb_error, ddb_resource, make_table, unique_table


@pytest.fixture(scope="module")
def tables(node):
    ddb = ddb_client(node)
    a = make_table(ddb, unique_table("bt-a"), gsis=[{"name": "byG", "hash": ("g", "S")}])
    b = make_table(ddb, unique_table("bt-b"), ("pk", "S"), ("sk", "N"))
    return a, b


def k(pk):
    return {"pk": {"S": pk}}


def kb(pk, sk):
    return {"pk": {"S": pk}, "sk": {"N": str(sk)}}


def get(ddb, table, key):
    return ddb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")


def batch_write_all(ddb, request_items):
    """BatchWriteItem, resending UnprocessedItems until none are left."""
    calls = 0
    while request_items:
        calls += 1
        assert calls <= 20, "UnprocessedItems never drained"
        r = ddb.batch_write_item(RequestItems=request_items)
        request_items = r["UnprocessedItems"]
    return calls


# ---------------------------------------------------------------- BatchWriteItem / BatchGetItem


def test_batch_write_puts_25_items_across_two_tables_and_batch_get_reads_them(ddb, tables):
    a, b = tables
    reqs = {
        a: [{"PutRequest": {"Item": {**k(f"bw{i}"), "v": {"N": str(i)}}}} for i in range(13)],
        b: [{"PutRequest": {"Item": {**kb("bw", i), "v": {"S": f"b{i}"}}}} for i in range(12)],
    }
    r = ddb.batch_write_item(RequestItems=reqs)
    assert r["UnprocessedItems"] == {}
    got = ddb.batch_get_item(
        RequestItems={
            a: {"Keys": [k(f"bw{i}") for i in range(13)], "ConsistentRead": True},
            b: {"Keys": [kb("bw", i) for i in range(12)]},
        }
    )
    assert got["UnprocessedKeys"] == {}
    assert sorted(int(i["v"]["N"]) for i in got["Responses"][a]) == list(range(13))
    assert sorted(i["v"]["S"] for i in got["Responses"][b]) == sorted(f"b{i}" for i in range(12))


def test_batch_write_mixes_puts_and_deletes(ddb, tables):
    a, _ = tables
    for i in range(4):
        ddb.put_item(TableName=a, Item={**k(f"mix{i}"), "v": {"S": "old"}})
    r = ddb.batch_write_item(
        RequestItems={
            a: [
                {"DeleteRequest": {"Key": k("mix0")}},
                {"DeleteRequest": {"Key": k("mix1")}},
                {"PutRequest": {"Item": {**k("mix2"), "v": {"S": "new"}}}},
                {"PutRequest": {"Item": {**k("mix9"), "v": {"S": "new"}}}},
                {"DeleteRequest": {"Key": k("never-existed")}},
            ]
        }
    )
    assert r["UnprocessedItems"] == {}
    assert get(ddb, a, k("mix0")) is None and get(ddb, a, k("mix1")) is None
    assert get(ddb, a, k("mix2")) == {**k("mix2"), "v": {"S": "new"}}
    assert get(ddb, a, k("mix3")) == {**k("mix3"), "v": {"S": "old"}}
    assert get(ddb, a, k("mix9")) == {**k("mix9"), "v": {"S": "new"}}


def test_batch_writes_resent_until_unprocessed_items_is_empty_store_everything(ddb, tables):
    a, _ = tables
    total = 0
    for chunk in range(4):
        reqs = {a: [{"PutRequest": {"Item": {**k(f"many{chunk}-{i}"), "d": {"S": "x" * 2000}}}} for i in range(25)]}
        batch_write_all(ddb, reqs)
        total += 25
    items = ddb.scan(TableName=a, FilterExpression="begins_with(pk, :m)", ExpressionAttributeValues={":m": {"S": "many"}})
    assert items["Count"] == total


def test_boto3_batch_writer_stores_every_item(node, tables):
    a, _ = tables
    table = ddb_resource(node).Table(a)
    with table.batch_writer() as w:
        for i in range(60):
            w.put_item(Item={"pk": f"bwr{i}", "n": i, "tags": {"x", f"t{i}"}})
    ddb = ddb_client(node)
    for i in (0, 31, 59):
        item = get(ddb, a, k(f"bwr{i}"))
        assert item["n"] == {"N": str(i)}
        assert sorted(item["tags"]["SS"]) == sorted(["x", f"t{i}"])
    r = ddb.scan(TableName=a, Select="COUNT", FilterExpression="begins_with(pk, :p)", ExpressionAttributeValues={":p": {"S": "bwr"}})
    assert r["Count"] == 60


def test_batch_get_omits_missing_items_and_applies_projection(ddb, tables):
    a, _ = tables
    ddb.put_item(TableName=a, Item={**k("bg1"), "x": {"S": "1"}, "y": {"S": "2"}, "g": {"S": "gg"}})
    ddb.put_item(TableName=a, Item={**k("bg2"), "x": {"S": "3"}, "y": {"S": "4"}})
    r = ddb.batch_get_item(
        RequestItems={
            a: {
                "Keys": [k("bg1"), k("bg2"), k("bg-missing")],
                "ProjectionExpression": "pk, #x",
                "ExpressionAttributeNames": {"#x": "x"},
            }
        }
    )
    assert sorted(r["Responses"][a], key=lambda i: i["pk"]["S"]) == [
        {**k("bg1"), "x": {"S": "1"}},
        {**k("bg2"), "x": {"S": "3"}},
    ]
    assert r["UnprocessedKeys"] == {}


def test_batch_get_of_100_keys_is_allowed_and_101_is_rejected(ddb, tables):
    a, _ = tables
    r = ddb.batch_get_item(RequestItems={a: {"Keys": [k(f"hundred{i}") for i in range(100)]}})
    assert r["Responses"][a] == []
    with ddb_error("ValidationException", message="Too many items requested for the BatchGetItem call"):
        ddb.batch_get_item(RequestItems={a: {"Keys": [k(f"hundred{i}") for i in range(101)]}})


def test_batch_write_of_26_requests_is_rejected_and_writes_nothing(ddb, tables):
    a, _ = tables
    with ddb_error("ValidationException", message=r"length less than or equal to 25|Too many items"):
        ddb.batch_write_item(RequestItems={a: [{"PutRequest": {"Item": k(f"26-{i}")}} for i in range(26)]})
    assert get(ddb, a, k("26-0")) is None


def test_batch_write_with_duplicate_keys_is_rejected(ddb, tables):
    a, _ = tables
    with ddb_error("ValidationException", message="Provided list of item keys contains duplicates"):
        ddb.batch_write_item(
            RequestItems={a: [{"PutRequest": {"Item": k("dupw")}}, {"DeleteRequest": {"Key": k("dupw")}}]}
        )
    assert get(ddb, a, k("dupw")) is None


def test_batch_get_with_duplicate_keys_is_rejected(ddb, tables):
    a, _ = tables
    with ddb_error("ValidationException", message="Provided list of item keys contains duplicates"):
        ddb.batch_get_item(RequestItems={a: {"Keys": [k("dupg"), k("dupg")]}})


def test_batch_write_with_one_invalid_item_writes_nothing(ddb, tables):
    a, b = tables
    with ddb_error("ValidationException", message="Type mismatch for key|does not match the schema"):
        ddb.batch_write_item(
            RequestItems={
                a: [{"PutRequest": {"Item": k("valid-one")}}],
                b: [{"PutRequest": {"Item": {"pk": {"S": "x"}, "sk": {"S": "not-a-number"}}}}],
            }
        )
    assert get(ddb, a, k("valid-one")) is None


def test_batch_operations_on_a_missing_table_are_resource_not_found(ddb, tables):
    a, _ = tables
    missing = unique_table("nobatch")
    with ddb_error("ResourceNotFoundException"):
        ddb.batch_get_item(RequestItems={missing: {"Keys": [k("x")]}})
    with ddb_error("ResourceNotFoundException"):
        ddb.batch_write_item(RequestItems={a: [{"PutRequest": {"Item": k("rnf")}}], missing: [{"PutRequest": {"Item": k("x")}}]})
    assert get(ddb, a, k("rnf")) is None


def test_batch_write_keeps_the_gsi_consistent(ddb, tables):
    a, _ = tables
    ddb.batch_write_item(
        RequestItems={a: [{"PutRequest": {"Item": {**k(f"bg-g{i}"), "g": {"S": "batch-gsi"}}}} for i in range(5)]}
    )
    ddb.batch_write_item(RequestItems={a: [{"DeleteRequest": {"Key": k("bg-g0")}}, {"DeleteRequest": {"Key": k("bg-g1")}}]})
    r = ddb.query(TableName=a, IndexName="byG", KeyConditionExpression="g = :g", ExpressionAttributeValues={":g": {"S": "batch-gsi"}})
    assert sorted(i["pk"]["S"] for i in r["Items"]) == ["bg-g2", "bg-g3", "bg-g4"]


# ---------------------------------------------------------------- TransactWriteItems


def test_transact_write_applies_put_update_delete_and_condition_check_together(ddb, tables):
    a, b = tables
    ddb.put_item(TableName=a, Item={**k("tx-acct"), "bal": {"N": "100"}})
    ddb.put_item(TableName=a, Item={**k("tx-del"), "v": {"S": "x"}})
    ddb.put_item(TableName=b, Item={**kb("tx-guard", 1), "open": {"BOOL": True}})
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": b, "Item": {**kb("tx-log", 1), "amt": {"N": "30"}}, "ConditionExpression": "attribute_not_exists(pk)"}},
            {
                "Update": {
                    "TableName": a,
                    "Key": k("tx-acct"),
                    "UpdateExpression": "SET bal = bal - :amt",
                    "ConditionExpression": "bal >= :amt",
                    "ExpressionAttributeValues": {":amt": {"N": "30"}},
                }
            },
            {"Delete": {"TableName": a, "Key": k("tx-del")}},
            {
                "ConditionCheck": {
                    "TableName": b,
                    "Key": kb("tx-guard", 1),
                    "ConditionExpression": "#o = :t",
                    "ExpressionAttributeNames": {"#o": "open"},
                    "ExpressionAttributeValues": {":t": {"BOOL": True}},
                }
            },
        ]
    )
    assert get(ddb, b, kb("tx-log", 1)) == {**kb("tx-log", 1), "amt": {"N": "30"}}
    assert get(ddb, a, k("tx-acct"))["bal"] == {"N": "70"}
    assert get(ddb, a, k("tx-del")) is None
    assert get(ddb, b, kb("tx-guard", 1)) == {**kb("tx-guard", 1), "open": {"BOOL": True}}


def test_cancelled_transaction_changes_nothing_and_reports_reasons_in_order(ddb, tables):
    a, b = tables
    ddb.put_item(TableName=a, Item={**k("cx-1"), "v": {"N": "1"}, "g": {"S": "cx-gsi"}})
    ddb.put_item(TableName=a, Item={**k("cx-2"), "v": {"N": "2"}})
    ddb.put_item(TableName=b, Item={**kb("cx", 1), "locked": {"BOOL": True}})
    before = {
        "a1": get(ddb, a, k("cx-1")),
        "a2": get(ddb, a, k("cx-2")),
        "b": get(ddb, b, kb("cx", 1)),
    }
    with ddb_error("TransactionCanceledException", message=r"Transaction cancelled, please refer cancellation reasons for specific reasons \[None, None, ConditionalCheckFailed, None\]") as ei:
        ddb.transact_write_items(
            TransactItems=[
                {"Update": {"TableName": a, "Key": k("cx-1"), "UpdateExpression": "SET v = :n, g = :g", "ExpressionAttributeValues": {":n": {"N": "10"}, ":g": {"S": "cx-moved"}}}},
                {"Put": {"TableName": a, "Item": {**k("cx-new"), "g": {"S": "cx-gsi"}}}},
                {
                    "ConditionCheck": {
                        "TableName": b,
                        "Key": kb("cx", 1),
                        "ConditionExpression": "locked = :f",
                        "ExpressionAttributeValues": {":f": {"BOOL": False}},
                    }
                },
                {"Delete": {"TableName": a, "Key": k("cx-2")}},
            ]
        )
    reasons = ei.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "None", "ConditionalCheckFailed", "None"]
    assert reasons[2].get("Message") == "The conditional request failed"
    assert "Item" not in reasons[2]
    # nothing changed: not the update, not the put, not the delete, not the index
    assert get(ddb, a, k("cx-1")) == before["a1"]
    assert get(ddb, a, k("cx-2")) == before["a2"]
    assert get(ddb, a, k("cx-new")) is None
    assert get(ddb, b, kb("cx", 1)) == before["b"]
    r = ddb.query(TableName=a, IndexName="byG", KeyConditionExpression="g = :g", ExpressionAttributeValues={":g": {"S": "cx-gsi"}})
    assert [i["pk"]["S"] for i in r["Items"]] == ["cx-1"]


def test_cancellation_reason_carries_the_item_with_return_values_on_condition_check_failure(ddb, tables):
    a, _ = tables
    ddb.put_item(TableName=a, Item={**k("cx-item"), "v": {"N": "5"}})
    with ddb_error("TransactionCanceledException") as ei:
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": a,
                        "Key": k("cx-item"),
                        "UpdateExpression": "SET v = :n",
                        "ConditionExpression": "v = :old",
                        "ExpressionAttributeValues": {":n": {"N": "6"}, ":old": {"N": "4"}},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
                {"Put": {"TableName": a, "Item": k("cx-item-other"), "ConditionExpression": "attribute_exists(pk)", "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
            ]
        )
    reasons = ei.value.response["CancellationReasons"]
    assert reasons[0]["Code"] == "ConditionalCheckFailed"
    assert reasons[0]["Item"] == {**k("cx-item"), "v": {"N": "5"}}
    # the second also fails (item missing): no Item to return
    assert reasons[1]["Code"] == "ConditionalCheckFailed"
    assert "Item" not in reasons[1]
    assert get(ddb, a, k("cx-item"))["v"] == {"N": "5"}
    assert get(ddb, a, k("cx-item-other")) is None


def test_transaction_with_two_operations_on_one_item_is_validation_error(ddb, tables):
    a, _ = tables
    with ddb_error("ValidationException", message="Transaction request cannot include multiple operations on one item"):
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": a, "Item": {**k("twice"), "v": {"N": "1"}}}},
                {"Update": {"TableName": a, "Key": k("twice"), "UpdateExpression": "SET v = :v", "ExpressionAttributeValues": {":v": {"N": "2"}}}},
            ]
        )
    assert get(ddb, a, k("twice")) is None


def test_transaction_with_more_than_100_items_is_rejected(ddb, tables):
    a, _ = tables
    with ddb_error("ValidationException", message=r"100"):
        ddb.transact_write_items(TransactItems=[{"Put": {"TableName": a, "Item": k(f"t101-{i}")}} for i in range(101)])
    assert get(ddb, a, k("t101-0")) is None
    # 100 is allowed
    ddb.transact_write_items(TransactItems=[{"Put": {"TableName": a, "Item": k(f"t100-{i}")}} for i in range(100)])
    assert get(ddb, a, k("t100-99")) == k("t100-99")


def test_transaction_with_an_invalid_update_expression_is_validation_error_and_writes_nothing(ddb, tables):
    a, _ = tables
    with ddb_error("ValidationException", message="Syntax error"):
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": a, "Item": k("inv-ok")}},
                {"Update": {"TableName": a, "Key": k("inv-bad"), "UpdateExpression": "SET = :v", "ExpressionAttributeValues": {":v": {"N": "1"}}}},
            ]
        )
    assert get(ddb, a, k("inv-ok")) is None


def test_transaction_failing_at_apply_time_is_cancelled_with_validation_error_reason(ddb, tables):
    a, _ = tables
    ddb.put_item(TableName=a, Item={**k("apply-s"), "s": {"S": "text"}})
    with ddb_error("TransactionCanceledException") as ei:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": a, "Item": k("apply-ok")}},
                {"Update": {"TableName": a, "Key": k("apply-s"), "UpdateExpression": "ADD s :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}},
            ]
        )
    reasons = ei.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ValidationError"]
    assert get(ddb, a, k("apply-ok")) is None
    assert get(ddb, a, k("apply-s"))["s"] == {"S": "text"}


def test_transaction_on_a_missing_table_is_resource_not_found(ddb, tables):
    a, _ = tables
    with ddb_error("ResourceNotFoundException"):
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": a, "Item": k("rnf-tx")}},
                {"Put": {"TableName": unique_table("notx"), "Item": k("x")}},
            ]
        )
    assert get(ddb, a, k("rnf-tx")) is None


def test_client_request_token_makes_a_transaction_idempotent(ddb, tables):
    a, _ = tables
    req = dict(
        TransactItems=[
            {"Update": {"TableName": a, "Key": k("idem"), "UpdateExpression": "ADD c :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}}
        ],
        ClientRequestToken="token-idem-0001",
    )
    ddb.transact_write_items(**req)
    ddb.transact_write_items(**req)
    assert get(ddb, a, k("idem"))["c"] == {"N": "1"}


def test_transaction_keeps_exactly_one_of_two_racing_conditional_writers(node, tables):
    import threading

    a, _ = tables
    ddb = ddb_client(node)
    ddb.put_item(TableName=a, Item={**k("race"), "ver": {"N": "0"}})
    wins, losses, errors = [], [], []

    def attempt(i):
        c = ddb_client(node)
        try:
            c.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": a,
                            "Key": k("race"),
                            "UpdateExpression": "SET ver = :new, who = :who",
                            "ConditionExpression": "ver = :zero",
                            "ExpressionAttributeValues": {":new": {"N": "1"}, ":zero": {"N": "0"}, ":who": {"N": str(i)}},
                        }
                    },
                    {"Put": {"TableName": a, "Item": {**k(f"race-claim-{i}")}}},
                ]
            )
            wins.append(i)
        except c.exceptions.TransactionCanceledException:
            losses.append(i)
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors[:3]
    assert len(wins) == 1 and len(losses) == 7, (wins, losses)
    assert get(ddb, a, k("race"))["who"] == {"N": str(wins[0])}
    claims = [i for i in range(8) if get(ddb, a, k(f"race-claim-{i}"))]
    assert claims == wins


# ---------------------------------------------------------------- TransactGetItems


def test_transact_get_returns_items_in_request_order_with_empty_entries_for_missing(ddb, tables):
    a, b = tables
    ddb.put_item(TableName=a, Item={**k("tg1"), "x": {"N": "1"}, "y": {"S": "y"}})
    ddb.put_item(TableName=b, Item={**kb("tg", 2), "z": {"BOOL": True}})
    r = ddb.transact_get_items(
        TransactItems=[
            {"Get": {"TableName": b, "Key": kb("tg", 2)}},
            {"Get": {"TableName": a, "Key": k("tg-missing")}},
            {"Get": {"TableName": a, "Key": k("tg1"), "ProjectionExpression": "#x", "ExpressionAttributeNames": {"#x": "x"}}},
        ]
    )
    resp = r["Responses"]
    assert len(resp) == 3
    assert resp[0]["Item"] == {**kb("tg", 2), "z": {"BOOL": True}}
    assert "Item" not in resp[1]
    assert resp[2]["Item"] == {"x": {"N": "1"}}


def test_transact_get_on_a_missing_table_is_resource_not_found(ddb):
    with ddb_error("ResourceNotFoundException"):
        ddb.transact_get_items(TransactItems=[{"Get": {"TableName": unique_table("notg"), "Key": k("x")}}])


def test_transact_get_with_duplicate_items_is_validation_error(ddb, tables):
    a, _ = tables
    with ddb_error("ValidationException", message="Transaction request cannot include multiple operations on one item"):
        ddb.transact_get_items(TransactItems=[{"Get": {"TableName": a, "Key": k("d")}}, {"Get": {"TableName": a, "Key": k("d")}}])
