"""Temporary credentials: STS on the node's port, and session credentials on
every API.

- `aws sts assume-role` with an inline session policy, then `aws s3` and
  `aws dynamodb` with those credentials: allowed inside the policy (the
  intersection of the role's and the session's), denied outside it;
- GetSessionToken and GetCallerIdentity through boto3;
- the same session token accepted by another region that shares the signing
  key (no lookup), refused when tampered with, refused as expired by a node
  whose clock is two hours ahead (libfaketime), refused by a node with
  another key;
- who may assume a role (its trust list) and the bounds of DurationSeconds.
"""

from __future__ import annotations

import datetime as dt
import glob
import json
import os
import re
import subprocess

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from dynamo_helpers import ddb_client
from e2e_helpers import KEYS, SIGNING_REGION, Key, Node, describe, sha256_hex, sigv4_sign, write_config

SIGNING_KEY = "e2e-sts-signing-key-0123456789abcdef0123456789"
ROLE_ARN = "arn:aws:iam::000000000000:role/uploader"

ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"], "Resource": ["arn:aws:s3:::media", "arn:aws:s3:::media/*"]},
        {"Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:GetItem"], "Resource": "arn:aws:dynamodb:*:*:table/media-index"},
    ],
}

# The session may only write under uploads/ and read the table.
SESSION_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "arn:aws:s3:::media/uploads/*"},
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"},
    ],
}


def sts_config(node: Node, key: str = SIGNING_KEY) -> None:
    node.root.mkdir(parents=True, exist_ok=True)
    write_config(
        node.config_path,
        [{"name": node.region, "listen": f"127.0.0.1:{node.port}", "data_dir": str(node.data_dir)}],
        replication=True,
    )
    with open(node.config_path, "a") as f:
        f.write(f'\n[sts]\nsigning_key = "{key}"\n')
        f.write(
            "\n[[roles]]\nname = \"uploader\"\n"
            f"trust = [\"{KEYS['bob'].access_key_id}\"]\n"
            f"policy = '''{json.dumps(ROLE_POLICY)}'''\n"
        )


def libfaketime() -> str | None:
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    return found[0] if found else None


@pytest.fixture(scope="module")
def nodes(tandem_bin, tmp_path_factory):
    made = {}
    root = tmp_path_factory.mktemp("sts")
    for name, region, key, clock in [
        ("home", "us-east", SIGNING_KEY, None),
        ("other", "eu-west", SIGNING_KEY, None),
        ("stranger", "ap-south", "another-deployment-signing-key-0123456789", None),
        ("future", "sa-east", SIGNING_KEY, "+2h"),
    ]:
        n = Node(tandem_bin, root / name, region=region)
        if clock:
            lib = libfaketime()
            if lib is None:
                pytest.fail("libfaketime not found: apt-get install -y faketime (scripts/test.sh does)")
            n.env = {"LD_PRELOAD": lib, "FAKETIME": clock, "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_DONT_RESET": "1"}
        sts_config(n, key)
        n.start()
        made[name] = n
    home = made["home"]
    s3 = home.client("admin")
    s3.create_bucket(Bucket="media")
    s3.put_object(Bucket="media", Key="library/a.jpg", Body=b"old")
    ddb = ddb_client(home)
    ddb.create_table(
        TableName="media-index",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName="media-index", Item={"pk": {"S": "seed"}})
    yield made
    for n in made.values():
        n.stop()


def sts_client(node: Node, key: Key, token: str | None = None):
    return boto3.session.Session().client(
        "sts",
        endpoint_url=node.endpoint,
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret_access_key,
        aws_session_token=token,
        region_name=SIGNING_REGION,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def session_s3(node: Node, creds: dict):
    """A boto3 S3 client on temporary credentials (STS's `Credentials`)."""
    return boto3.session.Session().client(
        "s3",
        endpoint_url=node.endpoint,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=SIGNING_REGION,
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def session_env(node: Node, creds: dict) -> dict:
    env = dict(os.environ)
    env.update(
        AWS_ACCESS_KEY_ID=creds["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=creds["SecretAccessKey"],
        AWS_SESSION_TOKEN=creds["SessionToken"],
        AWS_DEFAULT_REGION=SIGNING_REGION,
        AWS_CONFIG_FILE=str(node.root / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(node.root / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_MAX_ATTEMPTS="1",
    )
    return env


def aws(node: Node, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["aws", "--endpoint-url", node.endpoint, *args], env=env, capture_output=True, text=True, timeout=120)


def assume_with_cli(node: Node) -> dict:
    bob = KEYS["bob"]
    env = session_env(node, {"AccessKeyId": bob.access_key_id, "SecretAccessKey": bob.secret_access_key, "SessionToken": ""})
    env.pop("AWS_SESSION_TOKEN")
    p = aws(node, env, "sts", "assume-role", "--role-arn", ROLE_ARN, "--role-session-name", "e2e", "--policy", json.dumps(SESSION_POLICY), "--duration-seconds", "900")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["AssumedRoleUser"]["Arn"] == "arn:aws:sts::000000000000:assumed-role/uploader/e2e"
    return out["Credentials"]


@pytest.fixture(scope="module")
def session(nodes):
    return assume_with_cli(nodes["home"])


def session_key(creds: dict) -> Key:
    return Key(creds["AccessKeyId"], creds["SecretAccessKey"], "session")


def test_the_cli_assumes_a_role_and_uses_it_inside_the_session_policy_only(nodes, session, tmp_path):
    home = nodes["home"]
    env = session_env(home, session)
    src = tmp_path / "photo.jpg"
    src.write_bytes(b"new photo")
    ok = aws(home, env, "s3", "cp", str(src), "s3://media/uploads/photo.jpg")
    assert ok.returncode == 0, ok.stderr
    assert home.client("admin").get_object(Bucket="media", Key="uploads/photo.jpg")["Body"].read() == b"new photo"
    # The role allows library/, the session policy does not.
    denied = aws(home, env, "s3", "cp", str(src), "s3://media/library/photo.jpg")
    assert denied.returncode != 0 and "AccessDenied" in denied.stderr, denied.stderr
    assert "library/photo.jpg" not in [o["Key"] for o in home.client("admin").list_objects_v2(Bucket="media").get("Contents", [])]
    # Listing: the role allows it, the session does not.
    assert "AccessDenied" in aws(home, env, "s3", "ls", "s3://media/").stderr
    # DynamoDB: GetItem is in both policies, PutItem only in the role's.
    got = aws(home, env, "dynamodb", "get-item", "--table-name", "media-index", "--key", '{"pk": {"S": "seed"}}')
    assert got.returncode == 0 and "seed" in got.stdout, got.stderr
    put = aws(home, env, "dynamodb", "put-item", "--table-name", "media-index", "--item", '{"pk": {"S": "by-session"}}')
    assert put.returncode != 0 and "AccessDeniedException" in put.stderr, put.stderr
    assert "Item" not in ddb_client(home).get_item(TableName="media-index", Key={"pk": {"S": "by-session"}})


def test_caller_identity_of_a_session_is_the_assumed_role(nodes, session):
    ident = sts_client(nodes["home"], session_key(session), session["SessionToken"]).get_caller_identity()
    assert ident["Arn"] == "arn:aws:sts::000000000000:assumed-role/uploader/e2e"
    assert ident["Account"] == "000000000000"
    assert ident["UserId"] == "uploader:e2e"


def test_another_region_with_the_same_key_accepts_the_session(nodes, session):
    other = nodes["other"]
    other.client("admin").create_bucket(Bucket="media")
    s3 = session_s3(other, session)
    s3.put_object(Bucket="media", Key="uploads/elsewhere", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="media", Key="library/elsewhere", Body=b"x")
    assert e.value.response["Error"]["Code"] == "AccessDenied"


def raw_with_token(node: Node, creds: dict, token: str, now: dt.datetime | None = None):
    return node.request(
        "GET",
        "/media/uploads/photo.jpg",
        headers={"x-amz-security-token": token},
        key=session_key(creds),
        payload_hash=sha256_hex(b""),
        now=now,
    )


def test_a_tampered_token_is_refused(nodes, session):
    token = session["SessionToken"]
    body, mac = token.split(".")
    tampered = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    r = raw_with_token(nodes["home"], session, tampered)
    assert r.status_code == 400 and b"<Code>InvalidToken</Code>" in r.content, describe(r)
    missing = nodes["home"].request("GET", "/media/uploads/photo.jpg", key=session_key(session))
    assert missing.status_code in (400, 403) and b"InvalidToken" in missing.content, describe(missing)


def test_a_node_with_another_signing_key_refuses_the_session(nodes, session):
    r = raw_with_token(nodes["stranger"], session, session["SessionToken"])
    # The derived secret differs too, so the signature itself fails first.
    assert r.status_code == 403, describe(r)
    assert b"SignatureDoesNotMatch" in r.content or b"InvalidToken" in r.content, describe(r)


def test_an_expired_session_is_refused_on_every_api(nodes, session):
    future = nodes["future"]
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)
    r = raw_with_token(future, session, session["SessionToken"], now=later)
    assert r.status_code == 400 and b"<Code>ExpiredToken</Code>" in r.content, describe(r)
    # DynamoDB, signed at the node's (shifted) time.
    body = json.dumps({"TableName": "media-index", "Key": {"pk": {"S": "seed"}}}).encode()
    headers = {
        "Host": f"127.0.0.1:{future.port}",
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "DynamoDB_20120810.GetItem",
        "x-amz-security-token": session["SessionToken"],
    }
    signed = sigv4_sign("POST", "/", [], headers, sha256_hex(body), session_key(session), now=later, service="dynamodb")
    resp = requests.post(future.endpoint + "/", data=body, headers=signed.headers, timeout=30)
    assert resp.status_code == 400 and "ExpiredTokenException" in resp.text, resp.text


def test_get_session_token_carries_the_parent_rights(nodes):
    home = nodes["home"]
    creds = sts_client(home, KEYS["admin"]).get_session_token(DurationSeconds=900)["Credentials"]
    s3 = session_s3(home, creds)
    assert s3.get_object(Bucket="media", Key="library/a.jpg")["Body"].read() == b"old"
    with pytest.raises(ClientError) as e:
        sts_client(home, session_key(creds), creds["SessionToken"]).get_session_token()
    assert e.value.response["Error"]["Code"] == "AccessDenied"


def test_only_trusted_keys_may_assume_the_role(nodes):
    with pytest.raises(ClientError) as e:
        sts_client(nodes["home"], KEYS["admin"]).assume_role(RoleArn=ROLE_ARN, RoleSessionName="nope")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as e:
        sts_client(nodes["home"], KEYS["bob"]).assume_role(RoleArn="arn:aws:iam::000000000000:role/missing", RoleSessionName="nope")
    assert e.value.response["Error"]["Code"] == "AccessDenied"


@pytest.mark.parametrize("secs", [3601, 43200])
def test_duration_outside_the_roles_bounds_is_refused(nodes, secs):
    with pytest.raises(ClientError) as e:
        sts_client(nodes["home"], KEYS["bob"]).assume_role(RoleArn=ROLE_ARN, RoleSessionName="dd", DurationSeconds=secs)
    assert e.value.response["Error"]["Code"] == "ValidationError"


def test_a_malformed_session_policy_is_refused(nodes):
    with pytest.raises(ClientError) as e:
        sts_client(nodes["home"], KEYS["bob"]).assume_role(RoleArn=ROLE_ARN, RoleSessionName="mm", Policy='{"Statement": 5}')
    assert e.value.response["Error"]["Code"] == "MalformedPolicyDocument"


def test_control_api_with_session_credentials_follows_the_parent(nodes, session):
    home = nodes["home"]
    admin_session = sts_client(home, KEYS["admin"]).get_session_token(DurationSeconds=900)["Credentials"]
    ok = home.request("GET", "/_tandem/changes", key=session_key(admin_session), headers={"x-amz-security-token": admin_session["SessionToken"]})
    assert ok.status_code == 200, describe(ok)
    refused = home.request("GET", "/_tandem/changes", key=session_key(session), headers={"x-amz-security-token": session["SessionToken"]})
    assert refused.status_code == 403 and b"AccessDenied" in refused.content, describe(refused)


def test_sts_needs_a_signed_request(nodes):
    r = requests.post(
        nodes["home"].endpoint + "/",
        data="Action=GetCallerIdentity&Version=2011-06-15",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert r.status_code == 403 and b"<Code>MissingAuthenticationToken</Code>" in r.content, describe(r)


def test_failed_authentications_are_counted_by_reason(nodes, session):
    home = nodes["home"]
    raw_with_token(home, session, "not-a-token")
    text = requests.get(home.endpoint + "/metrics", timeout=10).text
    reasons = {line.split('reason="')[1].split('"')[0] for line in text.splitlines() if line.startswith("tandem_auth_failures_total{")}
    assert {"invalid_token", "access_denied"} <= reasons, reasons
    assert session["SessionToken"] not in home.log_path.read_text(errors="replace")


# ------------------------------------------------ temporary credentials × every API

# Each API asked once with a session: (method, path, body, service, X-Amz-Target).
API_CALLS = {
    "s3": ("GET", "/media/uploads/matrix.txt", b"", "s3", None),
    "dynamodb": ("POST", "/", json.dumps({"TableName": "media-index", "Key": {"pk": {"S": "seed"}}}).encode(), "dynamodb", "DynamoDB_20120810.GetItem"),
    "streams": ("POST", "/", b"{}", "dynamodb", "DynamoDBStreams_20120810.ListStreams"),
    "sts": ("POST", "/", b"Action=GetCallerIdentity&Version=2011-06-15", "sts", None),
    "control": ("GET", "/_tandem/changes", b"", "s3", None),
    "replication": ("POST", "/_tandem/replication/apply", b"", "s3", None),
}

# What a valid session of the uploader role (SESSION_POLICY) gets from each API.
VALID_SESSION = {
    "s3": "200",
    "dynamodb": "200",
    "streams": "AccessDeniedException",  # ListStreams is in neither policy
    "sts": "200",
    "control": "AccessDenied",
    # The replication endpoint takes the replication credential only: no
    # session, however valid, is even looked at.
    "replication": "403 replication request refused",
}
EXPIRED = {"s3": "ExpiredToken", "dynamodb": "ExpiredTokenException", "streams": "ExpiredTokenException",
           "sts": "ExpiredToken", "control": "ExpiredToken", "replication": "403 replication request refused"}
TAMPERED = {"s3": "InvalidToken", "dynamodb": "UnrecognizedClientException", "streams": "UnrecognizedClientException",
            "sts": "InvalidClientTokenId", "control": "InvalidToken", "replication": "403 replication request refused"}


def call_api(node: Node, api: str, creds: dict, token: str, now: dt.datetime | None = None) -> str:
    """One signed request on session credentials: "200" or the error code answered."""
    method, path, body, service, target = API_CALLS[api]
    headers = {"Host": f"127.0.0.1:{node.port}", "x-amz-security-token": token}
    if target:
        headers.update({"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target})
    if api == "sts":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    signed = sigv4_sign(method, path, [], headers, sha256_hex(body), session_key(creds), now=now, service=service)
    r = requests.request(method, node.endpoint + path, data=body, headers=signed.headers, timeout=30)
    if r.status_code == 200:
        return "200"
    text = r.text
    if text.lstrip().startswith("{"):
        doc = json.loads(text)
        if "error" in doc:  # the replication endpoint's own answer
            return f"{r.status_code} {doc['error'].split(':')[0]}"
        return doc.get("__type", "").rsplit("#", 1)[-1] or f"{r.status_code} {text[:100]}"
    found = re.search(r"<Code>([^<]+)</Code>", text)
    return found.group(1) if found else f"{r.status_code} {text[:100]}"


@pytest.fixture(scope="module")
def matrix_object(nodes):
    # The future node's clock is 2 h ahead: a session expires there before
    # anything is looked up, so it needs no bucket or table.
    for name in ("home", "other"):
        s3 = nodes[name].client("admin")
        if name != "home":
            try:
                s3.create_bucket(Bucket="media")
            except ClientError as e:
                assert e.response["Error"]["Code"] == "BucketAlreadyOwnedByYou", e
        s3.put_object(Bucket="media", Key="uploads/matrix.txt", Body=b"m")
    for name in ("other",):
        ddb = ddb_client(nodes[name])
        try:
            ddb.create_table(
                TableName="media-index",
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        except ClientError as e:
            assert e.response["Error"]["Code"] == "ResourceInUseException", e


def tampered(token: str) -> str:
    body, mac = token.split(".")
    return body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac


@pytest.mark.parametrize("api", list(API_CALLS))
def test_every_api_answers_sessions_valid_expired_tampered_and_from_the_other_region(nodes, session, matrix_object, api):
    token = session["SessionToken"]
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)
    got = {
        "valid": call_api(nodes["home"], api, session, token),
        "other region": call_api(nodes["other"], api, session, token),
        "expired": call_api(nodes["future"], api, session, token, now=later),
        "tampered": call_api(nodes["home"], api, session, tampered(token)),
    }
    want = {"valid": VALID_SESSION[api], "other region": VALID_SESSION[api], "expired": EXPIRED[api], "tampered": TAMPERED[api]}
    assert got == want
