//! The receiving side: reads a batch of frames from a peer, stages object
//! bodies to disk as they stream in, then applies the whole batch in one
//! durable commit — checking every change first, so a batch that cannot be
//! applied changes nothing and is retried by its sender. Applying is
//! idempotent (last writer wins), so redelivered batches are harmless.
//! A batch holding a change stamped further ahead of this region's clock
//! than the HLC guard allows is refused as a whole (see `tandem_store::hlc`).

use http_body::Body;
use prometheus_client::metrics::histogram::Histogram;
use tandem_dynamo::Stamp;
use tandem_store::replica::Applied;
use tandem_store::{BodyWriter, StagedBody, Store, Tx};

use crate::error::ReplicationError;
use crate::frame::{FrameReader, Op, Shipped};

/// A change read from the wire, with its staged body.
struct Received {
    shipped: Shipped,
    body: Option<StagedBody>,
}

/// A change the receiver can never apply as it stands (its table was
/// deleted here, its key no longer fits the table): skipped, reported back so
/// the sender marks it and counts it, and never retried on its own —
/// `tandem replication resync` ships it again once the cause is fixed.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Rejected {
    pub seq: u64,
    pub reason: String,
}

/// What a batch did.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    pub applied: u64,
    pub stale: u64,
    #[serde(default)]
    pub rejected: Vec<Rejected>,
    /// The highest origin sequence number in the batch.
    #[serde(default)]
    pub through: u64,
    /// The batch changed the bucket registry or a table's replicas here,
    /// which decide where this region's own changes route.
    #[serde(skip)]
    pub rerouting: bool,
}

/// Reads and applies one batch from `origin`; `lag` observes, for each
/// applied change, seconds since its commit at the origin; application state
/// changes are announced through `control`.
pub async fn apply_batch<B>(
    store: &Store,
    origin: &str,
    body: B,
    lag: &Histogram,
    control: Option<&tandem_control::AppControl>,
) -> Result<Summary, ReplicationError>
where
    B: Body<Data = bytes::Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let received = receive(store, origin, body).await?;
    let through = received.iter().map(|r| r.shipped.seq).max().unwrap_or(0);
    let rerouting = received.iter().any(|r| r.shipped.op.reroutes());
    let (outcomes, rejected, states) = store
        .write(move |tx| -> Result<_, ReplicationError> {
            let mut accepted = Vec::with_capacity(received.len());
            let mut rejected = Vec::new();
            for r in received {
                match check(tx, &r) {
                    Ok(()) => accepted.push(r),
                    Err(ReplicationError::Rejected(reason)) => rejected.push(Rejected {
                        seq: r.shipped.seq,
                        reason,
                    }),
                    Err(e) => return Err(e),
                }
            }
            let (mut outcomes, mut states) = (Vec::with_capacity(accepted.len()), Vec::new());
            for r in accepted {
                let hlc = r.shipped.hlc;
                outcomes.push((apply(tx, r, &mut states)?, hlc));
            }
            Ok((outcomes, rejected, states))
        })
        .await?;
    let now = tandem_store::now_ms();
    let mut summary = Summary {
        rejected,
        through,
        rerouting,
        ..Default::default()
    };
    if let Some(control) = control {
        for (app, state) in &states {
            control.announce(app, state);
        }
    }
    for (outcome, hlc) in outcomes {
        match outcome {
            Applied::Applied => {
                summary.applied += 1;
                let committed = tandem_store::hlc::hlc_millis(hlc);
                lag.observe(now.saturating_sub(committed) as f64 / 1000.0);
            }
            Applied::Stale => summary.stale += 1,
        }
    }
    Ok(summary)
}

/// Reads every frame, staging bodies as files (or memory when small), and
/// makes the files durable together at the end.
async fn receive<B>(store: &Store, origin: &str, body: B) -> Result<Vec<Received>, ReplicationError>
where
    B: Body<Data = bytes::Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let mut reader = FrameReader::new(body);
    let mut received = Vec::new();
    while let Some(shipped) = reader.next_header().await? {
        if shipped.origin != origin {
            return Err(ReplicationError::Wire(format!(
                "{origin} sent a change that originated in {}; regions only ship their own changes",
                shipped.origin
            )));
        }
        let body = match &shipped.op {
            Op::Version { version, .. } if !version.delete_marker => {
                if version.size != shipped.body_len {
                    return Err(ReplicationError::Wire(format!(
                        "a version of {} bytes came with a body of {}",
                        version.size, shipped.body_len
                    )));
                }
                let mut writer = BodyWriter::new();
                let mut remaining = shipped.body_len;
                while remaining > 0 {
                    let chunk = reader.body_chunk(&mut remaining).await?;
                    writer.write(store.blobs(), &chunk).await?;
                }
                Some(writer.finish_unsynced(store.blobs()).await?)
            }
            _ if shipped.body_len > 0 => return Err(ReplicationError::Wire("only object versions carry bodies".into())),
            _ => None,
        };
        received.push(Received { shipped, body });
    }
    tandem_store::blobs::sync_all(received.iter().filter_map(|r| r.body.as_ref())).await?;
    Ok(received)
}

/// Checks that a change can be applied here; writes nothing. `Rejected`
/// means it never can be as things stand here.
fn check(tx: &Tx<'_>, r: &Received) -> Result<(), ReplicationError> {
    // A change stamped far in this region's future is held (the batch is
    // refused and retried), so it cannot drag this region's clock along.
    tx.admit_clock(r.shipped.hlc)?;
    let missing_bucket = |bucket: &str| {
        ReplicationError::Rejected(format!(
            "bucket {bucket} does not exist in region {}; create it (versioned) to receive replicas",
            tx.region()
        ))
    };
    match &r.shipped.op {
        Op::Version { bucket, .. } | Op::VersionEdit { bucket, .. } => {
            tx.bucket(bucket)?.ok_or_else(|| missing_bucket(bucket))?;
        }
        Op::Item { table, keys, new, .. } => tandem_dynamo::replica::check_item_change(tx, table, keys, new.as_ref())?,
        Op::Table { definition } => tandem_dynamo::replica::check_table_definition(definition)?,
        Op::AppState { record, .. } => {
            serde_json::from_value::<tandem_control::StateRecord>(record.clone())
                .map_err(|e| ReplicationError::Rejected(format!("bad application state record: {e}")))?;
        }
        Op::Identity { key, record } => tandem_identity::replica::check(key, record).map_err(ReplicationError::Rejected)?,
        Op::BucketClaim { .. } | Op::BucketRelease { .. } | Op::ReplicaDropped { .. } => {}
    }
    Ok(())
}

/// Applies one checked change; application states that took effect are
/// collected in `states` so they can be announced after the commit.
fn apply(tx: &mut Tx<'_>, r: Received, states: &mut Vec<(String, tandem_control::StateRecord)>) -> Result<Applied, ReplicationError> {
    let Received { shipped, mut body } = r;
    let (origin, hlc) = (shipped.origin, shipped.hlc);
    Ok(match shipped.op {
        Op::Version { bucket, key, version } => tx.apply_replica_version(&bucket, &key, version, body.as_mut())?,
        Op::VersionEdit { bucket, key, version } => tx.apply_replica_edit(&bucket, &key, &version, &origin, hlc)?,
        Op::BucketClaim { name, claim } => tx.apply_registry_claim(&name, claim)?,
        Op::BucketRelease { name } => tx.apply_registry_release(&name, &origin)?,
        Op::Table { definition } => tandem_dynamo::replica::apply_table_definition(tx, &definition, &origin, hlc)?,
        Op::ReplicaDropped { table } => tandem_dynamo::replica::drop_replica(tx, &table, &origin, hlc)?,
        Op::Identity { key, record } => tandem_identity::replica::apply(tx, &key, record, &origin, hlc)?,
        Op::AppState { app, record } => {
            let (applied, state) = tandem_control::apply_replicated(tx, &app, &record, &origin, hlc)?;
            if let Some(state) = state {
                states.push((app, state));
            }
            applied
        }
        Op::Item {
            table,
            keys,
            new,
            by_service,
        } => {
            let stamp = Stamp { hlc, origin, by_service };
            tandem_dynamo::replica::apply_item_change(tx, &table, &keys, new.as_ref(), stamp)?
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::encode_header;
    use http_body_util::Full;
    use tandem_store::hlc::{hlc_from_millis, hlc_millis};
    use tandem_store::replica::RegistryEntry;

    const MINUTE: u64 = 60_000;

    fn claim(name: &str, hlc: u64) -> bytes::Bytes {
        encode_header(&Shipped {
            seq: 1,
            origin: "ap-tokyo".into(),
            hlc,
            op: Op::BucketClaim {
                name: name.into(),
                claim: RegistryEntry {
                    region: "ap-tokyo".into(),
                    owner: "dev".into(),
                    hlc,
                },
            },
            body_len: 0,
        })
    }

    async fn apply(store: &Store, wire: bytes::Bytes) -> Result<Summary, ReplicationError> {
        apply_batch(store, "ap-tokyo", Full::new(wire), &crate::stats::lag_histogram(), None).await
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_batch_stamped_beyond_the_clock_guard_is_refused_whole_and_the_clock_stays() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "us-east").unwrap();
        let now = tandem_store::now_ms();
        let mut wire = bytes::BytesMut::new();
        wire.extend_from_slice(&claim("near", hlc_from_millis(now + MINUTE)));
        wire.extend_from_slice(&claim("far", hlc_from_millis(now + 10 * MINUTE)));
        let err = apply(&store, wire.freeze()).await.unwrap_err();
        assert!(matches!(err, ReplicationError::ClockAhead(_)), "{err}");
        assert_eq!(err.status(), 503, "retried by the sender, not quarantined");
        let read = store.read().unwrap();
        assert!(read.registry("near").unwrap().is_none(), "nothing of the batch is applied");
        assert!(hlc_millis(store.clock().now()) < now + MINUTE, "the clock was dragged ahead");
        assert_eq!(store.clock().status().refused, 1);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_batch_within_the_guard_moves_the_clock_past_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "us-east").unwrap();
        let ahead = hlc_from_millis(tandem_store::now_ms() + 4 * MINUTE);
        let summary = apply(&store, claim("b", ahead)).await.unwrap();
        assert_eq!(summary.applied, 1);
        assert!(store.clock().now() > ahead, "a later local write must win over what was applied");
    }
}
