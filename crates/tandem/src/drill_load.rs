//! The drill's synthetic workload and its observers: writers (one per kind)
//! that put objects and items with unique ids through the edge and records every
//! answer, a reader that reads back the newest acknowledged object, and a
//! sampler of every region's replication status. All times are milliseconds
//! since the drill started.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::config::{Config, RegionConfig};
use crate::control_client::{Answer, CallError, ControlClient, Endpoint};

/// What is written: an object or a table item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Object,
    Item,
}

/// One write the workload sent, and how it ended.
#[derive(Debug, Clone, Serialize)]
pub struct Write {
    pub id: String,
    pub kind: Kind,
    /// When the request was sent.
    pub at_ms: u64,
    pub acknowledged: bool,
    /// From sending the request to its answer (or failure).
    pub took_ms: u64,
    /// The region that served it (the edge's `x-edge-region`), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One look at a region's replication status.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub at_ms: u64,
    pub region: String,
    pub reachable: bool,
    /// Changes waiting to ship to its peers.
    pub backlog_changes: u64,
    /// Age of the oldest waiting change (the replication lag), seconds.
    pub lag_seconds: f64,
    /// What it has not received from each origin (its RPO exposure), changes.
    pub behind: serde_json::Map<String, Value>,
}

/// Everything the workload and the sampler saw.
#[derive(Default)]
pub struct Observations {
    pub writes: Vec<Write>,
    pub reads_ok: u64,
    pub reads_failed: u64,
    pub samples: Vec<Sample>,
}

/// The app's data the workload writes to, through the edge.
#[derive(Clone)]
pub struct Workload {
    pub run: String,
    pub edge: Arc<Endpoint>,
    /// The bucket, by its primary-region name (the edge renames it).
    pub bucket: Option<String>,
    /// The table and its partition and sort key names (string keys only).
    pub table: Option<(String, String, String)>,
    pub interval: Duration,
}

impl Workload {
    /// The object key of write `seq`.
    pub fn object_key(&self, seq: u64) -> String {
        format!("drill/{}/{seq:06}", self.run)
    }

    /// The key of item `seq`: the run is its partition.
    pub fn item_key(&self, seq: u64) -> Option<Value> {
        let (_, hash, range) = self.table.as_ref()?;
        Some(json!({ hash: {"S": format!("drill-{}", self.run)}, range: {"S": format!("{seq:06}")} }))
    }
}

/// The running workload; [`Running::stop`] ends it and hands over what it saw.
pub struct Running {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    seen: Arc<Mutex<Observations>>,
    started: Instant,
}

impl Running {
    pub fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// What has been seen so far (a copy of the writes).
    pub fn writes(&self) -> Vec<Write> {
        lock(&self.seen).writes.clone()
    }

    /// The latest sample of `region`, if any.
    pub fn last_sample(&self, region: &str) -> Option<Sample> {
        lock(&self.seen)
            .samples
            .iter()
            .rev()
            .find(|s| s.region == region && s.reachable)
            .cloned()
    }

    pub async fn stop(self) -> Observations {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        std::mem::take(&mut *lock(&self.seen))
    }
}

/// Starts one writer per kind, the reader and the sampler.
pub fn start(config: &Config, workload: Workload) -> Result<Running, String> {
    let (stop, stopped) = watch::channel(false);
    let seen = Arc::new(Mutex::new(Observations::default()));
    let started = Instant::now();
    // Short timeouts: a request stuck on a dead region is a failure the
    // drill must see, not a 30 s stall of the workload.
    let client = Arc::new(ControlClient::trusting(config, &config.edge.tls_certs())?.with_timeout(Duration::from_secs(2)));
    let sampler = Arc::new(ControlClient::new(config)?.with_timeout(Duration::from_secs(1)));
    let mut tasks = Vec::new();
    for kind in [Kind::Object, Kind::Item] {
        let writer = Writer {
            client: client.clone(),
            load: workload.clone(),
            seen: seen.clone(),
            started,
        };
        tasks.push(tokio::spawn(writer.run(kind, stopped.clone())));
    }
    tasks.push(tokio::spawn(read_loop(client, workload, seen.clone(), stopped.clone())));
    tasks.push(tokio::spawn(sample_loop(
        sampler,
        config.regions.clone(),
        seen.clone(),
        started,
        stopped,
    )));
    Ok(Running {
        stop,
        tasks,
        seen,
        started,
    })
}

/// The observations, even if a task panicked while holding them.
fn lock(seen: &Mutex<Observations>) -> std::sync::MutexGuard<'_, Observations> {
    seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Writes of one kind, one per interval, each recorded with its outcome.
struct Writer {
    client: Arc<ControlClient>,
    load: Workload,
    seen: Arc<Mutex<Observations>>,
    started: Instant,
}

impl Writer {
    async fn run(self, kind: Kind, stop: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(self.load.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut seq = 0u64;
        while !*stop.borrow() {
            tick.tick().await;
            seq += 1;
            let at_ms = self.started.elapsed().as_millis() as u64;
            let Some((id, answer)) = self.write(kind, seq).await else { return };
            let took_ms = (self.started.elapsed().as_millis() as u64).saturating_sub(at_ms);
            lock(&self.seen).writes.push(outcome(id, kind, (at_ms, took_ms), answer));
        }
    }

    /// Sends write `seq` of `kind`: its id and answer (`None`: the app has nothing of that kind).
    async fn write(&self, kind: Kind, seq: u64) -> Option<(String, Result<Answer, CallError>)> {
        let load = &self.load;
        match kind {
            Kind::Object => {
                let key = load.object_key(seq);
                let path = format!("/{}/{key}", load.bucket.as_ref()?);
                let answer = self.client.s3_at(&load.edge, Method::PUT, &path, Bytes::from(key.clone())).await;
                Some((key, answer))
            }
            Kind::Item => {
                let (table, _, _) = load.table.as_ref()?;
                let mut item = load.item_key(seq)?;
                item["drill_seq"] = json!({"N": seq.to_string()});
                let answer = self
                    .client
                    .dynamodb_at(&load.edge, "PutItem", &json!({"TableName": table, "Item": item}))
                    .await;
                Some((format!("{seq:06}"), answer))
            }
        }
    }
}

/// A write sent at `at_ms` that took `took_ms`, and its answer.
fn outcome(id: String, kind: Kind, (at_ms, took_ms): (u64, u64), answer: Result<Answer, CallError>) -> Write {
    let (acknowledged, region, error) = match answer {
        // The region that served it; an edge origin without a region names its URL.
        Ok(a) => (
            true,
            ["x-edge-region", "x-edge-origin"]
                .iter()
                .find_map(|h| a.headers.get(*h)?.to_str().ok().map(str::to_string)),
            None,
        ),
        Err(e) => (false, None, Some(e.to_string())),
    };
    Write {
        id,
        kind,
        at_ms,
        acknowledged,
        took_ms,
        region,
        error,
    }
}

/// Reads the newest acknowledged object back through the edge, counting failures.
async fn read_loop(client: Arc<ControlClient>, load: Workload, seen: Arc<Mutex<Observations>>, stop: watch::Receiver<bool>) {
    let Some(bucket) = load.bucket.clone() else { return };
    let mut tick = tokio::time::interval(load.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !*stop.borrow() {
        tick.tick().await;
        let newest = lock(&seen)
            .writes
            .iter()
            .rev()
            .find(|w| w.acknowledged && w.kind == Kind::Object)
            .map(|w| w.id.clone());
        let Some(key) = newest else { continue };
        let ok = client
            .s3_at(&load.edge, Method::GET, &format!("/{bucket}/{key}"), Bytes::new())
            .await
            .is_ok();
        let mut s = lock(&seen);
        if ok { s.reads_ok += 1 } else { s.reads_failed += 1 }
    }
}

/// Every region's `/_tandem/replication`, twice a second.
async fn sample_loop(
    client: Arc<ControlClient>,
    regions: Vec<RegionConfig>,
    seen: Arc<Mutex<Observations>>,
    started: Instant,
    stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    while !*stop.borrow() {
        tick.tick().await;
        for region in &regions {
            let at_ms = started.elapsed().as_millis() as u64;
            let sample = match client.call(region, Method::GET, "/_tandem/replication").await {
                Ok(s) => sample_of(&region.name, at_ms, &s),
                Err(_) => Sample {
                    at_ms,
                    region: region.name.clone(),
                    reachable: false,
                    backlog_changes: 0,
                    lag_seconds: 0.0,
                    behind: Default::default(),
                },
            };
            lock(&seen).samples.push(sample);
        }
    }
}

/// A sample from a region's replication status.
fn sample_of(region: &str, at_ms: u64, status: &Value) -> Sample {
    let peers = status["peers"].as_array().cloned().unwrap_or_default();
    let backlog_changes = peers.iter().map(|p| p["backlog"]["changes"].as_u64().unwrap_or(0)).sum();
    let lag_seconds = peers
        .iter()
        .map(|p| p["backlog"]["oldest_age_seconds"].as_f64().unwrap_or(0.0))
        .fold(0.0, f64::max);
    let behind = status["behind"]
        .as_object()
        .map(|b| b.iter().map(|(origin, e)| (origin.clone(), e["changes"].clone())).collect())
        .unwrap_or_default();
    Sample {
        at_ms,
        region: region.to_string(),
        reachable: true,
        backlog_changes,
        lag_seconds,
        behind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_sums_the_backlog_and_takes_the_oldest_lag() {
        let status = json!({
            "peers": [
                {"backlog": {"changes": 3, "oldest_age_seconds": 0.5}},
                {"backlog": {"changes": 4, "oldest_age_seconds": 2.0}},
            ],
            "behind": {"us-east": {"changes": 7, "bytes": 10}},
        });
        let s = sample_of("ap-tokyo", 10, &status);
        assert_eq!((s.backlog_changes, s.lag_seconds), (7, 2.0));
        assert_eq!(s.behind["us-east"], json!(7));
    }

    #[test]
    fn item_keys_partition_by_run() {
        let load = Workload {
            run: "r1".into(),
            edge: Arc::new(Endpoint {
                name: "edge".into(),
                url: "http://e".into(),
                signing_region: "us-east-1".into(),
            }),
            bucket: None,
            table: Some(("t".into(), "pk".into(), "sk".into())),
            interval: Duration::from_millis(10),
        };
        assert_eq!(load.item_key(7).unwrap(), json!({"pk": {"S": "drill-r1"}, "sk": {"S": "000007"}}));
    }
}
