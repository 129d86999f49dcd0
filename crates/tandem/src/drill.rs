//! `tandem drill APP`: fails a region on purpose under a steady workload
//! through the edge and measures what clients lived through (RTO, RPO,
//! errors, lag, convergence; see `drill_report.rs`). The failure is one of:
//! a planned failover and failback; the primary's process killed (by the
//! `[drill] kill` hook, then `restart`); replication cut (`partition` /
//! `heal`); latency added to the primary (`slow` / `unslow`). Hooks are
//! shell commands, so a drill drives whatever runs the regions (systemd, a
//! container runtime, a link emulator); `{region}` and `{ms}` are replaced.

use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::config::{Config, RegionConfig};
use crate::control_client::{ControlClient, Endpoint};
use crate::drill_load::{self, Kind, Workload};
use crate::drill_report::{self, Report, Targets};
use crate::replication_cmd::{self, Target};

/// `[drill]` of tandem.toml.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DrillConfig {
    /// The edge the workload goes through; default: the first `[[edge.nodes]]`.
    pub edge: Option<String>,
    /// The drill fails (exit status 1) when the RTO is longer.
    pub rto_seconds: Option<f64>,
    /// ...or when more acknowledged writes than this are missing.
    pub rpo_writes: Option<u64>,
    /// Stops the region's process at once (`kill -9`, `docker kill`...).
    pub kill: Option<String>,
    /// Starts it again; it must return once the start is under way.
    pub restart: Option<String>,
    /// Cuts replication between the regions, and restores it.
    pub partition: Option<String>,
    pub heal: Option<String>,
    /// Adds `{ms}` of latency in front of the region, and removes it.
    pub slow: Option<String>,
    pub unslow: Option<String>,
}

/// The failure a drill injects.
#[derive(Debug, Clone, Copy)]
pub enum Failure {
    Planned,
    KillPrimary,
    Partition(u64),
    SlowPrimary(u64),
}

impl Failure {
    fn describe(self) -> String {
        match self {
            Failure::Planned => "planned failover and failback".into(),
            Failure::KillPrimary => "primary killed".into(),
            Failure::Partition(s) => format!("replication cut for {s} s"),
            Failure::SlowPrimary(ms) => format!("primary slowed by {ms} ms"),
        }
    }
}

/// How long the workload runs before and after the failure.
#[derive(Debug, Clone, Copy)]
pub struct Pacing {
    pub steady: Duration,
    pub interval: Duration,
}

/// Runs a hook command with `{region}` and `{ms}` replaced.
async fn hook(name: &str, command: &Option<String>, region: &str, ms: u64) -> Result<(), String> {
    let command = command
        .as_ref()
        .ok_or_else(|| format!("this drill needs `[drill] {name}` in tandem.toml: a command that {}", hook_purpose(name)))?;
    let line = command.replace("{region}", region).replace("{ms}", &ms.to_string());
    println!("drill: running {name} hook: {line}");
    let run = tokio::process::Command::new("sh").arg("-c").arg(&line).env("TANDEM_DRILL_REGION", region).status();
    match tokio::time::timeout(Duration::from_secs(60), run).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(format!("the {name} hook failed ({status}): {line}")),
        Ok(Err(e)) => Err(format!("the {name} hook could not run ({e}): {line}")),
        Err(_) => Err(format!("the {name} hook took over 60 s: {line}")),
    }
}

fn hook_purpose(name: &str) -> &'static str {
    match name {
        "kill" => "stops region {region}'s process at once",
        "restart" => "starts region {region} again",
        "partition" => "cuts replication to and from region {region}",
        "heal" => "restores replication of region {region}",
        "slow" => "adds {ms} ms of latency in front of region {region}",
        _ => "removes the latency added in front of region {region}",
    }
}

/// The edge the workload uses.
fn edge_endpoint(config: &Config, primary: &RegionConfig) -> Result<Endpoint, String> {
    let url = config
        .drill
        .edge
        .clone()
        .or_else(|| config.edge.nodes.first().map(|n| n.url.clone().unwrap_or_else(|| format!("http://{}", n.listen))))
        .ok_or("the drill goes through an edge: add [[edge.nodes]] or `[drill] edge = \"http://...\"` to tandem.toml")?;
    Ok(Endpoint {
        name: "edge".into(),
        url,
        signing_region: primary.signing_region(),
    })
}

/// Waits until `ok` holds or `limit` passes; whether it held.
async fn wait_for<F: AsyncFnMut() -> bool>(limit: Duration, mut ok: F) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if ok().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// `tandem drill APP --planned | --kill-primary | --partition SECS | --slow-primary MS`.
pub async fn run(config: &Config, id: &str, failure: Failure, pacing: Pacing, json: Option<&std::path::Path>) -> Result<(), String> {
    let spec = config
        .apps
        .iter()
        .find(|a| a.id == id)
        .ok_or_else(|| format!("no app named {id:?} in the config"))?
        .clone();
    let primary = config.region(&spec.primary).map_err(|e| e.to_string())?.clone();
    let secondary = config.region(&spec.secondary).map_err(|e| e.to_string())?.clone();
    let run = format!("{}", tandem_store::now_ms());
    let table = spec.tables.first().and_then(|t| {
        let string_key = |k: &str| k.split_once(':').filter(|(_, ty)| *ty == "S").map(|(n, _)| n.to_string());
        let range = match &t.range_key {
            Some(r) => Some(string_key(r)?),
            None => None,
        };
        Some((t.name.clone(), string_key(&t.hash_key)?, range))
    });
    let workload = Workload {
        run: run.clone(),
        edge: std::sync::Arc::new(edge_endpoint(config, &primary)?),
        bucket: spec.buckets.first().map(|b| b.primary.clone()),
        table,
        interval: pacing.interval,
    };
    if workload.bucket.is_none() && workload.table.is_none() {
        return Err(format!("{id} has no bucket and no table with string keys for the drill to write to"));
    }
    println!("drill {run} of {id}: {} through {}", failure.describe(), workload.edge.url);
    let load = drill_load::start(config, workload.clone())?;
    tokio::time::sleep(pacing.steady).await;
    let predicted = load.last_sample(&secondary.name).and_then(|s| s.behind.get(&primary.name).and_then(|c| c.as_u64()));
    let injected_at_ms = load.elapsed_ms();
    let converge = inject(config, id, &spec, failure, (&primary, &secondary), &load, pacing).await;
    let converge = match converge {
        Ok(c) => c,
        Err(e) => {
            load.stop().await;
            return Err(e);
        }
    };
    tokio::time::sleep(pacing.steady).await;
    let seen = load.stop().await;
    // With the primary left down, only the secondary can be checked.
    let check: Vec<&str> = match (failure, &config.drill.restart) {
        (Failure::KillPrimary, None) => vec![&spec.secondary],
        _ => vec![&spec.primary, &spec.secondary],
    };
    let missing = verify(config, &spec, &check, &workload, &seen.writes).await?;
    let mut diff = Vec::new();
    for target in spec
        .buckets
        .iter()
        .map(|b| Target::Bucket(b.primary.clone()))
        .chain(spec.tables.iter().map(|t| Target::Table(t.name.clone())))
    {
        let in_sync = replication_cmd::differences(config, &target).await.map(|d| d.is_empty()).unwrap_or(false);
        diff.push((target.describe(), in_sync));
    }
    let (max_lag_seconds, max_backlog_changes) = drill_report::peaks(&seen, injected_at_ms);
    let mut regions_served: Vec<String> = seen.writes.iter().filter_map(|w| w.region.clone()).collect();
    regions_served.sort();
    regions_served.dedup();
    let mut report = Report {
        app: id.to_string(),
        run,
        failure: failure.describe(),
        injected_at_ms,
        rto_seconds: drill_report::rto_seconds(&seen.writes, injected_at_ms),
        rpo_missing: missing,
        rpo_predicted_changes: predicted,
        writes_acknowledged: seen.writes.iter().filter(|w| w.acknowledged).count() as u64,
        writes_failed: seen.writes.iter().filter(|w| !w.acknowledged).count() as u64,
        reads_ok: seen.reads_ok,
        reads_failed: seen.reads_failed,
        max_lag_seconds,
        max_backlog_changes,
        converge_seconds: converge,
        diff,
        regions_served,
        targets: Targets {
            rto_seconds: config.drill.rto_seconds,
            rpo_writes: config.drill.rpo_writes,
            missed: vec![],
        },
    };
    report.judge();
    report.print();
    if let Some(path) = json {
        let mut out = serde_json::to_value(&report).map_err(|e| e.to_string())?;
        out["writes"] = serde_json::to_value(&seen.writes).map_err(|e| e.to_string())?;
        std::fs::write(path, serde_json::to_vec_pretty(&out).map_err(|e| e.to_string())?)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    match report.targets.missed.is_empty() {
        true => Ok(()),
        false => Err(format!("drill missed its targets: {}", report.targets.missed.join("; "))),
    }
}

/// Injects the failure and recovers from it; the seconds the regions took
/// to converge after the failback, when there was one.
async fn inject(
    config: &Config,
    id: &str,
    spec: &tandem_control::AppSpec,
    failure: Failure,
    (primary, secondary): (&RegionConfig, &RegionConfig),
    load: &drill_load::Running,
    pacing: Pacing,
) -> Result<Option<f64>, String> {
    let hooks = &config.drill;
    let timeout = Duration::from_secs(60);
    match failure {
        Failure::Planned => {
            crate::app_cmd::failover(config, id, true, false, timeout).await?;
            tokio::time::sleep(pacing.steady).await;
            failback_and_converge(config, id, timeout).await.map(Some)
        }
        Failure::KillPrimary => {
            hook("kill", &hooks.kill, &primary.name, 0).await?;
            let killed_at = load.elapsed_ms();
            if spec.auto_failover.is_none() {
                // No automatic failover: do what the operator would, at the first failed write.
                wait_for(Duration::from_secs(30), async || load.writes().iter().any(|w| !w.acknowledged && w.at_ms >= killed_at)).await;
                crate::app_cmd::failover(config, id, false, false, timeout).await?;
            }
            let recovered = wait_for(Duration::from_secs(30), async || {
                load.writes().iter().any(|w| w.acknowledged && w.at_ms > killed_at && w.region.as_deref() == Some(&secondary.name))
            })
            .await;
            if !recovered {
                return Err(format!("no write was accepted in {} within 30 s of the kill", secondary.name));
            }
            tokio::time::sleep(pacing.steady).await;
            if hooks.restart.is_none() {
                println!("drill: no `[drill] restart` hook; {} stays down, and the RPO is what {} holds", primary.name, secondary.name);
                return Ok(None);
            }
            hook("restart", &hooks.restart, &primary.name, 0).await?;
            let client = ControlClient::new(config)?.with_timeout(Duration::from_secs(1));
            if !wait_for(timeout, async || client.health(primary).await.is_ok()).await {
                return Err(format!("{} did not answer within 60 s of the restart", primary.name));
            }
            failback_and_converge(config, id, timeout).await.map(Some)
        }
        Failure::Partition(secs) => {
            hook("partition", &hooks.partition, &primary.name, 0).await?;
            tokio::time::sleep(Duration::from_secs(secs)).await;
            hook("heal", &hooks.heal, &primary.name, 0).await?;
            converge(config, timeout).await.map(Some)
        }
        Failure::SlowPrimary(ms) => {
            hook("slow", &hooks.slow, &primary.name, ms).await?;
            tokio::time::sleep(pacing.steady * 2).await;
            hook("unslow", &hooks.unslow, &primary.name, ms).await?;
            converge(config, timeout).await.map(Some)
        }
    }
}

/// Fails back (retried while the primary's replication link comes back),
/// then waits until nothing waits to ship; seconds from the failback's start.
async fn failback_and_converge(config: &Config, id: &str, timeout: Duration) -> Result<f64, String> {
    let started = Instant::now();
    let mut last = String::new();
    let done = wait_for(timeout, async || match crate::app_cmd::failback(config, id, false, Duration::from_secs(10)).await {
        Ok(()) => true,
        Err(e) => {
            last = e;
            tokio::time::sleep(Duration::from_millis(500)).await;
            false
        }
    })
    .await;
    if !done {
        return Err(format!("failback did not succeed within {} s: {last}", timeout.as_secs()));
    }
    converge(config, timeout).await?;
    Ok(started.elapsed().as_secs_f64())
}

/// Waits until no region has changes waiting to ship to a peer.
async fn converge(config: &Config, timeout: Duration) -> Result<f64, String> {
    let started = Instant::now();
    let client = ControlClient::new(config)?.with_timeout(Duration::from_secs(2));
    let in_sync = wait_for(timeout, async || {
        for region in &config.regions {
            let Ok(status) = client.call(region, http::Method::GET, "/_tandem/replication").await else { return false };
            let waiting: u64 = status["peers"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| p["backlog"]["changes"].as_u64().unwrap_or(0))
                .sum();
            if waiting > 0 {
                return false;
            }
        }
        true
    })
    .await;
    match in_sync {
        true => Ok(started.elapsed().as_secs_f64()),
        false => Err(format!("the regions still had changes to ship {} s after recovery", timeout.as_secs())),
    }
}

/// Every acknowledged write, looked up in every region directly: the ones
/// some region lacks (`kind/id in region`).
async fn verify(
    config: &Config,
    spec: &tandem_control::AppSpec,
    regions: &[&str],
    load: &Workload,
    writes: &[drill_load::Write],
) -> Result<Vec<String>, String> {
    let client = ControlClient::new(config)?.with_timeout(Duration::from_secs(5));
    let mut missing = Vec::new();
    for &region in regions {
        let at = Endpoint::region(config.region(region).map_err(|e| e.to_string())?);
        let bucket = spec.buckets.first().map(|b| if region == spec.primary { b.primary.clone() } else { b.secondary.clone() });
        for w in writes.iter().filter(|w| w.acknowledged) {
            let present = match w.kind {
                Kind::Object => {
                    let Some(bucket) = &bucket else { continue };
                    let path = format!("/{bucket}/{}", w.id);
                    client.s3_at(&at, http::Method::HEAD, &path, bytes::Bytes::new()).await.is_ok()
                }
                Kind::Item => {
                    let (Some((table, _, _)), Ok(seq)) = (&load.table, w.id.parse::<u64>()) else { continue };
                    let request = serde_json::json!({"TableName": table, "Key": load.item_key(seq), "ConsistentRead": true});
                    match client.dynamodb_at(&at, "GetItem", &request).await {
                        Ok(a) => serde_json::from_slice::<serde_json::Value>(&a.body).is_ok_and(|v| v.get("Item").is_some()),
                        Err(_) => false,
                    }
                }
            };
            if !present {
                missing.push(format!("{} in {region}", drill_report::write_name(w)));
            }
        }
    }
    Ok(missing)
}
