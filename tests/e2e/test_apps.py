"""Applications: declarative deploy (`tandem apply`), state, fencing.

One region pair for the module (us-east, ap-tokyo), started with the admin key
marked `admin = true` and *no* [[apps]]; the module fixture then writes two
apps into tandem.toml and runs `tandem apply`, which creates everything and
pushes the apps to the running nodes (no restart):

* photos: primary us-east, secondary ap-tokyo, buckets photos-us-east /
  photos-ap-tokyo, global table comments (photo_id:S, comment_id:S);
* scratch: same regions, buckets scratch-us-east / scratch-ap-tokyo (the
  latter exists before apply, unversioned, with an object in it), table
  scratch_notes (id:S). It is the app the last test removes from the file.

What is checked: the plan (`--dry-run` changes nothing, a non-admin key may
not apply), what apply makes in both regions (versioning, replication rules
both ways, the global table with both replicas), that a second apply has
nothing to change and that removing apps from the file deletes nothing;
write enforcement (every S3 and DynamoDB write to an app's resources outside
the write region -- object and item writes, DeleteBucket, DeleteTable -- is
refused with NotWriteRegion (S3 409, DynamoDB 400), everywhere with AppFenced while fenced, and
changes nothing; reads are always served; resources of no app are never
gated); the state API (unauthenticated GET, admin-only PUT,
400/404 answers), replication of state changes with increasing versions, the
CLI (`state get|set`, `status`), metrics and the STATE_UPDATED log line.

Tests that change the state put it back to `active` before they end.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time

import pytest
import requests
from botocore.exceptions import ClientError

from dynamo_helpers import make_table
from e2e_helpers import Key, refusal_status_ok, s3_error, unique_bucket, write_refused
from regions import PHOTOS_BUCKET, PHOTOS_TABLE, RegionPair, photos_app, wait_until

US, TOKYO = "us-east", "ap-tokyo"
PHOTOS = photos_app()
SCRATCH = {
    "id": "scratch",
    "primary": US,
    "secondary": TOKYO,
    "buckets": [{"primary": "scratch-us-east", "secondary": "scratch-ap-tokyo"}],
    "tables": [{"name": "scratch_notes", "hash_key": "id:S"}],
}
BUCKET = PHOTOS_BUCKET
SCRATCH_BUCKET = {US: "scratch-us-east", TOKYO: "scratch-ap-tokyo"}
TABLE = PHOTOS_TABLE
VIEW_KEYS = {
    "AppId",
    "State",
    "Hlc",
    "Version",
    "WriteRegion",
    "PrimaryRegion",
    "SecondaryRegion",
    "ChangedAt",
    "ChangedBy",
    "ChangedIn",
    "Reason",
    "ServedBy",
}
ANSI = re.compile(r"\x1b\[[0-9;]*m")
PLAN_LINE = re.compile(r"^\s*(us-east|ap-tokyo)\s+(photos|scratch)\s+(create|update|wait)\s+(\S.*)$")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def pair(tandem_bin, tmp_path_factory):
    p = RegionPair(tandem_bin, tmp_path_factory.mktemp("apps"))
    p.configure_apps([])  # admin key, no apps yet: `tandem apply` brings them
    try:
        p.start()
        yield p
    finally:
        p.close()


@pytest.fixture(autouse=True)
def _pair_still_alive(request):
    yield
    if "pair" in request.fixturenames:
        p = request.getfixturevalue("pair")
        dead = [n for n in p.names if not p.alive(n)]
        if dead:
            pytest.fail(f"region(s) {dead} died during this test:\n{p.logs()}")


def buckets_of(pair, region) -> set[str]:
    return {b["Name"] for b in pair.s3(region).list_buckets()["Buckets"]}


def tables_of(pair, region) -> set[str]:
    return set(pair.ddb(region).list_tables()["TableNames"])


def state_status(pair, region, app="photos") -> int:
    return requests.get(f"{pair.endpoint(region)}/_tandem/apps/{app}/state", timeout=5).status_code


@pytest.fixture(scope="module")
def applied(pair):
    """Runs the first `tandem apply` of the module; returns what happened before and after."""
    facts: dict = {}
    # A bucket that exists before apply, unversioned, with data: apply must enable versioning and keep the data.
    tk = pair.s3(TOKYO)
    tk.create_bucket(Bucket=SCRATCH_BUCKET[TOKYO])
    tk.put_object(Bucket=SCRATCH_BUCKET[TOKYO], Key="before-apply.txt", Body=b"kept")
    pair.wait_in_sync()
    pair.configure_apps([PHOTOS, SCRATCH])

    facts["bob_apply"] = pair.tandem("apply", principal="bob")
    facts["dry_run"] = pair.tandem("apply", "--dry-run")
    facts["after_dry_run"] = {
        r: {
            "buckets": buckets_of(pair, r),
            "tables": tables_of(pair, r),
            "state": state_status(pair, r),
        }
        for r in pair.names
    }
    facts["scratch_tk_versioning_after_dry_run"] = tk.get_bucket_versioning(Bucket=SCRATCH_BUCKET[TOKYO]).get("Status")
    facts["apply"] = pair.tandem("apply")
    assert facts["apply"].returncode == 0, f"tandem apply failed:\n{facts['apply'].stdout}\n{facts['apply'].stderr}"
    for r in pair.names:
        wait_until(lambda r=r: {TABLE, "scratch_notes"} <= tables_of(pair, r), what=f"app tables in {r}")
    pair.wait_in_sync()
    facts["second_apply"] = pair.tandem("apply")
    facts["second_dry_run"] = pair.tandem("apply", "--dry-run")
    return facts


@pytest.fixture
def photos(pair, applied):
    """The photos app, active again when the test ends."""
    yield "photos"
    restore_active(pair)


def restore_active(pair, app="photos"):
    views = {r: pair.app_state(r, app) for r in pair.names}
    if any(v["State"] != "active" for v in views.values()):
        r = pair.put_app_state(US, app, "active", reason="e2e: back to active")
        assert r.status_code == 200, r.text
        pair.wait_app_state(app, "active", min_version=r.json()["Version"])


def set_state(pair, region, state, app="photos", reason=None) -> dict:
    """PUT the state in `region`, check the answer, wait until both regions have it; returns the answer."""
    before = pair.app_state(region, app)
    r = pair.put_app_state(region, app, state, reason=reason)
    assert r.status_code == 200, f"PUT {state} in {region}: HTTP {r.status_code} {r.text}"
    view = r.json()
    assert view["State"] == state and view["ServedBy"] == region, view
    assert view["Version"] == before["Version"] + (before["State"] != state), (before, view)
    pair.wait_app_state(app, state, min_version=view["Version"])
    return view


# --------------------------------------------------------------------------- assertions


def plan_steps(stdout: str) -> list[tuple[str, str, str, str]]:
    """(region, app, action, detail) of each line after `plan:`."""
    lines = stdout.splitlines()
    if "plan:" not in lines:
        return []
    return [m.groups() for line in lines[lines.index("plan:") + 1 :] if (m := PLAN_LINE.match(line))]


def versions_of(s3, bucket) -> list[tuple]:
    r = s3.list_object_versions(Bucket=bucket)
    vs = [(v["Key"], v["VersionId"], v["ETag"], v["IsLatest"]) for v in r.get("Versions", [])]
    ms = [(m["Key"], m["VersionId"], "marker", m["IsLatest"]) for m in r.get("DeleteMarkers", [])]
    return sorted(vs + ms)


def uploads_of(s3, bucket) -> list[str]:
    return sorted(u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []))


def items_of(ddb, table) -> list[dict]:
    items = ddb.scan(TableName=table, ConsistentRead=True)["Items"]
    return sorted(items, key=lambda i: json.dumps(i, sort_keys=True))


def S(v: str) -> dict:
    return {"S": v}


def comment(photo: str, cid: str, text: str) -> dict:
    return {"photo_id": S(photo), "comment_id": S(cid), "text": S(text)}


def strip_rep(item: dict | None) -> dict | None:
    """An item without the aws:rep:* attributes global tables add."""
    return None if item is None else {k: v for k, v in item.items() if not k.startswith("aws:rep:")}


def delete_objects_refused(s3, bucket, keys, code, write_region=None):
    """DeleteObjects naming app keys outside the write region: refused as a whole
    (409 `code`) or key by key (every key an Error with `code`, nothing deleted)."""
    try:
        r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
    except ClientError as e:
        got = (e.response["Error"].get("Code"), e.response["ResponseMetadata"]["HTTPStatusCode"])
        assert got[0] == code and refusal_status_ok(e), f"DeleteObjects: expected {code} (409), got {got}: {e.response['Error']}"
        if write_region:
            assert write_region in e.response["Error"].get("Message", ""), e.response["Error"]
        return
    assert not r.get("Deleted"), f"DeleteObjects deleted keys outside the write region: {r.get('Deleted')}"
    errors = r.get("Errors", [])
    assert sorted(e["Key"] for e in errors) == sorted(keys), r
    assert {e["Code"] for e in errors} == {code}, errors
    if write_region:
        assert all(write_region in e.get("Message", "") for e in errors), errors


# --------------------------------------------------------------------------- apply


def test_dry_run_prints_the_plan_and_changes_nothing(pair, applied):
    dry = applied["dry_run"]
    assert dry.returncode == 0, dry.stderr
    assert "plan:" in dry.stdout.splitlines(), dry.stdout
    steps = plan_steps(dry.stdout)
    assert ("us-east", "photos", "create", "bucket photos-us-east (versioned)") in steps, dry.stdout
    assert ("ap-tokyo", "photos", "create", "bucket photos-ap-tokyo (versioned)") in steps, dry.stdout
    assert any(s[:3] == ("us-east", "photos", "create") and "global table comments" in s[3] for s in steps), dry.stdout
    assert any(
        s[:3] == ("ap-tokyo", "scratch", "update") and "versioning" in s[3] and "scratch-ap-tokyo" in s[3] for s in steps
    ), dry.stdout
    assert "applied." not in dry.stdout
    for r in pair.names:
        seen = applied["after_dry_run"][r]
        assert not seen["buckets"] & {"photos-us-east", "photos-ap-tokyo", "scratch-us-east"}, (r, seen)
        assert not seen["tables"], (r, seen)
        assert seen["state"] == 404, f"{r}: the dry run made the app known ({seen['state']})"
    assert applied["scratch_tk_versioning_after_dry_run"] in (None, "Suspended"), applied[
        "scratch_tk_versioning_after_dry_run"
    ]


def test_apply_needs_an_admin_key(pair, applied):
    bob = applied["bob_apply"]
    assert bob.returncode != 0, bob.stdout
    assert "AccessDenied" in bob.stderr, bob.stderr
    # Nothing was made by bob's attempt: the dry run after it still planned everything.
    assert ("us-east", "photos", "create", "bucket photos-us-east (versioned)") in plan_steps(applied["dry_run"].stdout)


def test_apply_creates_buckets_rules_and_global_table_in_both_regions(pair, applied):
    out = applied["apply"].stdout
    assert "plan:" in out and out.rstrip().endswith("applied."), out
    for app, buckets, table, key in (
        ("photos", BUCKET, TABLE, [("photo_id", "HASH"), ("comment_id", "RANGE")]),
        ("scratch", SCRATCH_BUCKET, "scratch_notes", [("id", "HASH")]),
    ):
        for r in pair.names:
            s3 = pair.s3(r)
            b, other = buckets[r], buckets[pair.other(r)]
            assert b in buckets_of(pair, r)
            assert s3.get_bucket_versioning(Bucket=b).get("Status") == "Enabled", (r, b)
            rules = s3.get_bucket_replication(Bucket=b)["ReplicationConfiguration"]["Rules"]
            mine = [x for x in rules if x.get("ID") == f"tandem-app-{app}"]
            assert len(mine) == 1, rules
            rule = mine[0]
            assert rule["Status"] == "Enabled", rule
            assert rule["Destination"]["Bucket"] == f"arn:aws:s3:::{other}", rule
            assert rule.get("DeleteMarkerReplication", {}).get("Status") == "Enabled", rule
            assert (
                rule.get("SourceSelectionCriteria", {}).get("ReplicaModifications", {}).get("Status") == "Enabled"
            ), rule
            t = pair.ddb(r).describe_table(TableName=table)["Table"]
            assert t["TableStatus"] == "ACTIVE", t
            assert [(k["AttributeName"], k["KeyType"]) for k in t["KeySchema"]] == key, t["KeySchema"]
            assert {x["RegionName"] for x in t.get("Replicas", [])} == {US, TOKYO}, (r, t.get("Replicas"))
        # Each region now knows the app (pushed by apply, no restart).
        for r in pair.names:
            v = pair.app_state(r, app)
            assert (v["State"], v["WriteRegion"], v["ServedBy"]) == ("active", US, r), v
    # The bucket that existed before apply kept its data.
    body = pair.s3(TOKYO).get_object(Bucket=SCRATCH_BUCKET[TOKYO], Key="before-apply.txt")["Body"].read()
    assert body == b"kept"


def test_second_apply_has_nothing_to_change(pair, applied):
    for run in (applied["second_apply"], applied["second_dry_run"]):
        assert run.returncode == 0, run.stderr
        assert "nothing to change: every region matches the config" in run.stdout, run.stdout
        assert "plan:" not in run.stdout and "applied." not in run.stdout, run.stdout


def test_app_buckets_and_table_replicate_both_ways(pair, photos):
    us, tk = pair.s3(US), pair.s3(TOKYO)
    put = us.put_object(Bucket=BUCKET[US], Key="both-ways.txt", Body=b"from us-east")
    wait_until(
        lambda: tk.head_object(Bucket=BUCKET[TOKYO], Key="both-ways.txt", VersionId=put["VersionId"]),
        what="the object in ap-tokyo",
    )
    pair.ddb(US).put_item(TableName=TABLE, Item=comment("both-ways", "c1", "hi"))
    got = wait_until(
        lambda: pair.ddb(TOKYO).get_item(TableName=TABLE, Key={"photo_id": S("both-ways"), "comment_id": S("c1")}).get("Item"),
        what="the item in ap-tokyo",
    )
    assert strip_rep(got) == comment("both-ways", "c1", "hi")
    # The rule back from ap-tokyo works too, once ap-tokyo takes writes.
    set_state(pair, US, "failover")
    put2 = tk.put_object(Bucket=BUCKET[TOKYO], Key="back.txt", Body=b"from ap-tokyo")
    wait_until(
        lambda: us.head_object(Bucket=BUCKET[US], Key="back.txt", VersionId=put2["VersionId"]),
        what="the object back in us-east",
    )


# --------------------------------------------------------------------------- enforcement


def seed_object(pair, key: str, body: bytes = b"seed") -> str:
    """An object written in us-east (the write region while active), replicated to ap-tokyo."""
    v = pair.s3(US).put_object(Bucket=BUCKET[US], Key=key, Body=body)["VersionId"]
    tk = pair.s3(TOKYO)
    wait_until(lambda: tk.head_object(Bucket=BUCKET[TOKYO], Key=key, VersionId=v), what=f"{key} in ap-tokyo")
    return v


def seed_item(pair, photo: str, cid: str, text: str = "seed") -> dict:
    item = comment(photo, cid, text)
    pair.ddb(US).put_item(TableName=TABLE, Item=item)
    key = {"photo_id": S(photo), "comment_id": S(cid)}
    tk = pair.ddb(TOKYO)
    wait_until(lambda: tk.get_item(TableName=TABLE, Key=key, ConsistentRead=True).get("Item"), what="item in ap-tokyo")
    return item


def test_s3_writes_outside_the_write_region_are_refused_and_change_nothing(pair, photos):
    plain = pair.make_bucket(TOKYO, unique_bucket("plain-src"), versioned=False)
    pair.s3(TOKYO).put_object(Bucket=plain, Key="src.txt", Body=b"plain source")
    v = seed_object(pair, "s3-refused.txt", b"original")
    tk, b = pair.s3(TOKYO), BUCKET[TOKYO]
    tk_tags = tk.get_object_tagging(Bucket=b, Key="s3-refused.txt")["TagSet"]
    before = versions_of(tk, b)
    uploads_before = uploads_of(tk, b)

    with write_refused("NotWriteRegion", US):
        tk.put_object(Bucket=b, Key="new.txt", Body=b"nope")
    with write_refused("NotWriteRegion", US):
        tk.put_object(Bucket=b, Key="s3-refused.txt", Body=b"overwrite")
    with write_refused("NotWriteRegion", US):
        tk.copy_object(Bucket=b, Key="copy.txt", CopySource={"Bucket": b, "Key": "s3-refused.txt"})
    with write_refused("NotWriteRegion", US):
        tk.copy_object(Bucket=b, Key="copy-plain.txt", CopySource={"Bucket": plain, "Key": "src.txt"})
    with write_refused("NotWriteRegion", US):
        tk.delete_object(Bucket=b, Key="s3-refused.txt")
    with write_refused("NotWriteRegion", US):
        tk.delete_object(Bucket=b, Key="s3-refused.txt", VersionId=v)
    with write_refused("NotWriteRegion", US):
        tk.create_multipart_upload(Bucket=b, Key="mpu.bin")
    delete_objects_refused(tk, b, ["s3-refused.txt"], "NotWriteRegion", US)
    with write_refused("NotWriteRegion", US):
        tk.put_object_tagging(Bucket=b, Key="s3-refused.txt", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    with write_refused("NotWriteRegion", US):
        tk.delete_object_tagging(Bucket=b, Key="s3-refused.txt")
    with write_refused("NotWriteRegion", US):
        tk.put_object_acl(Bucket=b, Key="s3-refused.txt", ACL="public-read")
    with write_refused("NotWriteRegion", US):
        tk.delete_bucket(Bucket=b)

    # Nothing changed, and reads are served.
    assert versions_of(tk, b) == before
    assert uploads_of(tk, b) == uploads_before
    assert tk.get_object_tagging(Bucket=b, Key="s3-refused.txt")["TagSet"] == tk_tags
    grants = tk.get_object_acl(Bucket=b, Key="s3-refused.txt")["Grants"]
    assert all(g["Grantee"].get("URI") is None for g in grants), grants
    got = tk.get_object(Bucket=b, Key="s3-refused.txt")
    assert got["Body"].read() == b"original" and got["VersionId"] == v
    assert "s3-refused.txt" in [o["Key"] for o in tk.list_objects_v2(Bucket=b).get("Contents", [])]
    # Copying *out of* an app bucket is a read of it: allowed into a bucket of no app.
    tk.copy_object(Bucket=plain, Key="copied-out.txt", CopySource={"Bucket": b, "Key": "s3-refused.txt"})
    assert tk.get_object(Bucket=plain, Key="copied-out.txt")["Body"].read() == b"original"

    # The write region takes the same writes.
    us = pair.s3(US)
    us.put_object(Bucket=BUCKET[US], Key="new.txt", Body=b"yes")
    us.copy_object(Bucket=BUCKET[US], Key="copy.txt", CopySource={"Bucket": BUCKET[US], "Key": "new.txt"})
    us.put_object_tagging(Bucket=BUCKET[US], Key="new.txt", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    mpu = us.create_multipart_upload(Bucket=BUCKET[US], Key="mpu.bin")["UploadId"]
    us.abort_multipart_upload(Bucket=BUCKET[US], Key="mpu.bin", UploadId=mpu)
    us.delete_objects(Bucket=BUCKET[US], Delete={"Objects": [{"Key": "new.txt"}, {"Key": "copy.txt"}]})


def test_dynamo_writes_outside_the_write_region_are_refused_and_change_nothing(pair, photos):
    plain = make_table(pair.ddb(TOKYO), "plain_tk_items", ("pk", "S"))
    seed_item(pair, "ddb-refused", "c1", "original")
    seed_item(pair, "ddb-refused", "c2", "second")
    tk = pair.ddb(TOKYO)
    before = items_of(tk, TABLE)
    key1 = {"photo_id": S("ddb-refused"), "comment_id": S("c1")}

    with write_refused("NotWriteRegion", US):
        tk.put_item(TableName=TABLE, Item=comment("ddb-refused", "c9", "new"))
    with write_refused("NotWriteRegion", US):
        tk.put_item(TableName=TABLE, Item=comment("ddb-refused", "c1", "overwrite"))
    with write_refused("NotWriteRegion", US):
        tk.update_item(
            TableName=TABLE,
            Key=key1,
            UpdateExpression="SET #t = :t",
            ExpressionAttributeNames={"#t": "text"},
            ExpressionAttributeValues={":t": S("updated")},
        )
    with write_refused("NotWriteRegion", US):
        tk.delete_item(TableName=TABLE, Key=key1)
    with write_refused("NotWriteRegion", US):
        tk.batch_write_item(
            RequestItems={
                TABLE: [
                    {"PutRequest": {"Item": comment("ddb-refused", "c8", "batch")}},
                    {"DeleteRequest": {"Key": {"photo_id": S("ddb-refused"), "comment_id": S("c2")}}},
                ]
            }
        )
    with write_refused("NotWriteRegion", US):
        tk.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": plain, "Item": {"pk": S("in-the-same-transaction")}}},
                {"Put": {"TableName": TABLE, "Item": comment("ddb-refused", "c7", "transact")}},
            ]
        )
    with write_refused("NotWriteRegion", US):
        tk.transact_write_items(TransactItems=[{"Delete": {"TableName": TABLE, "Key": key1}}])

    # Nothing changed (the transaction's write to a table of no app neither), and reads are served.
    assert items_of(tk, TABLE) == before
    assert "Item" not in tk.get_item(TableName=plain, Key={"pk": S("in-the-same-transaction")}, ConsistentRead=True)
    assert strip_rep(tk.get_item(TableName=TABLE, Key=key1, ConsistentRead=True)["Item"]) == comment(
        "ddb-refused", "c1", "original"
    )
    q = tk.query(
        TableName=TABLE,
        KeyConditionExpression="photo_id = :p",
        ExpressionAttributeValues={":p": S("ddb-refused")},
    )
    assert [i["comment_id"]["S"] for i in q["Items"]] == ["c1", "c2"]

    # The write region takes the same writes.
    us = pair.ddb(US)
    us.put_item(TableName=TABLE, Item=comment("ddb-refused", "c9", "new"))
    us.update_item(
        TableName=TABLE,
        Key=key1,
        UpdateExpression="SET #t = :t",
        ExpressionAttributeNames={"#t": "text"},
        ExpressionAttributeValues={":t": S("updated")},
    )
    us.batch_write_item(RequestItems={TABLE: [{"PutRequest": {"Item": comment("ddb-refused", "c8", "batch")}}]})
    us.transact_write_items(TransactItems=[{"Put": {"TableName": TABLE, "Item": comment("ddb-refused", "c7", "t")}}])
    us.delete_item(TableName=TABLE, Key={"photo_id": S("ddb-refused"), "comment_id": S("c9")})


def test_delete_table_of_an_app_is_refused_outside_the_write_region(pair, photos):
    """DeleteTable is a client write to an app's table (it drops every item in the
    region, as DeleteBucket would drop the bucket, which is refused): outside the
    write region it is refused with NotWriteRegion and the table keeps its items."""
    table = "scratch_notes"
    pair.ddb(US).put_item(TableName=table, Item={"id": S("delete-table-check"), "v": S("x")})
    pair.wait_in_sync()
    tk = pair.ddb(TOKYO)
    try:
        with write_refused("NotWriteRegion", US):
            tk.delete_table(TableName=table)
        assert tk.describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE"
        assert "Item" in tk.get_item(TableName=table, Key={"id": S("delete-table-check")}, ConsistentRead=True)
    finally:
        # Put the replica back if it was dropped (apply adds it again and backfills it).
        if table not in tables_of(pair, TOKYO):
            run = pair.tandem("apply")
            assert run.returncode == 0, run.stdout + run.stderr
            wait_until(lambda: table in tables_of(pair, TOKYO), what="scratch_notes back in ap-tokyo")
            pair.wait_in_sync()


def test_fenced_app_refuses_writes_in_every_region(pair, photos):
    seed_object(pair, "fenced.txt", b"before the fence")
    seed_item(pair, "fenced", "c1", "before the fence")
    us = pair.s3(US)
    # A multipart upload begun in the write region before the fence.
    mpu = us.create_multipart_upload(Bucket=BUCKET[US], Key="fenced-mpu.bin")["UploadId"]
    part1 = us.upload_part(Bucket=BUCKET[US], Key="fenced-mpu.bin", UploadId=mpu, PartNumber=1, Body=b"p" * 1024)

    before = {r: (versions_of(pair.s3(r), BUCKET[r]), items_of(pair.ddb(r), TABLE)) for r in pair.names}
    v0 = pair.app_state(US, "photos")["Version"]
    view = set_state(pair, US, "fenced", reason="e2e: fence")
    assert view["WriteRegion"] is None and view["Version"] == v0 + 1, view
    assert isinstance(view.get("Seq"), int), view
    assert (view["ChangedBy"], view["ChangedIn"], view["Reason"]) == ("admin", US, "e2e: fence"), view

    for r in pair.names:
        s3, ddb, b = pair.s3(r), pair.ddb(r), BUCKET[r]
        with write_refused("AppFenced"):
            s3.put_object(Bucket=b, Key="fenced-new.txt", Body=b"nope")
        with write_refused("AppFenced"):
            s3.copy_object(Bucket=b, Key="fenced-copy.txt", CopySource={"Bucket": b, "Key": "fenced.txt"})
        with write_refused("AppFenced"):
            s3.delete_object(Bucket=b, Key="fenced.txt")
        with write_refused("AppFenced"):
            s3.create_multipart_upload(Bucket=b, Key="fenced-mpu2.bin")
        delete_objects_refused(s3, b, ["fenced.txt"], "AppFenced")
        with write_refused("AppFenced"):
            s3.put_object_tagging(Bucket=b, Key="fenced.txt", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
        with write_refused("AppFenced"):
            ddb.put_item(TableName=TABLE, Item=comment("fenced", "c2", "nope"))
        with write_refused("AppFenced"):
            ddb.update_item(
                TableName=TABLE,
                Key={"photo_id": S("fenced"), "comment_id": S("c1")},
                UpdateExpression="SET #t = :t",
                ExpressionAttributeNames={"#t": "text"},
                ExpressionAttributeValues={":t": S("nope")},
            )
        with write_refused("AppFenced"):
            ddb.delete_item(TableName=TABLE, Key={"photo_id": S("fenced"), "comment_id": S("c1")})
        with write_refused("AppFenced"):
            ddb.batch_write_item(RequestItems={TABLE: [{"PutRequest": {"Item": comment("fenced", "c3", "nope")}}]})
        with write_refused("AppFenced"):
            ddb.transact_write_items(TransactItems=[{"Put": {"TableName": TABLE, "Item": comment("fenced", "c4", "n")}}])
        # Reads are served while fenced.
        assert s3.get_object(Bucket=b, Key="fenced.txt")["Body"].read() == b"before the fence"
        item = ddb.get_item(TableName=TABLE, Key={"photo_id": S("fenced"), "comment_id": S("c1")})["Item"]
        assert strip_rep(item) == comment("fenced", "c1", "before the fence")
    # The upload begun before the fence can neither go on nor end.
    with write_refused("AppFenced"):
        us.upload_part(Bucket=BUCKET[US], Key="fenced-mpu.bin", UploadId=mpu, PartNumber=2, Body=b"q" * 1024)
    with write_refused("AppFenced"):
        us.complete_multipart_upload(
            Bucket=BUCKET[US],
            Key="fenced-mpu.bin",
            UploadId=mpu,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part1["ETag"]}]},
        )
    with write_refused("AppFenced"):
        us.abort_multipart_upload(Bucket=BUCKET[US], Key="fenced-mpu.bin", UploadId=mpu)
    for r in pair.names:
        assert (versions_of(pair.s3(r), BUCKET[r]), items_of(pair.ddb(r), TABLE)) == before[r], f"{r} changed while fenced"

    # Unfenced from the other region: the primary takes writes again, and the upload completes.
    view = set_state(pair, TOKYO, "active", reason="e2e: unfence")
    assert view["Version"] == v0 + 2 and view["WriteRegion"] == US, view
    us.complete_multipart_upload(
        Bucket=BUCKET[US],
        Key="fenced-mpu.bin",
        UploadId=mpu,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part1["ETag"]}]},
    )
    pair.ddb(US).put_item(TableName=TABLE, Item=comment("fenced", "c2", "after"))
    with write_refused("NotWriteRegion", US):
        pair.s3(TOKYO).put_object(Bucket=BUCKET[TOKYO], Key="fenced-new.txt", Body=b"nope")


def test_failover_state_moves_the_write_region_to_the_secondary(pair, photos):
    view = set_state(pair, TOKYO, "failover", reason="e2e: failover")
    assert view["WriteRegion"] == TOKYO and view["ChangedIn"] == TOKYO, view
    tk_put = pair.s3(TOKYO).put_object(Bucket=BUCKET[TOKYO], Key="in-failover.txt", Body=b"tokyo")
    pair.ddb(TOKYO).put_item(TableName=TABLE, Item=comment("in-failover", "c1", "tokyo"))
    with write_refused("NotWriteRegion", TOKYO):
        pair.s3(US).put_object(Bucket=BUCKET[US], Key="in-failover.txt", Body=b"us")
    with write_refused("NotWriteRegion", TOKYO):
        pair.ddb(US).put_item(TableName=TABLE, Item=comment("in-failover", "c1", "us"))
    # The secondary's writes replicate to the primary.
    wait_until(
        lambda: pair.s3(US).head_object(Bucket=BUCKET[US], Key="in-failover.txt", VersionId=tk_put["VersionId"]),
        what="the failover-era object in us-east",
    )


def test_resources_of_no_app_are_never_gated(pair, photos):
    plain = {r: pair.make_bucket(r, unique_bucket(f"plain-{r}"), versioned=False) for r in pair.names}
    tables = {r: make_table(pair.ddb(r), f"plain_{r.replace('-', '_')}", ("pk", "S")) for r in pair.names}

    def writes_work(tag: str):
        for r in pair.names:
            s3, ddb, b, t = pair.s3(r), pair.ddb(r), plain[r], tables[r]
            s3.put_object(Bucket=b, Key=f"{tag}.txt", Body=tag.encode())
            s3.copy_object(Bucket=b, Key=f"{tag}-copy.txt", CopySource={"Bucket": b, "Key": f"{tag}.txt"})
            s3.put_object_tagging(Bucket=b, Key=f"{tag}.txt", Tagging={"TagSet": [{"Key": "t", "Value": tag}]})
            mpu = s3.create_multipart_upload(Bucket=b, Key=f"{tag}.bin")["UploadId"]
            p = s3.upload_part(Bucket=b, Key=f"{tag}.bin", UploadId=mpu, PartNumber=1, Body=b"x" * 100)
            s3.complete_multipart_upload(
                Bucket=b, Key=f"{tag}.bin", UploadId=mpu, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]}
            )
            r_del = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": f"{tag}-copy.txt"}]})
            assert not r_del.get("Errors"), r_del
            s3.delete_object(Bucket=b, Key=f"{tag}.bin")
            ddb.put_item(TableName=t, Item={"pk": S(tag)})
            ddb.update_item(
                TableName=t, Key={"pk": S(tag)}, UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": S(tag)}
            )
            ddb.batch_write_item(RequestItems={t: [{"PutRequest": {"Item": {"pk": S(tag + "-b")}}}]})
            ddb.transact_write_items(TransactItems=[{"Delete": {"TableName": t, "Key": {"pk": S(tag + "-b")}}}])
            assert s3.get_object(Bucket=b, Key=f"{tag}.txt")["Body"].read() == tag.encode()
            assert ddb.get_item(TableName=t, Key={"pk": S(tag)}, ConsistentRead=True)["Item"]["v"] == S(tag)

    writes_work("active")
    set_state(pair, US, "fenced")
    writes_work("fenced")
    set_state(pair, TOKYO, "failover")
    writes_work("failover")


# --------------------------------------------------------------------------- the state API


def test_state_get_is_unauthenticated_and_complete(pair, applied):
    for r in pair.names:
        resp = requests.get(f"{pair.endpoint(r)}/_tandem/apps/photos/state", timeout=5)
        assert resp.status_code == 200, resp.text
        assert resp.headers.get("content-type", "").startswith("application/json")
        v = resp.json()
        assert set(v) == VIEW_KEYS, sorted(v)
        assert (v["AppId"], v["PrimaryRegion"], v["SecondaryRegion"], v["ServedBy"]) == ("photos", US, TOKYO, r), v
        assert v["State"] in ("active", "fenced", "failover") and isinstance(v["Version"], int), v
        missing = requests.get(f"{pair.endpoint(r)}/_tandem/apps/no-such-app/state", timeout=5)
        assert missing.status_code == 404 and missing.json()["error"] == "NoSuchApp", missing.text


def test_state_put_needs_an_admin_signature(pair, photos):
    before = {r: pair.app_state(r, "photos") for r in pair.names}
    for principal in (None, "bob"):
        for r in pair.names:
            resp = pair.put_app_state(r, "photos", "fenced", principal=principal)
            assert resp.status_code == 403, f"{principal} in {r}: {resp.status_code} {resp.text}"
            assert resp.json()["error"] == "AccessDenied", resp.text
    # A signature by a key that does not exist, and one with a wrong secret.
    for key in (Key("AKIANOBODY000000000", "nobodysecret00000000000000000000000", "x"), Key(
        "AKIAADMIN0000000001", "wrongsecret0000000000000000000000000001", "admin"
    )):
        resp = pair[US].request(
            "PUT",
            "/_tandem/apps/photos/state",
            body=json.dumps({"AppId": "photos", "NewState": "fenced"}).encode(),
            principal=None,
            key=key,
        )
        assert resp.status_code == 403 and resp.json()["error"] == "AccessDenied", resp.text
    time.sleep(0.3)
    assert {r: pair.app_state(r, "photos") for r in pair.names} == before


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        b"[]",
        b"{}",
        b'{"AppId": "photos"}',
        b'{"AppId": "photos", "NewState": "sideways"}',
        b'{"AppId": "photos", "NewState": 3}',
        b'{"AppId": "other", "NewState": "fenced"}',
        b'{"NewState": "fenced"}',
    ],
    ids=["not-json", "empty", "array", "empty-object", "no-state", "unknown-state", "state-not-string", "other-app", "no-app"],
)
def test_state_put_bad_bodies_are_400(pair, photos, body):
    before = pair.app_state(US, "photos")
    resp = pair.put_app_state(US, "photos", body=body)
    assert resp.status_code == 400, f"{body!r}: {resp.status_code} {resp.text}"
    assert resp.json()["error"] == "InvalidRequest", resp.text
    assert pair.app_state(US, "photos") == before


def test_state_put_of_an_unknown_app_is_404(pair, applied):
    resp = pair.put_app_state(US, "no-such-app", "fenced")
    assert resp.status_code == 404 and resp.json()["error"] == "NoSuchApp", resp.text


def test_state_changes_replicate_with_increasing_versions(pair, photos):
    v0 = pair.app_state(US, "photos")["Version"]
    assert pair.app_state(TOKYO, "photos")["Version"] == v0

    fenced = set_state(pair, US, "fenced", reason="step 1")
    views = pair.wait_app_state("photos", "fenced", min_version=v0 + 1)
    assert fenced["Version"] == v0 + 1
    for r, v in views.items():
        assert (v["Version"], v["ChangedIn"], v["Reason"], v["WriteRegion"]) == (v0 + 1, US, "step 1", None), (r, v)

    failover = set_state(pair, TOKYO, "failover", reason="step 2")
    views = pair.wait_app_state("photos", "failover", min_version=v0 + 2)
    assert failover["Version"] == v0 + 2
    for r, v in views.items():
        assert (v["Version"], v["ChangedIn"], v["WriteRegion"], v["ServedBy"]) == (v0 + 2, TOKYO, TOKYO, r), (r, v)
        assert v["ChangedAt"] >= fenced["ChangedAt"], v

    cli = pair.tandem("state", "set", "photos", "active", "--reason", "step 3")
    assert cli.returncode == 0, cli.stderr
    views = pair.wait_app_state("photos", "active", min_version=v0 + 3)
    for r, v in views.items():
        assert (v["Version"], v["WriteRegion"], v["Reason"]) == (v0 + 3, US, "step 3"), (r, v)

    # Setting the state it already has is not a change.
    same = pair.put_app_state(TOKYO, "photos", "active")
    assert same.status_code == 200 and same.json()["Version"] == v0 + 3, same.text

    got = pair.tandem("state", "get", "photos")
    assert got.returncode == 0, got.stderr
    rows = [line.split() for line in got.stdout.splitlines() if line.strip()]
    assert {row[0] for row in rows} == {US, TOKYO}, got.stdout
    for row in rows:
        assert row[1:3] == ["photos", "active"] and "us-east" in row[3:6], got.stdout
        assert f"(version {v0 + 3}," in " ".join(row), got.stdout

    listed = pair[TOKYO].request("GET", "/_tandem/apps")
    assert listed.status_code == 200, listed.text
    apps = {a["id"]: a for a in listed.json()["apps"]}
    assert {"photos", "scratch"} <= set(apps), apps
    assert apps["photos"]["state"]["State"] == "active" and apps["photos"]["state"]["Version"] == v0 + 3
    assert apps["photos"]["primary"] == US and apps["photos"]["secondary"] == TOKYO


def test_cli_refuses_unknown_states_apps_and_non_admin_keys(pair, photos):
    before = {r: pair.app_state(r, "photos") for r in pair.names}
    bad = pair.tandem("state", "set", "photos", "sideways")
    assert bad.returncode != 0 and "unknown state" in bad.stderr, bad.stdout + bad.stderr
    for args in (("state", "get", "nope"), ("state", "set", "nope", "fenced"), ("failover", "nope"), ("failback", "nope")):
        run = pair.tandem(*args)
        assert run.returncode != 0 and 'no app named "nope"' in run.stderr, (args, run.stdout, run.stderr)
    bob = pair.tandem("state", "set", "photos", "fenced", "--force", principal="bob")
    assert bob.returncode != 0 and "AccessDenied" in bob.stderr, bob.stdout + bob.stderr
    time.sleep(0.2)
    assert {r: pair.app_state(r, "photos") for r in pair.names} == before


def test_state_set_fenced_is_refused_unless_bounded_or_forced(pair, photos):
    """Fencing leaves the app with no write region: `state set fenced` alone is refused,
    changes nothing and names the commands that would work; `--for 2` fences for at most
    2 s and puts `active` back; `--force` fences with no bound."""
    v0 = pair.app_state(US, "photos")["Version"]
    out = pair.tandem("state", "set", "photos", "fenced")
    assert out.returncode != 0 and "nothing was changed" in out.stderr, out.stdout + out.stderr
    for command in ("tandem state set photos fenced --for 60", "tandem failover photos --planned",
                    "tandem state set photos fenced --force"):
        assert f"`{command}`" in out.stderr, out.stderr
    assert pair.app_state(US, "photos")["Version"] == v0
    assert pair.tandem("state", "set", "photos", "fenced", "--for", "301").returncode != 0

    done = {}
    t = threading.Thread(target=lambda: done.setdefault("out", pair.tandem("state", "set", "photos", "fenced", "--for", "2")))
    t0 = time.monotonic()
    t.start()
    pair.wait_app_state("photos", "fenced", US, min_version=v0 + 1)
    t.join(timeout=30)
    took = time.monotonic() - t0
    assert done["out"].returncode == 0, done["out"].stdout + done["out"].stderr
    assert 2 <= took < 10, took
    view = pair.wait_app_state("photos", "active", min_version=v0 + 2)[US]
    assert "end of a 2s fence" in view["Reason"], view

    forced = pair.tandem("state", "set", "photos", "fenced", "--force")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    pair.wait_app_state("photos", "fenced", min_version=v0 + 3)


def test_state_changes_emit_metrics_and_state_updated_log_lines(pair, photos):
    def counts(r, state):
        return pair.metric(r, "tandem_app_state_changes_total", app="photos", state=state)

    before = {(r, s): counts(r, s) for r in pair.names for s in ("fenced", "active")}
    fenced = set_state(pair, US, "fenced", reason="metrics check")
    for r in pair.names:
        assert pair.metric(r, "tandem_app_state", app="photos", state="fenced", region=r) == 1
        assert pair.metric(r, "tandem_app_state", app="photos", state="active", region=r) == 0
        assert pair.metric(r, "tandem_app_state", app="photos", state="failover", region=r) == 0
    active = set_state(pair, US, "active", reason="metrics check done")
    for r in pair.names:
        wait_until(lambda r=r: counts(r, "active") >= before[(r, "active")] + 1, what=f"active counter in {r}")
        assert counts(r, "fenced") >= before[(r, "fenced")] + 1, r
        assert pair.metric(r, "tandem_app_state", app="photos", state="active", region=r) == 1
        assert pair.metric(r, "tandem_app_state", app="photos", state="fenced", region=r) == 0
        log = ANSI.sub("", pair[r].log_path.read_text(errors="replace"))
        for view in (fenced, active):
            lines = [
                line
                for line in log.splitlines()
                if "STATE_UPDATED" in line and 'app="photos"' in line and f"version={view['Version']}" in line
            ]
            assert lines, f"no STATE_UPDATED line for version {view['Version']} in {r}'s log:\n{pair.logs(10)}"
            assert f'state="{view["State"]}"' in lines[0], lines[0]


def test_status_shows_apps_in_every_region(pair, photos):
    out = pair.tandem("status")
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines()]
    app_rows = [row for row in rows if len(row) > 2 and row[1] == "photos"]
    assert {row[0] for row in app_rows} == {US, TOKYO}, out.stdout
    assert all(row[2] == "active" for row in app_rows), out.stdout


# --------------------------------------------------------------------------- apply never deletes


def test_removing_an_app_from_the_file_deletes_nothing(pair, photos):
    s3, ddb = pair.s3(US), pair.ddb(US)
    put = s3.put_object(Bucket=SCRATCH_BUCKET[US], Key="keep.txt", Body=b"keep me")
    ddb.put_item(TableName="scratch_notes", Item={"id": S("keep"), "v": S("keep me")})
    pair.wait_in_sync()
    try:
        pair.configure_apps([PHOTOS])
        run = pair.tandem("apply")
        assert run.returncode != 0, run.stdout + run.stderr
        assert "--forget scratch" in run.stderr and "still enforced" in run.stderr, run.stderr
        pair.configure_apps([])
        run = pair.tandem("apply")
        assert run.returncode != 0, run.stdout + run.stderr
        assert "--forget photos --forget scratch" in run.stderr, run.stderr
        time.sleep(0.3)
        for r in pair.names:
            s3r, ddbr = pair.s3(r), pair.ddb(r)
            assert {BUCKET[r], SCRATCH_BUCKET[r]} <= buckets_of(pair, r)
            b = SCRATCH_BUCKET[r]
            assert s3r.get_bucket_versioning(Bucket=b).get("Status") == "Enabled"
            rules = s3r.get_bucket_replication(Bucket=b)["ReplicationConfiguration"]["Rules"]
            assert [x["ID"] for x in rules] == ["tandem-app-scratch"], rules
            got = s3r.get_object(Bucket=b, Key="keep.txt")
            assert got["Body"].read() == b"keep me" and got["VersionId"] == put["VersionId"]
            assert {"scratch_notes", TABLE} <= tables_of(pair, r)
            t = ddbr.describe_table(TableName="scratch_notes")["Table"]
            assert {x["RegionName"] for x in t.get("Replicas", [])} == {US, TOKYO}
            item = ddbr.get_item(TableName="scratch_notes", Key={"id": S("keep")}, ConsistentRead=True).get("Item")
            assert strip_rep(item) == {"id": S("keep"), "v": S("keep me")}, (r, item)
        assert pair.s3(TOKYO).get_object(Bucket=SCRATCH_BUCKET[TOKYO], Key="before-apply.txt")["Body"].read() == b"kept"
    finally:
        pair.configure_apps([PHOTOS, SCRATCH])
    again = pair.tandem("apply")
    assert again.returncode == 0 and "nothing to change" in again.stdout, again.stdout + again.stderr


def test_removed_app_stays_enforced_after_a_restart_until_forgotten(pair, photos):
    """An app dropped from the file: apply refuses, the restarted nodes (started from
    the file without it) keep enforcing the spec apply pushed last, and only
    `apply --forget` stops the enforcement, deleting nothing."""
    try:
        pair.configure_apps([SCRATCH])
        run = pair.tandem("apply")
        assert run.returncode != 0 and "--forget photos" in run.stderr, run.stdout + run.stderr
        pair.restart(*pair.names)
        with write_refused("NotWriteRegion", US):
            pair.s3(TOKYO).put_object(Bucket=BUCKET[TOKYO], Key="after-restart", Body=b"no")
        assert pair.app_state(TOKYO, "photos")["State"] == "active"
        run = pair.tandem("apply", "--forget", "photos")
        assert run.returncode == 0, run.stdout + run.stderr
        pair.s3(TOKYO).put_object(Bucket=BUCKET[TOKYO], Key="after-forget", Body=b"ungated")
        assert BUCKET[TOKYO] in buckets_of(pair, TOKYO)
    finally:
        pair.configure_apps([PHOTOS, SCRATCH])
        run = pair.tandem("apply")
        assert run.returncode == 0, run.stdout + run.stderr
    with write_refused("NotWriteRegion", US):
        pair.s3(TOKYO).put_object(Bucket=BUCKET[TOKYO], Key="gated-again", Body=b"no")
