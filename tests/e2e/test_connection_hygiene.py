"""Connection hygiene: header-read, idle and body-progress timeouts, the
connection cap answered with 503 SlowDown, under idle and slowloris floods.

One node with short limits ([server] in tandem.toml): a request head must
arrive within 2 s, a keep-alive connection may idle 3 s, a body may stall 2 s,
and 24 connections may be open.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time

import pytest
import requests

from e2e_helpers import KEYS, Node, sha256_hex, sigv4_sign, unique_bucket, xml_error

HEADER_READ = 2.0
IDLE = 3.0
PROGRESS = 2.0
CAP = 24
SLACK = 1.5


@pytest.fixture(scope="module")
def limited(tandem_bin, tmp_path_factory):
    n = Node(tandem_bin, tmp_path_factory.mktemp("limited"))
    n.write_config()
    with open(n.config_path, "a") as f:
        f.write(
            "\n[server]\n"
            f"header_read_timeout_secs = {HEADER_READ}\n"
            f"idle_timeout_secs = {IDLE}\n"
            f"body_progress_timeout_secs = {PROGRESS}\n"
            f"max_connections = {CAP}\n"
        )
    n.start()
    yield n
    n.stop()


def connect(node: Node, timeout: float = 10.0) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", node.port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def closed_after(s: socket.socket, limit: float) -> float:
    """Seconds until the server closes `s` (reading and discarding), at most `limit`."""
    start = time.monotonic()
    s.settimeout(0.2)
    while time.monotonic() - start < limit:
        try:
            if s.recv(65536) == b"":
                return time.monotonic() - start
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - start
    raise AssertionError(f"the server did not close the connection within {limit} s")


def read_response(s: socket.socket, limit: float = 10.0) -> tuple[int, dict, bytes]:
    """One HTTP/1.1 response with a Content-Length body."""
    s.settimeout(limit)
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise ConnectionError(f"closed before a response: {buf!r}")
        buf += d
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    need = int(headers.get("content-length", "0"))
    while len(body) < need:
        d = s.recv(65536)
        if not d:
            break
        body += d
    return int(lines[0].split()[1]), headers, body


def signed_head(node: Node, method: str, path: str, body: bytes, query: str = "") -> bytes:
    hdrs = sigv4_sign(
        method,
        path,
        [tuple(kv.split("=", 1)) if "=" in kv else (kv, "") for kv in query.split("&") if kv],
        {"Host": f"127.0.0.1:{node.port}", "Content-Length": str(len(body))},
        sha256_hex(body),
        KEYS["admin"],
    ).headers
    target = path + (f"?{query}" if query else "")
    lines = [f"{method} {target} HTTP/1.1"] + [f"{k}: {v}" for k, v in hdrs.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def metric(node: Node, name: str, label: str = "") -> float:
    text = requests.get(node.endpoint + "/metrics", timeout=5).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and label in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_a_connection_that_sends_nothing_is_closed_after_the_header_read_timeout(limited):
    s = connect(limited)
    took = closed_after(s, HEADER_READ + 5)
    s.close()
    assert HEADER_READ - 0.5 <= took <= HEADER_READ + SLACK, took


def test_a_trickled_request_head_is_cut_at_the_header_read_timeout(limited):
    s = connect(limited)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    start = time.monotonic()
    sent = 0
    while time.monotonic() - start < HEADER_READ + 5:
        try:
            s.sendall(b"X")
            sent += 1
        except (BrokenPipeError, ConnectionResetError):
            break
        s.settimeout(0.4)
        try:
            if s.recv(4096) == b"":
                break
        except socket.timeout:
            pass
        except ConnectionResetError:
            break
    took = time.monotonic() - start
    s.close()
    assert sent >= 3, "the head kept moving, a byte every 0.4 s"
    assert took <= HEADER_READ + SLACK, f"a trickled head stayed open {took:.1f} s"


def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout_not_before(limited):
    s = connect(limited)
    s.sendall(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{limited.port}\r\n\r\n".encode())
    status, _, _ = read_response(s)
    assert status == 200
    took = closed_after(s, IDLE + 5)
    s.close()
    assert IDLE - 0.5 <= took <= IDLE + SLACK, took
    # A second request on a keep-alive connection has the header timeout again.
    s = connect(limited)
    s.sendall(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{limited.port}\r\n\r\n".encode())
    assert read_response(s)[0] == 200
    s.sendall(b"GET /health HTTP/1.1\r\n")
    took = closed_after(s, HEADER_READ + 5)
    s.close()
    assert took <= HEADER_READ + SLACK, took


class Flood:
    """Idle connections (never a byte) and slowloris connections (a header byte every 0.5 s)."""

    def __init__(self, node: Node, idle: int, slow: int):
        self.idle = [connect(node) for _ in range(idle)]
        self.slow = [connect(node) for _ in range(slow)]
        for s in self.slow:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        self.closed_at: dict[int, float] = {}
        self.refilled = 0
        self.start = time.monotonic()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self):
        deadline = time.monotonic() + 15
        while not self.stop.is_set() and time.monotonic() < deadline:
            for s in self.idle + self.slow:
                if s.fileno() in self.closed_at:
                    continue
                try:
                    if s in self.slow:
                        s.sendall(b"X")
                    s.setblocking(False)
                    if s.recv(4096) == b"":
                        self.closed_at[s.fileno()] = time.monotonic() - self.start
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    self.closed_at[s.fileno()] = time.monotonic() - self.start
            time.sleep(0.5)

    def refill(self, node: Node) -> None:
        """Opens an idle connection for each one the server closed already
        (over the cap because another connection still held a slot when the
        flood opened)."""
        missing = len(self.closed_at) - self.refilled
        self.idle += [connect(node) for _ in range(missing)]
        self.refilled += missing

    def wait_all_closed(self, limit: float) -> list[float]:
        deadline = time.monotonic() + limit
        total = len(self.idle) + len(self.slow)
        while len(self.closed_at) < total and time.monotonic() < deadline:
            time.sleep(0.2)
        return sorted(self.closed_at.values())

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        for s in self.idle + self.slow:
            s.close()


def test_idle_and_slowloris_floods_do_not_stop_a_boto3_request(limited):
    timed_out_before = metric(limited, "tandem_connections_timed_out_total", 'reason="header_read"')
    s3 = limited.client()
    bucket = unique_bucket("flood")
    s3.create_bucket(Bucket=bucket)
    flood = Flood(limited, idle=8, slow=8)  # 16 of 24 connections
    try:
        start = time.monotonic()
        s3.put_object(Bucket=bucket, Key="k", Body=b"through the flood")
        assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"through the flood"
        assert time.monotonic() - start < 1.0, "a legitimate request waited behind the flood"
        closed = flood.wait_all_closed(HEADER_READ + 5)
        assert len(closed) == 16, f"only {len(closed)} of 16 flood connections were closed: {closed}"
        assert max(closed) <= HEADER_READ + SLACK + 0.5, closed
    finally:
        flood.close()
    assert metric(limited, "tandem_connections_timed_out_total", 'reason="header_read"') >= timed_out_before + 16


def wait_until_no_other_connection(node: Node, timeout: float = 2 * IDLE + 4) -> None:
    """Until the node holds no connection but the /metrics request itself:
    an earlier test's keep-alive or flood connections would take slots of
    the cap, and once they close, a probe over the "full" cap gets in."""
    deadline = time.monotonic() + timeout
    while metric(node, "tandem_connections_open") > 1:
        assert time.monotonic() < deadline, "connections of earlier tests stay open past their idle timeout"
        time.sleep(0.2)


def test_over_the_cap_a_connection_gets_503_slowdown_and_boto3_gets_through_once_the_flood_times_out(limited):
    wait_until_no_other_connection(limited)
    # The /metrics request's own slot is free once the server sees it close.
    time.sleep(0.3)
    flood = Flood(limited, idle=CAP, slow=0)
    try:
        # The trickle has looked at every flood connection once by now: any
        # the server refused all the same is replaced before the probe.
        time.sleep(0.6)
        flood.refill(limited)
        time.sleep(0.1)
        # On a loaded machine the server may not have taken every flood
        # connection off the kernel's queue yet: a probe answered 200 took a
        # free slot; ask again until the flood holds them all (well before
        # the header timeout closes it).
        while True:
            s = connect(limited)
            s.sendall(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{limited.port}\r\n\r\n".encode())
            status, headers, body = read_response(s, limit=5)
            s.close()
            since_flood = time.monotonic() - flood.start
            if status == 503 or since_flood > HEADER_READ - 0.5:
                break
            time.sleep(0.1)
        closed = dict(flood.closed_at)
        assert status == 503, f"{since_flood:.2f} s after the flood opened; flood connections closed by then: {closed}"
        assert headers.get("connection") == "close"
        assert xml_error(body)[0] == "SlowDown"
        # An SDK retries 503 with backoff; the idle flood is closed after the
        # header timeout, so its request gets through within a few seconds.
        s3 = limited.client(retries={"total_max_attempts": 10, "mode": "standard"})
        start = time.monotonic()
        s3.list_buckets()
        assert time.monotonic() - start <= HEADER_READ + 8
    finally:
        flood.close()
    assert metric(limited, "tandem_connections_refused_total") >= 1


def test_a_slow_but_progressing_upload_succeeds(limited):
    s3 = limited.client()
    bucket = unique_bucket("slow-upload")
    s3.create_bucket(Bucket=bucket)
    body = bytes(range(256)) * 64  # 16 KiB, sent in 8 pieces, a piece every 1 s
    s = connect(limited, timeout=30)
    s.sendall(signed_head(limited, "PUT", f"/{bucket}/slow", body))
    start = time.monotonic()
    for i in range(8):
        time.sleep(PROGRESS / 2)
        s.sendall(body[i * 2048 : (i + 1) * 2048])
    status, _, resp = read_response(s, limit=10)
    s.close()
    assert time.monotonic() - start >= 4 * PROGRESS, "the upload took longer than the progress timeout in all"
    assert status == 200, resp
    assert s3.get_object(Bucket=bucket, Key="slow")["Body"].read() == body


def test_a_stalled_upload_is_cut_off_with_request_timeout_and_nothing_is_stored(limited):
    s3 = limited.client()
    bucket = unique_bucket("stalled")
    s3.create_bucket(Bucket=bucket)
    body = b"x" * 4096
    s = connect(limited, timeout=30)
    s.sendall(signed_head(limited, "PUT", f"/{bucket}/stalled", body) + body[:1000])
    start = time.monotonic()
    status, _, resp = read_response(s, limit=PROGRESS + 5)
    took = time.monotonic() - start
    closed_after(s, 3)
    s.close()
    assert status == 400 and xml_error(resp)[0] == "RequestTimeout", resp
    assert PROGRESS - 0.5 <= took <= PROGRESS + SLACK, took
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_a_stalled_xml_document_is_answered_request_timeout_not_500(limited):
    s3 = limited.client()
    bucket = unique_bucket("stalled-doc")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    doc = b"<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>"
    s = connect(limited, timeout=30)
    s.sendall(signed_head(limited, "PUT", f"/{bucket}/k", doc, query="tagging=") + doc[:20])
    status, _, resp = read_response(s, limit=PROGRESS + 5)
    s.close()
    assert status == 400 and xml_error(resp)[0] == "RequestTimeout", resp
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []


def test_a_client_that_stops_reading_its_download_is_disconnected(limited):
    s3 = limited.client()
    bucket = unique_bucket("no-reader")
    s3.create_bucket(Bucket=bucket)
    size = 32 * 1024 * 1024
    s3.put_object(Bucket=bucket, Key="big", Body=b"\0" * size)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", limited.port))
    s.sendall(signed_head(limited, "GET", f"/{bucket}/big", b""))
    time.sleep(PROGRESS + 2)  # read nothing: the server's writes stall
    got = 0
    s.settimeout(2)
    try:
        while True:
            d = s.recv(1 << 20)
            if not d:
                break
            got += len(d)
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    assert got < size, "the server kept a connection whose client does not read"
    assert metric(limited, "tandem_connections_timed_out_total", 'reason="write_progress"') >= 1


def test_a_config_with_an_unknown_server_field_is_refused(tandem_bin, tmp_path):
    n = Node(tandem_bin, tmp_path / "bad")
    n.write_config()
    with open(n.config_path, "a") as f:
        f.write("\n[server]\nheader_timeout = 3\n")
    p = subprocess.run(
        [str(tandem_bin), "serve", "--config", str(n.config_path), "--region", n.region],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert p.returncode != 0
    assert "header_timeout" in p.stderr + p.stdout
