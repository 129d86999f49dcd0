"""DynamoDB's legacy (pre-expression) parameters through boto3: AttributesToGet
(GetItem, BatchGetItem, Query, Scan), KeyConditions, QueryFilter and ScanFilter
with ConditionalOperator, Expected with Exists/Value/ComparisonOperator (every
operator), AttributeUpdates PUT/ADD/DELETE; and the ValidationExceptions, with
DynamoDB's messages, for mixing them with expressions and for operators with the
wrong number or type of values."""

import pytest

from dynamo_helpers import ddb_client, ddb_error, make_table, unique_table

S = lambda v: {"S": v}  # noqa: E731
N = lambda v: {"N": str(v)}  # noqa: E731


@pytest.fixture(scope="module")
def ddb(node):
    return ddb_client(node)


@pytest.fixture(scope="module")
def table(ddb):
    """pk S / sk N with ten items: pk "p", sk 0..9, n = sk, tag "even"/"odd", s "item-<sk>"."""
    t = make_table(ddb, unique_table("legacy"), ("pk", "S"), ("sk", "N"))
    for i in range(10):
        ddb.put_item(
            TableName=t,
            Item={"pk": S("p"), "sk": N(i), "n": N(i), "tag": S("even" if i % 2 == 0 else "odd"), "s": S(f"item-{i}"), "ss": {"SS": ["a", f"x{i}"]}},
        )
    return t


def sks(items):
    return sorted(int(i["sk"]["N"]) for i in items)


# ---------------------------------------------------------------- AttributesToGet


def test_get_item_attributes_to_get_returns_only_those_attributes(ddb, table):
    r = ddb.get_item(TableName=table, Key={"pk": S("p"), "sk": N(3)}, AttributesToGet=["n", "tag", "missing"])
    assert r["Item"] == {"n": N(3), "tag": S("odd")}


def test_batch_get_attributes_to_get_per_table(ddb, table):
    r = ddb.batch_get_item(RequestItems={table: {"Keys": [{"pk": S("p"), "sk": N(1)}, {"pk": S("p"), "sk": N(2)}], "AttributesToGet": ["sk", "s"]}})
    got = sorted(r["Responses"][table], key=lambda i: i["sk"]["N"])
    assert got == [{"sk": N(1), "s": S("item-1")}, {"sk": N(2), "s": S("item-2")}]


def test_duplicate_attributes_to_get_is_refused(ddb, table):
    with ddb_error("ValidationException", message=r"^One or more parameter values were invalid: Duplicate value in attribute name: n$"):
        ddb.get_item(TableName=table, Key={"pk": S("p"), "sk": N(3)}, AttributesToGet=["n", "n"])


# ---------------------------------------------------------------- KeyConditions / QueryFilter


KEY_EQ = {"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [S("p")]}}


@pytest.mark.parametrize(
    "op,values,expected",
    [
        ("EQ", [N(4)], [4]),
        ("LT", [N(2)], [0, 1]),
        ("LE", [N(2)], [0, 1, 2]),
        ("GT", [N(7)], [8, 9]),
        ("GE", [N(7)], [7, 8, 9]),
        ("BETWEEN", [N(3), N(5)], [3, 4, 5]),
    ],
)
def test_query_key_conditions_on_the_range_key(ddb, table, op, values, expected):
    r = ddb.query(TableName=table, KeyConditions={**KEY_EQ, "sk": {"ComparisonOperator": op, "AttributeValueList": values}})
    assert sks(r["Items"]) == expected
    assert r["Count"] == len(expected)


def test_query_key_conditions_begins_with_on_a_string_range_key(ddb):
    t = make_table(ddb, unique_table("legacy-bw"), ("pk", "S"), ("sk", "S"))
    for sk in ["apple", "apricot", "banana"]:
        ddb.put_item(TableName=t, Item={"pk": S("h"), "sk": S(sk)})
    r = ddb.query(
        TableName=t,
        KeyConditions={"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [S("h")]}, "sk": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [S("ap")]}},
        ScanIndexForward=False,
    )
    assert [i["sk"]["S"] for i in r["Items"]] == ["apricot", "apple"]


def test_query_filter_with_conditional_operator_or(ddb, table):
    r = ddb.query(
        TableName=table,
        KeyConditions=KEY_EQ,
        QueryFilter={"n": {"ComparisonOperator": "LT", "AttributeValueList": [N(2)]}, "s": {"ComparisonOperator": "EQ", "AttributeValueList": [S("item-9")]}},
        ConditionalOperator="OR",
    )
    assert sks(r["Items"]) == [0, 1, 9]
    assert r["ScannedCount"] == 10


def test_query_filter_and_attributes_to_get_together(ddb, table):
    r = ddb.query(TableName=table, KeyConditions=KEY_EQ, QueryFilter={"tag": {"ComparisonOperator": "EQ", "AttributeValueList": [S("odd")]}}, AttributesToGet=["sk"])
    assert r["Items"] == [{"sk": N(i)} for i in (1, 3, 5, 7, 9)]


def test_key_conditions_combine_with_a_filter_expression(ddb, table):
    r = ddb.query(TableName=table, KeyConditions=KEY_EQ, FilterExpression="n > :n", ExpressionAttributeValues={":n": N(7)})
    assert sks(r["Items"]) == [8, 9]


def test_query_filter_on_a_key_attribute_is_refused(ddb, table):
    with ddb_error("ValidationException", message=r"^QueryFilter can only contain non-primary key attributes: Primary key attribute: sk$"):
        ddb.query(TableName=table, KeyConditions=KEY_EQ, QueryFilter={"sk": {"ComparisonOperator": "EQ", "AttributeValueList": [N(1)]}})


@pytest.mark.parametrize(
    "conditions,message",
    [
        ({"sk": {"ComparisonOperator": "EQ", "AttributeValueList": [N(1)]}}, r"^Query condition missed key schema element: pk$"),
        ({"pk": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [S("p")]}}, r"^Query key condition not supported$"),
        ({**KEY_EQ, "sk": {"ComparisonOperator": "NE", "AttributeValueList": [N(1)]}}, r"^Attempted conditional constraint is not an indexable operation$"),
        ({**KEY_EQ, "sk": {"ComparisonOperator": "EQ", "AttributeValueList": [S("1")]}}, r"^One or more parameter values were invalid: Condition parameter type does not match schema type$"),
        ({**KEY_EQ, "sk": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [N(5), N(1)]}}, r"^The BETWEEN condition was provided a range where the lower bound is greater than the upper bound$"),
    ],
)
def test_bad_key_conditions_are_refused(ddb, table, conditions, message):
    with ddb_error("ValidationException", message=message):
        ddb.query(TableName=table, KeyConditions=conditions)


# ---------------------------------------------------------------- ScanFilter: every operator


@pytest.mark.parametrize(
    "attr,op,values,expected",
    [
        ("n", "EQ", [N(3)], [3]),
        ("n", "NE", [N(3)], [0, 1, 2, 4, 5, 6, 7, 8, 9]),
        ("n", "LE", [N(1)], [0, 1]),
        ("n", "LT", [N(1)], [0]),
        ("n", "GE", [N(8)], [8, 9]),
        ("n", "GT", [N(8)], [9]),
        ("n", "NOT_NULL", [], list(range(10))),
        ("nothing", "NULL", [], list(range(10))),
        ("s", "CONTAINS", [S("-7")], [7]),
        ("ss", "CONTAINS", [S("x2")], [2]),
        ("ss", "NOT_CONTAINS", [S("x2")], [0, 1, 3, 4, 5, 6, 7, 8, 9]),
        ("s", "BEGINS_WITH", [S("item-5")], [5]),
        ("n", "IN", [N(1), N(4), N(42)], [1, 4]),
        ("n", "BETWEEN", [N(6), N(7)], [6, 7]),
    ],
)
def test_scan_filter_operator(ddb, table, attr, op, values, expected):
    r = ddb.scan(TableName=table, ScanFilter={attr: {"ComparisonOperator": op, "AttributeValueList": values}})
    assert sks(r["Items"]) == expected


def test_scan_filter_and_is_the_default(ddb, table):
    r = ddb.scan(
        TableName=table,
        ScanFilter={"tag": {"ComparisonOperator": "EQ", "AttributeValueList": [S("even")]}, "n": {"ComparisonOperator": "GT", "AttributeValueList": [N(4)]}},
    )
    assert sks(r["Items"]) == [6, 8]


@pytest.mark.parametrize(
    "op,values,message",
    [
        ("EQ", [], r"Invalid number of argument\(s\) for the EQ ComparisonOperator"),
        ("BETWEEN", [N(1)], r"Invalid number of argument\(s\) for the BETWEEN ComparisonOperator"),
        ("NULL", [N(1)], r"Invalid number of argument\(s\) for the NULL ComparisonOperator"),
        ("IN", [], r"Invalid number of argument\(s\) for the IN ComparisonOperator"),
        ("LT", [{"SS": ["a"]}], r"ComparisonOperator LT is not valid for SS AttributeValue type"),
        ("BEGINS_WITH", [N(1)], r"ComparisonOperator BEGINS_WITH is not valid for N AttributeValue type"),
        ("CONTAINS", [{"BOOL": True}], r"ComparisonOperator CONTAINS is not valid for BOOL AttributeValue type"),
        ("IN", [N(1), S("a")], r"AttributeValues inside AttributeValueList must be of same type"),
    ],
)
def test_scan_filter_with_wrong_values_is_refused(ddb, table, op, values, message):
    with ddb_error("ValidationException", message=r"^One or more parameter values were invalid: " + message + "$"):
        ddb.scan(TableName=table, ScanFilter={"n": {"ComparisonOperator": op, "AttributeValueList": values}})


def test_unknown_conditional_operator_is_refused(ddb, table):
    with ddb_error("ValidationException", message=r"Value 'XOR' at 'conditionalOperator' failed to satisfy constraint: Member must satisfy enum value set: \[OR, AND\]"):
        ddb.scan(TableName=table, ScanFilter={"n": {"ComparisonOperator": "NOT_NULL"}}, ConditionalOperator="XOR")


# ---------------------------------------------------------------- Expected


@pytest.fixture(scope="module")
def wtable(ddb):
    """A table for the tests that write (the read tests count the items of `table`)."""
    return make_table(ddb, unique_table("legacy-w"), ("pk", "S"), ("sk", "N"))


@pytest.fixture
def item(ddb, wtable):
    key = {"pk": S("exp"), "sk": N(1)}
    ddb.put_item(TableName=wtable, Item={**key, "v": N(10), "s": S("hello"), "ss": {"SS": ["a", "b"]}})
    yield key
    ddb.delete_item(TableName=wtable, Key=key)


def current(ddb, table, key):
    return ddb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")


@pytest.mark.parametrize(
    "expected,passes",
    [
        ({"v": {"Value": N(10)}}, True),
        ({"v": {"Value": N(11)}}, False),
        ({"v": {"Exists": True, "Value": N(10)}}, True),
        ({"nope": {"Exists": False}}, True),
        ({"v": {"Exists": False}}, False),
        ({"v": {"ComparisonOperator": "EQ", "AttributeValueList": [N(10)]}}, True),
        ({"v": {"ComparisonOperator": "NE", "Value": N(10)}}, False),
        ({"v": {"ComparisonOperator": "LE", "AttributeValueList": [N(10)]}}, True),
        ({"v": {"ComparisonOperator": "LT", "AttributeValueList": [N(10)]}}, False),
        ({"v": {"ComparisonOperator": "GE", "AttributeValueList": [N(11)]}}, False),
        ({"v": {"ComparisonOperator": "GT", "AttributeValueList": [N(9)]}}, True),
        ({"v": {"ComparisonOperator": "NOT_NULL"}}, True),
        ({"v": {"ComparisonOperator": "NULL"}}, False),
        ({"ss": {"ComparisonOperator": "CONTAINS", "AttributeValueList": [S("b")]}}, True),
        ({"s": {"ComparisonOperator": "NOT_CONTAINS", "AttributeValueList": [S("ell")]}}, False),
        ({"s": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [S("he")]}}, True),
        ({"v": {"ComparisonOperator": "IN", "AttributeValueList": [N(1), N(10)]}}, True),
        ({"v": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [N(11), N(20)]}}, False),
    ],
)
def test_expected_guards_update_item(ddb, wtable, item, expected, passes):
    args = dict(TableName=wtable, Key=item, AttributeUpdates={"w": {"Action": "PUT", "Value": S("written")}}, Expected=expected)
    if passes:
        ddb.update_item(**args)
        assert current(ddb, wtable, item)["w"] == S("written")
    else:
        with ddb_error("ConditionalCheckFailedException", message=r"^The conditional request failed$"):
            ddb.update_item(**args)
        assert "w" not in current(ddb, wtable, item)


def test_expected_with_conditional_operator_or_guards_put_and_delete(ddb, wtable, item):
    either = {"v": {"ComparisonOperator": "EQ", "AttributeValueList": [N(99)]}, "s": {"ComparisonOperator": "EQ", "AttributeValueList": [S("hello")]}}
    with ddb_error("ConditionalCheckFailedException"):
        ddb.put_item(TableName=wtable, Item={**item, "v": N(1)}, Expected=either)
    ddb.put_item(TableName=wtable, Item={**item, "v": N(1), "s": S("hello")}, Expected=either, ConditionalOperator="OR")
    assert current(ddb, wtable, item)["v"] == N(1)
    with ddb_error("ConditionalCheckFailedException"):
        ddb.delete_item(TableName=wtable, Key=item, Expected={"v": {"Value": N(2)}})
    ddb.delete_item(TableName=wtable, Key=item, Expected={"v": {"Value": N(1)}})
    assert current(ddb, wtable, item) is None


def test_expected_exists_false_makes_put_create_only(ddb, wtable):
    key = {"pk": S("exp-new"), "sk": N(1)}
    ddb.put_item(TableName=wtable, Item={**key, "v": N(1)}, Expected={"pk": {"Exists": False}})
    with ddb_error("ConditionalCheckFailedException"):
        ddb.put_item(TableName=wtable, Item={**key, "v": N(2)}, Expected={"pk": {"Exists": False}})
    assert current(ddb, wtable, key)["v"] == N(1)


@pytest.mark.parametrize(
    "expected,message",
    [
        ({"v": {"Exists": True}}, r"Value must be provided when Exists is true for Attribute: v"),
        ({"v": {}}, r"Value must be provided when Exists is null for Attribute: v"),
        ({"v": {"Exists": False, "Value": N(1)}}, r"Value cannot be used when Exists is false for Attribute: v"),
        ({"v": {"Exists": True, "ComparisonOperator": "NULL"}}, r"Exists and ComparisonOperator cannot be used together for Attribute: v"),
        ({"v": {"Value": N(1), "AttributeValueList": [N(1)], "ComparisonOperator": "EQ"}}, r"Value and AttributeValueList cannot be used together for Attribute: v"),
        ({"v": {"ComparisonOperator": "GT"}}, r"Value or AttributeValueList must be used with ComparisonOperator: GT for Attribute: v"),
        ({"v": {"AttributeValueList": [N(1)]}}, r"AttributeValueList can only be used with a ComparisonOperator for Attribute: v"),
        ({"v": {"ComparisonOperator": "BETWEEN", "Value": N(1)}}, r"Invalid number of argument\(s\) for the BETWEEN ComparisonOperator"),
    ],
)
def test_malformed_expected_is_refused_and_changes_nothing(ddb, wtable, item, expected, message):
    before = current(ddb, wtable, item)
    with ddb_error("ValidationException", message=r"^One or more parameter values were invalid: " + message + "$"):
        ddb.put_item(TableName=wtable, Item={**item, "v": N(0)}, Expected=expected)
    assert current(ddb, wtable, item) == before


# ---------------------------------------------------------------- AttributeUpdates


def test_attribute_updates_put_add_delete(ddb, wtable, item):
    r = ddb.update_item(
        TableName=wtable,
        Key=item,
        AttributeUpdates={
            "v": {"Action": "ADD", "Value": N(5)},
            "ss": {"Action": "DELETE", "Value": {"SS": ["a"]}},
            "s": {"Action": "DELETE"},
            "fresh": {"Value": S("put is the default")},
            "tags": {"Action": "ADD", "Value": {"SS": ["t1"]}},
            "log": {"Action": "ADD", "Value": {"L": [S("first")]}},
        },
        ReturnValues="ALL_NEW",
    )
    assert r["Attributes"] == {**item, "v": N(15), "ss": {"SS": ["b"]}, "fresh": S("put is the default"), "tags": {"SS": ["t1"]}, "log": {"L": [S("first")]}}
    r = ddb.update_item(TableName=wtable, Key=item, AttributeUpdates={"log": {"Action": "ADD", "Value": {"L": [S("second")]}}}, ReturnValues="UPDATED_NEW")
    assert r["Attributes"] == {"log": {"L": [S("first"), S("second")]}}


def test_attribute_updates_creates_the_item(ddb, wtable):
    key = {"pk": S("au-new"), "sk": N(1)}
    ddb.update_item(TableName=wtable, Key=key, AttributeUpdates={"count": {"Action": "ADD", "Value": N(1)}})
    ddb.update_item(TableName=wtable, Key=key, AttributeUpdates={"count": {"Action": "ADD", "Value": N(1)}})
    assert current(ddb, wtable, key) == {**key, "count": N(2)}


@pytest.mark.parametrize(
    "updates,message",
    [
        ({"x": {"Action": "PUT"}}, r"^One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified$"),
        ({"x": {"Action": "DELETE", "Value": S("a")}}, r"^One or more parameter values were invalid: DELETE action with value is not supported for the type S$"),
        ({"x": {"Action": "ADD", "Value": S("a")}}, r"^One or more parameter values were invalid: ADD action is not supported for the type S$"),
        ({"sk": {"Action": "PUT", "Value": N(2)}}, r"Cannot update attribute sk. This attribute is part of the key"),
    ],
)
def test_bad_attribute_updates_are_refused(ddb, wtable, item, updates, message):
    before = current(ddb, wtable, item)
    with ddb_error("ValidationException", message=message):
        ddb.update_item(TableName=wtable, Key=item, AttributeUpdates=updates)
    assert current(ddb, wtable, item) == before


# ---------------------------------------------------------------- mixing with expressions


@pytest.mark.parametrize(
    "call,args,message",
    [
        ("get_item", dict(AttributesToGet=["v"], ProjectionExpression="v"), r"Non-expression parameters: \{AttributesToGet\} Expression parameters: \{ProjectionExpression\}"),
        ("put_item", dict(Expected={"v": {"Exists": False}}, ConditionExpression="attribute_exists(v)"), r"Non-expression parameters: \{Expected\} Expression parameters: \{ConditionExpression\}"),
        (
            "update_item",
            dict(AttributeUpdates={"v": {"Value": N(1)}}, UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": N(1)}),
            r"Non-expression parameters: \{AttributeUpdates\} Expression parameters: \{UpdateExpression\}",
        ),
        (
            "query",
            dict(KeyConditions=KEY_EQ, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("p")}),
            r"Non-expression parameters: \{KeyConditions\} Expression parameters: \{KeyConditionExpression\}",
        ),
        (
            "scan",
            dict(ScanFilter={"n": {"ComparisonOperator": "NOT_NULL"}}, FilterExpression="attribute_exists(n)"),
            r"Non-expression parameters: \{ScanFilter\} Expression parameters: \{FilterExpression\}",
        ),
        (
            "scan",
            dict(ConditionalOperator="OR", ProjectionExpression="n"),
            r"Non-expression parameters: \{ConditionalOperator\} Expression parameters: \{ProjectionExpression\}",
        ),
    ],
)
def test_legacy_with_expression_counterpart_is_refused(ddb, table, call, args, message):
    base = {"TableName": table}
    if call in ("get_item", "update_item"):
        base["Key"] = {"pk": S("p"), "sk": N(1)}
    if call == "put_item":
        base["Item"] = {"pk": S("p"), "sk": N(1), "n": N(1), "tag": S("odd"), "s": S("item-1"), "ss": {"SS": ["a", "x1"]}}
    with ddb_error("ValidationException", message=r"^Can not use both expression and non-expression parameters in the same request: " + message + "$"):
        getattr(ddb, call)(**base, **args)


def test_expression_attribute_values_without_expressions_is_refused(ddb, table):
    with ddb_error(
        "ValidationException",
        message=r"^ExpressionAttributeValues can only be specified when using expressions: UpdateExpression and ConditionExpression are null$",
    ):
        ddb.update_item(TableName=table, Key={"pk": S("p"), "sk": N(1)}, AttributeUpdates={"v": {"Value": N(1)}}, ExpressionAttributeValues={":v": N(1)})
