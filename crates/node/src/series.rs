//! Feeds the console's time series (`tandem_console::series`): every
//! interval, the replication status towards each peer (lag, backlog,
//! whether the link is failing) is sampled off the runtime's threads, since
//! reading the kept backlog may count the few changes committed since.

use tandem_console::series::{Sample, Series};

use crate::Node;

/// How often the link towards each peer is sampled, and for how long.
pub const INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);
pub const KEEP: std::time::Duration = std::time::Duration::from_secs(3600);

/// The series a node starts with.
pub fn new_series() -> Series {
    Series::new(KEEP, INTERVAL)
}

/// Samples until the node stops.
pub async fn sample_forever(node: Node) {
    let mut tick = tokio::time::interval(node.inner.series.interval());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let replication = node.inner.replication.clone();
        let Ok(Ok(status)) = tokio::task::spawn_blocking(move || replication.status()).await else {
            continue;
        };
        record(&node.inner.series, &status, tandem_store::now_ms());
    }
}

/// Adds one sample per peer of a replication status.
fn record(series: &Series, status: &serde_json::Value, at_ms: u64) {
    for peer in status["peers"].as_array().into_iter().flatten() {
        let Some(name) = peer["peer"].as_str() else { continue };
        let backlog = &peer["backlog"];
        series.record(
            name,
            Sample {
                at_ms,
                lag_seconds: backlog["oldest_age_seconds"].as_f64().unwrap_or(0.0),
                backlog_changes: backlog["changes"].as_u64().unwrap_or(0),
                backlog_bytes: backlog["bytes"].as_u64().unwrap_or(0),
                failing: peer["state"] == "failing",
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_gives_one_sample_per_peer() {
        let series = new_series();
        let status = serde_json::json!({ "peers": [
            { "peer": "ap-tokyo", "state": "failing", "backlog": { "oldest_age_seconds": 4.5, "changes": 12, "bytes": 900 } },
            { "peer": "eu-west", "state": "in-sync", "backlog": { "oldest_age_seconds": 0.0, "changes": 0, "bytes": 0 } },
        ]});
        record(&series, &status, 1000);
        let json = series.to_json();
        assert_eq!(json["peers"]["ap-tokyo"]["lag_seconds"][0], 4.5);
        assert_eq!(json["peers"]["ap-tokyo"]["failing"][0], true);
        assert_eq!(json["peers"]["eu-west"]["backlog_changes"][0], 0);
    }
}
