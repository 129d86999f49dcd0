"""The web console's endpoints on a node (`/_tandem/console`), as a hostile
or mistaken client meets them: the static files and their headers, signing
in with a key's secret or with temporary credentials (and every way that is
refused), the console session every data request carries in its header
(and what does not stand for one: a key id, an STS token, a forgery), and
the drill reports a region keeps (`/_tandem/drills`). The page itself is
driven in Chromium by tests/browser/console.test.mjs."""

from __future__ import annotations

import boto3
import pytest
import requests

from e2e_helpers import KEYS, SIGNING_REGION, Node, describe, write_config

SIGNING_KEY = "e2e-console-signing-key-0123456789abcdef012345"
ADMIN, BOB = KEYS["admin"], KEYS["bob"]
CONSOLE = "/_tandem/console"


@pytest.fixture(scope="module")
def console_node(tandem_bin, tmp_path_factory):
    """A node with the deployment's session key (which console sessions need)."""
    node = Node(tandem_bin, tmp_path_factory.mktemp("console"))
    node.root.mkdir(parents=True, exist_ok=True)
    write_config(
        node.config_path,
        [{"name": node.region, "listen": f"127.0.0.1:{node.port}", "data_dir": str(node.data_dir)}],
    )
    with open(node.config_path, "a") as f:
        f.write(f'\n[sts]\nsigning_key = "{SIGNING_KEY}"\n')
    node.start()
    yield node
    node.stop()


def sign_in(node: Node, key_id: str, secret: str, token: str | None = None) -> requests.Response:
    body = {"access_key_id": key_id, "secret_access_key": secret}
    if token:
        body["session_token"] = token
    return requests.post(node.endpoint + CONSOLE + "/session", json=body, timeout=10)


def session_of(node: Node, key_id: str = ADMIN.access_key_id, secret: str = ADMIN.secret_access_key, token: str | None = None) -> dict:
    """The header of a console session signed in with these credentials."""
    resp = sign_in(node, key_id, secret, token)
    assert resp.status_code == 200, describe(resp)
    return {"x-tandem-console": resp.json()["session"]}


def api(node: Node, name: str, headers: dict, method: str = "GET", **kw) -> requests.Response:
    return requests.request(method, node.endpoint + CONSOLE + f"/api/{name}", headers=headers, timeout=10, **kw)


def test_the_page_and_its_files_are_served_with_the_console_headers(node):
    moved = requests.get(node.endpoint + CONSOLE, allow_redirects=False, timeout=5)
    assert moved.status_code == 301 and moved.headers["Location"] == CONSOLE + "/"
    page = requests.get(node.endpoint + CONSOLE + "/", timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    chart = requests.get(node.endpoint + CONSOLE + "/vendor/uPlot.iife.min.js", timeout=5)
    assert chart.status_code == 200 and b"uPlot" in chart.content
    head = requests.head(node.endpoint + CONSOLE + "/console.js", timeout=5)
    assert head.status_code == 200 and head.content == b""
    assert page.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    for missing in ("/nothing.js", "/%2e%2e/tandem.toml", "/vendor/"):
        assert requests.get(node.endpoint + CONSOLE + missing, timeout=5).status_code == 404, missing


def test_without_a_session_key_the_console_says_what_to_configure(node):
    resp = sign_in(node, ADMIN.access_key_id, ADMIN.secret_access_key)
    assert resp.status_code == 501, describe(resp)
    assert "[sts] signing_key" in resp.json()["message"]


def test_an_admin_key_signs_in_to_a_console_session_and_no_cookie(console_node):
    resp = sign_in(console_node, ADMIN.access_key_id, ADMIN.secret_access_key)
    assert resp.status_code == 200, describe(resp)
    body = resp.json()
    assert body["principal"] == "admin" and body["expires_in"] == 8 * 3600
    assert "Set-Cookie" not in resp.headers
    assert body["session"].startswith("ASIA") and ADMIN.secret_access_key not in body["session"]
    headers = {"x-tandem-console": body["session"]}
    overview = api(console_node, "overview", headers)
    assert overview.status_code == 200, describe(overview)
    data = overview.json()
    assert data["region"] == console_node.region and data["signed_in"]["principal"] == "admin"
    assert [r["name"] for r in data["regions"]] == [console_node.region]
    assert data["regions"][0]["status"] == "ok"
    for name in ("series", "history", "drills"):
        answer = api(console_node, name, headers)
        assert answer.status_code == 200, (name, describe(answer))


@pytest.mark.parametrize(
    "key_id, secret, why",
    [
        (ADMIN.access_key_id, "not-the-secret", "wrong secret"),
        ("AKIAUNKNOWN000000000", ADMIN.secret_access_key, "unknown key"),
        (ADMIN.access_key_id, ADMIN.secret_access_key[:-1], "a secret one character short"),
    ],
)
def test_wrong_credentials_are_refused_alike(console_node, key_id, secret, why):
    resp = sign_in(console_node, key_id, secret)
    assert resp.status_code == 403, (why, describe(resp))
    assert resp.json()["message"] == "the access key id, its secret or its session token is wrong"
    assert "session" not in resp.json()


def test_a_key_without_control_rights_may_not_sign_in(console_node):
    resp = sign_in(console_node, BOB.access_key_id, BOB.secret_access_key)
    assert resp.status_code == 403, describe(resp)
    assert "may not use the console" in resp.json()["message"] and "tandem:ListApps" in resp.json()["message"]


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b'{"access_key_id": 1}', b"[]", b'{"access_key_id":"' + b"A" * 20000 + b'"}'],
    ids=["empty", "not-json", "wrong-type", "array", "oversized"],
)
def test_a_malformed_sign_in_is_a_clear_400(console_node, body):
    resp = requests.post(console_node.endpoint + CONSOLE + "/session", data=body, timeout=5)
    assert resp.status_code == 400, describe(resp)
    assert resp.json()["error"] == "InvalidRequest"


def sts_session(node: Node) -> dict:
    sts = boto3.client(
        "sts",
        endpoint_url=node.endpoint,
        aws_access_key_id=ADMIN.access_key_id,
        aws_secret_access_key=ADMIN.secret_access_key,
        region_name=SIGNING_REGION,
    )
    return sts.get_session_token(DurationSeconds=900)["Credentials"]


def test_temporary_credentials_sign_in_to_a_console_session_of_their_own(console_node):
    creds = sts_session(console_node)
    resp = sign_in(console_node, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert resp.status_code == 200, describe(resp)
    assert 0 < resp.json()["expires_in"] <= 900, "the session lasts no longer than the credentials"
    console_session = resp.json()["session"]
    assert creds["SessionToken"] not in console_session, "a console token of its own, not the STS one"
    assert api(console_node, "overview", {"x-tandem-console": console_session}).status_code == 200
    wrong = sign_in(console_node, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"][:-4] + "AAAA")
    assert wrong.status_code == 403
    # A token sent with a long-term key is refused, not ignored.
    assert sign_in(console_node, ADMIN.access_key_id, ADMIN.secret_access_key, creds["SessionToken"]).status_code == 403


def test_only_a_console_session_opens_the_data(console_node):
    headers = session_of(console_node)
    key_id, token = headers["x-tandem-console"].split(":", 1)
    creds = sts_session(console_node)
    not_sessions = {
        "nothing": None,
        # A long-term key id is no secret (presigned URLs, the audit trail): it opens nothing.
        "a long-term key id": f"{ADMIN.access_key_id}:x",
        "a long-term key id and a console token": f"{ADMIN.access_key_id}:{token}",
        # An STS session (as a presigned URL leaks it) is not a console session.
        "an STS session": f"{creds['AccessKeyId']}:{creds['SessionToken']}",
        "a tampered token": f"{key_id}:{token[:-2]}xx",
        "another key id": f"ASIA0000000000000000:{token}",
        "too long": "A" * 9000,
        "no colon": "no-colon",
    }
    for what, value in not_sessions.items():
        r = api(console_node, "overview", {} if value is None else {"x-tandem-console": value})
        assert r.status_code == 401, (what, describe(r))
        forced = api(console_node, "state", {} if value is None else {"x-tandem-console": value}, "POST", json={"app": "x", "state": "fenced", "force": True})
        assert forced.status_code == 401, (what, describe(forced))
    # Nor does a console session sign AWS requests.
    s3 = boto3.client(
        "s3",
        endpoint_url=console_node.endpoint,
        aws_access_key_id=key_id,
        aws_secret_access_key="unknown",
        aws_session_token=token,
        region_name=SIGNING_REGION,
    )
    with pytest.raises(Exception) as refused:
        s3.list_buckets()
    assert "InvalidToken" in str(refused.value) or "SignatureDoesNotMatch" in str(refused.value), refused.value
    # A page of another origin cannot send the header past a preflight.
    preflight = requests.options(
        console_node.endpoint + CONSOLE + "/api/overview",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-tandem-console"},
        timeout=5,
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers, preflight.headers


def test_a_state_change_of_an_unknown_app_changes_nothing(console_node):
    headers = session_of(console_node)
    r = api(console_node, "state", headers, "POST", json={"app": "nope", "state": "active"})
    assert r.status_code == 404 and r.json()["error"] == "NoSuchApp", describe(r)
    bad = api(console_node, "state", headers, "POST", json={"app": "nope", "state": "sideways"})
    assert bad.status_code == 400, describe(bad)
    assert api(console_node, "state", headers, "POST", data=b"{").status_code == 400


def test_drill_reports_are_kept_newest_first(console_node):
    url = "/_tandem/drills"
    unsigned = requests.post(console_node.endpoint + url, json={"run": "x"}, timeout=5)
    assert unsigned.status_code == 403
    refused = console_node.request("POST", url, body=b'{"run": "x"}', principal="bob")
    assert refused.status_code == 403, describe(refused)
    not_a_report = console_node.request("POST", url, body=b"[1, 2]", principal="admin")
    assert not_a_report.status_code == 400, describe(not_a_report)
    for n in range(102):
        kept = console_node.request("POST", url, body=f'{{"run": "r{n:03}", "app": "photos"}}'.encode(), principal="admin")
        assert kept.status_code == 200, describe(kept)
    listed = console_node.request("GET", url, principal="admin").json()["drills"]
    assert [d["run"] for d in listed[:3]] == ["r101", "r100", "r099"]
    shown = api(console_node, "drills", session_of(console_node)).json()["drills"]
    assert shown[0]["run"] == "r101" and shown[0]["kept_at_ms"] > 0
    assert len(listed) == 20, "a listing returns the newest 20 (the store keeps 100: tandem-store's unit test)"
