"""The web console's endpoints on a node (`/_tandem/console`), as a hostile
or mistaken client meets them: the static files and their headers, signing
in with a key's secret or with temporary credentials (and every way that is
refused), the cookie and the cross-site header every data request needs,
and the drill reports a region keeps (`/_tandem/drills`). The page itself
is driven in Chromium by tests/browser/console.test.mjs."""

from __future__ import annotations

import boto3
import pytest
import requests

from e2e_helpers import KEYS, SIGNING_REGION, Node, describe, write_config

SIGNING_KEY = "e2e-console-signing-key-0123456789abcdef012345"
ADMIN, BOB = KEYS["admin"], KEYS["bob"]
CONSOLE = "/_tandem/console"
HEADER = {"x-tandem-console": "1"}


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


def sign_in(node: Node, key_id: str, secret: str, token: str | None = None) -> tuple[requests.Session, requests.Response]:
    browser = requests.Session()
    body = {"access_key_id": key_id, "secret_access_key": secret}
    if token:
        body["session_token"] = token
    return browser, browser.post(node.endpoint + CONSOLE + "/session", json=body, timeout=10)


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
    for missing in ("/nothing.js", "/%2e%2e/tandem.toml", "/vendor/"):
        assert requests.get(node.endpoint + CONSOLE + missing, timeout=5).status_code == 404, missing


def test_without_a_session_key_the_console_says_what_to_configure(node):
    _, resp = sign_in(node, ADMIN.access_key_id, ADMIN.secret_access_key)
    assert resp.status_code == 501, describe(resp)
    assert "[sts] signing_key" in resp.json()["message"]


def test_an_admin_key_signs_in_to_a_strict_http_only_cookie(console_node):
    browser, resp = sign_in(console_node, ADMIN.access_key_id, ADMIN.secret_access_key)
    assert resp.status_code == 200, describe(resp)
    assert resp.json()["principal"] == "admin"
    cookie = resp.headers["Set-Cookie"]
    for attribute in ("HttpOnly", "SameSite=Strict", f"Path={CONSOLE}", "Max-Age=28800"):
        assert attribute in cookie, cookie
    assert ADMIN.secret_access_key not in cookie
    overview = browser.get(console_node.endpoint + CONSOLE + "/api/overview", headers=HEADER, timeout=10)
    assert overview.status_code == 200, describe(overview)
    body = overview.json()
    assert body["region"] == console_node.region and body["signed_in"]["principal"] == "admin"
    assert [r["name"] for r in body["regions"]] == [console_node.region]
    assert body["regions"][0]["status"] == "ok"
    for api in ("series", "history", "drills"):
        answer = browser.get(console_node.endpoint + CONSOLE + f"/api/{api}", headers=HEADER, timeout=10)
        assert answer.status_code == 200, (api, describe(answer))
    # Signing out clears the cookie.
    out = browser.delete(console_node.endpoint + CONSOLE + "/session", timeout=5)
    assert out.status_code == 200 and "Max-Age=0" in out.headers["Set-Cookie"]
    again = browser.get(console_node.endpoint + CONSOLE + "/api/overview", headers=HEADER, timeout=5)
    assert again.status_code == 401


@pytest.mark.parametrize(
    "key_id, secret, why",
    [
        (ADMIN.access_key_id, "not-the-secret", "wrong secret"),
        ("AKIAUNKNOWN000000000", ADMIN.secret_access_key, "unknown key"),
        (ADMIN.access_key_id, ADMIN.secret_access_key[:-1], "a secret one character short"),
    ],
)
def test_wrong_credentials_are_refused_alike(console_node, key_id, secret, why):
    _, resp = sign_in(console_node, key_id, secret)
    assert resp.status_code == 403, (why, describe(resp))
    assert "Set-Cookie" not in resp.headers
    assert resp.json()["message"] == "the access key id, its secret or its session token is wrong"


def test_a_key_without_control_rights_may_not_sign_in(console_node):
    _, resp = sign_in(console_node, BOB.access_key_id, BOB.secret_access_key)
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


def test_temporary_credentials_sign_in_as_themselves(console_node):
    sts = boto3.client(
        "sts",
        endpoint_url=console_node.endpoint,
        aws_access_key_id=ADMIN.access_key_id,
        aws_secret_access_key=ADMIN.secret_access_key,
        region_name=SIGNING_REGION,
    )
    creds = sts.get_session_token(DurationSeconds=900)["Credentials"]
    browser, resp = sign_in(console_node, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert resp.status_code == 200, describe(resp)
    assert 0 < resp.json()["expires_in"] <= 900, "the cookie lasts no longer than the credentials"
    assert creds["AccessKeyId"] in resp.headers["Set-Cookie"]
    assert browser.get(console_node.endpoint + CONSOLE + "/api/overview", headers=HEADER, timeout=10).status_code == 200
    _, wrong = sign_in(console_node, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"][:-4] + "AAAA")
    assert wrong.status_code == 403


def test_data_requests_need_both_the_cookie_and_the_console_header(console_node):
    browser, resp = sign_in(console_node, ADMIN.access_key_id, ADMIN.secret_access_key)
    assert resp.status_code == 200
    url = console_node.endpoint + CONSOLE + "/api/overview"
    no_header = browser.get(url, timeout=5)
    assert no_header.status_code == 403 and "x-tandem-console" in no_header.json()["message"]
    assert requests.get(url, headers=HEADER, timeout=5).status_code == 401
    value = browser.cookies.get("tandem_console")
    key_id, token = value.split(":", 1)
    for forged in (f"{key_id}:{token[:-2]}xx", f"ASIA0000000000000000:{token}", "x" * 9000, "no-colon"):
        r = requests.get(url, headers={**HEADER, "Cookie": f"tandem_console={forged}"}, timeout=5)
        assert r.status_code == 401, (forged[:40], describe(r))
    # A page of another origin cannot get the header past a preflight.
    preflight = requests.options(
        url,
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-tandem-console"},
        timeout=5,
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers, preflight.headers


def test_a_state_change_of_an_unknown_app_changes_nothing(console_node):
    browser, _ = sign_in(console_node, ADMIN.access_key_id, ADMIN.secret_access_key)
    url = console_node.endpoint + CONSOLE + "/api/state"
    r = browser.post(url, headers=HEADER, json={"app": "nope", "state": "active"}, timeout=10)
    assert r.status_code == 404 and r.json()["error"] == "NoSuchApp", describe(r)
    bad = browser.post(url, headers=HEADER, json={"app": "nope", "state": "sideways"}, timeout=10)
    assert bad.status_code == 400, describe(bad)
    assert browser.post(url, headers=HEADER, data=b"{", timeout=10).status_code == 400


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
    browser, _ = sign_in(console_node, ADMIN.access_key_id, ADMIN.secret_access_key)
    shown = browser.get(console_node.endpoint + CONSOLE + "/api/drills", headers=HEADER, timeout=10).json()["drills"]
    assert shown[0]["run"] == "r101" and shown[0]["kept_at_ms"] > 0
    assert len(listed) == 20, "a listing returns the newest 20 (the store keeps 100: tandem-store's unit test)"
