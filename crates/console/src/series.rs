//! The node's small in-process time series for the console's charts: the
//! replication lag and backlog towards each peer, sampled at a fixed
//! interval and kept for a bounded time (an hour by default), oldest
//! dropped first. Memory is fixed: `keep / interval` samples per peer.
//! Nothing is persisted; a restarted node starts a new series.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};

/// One observation of the link towards a peer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Milliseconds since the epoch.
    pub at_ms: u64,
    /// Age of the oldest change the peer has not applied (0: in sync).
    pub lag_seconds: f64,
    pub backlog_changes: u64,
    pub backlog_bytes: u64,
    /// The shipper's last batch to the peer failed.
    pub failing: bool,
}

/// The samples of every peer.
#[derive(Debug)]
pub struct Series {
    interval: Duration,
    capacity: usize,
    peers: Mutex<BTreeMap<String, VecDeque<Sample>>>,
}

impl Series {
    /// A series sampled every `interval`, keeping the last `keep`.
    pub fn new(keep: Duration, interval: Duration) -> Self {
        let capacity = (keep.as_millis() / interval.as_millis().max(1)).max(1) as usize;
        Self {
            interval,
            capacity,
            peers: Mutex::new(BTreeMap::new()),
        }
    }

    /// How often the node should sample.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Adds a sample of `peer`, dropping its oldest past the capacity.
    pub fn record(&self, peer: &str, sample: Sample) {
        let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        let samples = peers.entry(peer.to_string()).or_default();
        if samples.len() == self.capacity {
            samples.pop_front();
        }
        samples.push_back(sample);
    }

    /// The series as columns per peer (`at_ms`, `lag_seconds`, ...), the
    /// shape a chart library takes directly.
    pub fn to_json(&self) -> Value {
        let peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        let columns: serde_json::Map<String, Value> = peers
            .iter()
            .map(|(peer, samples)| {
                let column = |f: &dyn Fn(&Sample) -> Value| samples.iter().map(f).collect::<Vec<_>>();
                let value = json!({
                    "at_ms": column(&|s| json!(s.at_ms)),
                    "lag_seconds": column(&|s| json!(s.lag_seconds)),
                    "backlog_changes": column(&|s| json!(s.backlog_changes)),
                    "backlog_bytes": column(&|s| json!(s.backlog_bytes)),
                    "failing": column(&|s| json!(s.failing)),
                });
                (peer.clone(), value)
            })
            .collect();
        json!({ "interval_ms": self.interval.as_millis() as u64, "peers": columns })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_ms: u64) -> Sample {
        Sample {
            at_ms,
            lag_seconds: at_ms as f64 / 1000.0,
            backlog_changes: at_ms,
            backlog_bytes: 0,
            failing: false,
        }
    }

    #[test]
    fn keeps_the_newest_samples_up_to_its_capacity() {
        let series = Series::new(Duration::from_secs(10), Duration::from_secs(2));
        for t in 0..8 {
            series.record("ap-tokyo", sample(t * 2000));
        }
        let json = series.to_json();
        let at: Vec<u64> = serde_json::from_value(json["peers"]["ap-tokyo"]["at_ms"].clone()).unwrap();
        assert_eq!(at, vec![6000, 8000, 10000, 12000, 14000]);
        assert_eq!(json["peers"]["ap-tokyo"]["backlog_changes"][4], 14000);
        assert_eq!(json["interval_ms"], 2000);
    }

    #[test]
    fn peers_are_kept_apart() {
        let series = Series::new(Duration::from_secs(3600), Duration::from_secs(2));
        series.record("a", sample(1));
        series.record("b", sample(2));
        series.record("b", sample(3));
        let json = series.to_json();
        assert_eq!(json["peers"]["a"]["at_ms"].as_array().unwrap().len(), 1);
        assert_eq!(json["peers"]["b"]["at_ms"].as_array().unwrap().len(), 2);
    }
}
