"""faultproxy: a controllable TCP proxy for simulating network faults.

Used by the tandem end-to-end tests and the benchmark to put a fault-injecting
hop between two region processes (stdlib only, asyncio).

Standalone:

    python3 tests/e2e/faultproxy.py --listen 127.0.0.1:PORT \\
        --target 127.0.0.1:PORT2 --control 127.0.0.1:PORT3

Port 0 picks a free port. Once both sockets are bound it prints exactly one
line on stdout and nothing more:

    faultproxy listening 127.0.0.1:PORT control 127.0.0.1:PORT3 target 127.0.0.1:PORT2

Control API (HTTP/1.1 on the control port; every reply is the JSON of GET /stats):

    GET  /stats                   counters, bytes each way, current mode
    POST /partition               reset every open connection (RST to both ends)
                                  and reset each new one right after accept
    POST /partition?mode=blackhole  as above for open connections, but new ones
                                  are accepted and held silently (data read and
                                  discarded, nothing forwarded) so clients time
                                  out; they are reset on heal
    POST /partition?mode=drop-up  one-way loss: open and new connections stay
                                  up, target->client data is forwarded but
                                  client->target data is read and discarded
                                  (requests never arrive); connections that
                                  lost data are reset on heal
    POST /partition?mode=drop-down  one-way loss the other way: requests are
                                  forwarded, the target's answers discarded
                                  (the target acts, the client never hears)
    POST /heal                    forward normally again (delays are kept)
    POST /delay?ms=80             one-way delay for client->target data; each
                                  chunk is delivered ms after it was received,
                                  in order, without throttling throughput
    POST /delay?ms=80&direction=down|up|both   target->client, client->target
                                  (the default) or both
    POST /delay?ms=0              remove the delay (for that direction)
    POST /drop                    reset open connections once, stay in current mode
    POST /reset                   heal, remove all delays, zero the counters

From Python, `FaultProxy(target_port).start()` spawns this file as a separate
process on free ports and exposes .port, .partition(), .heal(), .delay(ms),
.stats(), .stop() (see the class). `ProxyServer` is the in-process asyncio core.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

CHUNK = 64 * 1024
# Max chunks buffered per direction per connection while waiting out a delay
# (64 MiB at full chunks); the reader pauses beyond that (backpressure).
QUEUE_CHUNKS = 1024

FORWARD = "forward"
PARTITION = "partition"
BLACKHOLE = "blackhole"
DROP_UP = "drop-up"  # client -> target data discarded
DROP_DOWN = "drop-down"  # target -> client data discarded
ONE_WAY = {DROP_UP: "up", DROP_DOWN: "down"}


def _split_hostport(s: str) -> tuple[str, int]:
    host, sep, port = s.rpartition(":")
    if not sep or not host:
        raise ValueError(f"expected HOST:PORT, got {s!r}")
    return host.strip("[]"), int(port)


def _rst(writer: asyncio.StreamWriter | None) -> None:
    """Close a stream abortively (SO_LINGER 0) so the peer sees a connection reset."""
    if writer is None:
        return
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError, ValueError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(Exception):
        writer.transport.abort()


class _Conn:
    """One proxied client connection and its target side."""

    def __init__(self, cid: int, client_writer: asyncio.StreamWriter):
        self.id = cid
        self.client_writer = client_writer
        self.target_writer: asyncio.StreamWriter | None = None
        self.closed = False
        self.blackholed = False
        self.lossy = False  # lost data in a one-way mode: its stream is broken
        self.task: asyncio.Task | None = None

    def abort(self) -> None:
        if self.closed:
            return
        self.closed = True
        _rst(self.client_writer)
        _rst(self.target_writer)
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()


class ProxyServer:
    """The asyncio proxy plus its control endpoint, in the running event loop.

    `await start()` binds both sockets (port 0 = free port; see .port and
    .control_port afterwards), `await stop()` closes everything. The fault
    setters (partition/heal/set_delay/drop/reset) are plain methods and must
    be called on the loop's thread.
    """

    def __init__(
        self,
        listen: tuple[str, int],
        target: tuple[str, int],
        control: tuple[str, int] = ("127.0.0.1", 0),
        connect_timeout: float = 5.0,
        verbose: bool = False,
    ):
        self.listen_addr = listen
        self.target = target
        self.control_addr = control
        self.connect_timeout = connect_timeout
        self.verbose = verbose
        self.mode = FORWARD
        self.delay_up_ms = 0.0  # client -> target
        self.delay_down_ms = 0.0  # target -> client
        self.conns: dict[int, _Conn] = {}
        self._next_id = 0
        self._server: asyncio.base_events.Server | None = None
        self._control: asyncio.base_events.Server | None = None
        self.port = 0
        self.control_port = 0
        self.started_at = time.time()
        self._zero_counters()

    def _zero_counters(self) -> None:
        self.c = {
            "accepted": 0,  # every accepted client connection
            "forwarded": 0,  # connected to the target
            "refused": 0,  # reset at accept because of a partition
            "blackholed": 0,  # held silently because of a blackhole partition
            "bytes_lost_client_to_target": 0,  # discarded in drop-up mode
            "bytes_lost_target_to_client": 0,  # discarded in drop-down mode
            "dropped": 0,  # open connections reset by /partition or /drop
            "target_connect_failures": 0,
            "errors": 0,  # resets/IO errors seen while forwarding
            "bytes_client_to_target": 0,
            "bytes_target_to_client": 0,
        }

    def log(self, msg: str) -> None:
        if self.verbose:
            print(f"faultproxy[{self.port}]: {msg}", file=sys.stderr, flush=True)

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(self._loop_exception)
        self._server = await asyncio.start_server(
            self._handle_client, self.listen_addr[0], self.listen_addr[1], reuse_address=True, backlog=1024
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._control = await asyncio.start_server(
            self._handle_control, self.control_addr[0], self.control_addr[1], reuse_address=True
        )
        self.control_port = self._control.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for srv in (self._server, self._control):
            if srv is not None:
                srv.close()
        self._drop_all()
        for srv in (self._server, self._control):
            if srv is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(srv.wait_closed(), 2)

    def _loop_exception(self, loop, context) -> None:
        exc = context.get("exception")
        if isinstance(exc, (ConnectionError, OSError, asyncio.CancelledError)):
            return  # resets are business as usual here
        if self.verbose:
            loop.default_exception_handler(context)

    # -- faults ------------------------------------------------------------

    def _drop_all(self) -> int:
        conns = list(self.conns.values())
        for conn in conns:
            conn.abort()
        self.conns.clear()
        return len(conns)

    def partition(self, mode: str = PARTITION) -> None:
        if mode not in (PARTITION, BLACKHOLE, DROP_UP, DROP_DOWN):
            raise ValueError(f"unknown partition mode {mode!r}")
        self.mode = mode
        if mode not in ONE_WAY:  # one-way loss keeps connections up
            self.c["dropped"] += self._drop_all()
        self.log(f"partition ({mode})")

    def heal(self) -> None:
        self.mode = FORWARD
        for conn in [c for c in self.conns.values() if c.blackholed or c.lossy]:
            conn.abort()
            self.conns.pop(conn.id, None)
        self.log("heal")

    def _losing(self, direction: str) -> bool:
        return ONE_WAY.get(self.mode) == direction

    def set_delay(self, ms: float, direction: str = "up") -> None:
        if not math.isfinite(ms) or ms < 0:
            raise ValueError("ms must be a finite number >= 0")
        if direction not in ("up", "down", "both"):
            raise ValueError(f"direction must be up, down or both, not {direction!r}")
        if direction in ("up", "both"):
            self.delay_up_ms = float(ms)
        if direction in ("down", "both"):
            self.delay_down_ms = float(ms)
        self.log(f"delay up={self.delay_up_ms}ms down={self.delay_down_ms}ms")

    def drop(self) -> None:
        self.c["dropped"] += self._drop_all()

    def reset(self) -> None:
        self.heal()
        self.delay_up_ms = self.delay_down_ms = 0.0
        self._zero_counters()

    def stats(self) -> dict:
        return {
            "mode": self.mode,
            "delay_ms": self.delay_up_ms,  # client -> target, the usual knob
            "delay_up_ms": self.delay_up_ms,
            "delay_down_ms": self.delay_down_ms,
            "listen": f"{self.listen_addr[0]}:{self.port}",
            "target": f"{self.target[0]}:{self.target[1]}",
            "active": sum(1 for c in self.conns.values() if not c.blackholed),
            "held": sum(1 for c in self.conns.values() if c.blackholed),
            "lossy": sum(1 for c in self.conns.values() if c.lossy),
            **self.c,
            "uptime_s": round(time.time() - self.started_at, 3),
        }

    # -- data path ---------------------------------------------------------

    async def _handle_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._next_id += 1
        conn = _Conn(self._next_id, writer)
        conn.task = asyncio.current_task()
        self.c["accepted"] += 1
        try:
            if self.mode == PARTITION:
                self.c["refused"] += 1
                conn.abort()
                return
            self.conns[conn.id] = conn
            if self.mode == BLACKHOLE:
                await self._blackhole(conn, reader)
                return
            try:
                t_reader, t_writer = await asyncio.wait_for(
                    asyncio.open_connection(self.target[0], self.target[1]), self.connect_timeout
                )
            except (OSError, asyncio.TimeoutError) as e:
                self.c["target_connect_failures"] += 1
                self.log(f"conn {conn.id}: target connect failed: {e!r}")
                conn.abort()
                return
            conn.target_writer = t_writer
            if conn.closed:  # partitioned while we were connecting
                _rst(t_writer)
                return
            self.c["forwarded"] += 1
            with contextlib.suppress(OSError):
                for w in (writer, t_writer):
                    sock = w.get_extra_info("socket")
                    if sock is not None:
                        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                await self._run_until_failure(
                    self._pump(conn, reader, t_writer, "up"), self._pump(conn, t_reader, writer, "down")
                )
            except (OSError, ConnectionError, asyncio.IncompleteReadError) as e:
                # A reset or IO error on either side tears down both sides.
                if not conn.closed:
                    self.c["errors"] += 1
                    self.log(f"conn {conn.id}: {e!r}")
                conn.abort()
        except asyncio.CancelledError:
            pass  # aborted by partition/drop/stop
        except Exception as e:  # never let one connection take the proxy down
            self.c["errors"] += 1
            self.log(f"conn {conn.id}: unexpected {e!r}")
            conn.abort()
        finally:
            self.conns.pop(conn.id, None)
            if not conn.closed:
                conn.closed = True
                for w in (conn.client_writer, conn.target_writer):
                    if w is not None:
                        with contextlib.suppress(Exception):
                            w.close()

    async def _blackhole(self, conn: _Conn, reader: asyncio.StreamReader) -> None:
        conn.blackholed = True
        self.c["blackholed"] += 1
        try:
            while await reader.read(CHUNK):
                pass
        except (OSError, ConnectionError):
            pass
        conn.abort()

    async def _pump(self, conn: _Conn, src: asyncio.StreamReader, dst: asyncio.StreamWriter, direction: str) -> None:
        """Copy src -> dst, delivering each chunk `delay` ms after it was read.

        The reader stamps chunks into a queue and keeps reading; a separate
        writer waits for each chunk's due time, so a delay adds latency but does
        not limit throughput, and order is preserved. In a one-way mode that
        loses this direction, chunks (and EOF) are discarded instead.
        """
        loop = asyncio.get_running_loop()
        counter = "bytes_client_to_target" if direction == "up" else "bytes_target_to_client"
        queue: asyncio.Queue = asyncio.Queue(QUEUE_CHUNKS)

        async def read_side() -> None:
            while True:
                data = await src.read(CHUNK)
                ms = self.delay_up_ms if direction == "up" else self.delay_down_ms
                due = loop.time() + ms / 1000.0
                await queue.put((due, data or None))
                if not data:
                    return

        async def write_side() -> None:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if self._losing(direction):
                    conn.lossy = True
                    if data:
                        self.c["bytes_lost_" + counter[len("bytes_") :]] += len(data)
                        continue
                    return
                if data is None:  # EOF: half-close towards the destination
                    if dst.can_write_eof() and not dst.transport.is_closing():
                        with contextlib.suppress(OSError):
                            dst.write_eof()
                    return
                dst.write(data)
                self.c[counter] += len(data)
                await dst.drain()

        await self._run_until_failure(read_side(), write_side())

    @staticmethod
    async def _run_until_failure(*coros) -> None:
        """Run coroutines concurrently until all finish; the first exception
        cancels the rest and is raised."""
        tasks = [asyncio.ensure_future(c) for c in coros]
        pending = set(tasks)
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
                for t in done:
                    if t.exception() is not None:
                        raise t.exception()
        finally:
            for t in tasks:
                if not t.done():
                    t.cancel()
            for t in tasks:
                with contextlib.suppress(BaseException):
                    await t

    # -- control -----------------------------------------------------------

    async def _handle_control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            lines = head.decode("latin-1").split("\r\n")
            method, target, _version = lines[0].split(" ", 2)
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip() or 0)
            if length:
                await asyncio.wait_for(reader.readexactly(length), 10)
            status, body = self._route(method.upper(), target)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, asyncio.TimeoutError):
            writer.close()
            return
        except Exception as e:
            status, body = 400, {"error": f"bad request: {e}"}
        payload = (json.dumps(body, sort_keys=True) + "\n").encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}.get(status, "Error")
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
            + payload
        )
        with contextlib.suppress(Exception):
            await writer.drain()
            writer.close()

    def _route(self, method: str, target: str) -> tuple[int, dict]:
        url = urlsplit(target)
        path = url.path.rstrip("/") or "/"
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if path in ("/", "/stats", "/health"):
            if method != "GET":
                return 405, {"error": f"{path} takes GET"}
            return 200, self.stats()
        actions = {
            "/partition": lambda: self.partition(q.get("mode", PARTITION)),
            "/heal": self.heal,
            "/delay": lambda: self.set_delay(float(q["ms"]), q.get("direction", "up")),
            "/drop": self.drop,
            "/reset": self.reset,
        }
        if path not in actions:
            return 404, {"error": f"no route {path}"}
        if method != "POST":
            return 405, {"error": f"{path} takes POST"}
        try:
            actions[path]()
        except KeyError as e:
            return 400, {"error": f"missing query parameter {e}"}
        except ValueError as e:
            return 400, {"error": str(e)}
        return 200, self.stats()


# --------------------------------------------------------------------------
# standalone process
# --------------------------------------------------------------------------


async def _amain(args: argparse.Namespace) -> None:
    proxy = ProxyServer(
        _split_hostport(args.listen),
        _split_hostport(args.target),
        _split_hostport(args.control),
        connect_timeout=args.connect_timeout,
        verbose=args.verbose,
    )
    await proxy.start()
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, done.set)
    if args.exit_on_stdin_eof:
        # The parent holds our stdin open; when it dies the pipe closes.
        async def watch_stdin() -> None:
            r = asyncio.StreamReader()
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(r), sys.stdin)
            with contextlib.suppress(Exception):
                while await r.read(4096):
                    pass
            done.set()

        asyncio.ensure_future(watch_stdin())
    print(
        f"faultproxy listening {proxy.listen_addr[0]}:{proxy.port} "
        f"control {proxy.control_addr[0]}:{proxy.control_port} "
        f"target {proxy.target[0]}:{proxy.target[1]}",
        flush=True,
    )
    await done.wait()
    await proxy.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Controllable TCP proxy for fault injection.")
    ap.add_argument("--listen", required=True, help="HOST:PORT to accept clients on (port 0 = free port)")
    ap.add_argument("--target", required=True, help="HOST:PORT to forward to")
    ap.add_argument("--control", default="127.0.0.1:0", help="HOST:PORT of the HTTP control API (default: free port)")
    ap.add_argument("--connect-timeout", type=float, default=5.0, help="seconds to wait for the target (default 5)")
    ap.add_argument("--exit-on-stdin-eof", action="store_true", help="exit when stdin closes (parent died)")
    ap.add_argument("--verbose", "-v", action="store_true", help="log connections and faults to stderr")
    args = ap.parse_args(argv)
    try:
        asyncio.run(_amain(args))
    except KeyboardInterrupt:
        pass
    return 0


# --------------------------------------------------------------------------
# helper for tests and benchmarks: the proxy as a child process
# --------------------------------------------------------------------------

_READY = re.compile(r"faultproxy listening (\S+):(\d+) control (\S+):(\d+)")


class FaultProxy:
    """A faultproxy child process in front of `target`, driven over its control API.

        with FaultProxy(9001) as px:        # or FaultProxy("127.0.0.1:9001").start()
            url = px.endpoint               # http://127.0.0.1:<px.port>
            px.delay(80)                    # client->target one-way delay
            px.partition(); px.heal()
            px.stats()["bytes_client_to_target"]

    The listen and control ports default to 0 (chosen by the child, so no
    free-port race); they are known after start(). The child exits when this
    process dies (it watches its stdin), and on stop().
    """

    def __init__(
        self,
        target: int | str,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        control_port: int = 0,
        connect_timeout: float = 5.0,
        log_path: str | os.PathLike | None = None,
        verbose: bool = False,
        python: str = sys.executable,
    ):
        self.target = f"127.0.0.1:{target}" if isinstance(target, int) else str(target)
        self.listen_host = listen_host
        self.port = listen_port
        self.control_port = control_port
        self.connect_timeout = connect_timeout
        self.log_path = Path(log_path) if log_path else None
        self.verbose = verbose
        self.python = python
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.listen_host}:{self.port}"

    @property
    def control_url(self) -> str:
        return f"http://{self.listen_host}:{self.control_port}"

    def start(self, timeout: float = 10.0) -> "FaultProxy":
        if self.alive():
            return self
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "ab")
        cmd = [
            self.python,
            str(Path(__file__).resolve()),
            "--listen", f"{self.listen_host}:{self.port}",
            "--target", self.target,
            "--control", f"{self.listen_host}:{self.control_port}",
            "--connect-timeout", str(self.connect_timeout),
            "--exit-on-stdin-eof",
        ]  # fmt: skip
        if self.verbose:
            cmd.append("--verbose")
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        line = self._read_ready_line(timeout)
        m = _READY.search(line)
        if not m:
            self.stop()
            raise RuntimeError(f"faultproxy did not start (exit {self.proc.returncode}, said {line!r})")
        self.port = int(m.group(2))
        self.control_port = int(m.group(4))
        return self

    def _read_ready_line(self, timeout: float) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        buf = b""
        deadline = time.monotonic() + timeout
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                self.proc.wait(timeout=5)
                break
            buf += chunk
        return buf.decode(errors="replace")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=5)
            for f in (self.proc.stdin, self.proc.stdout):
                if f is not None:
                    with contextlib.suppress(OSError):
                        f.close()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"FaultProxy({self.listen_host}:{self.port} -> {self.target}, control {self.control_port})"

    # -- control -----------------------------------------------------------

    def _call(self, method: str, path: str, timeout: float = 5.0) -> dict:
        req = urllib.request.Request(self.control_url + path, method=method, data=b"" if method == "POST" else None)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"faultproxy {method} {path}: {e.code} {e.read().decode(errors='replace')}") from None

    def partition(self, mode: str = "partition") -> dict:
        """Reset open connections and refuse new ones (mode="blackhole": hold them silently;
        "drop-up" / "drop-down": keep connections but lose client->target / target->client data)."""
        return self._call("POST", f"/partition?mode={mode}")

    def heal(self) -> dict:
        """Forward normally again (delays stay as set)."""
        return self._call("POST", "/heal")

    def delay(self, ms: float, direction: str = "up") -> dict:
        """One-way delay in ms; direction "up" = client->target (default), "down", or "both". 0 removes it."""
        return self._call("POST", f"/delay?ms={ms}&direction={direction}")

    def drop(self) -> dict:
        """Reset the open connections once without changing the mode."""
        return self._call("POST", "/drop")

    def reset(self) -> dict:
        """Heal, remove all delays and zero the counters."""
        return self._call("POST", "/reset")

    def stats(self) -> dict:
        return self._call("GET", "/stats")


if __name__ == "__main__":
    sys.exit(main())
