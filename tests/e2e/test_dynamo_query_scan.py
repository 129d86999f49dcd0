"""DynamoDB Query and Scan: every key-condition form, sort order of N/S/B sort keys,
ScanIndexForward, FilterExpression with Count/ScannedCount, Limit, Select COUNT,
pagination with LastEvaluatedKey across many pages (no duplicates, no gaps), the
1 MB page cap, and parallel Scan segments."""

import pytest

from dynamo_helpers import (
    ddb_client,
    ddb_error,
    describe_raw,
    make_table,
    paginate,
    raw_error,
    raw_request,
    unique_table,
)

NUM_SORT_KEYS = ["-100", "-5.5", "-1", "0", "0.5", "1", "2", "9", "10", "11", "100", "1000", "10000000000"]
STR_SORT_KEYS = ["", "A", "Z", "a", "a#1", "a#10", "a#2", "ab", "b", "é", "日本"]
BIN_SORT_KEYS = [b"\x00", b"\x00\x00", b"\x01", b"\x7f", b"\x80", b"\xff", b"\xff\x00"]


@pytest.fixture(scope="module")
def tables(node):
    ddb = ddb_client(node)
    num = make_table(ddb, unique_table("q-num"), ("pk", "S"), ("sk", "N"))
    s = make_table(ddb, unique_table("q-str"), ("pk", "S"), ("sk", "S"))
    b = make_table(ddb, unique_table("q-bin"), ("pk", "S"), ("sk", "B"))
    for i, sk in enumerate(NUM_SORT_KEYS):
        ddb.put_item(TableName=num, Item={"pk": {"S": "p"}, "sk": {"N": sk}, "i": {"N": str(i)}, "even": {"BOOL": i % 2 == 0}})
    ddb.put_item(TableName=num, Item={"pk": {"S": "other"}, "sk": {"N": "5"}})
    for sk in STR_SORT_KEYS:
        if sk:
            ddb.put_item(TableName=s, Item={"pk": {"S": "p"}, "sk": {"S": sk}})
    for sk in BIN_SORT_KEYS:
        ddb.put_item(TableName=b, Item={"pk": {"S": "p"}, "sk": {"B": sk}})
    return {"N": num, "S": s, "B": b}


def q(ddb, table, cond, values, **kw):
    return ddb.query(TableName=table, KeyConditionExpression=cond, ExpressionAttributeValues=values, **kw)


def nums(items):
    return [i["sk"]["N"] for i in items]


P = {":p": {"S": "p"}}


def test_query_returns_partition_in_numeric_sort_key_order(ddb, tables):
    r = q(ddb, tables["N"], "pk = :p", P)
    assert nums(r["Items"]) == ["-100", "-5.5", "-1", "0", "0.5", "1", "2", "9", "10", "11", "100", "1000", "10000000000"]
    assert r["Count"] == r["ScannedCount"] == len(NUM_SORT_KEYS)
    assert "LastEvaluatedKey" not in r


def test_query_scan_index_forward_false_returns_descending_order(ddb, tables):
    r = q(ddb, tables["N"], "pk = :p", P, ScanIndexForward=False)
    assert nums(r["Items"]) == list(reversed(nums(q(ddb, tables["N"], "pk = :p", P)["Items"])))


@pytest.mark.parametrize(
    "cond,values,expected",
    [
        ("sk = :v", {":v": {"N": "10"}}, ["10"]),
        ("sk = :v", {":v": {"N": "10.00"}}, ["10"]),
        # numeric comparison: 10 > 9 although "10" < "9" as strings
        ("sk > :v", {":v": {"N": "9"}}, ["10", "11", "100", "1000", "10000000000"]),
        ("sk >= :v", {":v": {"N": "9"}}, ["9", "10", "11", "100", "1000", "10000000000"]),
        ("sk < :v", {":v": {"N": "0"}}, ["-100", "-5.5", "-1"]),
        ("sk <= :v", {":v": {"N": "0.5"}}, ["-100", "-5.5", "-1", "0", "0.5"]),
        ("sk BETWEEN :a AND :b", {":a": {"N": "-1"}, ":b": {"N": "10"}}, ["-1", "0", "0.5", "1", "2", "9", "10"]),
        ("sk BETWEEN :a AND :b", {":a": {"N": "3"}, ":b": {"N": "8"}}, []),
        ("sk > :v", {":v": {"N": "1E+11"}}, []),
    ],
)
def test_query_key_condition_on_number_sort_key(ddb, tables, cond, values, expected):
    r = q(ddb, tables["N"], f"pk = :p AND {cond}", {**P, **values})
    assert nums(r["Items"]) == expected
    # the same condition written the other way round for the hash key
    r2 = q(ddb, tables["N"], f"{cond} AND pk = :p", {**P, **values})
    assert nums(r2["Items"]) == expected


@pytest.mark.parametrize(
    "cond,values,expected",
    [
        ("begins_with(sk, :v)", {":v": {"S": "a#"}}, ["a#1", "a#10", "a#2"]),
        ("begins_with(sk, :v)", {":v": {"S": "a"}}, ["a", "a#1", "a#10", "a#2", "ab"]),
        ("begins_with(sk, :v)", {":v": {"S": "日"}}, ["日本"]),
        ("sk BETWEEN :a AND :b", {":a": {"S": "Z"}, ":b": {"S": "ab"}}, ["Z", "a", "a#1", "a#10", "a#2", "ab"]),
        # UTF-8 byte order: é (0xC3 0xA9) sorts after ASCII, 日 after é
        ("sk > :v", {":v": {"S": "b"}}, ["é", "日本"]),
        ("sk < :v", {":v": {"S": "a"}}, ["A", "Z"]),
    ],
)
def test_query_key_condition_on_string_sort_key(ddb, tables, cond, values, expected):
    r = q(ddb, tables["S"], f"pk = :p AND {cond}", {**P, **values})
    assert [i["sk"]["S"] for i in r["Items"]] == expected


def test_query_binary_sort_key_uses_unsigned_byte_order(ddb, tables):
    r = q(ddb, tables["B"], "pk = :p", P)
    assert [i["sk"]["B"] for i in r["Items"]] == sorted(BIN_SORT_KEYS)
    r = q(ddb, tables["B"], "pk = :p AND sk >= :v", {**P, ":v": {"B": b"\x80"}})
    assert [i["sk"]["B"] for i in r["Items"]] == [b"\x80", b"\xff", b"\xff\x00"]
    r = q(ddb, tables["B"], "pk = :p AND begins_with(sk, :v)", {**P, ":v": {"B": b"\x00"}})
    assert [i["sk"]["B"] for i in r["Items"]] == [b"\x00", b"\x00\x00"]


def test_query_of_empty_partition_returns_nothing(ddb, tables):
    r = q(ddb, tables["N"], "pk = :p", {":p": {"S": "no-such-partition"}})
    assert r["Items"] == [] and r["Count"] == 0 and r["ScannedCount"] == 0
    assert "LastEvaluatedKey" not in r


def test_query_with_attribute_name_aliases_for_keys(ddb, tables):
    r = ddb.query(
        TableName=tables["N"],
        KeyConditionExpression="#h = :p AND #r BETWEEN :a AND :b",
        ExpressionAttributeNames={"#h": "pk", "#r": "sk"},
        ExpressionAttributeValues={**P, ":a": {"N": "1"}, ":b": {"N": "2"}},
    )
    assert nums(r["Items"]) == ["1", "2"]


def test_query_filter_expression_applies_after_key_condition_and_counts(ddb, tables):
    r = q(ddb, tables["N"], "pk = :p AND sk >= :z", {**P, ":z": {"N": "0"}, ":t": {"BOOL": True}}, FilterExpression="even = :t")
    # items with sk >= 0 are i = 3..12; even i: 4, 6, 8, 10, 12
    assert [i["i"]["N"] for i in r["Items"]] == ["4", "6", "8", "10", "12"]
    assert r["Count"] == 5
    assert r["ScannedCount"] == 10


def test_query_limit_counts_items_read_before_the_filter(ddb, tables):
    r = q(ddb, tables["N"], "pk = :p", {**P, ":t": {"BOOL": True}}, FilterExpression="even = :t", Limit=4)
    assert r["ScannedCount"] == 4
    assert [i["i"]["N"] for i in r["Items"]] == ["0", "2"]
    assert r["LastEvaluatedKey"] == {"pk": {"S": "p"}, "sk": {"N": "0"}}


def test_query_select_count_returns_only_counts(ddb, tables):
    r = q(ddb, tables["N"], "pk = :p AND sk > :v", {**P, ":v": {"N": "9"}}, Select="COUNT")
    assert r["Count"] == 5 and r["ScannedCount"] == 5
    assert "Items" not in r


def test_query_projection_expression_limits_attributes(ddb, tables):
    r = q(ddb, tables["N"], "pk = :p AND sk = :v", {**P, ":v": {"N": "1"}}, ProjectionExpression="i")
    assert r["Items"] == [{"i": {"N": "5"}}]


@pytest.mark.parametrize("forward", [True, False])
@pytest.mark.parametrize("limit", [1, 3, 5, 13, 14])
def test_query_pagination_with_limit_visits_every_item_once(ddb, tables, limit, forward):
    expected = nums(q(ddb, tables["N"], "pk = :p", P, ScanIndexForward=forward)["Items"])
    items, pages = paginate(
        ddb.query,
        TableName=tables["N"],
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues=P,
        Limit=limit,
        ScanIndexForward=forward,
    )
    assert nums(items) == expected
    for p in pages:
        assert len(p["Items"]) <= limit
        if "LastEvaluatedKey" in p:
            assert set(p["LastEvaluatedKey"]) == {"pk", "sk"}
            assert p["LastEvaluatedKey"]["sk"] == p["Items"][-1]["sk"]
    # a page count that proves Limit was honoured (a last empty page is allowed)
    assert len(pages) in (-(-len(expected) // limit), -(-len(expected) // limit) + 1)


def test_query_exclusive_start_key_resumes_after_that_key(ddb, tables):
    r = q(ddb, tables["N"], "pk = :p", P, ExclusiveStartKey={"pk": {"S": "p"}, "sk": {"N": "9"}})
    assert nums(r["Items"]) == ["10", "11", "100", "1000", "10000000000"]
    r = q(ddb, tables["N"], "pk = :p", P, ExclusiveStartKey={"pk": {"S": "p"}, "sk": {"N": "9"}}, ScanIndexForward=False)
    assert nums(r["Items"]) == ["2", "1", "0.5", "0", "-1", "-5.5", "-100"]


def test_query_pages_are_capped_at_1mb(ddb):
    table = make_table(ddb, unique_table("q-mb"), ("pk", "S"), ("sk", "N"))
    blob = "x" * 100_000
    for i in range(25):  # 2.5 MB in one partition
        ddb.put_item(TableName=table, Item={"pk": {"S": "big"}, "sk": {"N": str(i)}, "d": {"S": blob}})
    first = q(ddb, table, "pk = :p", {":p": {"S": "big"}})
    assert "LastEvaluatedKey" in first, "a 2.5 MB result came back in one page"
    assert 1 <= first["Count"] <= 11
    items, pages = paginate(
        ddb.query, TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "big"}}
    )
    assert [int(i["sk"]["N"]) for i in items] == list(range(25))
    assert len(pages) >= 3


# ---------------------------------------------------------------- scan


@pytest.fixture(scope="module")
def scan_table(node):
    ddb = ddb_client(node)
    t = make_table(ddb, unique_table("scan"), ("pk", "S"), ("sk", "N"))
    for p in range(12):
        for s in range(5):
            ddb.put_item(
                TableName=t, Item={"pk": {"S": f"p{p:02d}"}, "sk": {"N": str(s)}, "v": {"N": str(p * 10 + s)}}
            )
    return t


ALL_SCAN_KEYS = sorted((f"p{p:02d}", s) for p in range(12) for s in range(5))


def pairs(items):
    return [(i["pk"]["S"], int(i["sk"]["N"])) for i in items]


def test_scan_returns_every_item(ddb, scan_table):
    r = ddb.scan(TableName=scan_table)
    assert sorted(pairs(r["Items"])) == ALL_SCAN_KEYS
    assert r["Count"] == r["ScannedCount"] == 60


@pytest.mark.parametrize("limit", [1, 7, 59, 60])
def test_scan_pagination_with_limit_has_no_duplicates_or_gaps(ddb, scan_table, limit):
    items, pages = paginate(ddb.scan, TableName=scan_table, Limit=limit)
    got = pairs(items)
    assert len(got) == len(set(got)), "an item was returned twice"
    assert sorted(got) == ALL_SCAN_KEYS
    assert all(len(p["Items"]) <= limit for p in pages)
    assert len(pages) >= -(-60 // limit)


def test_scan_filter_expression_and_counts(ddb, scan_table):
    items, pages = paginate(
        ddb.scan,
        TableName=scan_table,
        FilterExpression="v >= :lo AND sk = :s",
        ExpressionAttributeValues={":lo": {"N": "50"}, ":s": {"N": "3"}},
        Limit=10,
    )
    assert sorted(pairs(items)) == [(f"p{p:02d}", 3) for p in range(5, 12)]
    assert sum(p["ScannedCount"] for p in pages) == 60
    assert sum(p["Count"] for p in pages) == 7


def test_scan_select_count(ddb, scan_table):
    r = ddb.scan(TableName=scan_table, Select="COUNT", FilterExpression="sk = :z", ExpressionAttributeValues={":z": {"N": "0"}})
    assert r["Count"] == 12 and r["ScannedCount"] == 60
    assert "Items" not in r


@pytest.mark.parametrize("total", [1, 2, 4, 7])
def test_parallel_scan_segments_partition_the_table(ddb, scan_table, total):
    seen = []
    for seg in range(total):
        items, _ = paginate(ddb.scan, TableName=scan_table, Segment=seg, TotalSegments=total, Limit=8)
        seen.append(set(pairs(items)))
    union = set().union(*seen)
    assert sorted(union) == ALL_SCAN_KEYS
    assert sum(len(s) for s in seen) == 60, "segments overlap"
    # items of one partition key stay in one segment
    for s in seen:
        for pk in {k for k, _ in s}:
            assert {(pk, i) for i in range(5)} <= s
    if total > 1:
        assert sum(1 for s in seen if s) >= 2, "all items landed in one segment"


def test_scan_with_projection_and_exclusive_start_key(ddb, scan_table):
    first = ddb.scan(TableName=scan_table, Limit=10, ProjectionExpression="v")
    assert all(set(i) == {"v"} for i in first["Items"])
    lek = first["LastEvaluatedKey"]
    assert set(lek) == {"pk", "sk"}
    rest, _ = paginate(ddb.scan, TableName=scan_table, ExclusiveStartKey=lek)
    assert len(rest) == 50
    # the projected page plus the rest cover all values exactly once
    vals = sorted([int(i["v"]["N"]) for i in first["Items"]] + [int(i["v"]["N"]) for i in rest])
    assert vals == sorted(p * 10 + s for p in range(12) for s in range(5))


def test_scan_empty_table(ddb):
    t = make_table(ddb, unique_table("scan-empty"))
    r = ddb.scan(TableName=t)
    assert r["Items"] == [] and r["Count"] == 0 and "LastEvaluatedKey" not in r


def test_scan_of_hash_only_table_with_many_pages(ddb):
    t = make_table(ddb, unique_table("scan-hash"), ("id", "N"))
    for i in range(45):
        ddb.put_item(TableName=t, Item={"id": {"N": str(i)}})
    items, pages = paginate(ddb.scan, TableName=t, Limit=4)
    ids = [int(i["id"]["N"]) for i in items]
    assert sorted(ids) == list(range(45)) and len(ids) == 45
    assert all(set(p.get("LastEvaluatedKey", {"id": 0})) == {"id"} for p in pages)


def test_query_on_hash_only_table_returns_the_one_item(ddb):
    t = make_table(ddb, unique_table("q-hash"), ("id", "S"))
    ddb.put_item(TableName=t, Item={"id": {"S": "x"}, "v": {"N": "1"}})
    ddb.put_item(TableName=t, Item={"id": {"S": "y"}, "v": {"N": "2"}})
    r = ddb.query(TableName=t, KeyConditionExpression="id = :x", ExpressionAttributeValues={":x": {"S": "x"}})
    assert r["Items"] == [{"id": {"S": "x"}, "v": {"N": "1"}}]


def test_query_key_condition_errors(ddb, tables):
    t = tables["N"]
    with ddb_error("ValidationException", message=r"Query condition missed key schema element: pk"):
        q(ddb, t, "sk = :v", {":v": {"N": "1"}})
    with ddb_error("ValidationException", message=r"Invalid operator used in KeyConditionExpression: OR"):
        q(ddb, t, "pk = :p OR sk = :v", {**P, ":v": {"N": "1"}})
    with ddb_error("ValidationException", message=r"Query key condition not supported|Query condition missed key schema element"):
        q(ddb, t, "pk = :p AND i = :v", {**P, ":v": {"N": "1"}})
    with ddb_error("ValidationException", message=r"Query key condition not supported"):
        q(ddb, t, "pk > :p", P)
    with ddb_error("ValidationException", message=r"Invalid operator used in KeyConditionExpression: contains"):
        q(ddb, t, "pk = :p AND contains(sk, :v)", {**P, ":v": {"N": "1"}})
    with ddb_error("ValidationException", message=r"Invalid KeyConditionExpression: .*begins_with"):
        q(ddb, t, "pk = :p AND begins_with(sk, :v)", {**P, ":v": {"N": "1"}})
    with ddb_error("ValidationException", message=r"One or more parameter values were invalid: Condition parameter type does not match schema type"):
        q(ddb, t, "pk = :p AND sk = :v", {**P, ":v": {"S": "1"}})


def test_query_limit_zero_is_validation_error(node, tables):
    # boto3 refuses Limit=0 itself, so send it raw
    body = {"TableName": tables["N"], "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": P, "Limit": 0}
    resp = raw_request(node, "DynamoDB_20120810.Query", body)
    status, kind, message = raw_error(resp)
    assert (status, kind) == (400, "ValidationException"), describe_raw(resp)
    assert "limit" in message and "greater than or equal to 1" in message, message


def test_scan_segment_must_be_less_than_total_segments(ddb, scan_table):
    with ddb_error("ValidationException", message=r"Segment"):
        ddb.scan(TableName=scan_table, Segment=4, TotalSegments=4)
    with ddb_error("ValidationException", message=r"TotalSegments"):
        ddb.scan(TableName=scan_table, Segment=0)


def test_exclusive_start_key_not_matching_the_schema_is_rejected(ddb, tables, scan_table):
    with ddb_error("ValidationException", message=r"The provided starting key is invalid"):
        ddb.scan(TableName=scan_table, ExclusiveStartKey={"nope": {"S": "x"}})
    with ddb_error("ValidationException", message=r"The provided starting key is invalid"):
        q(ddb, tables["N"], "pk = :p", P, ExclusiveStartKey={"pk": {"S": "p"}})


def test_query_and_scan_of_missing_table_are_resource_not_found(ddb):
    with ddb_error("ResourceNotFoundException"):
        ddb.scan(TableName=unique_table("noscan"))
    with ddb_error("ResourceNotFoundException"):
        q(ddb, unique_table("noquery"), "pk = :p", P)
