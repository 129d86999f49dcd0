"""Crash safety: kill -9 a node under concurrent write load, restart, verify.

16 writer threads PUT objects (1 KiB..300 KiB, some multipart) into one
bucket; an object's sha256 is recorded as acknowledged only after its PUT
(or CompleteMultipartUpload) returned 200. After ~5 s the process gets
SIGKILL, is restarted on the same data dir, and every acknowledged object
must be there byte for byte; any key that can be read must hold a complete
body that some writer sent for it; every listed key must be readable.
Two rounds of load + kill + restart.
"""

import hashlib
import os
import random
import threading
import time
from collections import defaultdict

from botocore.exceptions import ClientError

from e2e_helpers import describe

WRITERS = 16
LOAD_SECONDS = 5.0
ROUNDS = 2
HOT_KEYS = 8
MIB = 1024 * 1024


class Ledger:
    def __init__(self):
        self.lock = threading.Lock()
        self.attempted = defaultdict(dict)  # key -> {sha256: size}
        self.acked = {}  # unique key -> (sha256, size)
        self.hot_acked = defaultdict(set)  # hot key -> {sha256}
        self.errors = []  # (time, key, repr) of failures while the node was up
        self.count = 0

    def attempt(self, key, digest, size):
        with self.lock:
            self.attempted[key][digest] = size

    def ack(self, key, digest, size, hot):
        with self.lock:
            self.count += 1
            if hot:
                self.hot_acked[key].add(digest)
            else:
                self.acked[key] = (digest, size)


def writer(node, bucket, tid, rnd, ledger, stop, killed_at):
    s3 = node.client(read_timeout=30)
    rng = random.Random(f"{rnd}-{tid}")
    i = 0
    while not stop.is_set():
        hot = rng.random() < 0.2
        key = f"hot/{rng.randrange(HOT_KEYS)}" if hot else f"r{rnd}/t{tid:02d}/{i:05d}"
        i += 1
        multipart = rng.random() < 0.15
        if multipart and rng.random() < 0.2:
            parts = [os.urandom(5 * MIB), os.urandom(rng.randint(1024, 300 * 1024))]
        elif multipart:
            parts = [os.urandom(rng.randint(1024, 300 * 1024))]
        else:
            parts = [os.urandom(rng.randint(1024, 300 * 1024))]
        body = b"".join(parts)
        digest = hashlib.sha256(body).hexdigest()
        ledger.attempt(key, digest, len(body))
        try:
            if multipart:
                uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
                done = []
                for n, p in enumerate(parts, start=1):
                    e = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=n, Body=p)["ETag"]
                    done.append({"PartNumber": n, "ETag": e})
                r = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": done})
            else:
                r = s3.put_object(Bucket=bucket, Key=key, Body=body)
            if r["ResponseMetadata"]["HTTPStatusCode"] == 200:
                ledger.ack(key, digest, len(body), hot)
        except Exception as e:  # connection errors after the kill are expected
            if killed_at[0] is None:
                with ledger.lock:
                    ledger.errors.append((time.monotonic(), key, repr(e)[:300]))
            if killed_at[0] is not None or stop.is_set():
                return


def run_load_and_kill(node, bucket, rnd, ledger):
    stop = threading.Event()
    killed_at = [None]
    threads = [
        threading.Thread(target=writer, args=(node, bucket, t, rnd, ledger, stop, killed_at), daemon=True)
        for t in range(WRITERS)
    ]
    before = ledger.count
    for t in threads:
        t.start()
    time.sleep(LOAD_SECONDS)
    killed_at[0] = time.monotonic()
    node.kill()
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "writer threads hung after the kill"
    acked_this_round = ledger.count - before
    assert acked_this_round >= 20, f"only {acked_this_round} writes acknowledged in {LOAD_SECONDS}s"
    assert ledger.errors == [], f"writes failed while the node was up: {ledger.errors[:5]}"


def list_all(s3, bucket):
    out, token = {}, None
    while True:
        kw = {"Bucket": bucket, "MaxKeys": 1000}
        if token:
            kw["ContinuationToken"] = token
        r = s3.list_objects_v2(**kw)
        for o in r.get("Contents", []):
            assert o["Key"] not in out, f"key listed twice: {o['Key']}"
            out[o["Key"]] = o["Size"]
        if not r["IsTruncated"]:
            return out
        token = r["NextContinuationToken"]


def read(s3, bucket, key):
    """(sha256, size) of the object, or None for NoSuchKey."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as e:
        if e.response["Error"]["Code"] == "NoSuchKey":
            return None
        raise
    return hashlib.sha256(body).hexdigest(), len(body)


def verify(node, bucket, ledger):
    s3 = node.client()
    problems = []
    # 1. every acknowledged object is there, byte for byte
    for key, (digest, size) in sorted(ledger.acked.items()):
        got = read(s3, bucket, key)
        if got != (digest, size):
            problems.append(f"acked {key}: expected sha256 {digest[:12]} size {size}, got {got}")
    for key, digests in sorted(ledger.hot_acked.items()):
        got = read(s3, bucket, key)
        if got is None or got[0] not in ledger.attempted[key]:
            problems.append(f"hot key {key} (acked {len(digests)}x): got {got}, not one of the written bodies")
    # 2. any key that was written (acked or in flight) is complete or absent
    for key, written in sorted(ledger.attempted.items()):
        if key in ledger.acked or key in ledger.hot_acked:
            continue
        got = read(s3, bucket, key)
        if got is not None and written.get(got[0]) != got[1]:
            problems.append(f"in-flight {key}: body sha256 {got[0][:12]} size {got[1]} matches no write")
    # 3. the listing has no key that cannot be read, and sizes agree
    listed = list_all(s3, bucket)
    for key, size in sorted(listed.items()):
        if key not in ledger.attempted:
            problems.append(f"listed key {key!r} was never written")
            continue
        got = read(s3, bucket, key)
        if got is None:
            problems.append(f"listed key {key} GETs NoSuchKey")
        elif got[1] != size or got[0] not in ledger.attempted[key]:
            problems.append(f"listed key {key}: list size {size}, body size {got[1]}, valid={got[0] in ledger.attempted[key]}")
    missing_from_list = [k for k in list(ledger.acked) + list(ledger.hot_acked) if k not in listed]
    if missing_from_list:
        problems.append(f"{len(missing_from_list)} acked keys missing from ListObjectsV2, e.g. {missing_from_list[:3]}")
    assert not problems, f"{len(problems)} problems after restart:\n" + "\n".join(problems[:30])


def all_changes(node):
    out, after = [], 0
    for _ in range(10_000):
        feed = node.changes(after)
        if not feed["changes"]:
            return out, feed["last_seq"]
        out += feed["changes"]
        after = feed["changes"][-1]["seq"]
    raise AssertionError("change feed did not end")


def test_acknowledged_writes_survive_kill_9_under_concurrent_load(fresh_node):
    node = fresh_node()
    node.start()
    bucket = "crash-bucket"
    node.client().create_bucket(Bucket=bucket)
    ledger = Ledger()
    for rnd in range(ROUNDS):
        run_load_and_kill(node, bucket, rnd, ledger)
        assert not node.alive()
        node.start(timeout=60)
        verify(node, bucket, ledger)
    # the change feed survived too: strictly increasing seqs, every acked key present
    changes, last_seq = all_changes(node)
    seqs = [c["seq"] for c in changes]
    assert seqs == sorted(set(seqs)), "change feed seqs are not strictly increasing"
    assert last_seq == seqs[-1]
    text = "\n".join(str(c["change"]) for c in changes)
    absent = [k for k in ledger.acked if k not in text]
    assert not absent, f"{len(absent)} acked writes missing from the change feed, e.g. {absent[:3]}"
    # and the node still takes writes after two crashes
    s3 = node.client()
    s3.put_object(Bucket=bucket, Key="after-crash", Body=b"alive")
    assert s3.get_object(Bucket=bucket, Key="after-crash")["Body"].read() == b"alive"


def test_kill_9_right_after_acknowledged_put_keeps_object(fresh_node):
    node = fresh_node()
    node.start()
    s3 = node.client()
    s3.create_bucket(Bucket="crash-one")
    body = os.urandom(200_000)
    s3.put_object(Bucket="crash-one", Key="just-written", Body=body)
    node.kill()
    node.start(timeout=60)
    got = node.client().get_object(Bucket="crash-one", Key="just-written")["Body"].read()
    assert got == body
    r = node.request("GET", "/health", principal=None)
    assert r.status_code == 200, describe(r)
