//! `tandem drill APP`: fails a region on purpose under a steady workload
//! through the edge and measures what clients lived through (RTO, RPO,
//! errors, lag, convergence; see `drill_report.rs`). The failure is one of:
//! a planned failover and failback; the primary's process killed (by the
//! `[drill] kill` hook, then `restart`); replication cut (`partition` /
//! `heal`); latency added to the primary (`slow` / `unslow`). Hooks are
//! shell commands, so a drill drives whatever runs the regions (systemd, a
//! container runtime, a link emulator); `{region}` and `{ms}` are replaced.

use std::time::{Duration, Instant};

use http::Method;
use serde::Deserialize;

use crate::config::{Config, RegionConfig};
use crate::control_client::{ControlClient, Endpoint};
use crate::drill_load::{self, Workload};
use crate::drill_report::{self, Report, Targets};
use crate::drill_verify;
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

/// Runs a hook command with `{region}` and `{ms}` replaced; a hook that
/// overruns is killed, so it cannot fire after the drill moved on.
async fn hook(name: &str, command: &Option<String>, region: &str, ms: u64) -> Result<(), String> {
    let command = command.as_ref().ok_or_else(|| missing_hook(name))?;
    let line = command.replace("{region}", region).replace("{ms}", &ms.to_string());
    println!("drill: running {name} hook: {line}");
    let run = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&line)
        .env("TANDEM_DRILL_REGION", region)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .status();
    match tokio::time::timeout(Duration::from_secs(60), run).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(format!("the {name} hook failed ({status}): {line}")),
        Ok(Err(e)) => Err(format!("the {name} hook could not run ({e}): {line}")),
        Err(_) => Err(format!("the {name} hook took over 60 s and was killed: {line}")),
    }
}

fn missing_hook(name: &str) -> String {
    let purpose = match name {
        "kill" => "stops region {region}'s process at once",
        "restart" => "starts region {region} again",
        "partition" => "cuts replication to and from region {region}",
        "heal" => "restores replication of region {region}",
        "slow" => "adds {ms} ms of latency in front of region {region}",
        _ => "removes the latency added in front of region {region}",
    };
    format!("this drill needs `[drill] {name}` in tandem.toml: a command that {purpose}")
}

impl Failure {
    /// The hooks the failure needs, checked before anything starts: a
    /// drill must never inject what it has no way to undo.
    fn needed_hooks(self, hooks: &DrillConfig) -> Result<(), String> {
        let needed: &[(&str, &Option<String>)] = match self {
            Failure::Planned => &[],
            Failure::KillPrimary => &[("kill", &hooks.kill)],
            Failure::Partition(_) => &[("partition", &hooks.partition), ("heal", &hooks.heal)],
            Failure::SlowPrimary(_) => &[("slow", &hooks.slow), ("unslow", &hooks.unslow)],
        };
        match needed.iter().find(|(_, command)| command.is_none()) {
            Some((name, _)) => Err(missing_hook(name)),
            None => Ok(()),
        }
    }

    /// Best effort after a failed drill: heal what was injected.
    async fn undo(self, hooks: &DrillConfig, primary: &str) {
        let undone = match self {
            Failure::Planned => return,
            Failure::KillPrimary if hooks.restart.is_none() => return,
            Failure::KillPrimary => hook("restart", &hooks.restart, primary, 0).await,
            Failure::Partition(_) => hook("heal", &hooks.heal, primary, 0).await,
            Failure::SlowPrimary(ms) => hook("unslow", &hooks.unslow, primary, ms).await,
        };
        if let Err(e) = undone {
            println!("drill: could not undo the failure: {e}");
        }
    }
}

/// The edge the workload uses: `[drill] edge`, else the first edge node
/// (https:// when its distributions have TLS; their certificates are trusted).
fn edge_endpoint(config: &Config, primary: &RegionConfig) -> Result<Endpoint, String> {
    let url = config
        .drill
        .edge
        .clone()
        .or_else(|| config.edge.nodes.first().map(|n| config.edge.url(n)))
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

/// The app's data the drill writes to: its first bucket, and its first
/// table when both its keys are strings.
fn workload(config: &Config, spec: &tandem_control::AppSpec, primary: &RegionConfig, pacing: Pacing) -> Result<Workload, String> {
    let string_key = |k: &str| k.rsplit_once(':').filter(|(_, ty)| *ty == "S").map(|(n, _)| n.to_string());
    let table = spec
        .tables
        .first()
        .and_then(|t| Some((t.name.clone(), string_key(&t.hash_key)?, string_key(t.range_key.as_deref()?)?)));
    if let (Some(t), None) = (spec.tables.first(), &table) {
        println!(
            "drill: table {} needs a string partition and sort key for the drill's items; only objects are written",
            t.name
        );
    }
    let load = Workload {
        run: tandem_store::now_ms().to_string(),
        edge: std::sync::Arc::new(edge_endpoint(config, primary)?),
        bucket: spec.buckets.first().map(|b| b.primary.clone()),
        table,
        interval: pacing.interval,
    };
    match load.bucket.is_none() && load.table.is_none() {
        true => Err(format!(
            "{} has no bucket and no table with string keys for the drill to write to",
            spec.id
        )),
        false => Ok(load),
    }
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
    failure.needed_hooks(&config.drill)?;
    let workload = workload(config, &spec, &primary, pacing)?;
    println!(
        "drill {} of {id}: {} through {}",
        workload.run,
        failure.describe(),
        workload.edge.url
    );
    let load = drill_load::start(config, workload.clone())?;
    tokio::time::sleep(pacing.steady).await;
    if !load.writes().iter().any(|w| w.acknowledged) {
        load.stop().await;
        return Err(format!(
            "no write through {} was acknowledged before the failure: fix the edge first",
            workload.edge.url
        ));
    }
    let predicted = load
        .last_sample(&secondary.name)
        .and_then(|s| s.behind.get(&primary.name).and_then(|c| c.as_u64()));
    let injected_at_ms = load.elapsed_ms();
    let drill = Drill {
        config,
        spec: &spec,
        primary: &primary,
        secondary: &secondary,
        load: &load,
        workload: &workload,
        pacing,
    };
    // Ctrl-C (or SIGTERM) while the failure is in place undoes it, as a
    // failed recovery does, instead of leaving a region killed or cut off.
    let interrupted = async {
        crate::dev::wait_for_signal().await;
        Err::<Recovery, _>(format!("interrupted while {} was in place: it was undone", failure.describe()))
    };
    let recovery = match tokio::select! { r = drill.inject(failure) => r, r = interrupted => r } {
        Ok(r) => r,
        Err(e) => {
            failure.undo(&config.drill, &primary.name).await;
            load.stop().await;
            return Err(format!(
                "{e}\nthe drill stopped; `tandem state get {id}` shows where the app stands"
            ));
        }
    };
    let recovered_at_ms = recovery.ended_at_ms.unwrap_or_else(|| load.elapsed_ms());
    // Nothing is in place any more: an interrupt from here on ends the
    // drill at once (the handler above replaced the default one).
    tokio::spawn(async {
        crate::dev::wait_for_signal().await;
        eprintln!("drill interrupted after the recovery: nothing injected remains, no report was made");
        std::process::exit(130);
    });
    tokio::time::sleep(pacing.steady).await;
    let seen = load.stop().await;
    // Every acknowledged write has had the time to replicate before the look-up.
    let settled = converge(config, &spec, Duration::from_secs(60)).await;
    let checked: Vec<&str> = match recovery.primary_down {
        true => vec![&spec.secondary],
        false => vec![&spec.primary, &spec.secondary],
    };
    let (mut rpo_missing, mut verify_errors) = (Vec::new(), Vec::new());
    if let Err(e) = settled {
        verify_errors.push(e);
    }
    for region in checked {
        match drill_verify::missing_in(config, &spec, region, &workload, &seen.writes).await {
            Ok(missing) => rpo_missing.extend(missing),
            Err(e) => verify_errors.push(e),
        }
    }
    let mut report = Report {
        app: id.to_string(),
        run: workload.run.clone(),
        failure: failure.describe(),
        injected_at_ms,
        rto_seconds: drill_report::rto_seconds(&seen.writes, injected_at_ms),
        rpo_missing_during_outage: recovery.missing_during_outage,
        rpo_missing,
        verify_errors,
        rpo_predicted_changes: predicted,
        writes_acknowledged: seen.writes.iter().filter(|w| w.acknowledged).count() as u64,
        writes_failed: seen.writes.iter().filter(|w| !w.acknowledged).count() as u64,
        reads_ok: seen.reads_ok,
        reads_failed: seen.reads_failed,
        max_lag_seconds: drill_report::peaks(&seen, injected_at_ms).0,
        write_latency_before: drill_report::latency(&seen.writes, 0, injected_at_ms),
        write_latency_during: drill_report::latency(&seen.writes, injected_at_ms, recovered_at_ms),
        max_backlog_changes: drill_report::peaks(&seen, injected_at_ms).1,
        converge_seconds: recovery.converge_seconds,
        diff: diffs(config, &spec).await,
        regions_served: served(&seen.writes),
        targets: Targets {
            rto_seconds: config.drill.rto_seconds,
            rpo_writes: config.drill.rpo_writes,
            missed: vec![],
        },
    };
    report.judge();
    report.print();
    keep_report(config, &report).await;
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

/// Most ids of missing writes a kept report lists (the JSON file has all).
const KEPT_IDS: usize = 200;

/// Sends the report to every region (`POST /_tandem/drills`), where the
/// console shows it; a region that does not take it is named, and the drill
/// goes on.
async fn keep_report(config: &Config, report: &Report) {
    let mut kept = report.clone();
    kept.rpo_missing.truncate(KEPT_IDS);
    if let Some(during) = kept.rpo_missing_during_outage.as_mut() {
        during.truncate(KEPT_IDS);
    }
    let Ok(body) = serde_json::to_value(&kept) else { return };
    let client = match ControlClient::new(config) {
        Ok(c) => c.with_timeout(Duration::from_secs(5)),
        Err(e) => return println!("the report was not kept in the regions: {e}"),
    };
    for region in &config.regions {
        if let Err(e) = client.call_with(region, Method::POST, "/_tandem/drills", Some(&body)).await {
            println!("{} did not keep the report: {e}", region.name);
        }
    }
}

/// The regions that served acknowledged writes.
fn served(writes: &[drill_load::Write]) -> Vec<String> {
    let mut regions: Vec<String> = writes.iter().filter_map(|w| w.region.clone()).collect();
    regions.sort();
    regions.dedup();
    regions
}

/// `tandem replication diff` of each of the app's buckets and tables.
async fn diffs(config: &Config, spec: &tandem_control::AppSpec) -> Vec<(String, String)> {
    let targets = spec
        .buckets
        .iter()
        .map(|b| Target::Bucket(b.primary.clone()))
        .chain(spec.tables.iter().map(|t| Target::Table(t.name.clone())));
    let mut out = Vec::new();
    for target in targets {
        let result = match replication_cmd::differences(config, &target).await {
            Ok(d) if d.is_empty() => "in sync".to_string(),
            Ok(d) => format!("{} difference(s): see `tandem replication diff`", d.len()),
            Err(e) => format!("could not run: {e}"),
        };
        out.push((target.describe(), result));
    }
    out
}

/// How the drill recovered.
#[derive(Default)]
struct Recovery {
    /// Seconds from the recovery step (failback, heal) until the app's
    /// regions had shipped each other everything they held at that moment.
    converge_seconds: Option<f64>,
    /// When the recovery step ran (ms since the start): the end of the
    /// failure, as the write latency "during" it counts.
    ended_at_ms: Option<u64>,
    /// The primary was left down (no restart hook).
    primary_down: bool,
    missing_during_outage: Option<Vec<String>>,
}

/// One drill in progress: what `inject` needs.
struct Drill<'a> {
    config: &'a Config,
    spec: &'a tandem_control::AppSpec,
    primary: &'a RegionConfig,
    secondary: &'a RegionConfig,
    load: &'a drill_load::Running,
    workload: &'a Workload,
    pacing: Pacing,
}

impl Drill<'_> {
    /// Injects the failure and recovers from it.
    async fn inject(&self, failure: Failure) -> Result<Recovery, String> {
        let (config, id, hooks) = (self.config, self.spec.id.as_str(), &self.config.drill);
        let timeout = Duration::from_secs(60);
        let primary = &self.primary.name;
        match failure {
            Failure::Planned => {
                crate::app_cmd::failover(config, id, true, false, timeout).await?;
                tokio::time::sleep(self.pacing.steady).await;
                self.failback().await
            }
            Failure::KillPrimary => {
                hook("kill", &hooks.kill, primary, 0).await?;
                self.await_secondary().await?;
                tokio::time::sleep(self.pacing.steady).await;
                let during = drill_verify::missing_in(config, self.spec, &self.secondary.name, self.workload, &self.load.writes()).await?;
                if hooks.restart.is_none() {
                    println!(
                        "drill: no `[drill] restart` hook; {primary} stays down, and the RPO is what {} holds",
                        self.secondary.name
                    );
                    return Ok(Recovery {
                        primary_down: true,
                        missing_during_outage: Some(during),
                        ..Recovery::default()
                    });
                }
                hook("restart", &hooks.restart, primary, 0).await?;
                let client = ControlClient::new(config)?.with_timeout(Duration::from_secs(1));
                if !wait_for(timeout, async || client.health(self.primary).await.is_ok()).await {
                    return Err(format!("{primary} did not answer within 60 s of the restart"));
                }
                let recovery = self.failback().await?;
                Ok(Recovery {
                    missing_during_outage: Some(during),
                    ..recovery
                })
            }
            Failure::Partition(secs) => {
                hook("partition", &hooks.partition, primary, 0).await?;
                tokio::time::sleep(Duration::from_secs(secs)).await;
                hook("heal", &hooks.heal, primary, 0).await?;
                self.converged().await
            }
            Failure::SlowPrimary(ms) => {
                hook("slow", &hooks.slow, primary, ms).await?;
                tokio::time::sleep(self.pacing.steady * 2).await;
                hook("unslow", &hooks.unslow, primary, ms).await?;
                self.converged().await
            }
        }
    }

    /// After a kill: the secondary takes writes, by automatic failover or,
    /// without it, by the drill's unplanned failover at the first failed write.
    async fn await_secondary(&self) -> Result<(), String> {
        let killed_at = self.load.elapsed_ms();
        let detection = self
            .spec
            .auto_failover
            .map_or(Duration::ZERO, |a| Duration::from_millis(a.interval_ms * u64::from(a.failures)));
        let limit = Duration::from_secs(30) + detection;
        if self.spec.auto_failover.is_none() {
            let failed = wait_for(limit, async || {
                self.load.writes().iter().any(|w| !w.acknowledged && w.at_ms >= killed_at)
            })
            .await;
            println!(
                "drill: no automatic failover for {}; failing over {}",
                self.spec.id,
                if failed { "at the first failed write" } else { "now" }
            );
            crate::app_cmd::failover(self.config, &self.spec.id, false, false, Duration::from_secs(60)).await?;
        }
        let secondary = self.secondary.name.as_str();
        let accepted = wait_for(limit, async || {
            self.load
                .writes()
                .iter()
                .any(|w| w.acknowledged && w.at_ms > killed_at && w.region.as_deref() == Some(secondary))
        })
        .await;
        match accepted {
            true => Ok(()),
            false => Err(format!(
                "no write was accepted in {secondary} within {} s of the kill",
                limit.as_secs()
            )),
        }
    }

    /// Fails back (retried while the primary's replication link comes
    /// back), then measures convergence.
    async fn failback(&self) -> Result<Recovery, String> {
        let id = &self.spec.id;
        let mut last = String::new();
        let done = wait_for(Duration::from_secs(60), async || {
            match crate::app_cmd::failback(self.config, id, false, Duration::from_secs(10)).await {
                Ok(()) => true,
                Err(e) => {
                    last = e;
                    false
                }
            }
        })
        .await;
        match done {
            true => self.converged().await,
            false => Err(format!("failback did not succeed within 60 s: {last}")),
        }
    }

    async fn converged(&self) -> Result<Recovery, String> {
        let ended_at_ms = self.load.elapsed_ms();
        let seconds = converge(self.config, self.spec, Duration::from_secs(60)).await?;
        Ok(Recovery {
            converge_seconds: Some(seconds),
            ended_at_ms: Some(ended_at_ms),
            ..Recovery::default()
        })
    }
}

/// Waits until each of the app's regions has shipped the other everything
/// it held when the wait began (its peer cursor reached that sequence
/// number), whatever writes keep arriving; the seconds it took.
async fn converge(config: &Config, spec: &tandem_control::AppSpec, timeout: Duration) -> Result<f64, String> {
    let started = Instant::now();
    let client = ControlClient::new(config)?.with_timeout(Duration::from_secs(2));
    let pairs = [(&spec.primary, &spec.secondary), (&spec.secondary, &spec.primary)];
    for (from, to) in pairs {
        let region = config.region(from).map_err(|e| e.to_string())?;
        let status = client
            .call(region, Method::GET, "/_tandem/replication")
            .await
            .map_err(|e| e.to_string())?;
        let through = status["last_seq"].as_u64().unwrap_or(0);
        let shipped = wait_for(timeout.saturating_sub(started.elapsed()), async || {
            let Ok(status) = client.call(region, Method::GET, "/_tandem/replication").await else {
                return false;
            };
            let peers = status["peers"].as_array().cloned().unwrap_or_default();
            peers
                .iter()
                .any(|p| p["peer"] == to.as_str() && p["backlog"]["cursor"].as_u64().unwrap_or(0) >= through)
        })
        .await;
        if !shipped {
            return Err(format!(
                "{from} had not shipped {to} its changes up to #{through} within {} s",
                timeout.as_secs()
            ));
        }
    }
    Ok(started.elapsed().as_secs_f64())
}
