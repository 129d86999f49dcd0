"""Replication under faults, between two real regions under a steady write load.

Every test uses a region pair of its own (`fresh_regions(proxies=True)`: a
FaultProxy in front of each region's replication_url; clients talk to the
regions directly) with a two-way setup: a versioned bucket in each region,
rules both ways (ReplicaModifications and DeleteMarkerReplication enabled),
and a global table created in us-east with a replica in ap-tokyo.

Writer threads in BOTH regions continuously PUT objects (small, and some
larger than 64 KiB, overwriting a few hot keys and deleting them now and then)
and PutItem/DeleteItem items. A ledger records every acknowledged write (key,
version id, ETag, body seed; for items every attempted state and whether it
was acknowledged). Afterwards, once both regions report an empty backlog:

* `tandem replication diff` exits 0 ("in sync") for both buckets and the table;
* both buckets list exactly the same versions and delete markers;
* every acknowledged version is in both regions with the same version id,
  ETag and size (HEAD of all of them, GET of a sample compared byte for byte),
  ReplicationStatus COMPLETED at its origin and REPLICA in the other region;
* both regions scan to identical items, and each item's state is the one its
  last acknowledged write left (or a later write whose outcome is unknown).

Faults: kill -9 of ap-tokyo (the destination of us-east's writes) mid-load and
a restart 3 s later; kill -9 of us-east (a source with acknowledged versions
still waiting to ship) and a restart; a partition of both replication links
held for TANDEM_PARTITION_SECONDS (default 60) while both regions keep
taking writes, then healed; a graceful restart of a source mid-replication,
after which its shipper resumes from its durable cursor (no gaps, nothing
shipped from the start again).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

from e2e_helpers import random_bytes
from faultload import (
    INLINE_MAX,
    KIB,
    SYNC_TIMEOUT,
    TOKYO,
    US,
    Ledger,
    Load,
    ObjWrite,
    assert_diff_clean,
    assert_writes_made_progress,
    backlog_rows,
    diff,
    head_or_none,
    list_versions,
    settle_and_check,
    two_way_setup,
)
from regions import wait_until

PARTITION_SECONDS = float(os.environ.get("TANDEM_PARTITION_SECONDS", "60"))


# --------------------------------------------------------------------------- kill -9


def test_destination_killed_and_restarted_under_write_load(fresh_regions):
    """kill -9 of ap-tokyo while both regions take writes; restart 3 s later. us-east's
    writes must keep being acknowledged, its shipper must report the peer failing while it
    is down, and afterwards everything acknowledged anywhere is in both regions."""
    pair = fresh_regions(proxies=True)
    setup = two_way_setup(pair, "kill-dst")
    ledger = Ledger()
    load = Load(pair, setup, ledger, pause=0.02, seed="kill-dst").start()
    try:
        time.sleep(3)
        assert_writes_made_progress(ledger, 0, "before the kill")
        killed_at = time.monotonic()
        pair.kill(TOKYO)
        # us-east notices: its shipper to ap-tokyo is failing, with work waiting.
        p = wait_until(
            lambda: (s := pair.peer_status(US, TOKYO))["state"] == "failing" and s["backlog"]["changes"] > 0 and s,
            timeout=3,
            what="us-east -> ap-tokyo failing with a backlog while ap-tokyo is down",
        )
        assert p["shipper"]["consecutive_failures"] > 0, p
        time.sleep(max(0.0, killed_at + 3 - time.monotonic()))
        pair.start(TOKYO)
        restarted_at = time.monotonic()
        time.sleep(3)
    finally:
        load.stop()
    assert_writes_made_progress(ledger, restarted_at, "after the restart")
    # Writers of the live region never failed; those of the killed one only while it was down.
    assert ledger.failures_of(US) == [], ledger.failures_of(US)[:5]
    tk_fail = ledger.failures_of(TOKYO)
    assert tk_fail, "no ap-tokyo write failed: was it really killed?"
    late = [f for f in tk_fail if not killed_at - 0.5 <= f[0] <= restarted_at + 1.0]
    assert not late, f"ap-tokyo writes failed outside the outage: {late[:5]}"
    stats = settle_and_check(pair, setup, ledger)
    print(f"\nkill ap-tokyo: {stats}, {len(tk_fail)} failed writes during the outage")


def test_source_killed_with_unshipped_acknowledged_writes(fresh_regions):
    """kill -9 of us-east mid-load while its link to ap-tokyo is slow (so versions it has
    acknowledged are still waiting to ship): they survive the crash in us-east, ship after
    the restart, and everything else converges too."""
    pair = fresh_regions(proxies=True)
    setup = two_way_setup(pair, "kill-src")
    ledger = Ledger()
    load = Load(pair, setup, ledger, pause=0.02, seed="kill-src").start()
    try:
        with pair.slow_links(400, TOKYO):  # us-east -> ap-tokyo batches arrive 0.4 s late
            time.sleep(3)
            assert_writes_made_progress(ledger, 0, "before the kill")
            waiting = wait_until(
                lambda: pair.peer_status(US, TOKYO)["backlog"]["changes"],
                timeout=5,
                what="a us-east -> ap-tokyo backlog",
            )
            killed_at = time.monotonic()
            pair.kill(US)
        acked_before_kill = ledger.acked_objects(US, before=killed_at)
        # What the proxy still held is delivered within its 0.4 s delay; what is missing in
        # ap-tokyo after that was acknowledged by us-east but never shipped.
        time.sleep(1)
        tk = pair.s3(TOKYO)
        unshipped = [
            w
            for w in acked_before_kill
            if not w.marker and head_or_none(tk, setup.buckets[TOKYO], w.key, w.version_id) is None
        ]
        assert unshipped, f"every version us-east acknowledged had reached ap-tokyo at the kill (backlog was {waiting})"
        time.sleep(max(0.0, killed_at + 3 - time.monotonic()))
        pair.start(US)
        restarted_at = time.monotonic()
        time.sleep(3)
    finally:
        load.stop()
    assert_writes_made_progress(ledger, restarted_at, "after the restart")
    assert ledger.failures_of(TOKYO) == [], ledger.failures_of(TOKYO)[:5]
    us_fail = ledger.failures_of(US)
    assert us_fail, "no us-east write failed: was it really killed?"
    late = [f for f in us_fail if not killed_at - 0.5 <= f[0] <= restarted_at + 1.0]
    assert not late, f"us-east writes failed outside the outage: {late[:5]}"
    # Acknowledged before the crash -> still in us-east, with the same ETag.
    us = pair.s3(US)
    lost = [
        (w.key, w.version_id)
        for w in acked_before_kill
        if not w.marker
        and ((h := head_or_none(us, setup.buckets[US], w.key, w.version_id)) is None or h["ETag"] != w.etag)
    ]
    assert not lost, f"{len(lost)} versions acknowledged by us-east before kill -9 are gone after restart: {lost[:10]}"
    stats = settle_and_check(pair, setup, ledger)
    print(
        f"\nkill us-east: {stats}; backlog at the kill {waiting}, "
        f"{len(unshipped)} acknowledged versions not yet in ap-tokyo at the kill, {len(us_fail)} failed writes"
    )


# --------------------------------------------------------------------------- partition


def test_partition_held_then_healed_under_write_load(fresh_regions):
    """Both replication links cut for TANDEM_PARTITION_SECONDS (60 by default) while both regions
    keep taking writes: clients see no errors, both shippers report "failing" with a backlog,
    versions written meanwhile are FAILED/PENDING and absent from the other region, and diff
    reports the divergence. After the heal everything converges within SYNC_TIMEOUT."""
    pair = fresh_regions(proxies=True)
    setup = two_way_setup(pair, "partition")
    a, b = setup.buckets[US], setup.buckets[TOKYO]
    ledger = Ledger()
    load = Load(pair, setup, ledger, pause=0.05, seed="partition").start()
    clients = {r: pair.s3(r) for r in pair.names}
    try:
        time.sleep(1.5)
        assert_writes_made_progress(ledger, 0, "before the partition")
        with pair.partitioned():
            cut_at = time.monotonic()

            # Both shippers fail, with work waiting.
            def both_failing():
                ps = {r: pair.peer_status(r) for r in pair.names}
                return all(p["state"] == "failing" and p["backlog"]["changes"] > 0 for p in ps.values()) and ps

            ps = wait_until(both_failing, timeout=10, what="both peers failing with a backlog")
            for r, p in ps.items():
                assert p["shipper"]["consecutive_failures"] > 0 and p["shipper"]["last_error"], (r, p["shipper"])

            # ... and the operator CLI says so.
            st = pair.tandem("status")
            assert st.returncode == 0, st.stdout + st.stderr
            rows = backlog_rows(st.stdout)
            assert set(rows) == {(US, TOKYO), (TOKYO, US)}, st.stdout
            assert all(state == "failing" and n > 0 for n, state in rows.values()), st.stdout
            bl = pair.tandem("replication", "backlog")
            assert bl.returncode == 0, bl.stdout + bl.stderr
            rows = backlog_rows(bl.stdout)
            assert all(rows.get(k, (0, ""))[0] > 0 and rows[k][1] == "failing" for k in ((US, TOKYO), (TOKYO, US))), (
                bl.stdout
            )
            assert "last error:" in bl.stdout, bl.stdout

            # diff sees the divergence (so "in sync" after the heal means
            # something): an item written in the partition is missing on the
            # other side, or differs there when the load updated a key that
            # had replicated before the cut. The table's few keys may not have
            # diverged yet at the first look (a delete of an absent key
            # changes nothing), so each target gets a few seconds.
            for kind, name in (("bucket", a), ("bucket", b), ("table", setup.table)):

                def diverged(kind=kind, name=name):
                    p = diff(pair, kind, name)
                    return p.returncode == 1 and ("missing" in p.stdout or "differs" in p.stdout)

                wait_until(diverged, timeout=10, what=f"diff --{kind} {name} to see the partition")

            # Versions written during the partition: FAILED (the shipper tried) in each region.
            for r in pair.names:

                def one_failed(r=r):
                    for w in ledger.acked_objects(r, after=cut_at)[:50]:
                        if (
                            not w.marker
                            and clients[r]
                            .head_object(Bucket=setup.buckets[r], Key=w.key, VersionId=w.version_id)
                            .get("ReplicationStatus")
                            == "FAILED"
                        ):
                            return True
                    return False

                wait_until(
                    one_failed, timeout=15, interval=0.5, what=f"a version written in {r} during the partition FAILED"
                )

            # Hold the partition; shortly before the heal, every version acknowledged since the cut
            # is FAILED or PENDING at its origin and absent from the other region.
            time.sleep(max(0.0, cut_at + PARTITION_SECONDS - 8 - time.monotonic()))
            problems = []
            during = ledger.acked_objects(after=cut_at)

            def check(w: ObjWrite) -> list[str]:
                out = []
                other = pair.other(w.region)
                if not w.marker:
                    s = clients[w.region].head_object(Bucket=setup.buckets[w.region], Key=w.key, VersionId=w.version_id)
                    if s.get("ReplicationStatus") not in ("FAILED", "PENDING"):
                        out.append(
                            f"{w.region}: {w.key}@{w.version_id} is {s.get('ReplicationStatus')} during the partition"
                        )
                    if head_or_none(clients[other], setup.buckets[other], w.key, w.version_id) is not None:
                        out.append(f"{other}: has {w.key}@{w.version_id} written in {w.region} during the partition")
                return out

            with ThreadPoolExecutor(6) as ex:
                problems = [p for ps_ in ex.map(check, during) for p in ps_]
            assert not problems, f"{len(problems)} problems during the partition, e.g.\n" + "\n".join(problems[:15])
            assert (
                len([w for w in during if w.region == US]) >= 20 and len([w for w in during if w.region == TOKYO]) >= 20
            )
            still = {r: pair.peer_status(r)["state"] for r in pair.names}
            assert still == {US: "failing", TOKYO: "failing"}, still
            time.sleep(max(0.0, cut_at + PARTITION_SECONDS - time.monotonic()))
            held = time.monotonic() - cut_at
        healed_at = time.monotonic()
        time.sleep(2)  # writes keep coming across the heal
    finally:
        load.stop()
    assert held >= PARTITION_SECONDS
    # Client traffic never went through the proxies: no write failed anywhere.
    assert ledger.failures == [], ledger.failures[:5]
    assert_writes_made_progress(ledger, healed_at, "after the heal")
    stats = settle_and_check(pair, setup, ledger)
    n_during = len(ledger.acked_objects(after=cut_at, before=healed_at))
    print(
        f"\npartition {held:.0f}s: {stats}, {n_during} object writes acknowledged during it, "
        f"{ledger.acked_items()} item writes in all"
    )


# --------------------------------------------------------------------------- shipper restart


def test_shipper_resumes_from_its_cursor_after_a_graceful_restart(fresh_regions):
    """200 objects written in us-east while its link to ap-tokyo is slow; us-east is stopped
    (SIGTERM) and restarted while part of them has arrived. All 200 arrive with their version
    ids, none twice, and the restarted shipper ships only what its durable cursor had not
    covered (it does not start over)."""
    pair = fresh_regions(proxies=True)
    setup = two_way_setup(pair, "cursor")
    a, b = setup.buckets[US], setup.buckets[TOKYO]
    us, tk = pair.s3(US), pair.s3(TOKYO)
    shipped0 = pair.peer_status(US, TOKYO)["shipper"]["shipped_changes"]
    written: dict[str, tuple[str, str, int, str]] = {}
    px = pair.proxy(TOKYO)
    px.delay(300)
    try:
        for i in range(200):
            key = f"obj/{i:03d}"
            size = 100 * KIB if i % 10 == 0 else 700 + i
            seed = f"cursor/{i}"
            p = us.put_object(Bucket=a, Key=key, Body=random_bytes(size, seed=seed))
            written[key] = (p["VersionId"], p["ETag"], size, seed)
            time.sleep(0.01)
        st = pair.peer_status(US, TOKYO)
        arrived = len(list_versions(tk, b))
        durable = st["shipper"]["shipped_changes"] - shipped0
        assert 0 < arrived < 200, f"{arrived} of 200 had arrived when the writes ended: not mid-replication"
        assert st["backlog"]["changes"] > 0, st
        pair.stop(US)
        assert pair[US].proc.returncode == 0, f"us-east did not stop gracefully (exit {pair[US].proc.returncode})"
        pair.start(US)
    finally:
        px.reset()
    pair.wait_in_sync(timeout=SYNC_TIMEOUT)
    # The new process resumed from its cursor: it shipped no more than what was left after it.
    shipped_after = pair.peer_status(US, TOKYO)["shipper"]["shipped_changes"]
    assert shipped_after <= 200 - durable, (
        f"after the restart us-east shipped {shipped_after} changes, but only {200 - durable} "
        f"were left after its cursor ({durable} acknowledged before the stop)"
    )
    got = list_versions(tk, b)
    want = {(k, v[0]): ("version", v[1], v[2]) for k, v in written.items()}
    assert {k: g[:3] for k, g in got.items()} == want, (
        f"ap-tokyo: missing {sorted(set(want) - set(got))[:10]}, extra {sorted(set(got) - set(want))[:10]}"
    )
    assert list_versions(us, a) == got
    for key, (vid, etag, size, seed) in written.items():
        s = us.head_object(Bucket=a, Key=key, VersionId=vid)
        assert s.get("ReplicationStatus") == "COMPLETED", (key, s.get("ReplicationStatus"))
        if size > INLINE_MAX:
            body = tk.get_object(Bucket=b, Key=key, VersionId=vid)["Body"].read()
            assert body == random_bytes(size, seed=seed), key
    assert_diff_clean(pair, setup)
    print(
        f"\ncursor: {arrived}/200 arrived and {durable} acknowledged at the stop; {shipped_after} shipped after the restart"
    )
