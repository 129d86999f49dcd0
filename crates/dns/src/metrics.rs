//! Prometheus metrics of the DNS server: queries by response code and type
//! (both from fixed label sets), rate-limited responses, and per region the
//! health, check counts and measured latency (read from the state at scrape).

use std::sync::atomic::AtomicU64;

use hickory_server::proto::op::ResponseCode;
use hickory_server::proto::rr::RecordType;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::state::State;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueryLabels {
    rcode: &'static str,
    qtype: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RegionLabels {
    region: String,
}

pub struct Metrics {
    registry: Registry,
    queries: Family<QueryLabels, Counter>,
    rate_limited: Family<ActionLabels, Counter>,
    healthy: Family<RegionLabels, Gauge>,
    checks: Family<RegionLabels, Gauge>,
    check_failures: Family<RegionLabels, Gauge>,
    latency: Family<RegionLabels, Gauge<f64, AtomicU64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("tandem_dns");
        let queries = Family::<QueryLabels, Counter>::default();
        registry.register("queries", "Queries answered, by response code and query type", queries.clone());
        let rate_limited = Family::<ActionLabels, Counter>::default();
        registry.register(
            "rate_limited",
            "UDP responses withheld by rate limiting (dropped, or slipped as truncated)",
            rate_limited.clone(),
        );
        let healthy = Family::<RegionLabels, Gauge>::default();
        registry.register("region_healthy", "1 while the region passes its health check", healthy.clone());
        let checks = Family::<RegionLabels, Gauge>::default();
        registry.register("health_checks", "Health checks run against the region", checks.clone());
        let check_failures = Family::<RegionLabels, Gauge>::default();
        registry.register(
            "health_check_failures",
            "Health checks of the region that failed",
            check_failures.clone(),
        );
        let latency = Family::<RegionLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "region_latency_seconds",
            "Smoothed duration of the region's successful health checks",
            latency.clone(),
        );
        Self {
            registry,
            queries,
            rate_limited,
            healthy,
            checks,
            check_failures,
            latency,
        }
    }
}

impl Metrics {
    pub fn query(&self, rcode: ResponseCode, qtype: Option<RecordType>) {
        let labels = QueryLabels {
            rcode: rcode_label(rcode),
            qtype: qtype.map(qtype_label).unwrap_or("NONE"),
        };
        self.queries.get_or_create(&labels).inc();
    }

    pub fn rate_limited(&self, slipped: bool) {
        let action = if slipped { "slipped" } else { "dropped" };
        self.rate_limited.get_or_create(&ActionLabels { action }).inc();
    }

    /// The Prometheus text exposition, with region gauges read from `state`.
    pub fn render(&self, state: &State) -> String {
        for region in &state.regions {
            let h = state.health(region);
            let labels = RegionLabels {
                region: region.name.clone(),
            };
            self.healthy.get_or_create(&labels).set(i64::from(h.healthy != Some(false)));
            self.checks.get_or_create(&labels).set(i64::try_from(h.checks).unwrap_or(i64::MAX));
            self.check_failures
                .get_or_create(&labels)
                .set(i64::try_from(h.failures).unwrap_or(i64::MAX));
            self.latency
                .get_or_create(&labels)
                .set(h.latency.map(|d| d.as_secs_f64()).unwrap_or(0.0));
        }
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

fn rcode_label(rcode: ResponseCode) -> &'static str {
    match rcode {
        ResponseCode::NoError => "NOERROR",
        ResponseCode::NXDomain => "NXDOMAIN",
        ResponseCode::Refused => "REFUSED",
        ResponseCode::FormErr => "FORMERR",
        ResponseCode::NotImp => "NOTIMP",
        ResponseCode::ServFail => "SERVFAIL",
        ResponseCode::BADVERS => "BADVERS",
        _ => "OTHER",
    }
}

fn qtype_label(qtype: RecordType) -> &'static str {
    match qtype {
        RecordType::A => "A",
        RecordType::AAAA => "AAAA",
        RecordType::CNAME => "CNAME",
        RecordType::NS => "NS",
        RecordType::SOA => "SOA",
        RecordType::TXT => "TXT",
        RecordType::ANY => "ANY",
        _ => "OTHER",
    }
}
