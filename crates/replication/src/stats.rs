//! Counters of replication kept in memory: per peer (what was shipped, what
//! failed, when it last succeeded) and per origin on the receiving side (what
//! was applied, and how long after its commit at the origin).

use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use std::collections::{BTreeMap, VecDeque};

use crate::route::RejectedChange;

/// How many rejected changes each shipper lists in its status.
pub const RECENT_REJECTED: usize = 20;
use std::sync::Mutex;

/// What one shipper has done since the node started.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ShipperState {
    /// Changes delivered (applied or already present at the peer).
    pub shipped_changes: u64,
    /// Object body bytes delivered.
    pub shipped_bytes: u64,
    /// Failed batch attempts (each is retried).
    pub failures: u64,
    /// Failed attempts since the last success.
    pub consecutive_failures: u64,
    /// Versions that match a rule but cannot be routed (no such destination).
    pub unroutable: u64,
    /// Changes moved past without delivery: the peer cannot apply them as
    /// things stand there (see `apply::Rejected`), or they cannot be read or
    /// shipped here (see `route::RejectedChange`).
    pub rejected: u64,
    /// The latest of those, oldest first, at most [`RECENT_REJECTED`].
    pub recent_rejected: VecDeque<RejectedChange>,
    /// Wall-clock milliseconds of the last successful batch.
    pub last_success_ms: Option<u64>,
    pub last_error: Option<String>,
    pub last_error_ms: Option<u64>,
}

/// Counters of one shipper, shared with the status surface.
#[derive(Debug, Default)]
pub struct PeerStats {
    state: Mutex<ShipperState>,
}

impl PeerStats {
    fn with<R>(&self, f: impl FnOnce(&mut ShipperState) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn snapshot(&self) -> ShipperState {
        self.with(|s| s.clone())
    }

    pub fn succeeded(&self, changes: u64, bytes: u64) {
        self.with(|s| {
            s.shipped_changes += changes;
            s.shipped_bytes += bytes;
            s.consecutive_failures = 0;
            s.last_success_ms = Some(tandem_store::now_ms());
        })
    }

    /// Records a failed attempt (it will be retried).
    pub fn failed(&self, error: String) {
        self.with(|s| {
            s.failures += 1;
            s.consecutive_failures += 1;
            s.last_error = Some(error);
            s.last_error_ms = Some(tandem_store::now_ms());
        })
    }

    /// Records changes moved past without delivery (logged, counted, listed).
    pub fn rejected(&self, peer: &str, changes: Vec<RejectedChange>) {
        let Some(last) = changes.last() else { return };
        for c in &changes {
            tracing::warn!(peer, seq = c.seq, resource = %c.resource, reason = %c.reason, "change rejected, not replicated");
        }
        let reason = last.reason.clone();
        self.with(|s| {
            s.rejected += changes.len() as u64;
            s.recent_rejected.extend(changes);
            while s.recent_rejected.len() > RECENT_REJECTED {
                s.recent_rejected.pop_front();
            }
            s.last_error = Some(reason);
            s.last_error_ms = Some(tandem_store::now_ms());
        })
    }

    pub fn unroutable(&self, count: u64, reason: &str) {
        self.with(|s| {
            s.unroutable += count;
            s.last_error = Some(reason.to_string());
            s.last_error_ms = Some(tandem_store::now_ms());
        })
    }
}

/// Seconds from a change's commit at its origin to its apply here: 1 ms ..
/// ~110 s in steps of 25%, fine enough to read p50 and p99 from.
pub fn lag_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 1.25, 53))
}

/// What this region has applied from one origin.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AppliedState {
    pub applied: u64,
    pub stale: u64,
    pub batches: u64,
    pub last_apply_ms: Option<u64>,
    /// Batches refused because a change was stamped too far ahead of this
    /// region's clock (held: the origin retries them).
    pub clock_refused: u64,
    /// Lead (ms) of the last such refusal.
    pub clock_refused_lead_ms: Option<u64>,
}

/// Receiving-side counters, by origin region.
#[derive(Debug, Default)]
pub struct ApplyStats {
    by_origin: Mutex<BTreeMap<String, AppliedState>>,
}

impl ApplyStats {
    pub fn record(&self, origin: &str, applied: u64, stale: u64) {
        let mut map = self.by_origin.lock().unwrap_or_else(|e| e.into_inner());
        let s = map.entry(origin.to_string()).or_default();
        s.applied += applied;
        s.stale += stale;
        s.batches += 1;
        s.last_apply_ms = Some(tandem_store::now_ms());
    }

    /// Records a batch refused by the clock guard.
    pub fn clock_refused(&self, origin: &str, lead_ms: u64) {
        let mut map = self.by_origin.lock().unwrap_or_else(|e| e.into_inner());
        let s = map.entry(origin.to_string()).or_default();
        s.clock_refused += 1;
        s.clock_refused_lead_ms = Some(lead_ms);
    }

    pub fn snapshot(&self) -> BTreeMap<String, AppliedState> {
        self.by_origin.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
