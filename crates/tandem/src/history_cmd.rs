//! `tandem state history APP`: the audit trail of an app's states, merged
//! from every region that answers. A change shows once, with who made it
//! (principal and access key), from where, when, from which state to which,
//! why, the region it was made in and every region that has applied it.

use std::collections::BTreeMap;

use http::Method;
use serde_json::{Value, json};

use crate::config::Config;
use crate::control_client::ControlClient;
use crate::output::{Output, print_json, timestamp};

/// One change, as the regions that applied it report it.
struct Change {
    record: Value,
    applied_in: Vec<String>,
}

pub async fn history(config: &Config, id: &str, limit: usize, output: Output) -> Result<(), String> {
    let client = ControlClient::new(config)?;
    let (mut changes, mut unreachable) = (BTreeMap::<(u64, String, String), Change>::new(), Vec::new());
    for region in &config.regions {
        let answer = match client
            .call(region, Method::GET, &format!("/_tandem/apps/{id}/history?limit={limit}"))
            .await
        {
            Ok(a) => a,
            Err(e) => {
                unreachable.push(format!("{}: {e}", region.name));
                continue;
            }
        };
        for record in answer["history"].as_array().into_iter().flatten() {
            let key = (
                record["version"].as_u64().unwrap_or(0),
                record["made_in"].as_str().unwrap_or_default().to_string(),
                record["to"].as_str().unwrap_or_default().to_string(),
            );
            let change = changes.entry(key).or_insert_with(|| Change {
                record: record.clone(),
                applied_in: vec![],
            });
            change.applied_in.push(region.name.clone());
            // The region that made the change knows who asked and from where.
            if record["made_in"] == record["applied_in"] {
                change.record = record.clone();
            }
        }
    }
    if changes.is_empty() && unreachable.len() == config.regions.len() {
        return Err(format!("no region answered: {}", unreachable.join("; ")));
    }
    let mut list: Vec<Change> = changes.into_values().collect();
    list.sort_by_key(|c| {
        (
            c.record["changed_ms"].as_u64().unwrap_or(0),
            c.record["version"].as_u64().unwrap_or(0),
        )
    });
    if output.json() {
        let entries: Vec<Value> = list
            .iter()
            .map(|c| {
                let mut r = c.record.clone();
                r["applied_in"] = json!(c.applied_in);
                r
            })
            .collect();
        print_json(&json!({ "app": id, "history": entries, "unreachable": unreachable }));
        return Ok(());
    }
    println!(
        "{:<24} {:>7}  {:<20} {:<24} {:<21} {:<9} {:<18} REASON",
        "WHEN (UTC)", "VERSION", "FROM -> TO", "BY (ACCESS KEY)", "FROM ADDRESS", "MADE IN", "APPLIED IN"
    );
    for c in &list {
        let r = &c.record;
        let text = |k: &str| r[k].as_str().filter(|s| !s.is_empty()).unwrap_or("-").to_string();
        println!(
            "{:<24} {:>7}  {:<20} {:<24} {:<21} {:<9} {:<18} {}",
            timestamp(r["changed_ms"].as_u64()),
            r["version"],
            format!("{} -> {}", text("from"), text("to")),
            format!("{} ({})", text("by"), text("access_key_id")),
            text("remote_addr"),
            text("made_in"),
            c.applied_in.join(","),
            text("reason"),
        );
    }
    for u in &unreachable {
        println!("(not from {u})");
    }
    Ok(())
}
