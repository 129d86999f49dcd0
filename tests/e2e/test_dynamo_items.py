"""DynamoDB item operations: PutItem, GetItem, UpdateItem, DeleteItem, every attribute
type round-tripping exactly, numbers, the 400 KB item limit, TTL expiry, and
durability of acknowledged writes across kill -9."""

import random
import threading
import time

import pytest

from dynamo_helpers import (
    ddb_client,
    ddb_error,
    make_table,
    paginate,
    read_stream,
    stream_arn,
    streams_client,
    unique_table,
    wait_until,
)

ALL_TYPES_ITEM = {
    "pk": {"S": "all-types"},
    "s": {"S": "héllo wörld ✓ \u0000 tab\t newline\n 日本語 🎉"},
    "s_empty": {"S": ""},
    "n_int": {"N": "42"},
    "n_neg": {"N": "-17"},
    "n_dec": {"N": "3.14159"},
    "n_zero": {"N": "0"},
    "n_big": {"N": "12345678901234567890123456789012345678"},
    "n_small": {"N": "-0.12345678901234567890123456789012345678"},
    "n_mixed38": {"N": "1234567890123456789.0123456789012345678"},
    "n_huge_int": {"N": "100000000000000000000000000000000000000000"},
    "b": {"B": bytes(range(256))},
    "b_empty": {"B": b""},
    "t": {"BOOL": True},
    "f": {"BOOL": False},
    "nul": {"NULL": True},
    "m": {
        "M": {
            "inner": {"S": "x"},
            "num": {"N": "1"},
            "deep": {"M": {"deeper": {"L": [{"N": "1"}, {"M": {}}, {"L": []}]}}},
            "empty_map": {"M": {}},
        }
    },
    "l": {"L": [{"S": "a"}, {"N": "2"}, {"B": b"\x00\xff"}, {"BOOL": False}, {"NULL": True}, {"SS": ["q"]}, {"L": [{"S": "nested"}]}]},
    "l_empty": {"L": []},
    "ss": {"SS": ["b", "a", "c", "ä", " "]},
    "ns": {"NS": ["1", "-2.5", "10", "99999999999999999999999999999999999999"]},
    "bs": {"BS": [b"\x00", b"\x01\x02", b"\xff" * 10]},
    "name with spaces.and.dots": {"S": "odd name"},
}

SET_TYPES = ("SS", "NS", "BS")


def normalize(v):
    """Attribute value with sets made order-independent."""
    (t, x), = v.items()
    if t in SET_TYPES:
        return {t: sorted(x)}
    if t == "M":
        return {"M": {k: normalize(e) for k, e in x.items()}}
    if t == "L":
        return {"L": [normalize(e) for e in x]}
    return v


def norm_item(item):
    return {k: normalize(v) for k, v in item.items()}


@pytest.fixture(scope="module")
def table(node):
    ddb = ddb_client(node)
    return make_table(ddb, unique_table("items"))


@pytest.fixture(scope="module")
def hr_table(node):
    ddb = ddb_client(node)
    return make_table(ddb, unique_table("items-hr"), ("pk", "S"), ("sk", "N"))


def test_every_attribute_type_round_trips_exactly(ddb, table):
    ddb.put_item(TableName=table, Item=ALL_TYPES_ITEM)
    got = ddb.get_item(TableName=table, Key={"pk": {"S": "all-types"}}, ConsistentRead=True)["Item"]
    assert set(got) == set(ALL_TYPES_ITEM)
    for name, value in ALL_TYPES_ITEM.items():
        assert normalize(got[name]) == normalize(value), f"attribute {name!r}: sent {value!r}, got {got[name]!r}"
    # also through Scan and Query
    scanned = [i for i in ddb.scan(TableName=table)["Items"] if i["pk"] == {"S": "all-types"}]
    assert [norm_item(i) for i in scanned] == [norm_item(ALL_TYPES_ITEM)]
    queried = ddb.query(
        TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "all-types"}}
    )["Items"]
    assert [norm_item(i) for i in queried] == [norm_item(ALL_TYPES_ITEM)]


@pytest.mark.parametrize(
    "sent,canonical",
    [
        ("1.50", "1.5"),
        ("007", "7"),
        ("100", "100"),
        ("1.0", "1"),
        ("-001.100", "-1.1"),
        ("0.000", "0"),
    ],
)
def test_numbers_come_back_without_leading_or_trailing_zeros(ddb, table, sent, canonical):
    key = {"pk": {"S": f"num-{sent}"}}
    ddb.put_item(TableName=table, Item={**key, "n": {"N": sent}, "ns": {"NS": [sent, "12345"]}})
    got = ddb.get_item(TableName=table, Key=key)["Item"]
    assert got["n"] == {"N": canonical}
    assert sorted(got["ns"]["NS"]) == sorted([canonical, "12345"])


def test_number_set_treats_equal_numbers_as_duplicates(ddb, table):
    with ddb_error("ValidationException", message="duplicates"):
        ddb.put_item(TableName=table, Item={"pk": {"S": "dupnum"}, "ns": {"NS": ["1", "1.0"]}})


def test_number_with_38_significant_digits_keeps_every_digit_through_arithmetic(ddb, table):
    key = {"pk": {"S": "precise"}}
    ddb.put_item(TableName=table, Item={**key, "n": {"N": "99999999999999999999999999999999999998"}})
    r = ddb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET n = n + :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="UPDATED_NEW",
    )
    assert r["Attributes"]["n"] == {"N": "99999999999999999999999999999999999999"}
    r = ddb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET n = n + :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="UPDATED_NEW",
    )
    assert r["Attributes"]["n"] == {"N": "100000000000000000000000000000000000000"}
    # decimal arithmetic is exact: 0.1 + 0.2 == 0.3
    r = ddb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET d = :a + :b",
        ExpressionAttributeValues={":a": {"N": "0.1"}, ":b": {"N": "0.2"}},
        ReturnValues="UPDATED_NEW",
    )
    assert r["Attributes"]["d"] == {"N": "0.3"}


def test_more_than_38_significant_digits_is_rejected(ddb, table):
    with ddb_error("ValidationException", message="more than 38 significant digits"):
        ddb.put_item(TableName=table, Item={"pk": {"S": "toolong"}, "n": {"N": "123456789012345678901234567890123456789"}})
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "toolong"}})


def test_put_item_replaces_the_whole_item(ddb, table):
    key = {"pk": {"S": "replace"}}
    ddb.put_item(TableName=table, Item={**key, "a": {"S": "1"}, "b": {"N": "2"}})
    ddb.put_item(TableName=table, Item={**key, "c": {"BOOL": True}})
    assert ddb.get_item(TableName=table, Key=key)["Item"] == {**key, "c": {"BOOL": True}}


def test_put_item_return_values_all_old_returns_the_replaced_item(ddb, table):
    key = {"pk": {"S": "putold"}}
    r = ddb.put_item(TableName=table, Item={**key, "v": {"N": "1"}}, ReturnValues="ALL_OLD")
    assert "Attributes" not in r
    r = ddb.put_item(TableName=table, Item={**key, "v": {"N": "2"}}, ReturnValues="ALL_OLD")
    assert r["Attributes"] == {**key, "v": {"N": "1"}}
    r = ddb.put_item(TableName=table, Item={**key, "v": {"N": "3"}}, ReturnValues="NONE")
    assert "Attributes" not in r


def test_get_missing_item_returns_no_item_member(ddb, table):
    r = ddb.get_item(TableName=table, Key={"pk": {"S": "never-written"}})
    assert "Item" not in r
    r = ddb.get_item(TableName=table, Key={"pk": {"S": "never-written"}}, ConsistentRead=True)
    assert "Item" not in r


def test_get_item_projection_expression_returns_only_the_requested_paths(ddb, table):
    key = {"pk": {"S": "proj"}}
    ddb.put_item(
        TableName=table,
        Item={
            **key,
            "name": {"S": "n"},
            "a": {"M": {"b": {"S": "keep"}, "c": {"S": "drop"}}},
            "lst": {"L": [{"S": "zero"}, {"S": "one"}, {"S": "two"}]},
            "other": {"N": "5"},
        },
    )
    r = ddb.get_item(
        TableName=table,
        Key=key,
        ProjectionExpression="#n, a.b, lst[1], lst[2], nothere",
        ExpressionAttributeNames={"#n": "name"},
        ConsistentRead=True,
    )
    assert r["Item"] == {
        "name": {"S": "n"},
        "a": {"M": {"b": {"S": "keep"}}},
        "lst": {"L": [{"S": "one"}, {"S": "two"}]},
    }


def test_delete_item_removes_it_and_returns_old_attributes(ddb, table):
    key = {"pk": {"S": "del"}}
    ddb.put_item(TableName=table, Item={**key, "v": {"S": "bye"}})
    r = ddb.delete_item(TableName=table, Key=key, ReturnValues="ALL_OLD")
    assert r["Attributes"] == {**key, "v": {"S": "bye"}}
    assert "Item" not in ddb.get_item(TableName=table, Key=key, ConsistentRead=True)
    # deleting again is not an error and returns nothing
    r = ddb.delete_item(TableName=table, Key=key, ReturnValues="ALL_OLD")
    assert "Attributes" not in r


def test_update_item_creates_the_item_when_missing(ddb, table):
    key = {"pk": {"S": "upsert"}}
    r = ddb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET v = :v ADD c :one",
        ExpressionAttributeValues={":v": {"S": "new"}, ":one": {"N": "1"}},
        ReturnValues="ALL_NEW",
    )
    assert r["Attributes"] == {**key, "v": {"S": "new"}, "c": {"N": "1"}}
    assert ddb.get_item(TableName=table, Key=key)["Item"] == r["Attributes"]


def test_update_item_without_update_expression_creates_key_only_item(ddb, table):
    key = {"pk": {"S": "keyonly"}}
    ddb.update_item(TableName=table, Key=key)
    assert ddb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"] == key


@pytest.mark.parametrize(
    "rv,expected",
    [
        ("NONE", None),
        ("ALL_OLD", {"pk": {"S": "rv"}, "a": {"N": "1"}, "b": {"S": "x"}, "gone": {"S": "g"}}),
        ("ALL_NEW", {"pk": {"S": "rv"}, "a": {"N": "2"}, "b": {"S": "x"}, "c": {"S": "new"}}),
        ("UPDATED_OLD", {"a": {"N": "1"}, "gone": {"S": "g"}}),
        ("UPDATED_NEW", {"a": {"N": "2"}, "c": {"S": "new"}}),
    ],
)
def test_update_item_return_values(ddb, table, rv, expected):
    key = {"pk": {"S": "rv"}}
    ddb.put_item(TableName=table, Item={**key, "a": {"N": "1"}, "b": {"S": "x"}, "gone": {"S": "g"}})
    r = ddb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET a = a + :one, c = :c REMOVE gone",
        ExpressionAttributeValues={":one": {"N": "1"}, ":c": {"S": "new"}},
        ReturnValues=rv,
    )
    assert r.get("Attributes") == expected


def test_hash_and_range_key_identify_distinct_items(ddb, hr_table):
    for sk in ("1", "2", "10"):
        ddb.put_item(TableName=hr_table, Item={"pk": {"S": "p"}, "sk": {"N": sk}, "v": {"S": f"v{sk}"}})
    ddb.put_item(TableName=hr_table, Item={"pk": {"S": "q"}, "sk": {"N": "1"}, "v": {"S": "other"}})
    assert ddb.get_item(TableName=hr_table, Key={"pk": {"S": "p"}, "sk": {"N": "10"}})["Item"]["v"] == {"S": "v10"}
    # 1.0 and 1 are the same number, so the same key
    assert ddb.get_item(TableName=hr_table, Key={"pk": {"S": "p"}, "sk": {"N": "1.0"}})["Item"]["v"] == {"S": "v1"}
    assert ddb.get_item(TableName=hr_table, Key={"pk": {"S": "q"}, "sk": {"N": "1"}})["Item"]["v"] == {"S": "other"}
    ddb.delete_item(TableName=hr_table, Key={"pk": {"S": "p"}, "sk": {"N": "2"}})
    left = ddb.query(
        TableName=hr_table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}}
    )["Items"]
    assert [i["sk"]["N"] for i in left] == ["1", "10"]


def test_empty_string_and_binary_are_allowed_outside_keys(ddb, table):
    key = {"pk": {"S": "empties"}}
    ddb.put_item(TableName=table, Item={**key, "s": {"S": ""}, "b": {"B": b""}, "m": {"M": {"e": {"S": ""}}}})
    got = ddb.get_item(TableName=table, Key=key)["Item"]
    assert got["s"] == {"S": ""} and got["b"] == {"B": b""} and got["m"] == {"M": {"e": {"S": ""}}}


def test_empty_string_key_is_rejected(ddb, table):
    with ddb_error("ValidationException", message="empty string"):
        ddb.put_item(TableName=table, Item={"pk": {"S": ""}})


# ---------------------------------------------------------------- item size limit

MAX_ITEM = 400 * 1024


def test_item_of_exactly_400kb_is_accepted_and_one_byte_more_is_rejected(ddb, table):
    # item size = len(attribute names) + len(values): "pk" + "big" + "data" + payload
    overhead = len("pk") + len("big") + len("data")
    ok = {"pk": {"S": "big"}, "data": {"S": "x" * (MAX_ITEM - overhead)}}
    ddb.put_item(TableName=table, Item=ok)
    got = ddb.get_item(TableName=table, Key={"pk": {"S": "big"}})["Item"]
    assert len(got["data"]["S"]) == MAX_ITEM - overhead
    too_big = {"pk": {"S": "big"}, "data": {"S": "y" * (MAX_ITEM - overhead + 1)}}
    with ddb_error("ValidationException", message="Item size has exceeded the maximum allowed size"):
        ddb.put_item(TableName=table, Item=too_big)
    # the accepted item is unchanged
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "big"}})["Item"]["data"]["S"][:1] == "x"


def test_binary_item_over_400kb_is_rejected(ddb, table):
    with ddb_error("ValidationException", message="exceeded the maximum allowed size"):
        ddb.put_item(TableName=table, Item={"pk": {"S": "bigbin"}, "d": {"B": b"\x00" * (MAX_ITEM + 10)}})
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "bigbin"}})


def test_update_that_grows_item_over_400kb_is_rejected_and_changes_nothing(ddb, table):
    key = {"pk": {"S": "grow"}}
    ddb.put_item(TableName=table, Item={**key, "a": {"S": "a" * 300_000}})
    with ddb_error("ValidationException", message="exceeded the maximum allowed size"):
        ddb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET b = :b",
            ExpressionAttributeValues={":b": {"S": "b" * 200_000}},
        )
    got = ddb.get_item(TableName=table, Key=key)["Item"]
    assert set(got) == {"pk", "a"}


# ---------------------------------------------------------------- TTL expiry


def test_items_past_their_ttl_are_deleted_and_others_are_kept(ddb):
    ttl_table = make_table(ddb, unique_table("ttl-exp"))
    plain_table = make_table(ddb, unique_table("ttl-off"))
    ddb.update_time_to_live(TableName=ttl_table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    now = int(time.time())
    items = {
        "expired": {"N": str(now - 60)},
        "expired-long-ago": {"N": str(now - 86400 * 30)},
        "future": {"N": str(now + 3600)},
        "string-ttl": {"S": str(now - 60)},
    }
    for k, v in items.items():
        ddb.put_item(TableName=ttl_table, Item={"pk": {"S": k}, "exp": v})
    ddb.put_item(TableName=ttl_table, Item={"pk": {"S": "no-ttl"}})
    ddb.put_item(TableName=plain_table, Item={"pk": {"S": "expired"}, "exp": {"N": str(now - 60)}})

    def gone():
        return all(
            "Item" not in ddb.get_item(TableName=ttl_table, Key={"pk": {"S": k}}, ConsistentRead=True)
            for k in ("expired", "expired-long-ago")
        )

    wait_until(gone, timeout=20, interval=0.5, what="expired items to be deleted")
    left = sorted(i["pk"]["S"] for i in ddb.scan(TableName=ttl_table, ConsistentRead=True)["Items"])
    assert left == ["future", "no-ttl", "string-ttl"]
    # a table without TTL enabled keeps its items whatever their attributes say
    assert "Item" in ddb.get_item(TableName=plain_table, Key={"pk": {"S": "expired"}}, ConsistentRead=True)


# ---------------------------------------------------------------- durability


def test_acknowledged_item_writes_survive_kill_9(fresh_node):
    node = fresh_node()
    node.start()
    ddb = ddb_client(node)
    table = make_table(
        ddb,
        "durable",
        ("pk", "S"),
        ("sk", "N"),
        gsis=[{"name": "byG", "hash": ("g", "S"), "range": ("sk", "N")}],
        stream="KEYS_ONLY",
    )
    lock = threading.Lock()
    acked_puts: dict[tuple, dict] = {}  # (pk, sk) -> item
    acked_deletes: set[tuple] = set()
    # a delete in flight at the kill may or may not have committed
    sent_deletes: set[tuple] = set()
    acked_counter = [0]  # acknowledged ADDs to one counter
    stop = threading.Event()
    errors: list[str] = []

    def writer(tid):
        c = ddb_client(node, read_timeout=10)
        rng = random.Random(tid)
        i = 0
        while not stop.is_set():
            i += 1
            key = (f"w{tid}", i)
            item = {
                "pk": {"S": key[0]},
                "sk": {"N": str(key[1])},
                "g": {"S": f"g{i % 3}"},
                "payload": {"B": rng.randbytes(rng.randint(10, 3000))},
            }
            try:
                c.put_item(TableName=table, Item=item)
                with lock:
                    acked_puts[key] = item
                if i % 5 == 0:
                    dk = (key[0], i - 2)
                    with lock:
                        sent_deletes.add(dk)
                    c.delete_item(TableName=table, Key={"pk": {"S": dk[0]}, "sk": {"N": str(dk[1])}})
                    with lock:
                        acked_deletes.add(dk)
                if i % 7 == 0:
                    c.update_item(
                        TableName=table,
                        Key={"pk": {"S": "counter"}, "sk": {"N": "0"}},
                        UpdateExpression="ADD n :one",
                        ExpressionAttributeValues={":one": {"N": "1"}},
                    )
                    with lock:
                        acked_counter[0] += 1
            except Exception as e:  # errors after the kill are expected
                if not stop.is_set():
                    errors.append(repr(e)[:200])
                return

    threads = [threading.Thread(target=writer, args=(t,), daemon=True) for t in range(8)]
    for t in threads:
        t.start()
    time.sleep(3.0)
    stop.set()
    node.kill()
    for t in threads:
        t.join(timeout=30)
    assert not errors, f"writes failed while the node was up: {errors[:3]}"
    assert len(acked_puts) >= 50, f"only {len(acked_puts)} puts acknowledged in 3s"

    node.start(timeout=60)
    ddb = ddb_client(node)
    problems = []
    for key, item in sorted(acked_puts.items()):
        got = ddb.get_item(TableName=table, Key={"pk": {"S": key[0]}, "sk": {"N": str(key[1])}}, ConsistentRead=True)
        if key in acked_deletes:
            if "Item" in got:
                problems.append(f"deleted {key} is back")
        elif key in sent_deletes and "Item" not in got:
            continue  # its unacknowledged delete committed before the kill
        elif got.get("Item") != item:
            problems.append(f"acked {key}: {'missing' if 'Item' not in got else 'different'}")
    assert not problems, f"{len(problems)} lost writes, e.g. {problems[:5]}"
    counter = ddb.get_item(TableName=table, Key={"pk": {"S": "counter"}, "sk": {"N": "0"}}, ConsistentRead=True)
    n = int(counter.get("Item", {}).get("n", {"N": "0"})["N"])
    # every acknowledged ADD is counted; at most one per writer was in flight at the kill
    assert acked_counter[0] <= n <= acked_counter[0] + 8
    # the GSI agrees with the table after restart
    live = {k for k in acked_puts if k not in sent_deletes}
    indexed = set()
    for g in ("g0", "g1", "g2"):
        items, _ = paginate(
            ddb.query,
            TableName=table,
            IndexName="byG",
            KeyConditionExpression="g = :g",
            ExpressionAttributeValues={":g": {"S": g}},
        )
        indexed |= {(i["pk"]["S"], int(i["sk"]["N"])) for i in items}
    table_keys, _ = paginate(ddb.scan, TableName=table, ConsistentRead=True)
    table_set = {(i["pk"]["S"], int(i["sk"]["N"])) for i in table_keys if "g" in i}
    assert live <= table_set
    assert indexed == table_set, f"GSI differs from table: {len(indexed ^ table_set)} keys"
    # the stream (committed with each write) has a record for every acknowledged change
    records = read_stream(streams_client(node), stream_arn(ddb, table))
    inserted = {(r["dynamodb"]["Keys"]["pk"]["S"], int(r["dynamodb"]["Keys"]["sk"]["N"])) for r in records if r["eventName"] == "INSERT"}
    removed = {(r["dynamodb"]["Keys"]["pk"]["S"], int(r["dynamodb"]["Keys"]["sk"]["N"])) for r in records if r["eventName"] == "REMOVE"}
    assert set(acked_puts) <= inserted, f"{len(set(acked_puts) - inserted)} acknowledged puts have no INSERT record"
    assert acked_deletes <= removed, f"{len(acked_deletes - removed)} acknowledged deletes have no REMOVE record"
