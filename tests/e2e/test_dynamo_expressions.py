"""DynamoDB expressions end to end: condition expressions (comparators, BETWEEN, IN,
AND/OR/NOT, functions, nested paths, aliases) on PutItem/UpdateItem/DeleteItem, update
expressions (SET with arithmetic, list_append, if_not_exists; REMOVE; ADD; DELETE),
projection expressions, and the ValidationException each malformed form produces."""

import re

import pytest

from dynamo_helpers import ddb_client, ddb_error, make_table, unique_table

BASE = {
    "pk": {"S": "doc"},
    "n": {"N": "10"},
    "neg": {"N": "-3.5"},
    "s": {"S": "banana"},
    "b": {"B": b"\x01\x02"},
    "t": {"BOOL": True},
    "z": {"NULL": True},
    "ss": {"SS": ["red", "green"]},
    "ns": {"NS": ["1", "2", "3"]},
    "l": {"L": [{"S": "first"}, {"N": "2"}, {"M": {"deep": {"S": "x"}}}]},
    "m": {"M": {"a": {"N": "1"}, "b": {"M": {"c": {"S": "nested"}}}, "dotted.key": {"S": "dk"}}},
    "with-dash": {"S": "dash"},
}
KEY = {"pk": {"S": "doc"}}


@pytest.fixture(scope="module")
def table(node):
    return make_table(ddb_client(node), unique_table("expr"))


@pytest.fixture
def doc(ddb, table):
    ddb.put_item(TableName=table, Item=BASE)
    return KEY


def get(ddb, table, key=KEY):
    return ddb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")


def holds(ddb, table, cond, values=None, names=None):
    """Whether the condition holds on the stored doc (via a no-op conditional UpdateItem)."""
    kw = {"TableName": table, "Key": KEY, "ConditionExpression": cond}
    # a harmless SET keeps the item otherwise unchanged
    kw["UpdateExpression"] = "SET #probe = :probe"
    kw["ExpressionAttributeNames"] = {"#probe": "probe", **(names or {})}
    kw["ExpressionAttributeValues"] = {":probe": {"N": "1"}, **(values or {})}
    try:
        ddb.update_item(**kw)
        return True
    except ddb.exceptions.ConditionalCheckFailedException:
        return False


# ---------------------------------------------------------------- condition expressions

CONDITIONS = [
    # (expression, values, names, expected)
    ("n = :v", {":v": {"N": "10"}}, None, True),
    ("n = :v", {":v": {"N": "10.000"}}, None, True),
    ("n = :v", {":v": {"S": "10"}}, None, False),
    ("n <> :v", {":v": {"N": "9"}}, None, True),
    # numeric, not lexicographic: "10" > "9"
    ("n > :v", {":v": {"N": "9"}}, None, True),
    ("n < :v", {":v": {"N": "9"}}, None, False),
    ("n >= :v", {":v": {"N": "10"}}, None, True),
    ("n <= :v", {":v": {"N": "9.99999"}}, None, False),
    ("neg < :v", {":v": {"N": "-3.4"}}, None, True),
    ("s < :v", {":v": {"S": "cherry"}}, None, True),
    ("s > :v", {":v": {"S": "banana!"}}, None, False),
    ("b < :v", {":v": {"B": b"\x01\x03"}}, None, True),
    # comparing different types is false, not an error
    ("s < :v", {":v": {"N": "1"}}, None, False),
    ("n BETWEEN :lo AND :hi", {":lo": {"N": "9"}, ":hi": {"N": "11"}}, None, True),
    ("n BETWEEN :lo AND :hi", {":lo": {"N": "10"}, ":hi": {"N": "10"}}, None, True),
    ("n BETWEEN :lo AND :hi", {":lo": {"N": "11"}, ":hi": {"N": "20"}}, None, False),
    ("s IN (:a, :b, :c)", {":a": {"S": "apple"}, ":b": {"S": "banana"}, ":c": {"S": "kiwi"}}, None, True),
    ("s IN (:a, :b)", {":a": {"S": "apple"}, ":b": {"S": "kiwi"}}, None, False),
    ("attribute_exists(s) AND attribute_not_exists(nothere)", None, None, True),
    ("attribute_exists(nothere) OR n = :v", {":v": {"N": "10"}}, None, True),
    ("NOT n = :v", {":v": {"N": "10"}}, None, False),
    ("NOT (n = :v AND s = :x)", {":v": {"N": "10"}, ":x": {"S": "nope"}}, None, True),
    # AND binds tighter than OR
    ("n = :one OR n = :ten AND s = :nope", {":one": {"N": "1"}, ":ten": {"N": "10"}, ":nope": {"S": "x"}}, None, False),
    ("(n = :one OR n = :ten) AND s = :s", {":one": {"N": "1"}, ":ten": {"N": "10"}, ":s": {"S": "banana"}}, None, True),
    ("begins_with(s, :p)", {":p": {"S": "ban"}}, None, True),
    ("begins_with(s, :p)", {":p": {"S": "nan"}}, None, False),
    ("contains(s, :p)", {":p": {"S": "nan"}}, None, True),
    ("contains(ss, :p)", {":p": {"S": "red"}}, None, True),
    ("contains(ss, :p)", {":p": {"S": "blue"}}, None, False),
    ("contains(ns, :p)", {":p": {"N": "2"}}, None, True),
    ("contains(l, :p)", {":p": {"S": "first"}}, None, True),
    ("size(s) = :v", {":v": {"N": "6"}}, None, True),
    ("size(ss) = :v", {":v": {"N": "2"}}, None, True),
    ("size(l) = :v", {":v": {"N": "3"}}, None, True),
    ("size(m) = :v", {":v": {"N": "3"}}, None, True),
    ("size(b) = :v", {":v": {"N": "2"}}, None, True),
    ("size(s) > n", None, None, False),
    ("attribute_type(n, :t)", {":t": {"S": "N"}}, None, True),
    ("attribute_type(ss, :t)", {":t": {"S": "SS"}}, None, True),
    ("attribute_type(z, :t)", {":t": {"S": "NULL"}}, None, True),
    ("attribute_type(s, :t)", {":t": {"S": "N"}}, None, False),
    ("t = :t", {":t": {"BOOL": True}}, None, True),
    ("m.a = :v", {":v": {"N": "1"}}, None, True),
    ("m.b.c = :v", {":v": {"S": "nested"}}, None, True),
    ("l[0] = :v", {":v": {"S": "first"}}, None, True),
    ("l[2].deep = :v", {":v": {"S": "x"}}, None, True),
    ("attribute_not_exists(l[3])", None, None, True),
    ("#m.#dk = :v", {":v": {"S": "dk"}}, {"#m": "m", "#dk": "dotted.key"}, True),
    # a dotted alias names one top-level attribute, not a path
    ("attribute_not_exists(#whole)", None, {"#whole": "m.a"}, True),
    ("#d = :v", {":v": {"S": "dash"}}, {"#d": "with-dash"}, True),
    ("m = :v", {":v": {"M": {"a": {"N": "1"}, "b": {"M": {"c": {"S": "nested"}}}, "dotted.key": {"S": "dk"}}}}, None, True),
    ("ss = :v", {":v": {"SS": ["green", "red"]}}, None, True),
    ("l[1] = n", None, None, False),
]


@pytest.mark.parametrize("cond,values,names,expected", CONDITIONS, ids=[c[0] for c in CONDITIONS])
def test_condition_expression_evaluates_like_dynamodb(ddb, table, doc, cond, values, names, expected):
    assert holds(ddb, table, cond, values, names) is expected


def test_attribute_not_exists_makes_put_create_only(ddb, table):
    key = {"pk": {"S": "create-once"}}
    ddb.put_item(TableName=table, Item={**key, "v": {"N": "1"}}, ConditionExpression="attribute_not_exists(pk)")
    with ddb_error("ConditionalCheckFailedException", message="The conditional request failed"):
        ddb.put_item(TableName=table, Item={**key, "v": {"N": "2"}}, ConditionExpression="attribute_not_exists(pk)")
    assert get(ddb, table, key)["v"] == {"N": "1"}


def test_failed_condition_returns_old_item_when_asked_and_changes_nothing(ddb, table, doc):
    with ddb_error("ConditionalCheckFailedException") as ei:
        ddb.update_item(
            TableName=table,
            Key=KEY,
            UpdateExpression="SET n = :new",
            ConditionExpression="n = :old",
            ExpressionAttributeValues={":new": {"N": "11"}, ":old": {"N": "999"}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert ei.value.response.get("Item") == BASE
    assert get(ddb, table) == BASE
    # without ReturnValuesOnConditionCheckFailure no item comes back
    with ddb_error("ConditionalCheckFailedException") as ei:
        ddb.delete_item(
            TableName=table, Key=KEY, ConditionExpression="n = :old", ExpressionAttributeValues={":old": {"N": "1"}}
        )
    assert "Item" not in ei.value.response
    assert get(ddb, table) == BASE


def test_conditional_put_on_missing_item_returns_no_item_on_failure(ddb, table):
    with ddb_error("ConditionalCheckFailedException") as ei:
        ddb.put_item(
            TableName=table,
            Item={"pk": {"S": "absent"}},
            ConditionExpression="attribute_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert "Item" not in ei.value.response
    assert get(ddb, table, {"pk": {"S": "absent"}}) is None


def test_conditional_delete_succeeds_only_when_condition_holds(ddb, table, doc):
    with ddb_error("ConditionalCheckFailedException"):
        ddb.delete_item(TableName=table, Key=KEY, ConditionExpression="s = :v", ExpressionAttributeValues={":v": {"S": "x"}})
    assert get(ddb, table) is not None
    r = ddb.delete_item(
        TableName=table,
        Key=KEY,
        ConditionExpression="s = :v",
        ExpressionAttributeValues={":v": {"S": "banana"}},
        ReturnValues="ALL_OLD",
    )
    assert r["Attributes"] == BASE
    assert get(ddb, table) is None


def test_optimistic_locking_with_version_attribute(ddb, table):
    key = {"pk": {"S": "versioned"}}
    ddb.put_item(TableName=table, Item={**key, "ver": {"N": "1"}, "v": {"S": "a"}})
    upd = dict(
        TableName=table,
        Key=key,
        UpdateExpression="SET v = :v, ver = ver + :one",
        ConditionExpression="ver = :expected",
    )
    ddb.update_item(**upd, ExpressionAttributeValues={":v": {"S": "b"}, ":one": {"N": "1"}, ":expected": {"N": "1"}})
    with ddb_error("ConditionalCheckFailedException"):
        ddb.update_item(**upd, ExpressionAttributeValues={":v": {"S": "stale"}, ":one": {"N": "1"}, ":expected": {"N": "1"}})
    assert get(ddb, table, key) == {**key, "ver": {"N": "2"}, "v": {"S": "b"}}


# ---------------------------------------------------------------- update expressions

UPDATES = [
    # (update expression, values, names, attribute -> expected value (None = removed))
    ("SET n = :v", {":v": {"N": "5"}}, None, {"n": {"N": "5"}}),
    ("SET n = n + :v", {":v": {"N": "2.5"}}, None, {"n": {"N": "12.5"}}),
    ("SET n = n - :v", {":v": {"N": "20"}}, None, {"n": {"N": "-10"}}),
    ("SET n = :a - n", {":a": {"N": "1"}}, None, {"n": {"N": "-9"}}),
    ("SET n2 = n + neg", None, None, {"n2": {"N": "6.5"}, "n": {"N": "10"}}),
    ("SET s = :v, t = :f", {":v": {"S": "cherry"}, ":f": {"BOOL": False}}, None, {"s": {"S": "cherry"}, "t": {"BOOL": False}}),
    ("SET cp = m.b", None, None, {"cp": {"M": {"c": {"S": "nested"}}}}),
    ("SET m.a = :v", {":v": {"N": "100"}}, None, {"m": {"M": {"a": {"N": "100"}, "b": {"M": {"c": {"S": "nested"}}}, "dotted.key": {"S": "dk"}}}}),
    ("SET m.b.newkey = :v", {":v": {"S": "added"}}, None, {"m": {"M": {"a": {"N": "1"}, "b": {"M": {"c": {"S": "nested"}, "newkey": {"S": "added"}}}, "dotted.key": {"S": "dk"}}}}),
    ("SET l[1] = :v", {":v": {"S": "replaced"}}, None, {"l": {"L": [{"S": "first"}, {"S": "replaced"}, {"M": {"deep": {"S": "x"}}}]}}),
    # setting past the end appends
    ("SET l[10] = :v", {":v": {"S": "appended"}}, None, {"l": {"L": [{"S": "first"}, {"N": "2"}, {"M": {"deep": {"S": "x"}}}, {"S": "appended"}]}}),
    ("SET l = list_append(l, :v)", {":v": {"L": [{"S": "end"}]}}, None, {"l": {"L": [{"S": "first"}, {"N": "2"}, {"M": {"deep": {"S": "x"}}}, {"S": "end"}]}}),
    ("SET l = list_append(:v, l)", {":v": {"L": [{"S": "start"}]}}, None, {"l": {"L": [{"S": "start"}, {"S": "first"}, {"N": "2"}, {"M": {"deep": {"S": "x"}}}]}}),
    ("SET s = if_not_exists(s, :v)", {":v": {"S": "ignored"}}, None, {"s": {"S": "banana"}}),
    ("SET fresh = if_not_exists(fresh, :v)", {":v": {"N": "0"}}, None, {"fresh": {"N": "0"}}),
    ("SET cnt = if_not_exists(cnt, :zero) + :one", {":zero": {"N": "0"}, ":one": {"N": "1"}}, None, {"cnt": {"N": "1"}}),
    ("SET #d = :v", {":v": {"S": "renamed"}}, {"#d": "with-dash"}, {"with-dash": {"S": "renamed"}}),
    ("SET #m.#dk = :v", {":v": {"S": "via-alias"}}, {"#m": "m", "#dk": "dotted.key"}, {"m": {"M": {"a": {"N": "1"}, "b": {"M": {"c": {"S": "nested"}}}, "dotted.key": {"S": "via-alias"}}}}),
    ("SET #top = :v", {":v": {"S": "top-level"}}, {"#top": "m.a"}, {"m.a": {"S": "top-level"}, "m": BASE["m"]}),
    ("REMOVE s, t", None, None, {"s": None, "t": None}),
    ("REMOVE m.b.c", None, None, {"m": {"M": {"a": {"N": "1"}, "b": {"M": {}}, "dotted.key": {"S": "dk"}}}}),
    # removing a list element shifts the rest down
    ("REMOVE l[0]", None, None, {"l": {"L": [{"N": "2"}, {"M": {"deep": {"S": "x"}}}]}}),
    ("REMOVE l[0], l[2]", None, None, {"l": {"L": [{"N": "2"}]}}),
    ("REMOVE nothere", None, None, {"nothere": None, "s": {"S": "banana"}}),
    ("ADD n :v", {":v": {"N": "-0.5"}}, None, {"n": {"N": "9.5"}}),
    ("ADD newcount :v", {":v": {"N": "7"}}, None, {"newcount": {"N": "7"}}),
    ("ADD ss :v", {":v": {"SS": ["blue", "red"]}}, None, {"ss": {"SS": ["blue", "green", "red"]}}),
    ("ADD ns :v", {":v": {"NS": ["4", "1"]}}, None, {"ns": {"NS": ["1", "2", "3", "4"]}}),
    ("ADD newset :v", {":v": {"BS": [b"\x00"]}}, None, {"newset": {"BS": [b"\x00"]}}),
    ("DELETE ss :v", {":v": {"SS": ["red", "purple"]}}, None, {"ss": {"SS": ["green"]}}),
    # deleting every element removes the attribute
    ("DELETE ss :v", {":v": {"SS": ["red", "green"]}}, None, {"ss": None}),
    ("DELETE ns :v", {":v": {"NS": ["2"]}}, None, {"ns": {"NS": ["1", "3"]}}),
    (
        "SET s = :s REMOVE t ADD n :one DELETE ss :red",
        {":s": {"S": "all"}, ":one": {"N": "1"}, ":red": {"SS": ["red"]}},
        None,
        {"s": {"S": "all"}, "t": None, "n": {"N": "11"}, "ss": {"SS": ["green"]}},
    ),
    # clause keywords are case-insensitive and clauses can come in any order
    ("remove t set s = :s", {":s": {"S": "lower"}}, None, {"s": {"S": "lower"}, "t": None}),
]


def sorted_sets(v):
    if v is None:
        return None
    (t, x), = v.items()
    if t in ("SS", "NS", "BS"):
        return {t: sorted(x, key=lambda e: float(e) if t == "NS" else e)}
    return v


@pytest.mark.parametrize("expr,values,names,expected", UPDATES, ids=[u[0] for u in UPDATES])
def test_update_expression_applies_like_dynamodb(ddb, table, doc, expr, values, names, expected):
    kw = {"TableName": table, "Key": KEY, "UpdateExpression": expr, "ReturnValues": "ALL_NEW"}
    if values:
        kw["ExpressionAttributeValues"] = values
    if names:
        kw["ExpressionAttributeNames"] = names
    r = ddb.update_item(**kw)
    stored = get(ddb, table)
    assert r["Attributes"] == stored
    for attr, want in expected.items():
        assert sorted_sets(stored.get(attr)) == sorted_sets(want), f"{attr}: {stored.get(attr)!r} != {want!r}"
    # attributes the expression does not name are untouched
    named = set(expected) | set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", expr)) | set((names or {}).values())
    for attr, v in BASE.items():
        if attr not in named:
            assert stored.get(attr) == v, f"untouched attribute {attr} changed"


# ---------------------------------------------------------------- projection


def test_projection_of_nested_list_and_map_paths(ddb, table, doc):
    r = ddb.get_item(
        TableName=table,
        Key=KEY,
        ProjectionExpression="m.b.c, l[2].deep, l[0], #d, ss",
        ExpressionAttributeNames={"#d": "with-dash"},
    )
    assert r["Item"] == {
        "m": {"M": {"b": {"M": {"c": {"S": "nested"}}}}},
        "l": {"L": [{"S": "first"}, {"M": {"deep": {"S": "x"}}}]},
        "with-dash": {"S": "dash"},
        "ss": BASE["ss"],
    }


# ---------------------------------------------------------------- malformed expressions

BAD_UPDATES = [
    # (update expression, values, names, message regex)
    ("SET", None, None, r"Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \"SET\""),
    ("SET a = ", None, None, r"Invalid UpdateExpression: Syntax error; token: \"<EOF>\""),
    ("SET a = :v,", {":v": {"N": "1"}}, None, r"Invalid UpdateExpression: Syntax error"),
    ("FROB a", None, None, r"Invalid UpdateExpression: Syntax error; token: \"FROB\""),
    ("SET a = :missing", {":v": {"N": "1"}}, None, r"An expression attribute value used in expression is not defined; attribute value: :missing"),
    ("SET #missing = :v", {":v": {"N": "1"}}, None, r"An expression attribute name used in the document path is not defined; attribute name: #missing"),
    ("SET a = :v", {":v": {"N": "1"}, ":unused": {"N": "2"}}, None, r"Value provided in ExpressionAttributeValues unused in expressions: keys: \{:unused\}"),
    ("SET a = :v", {":v": {"N": "1"}}, {"#unused": "x"}, r"Value provided in ExpressionAttributeNames unused in expressions: keys: \{#unused\}"),
    ("SET pk = :v", {":v": {"S": "new"}}, None, r"Cannot update attribute pk\. This attribute is part of the key"),
    ("SET a = :v, a = :w", {":v": {"N": "1"}, ":w": {"N": "2"}}, None, r"Two document paths overlap with each other; must remove or rewrite one of these paths; path one: \[a\], path two: \[a\]"),
    ("SET m.a = :v REMOVE m", {":v": {"N": "1"}}, None, r"Two document paths overlap with each other"),
    ("SET a = :v SET b = :v", {":v": {"N": "1"}}, None, r"The \"SET\" section can only be used once in an update expression"),
    ("SET name = :v", {":v": {"N": "1"}}, None, r"Attribute name is a reserved keyword; reserved keyword: name"),
    # the stored attribute has the wrong type: found while applying
    ("ADD s :v", {":v": {"N": "1"}}, None, r"An operand in the update expression has an incorrect data type"),
    ("SET s = s + :v", {":v": {"N": "1"}}, None, r"An operand in the update expression has an incorrect data type"),
    ("SET x = list_append(s, :v)", {":v": {"L": []}}, None, r"An operand in the update expression has an incorrect data type"),
    # the value in the request has the wrong type: found while parsing
    ("ADD n :v", {":v": {"S": "x"}}, None, r"Incorrect operand type for operator or function; operator: ADD, operand type: STRING"),
    ("SET x = :a + :b", {":a": {"S": "x"}, ":b": {"N": "1"}}, None, r"Incorrect operand type for operator or function; operator or function: \+, operand type: S"),
    ("DELETE ss :v", {":v": {"S": "red"}}, None, r"Incorrect operand type for operator or function; operator: DELETE, operand type: STRING"),
    ("SET a = nosuchfn(:v)", {":v": {"N": "1"}}, None, r"Invalid function name; function: nosuchfn"),
    ("SET a = size(s)", None, None, r"The function is not allowed in an update expression; function: size"),
    ("SET m.nothere.deeper = :v", {":v": {"N": "1"}}, None, r"The document path provided in the update expression is invalid for update"),
]


@pytest.mark.parametrize("expr,values,names,message", BAD_UPDATES, ids=[b[0] + " " + b[3][:30] for b in BAD_UPDATES])
def test_malformed_update_expression_is_validation_error_and_changes_nothing(ddb, table, doc, expr, values, names, message):
    kw = {"TableName": table, "Key": KEY, "UpdateExpression": expr}
    if values:
        kw["ExpressionAttributeValues"] = values
    if names:
        kw["ExpressionAttributeNames"] = names
    with ddb_error("ValidationException", message=message):
        ddb.update_item(**kw)
    assert get(ddb, table) == BASE


BAD_CONDITIONS = [
    ("n = ", None, r"Invalid ConditionExpression: Syntax error; token: \"<EOF>\""),
    ("n == :v", {":v": {"N": "1"}}, r"Invalid ConditionExpression: Syntax error; token: \"=\""),
    ("n = :v AND", {":v": {"N": "1"}}, r"Invalid ConditionExpression: Syntax error; token: \"<EOF>\""),
    ("n BETWEEN :hi AND :lo", {":lo": {"N": "1"}, ":hi": {"N": "9"}}, r"Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound"),
    ("nosuchfn(n)", None, r"Invalid ConditionExpression: Invalid function name; function: nosuchfn"),
    ("size(n)", None, r"Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: size"),
    ("attribute_exists(:v)", {":v": {"N": "1"}}, r"Invalid ConditionExpression: Operator or function requires a document path; operator or function: attribute_exists"),
    ("attribute_type(n, :t)", {":t": {"S": "XYZ"}}, r"Invalid ConditionExpression: Invalid attribute type name found; type: XYZ, valid types:"),
    ("n = :missing", {":v": {"N": "1"}}, r"Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :missing"),
    ("date = :v", {":v": {"N": "1"}}, r"Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: date"),
    ("n = n", None, r"Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: \[n\]"),
    ("begins_with(n)", None, r"Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: begins_with, number of operands: 1"),
    ("n = :v", {":v": {"N": "1"}, ":extra": {"S": "x"}}, r"Value provided in ExpressionAttributeValues unused in expressions: keys: \{:extra\}"),
]


@pytest.mark.parametrize("cond,values,message", BAD_CONDITIONS, ids=[b[0] for b in BAD_CONDITIONS])
def test_malformed_condition_expression_is_validation_error_and_changes_nothing(ddb, table, doc, cond, values, message):
    kw = {"TableName": table, "Item": {**KEY, "replaced": {"BOOL": True}}, "ConditionExpression": cond}
    if values:
        kw["ExpressionAttributeValues"] = values
    with ddb_error("ValidationException", message=message):
        ddb.put_item(**kw)
    assert get(ddb, table) == BASE


def test_expression_attribute_values_without_an_expression_is_rejected(ddb, table, doc):
    with ddb_error("ValidationException", message="ExpressionAttributeValues can only be specified when using expressions"):
        ddb.delete_item(TableName=table, Key=KEY, ExpressionAttributeValues={":v": {"N": "1"}})
    assert get(ddb, table) == BASE


def test_empty_expression_attribute_values_map_is_rejected(ddb, table, doc):
    with ddb_error("ValidationException", message="ExpressionAttributeValues must not be empty"):
        ddb.update_item(TableName=table, Key=KEY, UpdateExpression="REMOVE t", ExpressionAttributeValues={})
    assert get(ddb, table) == BASE


def test_projection_with_undefined_alias_is_rejected(ddb, table, doc):
    with ddb_error("ValidationException", message=r"Invalid ProjectionExpression: An expression attribute name used in the document path is not defined; attribute name: #nope"):
        ddb.get_item(TableName=table, Key=KEY, ProjectionExpression="#nope")


def test_projection_with_overlapping_paths_is_rejected(ddb, table, doc):
    with ddb_error("ValidationException", message=r"Invalid ProjectionExpression: Two document paths overlap with each other"):
        ddb.get_item(TableName=table, Key=KEY, ProjectionExpression="m, m.a")
