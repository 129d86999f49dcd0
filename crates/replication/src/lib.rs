//! Cross-region replication through the change log.
//!
//! Every region ships its own changes to every peer: one [`shipper::Shipper`]
//! per peer reads the local log from a durable cursor, [`route`] decides what
//! each change means for that peer (S3 rules, global-table replicas, the bucket
//! registry), and [`frame`] streams the batch. The peer's [`apply`] stages
//! bodies, then applies the batch in one commit with last-writer-wins checks,
//! and only then answers; the shipper then moves its cursor. Delivery is at
//! least once, apply is idempotent, and a change never returns to its origin.
//!
//! [`backlog`] (kept incrementally, see [`tally`]), [`stats`] and [`metrics`]
//! say how far behind each peer is; [`batch_size`] sizes batches by it.

pub mod apply;
pub mod backlog;
pub mod batch_size;
pub mod error;
pub mod frame;
pub mod heartbeat;
pub mod inventory;
pub mod metrics;
pub mod peer;
pub mod route;
pub mod shipper;
pub mod stats;
pub mod tally;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};
use tandem_store::Store;

pub use error::ReplicationError;
pub use peer::{Peer, PeerClient, ReplicationKey};

/// The replication side of a region node. Cheap to clone.
#[derive(Clone)]
pub struct Replication {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    peers: Vec<Peer>,
    key: Option<ReplicationKey>,
    shippers: BTreeMap<String, Arc<stats::PeerStats>>,
    backlogs: BTreeMap<String, Arc<backlog::PeerBacklog>>,
    applied: stats::ApplyStats,
    metrics: metrics::ReplicationMetrics,
    control: Option<tandem_control::AppControl>,
}

impl Replication {
    /// Replication of `store` with `peers`; without a key it neither ships nor
    /// accepts batches (a single-region deployment).
    pub fn new(store: Store, peers: Vec<Peer>, key: Option<ReplicationKey>, control: Option<tandem_control::AppControl>) -> Self {
        let shippers = peers.iter().map(|p| (p.name.clone(), Arc::default())).collect();
        let backlogs = peers
            .iter()
            .map(|p| (p.name.clone(), Arc::new(backlog::PeerBacklog::new(&p.name))))
            .collect();
        Self {
            inner: Arc::new(Inner {
                store,
                peers,
                key,
                shippers,
                backlogs,
                applied: stats::ApplyStats::default(),
                metrics: metrics::ReplicationMetrics::default(),
                control,
            }),
        }
    }

    pub fn peers(&self) -> &[Peer] {
        &self.inner.peers
    }

    /// Starts one backlog counter per peer, and one shipper and one heartbeat
    /// per peer that run while this node holds the peer's shipper lease (on
    /// one node of the region at a time).
    pub fn spawn_shippers(&self) -> Vec<tokio::task::JoinHandle<()>> {
        let Some(key) = &self.inner.key else { return vec![] };
        let client = PeerClient::new(self.inner.store.region(), key.clone());
        let store = &self.inner.store;
        let mut tasks = Vec::new();
        for peer in &self.inner.peers {
            let stats = Arc::clone(&self.inner.shippers[&peer.name]);
            let backlog = Arc::clone(&self.inner.backlogs[&peer.name]);
            tasks.push(tokio::spawn(backlog::follow(Arc::clone(&backlog), store.clone())));
            // Of the nodes of a region, the one holding the lease ships and
            // beats; another takes over when it is gone.
            let (peer, store, client) = (peer.clone(), store.clone(), client.clone());
            tasks.push(tokio::spawn(async move {
                let lease = format!("shipper {}", peer.name);
                let holding = Arc::clone(&stats.lease);
                store
                    .run_leased(&lease, holding, || {
                        let shipper = shipper::Shipper {
                            peer: peer.clone(),
                            store: store.clone(),
                            client: client.clone(),
                            stats: Arc::clone(&stats),
                            backlog: Arc::clone(&backlog),
                        };
                        let beat = heartbeat::run(
                            peer.clone(),
                            store.clone(),
                            client.clone(),
                            Arc::clone(&stats),
                            Arc::clone(&backlog),
                        );
                        async move {
                            futures::future::join(shipper.run(), beat).await;
                        }
                    })
                    .await
            }));
        }
        tasks
    }

    /// The kept backlog towards one of the peers.
    fn backlog(&self, peer: &Peer) -> Result<backlog::Backlog, ReplicationError> {
        self.inner.backlogs[&peer.name].backlog(&self.inner.store)
    }

    /// Authenticates a peer's heartbeat and keeps it. Returns the HTTP status
    /// and a JSON answer.
    pub async fn handle_heartbeat<B>(&self, method: &http::Method, uri: &http::Uri, headers: &http::HeaderMap, body: B) -> (u16, Value)
    where
        B: http_body::Body<Data = bytes::Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        let outcome = async {
            let origin = self.authenticate(method, uri, headers)?;
            let bytes = heartbeat::read_body(body).await?;
            let beat: heartbeat::Heartbeat =
                serde_json::from_slice(&bytes).map_err(|e| ReplicationError::Wire(format!("bad heartbeat: {e}")))?;
            self.inner.applied.heard(&origin, beat);
            Ok::<_, ReplicationError>(())
        };
        match outcome.await {
            Ok(()) => (200, json!({})),
            Err(e) => {
                tracing::warn!(error = %e, "heartbeat refused");
                (e.status(), json!({ "error": e.to_string() }))
            }
        }
    }

    /// The peer region a replication request comes from (replication credential only).
    fn authenticate(&self, method: &http::Method, uri: &http::Uri, headers: &http::HeaderMap) -> Result<String, ReplicationError> {
        let key = self
            .inner
            .key
            .as_ref()
            .ok_or_else(|| ReplicationError::Unauthorized("this region has no replication credential configured".into()))?;
        peer::authenticate(method, uri, headers, key, &self.inner.peers)
    }

    /// How far this region is behind each origin it has heard from.
    pub fn exposure(&self) -> BTreeMap<String, stats::Exposure> {
        let now = tandem_store::now_ms();
        self.inner
            .applied
            .snapshot()
            .iter()
            .filter_map(|(origin, state)| Some((origin.clone(), state.exposure(now)?)))
            .collect()
    }

    /// Authenticates and applies one batch from a peer. Returns the HTTP
    /// status and a JSON answer.
    pub async fn handle_apply<B>(&self, method: &http::Method, uri: &http::Uri, headers: &http::HeaderMap, body: B) -> (u16, Value)
    where
        B: http_body::Body<Data = bytes::Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        let outcome = async {
            let origin = self.authenticate(method, uri, headers)?;
            let lag = self
                .inner
                .metrics
                .apply_lag
                .get_or_create(&metrics::OriginLabels { origin: origin.clone() })
                .clone();
            let summary = apply::apply_batch(&self.inner.store, &origin, body, &lag, self.inner.control.as_ref())
                .await
                .inspect_err(|e| {
                    if let ReplicationError::ClockAhead(ahead) = e {
                        self.inner.applied.clock_refused(&origin, ahead.lead_ms);
                    }
                })?;
            self.inner.applied.record(&origin, summary.applied, summary.stale, summary.through);
            if summary.rerouting {
                self.inner.backlogs.values().for_each(|b| b.routing_changed());
            }
            Ok::<_, ReplicationError>(summary)
        };
        match outcome.await {
            Ok(summary) => (200, json!(summary)),
            Err(e) => {
                tracing::warn!(error = %e, "replication batch refused");
                (e.status(), json!({ "error": e.to_string() }))
            }
        }
    }

    /// Everything about replication in this region, as `/_tandem/replication` shows it.
    pub fn status(&self) -> Result<Value, ReplicationError> {
        let mut peers = Vec::new();
        for peer in &self.inner.peers {
            let state = self.inner.shippers[&peer.name].snapshot();
            let backlog = self.backlog(peer)?;
            let health = match (state.failing(), backlog.changes) {
                (false, 0) => "in-sync",
                (false, _) => "catching-up",
                (true, _) => "failing",
            };
            peers.push(json!({
                "peer": peer.name,
                "url": peer.url,
                "state": health,
                "backlog": backlog,
                "shipper": state,
            }));
        }
        Ok(json!({
            "region": self.inner.store.region(),
            "last_seq": self.inner.store.last_seq(),
            "peers": peers,
            "applied_from": self.inner.applied.snapshot(),
            "behind": self.exposure(),
            "clock": self.inner.store.clock().status(),
        }))
    }

    /// Registers replication metrics with the node's registry.
    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        self.inner.metrics.register(registry);
    }

    /// Refreshes backlog gauges and counters before a scrape (reading the
    /// kept counts: the cost does not grow with the backlog).
    pub fn refresh_metrics(&self) {
        let m = &self.inner.metrics;
        for peer in &self.inner.peers {
            let backlog = self.backlog(peer).ok();
            m.refresh_peer(&peer.name, backlog.as_ref(), &self.inner.shippers[&peer.name].snapshot());
        }
        let now = tandem_store::now_ms();
        for (origin, state) in self.inner.applied.snapshot() {
            m.refresh_origin(&origin, &state, state.exposure(now).as_ref());
        }
        m.refresh_clock(&self.inner.store.clock().status());
    }
}
