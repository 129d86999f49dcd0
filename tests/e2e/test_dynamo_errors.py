"""DynamoDB error responses: the JSON error shape (__type, message, HTTP 400),
authentication errors, SerializationException for bad JSON, UnknownOperation, and
ValidationException with DynamoDB's messages for malformed items, keys, sets,
numbers, expressions and table definitions; ResourceNotFound / ResourceInUse /
ConditionalCheckFailed from every operation that can raise them."""

import json

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from dynamo_helpers import (
    DDB,
    JSON_CT,
    ddb_client,
    ddb_error,
    describe_raw,
    make_table,
    raw_error,
    raw_request,
    unique_table,
)
from e2e_helpers import KEYS, Key


@pytest.fixture(scope="module")
def table(node):
    ddb = ddb_client(node)
    t = make_table(ddb, unique_table("errs"), ("pk", "S"), ("sk", "N"))
    ddb.put_item(TableName=t, Item={"pk": {"S": "p"}, "sk": {"N": "1"}, "v": {"S": "orig"}})
    return t


KEY = {"pk": {"S": "p"}, "sk": {"N": "1"}}
ORIG = {**KEY, "v": {"S": "orig"}}


def unchanged(ddb, table):
    assert ddb.get_item(TableName=table, Key=KEY, ConsistentRead=True)["Item"] == ORIG


def raw_expect(resp, kind, message=None, status=400):
    got_status, got_kind, got_msg = raw_error(resp)
    assert (got_status, got_kind) == (status, kind), describe_raw(resp)
    ctype = resp.headers.get("content-type", "")
    assert ctype.startswith(JSON_CT), f"error content-type {ctype!r}"
    if message is not None:
        assert message.lower() in got_msg.lower(), f"message {got_msg!r} lacks {message!r}"
    return got_msg


# ---------------------------------------------------------------- wire shape & protocol errors


def test_error_body_is_json_with_qualified_type_and_message(node, table):
    resp = raw_request(node, DDB + "GetItem", {"TableName": table, "Key": {"pk": {"S": "p"}}})
    assert resp.status_code == 400, describe_raw(resp)
    doc = resp.json()
    assert doc["__type"].endswith("#ValidationException"), doc
    assert doc["__type"].startswith("com.amazon"), doc
    assert doc["message"] == "The provided key element does not match the schema"
    assert resp.headers.get("x-amzn-RequestId"), "no x-amzn-RequestId header"


def test_malformed_json_body_is_serialization_exception(node, table):
    resp = raw_request(node, DDB + "PutItem", b'{"TableName": "' + table.encode() + b'", "Item": {')
    raw_expect(resp, "SerializationException")


def test_json_that_is_not_an_object_is_serialization_exception(node):
    raw_expect(raw_request(node, DDB + "ListTables", b"[1, 2, 3]"), "SerializationException")


def test_wrong_json_type_for_a_member_is_serialization_exception(node, table):
    # "S" must be a string; DynamoDB: NUMBER_VALUE cannot be converted to String
    body = {"TableName": table, "Item": {"pk": {"S": 5}, "sk": {"N": "1"}}}
    raw_expect(raw_request(node, DDB + "PutItem", body), "SerializationException")
    body = {"TableName": table, "Limit": "ten"}
    raw_expect(raw_request(node, DDB + "Scan", body), "SerializationException")


def test_unknown_operation_is_unknown_operation_exception(node):
    raw_expect(raw_request(node, DDB + "FlyToTheMoon", {}), "UnknownOperationException")


def test_missing_authentication_is_missing_authentication_token_exception(node):
    resp = raw_request(node, DDB + "ListTables", {}, key=None)
    raw_expect(resp, "MissingAuthenticationTokenException", "Request is missing Authentication Token", status=400)


def test_unknown_access_key_is_unrecognized_client_exception(node):
    stranger = Key("AKIASTRANGER00000000", "whatever0000000000000000000000000000000", "nobody")
    resp = raw_request(node, DDB + "ListTables", {}, key=stranger)
    raw_expect(resp, "UnrecognizedClientException", "The security token included in the request is invalid")
    with ddb_error("UnrecognizedClientException"):
        ddb_client(node, key=stranger).list_tables()


def test_wrong_secret_is_invalid_signature_exception(node):
    forged = Key(KEYS["admin"].access_key_id, "not-the-secret-000000000000000000000000", "admin")
    resp = raw_request(node, DDB + "ListTables", {}, key=forged)
    raw_expect(resp, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided")
    with ddb_error("InvalidSignatureException"):
        ddb_client(node, key=forged).list_tables()


def test_body_changed_after_signing_is_invalid_signature(node, table):
    signed_body = json.dumps({"TableName": table}).encode()
    url = node.endpoint + "/"
    req = AWSRequest(method="POST", url=url, data=signed_body, headers={"Content-Type": JSON_CT, "X-Amz-Target": DDB + "DescribeTable"})
    SigV4Auth(Credentials(KEYS["admin"].access_key_id, KEYS["admin"].secret_access_key), "dynamodb", "us-east-1").add_auth(req)
    other = json.dumps({"TableName": table + "x"}).encode()
    resp = requests.post(url, data=other, headers=dict(req.headers.items()), timeout=30)
    raw_expect(resp, "InvalidSignatureException")


def test_request_signed_for_another_service_is_rejected(node):
    resp = raw_request(node, DDB + "ListTables", {}, service="s3")
    status, kind, _ = raw_error(resp)
    assert status == 400 and kind in ("InvalidSignatureException", "UnrecognizedClientException"), describe_raw(resp)


# ---------------------------------------------------------------- keys


def test_get_item_with_missing_key_attribute(ddb, table):
    with ddb_error("ValidationException", message=r"^The provided key element does not match the schema$"):
        ddb.get_item(TableName=table, Key={"pk": {"S": "p"}})


def test_get_item_with_extra_key_attribute(ddb, table):
    with ddb_error("ValidationException", message=r"^The provided key element does not match the schema$"):
        ddb.get_item(TableName=table, Key={**KEY, "v": {"S": "x"}})


def test_get_item_with_wrong_key_type(ddb, table):
    with ddb_error("ValidationException", message=r"^The provided key element does not match the schema$"):
        ddb.get_item(TableName=table, Key={"pk": {"S": "p"}, "sk": {"S": "1"}})


def test_delete_and_update_with_bad_key(ddb, table):
    with ddb_error("ValidationException", message=r"The provided key element does not match the schema"):
        ddb.delete_item(TableName=table, Key={"pk": {"N": "1"}, "sk": {"N": "1"}})
    with ddb_error("ValidationException", message=r"The provided key element does not match the schema"):
        ddb.update_item(TableName=table, Key={"sk": {"N": "1"}}, UpdateExpression="REMOVE v")
    unchanged(ddb, table)


def test_put_item_missing_a_key_attribute(ddb, table):
    with ddb_error("ValidationException", message=r"One or more parameter values were invalid: Missing the key sk in the item"):
        ddb.put_item(TableName=table, Item={"pk": {"S": "p"}, "v": {"S": "x"}})


def test_put_item_with_wrong_key_type(ddb, table):
    with ddb_error("ValidationException", message=r"One or more parameter values were invalid: Type mismatch for key sk expected: N actual: S"):
        ddb.put_item(TableName=table, Item={"pk": {"S": "p"}, "sk": {"S": "1"}})
    unchanged(ddb, table)


def test_key_attribute_of_a_non_scalar_type(ddb, table):
    with ddb_error("ValidationException", message=r"Type mismatch for key pk expected: S actual: (SS|L|M)"):
        ddb.put_item(TableName=table, Item={"pk": {"SS": ["p"]}, "sk": {"N": "1"}})


# ---------------------------------------------------------------- attribute values


NOT_A_NUMBER = r"A value provided cannot be converted into a number|The parameter cannot be converted to a numeric value"


@pytest.mark.parametrize(
    "value,message",
    [
        ({"SS": []}, r"One or more parameter values were invalid: An string set\s+may not be empty"),
        ({"NS": []}, r"One or more parameter values were invalid: An number set\s+may not be empty"),
        ({"BS": []}, r"One or more parameter values were invalid: Binary sets should not be empty|An binary set\s+may not be empty"),
        ({"SS": ["a", "a"]}, r"One or more parameter values were invalid: Input collection \[a, a\] contains duplicates"),
        ({"NS": ["1", "01"]}, r"contains duplicates"),
        ({"BS": [b"x", b"x"]}, r"contains duplicates"),
        ({"N": "abc"}, NOT_A_NUMBER),
        ({"N": ""}, NOT_A_NUMBER),
        ({"NS": ["1", "x"]}, NOT_A_NUMBER),
        ({"N": "1" * 39}, r"Attempting to store more than 38 significant digits in a Number"),
        ({"N": "1E+126"}, r"Number overflow\. Attempting to store a number with magnitude larger than supported range"),
        ({"N": "1E-131"}, r"Number underflow\. Attempting to store a number with magnitude smaller than supported range"),
        ({"NULL": False}, r"One or more parameter values were invalid: Null attribute value types must have the value of true"),
    ],
    ids=["empty-SS", "empty-NS", "empty-BS", "dup-SS", "dup-NS", "dup-BS", "N-abc", "N-empty", "NS-bad", "N-39-digits", "N-overflow", "N-underflow", "NULL-false"],
)
def test_invalid_attribute_values_are_rejected_with_dynamodb_messages(ddb, table, value, message):
    with ddb_error("ValidationException", message=message):
        ddb.put_item(TableName=table, Item={**KEY, "v": value})
    unchanged(ddb, table)


def test_attribute_value_with_two_types_is_rejected(node, table):
    body = {"TableName": table, "Item": {**KEY, "v": {"S": "a", "N": "1"}}}
    raw_expect(
        raw_request(node, DDB + "PutItem", body),
        "ValidationException",
        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
    )


def test_empty_attribute_value_is_rejected(node, table):
    body = {"TableName": table, "Item": {**KEY, "v": {}}}
    raw_expect(
        raw_request(node, DDB + "PutItem", body),
        "ValidationException",
        "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
    )


def test_nested_empty_set_inside_a_map_is_rejected(ddb, table):
    with ddb_error("ValidationException", message=r"may not be empty"):
        ddb.put_item(TableName=table, Item={**KEY, "m": {"M": {"inner": {"L": [{"SS": []}]}}}})
    unchanged(ddb, table)


def test_empty_set_in_expression_attribute_values_is_rejected(ddb, table):
    with ddb_error("ValidationException", message=r"ExpressionAttributeValues contains invalid value: One or more parameter values were invalid: An string set\s+may not be empty for key :e"):
        ddb.update_item(TableName=table, Key=KEY, UpdateExpression="ADD s :e", ExpressionAttributeValues={":e": {"SS": []}})
    unchanged(ddb, table)


def test_return_values_not_allowed_for_put_item(ddb, table):
    with ddb_error("ValidationException", message=r"ReturnValues can only be (ALL_OLD or NONE|NONE or ALL_OLD)"):
        ddb.put_item(TableName=table, Item={**KEY, "v": {"S": "x"}}, ReturnValues="UPDATED_NEW")
    unchanged(ddb, table)


def test_legacy_and_expression_parameters_cannot_be_mixed(ddb, table):
    with ddb_error("ValidationException", message=r"Can not use both expression and non-expression parameters in the same request"):
        ddb.get_item(TableName=table, Key=KEY, AttributesToGet=["v"], ProjectionExpression="v")


def test_unused_expression_attribute_names_on_query(ddb, table):
    with ddb_error("ValidationException", message=r"Value provided in ExpressionAttributeNames unused in expressions: keys: \{#x\}"):
        ddb.query(
            TableName=table,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "p"}},
            ExpressionAttributeNames={"#x": "v"},
        )


def test_unused_expression_attribute_values_on_scan(ddb, table):
    with ddb_error("ValidationException", message=r"Value provided in ExpressionAttributeValues unused in expressions: keys: \{:b\}"):
        ddb.scan(TableName=table, FilterExpression="v = :a", ExpressionAttributeValues={":a": {"S": "x"}, ":b": {"S": "y"}})


def test_malformed_filter_expression(ddb, table):
    with ddb_error("ValidationException", message=r"Invalid FilterExpression: Syntax error; token:"):
        ddb.scan(TableName=table, FilterExpression="v = = :a", ExpressionAttributeValues={":a": {"S": "x"}})


def test_filter_on_key_attribute_in_query_is_rejected(ddb, table):
    with ddb_error("ValidationException", message=r"Filter Expression can only contain non-primary key attributes: Primary key attribute: sk"):
        ddb.query(
            TableName=table,
            KeyConditionExpression="pk = :p",
            FilterExpression="sk = :s",
            ExpressionAttributeValues={":p": {"S": "p"}, ":s": {"N": "1"}},
        )


def test_malformed_projection_expression(ddb, table):
    with ddb_error("ValidationException", message=r"Invalid ProjectionExpression: Syntax error; token:"):
        ddb.get_item(TableName=table, Key=KEY, ProjectionExpression="v,,")


def test_item_over_400kb_message(ddb, table):
    with ddb_error("ValidationException", message=r"^Item size has exceeded the maximum allowed size$"):
        ddb.put_item(TableName=table, Item={**KEY, "v": {"S": "x" * (400 * 1024)}})
    unchanged(ddb, table)


# ---------------------------------------------------------------- table definitions


def test_create_table_with_key_not_in_attribute_definitions(ddb):
    with ddb_error("ValidationException", message=r"One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions"):
        ddb.create_table(
            TableName=unique_table("baddef"),
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "other", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )


def test_create_table_with_unused_attribute_definition(ddb):
    with ddb_error("ValidationException", message=r"Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions"):
        ddb.create_table(
            TableName=unique_table("extradef"),
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}, {"AttributeName": "x", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )


def test_create_table_with_two_hash_keys(ddb):
    with ddb_error("ValidationException", message=r"KeySchema|HASH"):
        ddb.create_table(
            TableName=unique_table("twohash"),
            KeySchema=[{"AttributeName": "a", "KeyType": "HASH"}, {"AttributeName": "b", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "a", "AttributeType": "S"}, {"AttributeName": "b", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )


def test_create_table_with_invalid_name(ddb):
    with ddb_error("ValidationException", message=r"tableName.*regular expression pattern"):
        ddb.create_table(
            TableName="bad name!",
            KeySchema=[{"AttributeName": "a", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "a", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )


def test_create_table_with_key_of_type_bool_is_rejected(ddb):
    with ddb_error("ValidationException"):
        ddb.create_table(
            TableName=unique_table("boolkey"),
            KeySchema=[{"AttributeName": "a", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "a", "AttributeType": "BOOL"}],
            BillingMode="PAY_PER_REQUEST",
        )


def test_provisioned_table_without_throughput_is_rejected(ddb):
    with ddb_error("ValidationException", message=r"ProvisionedThroughput|ReadCapacityUnits and WriteCapacityUnits must both be specified"):
        ddb.create_table(
            TableName=unique_table("nothroughput"),
            KeySchema=[{"AttributeName": "a", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "a", "AttributeType": "S"}],
            BillingMode="PROVISIONED",
        )


def test_lsi_on_a_table_without_sort_key_is_rejected(ddb):
    with ddb_error("ValidationException", message=r"range key"):
        ddb.create_table(
            TableName=unique_table("lsinorange"),
            KeySchema=[{"AttributeName": "a", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "a", "AttributeType": "S"}, {"AttributeName": "b", "AttributeType": "S"}],
            LocalSecondaryIndexes=[
                {
                    "IndexName": "lsi",
                    "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}, {"AttributeName": "b", "KeyType": "RANGE"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )


def test_duplicate_index_names_are_rejected(ddb):
    with ddb_error("ValidationException", message=r"Duplicate index name|duplicate"):
        make_table(
            ddb,
            unique_table("dupidx"),
            gsis=[{"name": "same", "hash": ("x", "S")}, {"name": "same", "hash": ("y", "S")}],
        )


# ---------------------------------------------------------------- missing / in-use resources


@pytest.mark.parametrize(
    "op,args",
    [
        ("describe_table", {}),
        ("delete_table", {}),
        ("put_item", {"Item": {"pk": {"S": "x"}}}),
        ("get_item", {"Key": {"pk": {"S": "x"}}}),
        ("update_item", {"Key": {"pk": {"S": "x"}}, "UpdateExpression": "REMOVE a"}),
        ("delete_item", {"Key": {"pk": {"S": "x"}}}),
        ("query", {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "x"}}}),
        ("scan", {}),
        ("update_time_to_live", {"TimeToLiveSpecification": {"Enabled": True, "AttributeName": "exp"}}),
    ],
)
def test_operations_on_a_missing_table_are_resource_not_found(ddb, op, args):
    with ddb_error("ResourceNotFoundException", message=r"Requested resource not found|not found|non-existent table"):
        getattr(ddb, op)(TableName=unique_table("missing"), **args)


def test_create_table_twice_is_resource_in_use(ddb, table):
    with ddb_error("ResourceInUseException", message=rf"Table already exists: {table}"):
        make_table(ddb, table, ("pk", "S"), ("sk", "N"))


def test_conditional_check_failed_on_each_write_with_all_old(ddb, table):
    cond = dict(ConditionExpression="v = :x", ExpressionAttributeValues={":x": {"S": "nope"}}, ReturnValuesOnConditionCheckFailure="ALL_OLD")
    with ddb_error("ConditionalCheckFailedException", message=r"^The conditional request failed$") as ei:
        ddb.put_item(TableName=table, Item={**KEY, "v": {"S": "new"}}, **cond)
    assert ei.value.response["Item"] == ORIG
    with ddb_error("ConditionalCheckFailedException") as ei:
        ddb.update_item(TableName=table, Key=KEY, UpdateExpression="REMOVE v", **cond)
    assert ei.value.response["Item"] == ORIG
    with ddb_error("ConditionalCheckFailedException") as ei:
        ddb.delete_item(TableName=table, Key=KEY, **cond)
    assert ei.value.response["Item"] == ORIG
    unchanged(ddb, table)


def test_transaction_canceled_error_lists_reasons(ddb, table):
    with ddb_error("TransactionCanceledException", message=r"Transaction cancelled, please refer cancellation reasons for specific reasons \[ConditionalCheckFailed, None\]") as ei:
        ddb.transact_write_items(
            TransactItems=[
                {"ConditionCheck": {"TableName": table, "Key": KEY, "ConditionExpression": "attribute_not_exists(v)"}},
                {"Put": {"TableName": table, "Item": {"pk": {"S": "tx"}, "sk": {"N": "2"}}}},
            ]
        )
    codes = [r["Code"] for r in ei.value.response["CancellationReasons"]]
    assert codes == ["ConditionalCheckFailed", "None"]
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "tx"}, "sk": {"N": "2"}})
