//! The kept backlog: equal to a full scan after any mix of commits and
//! cursor moves, rebuilt after a restart, recounted after a rule change, and
//! read without touching the log once counted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::backlog::PeerBacklog;
use crate::heartbeat::{self, DETAIL};

fn counted(store: &Store) -> PeerBacklog {
    let backlog = PeerBacklog::new(PEER);
    backlog.keep_up(store, true).expect("count");
    backlog
}

/// A log with every kind of entry the tally tells apart: changes for the
/// peer in three resources, with and without bodies, a version no region can
/// take, and changes that ship nowhere.
async fn mixed_log(store: &Store) {
    peer_bucket(store, "dst").await;
    replicated_bucket(store, "src", "dst").await;
    replicated_bucket(store, "lost", "nowhere").await;
    store.create_bucket(bucket("plain", None)).await.expect("plain bucket");
    app_states(store, 5).await;
    put(store, "src", "a", b"hello").await;
    put(store, "src", "b", b"hello, world").await;
    put(store, "lost", "x", b"unroutable").await;
    put(store, "plain", "p", b"ships nowhere").await;
    store.delete_object("src", "a", None, "o").await.expect("delete marker");
}

#[tokio::test(flavor = "multi_thread")]
async fn counts_kept_across_commits_equal_a_full_scan() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let backlog = PeerBacklog::new(PEER);
    mixed_log(&store).await;
    let first = backlog.backlog(&store).unwrap();
    assert_eq!(counts(&first), counts(&full_scan(&store)));
    // More commits, counted from where counting stopped.
    put(&store, "src", "c", b"more").await;
    app_states(&store, 7).await;
    let kept = backlog.backlog(&store).unwrap();
    let scan = full_scan(&store);
    assert_eq!(counts(&kept), counts(&scan));
    // 12 application states, 3 bucket claims, 4 versions of `src`.
    assert_eq!((kept.changes, kept.unroutable), (19, 1), "{kept:?}");
    assert_eq!(kept.by_resource["bucket/dst"], Pending { changes: 4, bytes: 21 });
    assert!(!kept.truncated);
    assert!(kept.oldest_age_seconds >= 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn counts_drop_as_the_cursor_advances() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    mixed_log(&store).await;
    let backlog = counted(&store);
    let before = backlog.backlog(&store).unwrap();
    // The shipper saves the cursor and says so.
    let half = store.last_seq() / 2;
    move_cursor(&store, half).await;
    backlog.shipped_through(half);
    let after = backlog.backlog(&store).unwrap();
    assert_eq!(counts(&after), counts(&full_scan(&store)));
    assert!(after.changes < before.changes, "{before:?} -> {after:?}");
    // A cursor moved without telling the counts is picked up from the store.
    move_cursor(&store, store.last_seq()).await;
    let drained = backlog.backlog(&store).unwrap();
    assert_eq!((drained.changes, drained.bytes, drained.unroutable), (0, 0, 0));
    assert!(drained.by_resource.is_empty());
    assert_eq!(drained.oldest_age_seconds, 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_rebuilds_the_counts_from_the_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let store = open(&dir);
        mixed_log(&store).await;
        move_cursor(&store, 3).await;
        counted(&store).backlog(&store).unwrap()
    };
    let store = reopen(&dir);
    let rebuilt = PeerBacklog::new(PEER).backlog(&store).unwrap();
    assert_eq!(counts(&rebuilt), counts(&before));
    assert_eq!(rebuilt.cursor, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_uncounted_log_is_truncated_until_counting_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    app_states(&store, 25_000).await;
    let backlog = PeerBacklog::new(PEER);
    let partial = backlog.backlog(&store).unwrap();
    assert!(partial.truncated, "a reader counts a bounded part itself");
    assert!(partial.changes < 25_000, "{}", partial.changes);
    backlog.keep_up(&store, true).unwrap();
    let whole = backlog.backlog(&store).unwrap();
    assert_eq!((whole.changes, whole.truncated), (25_000, false));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scrape_of_a_200k_backlog_reads_no_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    app_states(&store, 200_000).await;
    let replication = crate::Replication::new(
        store.clone(),
        vec![crate::Peer {
            name: PEER.into(),
            url: "http://127.0.0.1:9".into(),
            other_urls: vec![],
        }],
        None,
        None,
    );
    let backlog = Arc::clone(&replication.inner.backlogs[PEER]);
    backlog.keep_up(&store, true).unwrap();
    let read = backlog.entries_read();
    assert_eq!(read, 200_000, "counted once");
    let started = Instant::now();
    for _ in 0..100 {
        let status = replication.status().unwrap();
        assert_eq!(status["peers"][0]["backlog"]["changes"], 200_000);
        replication.refresh_metrics();
        let beat = heartbeat::take(&store, &backlog).unwrap();
        assert_eq!((beat.waiting.len(), beat.more_changes), (DETAIL, 200_000 - DETAIL as u64));
    }
    assert_eq!(
        backlog.entries_read(),
        read,
        "status, metrics and heartbeats read nothing of the log"
    );
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "100 status requests, scrapes and heartbeats took {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rule_change_recounts_what_waits() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    mixed_log(&store).await;
    let backlog = counted(&store);
    assert_eq!(backlog.backlog(&store).unwrap().by_resource["bucket/dst"].changes, 3);
    // The rule goes: the versions written under it no longer ship.
    store
        .update_bucket("src", |b| {
            b.replication = None;
            Ok(())
        })
        .await
        .unwrap();
    backlog.keep_up(&store, false).unwrap();
    let not_yet = backlog.backlog(&store).unwrap();
    assert_eq!(
        not_yet.by_resource["bucket/dst"].changes, 3,
        "counted as first routed until the recount"
    );
    assert!(backlog.keep_up(&store, true).unwrap(), "the rule change asked for a recount");
    let recounted = backlog.backlog(&store).unwrap();
    assert_eq!(counts(&recounted), counts(&full_scan(&store)));
    assert!(!recounted.by_resource.contains_key("bucket/dst"), "{recounted:?}");
    assert!(!backlog.keep_up(&store, true).unwrap(), "one recount is enough");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_destination_claimed_by_a_peer_is_recounted_when_told() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    mixed_log(&store).await;
    let backlog = counted(&store);
    assert_eq!(backlog.backlog(&store).unwrap().unroutable, 1);
    // The destination appears at the peer: its claim arrives in a batch,
    // which writes nothing to this region's log.
    peer_bucket(&store, "nowhere").await;
    backlog.routing_changed();
    assert!(backlog.keep_up(&store, true).unwrap());
    let recounted = backlog.backlog(&store).unwrap();
    assert_eq!(counts(&recounted), counts(&full_scan(&store)));
    assert_eq!((recounted.unroutable, recounted.by_resource["bucket/nowhere"].changes), (0, 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn counting_alongside_commits_and_readers_ends_equal_to_a_full_scan() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    peer_bucket(&store, "dst").await;
    replicated_bucket(&store, "src", "dst").await;
    let backlog = Arc::new(PeerBacklog::new(PEER));
    let follower = tokio::spawn(crate::backlog::follow(Arc::clone(&backlog), store.clone()));
    let reader = {
        let (backlog, store) = (Arc::clone(&backlog), store.clone());
        std::thread::spawn(move || {
            for _ in 0..200 {
                backlog.backlog(&store).unwrap();
            }
        })
    };
    for round in 0..20u64 {
        app_states(&store, 50).await;
        put(&store, "src", "k", b"body").await;
        if round % 5 == 4 {
            let to = store.last_seq() - 10;
            move_cursor(&store, to).await;
            backlog.shipped_through(to);
        }
    }
    reader.join().unwrap();
    let started = Instant::now();
    while backlog.totals() != (full_scan(&store).changes, full_scan(&store).bytes) {
        assert!(started.elapsed() < Duration::from_secs(10), "the follower did not catch up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    follower.abort();
    assert_eq!(counts(&backlog.backlog(&store).unwrap()), counts(&full_scan(&store)));
}

#[test]
fn recounts_are_spaced_by_what_they_cost() {
    use crate::backlog::{RECOUNT_SPACING, recount_spacing};
    assert_eq!(recount_spacing(Duration::from_millis(5)), RECOUNT_SPACING);
    assert_eq!(recount_spacing(Duration::from_secs(2)), Duration::from_secs(20));
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_waiting_means_nothing_to_recount() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let backlog = counted(&store);
    backlog.routing_changed();
    let read = backlog.entries_read();
    assert!(!backlog.keep_up(&store, true).unwrap());
    assert_eq!(backlog.entries_read(), read);
}
