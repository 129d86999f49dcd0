//! Active health: every probe interval, `GET /health` (the regions' deep
//! ping: store and disk) on every origin at once. A 200 within the timeout
//! closes an origin's breaker and adds its round trip to the origin's
//! average (latency routing); anything else opens the breaker.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::body::empty;
use crate::origin::{Client, Origin};

/// Longest wait for one probe answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

async fn probe(client: &Client, origin: &Origin) -> Result<(), String> {
    let uri: http::Uri = format!("{}/health", origin.base).parse().map_err(|e| format!("{e}"))?;
    let req = http::Request::get(uri).body(empty()).map_err(|e| e.to_string())?;
    match tokio::time::timeout(PROBE_TIMEOUT, client.request(req)).await {
        Ok(Ok(resp)) if resp.status() == http::StatusCode::OK => Ok(()),
        Ok(Ok(resp)) => Err(format!("probe answered {}", resp.status())),
        Ok(Err(e)) => Err(format!("probe failed: {e}")),
        Err(_) => Err("probe timed out".into()),
    }
}

/// Probes `origins` until `stop` turns true.
pub async fn run(origins: Vec<Arc<Origin>>, client: Client, interval: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        let rounds = origins.iter().map(|o| {
            let client = client.clone();
            async move {
                let started = std::time::Instant::now();
                match probe(&client, o).await {
                    Ok(()) => {
                        o.health.record_rtt(started.elapsed());
                        o.health.recovered();
                    }
                    Err(why) => o.health.failed(&why),
                }
            }
        });
        futures::future::join_all(rounds).await;
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
    }
}
