//! `STATE_UPDATED` in Prometheus terms: a counter of state changes this region
//! has applied per app and state (rebuilt from the audit trail at startup, so
//! it survives restarts), a gauge that is 1 for each app's current state, and
//! a counter of client writes refused per app, region and reason.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub app: String,
    pub state: &'static str,
}

/// Labels of a refused write: the app (one of the configured ones), this
/// region, and the refusal code (`NotWriteRegion` or `AppFenced`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusedLabels {
    pub app: String,
    pub region: String,
    pub reason: &'static str,
}

#[derive(Default)]
pub struct AppMetrics {
    pub changes: Family<StateLabels, Counter>,
    pub current: Family<StateLabels, Gauge>,
    pub refused: Family<RefusedLabels, Counter>,
}

impl AppMetrics {
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("app");
        r.register(
            "state_changes",
            "Application state changes seen by this region",
            self.changes.clone(),
        );
        r.register("state", "1 for each application's current state", self.current.clone());
        r.register(
            "refused_writes",
            "Client writes refused because this region does not take the app's writes now, by app, region and reason",
            self.refused.clone(),
        );
    }
}
