"""What the identity tests share: a pool config for two regions, boto3
cognito-idp clients of a region (signed by a test key or unsigned), and the
steps of creating and signing in a user."""

from __future__ import annotations

import base64

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from e2e_helpers import KEYS, SIGNING_REGION
from regions import RegionPair

POOL = "us-east-1_photos"
CLIENT = "photosweb"
PASSWORD = "N3w-Passw0rd!"


def signing_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return base64.b64encode(der).decode()


def identity_toml() -> str:
    return f"""
[identity]
signing_key = "{signing_key()}"

[[identity.user_pools]]
id = "{POOL}"
name = "photos"
app = "photos"
groups = ["admins", "viewers"]
token_minutes = 60

[[identity.user_pools.clients]]
id = "{CLIENT}"
name = "web"
"""


def idp(pair: RegionPair, region: str, principal: str | None = "admin"):
    """A cognito-idp client of a region, signing as `principal` (None: unsigned)."""
    cfg = Config(retries={"total_max_attempts": 1, "mode": "standard"})
    if principal is None:
        return boto3.session.Session().client(
            "cognito-idp", endpoint_url=pair.endpoint(region), region_name=SIGNING_REGION,
            config=cfg.merge(Config(signature_version=UNSIGNED)),
        )
    key = KEYS[principal]
    return boto3.session.Session().client(
        "cognito-idp", endpoint_url=pair.endpoint(region), region_name=SIGNING_REGION,
        aws_access_key_id=key.access_key_id, aws_secret_access_key=key.secret_access_key, config=cfg,
    )


def code(e: ClientError) -> str:
    return e.response["Error"]["Code"]


def create(pair, region: str, username: str, temporary: str = "Temp-Passw0rd!") -> dict:
    return idp(pair, region).admin_create_user(
        UserPoolId=POOL, Username=username, TemporaryPassword=temporary, MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": f"{username}@example.test"}, {"Name": "email_verified", "Value": "true"}],
    )["User"]


def password_sign_in(pair, region: str, username: str, password: str) -> dict:
    return idp(pair, region, None).initiate_auth(
        ClientId=CLIENT, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": username, "PASSWORD": password}
    )


def confirmed_user(pair, region: str, username: str) -> dict:
    """Creates a user, completes the first sign-in, and returns its tokens."""
    create(pair, region, username)
    challenge = password_sign_in(pair, region, username, "Temp-Passw0rd!")
    answer = idp(pair, region, None).respond_to_auth_challenge(
        ClientId=CLIENT, ChallengeName="NEW_PASSWORD_REQUIRED", Session=challenge["Session"],
        ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": PASSWORD},
    )
    return answer["AuthenticationResult"]
