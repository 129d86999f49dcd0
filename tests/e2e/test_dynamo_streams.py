"""DynamoDB Streams: ListStreams, DescribeStream, GetShardIterator (TRIM_HORIZON,
LATEST, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER), GetRecords with each
StreamViewType (INSERT / MODIFY / REMOVE in commit order with the right images),
records from batch and transactional writes, no records for writes that change
nothing, stream on/off, TTL deletions, and stream errors."""

import datetime as dt
import time

import pytest

from dynamo_helpers import (
    ddb_error,
    drain,
    make_table,
    read_shard,
    read_stream,
    seq,
    stream_arn,
    unique_table,
    wait_until,
)

VIEW_TYPES = ["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"]


def k(pk):
    return {"pk": {"S": pk}}


def check_common(records):
    seqs = [seq(r) for r in records]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), f"sequence numbers not increasing: {seqs}"
    for r in records:
        assert r["eventSource"] == "aws:dynamodb"
        assert r["eventID"]
        assert r["awsRegion"]
        assert r["eventName"] in ("INSERT", "MODIFY", "REMOVE")
        assert r["dynamodb"]["SizeBytes"] > 0
        assert isinstance(r["dynamodb"]["ApproximateCreationDateTime"], dt.datetime)
    assert len({r["eventID"] for r in records}) == len(records), "eventIDs are not unique"


@pytest.mark.parametrize("view", VIEW_TYPES)
def test_records_for_insert_modify_remove_carry_the_images_of_the_view_type(ddb, ddb_streams, view):
    t = make_table(ddb, unique_table(f"st-{view.lower()}"), stream=view)
    v1 = {**k("item"), "v": {"N": "1"}, "s": {"SS": ["a"]}}
    ddb.put_item(TableName=t, Item=v1)  # INSERT
    ddb.update_item(
        TableName=t, Key=k("item"), UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"N": "2"}}
    )  # MODIFY
    v2 = {**v1, "v": {"N": "2"}}
    v3 = {**k("item"), "w": {"B": b"\x00\x01"}}
    ddb.put_item(TableName=t, Item=v3)  # MODIFY (replace)
    ddb.delete_item(TableName=t, Key=k("item"))  # REMOVE
    arn = stream_arn(ddb, t)
    records = read_stream(ddb_streams, arn)
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "MODIFY", "REMOVE"]
    check_common(records)
    olds = [None, v1, v2, v3]
    news = [v1, v2, v3, None]
    for r, old, new in zip(records, olds, news):
        d = r["dynamodb"]
        assert d["Keys"] == k("item")
        assert d["StreamViewType"] == view
        if view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") and new is not None:
            assert d["NewImage"] == new
        else:
            assert "NewImage" not in d
        if view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") and old is not None:
            assert d["OldImage"] == old
        else:
            assert "OldImage" not in d


def test_list_and_describe_stream(ddb, ddb_streams):
    t = make_table(ddb, unique_table("st-desc"), ("pk", "S"), ("sk", "N"), stream="NEW_AND_OLD_IMAGES")
    plain = make_table(ddb, unique_table("st-none"))
    arn = stream_arn(ddb, t)
    label = ddb.describe_table(TableName=t)["Table"]["LatestStreamLabel"]
    listed = ddb_streams.list_streams(TableName=t)["Streams"]
    assert listed == [{"StreamArn": arn, "TableName": t, "StreamLabel": label}]
    assert ddb_streams.list_streams(TableName=plain)["Streams"] == []
    all_arns = [s["StreamArn"] for s in ddb_streams.list_streams()["Streams"]]
    assert arn in all_arns
    d = ddb_streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert d["StreamArn"] == arn
    assert d["StreamLabel"] == label
    assert d["StreamStatus"] == "ENABLED"
    assert d["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert d["TableName"] == t
    assert [(x["AttributeName"], x["KeyType"]) for x in d["KeySchema"]] == [("pk", "HASH"), ("sk", "RANGE")]
    assert isinstance(d["CreationRequestDateTime"], dt.datetime)
    assert d["Shards"], "no shards"
    sh = d["Shards"][0]
    assert sh["ShardId"]
    assert "StartingSequenceNumber" in sh["SequenceNumberRange"]


def test_list_streams_paginates_with_limit(ddb, ddb_streams):
    prefix = unique_table("st-many")
    arns = set()
    for i in range(3):
        t = make_table(ddb, f"{prefix}-{i}", stream="KEYS_ONLY")
        arns.add(stream_arn(ddb, t))
    seen, start = [], None
    for _ in range(100):
        kw = {"Limit": 1}
        if start:
            kw["ExclusiveStartStreamArn"] = start
        r = ddb_streams.list_streams(**kw)
        assert len(r["Streams"]) <= 1
        seen += [s["StreamArn"] for s in r["Streams"]]
        start = r.get("LastEvaluatedStreamArn")
        if not start:
            break
    assert len(seen) == len(set(seen))
    assert arns <= set(seen)


def test_records_come_in_commit_order_across_items(ddb, ddb_streams):
    t = make_table(ddb, unique_table("st-order"), stream="NEW_IMAGE")
    expected = []
    for i in range(40):
        key = f"k{(i * 7) % 13}"
        ddb.update_item(
            TableName=t, Key=k(key), UpdateExpression="SET n = :n", ExpressionAttributeValues={":n": {"N": str(i)}}
        )
        expected.append((key, str(i)))
    records = read_stream(ddb_streams, stream_arn(ddb, t))
    check_common(records)
    got = [(r["dynamodb"]["Keys"]["pk"]["S"], r["dynamodb"]["NewImage"]["n"]["N"]) for r in records]
    assert got == expected
    first_time = {}
    for r in records:
        first_time.setdefault(r["dynamodb"]["Keys"]["pk"]["S"], r["eventName"])
    assert set(first_time.values()) == {"INSERT"}
    assert sum(r["eventName"] == "INSERT" for r in records) == 13


def test_get_records_limit_pages_through_the_shard(ddb, ddb_streams):
    t = make_table(ddb, unique_table("st-limit"), stream="KEYS_ONLY")
    for i in range(11):
        ddb.put_item(TableName=t, Item=k(f"l{i:02d}"))
    arn = stream_arn(ddb, t)
    shard = ddb_streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = ddb_streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    pages = []
    for _ in range(20):
        r = ddb_streams.get_records(ShardIterator=it, Limit=3)
        if not r["Records"]:
            break
        pages.append([x["dynamodb"]["Keys"]["pk"]["S"] for x in r["Records"]])
        it = r["NextShardIterator"]
    assert all(len(p) <= 3 for p in pages)
    assert [x for p in pages for x in p] == [f"l{i:02d}" for i in range(11)]


def test_shard_iterator_positions(ddb, ddb_streams):
    t = make_table(ddb, unique_table("st-iter"), stream="KEYS_ONLY")
    for i in range(5):
        ddb.put_item(TableName=t, Item=k(f"a{i}"))
    arn = stream_arn(ddb, t)
    shard = ddb_streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    first = read_shard(ddb_streams, arn, shard)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in first] == [f"a{i}" for i in range(5)]
    third = first[2]["dynamodb"]["SequenceNumber"]

    at = read_shard(ddb_streams, arn, shard, "AT_SEQUENCE_NUMBER", SequenceNumber=third)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in at] == ["a2", "a3", "a4"]
    after = read_shard(ddb_streams, arn, shard, "AFTER_SEQUENCE_NUMBER", SequenceNumber=third)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in after] == ["a3", "a4"]

    # LATEST starts after the last record: only later writes show up
    latest = ddb_streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]
    r = ddb_streams.get_records(ShardIterator=latest)
    assert r["Records"] == []
    it = r["NextShardIterator"]
    ddb.put_item(TableName=t, Item=k("b0"))
    ddb.delete_item(TableName=t, Key=k("a0"))
    later = drain(ddb_streams, it)
    assert [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in later] == [("INSERT", "b0"), ("REMOVE", "a0")]
    # an iterator at the end keeps working: it returns the next records once written
    assert seq(later[0]) > seq(first[-1])


def test_no_records_for_writes_that_change_nothing(ddb, ddb_streams):
    t = make_table(ddb, unique_table("st-noop"), stream="NEW_AND_OLD_IMAGES")
    ddb.put_item(TableName=t, Item={**k("x"), "v": {"N": "1"}})
    # a failed condition, deleting a missing item, and a missing-key delete write nothing
    with ddb_error("ConditionalCheckFailedException"):
        ddb.put_item(TableName=t, Item={**k("x"), "v": {"N": "2"}}, ConditionExpression="attribute_not_exists(pk)")
    ddb.delete_item(TableName=t, Key=k("never"))
    with ddb_error("TransactionCanceledException"):
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": t, "Item": k("tx-never")}},
                {"ConditionCheck": {"TableName": t, "Key": k("x"), "ConditionExpression": "attribute_not_exists(pk)"}},
            ]
        )
    ddb.put_item(TableName=t, Item={**k("y"), "v": {"N": "1"}})
    records = read_stream(ddb_streams, stream_arn(ddb, t))
    assert [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in records] == [("INSERT", "x"), ("INSERT", "y")]


def test_no_record_for_put_or_update_that_leaves_the_item_identical(ddb, ddb_streams):
    t = make_table(ddb, unique_table("st-same"), stream="NEW_AND_OLD_IMAGES")
    item = {**k("same"), "v": {"N": "1"}, "ss": {"SS": ["a", "b"]}}
    ddb.put_item(TableName=t, Item=item)
    ddb.put_item(TableName=t, Item={**k("same"), "v": {"N": "1.0"}, "ss": {"SS": ["b", "a"]}})
    ddb.update_item(TableName=t, Key=k("same"), UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"N": "1"}})
    ddb.update_item(TableName=t, Key=k("same"), UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"N": "2"}})
    records = read_stream(ddb_streams, stream_arn(ddb, t))
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]
    assert records[1]["dynamodb"]["NewImage"]["v"] == {"N": "2"}


def test_batch_and_transaction_writes_produce_one_record_per_item(ddb, ddb_streams):
    t = make_table(ddb, unique_table("st-batch"), stream="NEW_AND_OLD_IMAGES")
    ddb.put_item(TableName=t, Item={**k("t1"), "v": {"N": "1"}})
    ddb.batch_write_item(
        RequestItems={t: [{"PutRequest": {"Item": k(f"b{i}")}} for i in range(3)] + [{"DeleteRequest": {"Key": k("t1")}}]}
    )
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": t, "Item": {**k("t2"), "v": {"N": "2"}}}},
            {"Update": {"TableName": t, "Key": k("b0"), "UpdateExpression": "SET v = :v", "ExpressionAttributeValues": {":v": {"N": "9"}}}},
            {"Delete": {"TableName": t, "Key": k("b1")}},
            {"ConditionCheck": {"TableName": t, "Key": k("b2"), "ConditionExpression": "attribute_exists(pk)"}},
        ]
    )
    records = read_stream(ddb_streams, stream_arn(ddb, t))
    check_common(records)
    events = [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in records]
    assert events[0] == ("INSERT", "t1")
    assert sorted(events[1:5]) == sorted([("INSERT", "b0"), ("INSERT", "b1"), ("INSERT", "b2"), ("REMOVE", "t1")])
    # the condition check writes nothing
    assert sorted(events[5:]) == sorted([("INSERT", "t2"), ("MODIFY", "b0"), ("REMOVE", "b1")])
    removed = [r for r in records if r["eventName"] == "REMOVE" and r["dynamodb"]["Keys"] == k("t1")][0]
    assert removed["dynamodb"]["OldImage"] == {**k("t1"), "v": {"N": "1"}}


def test_disabling_the_stream_stops_records_and_reenabling_starts_a_new_stream(ddb, ddb_streams):
    t = make_table(ddb, unique_table("st-toggle"), stream="KEYS_ONLY")
    ddb.put_item(TableName=t, Item=k("before"))
    old_arn = stream_arn(ddb, t)
    ddb.update_table(TableName=t, StreamSpecification={"StreamEnabled": False})
    ddb.put_item(TableName=t, Item=k("while-off"))
    d = ddb_streams.describe_stream(StreamArn=old_arn)["StreamDescription"]
    assert d["StreamStatus"] in ("DISABLED", "DISABLING")
    time.sleep(1.1)  # stream labels are millisecond timestamps; make the next one differ clearly
    ddb.update_table(TableName=t, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    new_arn = stream_arn(ddb, t)
    assert new_arn != old_arn
    ddb.put_item(TableName=t, Item=k("after"))
    old_records = read_stream(ddb_streams, old_arn)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in old_records] == ["before"]
    new_records = read_stream(ddb_streams, new_arn)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in new_records] == ["after"]
    assert new_records[0]["dynamodb"]["NewImage"] == k("after")


def test_ttl_deletion_appears_as_a_service_remove_record(ddb, ddb_streams):
    t = make_table(ddb, unique_table("st-ttl"), stream="NEW_AND_OLD_IMAGES")
    ddb.update_time_to_live(TableName=t, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    item = {**k("short-lived"), "exp": {"N": str(int(time.time()) - 30)}}
    ddb.put_item(TableName=t, Item=item)
    arn = stream_arn(ddb, t)

    def removed():
        return [r for r in read_stream(ddb_streams, arn) if r["eventName"] == "REMOVE"]

    [rec] = wait_until(removed, timeout=20, interval=0.5, what="the TTL REMOVE record")
    assert rec["dynamodb"]["Keys"] == k("short-lived")
    assert rec["dynamodb"]["OldImage"] == item
    assert rec.get("userIdentity") == {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}
    # a user delete has no userIdentity
    ddb.put_item(TableName=t, Item=k("user-deleted"))
    ddb.delete_item(TableName=t, Key=k("user-deleted"))
    user_remove = [r for r in read_stream(ddb_streams, arn) if r["eventName"] == "REMOVE" and r["dynamodb"]["Keys"] == k("user-deleted")]
    assert len(user_remove) == 1 and "userIdentity" not in user_remove[0]


def test_deleting_the_table_leaves_no_enabled_stream(ddb, ddb_streams):
    t = make_table(ddb, unique_table("st-drop"), stream="KEYS_ONLY")
    arn = stream_arn(ddb, t)
    ddb.delete_table(TableName=t)
    try:
        d = ddb_streams.describe_stream(StreamArn=arn)["StreamDescription"]
    except ddb_streams.exceptions.ResourceNotFoundException:
        return
    assert d["StreamStatus"] in ("DISABLED", "DISABLING")


@pytest.fixture
def err_stream(ddb, ddb_streams):
    t = make_table(ddb, unique_table("st-err"), stream="KEYS_ONLY")
    arn = stream_arn(ddb, t)
    shard = ddb_streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    return arn, shard


def test_describe_unknown_stream_is_resource_not_found(ddb_streams, err_stream):
    arn, _ = err_stream
    missing = arn.rsplit("/stream/", 1)[0] + "/stream/2000-01-01T00:00:00.000"
    with ddb_error("ResourceNotFoundException"):
        ddb_streams.describe_stream(StreamArn=missing)


def test_shard_iterator_for_unknown_shard_is_resource_not_found(ddb_streams, err_stream):
    arn, _ = err_stream
    with ddb_error("ResourceNotFoundException"):
        ddb_streams.get_shard_iterator(StreamArn=arn, ShardId="shardId-00000000000000000000-nope", ShardIteratorType="TRIM_HORIZON")


def test_at_sequence_number_iterator_without_sequence_number_is_validation_error(ddb_streams, err_stream):
    arn, shard = err_stream
    with ddb_error("ValidationException", message=r"SequenceNumber|sequence number"):
        ddb_streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER")


def test_get_records_with_a_forged_iterator_is_rejected(ddb_streams, err_stream):
    with ddb_error(("ValidationException", "ExpiredIteratorException")):
        ddb_streams.get_records(ShardIterator="not-a-real-iterator-" + "x" * 40)


def test_list_streams_of_unknown_table_is_resource_not_found(ddb_streams):
    with ddb_error("ResourceNotFoundException"):
        ddb_streams.list_streams(TableName=unique_table("nostream"))
