//! Health endpoints, both unauthenticated for load balancers and DNS checks.
//!
//! `/health` is the cheap deep ping: it reads from the store and stats the
//! blob tree, so a node whose disk or database is unusable answers 503.
//!
//! `/health/ready` says whether the region is fit to serve as part of the
//! deployment: the store, every peer link (state, lag, backlog, how far this
//! region is behind the peer) and every app's state and write region. It
//! answers 503 when the store is unusable or a peer link is failing, so a
//! load balancer can take the region out of rotation.

use serde_json::{Value, json};
use tandem_store::Store;

/// Status code and JSON body of a health check.
pub fn check(region: &str, store: &Store) -> (u16, String) {
    match store.check_health() {
        Ok(()) => (200, json!({ "region": region, "status": "ok" }).to_string()),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (
                503,
                json!({ "region": region, "status": "unavailable", "error": e.to_string() }).to_string(),
            )
        }
    }
}

/// Status code and JSON body of the readiness check.
pub fn ready(
    region: &str,
    store: &Store,
    replication: &tandem_replication::Replication,
    control: &tandem_control::AppControl,
) -> (u16, String) {
    let mut problems = Vec::new();
    let store_status = match store.check_health() {
        Ok(()) => json!({ "status": "ok" }),
        Err(e) => {
            problems.push(format!("store: {e}"));
            json!({ "status": "unavailable", "error": e.to_string() })
        }
    };
    let (peers, behind) = match replication.status() {
        Ok(status) => (peer_links(&status, &mut problems), status["behind"].clone()),
        Err(e) => {
            problems.push(format!("replication status: {e}"));
            (vec![], json!({}))
        }
    };
    let apps: Vec<Value> = control
        .apps()
        .iter()
        .map(|app| match control.view(&app.id) {
            Ok(v) => json!({
                "app": app.id,
                "state": v["State"],
                "version": v["Version"],
                "write_region": v["WriteRegion"],
                "writes_here": v["WriteRegion"] == region,
            }),
            Err(e) => json!({ "app": app.id, "error": e.to_string() }),
        })
        .collect();
    let ready = problems.is_empty();
    let body = json!({
        "region": region,
        "status": if ready { "ready" } else { "unready" },
        "problems": problems,
        "store": store_status,
        "peers": peers,
        "behind": behind,
        "apps": apps,
    });
    (if ready { 200 } else { 503 }, body.to_string())
}

/// Each peer link as the readiness check shows it; failing ones are problems.
fn peer_links(status: &Value, problems: &mut Vec<String>) -> Vec<Value> {
    status["peers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let failing = p["state"] == "failing";
            let error = p.pointer("/shipper/last_error").cloned().unwrap_or(Value::Null);
            if failing {
                problems.push(format!(
                    "replication to {} is failing: {}",
                    p["peer"].as_str().unwrap_or("?"),
                    error.as_str().unwrap_or("unknown error")
                ));
            }
            json!({
                "peer": p["peer"],
                "state": p["state"],
                "failing": failing,
                "lag_seconds": p["backlog"]["oldest_age_seconds"],
                "backlog_changes": p["backlog"]["changes"],
                "backlog_bytes": p["backlog"]["bytes"],
                "last_heartbeat_ms": p["shipper"]["last_heartbeat_ms"],
                "last_error": if failing { error } else { Value::Null },
            })
        })
        .collect()
}
