//! One shipper per peer: reads the local change log from the peer's durable
//! cursor, routes each change ([`crate::route`]), streams the batch to the
//! peer, and only after the peer answers that it has durably applied the batch
//! moves the cursor and marks the shipped versions COMPLETED. A failed batch is
//! retried with backoff, forever; its versions show FAILED meanwhile. Each
//! batch is sized by the peer's backlog ([`crate::batch_size`]), and each
//! cursor move is taken off the kept backlog ([`crate::backlog`]).

use bytes::Bytes;
use futures::SinkExt;
use futures::channel::mpsc;
use http::{Method, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tandem_store::body_store::{self, BodyReader};
use tandem_store::{ChangeEntry, ReplicationStatus, Store};

use crate::apply::Summary;
use crate::backlog::PeerBacklog;
use crate::batch_size::BatchSize;
use crate::error::ReplicationError;
use crate::frame::{Op, encode_header};
use crate::peer::{Peer, PeerClient, RequestBody};
use crate::route::{BodyPiece, Outgoing, RejectedChange, Route, Router, Unroutable, VersionRef};
use crate::stats::PeerStats;

/// Path of the apply endpoint on every node.
pub const APPLY_PATH: &str = "/_tandem/replication/apply";
/// A batch stops growing once it holds this many opened stored bodies.
const MAX_BATCH_FILES: usize = 512;
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A routed batch: what to send, and how far it takes the cursor.
pub(crate) struct Batch {
    pub(crate) outgoing: Vec<Outgoing>,
    unroutable: Vec<Unroutable>,
    /// Changes that can never ship; recorded once the cursor moves past them.
    rejected: Vec<RejectedChange>,
    /// Sequence number of the last entry the batch covers.
    pub(crate) through: u64,
}

/// One shipped change, as the answer to its batch is sorted out.
struct Source {
    seq: u64,
    resource: String,
    /// The source version whose replication status follows the delivery.
    version: Option<VersionRef>,
}

/// Ships the local change log to one peer.
pub struct Shipper {
    pub peer: Peer,
    pub store: Store,
    pub client: PeerClient,
    pub stats: Arc<PeerStats>,
    pub backlog: Arc<PeerBacklog>,
}

enum Step {
    Idle,
    Progressed,
}

/// Where a shipper is in the log. `at` may run ahead of the durable cursor
/// over changes that ship nothing to the peer: reading those again after a
/// restart is harmless, and not saving each time spares the store a commit.
struct Position {
    at: u64,
    durable: u64,
    saved: Instant,
}

/// How often a cursor that only skipped changes is made durable.
const SAVE_EVERY: Duration = Duration::from_secs(1);

impl Shipper {
    /// Runs until the task is aborted.
    pub async fn run(self) {
        let mut commits = self.store.subscribe();
        let mut backoff = MIN_BACKOFF;
        let mut position: Option<Position> = None;
        loop {
            let outcome = match position.as_mut() {
                Some(p) => self.step(p).await,
                None => self.load_position().map(|p| {
                    position = Some(p);
                    Step::Progressed
                }),
            };
            match outcome {
                Ok(Step::Progressed) => backoff = MIN_BACKOFF,
                Ok(Step::Idle) => {
                    let _ = tokio::time::timeout(SAVE_EVERY, commits.changed()).await;
                }
                Err(e) => {
                    tracing::warn!(peer = %self.peer.name, error = %e, retry_in = ?backoff, "replication batch failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    fn load_position(&self) -> Result<Position, ReplicationError> {
        let durable = self.store.read()?.cursor(&self.peer.name)?;
        Ok(Position {
            at: durable,
            durable,
            saved: Instant::now(),
        })
    }

    /// The size of the next batch, by the backlog as counted now (and shown
    /// in the shipper's status).
    pub fn next_batch_size(&self) -> BatchSize {
        let (changes, bytes) = self.backlog.totals();
        let size = BatchSize::for_backlog(changes, bytes);
        self.stats.batch_size(size);
        size
    }

    async fn step(&self, position: &mut Position) -> Result<Step, ReplicationError> {
        let size = self.next_batch_size();
        let entries = self.store.changes_after(position.at, size.entries)?;
        let Some(last) = entries.last() else {
            if position.at > position.durable && position.saved.elapsed() >= SAVE_EVERY {
                self.save(position, position.at, vec![]).await?;
            }
            return Ok(Step::Idle);
        };
        let batch = self.plan(&entries, last.seq, size)?;
        if !batch.unroutable.is_empty() {
            self.record_unroutable(&batch.unroutable).await?;
        }
        if batch.outgoing.is_empty() {
            // Nothing for this peer: move on, and make it durable now and then.
            position.at = batch.through;
            self.stats.rejected(&self.peer.name, batch.rejected);
            if position.saved.elapsed() >= SAVE_EVERY {
                self.save(position, batch.through, vec![]).await?;
            }
            return Ok(Step::Progressed);
        }
        let sources: Vec<Source> = batch
            .outgoing
            .iter()
            .map(|o| Source {
                seq: o.shipped.seq,
                resource: o.shipped.op.resource(),
                version: o.source.clone(),
            })
            .collect();
        let (changes, bytes) = (batch.outgoing.len() as u64, batch.outgoing.iter().map(|o| o.shipped.body_len).sum());
        let summary = match self.send(batch.outgoing).await {
            Ok(summary) => summary,
            Err(e) => {
                self.stats.failed(e.to_string());
                self.mark(sources.into_iter().filter_map(|s| s.version).collect(), ReplicationStatus::Failed)
                    .await?;
                return Err(e);
            }
        };
        let (delivered, refused) = self.sort_out(sources, &summary);
        if !refused.is_empty() {
            self.mark(refused, ReplicationStatus::Failed).await?;
        }
        self.save(position, batch.through, delivered).await?;
        self.stats.rejected(&self.peer.name, batch.rejected);
        self.stats.succeeded(changes, bytes);
        Ok(Step::Progressed)
    }

    /// Makes the cursor durable at `through` and marks delivered versions COMPLETED.
    async fn save(&self, position: &mut Position, through: u64, delivered: Vec<VersionRef>) -> Result<(), ReplicationError> {
        let peer = self.peer.name.clone();
        self.store
            .write(move |tx| -> Result<(), ReplicationError> {
                tx.advance_cursor(&peer, through)?;
                for (bucket, key, id) in &delivered {
                    tx.set_replication_status(bucket, key, id, ReplicationStatus::Completed)?;
                }
                Ok(())
            })
            .await?;
        self.backlog.shipped_through(through);
        *position = Position {
            at: through,
            durable: through,
            saved: Instant::now(),
        };
        Ok(())
    }

    /// Routes entries until the batch is full (`size`, or [`MAX_BATCH_FILES`]
    /// open files); a table definition ends a batch so the peer creates the
    /// table before it checks items for it.
    pub(crate) fn plan(&self, entries: &[ChangeEntry], last: u64, size: BatchSize) -> Result<Batch, ReplicationError> {
        let read = self.store.read()?;
        let mut router = Router::new(&read, &self.store, &self.peer.name, true);
        let mut batch = Batch {
            outgoing: vec![],
            unroutable: vec![],
            through: last,
            rejected: vec![],
        };
        let (mut bytes, mut files) = (0, 0);
        for entry in entries {
            match router.route(entry)? {
                Route::Skip => {}
                Route::Unroutable(u) => batch.unroutable.push(u),
                Route::Quarantine(r) => batch.rejected.push(r),
                Route::Ship(out) => {
                    bytes += out.shipped.body_len;
                    files += out.body.iter().filter(|p| matches!(p, BodyPiece::Stored { .. })).count();
                    let full = bytes >= size.bytes || files >= MAX_BATCH_FILES;
                    let ends_batch = matches!(out.shipped.op, Op::Table { .. }) || full;
                    batch.outgoing.push(out);
                    if ends_batch {
                        batch.through = entry.seq;
                        break;
                    }
                }
            }
        }
        Ok(batch)
    }

    /// Splits a batch's source versions into delivered and refused ones, and
    /// records what the peer refused.
    fn sort_out(&self, sources: Vec<Source>, summary: &Summary) -> (Vec<VersionRef>, Vec<VersionRef>) {
        let refusal = |seq: u64| summary.rejected.iter().find(|r| r.seq == seq);
        let (mut delivered, mut not, mut rejected) = (Vec::new(), Vec::new(), Vec::new());
        for source in sources {
            let refused = refusal(source.seq);
            if let Some(r) = refused {
                rejected.push(RejectedChange {
                    seq: r.seq,
                    resource: source.resource,
                    reason: format!("{} cannot apply it: {}", self.peer.name, r.reason),
                });
            }
            match (source.version, refused.is_some()) {
                (Some(v), false) => delivered.push(v),
                (Some(v), true) => not.push(v),
                (None, _) => {}
            }
        }
        self.stats.rejected(&self.peer.name, rejected);
        (delivered, not)
    }

    /// Streams a batch to the peer and returns what the peer did with it.
    async fn send(&self, outgoing: Vec<Outgoing>) -> Result<Summary, ReplicationError> {
        let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(8);
        let producer = tokio::spawn(produce(outgoing, tx));
        let body: RequestBody = StreamBody::new(futures::StreamExt::map(rx, |r| r.map(http_body::Frame::data))).boxed();
        let result = self.client.send(&self.peer, Method::POST, APPLY_PATH, body).await;
        producer.abort();
        let (status, answer) = result?;
        if status != StatusCode::OK {
            return Err(ReplicationError::Peer(format!(
                "{} refused the batch ({status}): {}",
                self.peer.name,
                String::from_utf8_lossy(&answer)
            )));
        }
        serde_json::from_slice(&answer)
            .map_err(|e| ReplicationError::Peer(format!("{} answered a batch with bad JSON: {e}", self.peer.name)))
    }

    async fn record_unroutable(&self, unroutable: &[Unroutable]) -> Result<(), ReplicationError> {
        for u in unroutable {
            tracing::warn!(bucket = %u.bucket, key = %u.key, reason = %u.reason, "version cannot be replicated");
        }
        self.stats.unroutable(unroutable.len() as u64, &unroutable[0].reason);
        let versions = unroutable
            .iter()
            .map(|u| (u.bucket.clone(), u.key.clone(), u.version_id.clone()))
            .collect();
        self.mark(versions, ReplicationStatus::Failed).await
    }

    async fn mark(&self, versions: Vec<VersionRef>, status: ReplicationStatus) -> Result<(), ReplicationError> {
        if versions.is_empty() {
            return Ok(());
        }
        self.store
            .write(move |tx| -> Result<(), ReplicationError> {
                for (bucket, key, id) in &versions {
                    tx.set_replication_status(bucket, key, id, status)?;
                }
                Ok(())
            })
            .await
    }
}

/// Writes a batch's frames into the request body channel.
async fn produce(outgoing: Vec<Outgoing>, mut tx: mpsc::Sender<Result<Bytes, std::io::Error>>) {
    for out in outgoing {
        if tx.send(Ok(encode_header(&out.shipped))).await.is_err() {
            return;
        }
        for piece in out.body {
            let sent = match piece {
                BodyPiece::Bytes(b) => tx.send(Ok(b)).await.is_ok(),
                BodyPiece::Stored { body, len } => stream_stored(body, len, &mut tx).await,
            };
            if !sent {
                return;
            }
        }
    }
}

async fn stream_stored(body: Box<dyn BodyReader>, len: u64, tx: &mut mpsc::Sender<Result<Bytes, std::io::Error>>) -> bool {
    let mut pieces = std::pin::pin!(body_store::stream(body, 0, len));
    while let Some(piece) = futures::StreamExt::next(&mut pieces).await {
        let failed = piece.is_err();
        if tx.send(piece).await.is_err() || failed {
            return false;
        }
    }
    true
}
