//! Counters of replication kept in memory: per peer (what was shipped, what
//! failed, when it last succeeded) and per origin on the receiving side (what
//! was applied, and how long after its commit at the origin).

use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use std::collections::{BTreeMap, VecDeque};

use crate::backlog::Waiting;
use crate::batch_size::BatchSize;
use crate::heartbeat::Heartbeat;
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
    /// Heartbeats not delivered since the last one that was, or since the
    /// last batch that was (it crossed the same link).
    pub heartbeat_failures: u64,
    /// Wall-clock milliseconds of the last heartbeat the peer took.
    pub last_heartbeat_ms: Option<u64>,
    /// The size of the batch being planned, which follows the backlog.
    pub batch: Option<BatchSize>,
    /// Whether this node ships to the peer now: of the nodes of a region,
    /// the one holding the peer's shipper lease does (see `spawn_shippers`).
    pub ships_from_this_node: bool,
}

/// Heartbeats lost in a row before the link counts as failing.
const FAILING_HEARTBEATS: u64 = 2;

impl ShipperState {
    /// Whether the link to the peer is failing: a batch failed since the last
    /// success, or heartbeats stopped getting through.
    pub fn failing(&self) -> bool {
        self.consecutive_failures > 0 || self.heartbeat_failures >= FAILING_HEARTBEATS
    }
}

/// Counters of one shipper, shared with the status surface.
#[derive(Debug, Default)]
pub struct PeerStats {
    state: Mutex<ShipperState>,
    /// Set while this node holds the shipper's lease.
    pub(crate) lease: tandem_store::coordination::LeaseFlag,
}

impl PeerStats {
    fn with<R>(&self, f: impl FnOnce(&mut ShipperState) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn snapshot(&self) -> ShipperState {
        let ships = self.lease.load(std::sync::atomic::Ordering::Acquire);
        self.with(|s| ShipperState {
            ships_from_this_node: ships,
            ..s.clone()
        })
    }

    pub fn succeeded(&self, changes: u64, bytes: u64) {
        self.with(|s| {
            s.shipped_changes += changes;
            s.shipped_bytes += bytes;
            s.consecutive_failures = 0;
            s.heartbeat_failures = 0;
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

    pub fn heartbeat_delivered(&self) {
        self.with(|s| {
            s.heartbeat_failures = 0;
            s.last_heartbeat_ms = Some(tandem_store::now_ms());
        })
    }

    pub fn heartbeat_failed(&self, error: String) {
        self.with(|s| {
            s.heartbeat_failures += 1;
            if s.heartbeat_failures >= FAILING_HEARTBEATS {
                s.last_error = Some(error);
                s.last_error_ms = Some(tandem_store::now_ms());
            }
        })
    }

    pub fn batch_size(&self, size: BatchSize) {
        self.with(|s| s.batch = Some(size))
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
    /// The highest origin sequence number received in a committed batch.
    pub received_through: u64,
    /// The origin's last heartbeat and when it arrived (ms, this clock).
    #[serde(skip)]
    pub heartbeat: Option<(u64, Heartbeat)>,
}

/// How far this region is behind an origin: what the origin had accepted,
/// as of its last heartbeat, that has not arrived here.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Exposure {
    pub changes: u64,
    pub bytes: u64,
    /// From the commit of the oldest change not received to the heartbeat.
    pub seconds: f64,
    /// The origin's newest change as of its last heartbeat.
    pub origin_last_seq: u64,
    pub received_through: u64,
    /// When the last heartbeat arrived, and how long ago.
    pub heartbeat_ms: Option<u64>,
    pub heartbeat_age_seconds: Option<f64>,
    /// When the last batch from the origin was applied here.
    pub last_batch_ms: Option<u64>,
    /// The origin's backlog was larger than it could scan: at least this much.
    pub at_least: bool,
}

impl AppliedState {
    /// The exposure as of `now_ms`; unknown (`None`) before any heartbeat.
    pub fn exposure(&self, now_ms: u64) -> Option<Exposure> {
        let (heard_ms, hb) = self.heartbeat.as_ref()?;
        let through = self.received_through;
        let missing: Vec<&Waiting> = hb.waiting.iter().filter(|w| w[0] > through).collect();
        // Changes beyond the listed ones are counted as owed: all of them are
        // while any listed one is (an upper bound once every listed one came).
        let (more_changes, more_bytes) = (hb.more_changes, hb.more_bytes);
        let changes = missing.len() as u64 + more_changes;
        let oldest = match missing.first() {
            Some(w) => Some(w[2]),
            None if more_changes > 0 => Some(hb.waiting.last().map_or(hb.clock_ms, |w| w[2])),
            None => None,
        };
        Some(Exposure {
            changes,
            bytes: missing.iter().map(|w| w[1]).sum::<u64>() + more_bytes,
            seconds: oldest.map_or(0.0, |ms| hb.clock_ms.saturating_sub(ms) as f64 / 1000.0),
            origin_last_seq: hb.last_seq,
            received_through: through,
            heartbeat_ms: Some(*heard_ms),
            heartbeat_age_seconds: Some(now_ms.saturating_sub(*heard_ms) as f64 / 1000.0),
            last_batch_ms: self.last_apply_ms,
            at_least: hb.truncated,
        })
    }
}

/// Receiving-side counters, by origin region.
#[derive(Debug, Default)]
pub struct ApplyStats {
    by_origin: Mutex<BTreeMap<String, AppliedState>>,
}

impl ApplyStats {
    pub fn record(&self, origin: &str, applied: u64, stale: u64, through: u64) {
        let mut map = self.by_origin.lock().unwrap_or_else(|e| e.into_inner());
        let s = map.entry(origin.to_string()).or_default();
        s.received_through = s.received_through.max(through);
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

    /// Keeps an origin's heartbeat unless a newer one (by its clock) is held.
    pub fn heard(&self, origin: &str, heartbeat: Heartbeat) {
        let mut map = self.by_origin.lock().unwrap_or_else(|e| e.into_inner());
        let s = map.entry(origin.to_string()).or_default();
        if s.heartbeat.as_ref().is_none_or(|(_, held)| held.clock_ms <= heartbeat.clock_ms) {
            s.heartbeat = Some((tandem_store::now_ms(), heartbeat));
        }
    }

    pub fn snapshot(&self) -> BTreeMap<String, AppliedState> {
        self.by_origin.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heard(through: u64, more: (u64, u64)) -> AppliedState {
        AppliedState {
            received_through: through,
            heartbeat: Some((
                2_000,
                Heartbeat {
                    last_seq: 9,
                    clock_ms: 1_500,
                    cursor: 4,
                    waiting: vec![[5, 100, 1_000], [6, 200, 1_100], [7, 300, 1_200]],
                    more_changes: more.0,
                    more_bytes: more.1,
                    truncated: false,
                },
            )),
            ..Default::default()
        }
    }

    #[test]
    fn a_delivered_batch_ends_a_failing_link_whatever_the_heartbeats_said() {
        let stats = PeerStats::default();
        stats.heartbeat_failed("peer down".into());
        stats.heartbeat_failed("peer down".into());
        stats.failed("peer down".into());
        assert!(stats.snapshot().failing());
        stats.succeeded(1, 10);
        assert!(!stats.snapshot().failing(), "the batch got through: the link works");
    }

    #[test]
    fn exposure_counts_the_waiting_changes_not_received_since_the_heartbeat() {
        let e = heard(5, (0, 0)).exposure(2_500).unwrap();
        assert_eq!((e.changes, e.bytes), (2, 500));
        assert!((e.seconds - 0.4).abs() < 1e-9, "{}", e.seconds);
        assert_eq!(e.heartbeat_age_seconds, Some(0.5));
        let all_in = heard(7, (0, 0)).exposure(2_500).unwrap();
        assert_eq!((all_in.changes, all_in.bytes, all_in.seconds), (0, 0, 0.0));
        let beyond = heard(7, (4, 40)).exposure(2_500).unwrap();
        assert_eq!((beyond.changes, beyond.bytes), (4, 40), "unlisted changes stay owed");
        assert!(AppliedState::default().exposure(1).is_none(), "no heartbeat, no figure");
    }
}
