"""DynamoDB global tables between two real regions (us-east <-> ap-tokyo).

Covers: UpdateTable(ReplicaUpdates Create) creating the replica table in the
peer region with the same schema, indexes and stream settings, and both
regions describing Replicas [us-east, ap-tokyo] ACTIVE; refusing a replica in
an unknown region; a dropped replica table or a name clash with an existing
table in the peer not wedging the replication link; item puts, update_item,
deletes, BatchWriteItem and TransactWriteItems replicating in both directions
(identical items including aws:rep:* marks, index entries maintained on the
receiving side); concurrent conflicting writes to the same keys from both
regions converging to identical tables; deletes winning over older writes
(after replication, and when the delete races a put that has not arrived yet:
tombstones), and a later put winning over an older delete; replicated changes
appearing in the receiving region's DynamoDB Stream with the same old and new
images, in order.

Not covered yet (known gap): items that existed before the replica was added.
"""

from __future__ import annotations

import random
import threading
import time

from botocore.exceptions import ClientError

from dynamo_helpers import ddb_error, make_table, paginate, read_stream, unique_table
from e2e_helpers import s3_error, unique_bucket
from regions import wait_until

US, TOKYO = "us-east", "ap-tokyo"


# --------------------------------------------------------------------------- helpers


def global_table(regions, hint: str, **kw) -> str:
    """A table created in us-east, then given an ap-tokyo replica; waits until ap-tokyo has it."""
    us = regions.ddb(US)
    name = make_table(us, unique_table(hint), **kw)
    r = us.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": TOKYO}}])
    assert {x["RegionName"] for x in r["TableDescription"].get("Replicas", [])} == {US, TOKYO}
    tk = regions.ddb(TOKYO)
    wait_until(
        lambda: tk.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE", what=f"replica table {name}"
    )
    regions.wait_in_sync()
    return name


def get(ddb, table, key: dict):
    return ddb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")


REP_REGION = "aws:rep:updateregion"


def plain(item: dict | None) -> dict | None:
    """An item without the global-table bookkeeping attributes (aws:rep:updateregion/updatetime)."""
    return None if item is None else {k: v for k, v in item.items() if not k.startswith("aws:rep:")}


def scan_all(ddb, table) -> list[dict]:
    items, _ = paginate(ddb.scan, TableName=table, ConsistentRead=True)
    return sorted(items, key=lambda i: repr(sorted(i.items())))


def S(v: str) -> dict:
    return {"S": v}


def N(v) -> dict:
    return {"N": str(v)}


def wait_item(ddb, table, key, want, timeout=10.0):
    """Until GetItem returns exactly `want` (None = absent)."""
    wait_until(lambda: plain(get(ddb, table, key)) == want, timeout, what=f"{table} {key} == {want}")


def wait_absent(ddb, table, key, timeout=10.0):
    wait_until(lambda: get(ddb, table, key) is None, timeout, what=f"{table} {key} deleted")


# --------------------------------------------------------------------------- tables


def test_replica_table_is_created_in_the_peer_region(regions):
    name = global_table(
        regions,
        "create",
        hash_key=("pk", "S"),
        range_key=("sk", "N"),
        gsis=[{"name": "by-owner", "hash": ("owner", "S"), "range": ("sk", "N")}],
        stream="NEW_AND_OLD_IMAGES",
    )
    a = regions.ddb(US).describe_table(TableName=name)["Table"]
    b = regions.ddb(TOKYO).describe_table(TableName=name)["Table"]
    for t in (a, b):
        assert t["TableStatus"] == "ACTIVE"
        assert sorted((r["RegionName"], r["ReplicaStatus"]) for r in t["Replicas"]) == [
            (TOKYO, "ACTIVE"),
            (US, "ACTIVE"),
        ]
    assert b["KeySchema"] == a["KeySchema"]
    assert sorted(b["AttributeDefinitions"], key=str) == sorted(a["AttributeDefinitions"], key=str)
    assert [g["IndexName"] for g in b.get("GlobalSecondaryIndexes", [])] == ["by-owner"]
    assert b["GlobalSecondaryIndexes"][0]["KeySchema"] == a["GlobalSecondaryIndexes"][0]["KeySchema"]
    assert b["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert b.get("LatestStreamArn")
    assert name in regions.ddb(TOKYO).list_tables()["TableNames"]


def test_replica_in_an_unknown_region_is_refused(regions):
    us = regions.ddb(US)
    name = make_table(us, unique_table("unknown-region"))
    with ddb_error("ValidationException"):
        us.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": "eu-nowhere"}}])
    replicas = us.describe_table(TableName=name)["Table"].get("Replicas", [])
    assert "eu-nowhere" not in [r["RegionName"] for r in replicas], replicas


def link_still_works(pair, hint: str) -> None:
    """Changes made in us-east after the incident still reach ap-tokyo (here: a bucket-name claim)."""
    bucket = unique_bucket(hint)
    pair.s3(US).create_bucket(Bucket=bucket)
    pair.wait_in_sync(timeout=5)
    with s3_error("BucketAlreadyOwnedByYou", 409):
        pair.s3(TOKYO).create_bucket(Bucket=bucket)


def test_deleting_a_replica_table_does_not_block_replication(fresh_regions):
    """DeleteTable of the replica in ap-tokyo: afterwards us-east must neither describe ap-tokyo
    as an ACTIVE replica nor wedge the whole us-east -> ap-tokyo link on the next item write."""
    pair = fresh_regions()
    name = global_table(pair, "drop-replica")
    us, tk = pair.ddb(US), pair.ddb(TOKYO)
    try:
        tk.delete_table(TableName=name)
        deleted = True
    except ClientError:
        deleted = False  # refusing it is fine too
    us.put_item(TableName=name, Item={"pk": S("after"), "v": N(1)})
    link_still_works(pair, "drop-replica")
    if deleted:
        replicas = [r["RegionName"] for r in us.describe_table(TableName=name)["Table"].get("Replicas", [])]
        assert TOKYO not in replicas, f"us-east still lists the deleted replica: {replicas}"
    else:
        wait_item(tk, name, {"pk": S("after")}, {"pk": S("after"), "v": N(1)})


def test_replica_onto_an_existing_table_does_not_block_replication(fresh_regions):
    """ap-tokyo already has its own table of that name (another key schema): adding it as a
    replica must be refused, or at least must not wedge the us-east -> ap-tokyo link."""
    pair = fresh_regions()
    us, tk = pair.ddb(US), pair.ddb(TOKYO)
    name = make_table(us, unique_table("clash"), hash_key=("pk", "S"))
    make_table(tk, name, hash_key=("id", "N"))
    try:
        us.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": TOKYO}}])
        accepted = True
    except ClientError as e:
        assert e.response["Error"]["Code"] == "ValidationException", e.response["Error"]
        accepted = False
    us.put_item(TableName=name, Item={"pk": S("x")})
    link_still_works(pair, "clash")
    assert tk.describe_table(TableName=name)["Table"]["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    if accepted:
        # then the replica must really be one: the item is in ap-tokyo under the table's schema
        assert plain(get(tk, name, {"id": N(0)})) is None


# --------------------------------------------------------------------------- items


def test_items_replicate_both_ways(regions):
    name = global_table(regions, "items", gsis=[{"name": "by-color", "hash": ("color", "S")}])
    us, tk = regions.ddb(US), regions.ddb(TOKYO)

    item_us = {"pk": S("a"), "color": S("red"), "n": N(1), "tags": {"SS": ["x", "y"]}, "blob": {"B": b"\x00\x01"}}
    us.put_item(TableName=name, Item=item_us)
    wait_item(tk, name, {"pk": S("a")}, item_us)
    # the replica is the same item, down to where and when it was last written
    assert get(tk, name, {"pk": S("a")}) == get(us, name, {"pk": S("a")})
    assert get(tk, name, {"pk": S("a")})[REP_REGION] == S(US)

    item_tk = {"pk": S("b"), "color": S("red"), "nested": {"M": {"l": {"L": [N(1), S("two"), {"NULL": True}]}}}}
    tk.put_item(TableName=name, Item=item_tk)
    wait_item(us, name, {"pk": S("b")}, item_tk)
    assert get(us, name, {"pk": S("b")}) == get(tk, name, {"pk": S("b")})
    assert get(us, name, {"pk": S("b")})[REP_REGION] == S(TOKYO)

    # update_item in tokyo on an item that came from us-east
    tk.update_item(
        TableName=name,
        Key={"pk": S("a")},
        UpdateExpression="SET color = :c ADD n :one REMOVE tags",
        ExpressionAttributeValues={":c": S("blue"), ":one": N(1)},
    )
    want_a = {"pk": S("a"), "color": S("blue"), "n": N(2), "blob": {"B": b"\x00\x01"}}
    wait_item(us, name, {"pk": S("a")}, want_a)
    assert get(us, name, {"pk": S("a")}) == get(tk, name, {"pk": S("a")})
    assert get(us, name, {"pk": S("a")})[REP_REGION] == S(TOKYO)

    # the index in the receiving region follows the replicated changes
    def by_color(ddb, color):
        r = ddb.query(
            TableName=name,
            IndexName="by-color",
            KeyConditionExpression="color = :c",
            ExpressionAttributeValues={":c": S(color)},
        )
        return sorted(i["pk"]["S"] for i in r["Items"])

    assert by_color(us, "red") == ["b"] and by_color(us, "blue") == ["a"]
    regions.wait_in_sync()
    assert by_color(tk, "red") == ["b"] and by_color(tk, "blue") == ["a"]

    # deletes, each way
    us.delete_item(TableName=name, Key={"pk": S("b")})
    wait_absent(tk, name, {"pk": S("b")})
    tk.delete_item(TableName=name, Key={"pk": S("a")})
    wait_absent(us, name, {"pk": S("a")})
    regions.wait_in_sync()
    assert scan_all(us, name) == scan_all(tk, name) == []
    assert by_color(tk, "red") == [] and by_color(us, "blue") == []


def test_batch_and_transaction_writes_replicate(regions):
    name = global_table(regions, "batch")
    us, tk = regions.ddb(US), regions.ddb(TOKYO)
    us.batch_write_item(
        RequestItems={name: [{"PutRequest": {"Item": {"pk": S(f"b{i}"), "i": N(i)}}} for i in range(5)]}
    )
    us.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": name, "Item": {"pk": S("t1"), "v": N(1)}}},
            {
                "Update": {
                    "TableName": name,
                    "Key": {"pk": S("b0")},
                    "UpdateExpression": "SET x = :x",
                    "ExpressionAttributeValues": {":x": S("y")},
                }
            },
            {"Delete": {"TableName": name, "Key": {"pk": S("b4")}}},
        ]
    )
    tk.batch_write_item(RequestItems={name: [{"DeleteRequest": {"Key": {"pk": S("b1")}}}]})
    tk.transact_write_items(TransactItems=[{"Put": {"TableName": name, "Item": {"pk": S("t2"), "from": S(TOKYO)}}}])
    regions.wait_in_sync()
    a, b = scan_all(us, name), scan_all(tk, name)
    assert a == b
    assert sorted(i["pk"]["S"] for i in a) == ["b0", "b2", "b3", "t1", "t2"]
    assert plain(get(tk, name, {"pk": S("b0")})) == {"pk": S("b0"), "i": N(0), "x": S("y")}


def test_concurrent_conflicting_writes_converge(regions):
    name = global_table(regions, "conflict")
    keys = [f"k{i:02d}" for i in range(50)]
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def writer(region: str, wid: int):
        try:
            ddb = regions.ddb(region)
            rng = random.Random(f"{region}-{wid}")
            start.wait()
            for rnd in range(3):
                order = keys[:]
                rng.shuffle(order)
                for k in order:
                    roll = rng.random()
                    if roll < 0.1:
                        ddb.delete_item(TableName=name, Key={"pk": S(k)})
                    elif roll < 0.3:
                        ddb.update_item(
                            TableName=name,
                            Key={"pk": S(k)},
                            UpdateExpression="SET w = :w, rnd = :r ADD hits :one",
                            ExpressionAttributeValues={":w": S(f"{region}/{wid}"), ":r": N(rnd), ":one": N(1)},
                        )
                    else:
                        ddb.put_item(
                            TableName=name,
                            Item={
                                "pk": S(k),
                                "w": S(f"{region}/{wid}"),
                                "rnd": N(rnd),
                                "pad": S("p" * rng.randrange(1, 200)),
                            },
                        )
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(r, w)) for r in (US, TOKYO) for w in range(2)]
    with regions.slow_links(40):  # both directions: writes cross in flight
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        regions.wait_in_sync(timeout=15)
    regions.wait_in_sync()
    a, b = scan_all(regions.ddb(US), name), scan_all(regions.ddb(TOKYO), name)
    diff = sorted(
        {i["pk"]["S"] for i in a} ^ {i["pk"]["S"] for i in b}
        | {x["pk"]["S"] for x in a for y in b if x["pk"] == y["pk"] and x != y}
    )
    assert a == b, f"regions diverged on {len(diff)} keys: {diff[:10]}"
    assert a, "every key ended deleted: the test wrote nothing useful"
    writers = {f"{r}/{w}" for r in (US, TOKYO) for w in range(2)}
    for item in a:
        assert item["w"]["S"] in writers, item
        assert item["pk"]["S"] in keys
    # Writes from both regions survived somewhere: the winner is not always one region.
    assert {i["w"]["S"].split("/")[0] for i in a} == {US, TOKYO}


def test_delete_wins_over_an_older_write(regions):
    name = global_table(regions, "del-after")
    us, tk = regions.ddb(US), regions.ddb(TOKYO)
    item = {"pk": S("x"), "v": N(1)}
    us.put_item(TableName=name, Item=item)
    wait_item(tk, name, {"pk": S("x")}, item)
    tk.delete_item(TableName=name, Key={"pk": S("x")})
    wait_absent(us, name, {"pk": S("x")})
    regions.wait_in_sync()
    assert get(us, name, {"pk": S("x")}) is None and get(tk, name, {"pk": S("x")}) is None
    assert scan_all(us, name) == scan_all(tk, name) == []


def test_later_delete_beats_a_put_that_has_not_arrived_yet(regions):
    """Put in us-east, then (a few ms later, before the put has reached ap-tokyo: that link
    is slowed down) delete in ap-tokyo. The delete is the later write, so the item must
    end deleted in both regions: ap-tokyo has to remember the delete (tombstone) when the
    older put arrives, and us-east has to receive the delete."""
    name = global_table(regions, "del-race")
    us, tk = regions.ddb(US), regions.ddb(TOKYO)
    keys = [f"r{i:02d}" for i in range(15)]
    with regions.slow_links(400, TOKYO):
        for k in keys:
            us.put_item(TableName=name, Item={"pk": S(k), "v": S("put")})
            time.sleep(0.003)  # the delete is later by clock
            tk.delete_item(TableName=name, Key={"pk": S(k)})
        assert get(tk, name, {"pk": S(keys[-1])}) is None  # the puts are still in flight
        regions.wait_in_sync(timeout=15)
    regions.wait_in_sync()
    left_us = [i["pk"]["S"] for i in scan_all(us, name)]
    left_tk = [i["pk"]["S"] for i in scan_all(tk, name)]
    assert left_us == [] and left_tk == [], f"deleted items survive: us-east {left_us}, ap-tokyo {left_tk}"


def test_later_put_beats_an_older_delete(regions):
    name = global_table(regions, "put-after-del")
    us, tk = regions.ddb(US), regions.ddb(TOKYO)
    keys = [f"p{i:02d}" for i in range(20)]
    for k in keys:
        us.put_item(TableName=name, Item={"pk": S(k), "v": S("old")})
    regions.wait_in_sync()
    # us-east -> ap-tokyo is slowed down: each older delete reaches ap-tokyo after its newer put there.
    with regions.slow_links(400, TOKYO):
        for k in keys:
            us.delete_item(TableName=name, Key={"pk": S(k)})
            time.sleep(0.003)
            tk.put_item(TableName=name, Item={"pk": S(k), "v": S("new")})
        regions.wait_in_sync(timeout=15)
    regions.wait_in_sync()
    want = sorted(({"pk": S(k), "v": S("new")} for k in keys), key=lambda i: repr(sorted(i.items())))
    assert [plain(i) for i in scan_all(us, name)] == want
    assert scan_all(us, name) == scan_all(tk, name)


# --------------------------------------------------------------------------- streams


def records_for(streams, arn, key):
    return [r for r in read_stream(streams, arn) if r["dynamodb"]["Keys"] == key]


def test_stream_of_the_receiving_region_shows_replicated_changes(regions):
    name = global_table(regions, "stream", stream="NEW_AND_OLD_IMAGES")
    us, tk = regions.ddb(US), regions.ddb(TOKYO)
    tk_arn = tk.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    us_arn = us.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    key = {"pk": S("s1")}
    v1 = {"pk": S("s1"), "v": N(1)}
    v2 = {"pk": S("s1"), "v": N(2), "extra": S("e")}
    us.put_item(TableName=name, Item=v1)
    us.update_item(
        TableName=name,
        Key=key,
        UpdateExpression="SET v = :v, extra = :e",
        ExpressionAttributeValues={":v": N(2), ":e": S("e")},
    )
    us.delete_item(TableName=name, Key=key)
    regions.wait_in_sync()

    def summary(recs):
        return [
            (r["eventName"], plain(r["dynamodb"].get("OldImage")), plain(r["dynamodb"].get("NewImage"))) for r in recs
        ]

    def images(recs):
        return [(r["dynamodb"].get("OldImage"), r["dynamodb"].get("NewImage")) for r in recs]

    want = [("INSERT", None, v1), ("MODIFY", v1, v2), ("REMOVE", v2, None)]
    streams_tk = regions.streams(TOKYO)
    got_tk = wait_until(
        lambda: (lambda r: r if len(r) >= 3 else None)(records_for(streams_tk, tk_arn, key)),
        what="3 stream records in ap-tokyo",
    )
    assert summary(got_tk) == want
    for r in got_tk:
        assert r["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert r["eventSource"] == "aws:dynamodb"
    seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in got_tk]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    # the origin's own stream has the same story, with the very same images
    got_us = records_for(regions.streams(US), us_arn, key)
    assert summary(got_us) == want
    assert images(got_tk) == images(got_us)

    # and the other way: a write in ap-tokyo reaches the us-east stream
    k2 = {"pk": S("s2")}
    item = {"pk": S("s2"), "from": S(TOKYO)}
    tk.put_item(TableName=name, Item=item)
    regions.wait_in_sync()
    got_us = wait_until(lambda: records_for(regions.streams(US), us_arn, k2), what="record of s2 in us-east")
    assert summary(got_us) == [("INSERT", None, item)]
    assert images(got_us) == images(records_for(regions.streams(TOKYO), tk_arn, k2))
