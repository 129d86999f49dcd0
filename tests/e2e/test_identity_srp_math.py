"""tandem's SRP server side against an independent client: pycognito's AWSSRP.

pycognito is what Python users sign in to Amazon Cognito with (USER_SRP_AUTH).
Its client math runs here without any network (a fake pool id and client), and
its answers are checked by tandem's server math (crates/identity/src/srp.rs)
through the example crates/identity/examples/srp_server.rs, one JSON request
per line. Salts, a, b are random in every round, so many rounds cover the
padHex cases (a salt or B with the top bit set or not, S or u of odd hex length).
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from pycognito import aws_srp
from pycognito.aws_srp import AWSSRP

REPO_ROOT = Path(__file__).resolve().parents[2]
POOL_NAME = "AbC123xyz"
POOL_ID = f"us-east-1_{POOL_NAME}"
ROUNDS = 64


def srp_server_binary() -> str:
    """The example binary: next to TANDEM_BIN when TANDEM_E2E_NO_BUILD=1, else built by cargo."""
    if os.environ.get("TANDEM_E2E_NO_BUILD") == "1" and os.environ.get("TANDEM_BIN"):
        return str(Path(os.environ["TANDEM_BIN"]).parent / "examples" / "srp_server")
    # --workspace --examples: the features `cargo test --release --workspace` built it with, so
    # after that step this build has nothing to do.
    p = subprocess.run(
        ["cargo", "build", "--release", "--locked", "--workspace", "--examples", "--message-format=json"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=1800,
    )
    if p.returncode != 0:
        pytest.fail("building the srp_server example failed:\n" + p.stderr[-4000:], pytrace=False)
    for line in p.stdout.splitlines():
        message = json.loads(line)
        if message.get("reason") == "compiler-artifact" and message["target"]["name"] == "srp_server":
            return message["executable"]
    pytest.fail("cargo named no srp_server executable", pytrace=False)


class SrpServer:
    def __init__(self, binary: str):
        self.proc = subprocess.Popen([binary], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, **request) -> dict:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"srp_server exited ({self.proc.poll()})"
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        assert self.proc.wait(timeout=10) == 0


@pytest.fixture(scope="module")
def server():
    s = SrpServer(srp_server_binary())
    yield s
    s.close()


@pytest.fixture
def clock(monkeypatch):
    """Sets the UTC time pycognito's process_challenge signs."""

    def set_to(at: datetime.datetime):
        frozen = SimpleNamespace(utcnow=lambda: at)
        monkeypatch.setattr(aws_srp, "datetime", SimpleNamespace(datetime=frozen))

    return set_to


def client(user: str, password: str) -> AWSSRP:
    # client=object(): no boto3 client, no network; only the math is used.
    return AWSSRP(username=user, password=password, pool_id=POOL_ID, client_id="tandemclient", client=object())


def sign_in(server: SrpServer, user: str, stored_password: str, client_password: str, **tamper) -> dict:
    """A whole exchange: verifier for stored_password, pycognito answering with
    client_password, and the server's verdict (after `tamper` overrides)."""
    verifier = server.ask(op="verifier", pool_name=POOL_NAME, user_id=user, password=stored_password)
    srp = client(user, client_password)
    srp_a = srp.get_auth_params()["SRP_A"]
    half = server.ask(op="start", verifier=verifier, srp_a=srp_a)
    assert "error" not in half, half
    secret_block = base64.standard_b64encode(os.urandom(48)).decode()
    challenge = {"USER_ID_FOR_SRP": user, "USERNAME": user, "SALT": half["salt"], "SRP_B": half["srp_b"],
                 "SECRET_BLOCK": secret_block}
    answer = srp.process_challenge(challenge, {"USERNAME": user})
    assert answer["PASSWORD_CLAIM_SECRET_BLOCK"] == secret_block
    check = {"op": "check", "pool_name": POOL_NAME, "user_id": user, "verifier": verifier,
             "secret_b": half["secret_b"], "srp_a": srp_a, "secret_block": secret_block,
             "timestamp": answer["TIMESTAMP"], "signature": answer["PASSWORD_CLAIM_SIGNATURE"]}
    check.update(tamper)
    return {"verdict": server.ask(**check), "verifier": verifier, "half": half, "timestamp": answer["TIMESTAMP"]}


def test_the_verifier_is_g_to_the_x_as_pycognito_computes_x(server):
    for user, password in [("alice", "pw"), ("bøb", "pässwörd ✓"), ("7c0e2f1e-uuid-like", "x" * 200)]:
        verifier = server.ask(op="verifier", pool_name=POOL_NAME, user_id=user, password=password)
        salt = verifier["salt"]
        assert aws_srp.pad_hex(salt) == salt, "SALT is sent in the form every client hashes"
        assert int(salt, 16) < 2**128
        password_hash = aws_srp.hash_sha256(f"{POOL_NAME}{user}:{password}".encode())
        x = aws_srp.hex_to_long(aws_srp.hex_hash(aws_srp.pad_hex(salt) + password_hash))
        expected = pow(2, x, aws_srp.hex_to_long(aws_srp.N_HEX))
        assert int(verifier["verifier"], 16) == expected


def test_pycognito_signs_in_over_many_random_rounds(server, clock):
    salts_with_top_bit, b_with_top_bit, started = 0, 0, time.monotonic()
    for i in range(ROUNDS):
        # Days on both sides of 10 (the day is not zero-padded).
        clock(datetime.datetime(2026, 12, 1 + i % 28, i % 24, 7, 9))
        user = f"user-{i}-ü"
        password = f"Secret-{i}-{os.urandom(4).hex()}"
        result = sign_in(server, user, password, password)
        assert result["verdict"] == {"ok": True}, (i, result)
        salts_with_top_bit += result["verifier"]["salt"].startswith("00")
        b_with_top_bit += int(result["half"]["srp_b"], 16).bit_length() % 8 == 0
    print(f"{ROUNDS} pycognito sign-ins in {time.monotonic() - started:.2f} s; "
          f"salts with the top bit set: {salts_with_top_bit}, B with the top bit set: {b_with_top_bit}")
    assert 0 < salts_with_top_bit < ROUNDS, "both salt forms were exercised"
    assert 0 < b_with_top_bit < ROUNDS, "both B forms were exercised"


def test_the_timestamp_has_no_zero_padded_day(server, clock):
    clock(datetime.datetime(2026, 12, 1, 7, 10, 20))
    result = sign_in(server, "alice", "pw", "pw")
    assert result["timestamp"] == "Tue Dec 1 07:10:20 UTC 2026"
    assert result["verdict"] == {"ok": True}


def test_a_wrong_password_is_refused(server):
    result = sign_in(server, "alice", "right password", "wrong password")
    assert result["verdict"]["error"] == "NotAuthorized", result
    assert result["verdict"]["message"] == "Incorrect username or password."


def test_a_tampered_secret_block_timestamp_or_user_is_refused(server, clock):
    clock(datetime.datetime(2026, 12, 1, 7, 10, 20))
    other_block = base64.standard_b64encode(os.urandom(48)).decode()
    for tamper in [{"secret_block": other_block}, {"timestamp": "Tue Dec 1 07:10:21 UTC 2026"},
                   {"user_id": "alicE"}, {"pool_name": "AbC123xyZ"}]:
        result = sign_in(server, "alice", "pw", "pw", **tamper)
        assert result["verdict"]["error"] == "NotAuthorized", (tamper, result)


def test_a_timestamp_cognito_cannot_read_is_an_invalid_parameter(server):
    result = sign_in(server, "alice", "pw", "pw", timestamp="2026-12-01T07:10:20Z")
    assert result["verdict"] == {
        "error": "InvalidParameter",
        "message": "TIMESTAMP format should be EEE MMM d HH:mm:ss z yyyy in english.",
    }


def test_a_bad_srp_a_is_refused(server):
    verifier = server.ask(op="verifier", pool_name=POOL_NAME, user_id="alice", password="pw")
    n = aws_srp.hex_to_long(aws_srp.N_HEX)
    for srp_a in ["", "0", "00", "zz", aws_srp.N_HEX, f"{2 * n:x}", "1" * 771]:
        half = server.ask(op="start", verifier=verifier, srp_a=srp_a)
        assert half.get("error") == "InvalidParameter", (srp_a, half)
