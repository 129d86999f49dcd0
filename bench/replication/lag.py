"""Replication-lag benchmark driver, called by bench/replication/run.sh.

run.sh starts the processes (regions us-east and ap-tokyo, and a faultproxy
on the us-east -> ap-tokyo replication path) and owns their cleanup; this
script only talks to them:

1. setup: bucket `src` in us-east and `dst` in ap-tokyo, both versioned, and
   a replication rule src -> dst (aws CLI);
2. per case (PUT rate x object size) and injected one-way delay: sets the
   proxy delay, runs an unmeasured warm-up load and waits for replication to
   drain, then scrapes ap-tokyo's `tandem_replication_apply_latency_seconds`
   histogram, runs the measured `s3-load --rate` PUT load against src, waits
   until us-east's backlog to ap-tokyo is empty (the drain time), scrapes
   again and takes p50/p99 of the difference (linear interpolation inside
   the histogram buckets, as Prometheus' histogram_quantile does);
3. prints the table, and writes one JSON line per run to the results file.

Lag = time from a version's commit in us-east to its durable apply in
ap-tokyo (both on this machine, so one clock). Verdict per run: PASS when
every acknowledged PUT was shipped and applied (the backlog drained) and p99
lag minus the injected delay is under 1 s.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

LAG_METRIC = "tandem_replication_apply_latency_seconds"
TARGET_S = 1.0  # p99 lag minus injected delay must stay below this
POLL_S = 0.02  # drain polling interval (the drain time's resolution)
SAMPLE_S = 0.2  # origin backlog sampling interval during the load

REPLICATION_RULE = {
    "Role": "arn:aws:iam::123456789012:role/tandem-replication",
    "Rules": [
        {
            "ID": "bench",
            "Status": "Enabled",
            "Priority": 1,
            "Filter": {"Prefix": ""},
            "Destination": {"Bucket": "arn:aws:s3:::dst"},
            "DeleteMarkerReplication": {"Status": "Disabled"},
        }
    ],
}


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ metrics

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def scrape(url: str) -> list[tuple[str, dict, float]]:
    """GET /metrics and parse it into (name, labels, value) samples."""
    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    samples = []
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m and not line.startswith("#"):
            samples.append((m.group(1), dict(_LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return samples


def metric_sum(samples, name: str, **labels) -> float:
    """Sum of a metric's samples whose labels include `labels`."""
    return sum(v for n, l, v in samples if n == name and all(l.get(k) == w for k, w in labels.items()))


def lag_buckets(samples, origin: str) -> dict[float, float]:
    """Cumulative bucket counts {le: count} of the apply-latency histogram."""
    out = {}
    for n, l, v in samples:
        if n == LAG_METRIC + "_bucket" and l.get("origin") == origin:
            out[float(l["le"])] = v  # float("+Inf") == inf
    return out


def quantile(q: float, before: dict, after: dict) -> float | None:
    """q-quantile (seconds) of the observations made between two scrapes of a
    cumulative histogram; linear within a bucket, the last finite bound if
    it falls into +Inf, None without observations."""
    les = sorted(after)
    cum = [after[le] - before.get(le, 0.0) for le in les]
    if not cum or cum[-1] <= 0:
        return None
    rank = q * cum[-1]
    prev_le, prev_cum = 0.0, 0.0
    for le, c in zip(les, cum):
        if c >= rank and c > prev_cum:
            if math.isinf(le):
                return prev_le
            return prev_le + (le - prev_le) * (rank - prev_cum) / (c - prev_cum)
        prev_le, prev_cum = le, c
    return prev_le


def max_bound(before: dict, after: dict) -> float | None:
    """Upper bound of the bucket holding the largest new observation."""
    les = sorted(after)
    if not les:
        return None
    total = after[les[-1]] - before.get(les[-1], 0.0)
    return next((le for le in les if total > 0 and after[le] - before.get(le, 0.0) >= total), None)


def backlog(samples, peer: str) -> tuple[float, float]:
    """(changes waiting to ship to `peer`, age in s of the oldest) at the origin."""
    return (
        metric_sum(samples, "tandem_replication_backlog_changes", peer=peer),
        metric_sum(samples, "tandem_replication_lag_seconds", peer=peer),
    )


class Snapshot:
    """The counters of both regions a run compares before/after."""

    def __init__(self, us: str, tokyo: str):
        u, t = scrape(us), scrape(tokyo)
        self.buckets = lag_buckets(t, "us-east")
        self.lag_sum = metric_sum(t, LAG_METRIC + "_sum", origin="us-east")
        self.lag_count = metric_sum(t, LAG_METRIC + "_count", origin="us-east")
        self.applied = metric_sum(t, "tandem_replication_applied_changes_total", origin="us-east")
        self.shipped = metric_sum(u, "tandem_replication_shipped_changes_total", peer="ap-tokyo")
        self.failures = metric_sum(u, "tandem_replication_failures_total", peer="ap-tokyo")
        self.puts_2xx = sum(
            v
            for n, l, v in u
            if n == "tandem_requests_total" and l.get("op") == "PutObject" and l.get("status", "").startswith("2")
        )


# ------------------------------------------------------------ environment


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process (all threads) from /proc, in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def aws(endpoint: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["timeout", "60", "aws", "--endpoint-url", endpoint, "--output", "json", "s3api", *args],
        capture_output=True,
        text=True,
    )


def check(p: subprocess.CompletedProcess, what: str) -> str:
    if p.returncode != 0:
        raise SystemExit(f"{what} failed (exit {p.returncode}): {p.stderr.strip()}")
    return p.stdout


def setup_buckets(us: str, tokyo: str) -> None:
    for endpoint, bucket in ((us, "src"), (tokyo, "dst")):
        check(aws(endpoint, "create-bucket", "--bucket", bucket), f"create-bucket {bucket}")
        check(
            aws(endpoint, "put-bucket-versioning", "--bucket", bucket, "--versioning-configuration", "Status=Enabled"),
            f"put-bucket-versioning {bucket}",
        )
    # us-east accepts the rule once it knows dst, i.e. once ap-tokyo's bucket
    # claim has replicated to it.
    deadline = time.monotonic() + 30
    while True:
        p = aws(us, "put-bucket-replication", "--bucket", "src", "--replication-configuration", json.dumps(REPLICATION_RULE))
        if p.returncode == 0:
            return
        if time.monotonic() > deadline:
            check(p, "put-bucket-replication src -> dst")
        time.sleep(0.5)


def set_delay(control: str, ms: float) -> None:
    req = urllib.request.Request(f"{control}/delay?ms={ms:g}", method="POST", data=b"")
    with urllib.request.urlopen(req, timeout=5) as r:
        r.read()


def count_versions(endpoint: str, bucket: str) -> int | None:
    p = aws(endpoint, "list-object-versions", "--bucket", bucket, "--query", "length(Versions || `[]`)")
    return int(p.stdout.strip()) if p.returncode == 0 and p.stdout.strip().isdigit() else None


# ------------------------------------------------------------------ runs

_child: subprocess.Popen | None = None


def stop_child() -> None:
    """Stops a running s3-load (TERM to its `timeout`, which passes it on)."""
    if _child is not None and _child.poll() is None:
        _child.terminate()
        try:
            _child.wait(10)
        except subprocess.TimeoutExpired:
            _child.kill()


def run_load(a, rate: float, size: int, duration: float, server_pid: int | None, sample) -> dict:
    """One `s3-load --rate` PUT run against us-east bucket src; calls
    `sample()` every SAMPLE_S while it runs. Returns its JSON line (+ wall)."""
    global _child
    cmd = [
        "timeout", "--kill-after=5", str(int(duration + 120)), a.load,
        "--endpoint", a.us, "--access-key", a.access_key, "--secret-key", a.secret_key,
        "--bucket", "src", "--op", "put", "--size", str(size), "--rate", f"{rate:g}",
        "--concurrency", str(a.concurrency), "--duration", f"{duration:g}", "--warmup", "0",
        "--keys", str(a.keys), "--threads", str(a.threads),
    ]  # fmt: skip
    if server_pid:
        cmd += ["--server-pid", str(server_pid)]
    t0 = time.monotonic()
    _child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    while _child.poll() is None:
        sample()
        try:
            _child.wait(SAMPLE_S)
        except subprocess.TimeoutExpired:
            pass
    out = _child.stdout.read()
    rc, _child = _child.returncode, None
    if rc != 0:
        raise RuntimeError(f"s3-load exited with {rc}")
    result = json.loads(out)
    result["wall_s"] = time.monotonic() - t0
    return result


def wait_drained(us: str, timeout: float) -> float | None:
    """Seconds until us-east has nothing left to ship to ap-tokyo (None on timeout)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        changes, age = backlog(scrape(us), "ap-tokyo")
        if changes == 0 and age == 0:
            return time.monotonic() - t0
        time.sleep(POLL_S)
    return None


def warm_up(a, rate: float, size: int) -> int:
    """Unmeasured load (connections, caches, the shipper's first batches), then
    a full drain so the measured run starts from an empty backlog."""
    if a.warmup <= 0:
        return 0
    puts = run_load(a, rate, size, a.warmup, None, lambda: None)["ops"]
    if wait_drained(a.us, a.drain_timeout) is None:
        log("WARNING: warm-up load did not drain; measuring anyway")
    return puts


def lag_figures(before: Snapshot, after: Snapshot) -> dict:
    """Lag statistics (ms) of the changes applied between two snapshots."""
    observed = after.lag_count - before.lag_count
    ms = lambda v: None if v is None else 1000 * v  # noqa: E731
    top = max_bound(before.buckets, after.buckets)
    return {
        "lag_p50_ms": ms(quantile(0.50, before.buckets, after.buckets)),
        "lag_p99_ms": ms(quantile(0.99, before.buckets, after.buckets)),
        "lag_mean_ms": ms((after.lag_sum - before.lag_sum) / observed) if observed else None,
        "lag_max_bucket_ms": None if top is None or math.isinf(top) else ms(top),
        "lag_beyond_histogram": top is not None and math.isinf(top),  # some lag > ~110 s
        "lag_observations": int(observed),
    }


def one_run(a, rate: float, size: int, delay_ms: float) -> dict:
    """One measured run: returns the row for the table and the JSON file."""
    set_delay(a.proxy_control, delay_ms)
    row = {"rate": rate, "size": size, "delay_ms": delay_ms, "duration_s": a.duration}
    row["warmup_puts"] = warm_up(a, rate, size)

    peak = {"backlog": 0.0, "age": 0.0}

    def sample() -> None:
        changes, age = backlog(scrape(a.us), "ap-tokyo")
        peak["backlog"], peak["age"] = max(peak["backlog"], changes), max(peak["age"], age)

    before = Snapshot(a.us, a.tokyo)
    cpu0 = {k: cpu_seconds(p) for k, p in a.pids.items()}
    t0 = time.monotonic()
    load = run_load(a, rate, size, a.duration, a.pids.get("us-east"), sample)
    drain = wait_drained(a.us, a.drain_timeout)
    wall = time.monotonic() - t0
    cpu1 = {k: cpu_seconds(p) for k, p in a.pids.items()}
    after = Snapshot(a.us, a.tokyo)

    row.update(
        puts=load["ops"],
        put_errors=load["errors"],
        puts_per_sec=load["ops_per_sec"],
        put_p50_ms=load["p50_ms"],
        put_p99_ms=load["p99_ms"],
        **lag_figures(before, after),
        drain_s=drain,
        shipped=int(after.shipped - before.shipped),
        applied=int(after.applied - before.applied),
        acked_by_server=int(after.puts_2xx - before.puts_2xx),
        ship_failures=int(after.failures - before.failures),
        peak_backlog=int(peak["backlog"]),
        peak_oldest_age_s=peak["age"],
        cpu_pct={k: None if None in (cpu0[k], cpu1[k]) else round(100 * (cpu1[k] - cpu0[k]) / wall, 1) for k in a.pids},
        client_cpu_pct=load["client_cpu_pct"],
    )
    over = None if row["lag_p99_ms"] is None else row["lag_p99_ms"] - delay_ms
    row["p99_minus_delay_ms"] = over
    # Every acknowledged PUT shipped and applied (more is fine: a PUT that
    # timed out at the client may still have committed), else the histogram
    # misses changes and its p99 means little.
    row["complete"] = drain is not None and row["shipped"] >= row["puts"] and row["lag_observations"] == row["shipped"]
    row["verdict"] = "PASS" if row["complete"] and over is not None and over < 1000 * TARGET_S else "FAIL"
    return row


# ----------------------------------------------------------------- table


def fmt_ms(v) -> str:
    if v is None:
        return "n/a"
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.1f}"


def size_str(n: int) -> str:
    return f"{n // 1048576} MiB" if n >= 1048576 and n % 1048576 == 0 else f"{n // 1024} KiB"


def run_label(r: dict) -> str:
    return f"{size_str(r['size']):>7} {r['rate']:>5g} "


def table_line(r: dict) -> str:
    if r.get("failed"):
        return run_label(r) + f"{'':>6} {'':>7} {r['delay_ms']:>5g} | run FAILED: {r['failed']}"
    drain = "timeout" if r["drain_s"] is None else f"{r['drain_s']:.2f}"
    clean = r["complete"] and r["shipped"] == r["puts"] and not r["put_errors"]
    ship = f"{r['shipped']}/{r['puts']}" + ("" if clean else "!")
    top = ">110s" if r["lag_beyond_histogram"] else fmt_ms(r["lag_max_bucket_ms"])
    return (
        run_label(r) + f"{r['puts_per_sec']:>6.0f} {fmt_ms(r['put_p99_ms']):>7} {r['delay_ms']:>5g} | "
        f"{fmt_ms(r['lag_p50_ms']):>7} {fmt_ms(r['lag_p99_ms']):>6} {fmt_ms(r['p99_minus_delay_ms']):>7} "
        f"{fmt_ms(r['lag_mean_ms']):>6} {top:>6} | {drain:>7} {ship:>13} {r['peak_backlog']:>7} | {r['verdict']}"
    )


def notes(r: dict, a) -> list[str]:
    """What is off about a run, beyond its figures."""
    out = []
    if r["put_errors"]:
        out.append(f"{r['put_errors']} PUT errors")
    if r["shipped"] != r["puts"]:
        out.append(f"shipped {r['shipped']} != acknowledged {r['puts']} (server counted {r['acked_by_server']} 2xx PUTs)")
    if r["drain_s"] is None:
        out.append(f"backlog not empty {a.drain_timeout:g} s after the load")
    if r["applied"] != r["shipped"] or r["lag_observations"] != r["applied"]:
        out.append(f"applied {r['applied']}, lag observations {r['lag_observations']}, shipped {r['shipped']}")
    if r["ship_failures"]:
        out.append(f"{r['ship_failures']} failed batch attempts")
    if r["puts_per_sec"] < 0.9 * r["rate"]:
        out.append(f"achieved {r['puts_per_sec']:.0f} PUT/s, below the {r['rate']:g} target")
    return out


LEGEND = """
PUT/s, PUT p99: achieved rate and PUT latency at s3-load. lag: ms from commit in us-east to durable apply
in ap-tokyo; mean is exact (histogram sum/count), p50/p99 interpolated in 25%-wide buckets, max<= the upper
bound of the highest bucket hit. drain: load end -> us-east has nothing left for ap-tokyo (0.02 s polls).
shipped/acked: versions us-east shipped vs PUTs acknowledged to s3-load ('!' = see the notes).
peak bl: most changes waiting in us-east for ap-tokyo (sampled every 0.2 s)."""


def print_table(rows: list[dict], a) -> None:
    print(
        f"\nReplication lag us-east -> ap-tokyo: {a.duration:g} s of PUTs per run, concurrency {a.concurrency}, "
        f"{os.cpu_count()} CPUs, load avg before: {a.loadavg}"
    )
    print("delay = one-way delay injected on the us-east -> ap-tokyo hop; PASS = all applied and p99 - delay < 1 s\n")
    hdr = (
        f"{'size':>7} {'rate':>5} {'PUT/s':>6} {'PUT p99':>7} {'delay':>5} | {'lag p50':>7} {'p99':>6} {'p99-dly':>7} "
        f"{'mean':>6} {'max<=':>6} | {'drain s':>7} {'shipped/acked':>13} {'peak bl':>7} | verdict"
    )
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(table_line(r))
    print(LEGEND)
    done = [r for r in rows if not r.get("failed")]
    for r in done:
        if n := notes(r, a):
            print(f"  NOTE {size_str(r['size'])} @{r['rate']:g}/s, delay {r['delay_ms']:g} ms: " + "; ".join(n))
    if done:
        names = list(done[0]["cpu_pct"]) + ["s3-load"]
        print("\nCPU% over each run incl. drain (100 = one core):")
        print(f"{'size':>7} {'rate':>5} {'delay':>5} " + " ".join(f"{n:>8}" for n in names))
        for r in done:
            cpu = [*r["cpu_pct"].values(), r["client_cpu_pct"]]
            print(run_label(r) + f"{r['delay_ms']:>5g} " + " ".join(f"{'-' if c is None else c:>8}" for c in cpu))


# ------------------------------------------------------------------ main


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--us", required=True, help="us-east base URL")
    p.add_argument("--tokyo", required=True, help="ap-tokyo base URL")
    p.add_argument("--proxy-control", required=True, help="faultproxy control URL")
    p.add_argument("--pids", default="", help="name=pid,... of processes whose CPU to report (us-east first)")
    p.add_argument("--load", required=True, help="path of s3-load")
    p.add_argument("--access-key", required=True)
    p.add_argument("--secret-key", required=True)
    p.add_argument("--cases", default="200:4096 500:4096", help='"RATE:SIZE ..." PUT/s and body bytes')
    p.add_argument("--delays", default="0 80", help="one-way delays in ms")
    p.add_argument("--duration", type=float, default=20)
    p.add_argument("--warmup", type=float, default=2)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--keys", type=int, default=100000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--drain-timeout", type=float, default=120)
    p.add_argument("--verify", type=int, default=1, help="1 = count versions in src and dst at the end")
    p.add_argument("--results", required=True)
    a = p.parse_args(argv)
    a.pids = {k: int(v) for k, v in (kv.split("=") for kv in a.pids.split(",") if kv)}
    a.cases = [(float(r), int(s)) for r, s in (c.split(":") for c in a.cases.split())]
    a.delays = [float(d) for d in a.delays.split()]
    return a


def main(argv=None) -> int:
    a = parse_args(argv)
    # run.sh stops us with TERM: let `finally` stop the running s3-load.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.environ.update(AWS_ACCESS_KEY_ID=a.access_key, AWS_SECRET_ACCESS_KEY=a.secret_key, AWS_DEFAULT_REGION="us-east-1")
    a.loadavg = open("/proc/loadavg").read().split()[0]
    rows = []
    try:
        log("creating src (us-east) and dst (ap-tokyo), versioned, with a replication rule src -> dst")
        setup_buckets(a.us, a.tokyo)
        total_puts = 0
        with open(a.results, "w") as out:
            for rate, size in a.cases:
                for delay in a.delays:
                    log(f"PUT {size} B at {rate:g}/s, delay {delay:g} ms ({a.warmup:g} s warm-up + {a.duration:g} s)")
                    try:
                        row = one_run(a, rate, size, delay)
                        total_puts += row["puts"] + row.get("warmup_puts", 0)
                    except Exception as e:  # noqa: BLE001 - report and go on with the matrix
                        log(f"WARNING: run failed: {e}")
                        row = {"rate": rate, "size": size, "delay_ms": delay, "failed": str(e)}
                    rows.append(row)
                    out.write(json.dumps(row) + "\n")
                    out.flush()
        set_delay(a.proxy_control, 0)
        print_table(rows, a)
        if a.verify:
            log("counting versions in src and dst (list-object-versions)")
            src, dst = count_versions(a.us, "src"), count_versions(a.tokyo, "dst")
            ok = src == dst == total_puts
            print(f"\nversions: src {src}, dst {dst}, PUTs acknowledged in all runs incl. warm-ups {total_puts}: "
                  + ("match" if ok else "MISMATCH"))
    finally:
        stop_child()
    return 0


if __name__ == "__main__":
    sys.exit(main())
