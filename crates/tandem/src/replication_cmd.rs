//! `tandem replication backlog | resync | diff`: what is waiting to ship, ship
//! what existed before a rule (or a replica) did, and list what differs
//! between regions.

use std::collections::BTreeMap;
use std::time::Duration;

use http::Method;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::config::{Config, RegionConfig};
use crate::control_client::{CallError, ControlClient, query_pair};

/// A bucket or a table, as the commands name them.
#[derive(Debug, Clone)]
pub enum Target {
    Bucket(String),
    Table(String),
}

impl Target {
    fn query(&self) -> String {
        match self {
            Target::Bucket(b) => query_pair("bucket", b),
            Target::Table(t) => query_pair("table", t),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Target::Bucket(b) => format!("bucket {b}"),
            Target::Table(t) => format!("table {t}"),
        }
    }
}

/// Every page of an inventory or resync walk, from one region.
async fn walk(
    client: &ControlClient,
    region: &RegionConfig,
    method: Method,
    path: &str,
    target: &Target,
    mut on_page: impl FnMut(&Value),
) -> Result<(), CallError> {
    let mut after: Option<String> = None;
    loop {
        let mut query = target.query();
        if let Some(a) = &after {
            query.push('&');
            query.push_str(&query_pair("after", a));
        }
        let page = client.call(region, method.clone(), &format!("{path}?{query}")).await?;
        on_page(&page);
        match page.get("next").and_then(Value::as_str) {
            Some(next) => after = Some(next.to_string()),
            None => return Ok(()),
        }
    }
}

/// Whole inventory of a target in one region, or `None` where it does not exist.
async fn inventory(client: &ControlClient, region: &RegionConfig, target: &Target) -> Result<Option<Vec<Value>>, String> {
    let field = match target {
        Target::Bucket(_) => "versions",
        Target::Table(_) => "items",
    };
    let mut all = Vec::new();
    let outcome = walk(client, region, Method::GET, "/_tandem/replication/inventory", target, |page| {
        all.extend(page.get(field).and_then(Value::as_array).cloned().unwrap_or_default());
    })
    .await;
    match outcome {
        Ok(()) => Ok(Some(all)),
        Err(CallError::Refused { code, .. }) if code == "NoSuchBucket" || code == "InvalidArgument" => Ok(None),
        Err(e) => Err(format!("{}: {e}", region.name)),
    }
}

/// The region that holds a bucket.
async fn holder<'c>(client: &ControlClient, config: &'c Config, bucket: &str) -> Result<(&'c RegionConfig, Vec<Value>), String> {
    for region in &config.regions {
        if let Some(versions) = inventory(client, region, &Target::Bucket(bucket.to_string())).await? {
            return Ok((region, versions));
        }
    }
    Err(format!("no region holds a bucket named {bucket}"))
}

fn spinner(message: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").unwrap_or_else(|_| ProgressStyle::default_spinner()));
    bar.set_message(message.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// `tandem replication resync`: announces existing data again, then waits
/// until the peers have applied it.
pub async fn resync(config: &Config, target: Target, wait: bool) -> Result<(), String> {
    let client = ControlClient::new(config)?;
    let regions: Vec<&RegionConfig> = match &target {
        Target::Bucket(b) => vec![holder(&client, config, b).await?.0],
        Target::Table(_) => config.regions.iter().collect(),
    };
    let bar = spinner(&format!("resync {}", target.describe()));
    let (mut queued, mut scanned) = (0u64, 0u64);
    for region in &regions {
        let outcome = walk(&client, region, Method::POST, "/_tandem/replication/resync", &target, |page| {
            queued += page.get("queued").and_then(Value::as_u64).unwrap_or(0);
            scanned += page.get("scanned").and_then(Value::as_u64).unwrap_or(0);
            bar.set_message(format!("resync {}: {queued} queued", target.describe()));
        })
        .await;
        match outcome {
            Ok(()) => {}
            Err(CallError::Refused { code, .. }) if code == "InvalidArgument" && matches!(target, Target::Table(_)) => {}
            Err(e) => return Err(format!("{}: {e}", region.name)),
        }
    }
    bar.finish_and_clear();
    println!("resync {}: {scanned} looked at, {queued} queued for replication", target.describe());
    if wait && queued > 0 {
        wait_for_drain(&client, &regions).await?;
    }
    Ok(())
}

/// Total backlog of every peer of the given regions.
async fn total_backlog(client: &ControlClient, regions: &[&RegionConfig]) -> Result<u64, String> {
    let mut total = 0;
    for region in regions {
        let status = client
            .call(region, Method::GET, "/_tandem/replication")
            .await
            .map_err(|e| format!("{}: {e}", region.name))?;
        for peer in status.get("peers").and_then(Value::as_array).into_iter().flatten() {
            total += peer.pointer("/backlog/changes").and_then(Value::as_u64).unwrap_or(0);
        }
    }
    Ok(total)
}

/// Shows a progress bar until nothing waits to ship from `regions`.
async fn wait_for_drain(client: &ControlClient, regions: &[&RegionConfig]) -> Result<(), String> {
    let start = total_backlog(client, regions).await?;
    let bar = ProgressBar::new(start.max(1));
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} changes applied by peers [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    loop {
        let left = total_backlog(client, regions).await?;
        bar.set_position(start.saturating_sub(left));
        if left == 0 {
            bar.finish_and_clear();
            println!("every peer has applied the resync");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `tandem replication backlog`: per region, per peer, what waits and why.
/// `tandem replication backlog [--output json]`.
pub async fn backlog_as(config: &Config, output: crate::output::Output) -> Result<(), String> {
    if !output.json() {
        return backlog(config).await;
    }
    let client = ControlClient::new(config)?;
    let mut regions = serde_json::Map::new();
    for region in &config.regions {
        let status = client.call(region, Method::GET, "/_tandem/replication").await;
        regions.insert(
            region.name.clone(),
            status.unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() })),
        );
    }
    crate::output::print_json(&serde_json::json!({ "regions": regions }));
    Ok(())
}

pub async fn backlog(config: &Config) -> Result<(), String> {
    let client = ControlClient::new(config)?;
    println!(
        "{:<12} {:<12} {:>10} {:>12} {:>9} {:<12} RESOURCES",
        "REGION", "PEER", "CHANGES", "BYTES", "LAG(s)", "STATE"
    );
    let mut statuses = Vec::new();
    for region in &config.regions {
        let status = match client.call(region, Method::GET, "/_tandem/replication").await {
            Ok(s) => s,
            Err(e) => {
                println!("{:<12} {e}", region.name);
                continue;
            }
        };
        statuses.push((region.name.clone(), status.clone()));
        for peer in status.get("peers").and_then(Value::as_array).into_iter().flatten() {
            let b = &peer["backlog"];
            let resources: Vec<String> = b["by_resource"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v["changes"])).collect())
                .unwrap_or_default();
            println!(
                "{:<12} {:<12} {:>10} {:>12} {:>9.3} {:<12} {}",
                region.name,
                peer["peer"].as_str().unwrap_or("?"),
                format!(
                    "{}{}",
                    b["changes"].as_u64().unwrap_or(0),
                    if b["truncated"].as_bool() == Some(true) { "+" } else { "" }
                ),
                b["bytes"].as_u64().unwrap_or(0),
                b["oldest_age_seconds"].as_f64().unwrap_or(0.0),
                peer["state"].as_str().unwrap_or("?"),
                resources.join(" ")
            );
            if let Some(err) = peer.pointer("/shipper/last_error").and_then(Value::as_str)
                && peer["state"] == "failing"
            {
                println!("{:<12} {:<12} last error: {err}", "", "");
            }
            print_rejected(&peer["shipper"]);
        }
    }
    crate::exposure::print_table(&statuses);
    Ok(())
}

/// The changes a shipper moved past without delivering them, so that an
/// operator sees what `tandem replication diff` will find and `resync` fix.
fn print_rejected(shipper: &Value) {
    let count = shipper["rejected"].as_u64().unwrap_or(0);
    if count == 0 {
        return;
    }
    println!("{:<12} {:<12} REJECTED {count} change(s) since start; latest:", "", "");
    for r in shipper["recent_rejected"].as_array().into_iter().flatten() {
        println!(
            "{:<12} {:<12}   seq {} {}: {}",
            "",
            "",
            r["seq"],
            r["resource"].as_str().unwrap_or("?"),
            r["reason"].as_str().unwrap_or("?")
        );
    }
}

/// One difference found by `diff`.
pub struct Difference {
    pub what: &'static str,
    pub at: String,
    pub detail: String,
}

/// What differs between the regions for one bucket or table.
pub async fn differences(config: &Config, target: &Target) -> Result<Vec<Difference>, String> {
    let client = ControlClient::new(config)?;
    match target {
        Target::Bucket(b) => diff_bucket(&client, config, b).await,
        Target::Table(t) => diff_table(&client, config, t).await,
    }
}

/// `tandem replication diff`: lists what differs; `Ok(false)` when something does.
pub async fn diff(config: &Config, target: Target) -> Result<bool, String> {
    let differences = differences(config, &target).await?;
    for d in &differences {
        println!("{:<8} {:<40} {}", d.what, d.at, d.detail);
    }
    if differences.is_empty() {
        println!("{}: in sync", target.describe());
    } else {
        println!("{}: {} difference(s)", target.describe(), differences.len());
    }
    Ok(differences.is_empty())
}

/// A version's identity and content, as compared between regions.
fn version_id(v: &Value) -> (String, String) {
    (
        v["key"].as_str().unwrap_or_default().to_string(),
        v["version_id"].as_str().unwrap_or_default().to_string(),
    )
}

fn version_content(v: &Value) -> (Value, Value, Value) {
    (v["etag"].clone(), v["size"].clone(), v["delete_marker"].clone())
}

/// Versions a bucket's rules send to other buckets must be there, identical;
/// the same is checked back from each destination that has rules of its own.
async fn diff_bucket(client: &ControlClient, config: &Config, bucket: &str) -> Result<Vec<Difference>, String> {
    let mut out = Vec::new();
    let mut pending = vec![bucket.to_string()];
    let mut seen = Vec::new();
    while let Some(source) = pending.pop() {
        if seen.contains(&source) {
            continue;
        }
        let (region, versions) = holder(client, config, &source).await?;
        seen.push(source.clone());
        let mut by_dest: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
        for v in versions.iter().filter(|v| v["origin"] == region.name.as_str()) {
            if let Some(dest) = v["destination"].as_str() {
                by_dest.entry(dest.to_string()).or_default().push(v);
            }
        }
        for (dest, expected) in by_dest {
            let (dest_region, held) = holder(client, config, &dest).await?;
            pending.push(dest.clone());
            let held: BTreeMap<(String, String), &Value> = held.iter().map(|v| (version_id(v), v)).collect();
            for v in expected {
                let (key, id) = version_id(v);
                let at = format!("{}/{dest}/{key}", dest_region.name);
                match held.get(&(key.clone(), id.clone())) {
                    None => out.push(Difference {
                        what: "missing",
                        at,
                        detail: format!("version {id} of {}/{source}", region.name),
                    }),
                    Some(h) if version_content(h) != version_content(v) => out.push(Difference {
                        what: "differs",
                        at,
                        detail: format!(
                            "version {id}: etag/size/marker {:?} vs {:?}",
                            version_content(v),
                            version_content(h)
                        ),
                    }),
                    Some(_) => {}
                }
            }
        }
    }
    Ok(out)
}

/// Every region holding the table must hold the same items.
async fn diff_table(client: &ControlClient, config: &Config, table: &str) -> Result<Vec<Difference>, String> {
    let target = Target::Table(table.to_string());
    let mut held: Vec<(String, BTreeMap<String, Value>)> = Vec::new();
    for region in &config.regions {
        if let Some(items) = inventory(client, region, &target).await? {
            let map = items.into_iter().map(|i| (i["keys"].to_string(), i["item"].clone())).collect();
            held.push((region.name.clone(), map));
        }
    }
    let mut out = Vec::new();
    let Some(((first_region, first), rest)) = held.split_first() else {
        return Err(format!("no region holds a table named {table}"));
    };
    for (region, items) in rest {
        for (keys, item) in first {
            match items.get(keys) {
                None => out.push(Difference {
                    what: "missing",
                    at: format!("{region}/{table}"),
                    detail: format!("item {keys} (present in {first_region})"),
                }),
                Some(other) if other != item => out.push(Difference {
                    what: "differs",
                    at: format!("{region}/{table}"),
                    detail: format!("item {keys}: {item} in {first_region}, {other} here"),
                }),
                Some(_) => {}
            }
        }
        for keys in items.keys().filter(|k| !first.contains_key(*k)) {
            out.push(Difference {
                what: "missing",
                at: format!("{first_region}/{table}"),
                detail: format!("item {keys} (present in {region})"),
            });
        }
    }
    Ok(out)
}
