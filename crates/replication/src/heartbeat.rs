//! Heartbeats: every [`EVERY`] each region tells each peer where its change
//! log stands — its last sequence number, its clock, and the changes waiting
//! to ship to that peer — whether or not anything ships. The peer keeps the
//! latest one ([`crate::stats::ApplyStats`]) and, against the changes it has
//! received since, knows at any moment how far behind the origin it is in
//! changes, bytes and seconds: the RPO exposure an unplanned failover accepts.
//! A heartbeat that cannot be delivered also tells the sender that the link
//! is failing while there is nothing to ship.

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Full};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tandem_store::Store;

use crate::backlog::{PeerBacklog, Waiting};
use crate::error::ReplicationError;
use crate::peer::{Peer, PeerClient};
use crate::stats::PeerStats;

/// Path of the heartbeat endpoint on every node.
pub const HEARTBEAT_PATH: &str = "/_tandem/replication/heartbeat";
/// How often a region sends each peer a heartbeat.
pub const EVERY: Duration = Duration::from_secs(1);
/// How long one heartbeat may take before it counts as failed.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Waiting changes listed one by one; the rest are summed.
pub const DETAIL: usize = 4096;
/// Largest heartbeat body accepted (the listed changes are ~40 bytes each).
pub const MAX_BODY: usize = 1 << 20;

/// What a heartbeat says about the origin's log, as it stood at `clock_ms`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Heartbeat {
    /// The newest change in the origin's log.
    pub last_seq: u64,
    /// The origin's wall clock (ms) when it took the figures.
    pub clock_ms: u64,
    /// The origin's durable cursor for this peer.
    pub cursor: u64,
    /// The first [`DETAIL`] changes waiting for this peer, oldest first.
    pub waiting: Vec<Waiting>,
    /// Changes (and their bytes) waiting beyond `waiting`.
    pub more_changes: u64,
    pub more_bytes: u64,
    /// The origin had not counted every change yet (after a restart, or
    /// beyond its limit): there are more still.
    pub truncated: bool,
}

/// The heartbeat of `store` for the peer whose backlog is `backlog`, as of now.
pub fn take(store: &Store, backlog: &PeerBacklog) -> Result<Heartbeat, ReplicationError> {
    let (backlog, waiting) = backlog.with_waiting(store, DETAIL)?;
    let (listed, listed_bytes) = (waiting.len() as u64, waiting.iter().map(|w| w[1]).sum::<u64>());
    Ok(Heartbeat {
        last_seq: backlog.last_seq,
        clock_ms: tandem_store::now_ms(),
        cursor: backlog.cursor,
        waiting,
        more_changes: backlog.changes.saturating_sub(listed),
        more_bytes: backlog.bytes.saturating_sub(listed_bytes),
        truncated: backlog.truncated,
    })
}

/// Sends heartbeats to one peer until the task is aborted. Each is taken
/// in turn but sent on its own, so a slow link delays them without spacing
/// them out: at most [`TIMEOUT`] / [`EVERY`] are on their way at once.
pub async fn run(peer: Peer, store: Store, client: PeerClient, stats: Arc<PeerStats>, backlog: Arc<PeerBacklog>) {
    loop {
        let (held, counts) = (store.clone(), Arc::clone(&backlog));
        match tokio::task::spawn_blocking(move || take(&held, &counts)).await {
            Ok(Ok(heartbeat)) => {
                let (peer, client, stats) = (peer.clone(), client.clone(), Arc::clone(&stats));
                tokio::spawn(async move {
                    match send(&peer, &client, &heartbeat).await {
                        Ok(()) => stats.heartbeat_delivered(),
                        Err(e) => {
                            tracing::debug!(peer = %peer.name, error = %e, "heartbeat not delivered");
                            stats.heartbeat_failed(e.to_string());
                        }
                    }
                });
            }
            Ok(Err(e)) => tracing::warn!(peer = %peer.name, error = %e, "cannot take a heartbeat"),
            Err(e) => tracing::warn!(peer = %peer.name, error = %e, "heartbeat task failed"),
        }
        tokio::time::sleep(EVERY).await;
    }
}

async fn send(peer: &Peer, client: &PeerClient, heartbeat: &Heartbeat) -> Result<(), ReplicationError> {
    let json = serde_json::to_vec(heartbeat).map_err(|e| ReplicationError::Wire(e.to_string()))?;
    let body = Full::new(Bytes::from(json)).map_err(|never| match never {}).boxed();
    let sent = tokio::time::timeout(TIMEOUT, client.send(peer, Method::POST, HEARTBEAT_PATH, body))
        .await
        .map_err(|_| ReplicationError::Peer(format!("{} did not answer a heartbeat within {TIMEOUT:?}", peer.name)))?;
    let (status, answer) = sent?;
    if status != StatusCode::OK {
        return Err(ReplicationError::Peer(format!(
            "{} refused a heartbeat ({status}): {}",
            peer.name,
            String::from_utf8_lossy(&answer)
        )));
    }
    Ok(())
}

/// Reads a heartbeat body of at most [`MAX_BODY`] bytes.
pub async fn read_body<B>(mut body: B) -> Result<Vec<u8>, ReplicationError>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ReplicationError::Wire(format!("reading the heartbeat failed: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > MAX_BODY {
                return Err(ReplicationError::Wire(format!("a heartbeat is at most {MAX_BODY} bytes")));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}
