//! `tandem status`: one screen with every region's health, change-log
//! position and clock (how far its hybrid logical clock leads its wall clock,
//! and how many batches the clock guard refused), and replication backlog and
//! lag per peer.

use http::Method;

use crate::config::Config;
use crate::control_client::{CallError, ControlClient};

/// Prints the status; fails (exit code 1) when a region is down, unhealthy,
/// or refuses the credentials, so scripts and monitors can rely on it.
pub async fn status(config: &Config) -> Result<(), String> {
    let client = ControlClient::new(config)?;
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
    match problems.is_empty() {
        true => Ok(()),
        false => Err(problems.join("; ")),
    }
}
