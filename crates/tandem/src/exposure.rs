//! The RPO exposure as the CLI shows it: how far a region is behind each
//! origin, from the origin's heartbeats (`behind` in `/_tandem/replication`).
//! An unplanned failover prints it for the primary it leaves behind.

use serde_json::Value;

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn age(ms: Option<u64>) -> String {
    ms.map_or_else(
        || "never".into(),
        |ms| format!("{:.1} s ago", tandem_store::now_ms().saturating_sub(ms) as f64 / 1000.0),
    )
}

/// "us-east had 3 changes (2.1 MiB, 0.4 s) that ap-tokyo has not received".
pub fn line(origin: &str, here: &str, e: &Value) -> String {
    let changes = e["changes"].as_u64().unwrap_or(0);
    format!(
        "{origin} had {}{changes} change{} ({:.2} MiB, {:.1} s) that {here} has not received \
         (as of {origin}'s last heartbeat, {}; last batch received {})",
        if e["at_least"] == true { "at least " } else { "" },
        if changes == 1 { "" } else { "s" },
        mib(e["bytes"].as_u64().unwrap_or(0)),
        e["seconds"].as_f64().unwrap_or(0.0),
        age(e["heartbeat_ms"].as_u64()),
        age(e["last_batch_ms"].as_u64()),
    )
}

/// The table of every region's exposure to each origin, from the regions'
/// `/_tandem/replication` answers.
pub fn print_table(statuses: &[(String, Value)]) {
    println!();
    println!(
        "{:<12} {:<12} {:>10} {:>10} {:>9} {:>14}",
        "REGION", "BEHIND", "CHANGES", "MiB", "SECONDS", "HEARTBEAT"
    );
    for (region, status) in statuses {
        for (origin, e) in status["behind"].as_object().into_iter().flatten() {
            println!(
                "{:<12} {:<12} {:>10} {:>10.2} {:>9.1} {:>14}",
                region,
                origin,
                e["changes"].as_u64().unwrap_or(0),
                mib(e["bytes"].as_u64().unwrap_or(0)),
                e["seconds"].as_f64().unwrap_or(0.0),
                age(e["heartbeat_ms"].as_u64()),
            );
        }
    }
}
