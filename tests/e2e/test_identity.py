"""Cognito-compatible user pools on every region node, driven with boto3's
`cognito-idp` client exactly as an application would (only the endpoint is
overridden), on two regions that replicate to each other:

- an admin creates a user with a temporary password; the first sign-in
  (`USER_PASSWORD_AUTH`) answers NEW_PASSWORD_REQUIRED; the new password gives
  tokens; the ID token verifies with PyJWT against the pool's JWKS endpoint;
- refresh through REFRESH_TOKEN_AUTH and GetTokensFromRefreshToken; global
  sign-out and RevokeToken revoke; a disabled user is refused; SignUp is
  refused; wrong passwords are refused and then throttled;
- a token minted in one region is accepted in the other, and a user created
  in one region signs in at the other within a second (measured, printed);
- the admin operations need a signature by a key allowed to administer users.
"""

from __future__ import annotations

import base64
import json
import time

import boto3
import jwt
import pytest
import requests
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from e2e_helpers import KEYS, SIGNING_REGION
from regions import RegionPair, wait_until

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


@pytest.fixture(scope="module")
def pair(tandem_bin, tmp_path_factory):
    p = RegionPair(tandem_bin, tmp_path_factory.mktemp("identity"), extra_config=identity_toml())
    p.start()
    yield p
    p.close()


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


def test_first_sign_in_needs_a_new_password_then_gives_tokens_that_verify_with_the_jwks(pair):
    user = create(pair, "us-east", "alice")
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD" and user["Enabled"] is True
    challenge = password_sign_in(pair, "us-east", "alice", "Temp-Passw0rd!")
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert "AuthenticationResult" not in challenge
    weak = pytest.raises(ClientError)
    with weak as e:
        idp(pair, "us-east", None).respond_to_auth_challenge(
            ClientId=CLIENT, ChallengeName="NEW_PASSWORD_REQUIRED", Session=challenge["Session"],
            ChallengeResponses={"USERNAME": "alice", "NEW_PASSWORD": "weak"},
        )
    assert code(e.value) == "InvalidPasswordException"
    tokens = idp(pair, "us-east", None).respond_to_auth_challenge(
        ClientId=CLIENT, ChallengeName="NEW_PASSWORD_REQUIRED", Session=challenge["Session"],
        ChallengeResponses={"USERNAME": "alice", "NEW_PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    assert tokens["TokenType"] == "Bearer" and tokens["ExpiresIn"] == 3600 and tokens["RefreshToken"]
    assert idp(pair, "us-east").admin_get_user(UserPoolId=POOL, Username="alice")["UserStatus"] == "CONFIRMED"

    # An independent library verifies the ID token with the pool's published key.
    jwks_url = f"{pair.endpoint('us-east')}/{POOL}/.well-known/jwks.json"
    signing = jwt.PyJWKClient(jwks_url).get_signing_key_from_jwt(tokens["IdToken"])
    claims = jwt.decode(tokens["IdToken"], signing.key, algorithms=["RS256"], audience=CLIENT,
                        issuer=f"{pair.endpoint('us-east')}/{POOL}")
    assert claims["cognito:username"] == "alice" and claims["token_use"] == "id"
    assert claims["email"] == "alice@example.test" and claims["email_verified"] is True
    assert claims["sub"] == user["Attributes"][0]["Value"]
    config = requests.get(f"{pair.endpoint('us-east')}/{POOL}/.well-known/openid-configuration", timeout=5).json()
    assert config["jwks_uri"] == jwks_url
    # The temporary password no longer works; the new one does.
    with pytest.raises(ClientError) as e:
        password_sign_in(pair, "us-east", "alice", "Temp-Passw0rd!")
    assert code(e.value) == "NotAuthorizedException"
    assert "AuthenticationResult" in password_sign_in(pair, "us-east", "alice", PASSWORD)


def test_refresh_works_both_ways_until_a_global_sign_out(pair):
    tokens = confirmed_user(pair, "us-east", "bruno")
    public = idp(pair, "us-east", None)
    refreshed = public.initiate_auth(ClientId=CLIENT, AuthFlow="REFRESH_TOKEN_AUTH",
                                     AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]})["AuthenticationResult"]
    assert refreshed["AccessToken"] != tokens["AccessToken"]
    again = public.get_tokens_from_refresh_token(ClientId=CLIENT, RefreshToken=tokens["RefreshToken"])["AuthenticationResult"]
    assert public.get_user(AccessToken=again["AccessToken"])["Username"] == "bruno"
    public.global_sign_out(AccessToken=refreshed["AccessToken"])
    for attempt in (
        lambda: public.initiate_auth(ClientId=CLIENT, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]}),
        lambda: public.get_tokens_from_refresh_token(ClientId=CLIENT, RefreshToken=tokens["RefreshToken"]),
        lambda: public.get_user(AccessToken=again["AccessToken"]),
    ):
        with pytest.raises(ClientError) as e:
            attempt()
        assert code(e.value) == "NotAuthorizedException"
    # Signing in again works.
    assert "AuthenticationResult" in password_sign_in(pair, "us-east", "bruno", PASSWORD)


def test_a_revoked_refresh_token_and_its_access_tokens_stop_working(pair):
    tokens = confirmed_user(pair, "us-east", "carla")
    public = idp(pair, "us-east", None)
    public.revoke_token(ClientId=CLIENT, Token=tokens["RefreshToken"])
    with pytest.raises(ClientError) as e:
        public.get_tokens_from_refresh_token(ClientId=CLIENT, RefreshToken=tokens["RefreshToken"])
    assert code(e.value) == "NotAuthorizedException"
    with pytest.raises(ClientError) as e:
        public.get_user(AccessToken=tokens["AccessToken"])
    assert code(e.value) == "NotAuthorizedException"
    # The revocation replicates: the other region refuses the token too.
    def refused_at_tokyo():
        try:
            idp(pair, "ap-tokyo", None).get_tokens_from_refresh_token(ClientId=CLIENT, RefreshToken=tokens["RefreshToken"])
        except ClientError as err:
            return code(err) == "NotAuthorizedException"
        return False
    wait_until(refused_at_tokyo, timeout=10, what="the revocation to reach ap-tokyo")


def test_a_disabled_user_is_refused_until_enabled(pair):
    tokens = confirmed_user(pair, "us-east", "dora")
    admin = idp(pair, "us-east")
    admin.admin_disable_user(UserPoolId=POOL, Username="dora")
    with pytest.raises(ClientError) as e:
        password_sign_in(pair, "us-east", "dora", PASSWORD)
    assert code(e.value) == "NotAuthorizedException" and "disabled" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        idp(pair, "us-east", None).get_tokens_from_refresh_token(ClientId=CLIENT, RefreshToken=tokens["RefreshToken"])
    assert code(e.value) == "NotAuthorizedException"
    assert admin.admin_get_user(UserPoolId=POOL, Username="dora")["Enabled"] is False
    admin.admin_enable_user(UserPoolId=POOL, Username="dora")
    assert "AuthenticationResult" in password_sign_in(pair, "us-east", "dora", PASSWORD)


def test_sign_up_is_refused(pair):
    with pytest.raises(ClientError) as e:
        idp(pair, "us-east", None).sign_up(ClientId=CLIENT, Username="mallory", Password=PASSWORD)
    assert code(e.value) == "NotAuthorizedException"
    with pytest.raises(ClientError) as e:
        idp(pair, "us-east").admin_get_user(UserPoolId=POOL, Username="mallory")
    assert code(e.value) == "UserNotFoundException"


def test_wrong_passwords_are_refused_then_throttled(pair):
    confirmed_user(pair, "us-east", "erin")
    answers = []
    for _ in range(6):
        with pytest.raises(ClientError) as e:
            password_sign_in(pair, "us-east", "erin", "Wrong-Passw0rd!")
        answers.append(e.value.response["Error"]["Message"])
    assert answers[:6] == ["Incorrect username or password."] * 6
    # Past five failures even the right password must wait.
    with pytest.raises(ClientError) as e:
        password_sign_in(pair, "us-east", "erin", PASSWORD)
    assert code(e.value) == "NotAuthorizedException"
    assert e.value.response["Error"]["Message"] == "Password attempts exceeded"
    # An unknown user gets the same answer as a wrong password.
    with pytest.raises(ClientError) as e:
        password_sign_in(pair, "us-east", "nobody", PASSWORD)
    assert e.value.response["Error"]["Message"] == "Incorrect username or password."


def test_a_token_minted_in_one_region_is_accepted_in_the_other(pair):
    tokens = confirmed_user(pair, "us-east", "farid")
    def accepted():
        return idp(pair, "ap-tokyo", None).get_user(AccessToken=tokens["AccessToken"])["Username"] == "farid"
    wait_until(accepted, timeout=10, what="ap-tokyo to accept a us-east token")
    refreshed = idp(pair, "ap-tokyo", None).get_tokens_from_refresh_token(ClientId=CLIENT, RefreshToken=tokens["RefreshToken"])
    assert refreshed["AuthenticationResult"]["AccessToken"]


def test_a_user_created_in_one_region_signs_in_at_the_other_within_a_second(pair):
    create(pair, "us-east", "gina")
    started = time.monotonic()
    def signed_in():
        try:
            return password_sign_in(pair, "ap-tokyo", "gina", "Temp-Passw0rd!")["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
        except ClientError:
            return False
    wait_until(signed_in, timeout=10, interval=0.02, what="gina to sign in at ap-tokyo")
    took = time.monotonic() - started
    print(f"\nuser created in us-east signed in at ap-tokyo after {took * 1000:.0f} ms")
    assert took < 1.0


def test_admin_operations_need_a_signature_by_an_allowed_key(pair):
    with pytest.raises(ClientError) as e:
        idp(pair, "us-east", None).admin_create_user(UserPoolId=POOL, Username="henry")
    assert code(e.value) == "MissingAuthenticationTokenException"
    with pytest.raises(ClientError) as e:
        idp(pair, "us-east", "bob").admin_create_user(UserPoolId=POOL, Username="henry")
    assert code(e.value) == "AccessDeniedException"
    assert "cognito-idp:AdminCreateUser" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        idp(pair, "us-east").admin_get_user(UserPoolId=POOL, Username="henry")
    assert code(e.value) == "UserNotFoundException"


def test_users_list_with_filters_and_pages_and_groups_reach_the_tokens(pair):
    admin = idp(pair, "us-east")
    for name in ("list-a", "list-b", "list-c"):
        create(pair, "us-east", name)
    page = admin.list_users(UserPoolId=POOL, Filter='username ^= "list-"', Limit=2)
    assert [u["Username"] for u in page["Users"]] == ["list-a", "list-b"]
    rest = admin.list_users(UserPoolId=POOL, Filter='username ^= "list-"', Limit=2, PaginationToken=page["PaginationToken"])
    assert [u["Username"] for u in rest["Users"]] == ["list-c"]
    exact = admin.list_users(UserPoolId=POOL, Filter='email = "list-b@example.test"')
    assert [u["Username"] for u in exact["Users"]] == ["list-b"]
    with pytest.raises(ClientError) as e:
        admin.admin_create_user(UserPoolId=POOL, Username="list-a")
    assert code(e.value) == "UsernameExistsException"

    tokens = confirmed_user(pair, "us-east", "ivan")
    admin.admin_add_user_to_group(UserPoolId=POOL, Username="ivan", GroupName="admins")
    with pytest.raises(ClientError) as e:
        admin.admin_add_user_to_group(UserPoolId=POOL, Username="ivan", GroupName="nope")
    assert code(e.value) == "ResourceNotFoundException"
    groups = admin.admin_list_groups_for_user(UserPoolId=POOL, Username="ivan")["Groups"]
    assert [g["GroupName"] for g in groups] == ["admins"]
    fresh = password_sign_in(pair, "us-east", "ivan", PASSWORD)["AuthenticationResult"]
    claims = jwt.decode(fresh["AccessToken"], options={"verify_signature": False})
    assert claims["cognito:groups"] == ["admins"] and claims["token_use"] == "access"
    assert "cognito:groups" not in jwt.decode(tokens["AccessToken"], options={"verify_signature": False})

    admin.admin_delete_user(UserPoolId=POOL, Username="list-c")
    with pytest.raises(ClientError) as e:
        admin.admin_get_user(UserPoolId=POOL, Username="list-c")
    assert code(e.value) == "UserNotFoundException"


def test_pools_and_clients_are_described(pair):
    admin = idp(pair, "us-east")
    pool = admin.describe_user_pool(UserPoolId=POOL)["UserPool"]
    assert pool["Name"] == "photos" and pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert [p["Id"] for p in admin.list_user_pools(MaxResults=10)["UserPools"]] == [POOL]
    client = admin.describe_user_pool_client(UserPoolId=POOL, ClientId=CLIENT)["UserPoolClient"]
    assert client["ClientName"] == "web"
    with pytest.raises(ClientError) as e:
        admin.describe_user_pool(UserPoolId="us-east-1_nope")
    assert code(e.value) == "ResourceNotFoundException"
