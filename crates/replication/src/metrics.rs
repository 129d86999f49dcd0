//! Replication in Prometheus terms: per peer the backlog (changes, bytes, by
//! bucket/table), lag, shipped changes and bytes, failures, the time of the
//! last success and the size of the shipper's batches; per origin the changes applied here and a histogram of
//! origin-commit-to-apply latency, and batches the clock guard refused; for
//! the node's hybrid logical clock how far it leads the wall clock and what
//! the guard refused; per origin how far behind it this region is (its RPO
//! exposure, from the origin's heartbeats). Gauges are refreshed at scrape
//! time; a backlog series, once exported, reads 0 when drained.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use crate::backlog::Backlog;
use crate::stats::{AppliedState, Exposure, ShipperState, lag_histogram};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PeerLabels {
    pub peer: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
pub struct ResourceLabels {
    pub peer: String,
    pub resource: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OriginLabels {
    pub origin: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

pub struct ReplicationMetrics {
    backlog_changes: Family<ResourceLabels, Gauge>,
    backlog_bytes: Family<ResourceLabels, Gauge>,
    /// Every (peer, resource) series ever exported: a drained one reads 0.
    backlog_seen: Mutex<BTreeSet<ResourceLabels>>,
    peer_backlog_changes: Family<PeerLabels, Gauge>,
    peer_backlog_bytes: Family<PeerLabels, Gauge>,
    behind_changes: Family<OriginLabels, Gauge>,
    behind_bytes: Family<OriginLabels, Gauge>,
    behind_seconds: Family<OriginLabels, FloatGauge>,
    heartbeat_age: Family<OriginLabels, FloatGauge>,
    lag_seconds: Family<PeerLabels, FloatGauge>,
    shipped_changes: Family<PeerLabels, Counter>,
    shipped_bytes: Family<PeerLabels, Counter>,
    failures: Family<PeerLabels, Counter>,
    refused: Family<PeerLabels, Counter>,
    rejected: Family<PeerLabels, Counter>,
    last_success: Family<PeerLabels, Gauge>,
    batch_entries: Family<PeerLabels, Gauge>,
    batch_bytes: Family<PeerLabels, Gauge>,
    applied: Family<OriginLabels, Counter>,
    clock_refused: Family<OriginLabels, Counter>,
    hlc_lead: FloatGauge,
    hlc_max_lead: FloatGauge,
    hlc_refused: Counter,
    hlc_clamped: Counter,
    /// Seconds from commit at the origin to apply here.
    pub apply_lag: Family<OriginLabels, Histogram, fn() -> Histogram>,
}

impl Default for ReplicationMetrics {
    fn default() -> Self {
        Self {
            backlog_changes: Family::default(),
            backlog_bytes: Family::default(),
            backlog_seen: Mutex::default(),
            peer_backlog_changes: Family::default(),
            peer_backlog_bytes: Family::default(),
            behind_changes: Family::default(),
            behind_bytes: Family::default(),
            behind_seconds: Family::default(),
            heartbeat_age: Family::default(),
            lag_seconds: Family::default(),
            shipped_changes: Family::default(),
            shipped_bytes: Family::default(),
            failures: Family::default(),
            refused: Family::default(),
            rejected: Family::default(),
            last_success: Family::default(),
            batch_entries: Family::default(),
            batch_bytes: Family::default(),
            applied: Family::default(),
            clock_refused: Family::default(),
            hlc_lead: FloatGauge::default(),
            hlc_max_lead: FloatGauge::default(),
            hlc_refused: Counter::default(),
            hlc_clamped: Counter::default(),
            apply_lag: Family::new_with_constructor(lag_histogram),
        }
    }
}

/// Brings a counter up to a total kept elsewhere (totals only grow).
fn catch_up(counter: &Counter, total: u64) {
    let now = counter.get();
    if total > now {
        counter.inc_by(total - now);
    }
}

impl ReplicationMetrics {
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("replication");
        r.register(
            "backlog_changes",
            "Changes waiting to ship, by peer and bucket/table",
            self.backlog_changes.clone(),
        );
        r.register(
            "backlog_bytes",
            "Object bytes waiting to ship, by peer and bucket/table",
            self.backlog_bytes.clone(),
        );
        r.register(
            "peer_backlog_changes",
            "Changes waiting to ship to the peer, all buckets and tables (0 when none)",
            self.peer_backlog_changes.clone(),
        );
        r.register(
            "peer_backlog_bytes",
            "Object bytes waiting to ship to the peer (0 when none)",
            self.peer_backlog_bytes.clone(),
        );
        r.register(
            "behind_changes",
            "Changes the origin had accepted, as of its last heartbeat, that this region has not received (RPO exposure)",
            self.behind_changes.clone(),
        );
        r.register("behind_bytes", "Object bytes of those changes", self.behind_bytes.clone());
        r.register(
            "behind_seconds",
            "From the commit of the oldest change not received to the origin's last heartbeat",
            self.behind_seconds.clone(),
        );
        r.register(
            "heartbeat_age_seconds",
            "Time since the origin's last heartbeat arrived",
            self.heartbeat_age.clone(),
        );
        r.register(
            "lag_seconds",
            "Age of the oldest change not yet applied by the peer",
            self.lag_seconds.clone(),
        );
        r.register("shipped_changes", "Changes delivered to the peer", self.shipped_changes.clone());
        r.register(
            "shipped_bytes",
            "Object body bytes delivered to the peer",
            self.shipped_bytes.clone(),
        );
        r.register("failures", "Failed batch attempts (each is retried)", self.failures.clone());
        r.register(
            "refused_changes",
            "Changes not shipped: rejected by the peer or with no destination (resync ships them again)",
            self.refused.clone(),
        );
        r.register(
            "rejected_changes",
            "Changes moved past for good: unreadable here or refused by the peer (alert on any increase; diff shows them, resync repairs)",
            self.rejected.clone(),
        );
        r.register(
            "last_success_timestamp_seconds",
            "When the peer last applied a batch",
            self.last_success.clone(),
        );
        r.register(
            "batch_entries",
            "Log entries the shipper reads for its next batch (grows with the backlog)",
            self.batch_entries.clone(),
        );
        r.register(
            "batch_bytes",
            "Body bytes at which the shipper's next batch stops growing (grows with the backlog)",
            self.batch_bytes.clone(),
        );
        r.register("applied_changes", "Changes from each origin applied here", self.applied.clone());
        r.register(
            "clock_refused_batches",
            "Batches from each origin refused because a change was stamped too far ahead of this region's clock (retried)",
            self.clock_refused.clone(),
        );
        r.register(
            "apply_latency_seconds",
            "Time from commit at the origin to apply here",
            self.apply_lag.clone(),
        );
        let hlc = registry.sub_registry_with_prefix("hlc");
        hlc.register(
            "lead_seconds",
            "How far this region's hybrid logical clock leads its wall clock",
            self.hlc_lead.clone(),
        );
        hlc.register(
            "max_lead_seconds",
            "How far a remote timestamp may lead this region's wall clock",
            self.hlc_max_lead.clone(),
        );
        hlc.register(
            "refused",
            "Remote timestamps refused for leading the wall clock by more than the bound",
            self.hlc_refused.clone(),
        );
        hlc.register(
            "clamped",
            "Observed remote timestamps cut to the bound instead of moving the clock further",
            self.hlc_clamped.clone(),
        );
    }

    pub fn refresh_peer(&self, peer: &str, backlog: Option<&Backlog>, state: &ShipperState) {
        let labels = PeerLabels { peer: peer.to_string() };
        if let Some(b) = backlog {
            let mut seen = self.backlog_seen.lock().unwrap_or_else(|e| e.into_inner());
            for l in seen.iter().filter(|l| l.peer == peer) {
                self.backlog_changes.get_or_create(l).set(0);
                self.backlog_bytes.get_or_create(l).set(0);
            }
            for (resource, pending) in &b.by_resource {
                let l = ResourceLabels {
                    peer: peer.to_string(),
                    resource: resource.clone(),
                };
                self.backlog_changes.get_or_create(&l).set(pending.changes as i64);
                self.backlog_bytes.get_or_create(&l).set(pending.bytes as i64);
                seen.insert(l);
            }
            self.peer_backlog_changes.get_or_create(&labels).set(b.changes as i64);
            self.peer_backlog_bytes.get_or_create(&labels).set(b.bytes as i64);
            self.lag_seconds.get_or_create(&labels).set(b.oldest_age_seconds);
        }
        catch_up(&self.shipped_changes.get_or_create(&labels), state.shipped_changes);
        catch_up(&self.shipped_bytes.get_or_create(&labels), state.shipped_bytes);
        catch_up(&self.failures.get_or_create(&labels), state.failures);
        catch_up(&self.refused.get_or_create(&labels), state.rejected + state.unroutable);
        catch_up(&self.rejected.get_or_create(&labels), state.rejected);
        if let Some(ms) = state.last_success_ms {
            self.last_success.get_or_create(&labels).set((ms / 1000) as i64);
        }
        if let Some(size) = state.batch {
            self.batch_entries.get_or_create(&labels).set(size.entries as i64);
            self.batch_bytes.get_or_create(&labels).set(size.bytes as i64);
        }
    }

    pub fn refresh_origin(&self, origin: &str, state: &AppliedState, exposure: Option<&Exposure>) {
        let labels = OriginLabels {
            origin: origin.to_string(),
        };
        if let Some(e) = exposure {
            self.behind_changes.get_or_create(&labels).set(e.changes as i64);
            self.behind_bytes.get_or_create(&labels).set(e.bytes as i64);
            self.behind_seconds.get_or_create(&labels).set(e.seconds);
            self.heartbeat_age
                .get_or_create(&labels)
                .set(e.heartbeat_age_seconds.unwrap_or_default());
        }
        catch_up(&self.applied.get_or_create(&labels), state.applied);
        catch_up(&self.clock_refused.get_or_create(&labels), state.clock_refused);
    }

    pub fn refresh_clock(&self, clock: &tandem_store::hlc::ClockStatus) {
        self.hlc_lead.set(clock.lead_ms as f64 / 1000.0);
        self.hlc_max_lead.set(clock.max_lead_ms as f64 / 1000.0);
        catch_up(&self.hlc_refused, clock.refused);
        catch_up(&self.hlc_clamped, clock.clamped);
    }
}
