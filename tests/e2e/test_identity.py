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
- the admin operations need a signature by a key allowed to administer users;
- pycognito's `USER_SRP_AUTH` (the SRP sign-in Amplify and pycognito use by
  default) through the first sign-in's new password and on later sign-ins,
  with the challenge answered in the other region; a wrong password, a
  replayed answer, a tampered secret block, a stale timestamp and an unknown
  user are refused;
- the operator CLI `tandem user create | list | disable | enable |
  reset-password | delete`.
"""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
import requests
from botocore.exceptions import ClientError
from pycognito.aws_srp import AWSSRP

from identity_helpers import (
    CLIENT, PASSWORD, POOL, code, confirmed_user, create, identity_toml, idp, password_sign_in,
)
from regions import RegionPair, wait_until


@pytest.fixture(scope="module")
def pair(tandem_bin, tmp_path_factory):
    p = RegionPair(tandem_bin, tmp_path_factory.mktemp("identity"), extra_config=identity_toml())
    p.start()
    yield p
    p.close()


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


def test_a_user_created_or_disabled_in_one_region_counts_in_the_other_within_a_second(pair):
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

    idp(pair, "us-east").admin_disable_user(UserPoolId=POOL, Username="gina")
    started = time.monotonic()
    def refused():
        try:
            password_sign_in(pair, "ap-tokyo", "gina", "Temp-Passw0rd!")
        except ClientError as e:
            return "disabled" in e.response["Error"]["Message"]
        return False
    wait_until(refused, timeout=10, interval=0.02, what="gina to be refused at ap-tokyo")
    took = time.monotonic() - started
    print(f"user disabled in us-east refused at ap-tokyo after {took * 1000:.0f} ms")
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


def srp(pair, region: str, username: str, password: str) -> AWSSRP:
    """pycognito's SRP client for a user, talking to one region."""
    return AWSSRP(username=username, password=password, pool_id=POOL, client_id=CLIENT,
                  client=idp(pair, region, None))


def srp_challenge(pair, region: str, client: AWSSRP) -> tuple[dict, dict]:
    """InitiateAuth with USER_SRP_AUTH: the PASSWORD_VERIFIER challenge and the answer pycognito computes."""
    params = client.get_auth_params()
    challenge = idp(pair, region, None).initiate_auth(ClientId=CLIENT, AuthFlow="USER_SRP_AUTH", AuthParameters=params)
    assert challenge["ChallengeName"] == "PASSWORD_VERIFIER"
    assert set(challenge["ChallengeParameters"]) == {"SALT", "SECRET_BLOCK", "SRP_B", "USERNAME", "USER_ID_FOR_SRP"}
    return challenge, client.process_challenge(challenge["ChallengeParameters"], params)


def answer_verifier(pair, region: str, responses: dict) -> dict:
    return idp(pair, region, None).respond_to_auth_challenge(
        ClientId=CLIENT, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=responses)


def test_srp_sign_in_with_pycognito_from_the_first_new_password_on(pair):
    create(pair, "us-east", "srp-ana")
    first = srp(pair, "us-east", "srp-ana", "Temp-Passw0rd!").set_new_password_challenge(PASSWORD)
    assert first["AuthenticationResult"]["TokenType"] == "Bearer"
    assert idp(pair, "us-east").admin_get_user(UserPoolId=POOL, Username="srp-ana")["UserStatus"] == "CONFIRMED"
    # Later sign-ins, many times over: the salts, a and b are random each time,
    # so the rounds cover the padding cases of the hex integers.
    for _ in range(12):
        tokens = srp(pair, "us-east", "srp-ana", PASSWORD).authenticate_user()["AuthenticationResult"]
        assert idp(pair, "us-east", None).get_user(AccessToken=tokens["AccessToken"])["Username"] == "srp-ana"
    # The password set through SRP works with USER_PASSWORD_AUTH too, and the other way round.
    assert "AuthenticationResult" in password_sign_in(pair, "us-east", "srp-ana", PASSWORD)
    confirmed_user(pair, "us-east", "srp-ben")
    assert srp(pair, "us-east", "srp-ben", PASSWORD).authenticate_user()["AuthenticationResult"]["IdToken"]


def test_an_srp_challenge_from_one_region_is_answered_in_the_other(pair):
    confirmed_user(pair, "us-east", "srp-cleo")
    wait_until(lambda: idp(pair, "ap-tokyo").admin_get_user(UserPoolId=POOL, Username="srp-cleo")["UserStatus"] == "CONFIRMED",
               timeout=10, what="srp-cleo's new password to reach ap-tokyo")
    _, responses = srp_challenge(pair, "us-east", srp(pair, "us-east", "srp-cleo", PASSWORD))
    tokens = answer_verifier(pair, "ap-tokyo", responses)["AuthenticationResult"]
    assert idp(pair, "ap-tokyo", None).get_user(AccessToken=tokens["AccessToken"])["Username"] == "srp-cleo"


def test_srp_refuses_a_wrong_password_a_replay_a_tampered_block_a_stale_clock_and_an_unknown_user(pair):
    confirmed_user(pair, "us-east", "srp-dev")
    def refused(responses: dict) -> tuple[str, str]:
        with pytest.raises(ClientError) as e:
            answer_verifier(pair, "us-east", responses)
        return code(e.value), e.value.response["Error"]["Message"]

    _, wrong = srp_challenge(pair, "us-east", srp(pair, "us-east", "srp-dev", "Wrong-Passw0rd!"))
    assert refused(wrong) == ("NotAuthorizedException", "Incorrect username or password.")

    _, right = srp_challenge(pair, "us-east", srp(pair, "us-east", "srp-dev", PASSWORD))
    assert "AuthenticationResult" in answer_verifier(pair, "us-east", right)
    assert refused(right)[0] == "NotAuthorizedException", "an answer is good for one sign-in"

    _, tampered = srp_challenge(pair, "us-east", srp(pair, "us-east", "srp-dev", PASSWORD))
    block = bytearray(base64.b64decode(tampered["PASSWORD_CLAIM_SECRET_BLOCK"]))
    block[20] ^= 1
    tampered["PASSWORD_CLAIM_SECRET_BLOCK"] = base64.b64encode(bytes(block)).decode()
    assert refused(tampered)[0] == "NotAuthorizedException"

    _, stale = srp_challenge(pair, "us-east", srp(pair, "us-east", "srp-dev", PASSWORD))
    stale["TIMESTAMP"] = "Mon Jan 5 10:00:00 UTC 2015"
    assert refused(stale)[0] == "NotAuthorizedException"
    stale["TIMESTAMP"] = "yesterday"
    assert refused(stale) == ("InvalidParameterException", "TIMESTAMP format should be EEE MMM d HH:mm:ss z yyyy in english.")

    # An unknown user gets a challenge like anyone else's (the same salt each
    # time, as a real user's), and no password answers it.
    challenge, unknown = srp_challenge(pair, "us-east", srp(pair, "us-east", "srp-nobody", PASSWORD))
    assert len(challenge["ChallengeParameters"]["SRP_B"]) > 700
    again, _ = srp_challenge(pair, "us-east", srp(pair, "us-east", "srp-nobody", PASSWORD))
    assert again["ChallengeParameters"]["SALT"] == challenge["ChallengeParameters"]["SALT"]
    assert again["ChallengeParameters"]["SRP_B"] != challenge["ChallengeParameters"]["SRP_B"]
    assert refused(unknown) == ("NotAuthorizedException", "Incorrect username or password.")

    with pytest.raises(ClientError) as e:
        idp(pair, "us-east", None).initiate_auth(ClientId=CLIENT, AuthFlow="USER_SRP_AUTH",
                                                 AuthParameters={"USERNAME": "srp-dev", "SRP_A": "0"})
    assert code(e.value) == "InvalidParameterException"


def test_the_operator_cli_administers_users(pair):
    def tandem(*args: str, principal: str = "admin"):
        return pair.tandem("user", *args, principal=principal)

    made = tandem("create", "--app", "photos", "--email", "zed@example.test", "--group", "admins")
    assert made.returncode == 0, made.stderr
    temporary = made.stdout.strip().splitlines()[-1]
    assert "created zed@example.test in us-east-1_photos (FORCE_CHANGE_PASSWORD)" in made.stdout
    assert password_sign_in(pair, "us-east", "zed@example.test", temporary)["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    groups = idp(pair, "us-east").admin_list_groups_for_user(UserPoolId=POOL, Username="zed@example.test")["Groups"]
    assert [g["GroupName"] for g in groups] == ["admins"]

    listed = tandem("list", "--output", "json")
    assert listed.returncode == 0, listed.stderr
    names = [u["Username"] for u in json.loads(listed.stdout)["users"]]
    assert "zed@example.test" in names and len(names) == len(set(names))
    text = tandem("list")
    assert "zed@example.test" in text.stdout and "FORCE_CHANGE_PASSWORD" in text.stdout

    assert tandem("disable", "zed@example.test").returncode == 0
    with pytest.raises(ClientError) as e:
        password_sign_in(pair, "us-east", "zed@example.test", temporary)
    assert "disabled" in e.value.response["Error"]["Message"]
    assert tandem("enable", "zed@example.test").returncode == 0

    reset = tandem("reset-password", "zed@example.test")
    assert reset.returncode == 0, reset.stderr
    fresh = reset.stdout.strip().splitlines()[-1]
    assert fresh != temporary
    assert password_sign_in(pair, "us-east", "zed@example.test", fresh)["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    with pytest.raises(ClientError):
        password_sign_in(pair, "us-east", "zed@example.test", temporary)

    assert tandem("delete", "zed@example.test").returncode == 0
    with pytest.raises(ClientError) as e:
        idp(pair, "us-east").admin_get_user(UserPoolId=POOL, Username="zed@example.test")
    assert code(e.value) == "UserNotFoundException"

    # Mistakes get a message that says what to fix, and a failing exit status.
    wrong_app = tandem("list", "--app", "notes")
    assert wrong_app.returncode == 1 and "no user pool for app \"notes\"" in wrong_app.stderr
    missing = tandem("disable", "nobody-here")
    assert missing.returncode == 1 and "UserNotFoundException" in missing.stderr
    denied = tandem("create", "--email", "eve@example.test", principal="bob")
    assert denied.returncode == 1 and "AccessDeniedException" in denied.stderr


def test_no_password_key_or_token_reaches_the_logs(pair):
    """Runs last: everything above has signed in, failed, refreshed and reset."""
    secrets = [PASSWORD, "Temp-Passw0rd!", "Wrong-Passw0rd!", pair_signing_key_head(pair)]
    for name, node in pair.nodes.items():
        log = node.log_path.read_text(errors="replace")
        assert "identity: passwords hashed with argon2id" in log
        for secret in secrets:
            assert secret not in log, f"{name}'s log holds a secret"
        assert "eyJ" not in log, f"{name}'s log holds a JWT"


def pair_signing_key_head(pair) -> str:
    text = pair.config_path.read_text()
    key = text.split("[identity]", 1)[1].split('signing_key = "', 1)[1].split('"', 1)[0]
    return key[40:80]
