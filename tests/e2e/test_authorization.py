"""One authorization model for every API: the authorization matrix.

A node with four callers:
- `admin` (`admin = true`): everything;
- `alice`, a scoped key with an identity policy: S3 and DynamoDB inside
  `alice-*`, an explicit Deny on `keep/` keys, one control action;
- `bob`, a key without a policy (another user): S3's own rules (he owns
  nothing here), DynamoDB's old rule (any table), no control API;
- anonymous requests.

Every API (S3 object, bucket and config operations, DynamoDB items, queries,
tables, streams, the control and replication endpoints) is asked by each,
asserting allow or the exact error code, and that a refused write changed
nothing.
"""

from __future__ import annotations

import json
import random
import re
import string

import pytest
import requests
from botocore.exceptions import ClientError

from dynamo_helpers import ddb_client, streams_client
from e2e_helpers import KEYS, Key, Node, describe, write_config

ALICE = Key("AKIAALICE000000000003", "alicesecret0000000000000000000000000003", "alice")

ALICE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": ["arn:aws:s3:::alice-*", "arn:aws:s3:::alice-*/*"],
        },
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::alice-*/keep/*"},
        {
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
            "Resource": ["arn:aws:dynamodb:*:*:table/alice-*"],
        },
        {"Effect": "Allow", "Action": "tandem:GetReplicationStatus", "Resource": "*"},
    ],
}

ALICE_BUCKET = "alice-data"
ADMIN_BUCKET = "admin-private"
ALICE_TABLE = "alice-t"
ADMIN_TABLE = "admin-t"


@pytest.fixture(scope="module")
def authz(tandem_bin, tmp_path_factory):
    n = Node(tandem_bin, tmp_path_factory.mktemp("authz"))
    n.root.mkdir(parents=True, exist_ok=True)
    write_config(
        n.config_path,
        [{"name": n.region, "listen": f"127.0.0.1:{n.port}", "data_dir": str(n.data_dir)}],
        keys=[*KEYS.values(), ALICE],
        policies={"alice": json.dumps(ALICE_POLICY)},
    )
    n.start()
    s3 = n.client("admin")
    for b in (ALICE_BUCKET, ADMIN_BUCKET):
        s3.create_bucket(Bucket=b)
        s3.put_object(Bucket=b, Key="doc", Body=b"admin's")
        s3.put_object(Bucket=b, Key="keep/k", Body=b"kept")
    ddb = ddb_client(n)
    for t in (ALICE_TABLE, ADMIN_TABLE):
        ddb.create_table(
            TableName=t,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        ddb.put_item(TableName=t, Item={"pk": {"S": "seed"}})
    yield n
    n.stop()


def s3_for(node: Node, who: str):
    if who == "anonymous":
        return node.anon_client()
    if who == "alice":
        return node.client(key=ALICE)
    return node.client(who)


def ddb_for(node: Node, who: str, service: str = "dynamodb"):
    if who == "alice":
        return ddb_client(node, key=ALICE, service=service)
    return ddb_client(node, who, service=service)


def code_of(call) -> str:
    """Runs a client call: "ok", or the error code it failed with."""
    try:
        call()
        return "ok"
    except ClientError as e:
        return e.response["Error"]["Code"]


def object_body(node: Node, bucket: str, key: str) -> bytes | None:
    try:
        return node.client("admin").get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as e:
        assert e.response["Error"]["Code"] == "NoSuchKey", e
        return None


# ------------------------------------------------------------------- S3

S3_READS = [
    # (who, bucket, expected)
    ("admin", ADMIN_BUCKET, "ok"),
    ("alice", ALICE_BUCKET, "ok"),
    ("alice", ADMIN_BUCKET, "AccessDenied"),
    ("bob", ALICE_BUCKET, "AccessDenied"),
    ("anonymous", ALICE_BUCKET, "AccessDenied"),
]


@pytest.mark.parametrize("who,bucket,expected", S3_READS)
def test_s3_get_object_and_list_follow_identity_policies(authz, who, bucket, expected):
    s3 = s3_for(authz, who)
    assert code_of(lambda: s3.get_object(Bucket=bucket, Key="doc")) == expected
    assert code_of(lambda: s3.list_objects_v2(Bucket=bucket)) == expected


@pytest.mark.parametrize("who,bucket,expected", S3_READS)
def test_s3_put_object_is_allowed_or_refused_and_a_refusal_writes_nothing(authz, who, bucket, expected):
    key = f"put-by-{who}"
    assert code_of(lambda: s3_for(authz, who).put_object(Bucket=bucket, Key=key, Body=b"x")) == expected
    assert object_body(authz, bucket, key) == (b"x" if expected == "ok" else None)


def test_a_denial_names_the_action_and_the_resource(authz):
    with pytest.raises(ClientError) as e:
        s3_for(authz, "alice").get_object(Bucket=ADMIN_BUCKET, Key="doc")
    message = e.value.response["Error"]["Message"]
    assert "s3:GetObject" in message and f"arn:aws:s3:::{ADMIN_BUCKET}/doc" in message, message


@pytest.mark.parametrize(
    "who,expected",
    [("admin", "ok"), ("alice", "AccessDenied"), ("bob", "ok"), ("anonymous", "AccessDenied")],
)
def test_s3_service_and_bucket_creation(authz, who, expected):
    s3 = s3_for(authz, who)
    bucket = f"created-by-{who}"
    assert code_of(lambda: s3.create_bucket(Bucket=bucket)) == expected
    assert code_of(lambda: authz.client("admin").head_bucket(Bucket=bucket)) == ("ok" if expected == "ok" else "404")
    assert code_of(lambda: s3.list_buckets()) == expected


@pytest.mark.parametrize(
    "who,expected",
    [("admin", "ok"), ("alice", "AccessDenied"), ("bob", "AccessDenied"), ("anonymous", "AccessDenied")],
)
def test_s3_bucket_configuration_needs_the_owner_or_an_allow(authz, who, expected):
    s3 = s3_for(authz, who)
    assert code_of(lambda: s3.get_bucket_versioning(Bucket=ALICE_BUCKET)) == expected
    assert code_of(lambda: s3.get_bucket_acl(Bucket=ALICE_BUCKET)) == expected
    cors = {"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": [f"https://{who}.example"]}]}
    assert code_of(lambda: s3.put_bucket_cors(Bucket=ALICE_BUCKET, CORSConfiguration=cors)) == expected
    if expected != "ok":
        try:
            rules = authz.client("admin").get_bucket_cors(Bucket=ALICE_BUCKET)["CORSRules"]
        except ClientError:
            rules = []
        assert all(f"https://{who}.example" not in r["AllowedOrigins"] for r in rules)


def test_an_explicit_deny_on_a_prefix_holds_for_delete_object(authz):
    s3 = s3_for(authz, "alice")
    s3.put_object(Bucket=ALICE_BUCKET, Key="keep/mine", Body=b"k")
    assert code_of(lambda: s3.delete_object(Bucket=ALICE_BUCKET, Key="keep/mine")) == "AccessDenied"
    assert object_body(authz, ALICE_BUCKET, "keep/mine") == b"k"


def test_delete_objects_authorizes_every_key(authz):
    s3 = s3_for(authz, "alice")
    s3.put_object(Bucket=ALICE_BUCKET, Key="tmp/a", Body=b"a")
    s3.put_object(Bucket=ALICE_BUCKET, Key="keep/b", Body=b"b")
    out = s3.delete_objects(Bucket=ALICE_BUCKET, Delete={"Objects": [{"Key": "tmp/a"}, {"Key": "keep/b"}]})
    assert [d["Key"] for d in out.get("Deleted", [])] == ["tmp/a"]
    assert [(e["Key"], e["Code"]) for e in out.get("Errors", [])] == [("keep/b", "AccessDenied")]
    assert object_body(authz, ALICE_BUCKET, "tmp/a") is None
    assert object_body(authz, ALICE_BUCKET, "keep/b") == b"b"
    # In another user's bucket every key is refused, and nothing is deleted.
    out = s3_for(authz, "alice").delete_objects(Bucket=ADMIN_BUCKET, Delete={"Objects": [{"Key": "doc"}]})
    assert [(e["Key"], e["Code"]) for e in out.get("Errors", [])] == [("doc", "AccessDenied")]
    assert object_body(authz, ADMIN_BUCKET, "doc") == b"admin's"


def test_copy_object_needs_read_on_the_source_and_write_on_the_destination(authz):
    s3 = s3_for(authz, "alice")
    src = {"Bucket": ADMIN_BUCKET, "Key": "doc"}
    assert code_of(lambda: s3.copy_object(Bucket=ALICE_BUCKET, Key="copied", CopySource=src)) == "AccessDenied"
    assert object_body(authz, ALICE_BUCKET, "copied") is None
    own = {"Bucket": ALICE_BUCKET, "Key": "doc"}
    assert code_of(lambda: s3.copy_object(Bucket=ALICE_BUCKET, Key="copied", CopySource=own)) == "ok"


# ------------------------------------------------------------- DynamoDB


@pytest.mark.parametrize(
    "who,table,expected",
    [
        ("admin", ADMIN_TABLE, "ok"),
        ("alice", ALICE_TABLE, "ok"),
        ("alice", ADMIN_TABLE, "AccessDeniedException"),
        # A key without a policy keeps DynamoDB's old rule: any table.
        ("bob", ADMIN_TABLE, "ok"),
    ],
)
def test_dynamodb_items_follow_identity_policies(authz, who, table, expected):
    ddb = ddb_for(authz, who)
    pk = {"pk": {"S": f"by-{who}"}}
    assert code_of(lambda: ddb.put_item(TableName=table, Item=pk)) == expected
    assert code_of(lambda: ddb.get_item(TableName=table, Key={"pk": {"S": "seed"}})) == expected
    query = dict(TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "seed"}})
    assert code_of(lambda: ddb.query(**query)) == expected
    stored = ddb_client(authz).get_item(TableName=table, Key=pk).get("Item")
    assert (stored is not None) == (expected == "ok")


def test_dynamodb_actions_outside_the_policy_are_refused_and_change_nothing(authz):
    ddb = ddb_for(authz, "alice")
    seed = {"pk": {"S": "seed"}}
    with pytest.raises(ClientError) as e:
        ddb.delete_item(TableName=ALICE_TABLE, Key=seed)
    err = e.value.response["Error"]
    assert err["Code"] == "AccessDeniedException"
    assert "dynamodb:DeleteItem" in err["Message"] and f"table/{ALICE_TABLE}" in err["Message"], err
    assert ddb_client(authz).get_item(TableName=ALICE_TABLE, Key=seed).get("Item") is not None
    assert code_of(lambda: ddb.scan(TableName=ALICE_TABLE)) == "AccessDeniedException"
    assert code_of(lambda: ddb.list_tables()) == "AccessDeniedException"
    spec = dict(
        TableName="alice-new",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert code_of(lambda: ddb.create_table(**spec)) == "AccessDeniedException"
    assert "alice-new" not in ddb_client(authz).list_tables()["TableNames"]


def test_batch_and_transactions_need_every_table_allowed(authz):
    ddb = ddb_for(authz, "alice")
    batch = {ALICE_TABLE: [{"PutRequest": {"Item": {"pk": {"S": "batch"}}}}]}
    assert code_of(lambda: ddb.batch_write_item(RequestItems=batch)) == "AccessDeniedException"
    ok = [{"Put": {"TableName": ALICE_TABLE, "Item": {"pk": {"S": "tx-ok"}}}}]
    assert code_of(lambda: ddb.transact_write_items(TransactItems=ok)) == "ok"
    mixed = [
        {"Put": {"TableName": ALICE_TABLE, "Item": {"pk": {"S": "tx-mixed"}}}},
        {"Put": {"TableName": ADMIN_TABLE, "Item": {"pk": {"S": "tx-mixed"}}}},
    ]
    assert code_of(lambda: ddb.transact_write_items(TransactItems=mixed)) == "AccessDeniedException"
    admin = ddb_client(authz)
    for t in (ALICE_TABLE, ADMIN_TABLE):
        assert admin.get_item(TableName=t, Key={"pk": {"S": "tx-mixed"}}).get("Item") is None


def test_streams_are_resources_too(authz):
    arn = ddb_client(authz).describe_table(TableName=ALICE_TABLE)["Table"]["LatestStreamArn"]
    assert code_of(lambda: streams_client(authz).describe_stream(StreamArn=arn)) == "ok"
    alice = ddb_for(authz, "alice", service="dynamodbstreams")
    assert code_of(lambda: alice.describe_stream(StreamArn=arn)) == "AccessDeniedException"


@pytest.mark.parametrize(
    "target,body",
    [
        ("DynamoDB_20120810.GetItem", {"TableName": ALICE_TABLE, "Key": {"pk": {"S": "seed"}}}),
        ("DynamoDB_20120810.PutItem", {"TableName": ALICE_TABLE, "Item": {"pk": {"S": "by-anonymous"}}}),
        ("DynamoDB_20120810.ListTables", {}),
        ("DynamoDBStreams_20120810.ListStreams", {}),
    ],
)
def test_dynamodb_and_streams_refuse_anonymous_requests_and_change_nothing(authz, target, body):
    r = requests.post(
        authz.endpoint + "/",
        data=json.dumps(body),
        headers={"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target},
        timeout=10,
    )
    assert r.status_code == 400, describe(r)
    assert r.json()["__type"].endswith("#MissingAuthenticationTokenException"), r.text
    stored = ddb_client(authz).get_item(TableName=ALICE_TABLE, Key={"pk": {"S": "by-anonymous"}})
    assert "Item" not in stored


# -------------------------------------------------------------- control


def control(node: Node, who: str, method: str, path: str, body: bytes = b"") -> requests.Response:
    """A control request by `who` (signed unless anonymous); `path` may carry a query."""
    if who == "anonymous":
        return requests.request(method, node.endpoint + path, data=body, timeout=10)
    base, _, query = path.partition("?")
    pairs = [tuple(q.split("=", 1)) for q in query.split("&")] if query else None
    key = ALICE if who == "alice" else KEYS[who]
    return node.request(method, base, query=pairs, key=key, body=body)


@pytest.mark.parametrize(
    "path,allowed",
    [
        ("/_tandem/changes", {"admin"}),
        ("/_tandem/apps", {"admin"}),
        ("/_tandem/replication", {"admin", "alice"}),
        ("/_tandem/replication/inventory?bucket=alice-data", {"admin"}),
    ],
)
@pytest.mark.parametrize("who", ["admin", "alice", "bob", "anonymous"])
def test_control_reads_need_an_admin_or_an_allowing_policy(authz, path, allowed, who):
    r = control(authz, who, "GET", path)
    if who in allowed:
        assert r.status_code == 200, describe(r)
    else:
        assert r.status_code == 403, describe(r)
        assert b"AccessDenied" in r.content


@pytest.mark.parametrize("who", ["alice", "bob", "anonymous"])
def test_state_changes_apply_and_resync_are_refused_without_rights(authz, who):
    update = json.dumps({"AppId": "photos", "NewState": "fenced"}).encode()
    assert control(authz, who, "PUT", "/_tandem/apps/photos/state", update).status_code == 403
    assert control(authz, who, "POST", "/_tandem/apply", b"{}").status_code == 403
    assert control(authz, who, "POST", "/_tandem/replication/resync?bucket=alice-data").status_code == 403


def test_app_state_stays_public(authz):
    # Unknown app: 404 from the state API itself, not an authorization refusal.
    assert requests.get(authz.endpoint + "/_tandem/apps/nope/state", timeout=10).status_code == 404


@pytest.mark.parametrize("who", ["admin", "alice", "bob"])
def test_user_keys_never_open_the_replication_endpoint(authz, who):
    r = control(authz, who, "POST", "/_tandem/replication/apply", b"")
    assert r.status_code in (401, 403), describe(r)


# -------------------------------------------------------------- metrics


def request_series(node: Node) -> set[tuple[str, str]]:
    """The (api, op) pairs of the request counter in /metrics."""
    text = requests.get(node.endpoint + "/metrics", timeout=10).text
    pairs = set()
    for line in text.splitlines():
        if line.startswith("tandem_requests_total{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            pairs.add((labels.get("api", ""), labels.get("op", "")))
    return pairs


def test_random_targets_add_no_metric_series(authz):
    rng = random.Random(20)
    prefixes = ["DynamoDB_20120810.", "DynamoDBStreams_20120810.", "DynamoDB_20120810.Put", ""]
    with requests.Session() as session:
        for _ in range(10_000):
            target = rng.choice(prefixes) + "".join(rng.choices(string.ascii_letters + "._-", k=rng.randint(1, 24)))
            send = lambda: session.post(  # noqa: E731
                authz.endpoint + "/",
                headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"},
                data=b"{}",
                timeout=10,
            )
            try:
                send()
            except requests.ConnectionError:
                # The node closes a connection after some refusals; a new one is fine.
                send()
    ops = {op for api, op in request_series(authz) if api == "dynamodb"}
    # Every label is a known operation name or the one "Unknown".
    assert "Unknown" in ops
    assert len(ops) <= 30, sorted(ops)
    assert all(op.isalpha() for op in ops), sorted(ops)
