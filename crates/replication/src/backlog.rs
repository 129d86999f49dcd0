//! What is waiting to ship to a peer: the changes after the peer's cursor that
//! route to it, counted per bucket and table, with their bytes and the age of
//! the oldest one (replication lag as the origin sees it).

use std::collections::BTreeMap;
use tandem_store::Store;

use crate::error::ReplicationError;
use crate::route::{Route, Router};

/// Entries scanned at most per status request; beyond it the backlog says "at least".
const SCAN_LIMIT: usize = 100_000;
const PAGE: usize = 1000;

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Pending {
    pub changes: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Backlog {
    /// The peer's cursor: every change up to it has been applied there.
    pub cursor: u64,
    /// The newest change in the local log.
    pub last_seq: u64,
    pub changes: u64,
    pub bytes: u64,
    /// Seconds since the oldest waiting change was committed (0 when none waits).
    pub oldest_age_seconds: f64,
    /// Waiting versions no rule destination can take.
    pub unroutable: u64,
    /// The scan stopped at its limit: the true backlog is larger.
    pub truncated: bool,
    pub by_resource: BTreeMap<String, Pending>,
}

/// Scans the log after the peer's cursor.
pub fn backlog(store: &Store, peer: &str) -> Result<Backlog, ReplicationError> {
    scan(store, peer, 0).map(|(backlog, _)| backlog)
}

/// One waiting change as a heartbeat lists it: `[seq, body bytes, commit ms]`.
pub type Waiting = [u64; 3];

/// [`backlog`], also listing the first `detail` waiting changes one by one
/// (oldest first) for the peer's heartbeat.
pub fn scan(store: &Store, peer: &str, detail: usize) -> Result<(Backlog, Vec<Waiting>), ReplicationError> {
    let mut listed = Vec::new();
    let read = store.read()?;
    let cursor = read.cursor(peer)?;
    let mut out = Backlog {
        cursor,
        last_seq: store.last_seq(),
        ..Default::default()
    };
    let mut router = Router::new(&read, store, peer, false);
    let (mut after, mut scanned, mut oldest) = (cursor, 0usize, None);
    loop {
        let entries = store.changes_after(after, PAGE)?;
        let Some(last) = entries.last() else { break };
        after = last.seq;
        for entry in &entries {
            match router.route(entry)? {
                Route::Skip | Route::Quarantine(_) => continue,
                Route::Unroutable(_) => out.unroutable += 1,
                Route::Ship(o) => {
                    if listed.len() < detail {
                        listed.push([entry.seq, o.shipped.body_len, tandem_store::hlc::hlc_millis(entry.hlc)]);
                    }
                    out.changes += 1;
                    out.bytes += o.shipped.body_len;
                    let slot = out.by_resource.entry(o.shipped.op.resource()).or_default();
                    slot.changes += 1;
                    slot.bytes += o.shipped.body_len;
                }
            }
            oldest.get_or_insert(entry.hlc);
        }
        scanned += entries.len();
        if scanned >= SCAN_LIMIT {
            out.truncated = after < store.last_seq();
            break;
        }
    }
    if let Some(hlc) = oldest {
        let committed = tandem_store::hlc::hlc_millis(hlc);
        out.oldest_age_seconds = tandem_store::now_ms().saturating_sub(committed) as f64 / 1000.0;
    }
    Ok((out, listed))
}
