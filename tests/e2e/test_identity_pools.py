"""Identity pools on two replicating regions, with boto3's `cognito-identity`
client exactly as an app uses it (unsigned, only the endpoint overridden):

- GetId and GetCredentialsForIdentity turn a user pool ID token into
  temporary credentials of the pool's role; boto3 `s3` and `dynamodb` with
  them may use the user's own prefix (`${cognito-identity.amazonaws.com:sub}`
  in the role policy) and the app's table, and are denied another user's
  prefix, another app's bucket and another table;
- the identity id is the same in both regions and credentials minted in one
  work in the other; two identity pools of one user pool give distinct identities;
- GetOpenIdToken's token verifies with PyJWT against the pool's JWKS;
- no login, a login under the wrong provider key, a tampered or access token,
  someone else's identity id, an unknown pool and a signed-out user are refused.
"""

from __future__ import annotations

import json

import boto3
import jwt
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from e2e_helpers import SIGNING_REGION
from identity_helpers import CLIENT, POOL, code, confirmed_user, identity_toml, idp
from regions import RegionPair, wait_until

IDENTITY_POOL = "us-east-1:photos-users"
# A second identity pool on the same user pool: each gives its own identities.
OTHER_IDENTITY_POOL = "us-east-1:photos-kiosk"
BUCKET = "photos-media"
OTHER_BUCKET = "notes-media"
TABLE = "photos"
OTHER_TABLE = "notes"

ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
         "Resource": f"arn:aws:s3:::{BUCKET}/private/${{cognito-identity.amazonaws.com:sub}}/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}",
         "Condition": {"StringLike": {"s3:prefix": "private/${cognito-identity.amazonaws.com:sub}/*"}}},
        {"Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query"],
         "Resource": f"arn:aws:dynamodb:*:*:table/{TABLE}"},
    ],
}


def pools_toml() -> str:
    return identity_toml() + f"""
[sts]
signing_key = "identity-pool-test-session-signing-key-0123456789"

[[roles]]
name = "photos-user"
trust = []
policy = '''{json.dumps(ROLE_POLICY)}'''

[[identity.identity_pools]]
id = "{IDENTITY_POOL}"
user_pool = "{POOL}"
role = "photos-user"

[[identity.identity_pools]]
id = "{OTHER_IDENTITY_POOL}"
user_pool = "{POOL}"
role = "photos-user"
"""


@pytest.fixture(scope="module")
def pair(tandem_bin, tmp_path_factory):
    p = RegionPair(tandem_bin, tmp_path_factory.mktemp("identity-pools"), extra_config=pools_toml())
    p.start()
    for bucket in (BUCKET, OTHER_BUCKET):
        p.s3("us-east").create_bucket(Bucket=bucket)
    for region in p.names:
        for table in (TABLE, OTHER_TABLE):
            p.ddb(region).create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                                       AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                                       KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    yield p
    p.close()


def identity_client(pair: RegionPair, region: str):
    return boto3.session.Session().client(
        "cognito-identity", endpoint_url=pair.endpoint(region), region_name=SIGNING_REGION,
        config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def provider(pair: RegionPair, region: str) -> str:
    """The Logins key: the ID token's issuer without its scheme, as Amplify forms it."""
    return f"{pair.endpoint(region).split('://', 1)[1]}/{POOL}"


def signed_in(pair: RegionPair, username: str) -> tuple[dict, dict]:
    """A confirmed user's tokens and their Logins map."""
    tokens = confirmed_user(pair, "us-east", username)
    return tokens, {provider(pair, "us-east"): tokens["IdToken"]}


def credentials(pair: RegionPair, region: str, logins: dict) -> tuple[str, dict]:
    cognito = identity_client(pair, region)
    identity_id = cognito.get_id(IdentityPoolId=IDENTITY_POOL, Logins=logins)["IdentityId"]
    got = cognito.get_credentials_for_identity(IdentityId=identity_id, Logins=logins)
    assert got["IdentityId"] == identity_id
    return identity_id, got["Credentials"]


def as_user(pair: RegionPair, region: str, service: str, creds: dict):
    return boto3.session.Session().client(
        service, endpoint_url=pair.endpoint(region), region_name=SIGNING_REGION,
        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretKey"],
        aws_session_token=creds["SessionToken"],
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, s3={"addressing_style": "path"}),
    )


def denied(call) -> str:
    with pytest.raises(ClientError) as e:
        call()
    return code(e.value)


def test_credentials_reach_the_users_own_prefix_and_the_apps_table_only(pair):
    _, logins = signed_in(pair, "pia")
    identity_id, creds = credentials(pair, "us-east", logins)
    assert identity_id.startswith("us-east-1:") and creds["AccessKeyId"].startswith("ASIA")
    _, bob_logins = signed_in(pair, "quinn")
    other_id, _ = credentials(pair, "us-east", bob_logins)
    assert other_id != identity_id

    s3 = as_user(pair, "us-east", "s3", creds)
    own = f"private/{identity_id}/cat.jpg"
    s3.put_object(Bucket=BUCKET, Key=own, Body=b"meow")
    assert s3.get_object(Bucket=BUCKET, Key=own)["Body"].read() == b"meow"
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"private/{identity_id}/")
    assert [o["Key"] for o in listed["Contents"]] == [own]
    assert denied(lambda: s3.put_object(Bucket=BUCKET, Key=f"private/{other_id}/x.jpg", Body=b"x")) == "AccessDenied"
    assert denied(lambda: s3.list_objects_v2(Bucket=BUCKET, Prefix=f"private/{other_id}/")) == "AccessDenied"
    assert denied(lambda: s3.put_object(Bucket=OTHER_BUCKET, Key=f"private/{identity_id}/x", Body=b"x")) == "AccessDenied"

    ddb = as_user(pair, "us-east", "dynamodb", creds)
    ddb.put_item(TableName=TABLE, Item={"pk": {"S": identity_id}, "title": {"S": "cat"}})
    assert ddb.get_item(TableName=TABLE, Key={"pk": {"S": identity_id}})["Item"]["title"] == {"S": "cat"}
    assert denied(lambda: ddb.put_item(TableName=OTHER_TABLE, Item={"pk": {"S": "x"}})) == "AccessDeniedException"


def test_the_identity_and_its_credentials_are_the_same_in_both_regions(pair):
    _, logins = signed_in(pair, "rosa")
    identity_id, creds = credentials(pair, "us-east", logins)
    tokyo_id, tokyo_creds = wait_until(lambda: credentials(pair, "ap-tokyo", logins), timeout=10,
                                       what="rosa to reach ap-tokyo")
    assert tokyo_id == identity_id
    # Credentials minted in either region work in the other, with the same rights.
    for region, got in (("ap-tokyo", creds), ("us-east", tokyo_creds)):
        ddb = as_user(pair, region, "dynamodb", got)
        ddb.put_item(TableName=TABLE, Item={"pk": {"S": f"{identity_id}/{region}"}})
        assert ddb.get_item(TableName=TABLE, Key={"pk": {"S": f"{identity_id}/{region}"}})["Item"]
        assert denied(lambda: ddb.put_item(TableName=OTHER_TABLE, Item={"pk": {"S": "x"}})) == "AccessDeniedException"
    s3 = as_user(pair, "us-east", "s3", tokyo_creds)
    s3.put_object(Bucket=BUCKET, Key=f"private/{identity_id}/from-tokyo-creds.jpg", Body=b"x")
    assert denied(lambda: s3.put_object(Bucket=BUCKET, Key="private/someone-else/x", Body=b"x")) == "AccessDenied"


def test_two_identity_pools_of_one_user_pool_give_each_its_own_identity(pair):
    _, logins = signed_in(pair, "vera")
    cognito = identity_client(pair, "us-east")
    ids = [cognito.get_id(IdentityPoolId=p, Logins=logins)["IdentityId"] for p in (IDENTITY_POOL, OTHER_IDENTITY_POOL)]
    assert ids[0] != ids[1]
    for identity_id in ids:
        got = cognito.get_credentials_for_identity(IdentityId=identity_id, Logins=logins)
        assert got["IdentityId"] == identity_id and got["Credentials"]["AccessKeyId"].startswith("ASIA")


def test_an_openid_token_names_the_identity_and_verifies_with_the_jwks(pair):
    _, logins = signed_in(pair, "sami")
    cognito = identity_client(pair, "us-east")
    identity_id = cognito.get_id(IdentityPoolId=IDENTITY_POOL, Logins=logins)["IdentityId"]
    got = cognito.get_open_id_token(IdentityId=identity_id, Logins=logins)
    signing = jwt.PyJWKClient(f"{pair.endpoint('us-east')}/{POOL}/.well-known/jwks.json").get_signing_key_from_jwt(got["Token"])
    claims = jwt.decode(got["Token"], signing.key, algorithms=["RS256"], audience=IDENTITY_POOL)
    assert claims["sub"] == identity_id and "authenticated" in claims["amr"]


def test_bad_logins_are_refused(pair):
    tokens, logins = signed_in(pair, "tove")
    cognito = identity_client(pair, "us-east")
    identity_id = cognito.get_id(IdentityPoolId=IDENTITY_POOL, Logins=logins)["IdentityId"]
    key = provider(pair, "us-east")

    assert denied(lambda: cognito.get_id(IdentityPoolId=IDENTITY_POOL)) == "NotAuthorizedException"
    assert denied(lambda: cognito.get_id(IdentityPoolId=IDENTITY_POOL,
                                         Logins={f"cognito-idp.us-east-1.amazonaws.com/{POOL}": tokens["IdToken"]})) == "NotAuthorizedException"
    head, payload, signature = tokens["IdToken"].split(".")
    tampered = f"{head}.{payload}.{signature[:-4]}AAAA"
    assert denied(lambda: cognito.get_id(IdentityPoolId=IDENTITY_POOL, Logins={key: tampered})) == "NotAuthorizedException"
    assert denied(lambda: cognito.get_id(IdentityPoolId=IDENTITY_POOL, Logins={key: tokens["AccessToken"]})) == "NotAuthorizedException"
    assert denied(lambda: cognito.get_id(IdentityPoolId="us-east-1:nope", Logins=logins)) == "ResourceNotFoundException"

    _, other_logins = signed_in(pair, "ugo")
    other_id = cognito.get_id(IdentityPoolId=IDENTITY_POOL, Logins=other_logins)["IdentityId"]
    assert denied(lambda: cognito.get_credentials_for_identity(IdentityId=other_id, Logins=logins)) == "NotAuthorizedException"

    # After a global sign-out the ID token no longer gives credentials.
    idp(pair, "us-east", None).global_sign_out(AccessToken=tokens["AccessToken"])
    assert denied(lambda: cognito.get_credentials_for_identity(IdentityId=identity_id, Logins=logins)) == "NotAuthorizedException"
