"""DynamoDB table operations: CreateTable, DescribeTable, ListTables, DeleteTable,
UpdateTable (streams, replicas), tags and TTL configuration."""

import datetime as dt

from dynamo_helpers import ddb_error, make_table, unique_table


def schema(desc):
    return {k["AttributeName"]: k["KeyType"] for k in desc["KeySchema"]}


def attr_defs(desc):
    return {a["AttributeName"]: a["AttributeType"] for a in desc["AttributeDefinitions"]}


def test_create_hash_key_table_returns_active_description(ddb):
    name = unique_table("hash")
    r = ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    d = r["TableDescription"]
    assert d["TableName"] == name
    assert d["TableStatus"] in ("ACTIVE", "CREATING")
    assert schema(d) == {"id": "HASH"}
    assert attr_defs(d) == {"id": "S"}
    assert d["TableArn"].startswith("arn:aws:dynamodb:") and d["TableArn"].endswith(f":table/{name}")
    assert d["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert isinstance(d["CreationDateTime"], dt.datetime)
    age = dt.datetime.now(dt.timezone.utc) - d["CreationDateTime"]
    assert abs(age.total_seconds()) < 120, d["CreationDateTime"]
    got = ddb.describe_table(TableName=name)["Table"]
    assert got["TableStatus"] == "ACTIVE"
    assert got["TableArn"] == d["TableArn"]
    assert got["TableId"] == d["TableId"]
    assert got["ItemCount"] == 0


def test_create_hash_range_table_with_provisioned_billing_reports_throughput(ddb):
    name = unique_table("prov")
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "user", "KeyType": "HASH"}, {"AttributeName": "ts", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "user", "AttributeType": "S"},
            {"AttributeName": "ts", "AttributeType": "N"},
        ],
        ProvisionedThroughput={"ReadCapacityUnits": 7, "WriteCapacityUnits": 3},
    )
    d = ddb.describe_table(TableName=name)["Table"]
    assert schema(d) == {"user": "HASH", "ts": "RANGE"}
    assert [k["KeyType"] for k in d["KeySchema"]] == ["HASH", "RANGE"]
    assert attr_defs(d) == {"user": "S", "ts": "N"}
    assert d["ProvisionedThroughput"]["ReadCapacityUnits"] == 7
    assert d["ProvisionedThroughput"]["WriteCapacityUnits"] == 3
    assert d.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED") == "PROVISIONED"


def test_create_table_with_gsi_and_lsi_describes_both_indexes(ddb):
    name = make_table(
        ddb,
        unique_table("idx"),
        ("pk", "S"),
        ("sk", "S"),
        gsis=[{"name": "byEmail", "hash": ("email", "S"), "projection": "KEYS_ONLY"}],
        lsis=[{"name": "byDate", "hash": ("pk", "S"), "range": ("date", "S"), "projection": ("INCLUDE", ["title"])}],
    )
    d = ddb.describe_table(TableName=name)["Table"]
    assert attr_defs(d) == {"pk": "S", "sk": "S", "email": "S", "date": "S"}
    [g] = d["GlobalSecondaryIndexes"]
    assert g["IndexName"] == "byEmail"
    assert schema(g) == {"email": "HASH"}
    assert g["Projection"]["ProjectionType"] == "KEYS_ONLY"
    assert g["IndexStatus"] == "ACTIVE"
    assert g["IndexArn"] == f"{d['TableArn']}/index/byEmail"
    [l] = d["LocalSecondaryIndexes"]
    assert l["IndexName"] == "byDate"
    assert schema(l) == {"pk": "HASH", "date": "RANGE"}
    assert l["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["title"]}
    assert l["IndexArn"] == f"{d['TableArn']}/index/byDate"


def test_create_table_with_stream_reports_stream_arn_and_label(ddb):
    name = make_table(ddb, unique_table("stream"), stream="NEW_AND_OLD_IMAGES")
    d = ddb.describe_table(TableName=name)["Table"]
    assert d["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert d["LatestStreamLabel"]
    assert d["LatestStreamArn"] == f"{d['TableArn']}/stream/{d['LatestStreamLabel']}"


def test_create_table_with_tags_lists_them(ddb):
    name = unique_table("tags")
    make_table(ddb, name, Tags=[{"Key": "app", "Value": "tickets"}, {"Key": "env", "Value": "test"}])
    arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    tags = ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("app", "tickets"), ("env", "test")]


def test_tag_untag_and_list_tags_of_resource(ddb):
    name = make_table(ddb, unique_table("tagops"))
    arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    assert ddb.list_tags_of_resource(ResourceArn=arn).get("Tags", []) == []
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "a", "Value": "changed"}])
    tags = {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]}
    assert tags == {"a": "changed", "b": "2"}
    ddb.untag_resource(ResourceArn=arn, TagKeys=["a", "not-there"])
    tags = {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]}
    assert tags == {"b": "2"}


def test_tagging_unknown_table_arn_is_resource_not_found(ddb):
    name = make_table(ddb, unique_table("tagarn"))
    arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    missing = arn.rsplit("/", 1)[0] + "/" + unique_table("nope")
    with ddb_error("ResourceNotFoundException"):
        ddb.tag_resource(ResourceArn=missing, Tags=[{"Key": "a", "Value": "1"}])
    with ddb_error("ResourceNotFoundException"):
        ddb.list_tags_of_resource(ResourceArn=missing)


def test_create_existing_table_is_resource_in_use_and_keeps_the_original(ddb):
    name = make_table(ddb, unique_table("dup"))
    ddb.put_item(TableName=name, Item={"pk": {"S": "keep"}})
    with ddb_error("ResourceInUseException", message=name):
        make_table(ddb, name, ("other", "N"))
    d = ddb.describe_table(TableName=name)["Table"]
    assert schema(d) == {"pk": "HASH"}
    assert ddb.get_item(TableName=name, Key={"pk": {"S": "keep"}})["Item"] == {"pk": {"S": "keep"}}


def test_describe_missing_table_is_resource_not_found(ddb):
    with ddb_error("ResourceNotFoundException", message="not found"):
        ddb.describe_table(TableName=unique_table("missing"))


def test_delete_table_returns_description_and_removes_table_and_items(ddb):
    name = make_table(ddb, unique_table("del"))
    ddb.put_item(TableName=name, Item={"pk": {"S": "x"}})
    d = ddb.delete_table(TableName=name)["TableDescription"]
    assert d["TableName"] == name
    assert d["TableStatus"] in ("DELETING", "ACTIVE")
    with ddb_error("ResourceNotFoundException"):
        ddb.describe_table(TableName=name)
    with ddb_error("ResourceNotFoundException"):
        ddb.get_item(TableName=name, Key={"pk": {"S": "x"}})
    assert name not in ddb.list_tables(Limit=100)["TableNames"]


def test_delete_missing_table_is_resource_not_found(ddb):
    with ddb_error("ResourceNotFoundException"):
        ddb.delete_table(TableName=unique_table("gone"))


def test_recreated_table_after_delete_starts_empty_with_new_schema(ddb):
    name = make_table(ddb, unique_table("again"))
    for i in range(5):
        ddb.put_item(TableName=name, Item={"pk": {"S": f"old{i}"}})
    ddb.delete_table(TableName=name)
    make_table(ddb, name, ("id", "N"))
    d = ddb.describe_table(TableName=name)["Table"]
    assert schema(d) == {"id": "HASH"} and attr_defs(d) == {"id": "N"}
    assert ddb.scan(TableName=name)["Items"] == []
    ddb.put_item(TableName=name, Item={"id": {"N": "1"}})
    assert ddb.scan(TableName=name)["Count"] == 1


def test_list_tables_paginates_with_limit_in_name_order_without_gaps(ddb):
    prefix = unique_table("lst")
    names = [f"{prefix}-{i:02d}" for i in range(7)]
    for n in reversed(names):
        make_table(ddb, n)
    seen, start, pages = [], None, 0
    while True:
        kw = {"Limit": 3}
        if start:
            kw["ExclusiveStartTableName"] = start
        r = ddb.list_tables(**kw)
        assert len(r["TableNames"]) <= 3
        seen += r["TableNames"]
        pages += 1
        start = r.get("LastEvaluatedTableName")
        if not start:
            break
        assert start == r["TableNames"][-1]
        assert pages < 200
    assert seen == sorted(seen), "ListTables is not in name order"
    assert len(seen) == len(set(seen)), "ListTables returned a table twice"
    assert [n for n in seen if n.startswith(prefix)] == names
    # starting after the third of ours continues with the fourth
    r = ddb.list_tables(ExclusiveStartTableName=names[2], Limit=2)
    assert r["TableNames"] == names[3:5]


def test_list_tables_without_limit_lists_every_table(ddb):
    name = make_table(ddb, unique_table("every"))
    all_names = ddb.list_tables()["TableNames"]
    assert name in all_names


def test_update_table_turns_stream_on_and_off(ddb):
    name = make_table(ddb, unique_table("updstream"))
    d = ddb.describe_table(TableName=name)["Table"]
    assert "LatestStreamArn" not in d
    assert d.get("StreamSpecification", {"StreamEnabled": False})["StreamEnabled"] is False
    r = ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    assert r["TableDescription"]["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    d = ddb.describe_table(TableName=name)["Table"]
    assert d["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    arn = d["LatestStreamArn"]
    ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    d = ddb.describe_table(TableName=name)["Table"]
    assert d.get("StreamSpecification", {"StreamEnabled": False})["StreamEnabled"] is False
    # the stream that existed stays described as the latest one
    assert d.get("LatestStreamArn") == arn


def test_update_table_enabling_stream_twice_is_validation_error(ddb):
    name = make_table(ddb, unique_table("twice"), stream="NEW_IMAGE")
    with ddb_error("ValidationException", message="already"):
        ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})


def test_replica_in_a_region_outside_the_deployment_is_refused(ddb):
    """A single-region node has nowhere to put a replica; two-region global
    tables are covered by test_replication_tables.py."""
    name = make_table(ddb, unique_table("repl"), stream="NEW_AND_OLD_IMAGES")
    with ddb_error("ValidationException"):
        ddb.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": "ap-tokyo"}}])
    d = ddb.describe_table(TableName=name)["Table"]
    assert not d.get("Replicas"), d.get("Replicas")


def test_update_missing_table_is_resource_not_found(ddb):
    with ddb_error("ResourceNotFoundException"):
        ddb.update_table(TableName=unique_table("nope"), StreamSpecification={"StreamEnabled": False})


def test_update_and_describe_time_to_live(ddb):
    name = make_table(ddb, unique_table("ttl"))
    d = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert d["TimeToLiveStatus"] == "DISABLED"
    r = ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
    assert r["TimeToLiveSpecification"] == {"Enabled": True, "AttributeName": "expires"}
    d = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert d["TimeToLiveStatus"] in ("ENABLED", "ENABLING")
    assert d["AttributeName"] == "expires"
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": False, "AttributeName": "expires"})
    d = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert d["TimeToLiveStatus"] in ("DISABLED", "DISABLING")


def test_describe_time_to_live_of_missing_table_is_resource_not_found(ddb):
    with ddb_error("ResourceNotFoundException"):
        ddb.describe_time_to_live(TableName=unique_table("nottl"))


def test_return_consumed_capacity_total_on_writes_and_reads(ddb):
    name = make_table(ddb, unique_table("cap"))
    r = ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "v": {"S": "x" * 100}}, ReturnConsumedCapacity="TOTAL")
    cc = r["ConsumedCapacity"]
    assert cc["TableName"] == name and cc["CapacityUnits"] == 1.0
    # 2.5 KB item: 3 write units; strongly consistent read of it: 1 read unit, eventually: 0.5
    big = {"pk": {"S": "b"}, "v": {"S": "y" * 2500}}
    assert ddb.put_item(TableName=name, Item=big, ReturnConsumedCapacity="TOTAL")["ConsumedCapacity"]["CapacityUnits"] == 3.0
    r = ddb.get_item(TableName=name, Key={"pk": {"S": "b"}}, ConsistentRead=True, ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"]["CapacityUnits"] == 1.0
    r = ddb.get_item(TableName=name, Key={"pk": {"S": "b"}}, ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"]["CapacityUnits"] == 0.5
    r = ddb.get_item(TableName=name, Key={"pk": {"S": "b"}}, ReturnConsumedCapacity="NONE")
    assert "ConsumedCapacity" not in r
    r = ddb.scan(TableName=name, ReturnConsumedCapacity="INDEXES")
    assert r["ConsumedCapacity"]["TableName"] == name
    assert r["ConsumedCapacity"]["CapacityUnits"] > 0
    assert r["ConsumedCapacity"]["Table"]["CapacityUnits"] > 0
