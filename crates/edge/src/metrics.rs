//! Prometheus metrics of an edge node (`GET /metrics`): requests by
//! distribution, status class and cache outcome; origin latency; failovers;
//! breaker state and errors per origin. Every label value comes from the
//! config (distribution and origin names) or a fixed set, so the series are bounded.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub distribution: String,
    /// `2xx` .. `5xx`.
    pub status: &'static str,
    /// The cache outcome, or `none` for a behaviour without a cache.
    pub cache: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OriginLabels {
    pub origin: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OriginErrorLabels {
    pub origin: String,
    /// `connect`, `timeout`, `broken`, `status`.
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailoverLabels {
    pub from: String,
    pub to: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    pub requests: Family<RequestLabels, Counter>,
    pub origin_latency: Family<OriginLabels, Histogram>,
    pub origin_errors: Family<OriginErrorLabels, Counter>,
    pub failovers: Family<FailoverLabels, Counter>,
    pub breaker_open: Family<OriginLabels, Gauge>,
    pub invalidations: Counter,
    /// The same requests and failovers, totalled for the console.
    pub summary: crate::summary::Summary,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let origin_latency = Family::<OriginLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        let origin_errors = Family::<OriginErrorLabels, Counter>::default();
        let failovers = Family::<FailoverLabels, Counter>::default();
        let breaker_open = Family::<OriginLabels, Gauge>::default();
        let invalidations = Counter::default();
        registry.register("tandem_edge_requests", "Viewer requests answered", requests.clone());
        registry.register(
            "tandem_edge_origin_latency_seconds",
            "Time from sending a request to an origin to its response head",
            origin_latency.clone(),
        );
        registry.register("tandem_edge_origin_errors", "Failed origin attempts by kind", origin_errors.clone());
        registry.register(
            "tandem_edge_failovers",
            "Requests sent on to another origin after one failed",
            failovers.clone(),
        );
        registry.register(
            "tandem_edge_breaker_open",
            "1 while the origin's circuit breaker is open (origin unhealthy)",
            breaker_open.clone(),
        );
        registry.register("tandem_edge_invalidations", "Invalidation requests accepted", invalidations.clone());
        Metrics {
            registry: Mutex::new(registry),
            requests,
            origin_latency,
            origin_errors,
            failovers,
            breaker_open,
            invalidations,
            summary: Default::default(),
        }
    }

    /// Counts a viewer request (series and console totals).
    pub fn count_request(&self, labels: &RequestLabels) {
        self.requests.get_or_create(labels).inc();
        self.summary.request(&labels.distribution, labels.cache);
    }

    /// Counts a request sent on to another origin after one failed.
    pub fn count_failover(&self, labels: &FailoverLabels) {
        self.failovers.get_or_create(labels).inc();
        self.summary.failover(&labels.from, &labels.to);
    }

    /// Lets another part (the cache) add its metrics.
    pub fn with_registry(&self, f: impl FnOnce(&mut Registry)) {
        f(&mut self.registry.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        if encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// `2xx` for 200..299 and so on.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}
