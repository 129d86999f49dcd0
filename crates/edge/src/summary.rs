//! Running totals of an edge node for the console: viewer requests and
//! cache hits per distribution, and origin failovers per pair of origins.
//! They are counted by the same calls as the Prometheus series
//! ([`crate::metrics::Metrics::count_request`], `count_failover`), and
//! bounded the same way: every key comes from the config.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{Value, json};

/// Requests of one distribution.
#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    requests: u64,
    /// Requests a cache behaviour answered (its lookups).
    cached: u64,
    /// Of those, served from the cache (fresh, revalidated or stale).
    hits: u64,
}

#[derive(Debug, Default)]
pub struct Summary {
    distributions: Mutex<BTreeMap<String, Totals>>,
    failovers: Mutex<BTreeMap<(String, String), u64>>,
}

/// Whether a cache outcome (the `x-cache` value, or `none`) was a lookup, and a hit.
fn lookup_and_hit(outcome: &str) -> (bool, bool) {
    match outcome {
        "Hit" | "RefreshHit" | "Stale" => (true, true),
        "Miss" => (true, false),
        _ => (false, false),
    }
}

impl Summary {
    pub fn request(&self, distribution: &str, outcome: &str) {
        let (lookup, hit) = lookup_and_hit(outcome);
        let mut all = self.distributions.lock().unwrap_or_else(|e| e.into_inner());
        let totals = all.entry(distribution.to_string()).or_default();
        totals.requests += 1;
        totals.cached += u64::from(lookup);
        totals.hits += u64::from(hit);
    }

    pub fn failover(&self, from: &str, to: &str) {
        let mut all = self.failovers.lock().unwrap_or_else(|e| e.into_inner());
        *all.entry((from.to_string(), to.to_string())).or_default() += 1;
    }

    /// The totals as the console reads them.
    pub fn to_json(&self) -> Value {
        let failovers = self.failovers.lock().unwrap_or_else(|e| e.into_inner());
        let distributions = self.distributions.lock().unwrap_or_else(|e| e.into_inner());
        json!({
            "distributions": distributions.iter().map(|(name, t)| json!({
                "name": name,
                "requests": t.requests,
                "cached_requests": t.cached,
                "hits": t.hits,
                "hit_ratio": (t.cached > 0).then(|| t.hits as f64 / t.cached as f64),
            })).collect::<Vec<_>>(),
            "failovers": failovers.iter().map(|((from, to), n)| json!({ "from": from, "to": to, "count": n })).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hit_ratio_counts_only_cache_lookups() {
        let summary = Summary::default();
        for outcome in ["Hit", "Hit", "Stale", "Miss", "none", "Bypass"] {
            summary.request("photos", outcome);
        }
        summary.failover("us-east", "ap-tokyo");
        let json = summary.to_json();
        let d = &json["distributions"][0];
        assert_eq!(d["requests"], 6);
        assert_eq!(d["cached_requests"], 4);
        assert_eq!(d["hit_ratio"], 0.75);
        assert_eq!(json["failovers"][0]["count"], 1);
    }
}
