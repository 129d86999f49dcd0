//! Tests of the kept backlog and of batch sizing against a real store (no
//! network): a region `us-east` with one peer `ap-tokyo`, logs written
//! straight into the store, and a plain full scan of the log to compare the
//! kept counts with.

mod backlog;
mod batching;

use std::collections::BTreeMap;

use bytes::Bytes;
use tandem_store::records::{ReplicationConfig, ReplicationFilter, ReplicationRule};
use tandem_store::replica::RegistryEntry;
use tandem_store::{BucketRecord, Change, ObjectVersion, StagedBody, Store, Versioning};

use crate::backlog::{Backlog, Pending};
use crate::route::{Route, Router};

const HERE: &str = "us-east";
const PEER: &str = "ap-tokyo";

fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(dir.path(), HERE).expect("open the store")
}

/// Opens the store again once the last handle's writer thread let go of it.
fn reopen(dir: &tempfile::TempDir) -> Store {
    for _ in 0..100 {
        if let Ok(store) = Store::open(dir.path(), HERE) {
            return store;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    open(dir)
}

/// Appends `n` application-state changes (each ships to every peer), in
/// commits of at most 20 000.
async fn app_states(store: &Store, n: usize) {
    let mut left = n;
    while left > 0 {
        let now = left.min(20_000);
        left -= now;
        store
            .write(move |tx| -> Result<(), tandem_store::StoreError> {
                for i in 0..now {
                    let hlc = tx.now();
                    let change = Change::AppState {
                        app: format!("app{}", i % 3),
                        record: serde_json::json!({ "state": "active", "n": i }),
                    };
                    tx.append(HERE, hlc, change)?;
                }
                Ok(())
            })
            .await
            .expect("append");
    }
}

fn rule(dest: &str) -> ReplicationRule {
    ReplicationRule {
        enabled: true,
        delete_marker_replication: true,
        filter: ReplicationFilter::default(),
        destination_bucket: format!("arn:aws:s3:::{dest}"),
        ..Default::default()
    }
}

fn bucket(name: &str, dest: Option<&str>) -> BucketRecord {
    BucketRecord {
        name: name.into(),
        owner: "o".into(),
        region: HERE.into(),
        created_ms: 0,
        versioning: Versioning::Enabled,
        grants: vec![],
        policy: None,
        cors: None,
        replication: dest.map(|d| ReplicationConfig {
            role: String::new(),
            rules: vec![rule(d)],
        }),
        access: Default::default(),
        hlc: 0,
    }
}

/// A bucket `name` held by the peer, as its claim would have arrived.
async fn peer_bucket(store: &Store, name: &str) {
    let (name, claim) = (
        name.to_string(),
        RegistryEntry {
            region: PEER.into(),
            owner: "o".into(),
            hlc: 1,
        },
    );
    store.write(move |tx| tx.apply_registry_claim(&name, claim)).await.expect("claim");
}

/// A local bucket `name` whose one rule replicates everything (delete
/// markers too) to `dest`.
async fn replicated_bucket(store: &Store, name: &str, dest: &str) {
    store.create_bucket(bucket(name, Some(dest))).await.expect("create bucket");
}

fn template() -> ObjectVersion {
    ObjectVersion {
        modified_ms: 0,
        ..ObjectVersion::empty("o", "e".into())
    }
}

async fn put(store: &Store, bucket: &str, key: &str, body: &'static [u8]) {
    let staged = StagedBody::from_bytes(Bytes::from_static(body));
    store
        .put_object(bucket, key, template(), staged, Box::new(|_| Ok(())))
        .await
        .expect("put");
}

/// The backlog as a plain scan of the whole log after the cursor finds it
/// (what the status did on every request before it was kept).
fn full_scan(store: &Store) -> Backlog {
    let read = store.read().expect("read");
    let cursor = read.cursor(PEER).expect("cursor");
    let mut router = Router::new(&read, store, PEER, false);
    let mut out = Backlog {
        cursor,
        last_seq: store.last_seq(),
        ..Default::default()
    };
    for entry in store.changes_after(cursor, usize::MAX).expect("log") {
        match router.route(&entry).expect("route") {
            Route::Skip | Route::Quarantine(_) => {}
            Route::Unroutable(_) => out.unroutable += 1,
            Route::Ship(o) => {
                out.changes += 1;
                out.bytes += o.shipped.body_len;
                let slot = out.by_resource.entry(o.shipped.op.resource()).or_default();
                slot.changes += 1;
                slot.bytes += o.shipped.body_len;
            }
        }
    }
    out
}

/// The parts of a backlog that do not depend on the moment it was taken.
fn counts(b: &Backlog) -> (u64, u64, u64, u64, u64, bool, BTreeMap<String, Pending>) {
    (
        b.cursor,
        b.last_seq,
        b.changes,
        b.bytes,
        b.unroutable,
        b.truncated,
        b.by_resource.clone(),
    )
}

/// Moves the peer's stored cursor, as the shipper's commit does.
async fn move_cursor(store: &Store, to: u64) {
    store.write(move |tx| tx.advance_cursor(PEER, to)).await.expect("cursor");
}
