//! `STATE_UPDATED` in Prometheus terms: a counter of state changes this region
//! has seen per app and state, and a gauge that is 1 for each app's current state.

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

#[derive(Default)]
pub struct AppMetrics {
    pub changes: Family<StateLabels, Counter>,
    pub current: Family<StateLabels, Gauge>,
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
    }
}
