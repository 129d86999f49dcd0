"""Helpers shared by the tandem end-to-end tests.

Everything here talks to a real `tandem serve` process over HTTP on the
loopback interface: a small SigV4 signer (header, chunked and trailer forms)
for raw requests that boto3 cannot produce, a process wrapper that starts,
kills and restarts a node, and assertion helpers for S3 error responses.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import os
import random
import re
import signal
import socket
import subprocess
import time
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import boto3
import botocore
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

SIGNING_REGION = "us-east-1"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTH_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"


@dataclass(frozen=True)
class Key:
    access_key_id: str
    secret_access_key: str
    principal: str


KEYS = {
    "admin": Key("AKIAADMIN0000000001", "adminsecret0000000000000000000000000001", "admin"),
    "bob": Key("AKIABOB00000000000002", "bobsecret00000000000000000000000000002", "bob"),
}


# --------------------------------------------------------------------------
# small utilities
# --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def crc32_b64(data: bytes) -> str:
    return base64.b64encode((zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big")).decode()


def multipart_etag(parts: list[bytes]) -> str:
    digest = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    return f'"{digest}-{len(parts)}"'


def random_bytes(n: int, seed: int | None = None) -> bytes:
    rng = random.Random(seed)
    return rng.randbytes(n)


def unique_bucket(hint: str = "b") -> str:
    """A valid, unique bucket name derived from a test name."""
    base = re.sub(r"[^a-z0-9-]+", "-", hint.lower()).strip("-")[:40].strip("-") or "b"
    return f"t-{base}-{os.urandom(4).hex()}"


def error_code(resp: requests.Response) -> str | None:
    """The <Code> of an S3 XML error body, or None."""
    return xml_error(resp.content)[0]


def xml_error(body: bytes) -> tuple[str | None, str | None]:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None, None
    code = root.findtext("Code")
    msg = root.findtext("Message")
    return code, msg


def strip_ns(root: ET.Element) -> ET.Element:
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]
    return root


def parse_xml(body: bytes) -> ET.Element:
    return strip_ns(ET.fromstring(body))


def describe(resp: requests.Response) -> str:
    return f"HTTP {resp.status_code} {resp.content[:600]!r}"


@contextlib.contextmanager
def s3_error(code: str | tuple[str, ...], status: int | None = None):
    """Assert that the block raises a botocore ClientError with this code and HTTP status."""
    codes = (code,) if isinstance(code, str) else tuple(code)
    with pytest.raises(ClientError) as ei:
        yield ei
    resp = ei.value.response
    got_code = resp.get("Error", {}).get("Code")
    got_status = resp.get("ResponseMetadata", {}).get("HTTPStatusCode")
    got_msg = resp.get("Error", {}).get("Message")
    assert got_code in codes, f"expected error {codes} ({status}), got {got_code} ({got_status}): {got_msg}"
    if status is not None:
        assert got_status == status, f"expected HTTP {status} for {got_code}, got {got_status}: {got_msg}"


# A write refused by an app's state: 409 in S3, 400 in DynamoDB, never a 5xx
# (the SDKs retry 5xx for many seconds; a retry cannot help here).
REFUSAL_STATUS = {"S3": 409, "DynamoDB": 400}


def refusal_status_ok(error: ClientError) -> bool:
    """Whether a NotWriteRegion/AppFenced error came with its protocol's status."""
    got = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return got in REFUSAL_STATUS.values()


@contextlib.contextmanager
def write_refused(code: str, write_region: str | None = None):
    """The block raises a ClientError with `code` and the refusal status (S3 409,
    DynamoDB 400); a NotWriteRegion message names the region that takes writes."""
    with s3_error(code) as ei:
        yield ei
    assert refusal_status_ok(ei.value), f"{code} with HTTP {ei.value.response['ResponseMetadata']['HTTPStatusCode']}"
    if write_region is not None:
        msg = ei.value.response["Error"].get("Message") or ""
        assert write_region in msg, f"{code} message does not name the write region {write_region}: {msg!r}"


@contextlib.contextmanager
def http_status(status: int):
    """Assert that the block raises a ClientError with this HTTP status (HEAD responses have no body)."""
    with pytest.raises(ClientError) as ei:
        yield ei
    got = ei.value.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    assert got == status, f"expected HTTP {status}, got {got}: {ei.value.response.get('Error')}"


# --------------------------------------------------------------------------
# SigV4
# --------------------------------------------------------------------------


def _uri_encode(s: str, safe: str = "-_.~") -> str:
    return quote(s, safe=safe)


def _signing_key(secret: str, datestamp: str, region: str, service: str) -> bytes:
    k = hmac.new(("AWS4" + secret).encode(), datestamp.encode(), hashlib.sha256).digest()
    k = hmac.new(k, region.encode(), hashlib.sha256).digest()
    k = hmac.new(k, service.encode(), hashlib.sha256).digest()
    return hmac.new(k, b"aws4_request", hashlib.sha256).digest()


def _hmac_hex(key: bytes, msg: str) -> str:
    return hmac.new(key, msg.encode(), hashlib.sha256).hexdigest()


def canonical_query(query: list[tuple[str, str]]) -> str:
    enc = sorted((_uri_encode(k), _uri_encode(v)) for k, v in query)
    return "&".join(f"{k}={v}" for k, v in enc)


@dataclass
class Signed:
    headers: dict[str, str]
    signature: str
    signing_key: bytes
    amz_date: str
    scope: str


def sigv4_sign(
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    payload_hash: str,
    key: Key,
    now: dt.datetime | None = None,
    region: str = SIGNING_REGION,
    service: str = "s3",
) -> Signed:
    """Sign a request in the Authorization-header form. `path` is the decoded path.

    `headers` must include Host. Returns the headers to send (including
    x-amz-date, x-amz-content-sha256 and Authorization).
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    datestamp = amz_date[:8]
    hdrs = dict(headers)
    hdrs["x-amz-date"] = amz_date
    hdrs["x-amz-content-sha256"] = payload_hash
    lower = {k.lower(): " ".join(str(v).strip().split()) for k, v in hdrs.items()}
    signed_names = sorted(lower)
    canonical_headers = "".join(f"{n}:{lower[n]}\n" for n in signed_names)
    signed_headers = ";".join(signed_names)
    creq = "\n".join(
        [
            method,
            _uri_encode(path, safe="/-_.~"),
            canonical_query(query),
            canonical_headers,
            signed_headers,
            payload_hash,
        ]
    )
    scope = f"{datestamp}/{region}/{service}/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, sha256_hex(creq.encode())])
    skey = _signing_key(key.secret_access_key, datestamp, region, service)
    sig = _hmac_hex(skey, sts)
    hdrs["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={key.access_key_id}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={sig}"
    )
    return Signed(hdrs, sig, skey, amz_date, scope)


def chunk_signature(signed: Signed, prev_sig: str, chunk: bytes) -> str:
    sts = "\n".join(
        [
            "AWS4-HMAC-SHA256-PAYLOAD",
            signed.amz_date,
            signed.scope,
            prev_sig,
            EMPTY_SHA256,
            sha256_hex(chunk),
        ]
    )
    return _hmac_hex(signed.signing_key, sts)


def trailer_signature(signed: Signed, prev_sig: str, trailer_canonical: bytes) -> str:
    sts = "\n".join(
        [
            "AWS4-HMAC-SHA256-TRAILER",
            signed.amz_date,
            signed.scope,
            prev_sig,
            sha256_hex(trailer_canonical),
        ]
    )
    return _hmac_hex(signed.signing_key, sts)


def split_chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or []


def encode_signed_chunks(
    signed: Signed,
    data: bytes,
    chunk_size: int,
    trailer: tuple[str, str] | None = None,
    corrupt_chunk: int | None = None,
) -> bytes:
    """aws-chunked body for STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]."""
    out = bytearray()
    prev = signed.signature
    for i, chunk in enumerate(split_chunks(data, chunk_size)):
        sig = chunk_signature(signed, prev, chunk)
        prev = sig
        if corrupt_chunk == i:
            sig = ("0" if sig[0] != "0" else "1") + sig[1:]
        out += f"{len(chunk):x};chunk-signature={sig}\r\n".encode() + chunk + b"\r\n"
    final = chunk_signature(signed, prev, b"")
    if trailer is None:
        out += f"0;chunk-signature={final}\r\n\r\n".encode()
    else:
        name, value = trailer
        out += f"0;chunk-signature={final}\r\n".encode()
        tsig = trailer_signature(signed, final, f"{name}:{value}\n".encode())
        out += f"{name}:{value}\r\n".encode()
        out += f"x-amz-trailer-signature:{tsig}\r\n\r\n".encode()
    return bytes(out)


def encode_unsigned_chunks(data: bytes, chunk_size: int, trailer: tuple[str, str] | None) -> bytes:
    """aws-chunked body for STREAMING-UNSIGNED-PAYLOAD-TRAILER."""
    out = bytearray()
    for chunk in split_chunks(data, chunk_size):
        out += f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    out += b"0\r\n"
    if trailer is not None:
        out += f"{trailer[0]}:{trailer[1]}\r\n".encode()
    out += b"\r\n"
    return bytes(out)


# --------------------------------------------------------------------------
# the node process
# --------------------------------------------------------------------------


def find_binary() -> Path:
    env = os.environ.get("TANDEM_BIN")
    if env:
        return Path(env)
    root = Path(__file__).resolve().parents[2]
    return root / "target" / "release" / "tandem"


# Region-to-region credential of multi-region test configs.
REPLICATION_KEY = ("E2EREPLICATIONKEY", "e2e-replication-secret-0001")


def test_backend() -> str:
    """The store backend the suite runs on: `embedded` (the default) or
    `postgres` (TANDEM_E2E_BACKEND=postgres, with the server of
    TANDEM_TEST_POSTGRES, which scripts/postgres.sh starts)."""
    return os.environ.get("TANDEM_E2E_BACKEND", "embedded")


def postgres_backend_url(data_dir: str) -> str:
    """A schema of its own on the test server for the region whose data
    directory is `data_dir` (the same directory gets the same schema, so a
    restarted node finds its tables), as a backend URL."""
    server = os.environ.get("TANDEM_TEST_POSTGRES")
    if not server:
        pytest.fail("TANDEM_E2E_BACKEND=postgres needs TANDEM_TEST_POSTGRES (source scripts/postgres.sh)")
    schema = "e2e_" + hashlib.sha256(data_dir.encode()).hexdigest()[:20]
    subprocess.run(
        ["psql", server, "-qAtc", f"CREATE SCHEMA IF NOT EXISTS {schema}"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return f"{server}?options=-csearch_path%3D{schema}"


def with_test_backend(region: dict) -> dict:
    """`region` of a tandem.toml, on the backend the suite runs on; with
    TANDEM_E2E_BODIES=postgres as well, its bodies in that database too."""
    if test_backend() != "postgres" or "backend" in region or "data_dir" not in region:
        return region
    region = {**region, "backend": postgres_backend_url(str(region["data_dir"]))}
    if os.environ.get("TANDEM_E2E_BODIES") == "postgres":
        region.setdefault("bodies", "postgres")
    return region


def write_config(
    path: Path,
    regions: list[dict],
    keys=KEYS.values(),
    admins: tuple[str, ...] = ("admin",),
    policies: dict[str, str] | None = None,
    replication: bool | None = None,
) -> None:
    """Writes tandem.toml: `admins` are the principals whose keys get `admin =
    true`; `policies` maps a principal to the identity policy (JSON) of its key;
    the replication credential is written for more than one region, or when
    `replication` says so."""
    policies = policies or {}
    lines = []
    if replication if replication is not None else len(regions) > 1:
        lines += [
            "[replication]",
            f'access_key_id = "{REPLICATION_KEY[0]}"',
            f'secret_access_key = "{REPLICATION_KEY[1]}"',
            "",
        ]
    for r in map(with_test_backend, regions):
        lines.append("[[regions]]")
        for k, v in r.items():
            lines.append(f'{k} = "{v}"')
        lines.append("")
    for k in keys:
        lines += [
            "[[access_keys]]",
            f'access_key_id = "{k.access_key_id}"',
            f'secret_access_key = "{k.secret_access_key}"',
            f'principal = "{k.principal}"',
        ]
        if k.principal in admins:
            lines.append("admin = true")
        if k.principal in policies:
            lines.append(f"policy = '''{policies[k.principal]}'''")
        lines.append("")
    path.write_text("\n".join(lines))


class Node:
    """One `tandem serve` process with its config, data dir and log."""

    def __init__(self, binary: Path, root: Path, region: str = "us-east", port: int | None = None):
        self.binary = Path(binary)
        self.root = Path(root)
        self.region = region
        self.port = port or free_port()
        self.data_dir = self.root / "data" / region
        self.config_path = self.root / "tandem.toml"
        self.log_path = self.root / f"{region}.log"
        self.proc: subprocess.Popen | None = None
        self.extra_args: list[str] = []
        # Extra environment of the process (e.g. libfaketime's FAKETIME and LD_PRELOAD).
        self.env: dict[str, str] = {}
        self._log = None

    # -- lifecycle ---------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_config(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        write_config(
            self.config_path,
            [
                {
                    "name": self.region,
                    "listen": f"127.0.0.1:{self.port}",
                    "public_url": f"http://127.0.0.1:{self.port}",
                    "data_dir": str(self.data_dir),
                }
            ],
        )

    def start(self, timeout: float = 30.0) -> None:
        if not self.binary.exists():
            pytest.fail(f"tandem binary not found at {self.binary} (build it or set TANDEM_BIN)")
        if not self.config_path.exists():
            self.write_config()
        self._log = open(self.log_path, "ab")
        self._log.write(f"\n===== start {time.strftime('%H:%M:%S')} port {self.port} =====\n".encode())
        self._log.flush()
        env = dict(os.environ)
        env.setdefault("RUST_BACKTRACE", "1")
        env.update(self.env)
        self.proc = subprocess.Popen(
            [str(self.binary), "serve", "--config", str(self.config_path), "--region", self.region, *self.extra_args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                pytest.fail(f"tandem exited with {self.proc.returncode} during startup:\n{self.log_tail()}")
            try:
                r = requests.get(self.endpoint + "/health", timeout=2)
                if r.status_code == 200:
                    return
                last = describe(r)
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.1)
        self.kill()
        pytest.fail(f"tandem not healthy after {timeout}s (last: {last}):\n{self.log_tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the process (crash)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
        self._close_log()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait(timeout=30)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, n: int = 40) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:])

    # -- clients -----------------------------------------------------------

    def client(self, principal: str = "admin", key: Key | None = None, addressing: str = "path", **cfg):
        key = key or KEYS[principal]
        opts = dict(
            s3={"addressing_style": addressing},
            retries={"total_max_attempts": 1, "mode": "standard"},
            signature_version="s3v4",
            connect_timeout=5,
            read_timeout=60,
        )
        opts.update(cfg)
        config = Config(**opts)
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=key.access_key_id,
            aws_secret_access_key=key.secret_access_key,
            region_name=SIGNING_REGION,
            config=config,
        )

    def anon_client(self):
        config = Config(
            s3={"addressing_style": "path"},
            retries={"total_max_attempts": 1, "mode": "standard"},
            signature_version=botocore.UNSIGNED,
            connect_timeout=5,
            read_timeout=60,
        )
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, region_name=SIGNING_REGION, config=config
        )

    def aws(self, *args: str, principal: str = "admin", timeout: float = 180, cwd=None):
        """Run the aws CLI against this node; returns (rc, stdout, stderr)."""
        key = KEYS[principal]
        env = dict(os.environ)
        for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CA_BUNDLE"):
            env.pop(var, None)
        env.update(
            AWS_ACCESS_KEY_ID=key.access_key_id,
            AWS_SECRET_ACCESS_KEY=key.secret_access_key,
            AWS_DEFAULT_REGION=SIGNING_REGION,
            AWS_CONFIG_FILE=str(self.root / "no-aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(self.root / "no-aws-credentials"),
            AWS_EC2_METADATA_DISABLED="true",
            AWS_MAX_ATTEMPTS="1",
            AWS_RETRY_MODE="standard",
            AWS_PAGER="",
        )
        p = subprocess.run(
            ["aws", "--endpoint-url", self.endpoint, *args],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return p.returncode, p.stdout, p.stderr

    # -- raw HTTP ----------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | dict | None = None,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        principal: str | None = "admin",
        key: Key | None = None,
        host: str | None = None,
        payload_hash: str | None = None,
        now: dt.datetime | None = None,
        timeout: float = 30,
    ) -> requests.Response:
        """Send a raw request, SigV4-signed (header form) unless principal is None and key is None.

        `path` is the decoded path (it is percent-encoded here, once).
        """
        if isinstance(query, dict):
            query = list(query.items())
        query = query or []
        hdrs = dict(headers or {})
        hdrs["Host"] = host or f"127.0.0.1:{self.port}"
        if principal is not None or key is not None:
            k = key or KEYS[principal]
            ph = payload_hash or sha256_hex(body)
            hdrs = sigv4_sign(method, path, query, hdrs, ph, k, now=now).headers
        url = self.endpoint + _uri_encode(path, safe="/-_.~")
        if query:
            url += "?" + "&".join(
                _uri_encode(k) + ("=" + _uri_encode(v) if v != "" else "=") for k, v in query
            )
        return requests.request(method, url, headers=hdrs, data=body, timeout=timeout, allow_redirects=False)

    def changes(self, after: int = 0, principal: str = "admin") -> dict:
        r = self.request("GET", "/_tandem/changes", query=[("after", str(after))], principal=principal)
        assert r.status_code == 200, describe(r)
        return r.json()


def raw_http(port: int, head: bytes, body: bytes = b"", timeout: float = 10.0) -> tuple[int, dict, bytes]:
    """Send bytes over a plain socket and parse one HTTP/1.1 response (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head + body)
        buf = b""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in buf:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no response headers: {buf!r}")
            d = s.recv(65536)
            if not d:
                break
            buf += d
        if b"\r\n\r\n" not in buf:
            raise ConnectionError(f"connection closed without a response: {buf!r}")
        head_part, rest = buf.split(b"\r\n\r\n", 1)
        lines = head_part.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        if "content-length" in hdrs:
            need = int(hdrs["content-length"])
            while len(rest) < need:
                try:
                    d = s.recv(65536)
                except (socket.timeout, ConnectionResetError):
                    break
                if not d:
                    break
                rest += d
            body_out = rest[:need]
        elif hdrs.get("transfer-encoding", "").lower() == "chunked":
            while not rest.endswith(b"0\r\n\r\n"):
                try:
                    d = s.recv(65536)
                except (socket.timeout, ConnectionResetError):
                    break
                if not d:
                    break
                rest += d
            body_out = b""
            data = rest
            while data:
                size_line, _, data = data.partition(b"\r\n")
                size = int(size_line.split(b";")[0] or b"0", 16)
                if size == 0:
                    break
                body_out += data[:size]
                data = data[size + 2 :]
        else:
            body_out = rest
        return status, hdrs, body_out


def json_dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))
