"""Edge failover benchmark, called by bench/edge/failover.sh.

Two regions of app `photos` (us-east primary, ap-tokyo secondary, automatic
failover 200 ms x 3) and one `tandem edge` with an app origin for every
method, from bench/failover's Cluster. Steady load through the edge with
boto3 (one attempt per request, signed by the client for us-east-1 and the
primary's bucket name): GET threads read one object, PUT threads write new
keys. After --pre seconds us-east gets SIGKILL; the load goes on for --post
seconds. Printed, per kind: requests, errors (by code), the longest stall a
client saw (the longest gap between two successful answers of one thread,
or a request's own latency), and for PUT the time from the kill to the
first write accepted again. Targets (issue 13): GET 0 errors and a stall
under 1 s; PUT accepted again within 2 s of the kill.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "failover"))
from failover import BUCKET, PRIMARY, Cluster, clients, error_code, free_port, log, now  # noqa: E402

KEY = "steady/object"


@dataclass
class Thread:
    kind: str
    done: list[tuple[float, float, bool, str]] = field(default_factory=list)  # start, end, ok, error code


class EdgeCluster(Cluster):
    """The Cluster's two regions plus an edge node in front of them (plain HTTP)."""

    def __init__(self, tandem: str, root: Path, pidfile: Path, auto: dict):
        super().__init__(tandem, root, pidfile, auto)
        self.edge_port = free_port()
        self.edge_url = f"http://127.0.0.1:{self.edge_port}"
        with open(self.config, "a") as f:
            f.write(
                f"""
[edge]
[[edge.nodes]]
name = "bench"
listen = "127.0.0.1:{self.edge_port}"
[[edge.distributions]]
name = "photos"
[[edge.distributions.behaviors]]
methods = ["GET", "HEAD", "PUT", "POST", "DELETE"]
sign = false
origin = {{ kind = "app", app = "photos", connect_timeout_ms = 300 }}
"""
            )

    def start_edge(self) -> None:
        with open(self.root / "edge.log", "ab") as logf:
            p = subprocess.Popen([self.tandem, "edge", "--config", str(self.config)], stdout=logf, stderr=subprocess.STDOUT)
        self.proc["edge"] = p
        with open(self.pidfile, "a") as f:
            f.write(f"{p.pid}\n")
        s3, _ = clients(self.edge_url)
        deadline = now() + 20
        while now() < deadline:
            try:
                s3.head_object(Bucket=BUCKET[PRIMARY], Key=KEY)
                return
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.05)
        raise RuntimeError(f"the edge did not serve {KEY} (see {self.root}/edge.log)")


def load(t: Thread, endpoint: str, stop: threading.Event, index: int) -> None:
    s3, _ = clients(endpoint)
    n = 0
    while not stop.is_set():
        start = now()
        try:
            if t.kind == "GET":
                s3.get_object(Bucket=BUCKET[PRIMARY], Key=KEY)["Body"].read()
            else:
                s3.put_object(Bucket=BUCKET[PRIMARY], Key=f"load/{index}/{n}", Body=b"x" * 1024)
            t.done.append((start, now(), True, ""))
        except Exception as e:  # noqa: BLE001 - every failure is counted
            t.done.append((start, now(), False, error_code(e)))
            time.sleep(0.01)
        n += 1


def figures(threads: list[Thread], kind: str, t_kill: float) -> dict:
    mine = [t for t in threads if t.kind == kind]
    errors: dict[str, int] = {}
    stall = 0.0
    for t in mine:
        last_ok = None
        for start, end, ok, code in t.done:
            stall = max(stall, end - start)
            if ok:
                if last_ok is not None:
                    stall = max(stall, end - last_ok)
                last_ok = end
            else:
                errors[code] = errors.get(code, 0) + 1
    first_ok_after = min((end for t in mine for start, end, ok, _ in t.done if ok and start >= t_kill), default=None)
    return {
        "kind": kind,
        "requests": sum(len(t.done) for t in mine),
        "errors": errors,
        "longest_stall_ms": round(1000 * stall, 1),
        "accepted_again_ms": None if first_ok_after is None else round(1000 * (first_ok_after - t_kill), 1),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--tandem", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--get-threads", type=int, default=4)
    p.add_argument("--put-threads", type=int, default=2)
    p.add_argument("--pre", type=float, default=3)
    p.add_argument("--post", type=float, default=5)
    a = p.parse_args(argv)
    work = Path(a.work)
    c = EdgeCluster(a.tandem, work / "run", work / "pids", {"interval_ms": 200, "failures": 3})
    try:
        c.up()
        s3, _ = clients(c.url[PRIMARY])
        s3.put_object(Bucket=BUCKET[PRIMARY], Key=KEY, Body=b"y" * 4096)
        c.start_edge()
        time.sleep(1)  # the steady object reaches ap-tokyo
        threads = [Thread("GET") for _ in range(a.get_threads)] + [Thread("PUT") for _ in range(a.put_threads)]
        stop = threading.Event()
        workers = [threading.Thread(target=load, args=(t, c.edge_url, stop, i), daemon=True) for i, t in enumerate(threads)]
        for w in workers:
            w.start()
        time.sleep(a.pre)
        t_kill = now()
        c.kill9(PRIMARY)
        log("us-east killed (SIGKILL)")
        time.sleep(a.post)
        stop.set()
        for w in workers:
            w.join(10)
        rows = [figures(threads, "GET", t_kill), figures(threads, "PUT", t_kill)]
    finally:
        c.stop()
    get, put = rows
    print(f"{'kind':<5} {'requests':>9} {'errors':>7} {'longest stall':>14} {'accepted again':>15}  error codes")
    for r in rows:
        again = "-" if r["accepted_again_ms"] is None else f"{r['accepted_again_ms']} ms"
        codes = ", ".join(f"{k} x{v}" for k, v in r["errors"].items()) or "-"
        print(f"{r['kind']:<5} {r['requests']:>9} {sum(r['errors'].values()):>7} {r['longest_stall_ms']:>11} ms {again:>15}  {codes}")
    ok_get = not get["errors"] and get["longest_stall_ms"] < 1000
    ok_put = put["accepted_again_ms"] is not None and put["accepted_again_ms"] < 2000
    print(f"targets: GET 0 errors and stall < 1 s: {'met' if ok_get else 'MISSED'}; "
          f"PUT accepted again < 2 s after the kill: {'met' if ok_put else 'MISSED'}")  # fmt: skip
    print(json.dumps({"rows": rows, "targets_met": ok_get and ok_put}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
