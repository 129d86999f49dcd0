"""The ticket-service flow of seed 003 against one region.

The workshop's API layer is a `SXRTickets` table (partition key `id`, string),
a POST function that puts a ticket, a GET function that scans the table and
returns `{"Items": [...], "Count": n, "ScannedCount": n}`, and a health check
that reads the table and names its region. Module 3 turns on the table's stream
(`update-table --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES`)
and a function consumes it to copy every change to the table of the second
region. Here the "second region" is a second table on the same node and the
replicator is a stream reader that checkpoints its sequence number, so the test
proves what the flow needs from the DynamoDB and Streams APIs.
"""

import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest
import requests
from boto3.dynamodb.conditions import Attr, Key
from boto3.dynamodb.types import TypeDeserializer

from dynamo_helpers import ddb_client, ddb_resource, streams_client, unique_table


class TicketApi:
    """What the workshop's Lambda functions do, with boto3's resource API."""

    def __init__(self, node, table_name):
        self.table = ddb_resource(node).Table(table_name)
        self.client = ddb_client(node)
        self.name = table_name

    def post(self, body: dict) -> dict:
        ticket = {**body, "id": str(uuid.uuid4()), "created": dt.datetime.now(dt.timezone.utc).isoformat()}
        self.table.put_item(Item=ticket, ConditionExpression=Attr("id").not_exists())
        return ticket

    def get(self) -> dict:
        items, kw = [], {}
        scanned = 0
        while True:
            r = self.table.scan(**kw)
            items += r["Items"]
            scanned += r["ScannedCount"]
            if "LastEvaluatedKey" not in r:
                break
            kw["ExclusiveStartKey"] = r["LastEvaluatedKey"]
        return {"Items": items, "Count": len(items), "ScannedCount": scanned}

    def health(self, region: str) -> dict:
        self.client.scan(TableName=self.name, Limit=1)
        return {"region": region, "message": "Successful response reading from DynamoDB table."}


class StreamReplicator:
    """The module-3 function: apply each stream record of the primary to the replica table,
    remembering the last sequence number like a Lambda event-source checkpoint."""

    def __init__(self, node, source_table, target_table):
        self.ddb = ddb_client(node)
        self.streams = streams_client(node)
        self.source = source_table
        self.target = target_table
        self.checkpoint: dict[str, str] = {}  # shard id -> last applied sequence number
        self.applied = 0

    def poll(self) -> int:
        arn = self.ddb.describe_table(TableName=self.source)["Table"]["LatestStreamArn"]
        shards = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        n = 0
        for sh in shards:
            sid = sh["ShardId"]
            if sid in self.checkpoint:
                it = self.streams.get_shard_iterator(
                    StreamArn=arn, ShardId=sid, ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=self.checkpoint[sid]
                )["ShardIterator"]
            else:
                it = self.streams.get_shard_iterator(StreamArn=arn, ShardId=sid, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            while it:
                r = self.streams.get_records(ShardIterator=it, Limit=5)
                for rec in r["Records"]:
                    self.apply(rec)
                    self.checkpoint[sid] = rec["dynamodb"]["SequenceNumber"]
                    n += 1
                if not r["Records"]:
                    break
                it = r.get("NextShardIterator")
        self.applied += n
        return n

    def apply(self, rec):
        d = rec["dynamodb"]
        if rec["eventName"] in ("INSERT", "MODIFY"):
            self.ddb.put_item(TableName=self.target, Item=d["NewImage"])
        else:
            self.ddb.delete_item(TableName=self.target, Key=d["Keys"])


def plain(items):
    """Resource-API items to comparable dicts keyed by id."""
    return {i["id"]: i for i in items}


@pytest.fixture(scope="module")
def tickets(node):
    ddb = ddb_client(node)
    name = unique_table("SXRTickets")
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def test_empty_ticket_table_lists_no_tickets_and_health_reads_it(node, tickets):
    api = TicketApi(node, tickets)
    assert api.get() == {"Items": [], "Count": 0, "ScannedCount": 0}
    h = requests.get(node.endpoint + "/health", timeout=5).json()
    assert api.health(h["region"]) == {"region": "us-east", "message": "Successful response reading from DynamoDB table."}


def test_ticket_service_posts_lists_and_replicates_through_the_stream(node, tickets):
    ddb = ddb_client(node)
    api = TicketApi(node, tickets)
    # module 3: enable the stream with the workshop's CLI command
    rc, out, err = node.aws(
        "dynamodb", "update-table", "--table-name", tickets,
        "--stream-specification", "StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES",
    )
    assert rc == 0, err
    assert json.loads(out)["TableDescription"]["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"

    # the second region's stack: an independent, empty table
    replica = unique_table("SXRTickets-replica")
    ddb.create_table(
        TableName=replica,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert TicketApi(node, replica).get()["Count"] == 0, "the second stack must start with no tickets"

    posted = [
        api.post({"title": f"Ride {i}", "description": "unicorn late" if i % 2 else "great ride", "rating": Decimal(i % 5 + 1), "tags": {"ride", f"r{i}"}})
        for i in range(12)
    ]
    listing = api.get()
    assert listing["Count"] == 12 == listing["ScannedCount"]
    assert plain(listing["Items"]) == plain(posted)

    # the replicator copies everything so far
    rep = StreamReplicator(node, tickets, replica)
    assert rep.poll() == 12
    assert plain(TicketApi(node, replica).get()["Items"]) == plain(posted)

    # later changes: a ticket is edited, one is deleted, one is added
    edited = posted[3]
    api.table.update_item(
        Key={"id": edited["id"]},
        UpdateExpression="SET #d = :d, #r = #r + :one",
        ExpressionAttributeNames={"#d": "description", "#r": "rating"},
        ExpressionAttributeValues={":d": "resolved", ":one": Decimal(1)},
    )
    api.table.delete_item(Key={"id": posted[5]["id"]})
    extra = api.post({"title": "Ride late", "description": "new", "rating": Decimal("4.5"), "tags": {"late"}})
    # resuming from the checkpoint applies only the three new changes
    assert rep.poll() == 3
    assert rep.poll() == 0
    primary = plain(api.get()["Items"])
    assert len(primary) == 12
    assert primary[edited["id"]]["description"] == "resolved"
    assert primary[edited["id"]]["rating"] == edited["rating"] + 1
    assert posted[5]["id"] not in primary and extra["id"] in primary
    assert plain(TicketApi(node, replica).get()["Items"]) == primary

    # the stream itself tells the story in order, with both images
    streams = streams_client(node)
    arn = ddb.describe_table(TableName=tickets)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = []
    while it:
        r = streams.get_records(ShardIterator=it)
        records += r["Records"]
        if not r["Records"]:
            break
        it = r.get("NextShardIterator")
    assert [r["eventName"] for r in records] == ["INSERT"] * 12 + ["MODIFY", "REMOVE", "INSERT"]
    deser = TypeDeserializer()
    modify = records[12]["dynamodb"]
    assert deser.deserialize({"M": modify["OldImage"]})["description"] == edited["description"]
    assert deser.deserialize({"M": modify["NewImage"]})["description"] == "resolved"
    assert records[13]["dynamodb"]["Keys"] == {"id": {"S": posted[5]["id"]}}
    assert deser.deserialize({"M": records[13]["dynamodb"]["OldImage"]})["title"] == "Ride 5"


def test_tickets_can_be_found_by_attribute_with_a_filtered_scan(node, tickets):
    api = TicketApi(node, tickets)
    for i in range(3):
        api.post({"title": f"Filter {i}", "description": "needle" if i == 1 else "hay", "rating": Decimal(3)})
    r = api.table.scan(FilterExpression=Attr("description").eq("needle") & Attr("title").begins_with("Filter"))
    assert [i["title"] for i in r["Items"]] == ["Filter 1"]
    one = r["Items"][0]
    got = api.table.get_item(Key={"id": one["id"]}, ConsistentRead=True)["Item"]
    assert got == one
    q = api.table.query(KeyConditionExpression=Key("id").eq(one["id"]))
    assert q["Items"] == [one]
