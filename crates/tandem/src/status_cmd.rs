//! `tandem status`: one screen with every region's health, change-log
//! position and clock (how far its hybrid logical clock leads its wall clock,
//! and how many batches the clock guard refused), and replication backlog and
//! lag per peer.

use http::Method;

use serde_json::{Value, json};

use crate::config::Config;
use crate::control_client::{CallError, ControlClient};
use crate::output::{Output, print_json};

/// Prints the status; fails (exit code 1) when a region is down, unhealthy,
/// or refuses the credentials, so scripts and monitors can rely on it.
pub async fn status(config: &Config, output: Output) -> Result<(), String> {
    let client = ControlClient::new(config)?;
    if output.json() {
        return status_json(config, &client).await;
    }
    println!(
        "{:<12} {:<28} {:<10} {:>10}  {:>9} {:>13}",
        "REGION", "URL", "HEALTH", "LAST SEQ", "HLC LEAD", "CLOCK REFUSED"
    );
    let mut problems = Vec::new();
    for region in &config.regions {
        let health = match client.health(region).await {
            Ok(h) => h["status"].as_str().unwrap_or("?").to_string(),
            Err(e) => format!("down: {e}"),
        };
        if health != "ok" {
            problems.push(format!("{} is {health}", region.name));
        }
        let (last_seq, lead, refused) = match client.call(region, Method::GET, "/_tandem/replication").await {
            Ok(s) => (
                s["last_seq"].as_u64().map(|n| n.to_string()).unwrap_or_default(),
                s["clock"]["lead_ms"]
                    .as_u64()
                    .map(|ms| format!("{:.1}s", ms as f64 / 1000.0))
                    .unwrap_or_default(),
                s["clock"]["refused"].as_u64().map(|n| n.to_string()).unwrap_or_default(),
            ),
            Err(CallError::Refused {
                status: 401 | 403, code, ..
            }) => {
                problems.push(format!(
                    "{} refuses the credentials ({code}): check the access key in the config",
                    region.name
                ));
                ("-".into(), "-".into(), "-".into())
            }
            Err(_) => ("-".into(), "-".into(), "-".into()),
        };
        println!(
            "{:<12} {:<28} {:<10} {:>10}  {:>9} {:>13}",
            region.name,
            region.url(),
            health,
            last_seq,
            lead,
            refused
        );
    }
    crate::app_cmd::print_apps(config, &client).await;
    println!();
    crate::replication_cmd::backlog(config).await?;
    if let Some(view) = crate::dns_cmd::status(config).await {
        problems.extend(crate::dns_cmd::print_status(&view));
    }
    match problems.is_empty() {
        true => Ok(()),
        false => Err(problems.join("; ")),
    }
}

/// The problem a region's answers show, if any.
fn problem(region: &str, health: &Result<Value, CallError>, replication: &Result<Value, CallError>) -> Option<String> {
    match (health, replication) {
        (Err(e), _) => Some(format!("{region} is down: {e}")),
        (Ok(h), _) if h["status"] != "ok" => Some(format!("{region} is {}", h["status"])),
        (
            _,
            Err(CallError::Refused {
                status: 401 | 403, code, ..
            }),
        ) => Some(format!(
            "{region} refuses the credentials ({code}): check the access key in the config"
        )),
        _ => None,
    }
}

/// `tandem status --output json`: every region's health, replication status
/// (backlog, links, how far behind each origin) and app states, and the
/// problems that make the command fail.
async fn status_json(config: &Config, client: &ControlClient) -> Result<(), String> {
    let (mut regions, mut problems) = (Vec::new(), Vec::new());
    for region in &config.regions {
        let health = client.health(region).await;
        let replication = client.call(region, Method::GET, "/_tandem/replication").await;
        problems.extend(problem(&region.name, &health, &replication));
        let mut apps = serde_json::Map::new();
        for spec in &config.apps {
            let view = client.call(region, Method::GET, &format!("/_tandem/apps/{}/state", spec.id)).await;
            apps.insert(spec.id.clone(), view.unwrap_or_else(|e| json!({ "error": e.to_string() })));
        }
        let answer = |r: Result<Value, CallError>| r.unwrap_or_else(|e| json!({ "error": e.to_string() }));
        regions.push(json!({
            "name": region.name,
            "url": region.url(),
            "health": answer(health),
            "replication": answer(replication),
            "apps": apps,
        }));
    }
    let dns = crate::dns_cmd::status(config).await;
    problems.extend(dns.as_ref().and_then(|d| d["error"].as_str().map(String::from)));
    print_json(&json!({ "ok": problems.is_empty(), "problems": problems, "regions": regions, "dns": dns }));
    match problems.is_empty() {
        true => Ok(()),
        false => Err(problems.join("; ")),
    }
}
