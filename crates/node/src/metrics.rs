//! Prometheus metrics of a node: requests by API, operation and status, latency
//! histograms, bytes in and out, connections (open, refused over the cap,
//! closed by a deadline, failed accepts), store sizes and replication (read at
//! scrape time).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Duration;
use tandem_store::Store;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    api: &'static str,
    op: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabels {
    api: &'static str,
    op: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DirectionLabels {
    direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// Connection counters, shared with the accept loop. Cheap to clone.
#[derive(Clone, Default)]
pub struct ConnectionMetrics {
    open: Gauge,
    refused: Counter,
    timed_out: Family<ReasonLabels, Counter>,
    accept_failures: Counter,
}

/// An open connection, counted until dropped.
pub struct OpenConnection(Gauge);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl ConnectionMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register("connections_open", "HTTP connections open", self.open.clone());
        registry.register(
            "connections_refused",
            "Connections refused (503 SlowDown) because the connection cap was reached",
            self.refused.clone(),
        );
        registry.register(
            "connections_timed_out",
            "Connections closed by a deadline: header_read, idle or write_progress",
            self.timed_out.clone(),
        );
        registry.register(
            "accept_failures",
            "Failed accepts (e.g. descriptors exhausted)",
            self.accept_failures.clone(),
        );
    }

    pub fn opened(&self) -> OpenConnection {
        self.open.inc();
        OpenConnection(self.open.clone())
    }

    pub fn refused(&self) {
        self.refused.inc();
    }

    pub fn timed_out(&self, reason: &'static str) {
        self.timed_out.get_or_create(&ReasonLabels { reason }).inc();
    }

    pub fn accept_failed(&self) {
        self.accept_failures.inc();
    }
}

fn latency_histogram() -> Histogram {
    // 100 µs .. ~52 s
    Histogram::new(exponential_buckets(0.0001, 2.0, 20))
}

/// The node's metrics registry.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<OpLabels, Histogram, fn() -> Histogram>,
    bytes: Family<DirectionLabels, Counter>,
    store_metadata_bytes: Gauge,
    store_object_bytes: Gauge,
    change_log_seq: Gauge,
    auth_failures: Family<ReasonLabels, Counter>,
    pub connections: ConnectionMetrics,
    replication: tandem_replication::Replication,
    control: tandem_control::AppControl,
}

impl Metrics {
    pub fn new(region: &str, replication: &tandem_replication::Replication, control: &tandem_control::AppControl) -> Self {
        let mut registry = Registry::with_prefix_and_labels(
            "tandem",
            [(std::borrow::Cow::Borrowed("region"), std::borrow::Cow::Owned(region.to_string()))].into_iter(),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<OpLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let bytes = Family::<DirectionLabels, Counter>::default();
        let (store_metadata_bytes, store_object_bytes, change_log_seq) = (Gauge::default(), Gauge::default(), Gauge::default());
        registry.register("requests", "Requests served, by API, operation and HTTP status", requests.clone());
        registry.register(
            "request_duration_seconds",
            "Time to first response byte, by API and operation",
            latency.clone(),
        );
        registry.register("http_bytes", "Body bytes received (in) and sent (out)", bytes.clone());
        registry.register(
            "store_metadata_bytes",
            "Size of the metadata database file",
            store_metadata_bytes.clone(),
        );
        registry.register("store_object_bytes", "Bytes of object versions held", store_object_bytes.clone());
        registry.register(
            "change_log_last_seq",
            "Sequence number of the last change-log entry",
            change_log_seq.clone(),
        );
        let auth_failures = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "auth_failures",
            "Requests refused for their credentials or by authorization, by reason",
            auth_failures.clone(),
        );
        let connections = ConnectionMetrics::default();
        connections.register(&mut registry);
        replication.register_metrics(&mut registry);
        control.register_metrics(&mut registry);
        Self {
            connections,
            registry,
            replication: replication.clone(),
            control: control.clone(),
            requests,
            latency,
            bytes,
            store_metadata_bytes,
            store_object_bytes,
            change_log_seq,
            auth_failures,
        }
    }

    /// Counts a refused request (see `auth_failures.rs`).
    pub fn auth_failed(&self, reason: &'static str) {
        self.auth_failures.get_or_create(&ReasonLabels { reason }).inc();
    }

    /// Records one served request.
    pub fn observe(&self, api: &'static str, op: &'static str, status: u16, elapsed: Duration, bytes_in: u64, bytes_out: u64) {
        self.requests.get_or_create(&RequestLabels { api, op, status }).inc();
        self.latency.get_or_create(&OpLabels { api, op }).observe(elapsed.as_secs_f64());
        self.bytes.get_or_create(&DirectionLabels { direction: "in" }).inc_by(bytes_in);
        self.bytes.get_or_create(&DirectionLabels { direction: "out" }).inc_by(bytes_out);
    }

    /// The Prometheus text exposition, with store gauges refreshed.
    pub fn render(&self, store: &Store) -> String {
        if let Ok(stats) = store.stats() {
            self.store_metadata_bytes.set(stats.metadata_bytes as i64);
            self.store_object_bytes.set(stats.object_bytes as i64);
        }
        self.change_log_seq.set(store.last_seq() as i64);
        self.replication.refresh_metrics();
        self.control.refresh_metrics();
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
