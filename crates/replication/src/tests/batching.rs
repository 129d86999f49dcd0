//! The shipper's batch follows the kept backlog: small while little waits,
//! larger (up to its bound) when a peer is far behind.

use std::sync::Arc;

use super::*;
use crate::backlog::PeerBacklog;
use crate::batch_size::{MAX, MIN};
use crate::peer::{Peer, PeerClient, ReplicationKey};
use crate::shipper::Shipper;

fn shipper(store: &Store, backlog: Arc<PeerBacklog>) -> Shipper {
    let key = ReplicationKey {
        access_key_id: "K".into(),
        secret_access_key: "S".into(),
    };
    Shipper {
        peer: Peer {
            name: PEER.into(),
            url: "http://127.0.0.1:9".into(),
            other_urls: vec![],
        },
        store: store.clone(),
        client: PeerClient::new(HERE, key),
        stats: Arc::default(),
        backlog,
    }
}

/// Changes the shipper's next batch would carry.
fn next_batch(shipper: &Shipper) -> usize {
    let size = shipper.next_batch_size();
    let entries = shipper.store.changes_after(0, size.entries).unwrap();
    let last = entries.last().map_or(0, |e| e.seq);
    shipper.plan(&entries, last, size).unwrap().outgoing.len()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_batch_grows_with_the_backlog() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let backlog = Arc::new(PeerBacklog::new(PEER));
    let shipper = shipper(&store, Arc::clone(&backlog));
    app_states(&store, 100).await;
    backlog.keep_up(&store, false).unwrap();
    assert_eq!(shipper.next_batch_size(), MIN);
    assert_eq!(next_batch(&shipper), 100, "a small backlog ships in one small batch");
    app_states(&store, 9_900).await;
    backlog.keep_up(&store, false).unwrap();
    assert_eq!(next_batch(&shipper), 2_500, "a quarter of 10 000 waiting changes");
    app_states(&store, 90_000).await;
    backlog.keep_up(&store, false).unwrap();
    assert_eq!(shipper.next_batch_size().entries, MAX.entries);
    assert_eq!(next_batch(&shipper), MAX.entries);
    assert_eq!(
        shipper.stats.snapshot().batch.map(|b| b.entries),
        Some(MAX.entries),
        "the status shows the size in use"
    );
    let json = serde_json::to_value(shipper.stats.snapshot()).unwrap();
    assert_eq!(json["batch"]["entries"], MAX.entries);
}
