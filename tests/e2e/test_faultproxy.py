"""Tests for faultproxy.py, the fault-injecting TCP proxy used by the e2e tests.

They run a small echo server and HTTP server in threads, put a FaultProxy child
process in front of them and check forwarding, partition/heal, delay and
robustness. No tandem binary is needed (no `node` fixture is used, so the
session build in conftest.py is not triggered).
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import socketserver
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from faultproxy import FaultProxy  # noqa: E402

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ backends


class _EchoHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                data = self.request.recv(65536)
                if not data:
                    return
                self.request.sendall(data)
        except OSError:
            pass


class _HttpHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._reply(f"hello {self.path}".encode())

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._reply(body)

    def _reply(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 can overflow -> 1 s SYN retransmit


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


@pytest.fixture(scope="module")
def echo_port():
    srv = _TCPServer(("127.0.0.1", 0), _EchoHandler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def http_port():
    srv = _HTTPServer(("127.0.0.1", 0), _HttpHandler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def echo_proxy(echo_port):
    with FaultProxy(echo_port) as px:
        yield px
        assert px.alive(), "faultproxy died during the test"


@pytest.fixture
def http_proxy(http_port):
    with FaultProxy(http_port) as px:
        yield px
        assert px.alive(), "faultproxy died during the test"


# ------------------------------------------------------------------ helpers


def connect(port: int, timeout: float = 5.0) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(s: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(min(65536, n - len(buf)))
        if not chunk:
            raise ConnectionError(f"EOF after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def rtt(s: socket.socket, payload: bytes = b"ping") -> float:
    t0 = time.monotonic()
    s.sendall(payload)
    assert recv_exact(s, len(payload)) == payload
    return time.monotonic() - t0


def http_get(port: int, path: str = "/x", timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        return r.read()


def assert_refused(port: int) -> None:
    """A new connection is closed or reset by the proxy right away (the reset
    may already surface from connect())."""
    try:
        s = connect(port)
    except ConnectionResetError:
        return
    with s:
        assert_closed_by_peer(s)


def assert_closed_by_peer(s: socket.socket, timeout: float = 2.0) -> None:
    """The proxy closed/reset this connection (EOF or reset, not a timeout)."""
    s.settimeout(timeout)
    try:
        data = s.recv(1024)
    except (ConnectionResetError, BrokenPipeError):
        return
    except socket.timeout:
        pytest.fail("connection still open: expected the proxy to close it")
    assert data == b"", f"expected EOF/reset, got {data!r}"


# ------------------------------------------------------------------ tests


def test_bytes_pass_through_both_ways(echo_proxy):
    payload = os.urandom(2 * 1024 * 1024)
    with connect(echo_proxy.port) as s:
        sender = threading.Thread(target=s.sendall, args=(payload,))
        sender.start()
        got = recv_exact(s, len(payload))
        sender.join()
    assert got == payload
    st = echo_proxy.stats()
    assert st["mode"] == "forward"
    assert st["bytes_client_to_target"] == len(payload)
    assert st["bytes_target_to_client"] == len(payload)
    assert st["accepted"] == st["forwarded"] == 1


def test_http_through_proxy(http_proxy):
    assert http_get(http_proxy.port, "/a/b?c=1") == b"hello /a/b?c=1"
    body = os.urandom(100_000)
    req = urllib.request.Request(f"{http_proxy.endpoint}/up", data=body, method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.read() == body
    assert http_proxy.stats()["bytes_client_to_target"] > len(body)


def test_half_close_is_forwarded(echo_proxy):
    with connect(echo_proxy.port) as s:
        s.sendall(b"last words")
        s.shutdown(socket.SHUT_WR)
        got = b""
        while chunk := s.recv(1024):
            got += chunk
    assert got == b"last words"


def test_partition_fails_requests_and_heal_restores(http_proxy, echo_proxy):
    assert http_get(http_proxy.port) == b"hello /x"
    with connect(echo_proxy.port) as open_conn:
        assert rtt(open_conn) < 2
        st = echo_proxy.partition()
        assert st["mode"] == "partition"
        assert st["dropped"] == 1 and st["active"] == 0
        assert_closed_by_peer(open_conn)

    http_proxy.partition()
    for _ in range(3):
        with pytest.raises(OSError):  # URLError, RemoteDisconnected, ConnectionResetError
            http_get(http_proxy.port, timeout=2)
    st = http_proxy.stats()
    assert st["refused"] >= 3 and st["forwarded"] == 1

    http_proxy.heal()
    echo_proxy.heal()
    assert http_proxy.stats()["mode"] == "forward"
    assert http_get(http_proxy.port, "/again") == b"hello /again"
    with connect(echo_proxy.port) as s:
        assert rtt(s, b"back") < 2


def test_blackhole_partition_times_out_then_heals(http_proxy):
    http_proxy.partition(mode="blackhole")
    t0 = time.monotonic()
    with pytest.raises(OSError):  # socket.timeout / URLError(timeout)
        http_get(http_proxy.port, timeout=0.5)
    assert time.monotonic() - t0 >= 0.45, "blackhole should hang, not fail fast"
    st = http_proxy.stats()
    assert st["mode"] == "blackhole" and st["blackholed"] == 1

    with connect(http_proxy.port) as held:
        time.sleep(0.1)
        http_proxy.heal()
        assert_closed_by_peer(held)
    assert http_get(http_proxy.port) == b"hello /x"


def test_one_way_loss_up_loses_requests_keeps_answers_and_heal_resets(echo_proxy, http_port):
    """drop-up: client->target bytes are discarded (the echo server sees nothing, so nothing
    comes back), the connection stays open; on heal it is reset and new ones forward again."""
    with connect(echo_proxy.port) as s:
        assert rtt(s) < 2
        st = echo_proxy.partition(mode="drop-up")
        assert st["mode"] == "drop-up" and st["dropped"] == 0 and st["active"] == 1
        s.sendall(b"lost on the way")
        s.settimeout(0.5)
        with pytest.raises(socket.timeout):
            s.recv(1024)
        st = echo_proxy.stats()
        assert st["bytes_lost_client_to_target"] == len(b"lost on the way") and st["lossy"] == 1
        echo_proxy.heal()
        assert_closed_by_peer(s)
    with connect(echo_proxy.port) as s:
        assert rtt(s, b"back") < 2


def test_one_way_loss_down_delivers_requests_and_loses_answers(tmp_path):
    """drop-down: the request reaches the target (which acts on it) but its answer never
    reaches the client."""
    got: list[bytes] = []
    srv = _TCPServer(("127.0.0.1", 0), _recording_echo(got))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        with FaultProxy(srv.server_address[1], log_path=tmp_path / "px.log") as px:
            px.partition(mode="drop-down")
            with connect(px.port) as s:
                s.sendall(b"arrives")
                s.settimeout(0.5)
                with pytest.raises(socket.timeout):
                    s.recv(1024)
                deadline = time.monotonic() + 2
                while not got and time.monotonic() < deadline:
                    time.sleep(0.02)
                assert b"".join(got) == b"arrives"
                assert px.stats()["bytes_lost_target_to_client"] == len(b"arrives")
                px.heal()
                assert_closed_by_peer(s)
            with connect(px.port) as s:
                assert rtt(s, b"answered") < 2
    finally:
        srv.shutdown()
        srv.server_close()


def _recording_echo(got: list[bytes]):
    class Handler(_EchoHandler):
        def handle(self) -> None:
            try:
                while data := self.request.recv(65536):
                    got.append(data)
                    self.request.sendall(data)
            except OSError:
                pass

    return Handler


def test_delay_adds_latency_and_zero_removes_it(echo_proxy):
    with connect(echo_proxy.port) as s:
        base = min(rtt(s) for _ in range(3))
        assert base < 0.1

        st = echo_proxy.delay(200)
        assert st["delay_ms"] == 200 and st["delay_down_ms"] == 0
        delayed = [rtt(s) for _ in range(2)]
        assert all(0.2 <= d < 0.2 + 0.4 for d in delayed), delayed

        echo_proxy.delay(0)
        assert min(rtt(s) for _ in range(3)) < 0.1

        echo_proxy.delay(100, direction="both")
        d = rtt(s)
        assert 0.2 <= d < 0.2 + 0.4, d
        echo_proxy.reset()
        assert rtt(s) < 0.1
    assert echo_proxy.stats()["delay_up_ms"] == 0


def test_delay_preserves_order_without_serializing(echo_proxy):
    """10 messages 30 ms apart with 200 ms delay: each arrives ~200 ms after it
    was sent (a sleep-per-chunk proxy would take ~2 s for the last one)."""
    echo_proxy.delay(200)
    n, gap = 10, 0.03
    sent: list[float] = []
    arrived: list[tuple[int, float]] = []
    with connect(echo_proxy.port) as s:

        def reader() -> None:
            for _ in range(n):
                (i,) = struct.unpack(">Q", recv_exact(s, 8))
                arrived.append((i, time.monotonic()))

        t = threading.Thread(target=reader)
        t.start()
        for i in range(n):
            sent.append(time.monotonic())
            s.sendall(struct.pack(">Q", i))
            time.sleep(gap)
        t.join(5)
    assert [i for i, _ in arrived] == list(range(n))
    lat = [at - sent[i] for i, at in arrived]
    assert min(lat) >= 0.2 - 0.005, lat
    assert max(lat) < 0.2 + 0.4, lat
    assert arrived[-1][1] - sent[0] < 1.2  # serialized would be >= 2 s


def test_target_down_closes_client(tmp_path):
    dead = free_port()  # nothing listens here
    with FaultProxy(dead, log_path=tmp_path / "px.log") as px:
        for _ in range(3):
            assert_refused(px.port)
        st = px.stats()
        assert st["target_connect_failures"] == 3 and st["active"] == 0
        assert px.alive()


def test_survives_client_and_target_resets(echo_proxy, http_port):
    for _ in range(5):
        s = connect(echo_proxy.port)
        s.sendall(os.urandom(300_000))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()  # RST mid-transfer
    for _ in range(3):
        with connect(echo_proxy.port) as s:
            echo_proxy.drop()
            assert_closed_by_peer(s)
    with connect(echo_proxy.port) as s:
        assert rtt(s, b"still here") < 2
    assert echo_proxy.alive()


def test_control_api_errors(echo_proxy):
    with pytest.raises(RuntimeError, match="400"):
        echo_proxy.delay(-5)
    with pytest.raises(RuntimeError, match="400"):
        echo_proxy.delay("abc")
    with pytest.raises(RuntimeError, match="400"):
        echo_proxy.partition(mode="nope")
    with pytest.raises(RuntimeError, match="404"):
        echo_proxy._call("POST", "/nope")
    with pytest.raises(RuntimeError, match="405"):
        echo_proxy._call("GET", "/heal")
    assert echo_proxy.stats()["mode"] == "forward"


def test_standalone_cli_on_fixed_ports(echo_port):
    listen, control = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "faultproxy.py"), "--listen", f"127.0.0.1:{listen}",
         "--target", f"127.0.0.1:{echo_port}", "--control", f"127.0.0.1:{control}"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = proc.stdout.readline()
        assert line.startswith(f"faultproxy listening 127.0.0.1:{listen} "), line
        with connect(listen) as s:
            assert rtt(s, b"cli") < 2
        req = urllib.request.Request(f"http://127.0.0.1:{control}/delay?ms=5", method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            assert json.loads(r.read())["delay_ms"] == 5
    finally:
        proc.terminate()
        assert proc.wait(5) == 0
