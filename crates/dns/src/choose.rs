//! Which regions a dynamic record answers with, given what the health checks
//! and app-state reads know. Pure functions: no I/O, no clock.

use std::time::Duration;

/// How a dynamic name is answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// Always this region.
    Region(String),
    /// The primary while healthy, else the secondary.
    Failover { primary: String, secondary: String },
    /// One region, at random in proportion to its weight, among the healthy.
    Weighted(Vec<(String, u32)>),
    /// The healthy region measured as fastest.
    Latency(Vec<String>),
    /// The app's write region; `fallback` while it is not known yet.
    App { app: String, fallback: Vec<String> },
}

/// What the server currently knows about regions and apps.
pub trait View {
    fn healthy(&self, region: &str) -> bool;
    /// Smoothed duration of the region's recent successful checks.
    fn latency(&self, region: &str) -> Option<Duration>;
    fn write_region(&self, app: &str) -> Option<String>;
}

/// The regions to answer with. `roll(n)` returns a number in `0..n`
/// (randomness for weighted records, injected so tests can fix it).
/// Like Route 53, when every candidate is unhealthy all of them are used.
pub fn regions(rule: &Rule, view: &impl View, roll: impl FnOnce(u32) -> u32) -> Vec<String> {
    match rule {
        Rule::Region(r) => vec![r.clone()],
        Rule::Failover { primary, secondary } => match (view.healthy(primary), view.healthy(secondary)) {
            (true, _) => vec![primary.clone()],
            (false, true) => vec![secondary.clone()],
            (false, false) => vec![primary.clone(), secondary.clone()],
        },
        Rule::Weighted(choices) => weighted(choices, view, roll),
        Rule::Latency(candidates) => fastest(candidates, view),
        Rule::App { app, fallback } => match view.write_region(app) {
            Some(region) => vec![region],
            None => fallback.clone(),
        },
    }
}

fn weighted(choices: &[(String, u32)], view: &impl View, roll: impl FnOnce(u32) -> u32) -> Vec<String> {
    let live: Vec<&(String, u32)> = choices.iter().filter(|(r, w)| *w > 0 && view.healthy(r)).collect();
    let pool: Vec<&(String, u32)> = match live.is_empty() {
        true => choices.iter().filter(|(_, w)| *w > 0).collect(),
        false => live,
    };
    let total: u64 = pool.iter().map(|(_, w)| u64::from(*w)).sum();
    let total = u32::try_from(total).unwrap_or(u32::MAX);
    if total == 0 {
        return Vec::new();
    }
    let mut at = roll(total).min(total - 1);
    for (region, weight) in &pool {
        if at < *weight {
            return vec![region.clone()];
        }
        at -= weight;
    }
    pool.last().map(|(r, _)| vec![r.clone()]).unwrap_or_default()
}

fn fastest(candidates: &[String], view: &impl View) -> Vec<String> {
    let healthy: Vec<&String> = candidates.iter().filter(|r| view.healthy(r)).collect();
    if healthy.is_empty() {
        return candidates.to_vec();
    }
    // Unmeasured regions rank last; ties keep the configured order.
    let best = healthy
        .iter()
        .min_by_key(|r| view.latency(r).unwrap_or(Duration::MAX))
        .map(|r| (*r).clone());
    best.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Fixed {
        down: Vec<&'static str>,
        latency: HashMap<&'static str, u64>,
        write: Option<&'static str>,
    }

    impl View for Fixed {
        fn healthy(&self, region: &str) -> bool {
            !self.down.contains(&region)
        }
        fn latency(&self, region: &str) -> Option<Duration> {
            self.latency.get(region).map(|ms| Duration::from_millis(*ms))
        }
        fn write_region(&self, _: &str) -> Option<String> {
            self.write.map(String::from)
        }
    }

    fn failover() -> Rule {
        Rule::Failover {
            primary: "us-east".into(),
            secondary: "ap-tokyo".into(),
        }
    }

    #[test]
    fn failover_answers_primary_while_healthy_then_secondary_then_both() {
        let mut view = Fixed::default();
        assert_eq!(regions(&failover(), &view, |_| 0), ["us-east"]);
        view.down = vec!["us-east"];
        assert_eq!(regions(&failover(), &view, |_| 0), ["ap-tokyo"]);
        view.down = vec!["us-east", "ap-tokyo"];
        assert_eq!(regions(&failover(), &view, |_| 0), ["us-east", "ap-tokyo"]);
    }

    #[test]
    fn weighted_splits_by_weight_and_skips_unhealthy_regions() {
        let rule = Rule::Weighted(vec![("a".into(), 1), ("b".into(), 3), ("c".into(), 0)]);
        let mut view = Fixed::default();
        assert_eq!(regions(&rule, &view, |_| 0), ["a"]);
        assert_eq!(regions(&rule, &view, |_| 1), ["b"]);
        assert_eq!(regions(&rule, &view, |_| 3), ["b"]);
        view.down = vec!["b"];
        assert_eq!(regions(&rule, &view, |n| n - 1), ["a"]);
        view.down = vec!["a", "b"];
        assert_eq!(regions(&rule, &view, |_| 2), ["b"], "all down: the weights of all");
    }

    #[test]
    fn latency_picks_the_fastest_healthy_region() {
        let rule = Rule::Latency(vec!["a".into(), "b".into()]);
        let mut view = Fixed {
            latency: HashMap::from([("a", 30), ("b", 5)]),
            ..Fixed::default()
        };
        assert_eq!(regions(&rule, &view, |_| 0), ["b"]);
        view.down = vec!["b"];
        assert_eq!(regions(&rule, &view, |_| 0), ["a"]);
        view.down = vec!["a", "b"];
        assert_eq!(regions(&rule, &view, |_| 0), ["a", "b"]);
    }

    #[test]
    fn app_record_follows_the_write_region_and_falls_back_to_all() {
        let rule = Rule::App {
            app: "photos".into(),
            fallback: vec!["a".into(), "b".into()],
        };
        let mut view = Fixed::default();
        assert_eq!(regions(&rule, &view, |_| 0), ["a", "b"]);
        view.write = Some("b");
        assert_eq!(regions(&rule, &view, |_| 0), ["b"]);
    }
}
