"""DynamoDB Streams shards as a shard-iterating consumer (such as the Kinesis
adapter) sees them: DescribeStream paged with Limit=1 through many shards
(ids sorting in creation order, each child naming its parent, every shard but
the newest closed), nothing after the last shard, every record read exactly
once across the shards, closed shards ending without a next iterator;
GetShardIterator and GetRecords errors with DynamoDB's codes; and no record for
a write that changes nothing."""

import pytest

from dynamo_helpers import ddb_client, ddb_error, make_table, stream_arn, streams_client, unique_table

ITEMS = 2000  # shards double from 128 sequence numbers: 2000 writes close at least 4


@pytest.fixture(scope="module")
def ddb(node):
    return ddb_client(node)


@pytest.fixture(scope="module")
def streams(node):
    return streams_client(node)


@pytest.fixture(scope="module")
def busy(ddb):
    """A stream with ITEMS inserts, written 25 per BatchWriteItem."""
    t = make_table(ddb, unique_table("shards"), ("pk", "S"), stream="NEW_IMAGE")
    for start in range(0, ITEMS, 25):
        batch = [{"PutRequest": {"Item": {"pk": {"S": f"k{i:05d}"}, "i": {"N": str(i)}}}} for i in range(start, start + 25)]
        ddb.batch_write_item(RequestItems={t: batch})
    return t, stream_arn(ddb, t)


def all_shards_one_by_one(streams, arn):
    shards, start = [], None
    for _ in range(100):
        kw = {"StreamArn": arn, "Limit": 1}
        if start:
            kw["ExclusiveStartShardId"] = start
        d = streams.describe_stream(**kw)["StreamDescription"]
        assert len(d["Shards"]) <= 1
        shards += d["Shards"]
        start = d.get("LastEvaluatedShardId")
        if not start:
            return shards
        assert start == d["Shards"][-1]["ShardId"]
    raise AssertionError("DescribeStream paging did not end")


def test_describe_stream_pages_through_many_shards_with_limit_one(streams, busy):
    _, arn = busy
    shards = all_shards_one_by_one(streams, arn)
    assert len(shards) >= 5
    ids = [s["ShardId"] for s in shards]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert "ParentShardId" not in shards[0]
    for parent, child in zip(shards, shards[1:]):
        assert child["ParentShardId"] == parent["ShardId"]
        assert int(parent["SequenceNumberRange"]["EndingSequenceNumber"]) < int(child["SequenceNumberRange"]["StartingSequenceNumber"])
    assert all("EndingSequenceNumber" in s["SequenceNumberRange"] for s in shards[:-1])
    assert "EndingSequenceNumber" not in shards[-1]["SequenceNumberRange"]
    whole = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert [s["ShardId"] for s in whole["Shards"]] == ids and "LastEvaluatedShardId" not in whole


def test_nothing_comes_after_the_last_shard(streams, busy):
    _, arn = busy
    last = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][-1]["ShardId"]
    d = streams.describe_stream(StreamArn=arn, ExclusiveStartShardId=last)["StreamDescription"]
    assert d["Shards"] == [] and "LastEvaluatedShardId" not in d


def read_whole_shard(streams, arn, shard_id):
    """(records, closed): GetRecords from TRIM_HORIZON until no next iterator or an empty page."""
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    out = []
    for _ in range(200):
        r = streams.get_records(ShardIterator=it, Limit=100)
        out += r["Records"]
        if "NextShardIterator" not in r:
            return out, True
        if not r["Records"]:
            return out, False
        it = r["NextShardIterator"]
    raise AssertionError("shard never ran dry")


def test_a_consumer_reads_every_record_exactly_once_across_shards(streams, busy):
    _, arn = busy
    shards = all_shards_one_by_one(streams, arn)
    keys, seqs = [], []
    for n, shard in enumerate(shards):
        records, closed = read_whole_shard(streams, arn, shard["ShardId"])
        assert closed == (n < len(shards) - 1), f"shard {n} of {len(shards)} closed={closed}"
        rng = shard["SequenceNumberRange"]
        for r in records:
            seq = int(r["dynamodb"]["SequenceNumber"])
            assert seq >= int(rng["StartingSequenceNumber"])
            assert "EndingSequenceNumber" not in rng or seq <= int(rng["EndingSequenceNumber"])
            seqs.append(seq)
            keys.append(r["dynamodb"]["Keys"]["pk"]["S"])
    assert keys == [f"k{i:05d}" for i in range(ITEMS)]
    assert seqs == sorted(seqs)


def test_latest_on_a_closed_shard_reads_nothing_and_ends(streams, busy):
    _, arn = busy
    first = streams.describe_stream(StreamArn=arn, Limit=1)["StreamDescription"]["Shards"][0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=first, ShardIteratorType="LATEST")["ShardIterator"]
    r = streams.get_records(ShardIterator=it)
    assert r["Records"] == [] and "NextShardIterator" not in r


def test_sequence_numbers_outside_the_shard_are_refused(streams, busy):
    _, arn = busy
    shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    first_seq = shards[0]["SequenceNumberRange"]["StartingSequenceNumber"]
    with ddb_error("ValidationException", message=r"does not belong to shard"):
        streams.get_shard_iterator(StreamArn=arn, ShardId=shards[2]["ShardId"], ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber=first_seq)
    before = str(int(first_seq) - 1).zfill(21)
    with ddb_error("TrimmedDataAccessException"):
        streams.get_shard_iterator(StreamArn=arn, ShardId=shards[0]["ShardId"], ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=before)
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shards[0]["ShardId"], ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber=first_seq)["ShardIterator"]
    assert streams.get_records(ShardIterator=it, Limit=1)["Records"][0]["dynamodb"]["SequenceNumber"] >= first_seq


def test_unknown_shards_and_bad_iterators_and_limits_are_refused(streams, busy):
    _, arn = busy
    shard = streams.describe_stream(StreamArn=arn, Limit=1)["StreamDescription"]["Shards"][0]["ShardId"]
    with ddb_error("ResourceNotFoundException", message=r"Shard does not exist"):
        streams.get_shard_iterator(StreamArn=arn, ShardId=shard[:-1] + "x", ShardIteratorType="TRIM_HORIZON")
    with ddb_error("ValidationException", message=r"Invalid ShardIterator"):
        streams.get_records(ShardIterator="x" * 40)
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    with ddb_error("ValidationException", message=r"Value '1001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000"):
        streams.get_records(ShardIterator=it, Limit=1001)
    with ddb_error("ValidationException", message=r"Member must have value less than or equal to 100$"):
        streams.describe_stream(StreamArn=arn, Limit=101)


def test_a_write_that_changes_nothing_has_no_stream_record(ddb, streams):
    t = make_table(ddb, unique_table("noop"), ("pk", "S"), stream="NEW_AND_OLD_IMAGES")
    item = {"pk": {"S": "same"}, "v": {"N": "1"}}
    ddb.put_item(TableName=t, Item=item)
    ddb.put_item(TableName=t, Item=item)
    ddb.update_item(TableName=t, Key={"pk": {"S": "same"}}, UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"N": "1"}})
    ddb.update_item(TableName=t, Key={"pk": {"S": "same"}}, UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"N": "2"}})
    arn = stream_arn(ddb, t)
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    records, _ = read_whole_shard(streams, arn, shard)
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]
    assert records[1]["dynamodb"]["NewImage"]["v"] == {"N": "2"}
