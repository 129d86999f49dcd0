//! `/health`: a deep ping. It reads from the store and stats the blob tree, so a
//! node whose disk or database is unusable answers 503 — what DNS failover and
//! the edge's origin health checks need.

use serde_json::json;
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
