"""DynamoDB's limits at their edges, each with the largest accepted value and
the first refused one (with DynamoDB's message), refusals changing nothing:
300 operators in an expression, key value sizes (2048-byte partition key,
1024-byte sort key, on tables and on index keys), 255-byte key attribute
names, a GSI key of the wrong type on write, UpdateTable of an unknown GSI, and
tag rules with the limit of 50 tags, 255-byte placeholders and 2 MB of
substitutions in all. (The 4 KB expression length, IN with 100
operands and 32 levels of nesting are in test_hostile_dynamo.py; empty and
duplicate sets in test_dynamo_errors.py.)"""

import pytest

from dynamo_helpers import ddb_client, ddb_error, make_table, unique_table

S = lambda v: {"S": v}  # noqa: E731


@pytest.fixture(scope="module")
def ddb(node):
    return ddb_client(node)


@pytest.fixture(scope="module")
def table(ddb):
    """pk S / sk S with a GSI on g (S) / gs (S)."""
    return make_table(ddb, unique_table("limits"), ("pk", "S"), ("sk", "S"), gsis=[{"name": "byG", "hash": ("g", "S"), "range": ("gs", "S")}])


def and_chain(terms: int) -> str:
    return " AND ".join(["a = :v"] * terms)


def test_filter_with_300_operators_runs_and_301_is_refused(ddb, table):
    ddb.scan(TableName=table, FilterExpression=f"NOT ({and_chain(150)})", ExpressionAttributeValues={":v": S("x")})  # 150 + 149 + 1
    with ddb_error("ValidationException", message=r"^Invalid FilterExpression: The expression contains too many operators; operator count: 301$"):
        ddb.scan(TableName=table, FilterExpression=and_chain(151), ExpressionAttributeValues={":v": S("x")})


def test_update_with_300_actions_applies_and_301_is_refused(ddb, table):
    key = {"pk": S("ops"), "sk": S("1")}
    sets = lambda n: "SET " + ", ".join(f"a{i} = :v" for i in range(n))  # noqa: E731
    ddb.update_item(TableName=table, Key=key, UpdateExpression=sets(300), ExpressionAttributeValues={":v": S("x")})
    assert len(ddb.get_item(TableName=table, Key=key)["Item"]) == 302
    with ddb_error("ValidationException", message=r"^Invalid UpdateExpression: The expression contains too many operators; operator count: 301$"):
        ddb.update_item(TableName=table, Key={"pk": S("ops"), "sk": S("2")}, UpdateExpression=sets(301), ExpressionAttributeValues={":v": S("x")})
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": S("ops"), "sk": S("2")})


def test_condition_with_too_many_operators_is_refused(ddb, table):
    with ddb_error("ValidationException", message=r"^Invalid ConditionExpression: The expression contains too many operators; operator count: 301$"):
        ddb.put_item(TableName=table, Item={"pk": S("c"), "sk": S("c")}, ConditionExpression=and_chain(151), ExpressionAttributeValues={":v": S("x")})


HASH_TOO_BIG = r"^One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes$"
RANGE_TOO_BIG = r"^One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes$"


def test_partition_key_of_2048_bytes_is_stored_and_2049_refused(ddb, table):
    key = {"pk": S("é" * 1024), "sk": S("s")}  # 2048 UTF-8 bytes in 1024 characters
    ddb.put_item(TableName=table, Item={**key, "v": S("ok")})
    assert ddb.get_item(TableName=table, Key=key)["Item"]["v"] == S("ok")
    with ddb_error("ValidationException", message=HASH_TOO_BIG):
        ddb.put_item(TableName=table, Item={"pk": S("x" * 2049), "sk": S("s")})
    with ddb_error("ValidationException", message=HASH_TOO_BIG):
        ddb.get_item(TableName=table, Key={"pk": S("x" * 2049), "sk": S("s")})


def test_sort_key_of_1024_bytes_is_stored_and_1025_refused(ddb):
    t = make_table(ddb, unique_table("limits-b"), ("pk", "S"), ("sk", "B"))
    ddb.put_item(TableName=t, Item={"pk": S("p"), "sk": {"B": b"\x01" * 1024}})
    assert ddb.get_item(TableName=t, Key={"pk": S("p"), "sk": {"B": b"\x01" * 1024}})["Item"]
    with ddb_error("ValidationException", message=RANGE_TOO_BIG):
        ddb.put_item(TableName=t, Item={"pk": S("p"), "sk": {"B": b"\x01" * 1025}})
    with ddb_error("ValidationException", message=RANGE_TOO_BIG):
        ddb.update_item(TableName=t, Key={"pk": S("p"), "sk": {"B": b"\x01" * 1025}}, UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": S("x")})


def test_index_key_sizes_are_checked_on_write(ddb, table):
    ddb.put_item(TableName=table, Item={"pk": S("gsi"), "sk": S("1"), "g": S("g" * 2048), "gs": S("s" * 1024)})
    with ddb_error("ValidationException", message=HASH_TOO_BIG):
        ddb.put_item(TableName=table, Item={"pk": S("gsi"), "sk": S("2"), "g": S("g" * 2049), "gs": S("s")})
    with ddb_error("ValidationException", message=RANGE_TOO_BIG):
        ddb.update_item(TableName=table, Key={"pk": S("gsi"), "sk": S("1")}, UpdateExpression="SET gs = :v", ExpressionAttributeValues={":v": S("s" * 1025)})
    item = ddb.get_item(TableName=table, Key={"pk": S("gsi"), "sk": S("1")})["Item"]
    assert item["gs"] == S("s" * 1024)
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": S("gsi"), "sk": S("2")})


def test_gsi_key_of_the_wrong_type_is_refused_on_write(ddb, table):
    with ddb_error("ValidationException", message=r"^One or more parameter values were invalid: Type mismatch for Index Key g Expected: S Actual: N IndexName: byG$"):
        ddb.put_item(TableName=table, Item={"pk": S("gsi"), "sk": S("3"), "g": {"N": "1"}})


def test_key_attribute_names_of_255_bytes_are_accepted_and_256_refused(ddb):
    name = "k" * 255
    t = make_table(ddb, unique_table("limits-names"), (name, "S"))
    ddb.put_item(TableName=t, Item={name: S("v")})
    assert ddb.get_item(TableName=t, Key={name: S("v")})["Item"] == {name: S("v")}
    with ddb_error("ValidationException", message=r"at 'keySchema.1.member.attributeName' failed to satisfy constraint: Member must have length less than or equal to 255$"):
        make_table(ddb, unique_table("limits-names"), ("k" * 256, "S"))
    with ddb_error("ValidationException", message=r"at 'globalSecondaryIndexes.1.member.keySchema.1.member.attributeName' failed to satisfy constraint"):
        make_table(ddb, unique_table("limits-names"), ("pk", "S"), gsis=[{"name": "byLongName", "hash": ("g" * 256, "S")}])


def test_update_table_of_an_unknown_or_duplicate_gsi_is_refused(ddb, table):
    with ddb_error("ResourceNotFoundException", message=r"Index: nope not found"):
        ddb.update_table(TableName=table, GlobalSecondaryIndexUpdates=[{"Update": {"IndexName": "nope", "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}}}])
    with ddb_error("ValidationException", message=r"Attempting to create an index which already exists: byG"):
        ddb.update_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": "g", "AttributeType": "S"}],
            GlobalSecondaryIndexUpdates=[{"Create": {"IndexName": "byG", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}], "Projection": {"ProjectionType": "ALL"}}}],
        )
    with ddb_error("ValidationException", message=r"Some index key attributes are not defined in AttributeDefinitions"):
        ddb.update_table(
            TableName=table,
            GlobalSecondaryIndexUpdates=[{"Create": {"IndexName": "byUndefined", "KeySchema": [{"AttributeName": "undefined", "KeyType": "HASH"}], "Projection": {"ProjectionType": "ALL"}}}],
        )
    names = [i["IndexName"] for i in ddb.describe_table(TableName=table)["Table"]["GlobalSecondaryIndexes"]]
    assert names == ["byG"]


def tags(n: int, prefix: str = "k") -> list[dict]:
    return [{"Key": f"{prefix}{i}", "Value": "v"} for i in range(n)]


def test_fifty_tags_fit_and_the_fifty_first_is_refused(ddb, table):
    arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
    ddb.tag_resource(ResourceArn=arn, Tags=tags(50))
    assert len(ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]) == 50
    with ddb_error("ValidationException", message=r"Too many tags"):
        ddb.tag_resource(ResourceArn=arn, Tags=tags(1, "extra"))
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "k0", "Value": "replaced"}])  # a replacement is not an addition
    assert len(ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]) == 50
    ddb.untag_resource(ResourceArn=arn, TagKeys=[t["Key"] for t in tags(50)])
    with ddb_error("ValidationException", message=r"Too many tags"):
        make_table(ddb, unique_table("limits-tags"), ("pk", "S"), Tags=tags(51))


@pytest.mark.parametrize(
    "tag,message",
    [
        ({"Key": "k" * 129, "Value": "v"}, r"at 'tags.1.member.key' failed to satisfy constraint: Member must have length less than or equal to 128$"),
        ({"Key": "k", "Value": "v" * 257}, r"at 'tags.1.member.value' failed to satisfy constraint: Member must have length less than or equal to 256$"),
        ({"Key": "bad#key", "Value": "v"}, r"at 'tags.1.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern"),
        ({"Key": "aws:owner", "Value": "v"}, r"prefix aws:"),
    ],
)
def test_tag_rules(ddb, table, tag, message):
    arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "k" * 128, "Value": "v" * 256}])
    with ddb_error("ValidationException", message=message):
        ddb.tag_resource(ResourceArn=arn, Tags=[tag])
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "k" * 128, "Value": "v" * 256}]
    ddb.untag_resource(ResourceArn=arn, TagKeys=["k" * 128])


def test_placeholders_of_255_bytes_are_accepted_and_256_refused(ddb, table):
    ddb.put_item(TableName=table, Item={"pk": S("ph"), "sk": S("1"), "a": S("x")})
    key = {"pk": S("ph"), "sk": S("1")}
    name, value = "#" + "n" * 254, ":" + "v" * 254
    ddb.update_item(TableName=table, Key=key, UpdateExpression=f"SET {name} = {value}",
                    ExpressionAttributeNames={name: "a"}, ExpressionAttributeValues={value: S("y")})
    assert ddb.get_item(TableName=table, Key=key)["Item"]["a"] == S("y")
    with ddb_error("ValidationException", message=r"ExpressionAttributeNames contains invalid key: the key is longer than 255 bytes"):
        ddb.update_item(TableName=table, Key=key, UpdateExpression=f"SET {name}n = :v",
                        ExpressionAttributeNames={name + "n": "a"}, ExpressionAttributeValues={":v": S("z")})
    with ddb_error("ValidationException", message=r"ExpressionAttributeValues contains invalid key: the key is longer than 255 bytes"):
        ddb.update_item(TableName=table, Key=key, UpdateExpression=f"SET a = {value}v",
                        ExpressionAttributeValues={value + "v": S("z")})
    assert ddb.get_item(TableName=table, Key=key)["Item"]["a"] == S("y")


def test_substitutions_of_2_mb_in_all_are_accepted_and_more_refused(ddb, table):
    def scan(values: int):
        placeholders = {f":v{i}": S(str(i) * 400_000) for i in range(values)}
        condition = " OR ".join(f"a = :v{i}" for i in range(values))
        return ddb.scan(TableName=table, FilterExpression=condition, ExpressionAttributeValues=placeholders)

    assert scan(5)["Count"] == 0  # 2,000,015 bytes
    with ddb_error("ValidationException", message=r"exceeded the maximum allowed size; size: 2400018, limit: 2097152"):
        scan(6)


def test_indexes_project_at_most_100_non_key_attributes_in_all(ddb):
    def spec(counts: list[int]) -> dict:
        return dict(
            TableName=unique_table("limits-proj"),
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "g", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            GlobalSecondaryIndexes=[
                {
                    "IndexName": f"idx{n}",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": [f"a{j}" for j in range(count)]},
                }
                for n, count in enumerate(counts)
            ],
        )

    made = spec([60, 40])
    ddb.create_table(**made)
    assert ddb.describe_table(TableName=made["TableName"])["Table"]["TableName"] == made["TableName"]
    too_many = spec([60, 41])
    with ddb_error("ValidationException", message=r"Number of projected attributes in all indexes exceeds limit of 100, provided: 101"):
        ddb.create_table(**too_many)
    assert too_many["TableName"] not in ddb.list_tables()["TableNames"]
    bad = spec([1])
    bad["GlobalSecondaryIndexes"][0]["Projection"] = {"ProjectionType": "ALL", "NonKeyAttributes": ["a"]}
    with ddb_error("ValidationException", message=r"ProjectionType is ALL, but NonKeyAttributes is specified"):
        ddb.create_table(**bad)
