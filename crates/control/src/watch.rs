//! Automatic failover: in the secondary region of every app that opts in, a
//! watcher checks the primary's `/health`. After `failures` consecutive failed
//! checks while the app is `active`, the secondary switches it to `failover`
//! and takes writes. The new state version replicates to the old primary as
//! soon as it can be reached again, and from then on it refuses writes. While
//! cut off, the old primary cannot know and keeps taking writes; those are kept
//! and replicate when the link heals (last writer wins per key), so this is not
//! split-brain-proof, only split-brain-bounded. Operators fence first
//! (`tandem failover --planned`) when the primary is reachable.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::safety::Health;
use crate::{AppControl, AppSpec, AppState};

/// Starts the watcher of this region: it follows the apps as they are now
/// (`tandem apply` may add some), checking the primary of each app this region
/// is secondary for and that opts in. `peers` maps region names to node URLs.
/// It runs on one node of the region at a time (the holder of its lease), so
/// that two nodes never count failures of their own and decide apart.
pub fn spawn(control: &AppControl, peers: Vec<(String, String)>) -> tokio::task::JoinHandle<()> {
    let control = control.clone();
    tokio::spawn(async move {
        let store = control.inner.store.clone();
        store
            .run_leased("failover watcher", Default::default(), || watch(control.clone(), peers.clone()))
            .await
    })
}

async fn healthy(client: &Client<HttpConnector, Empty<Bytes>>, url: &str, timeout: Duration) -> bool {
    probe_with(client, url, timeout).await == Health::Ok
}

/// What `GET {url}/health` answers within `timeout`, through `client`.
async fn probe_with(client: &Client<HttpConnector, Empty<Bytes>>, url: &str, timeout: Duration) -> Health {
    use http_body_util::BodyExt;
    let Ok(uri) = format!("{}/health", url.trim_end_matches('/')).parse::<hyper::Uri>() else {
        return Health::Unreachable(format!("{url} is not a URL"));
    };
    let exchange = async {
        let response = client.get(uri).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        Ok::<_, String>((status, body))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Err(_) => Health::Unreachable(format!("no answer within {timeout:?}")),
        Ok(Err(e)) => Health::Unreachable(e),
        Ok(Ok((status, _))) if status.is_success() => Health::Ok,
        Ok(Ok((status, body))) => Health::Unhealthy(format!("{status}: {}", String::from_utf8_lossy(&body[..body.len().min(200)]))),
    }
}

/// What a region's `/health` at `url` answers within `timeout`.
pub async fn probe(url: &str, timeout: Duration) -> Health {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(timeout));
    let client = Client::builder(TokioExecutor::new()).build(connector);
    probe_with(&client, url, timeout).await
}

/// How often the watcher looks at the apps; each app is checked at its own interval.
const TICK: Duration = Duration::from_millis(50);

/// What the watcher remembers of one app.
#[derive(Default)]
struct Watched {
    failures: u32,
    last_check: Option<tokio::time::Instant>,
}

async fn watch(control: AppControl, peers: Vec<(String, String)>) {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(Duration::from_secs(1)));
    let client = Client::builder(TokioExecutor::new()).build(connector);
    let mut watched: std::collections::HashMap<String, Watched> = Default::default();
    loop {
        tokio::time::sleep(TICK).await;
        for app in control.apps().into_iter().filter(|a| a.secondary == control.region()) {
            let (Some(policy), Some((_, url))) = (app.auto_failover, peers.iter().find(|(name, _)| *name == app.primary)) else {
                continue;
            };
            let interval = Duration::from_millis(policy.interval_ms.max(50));
            let w = watched.entry(app.id.clone()).or_default();
            if w.last_check.is_some_and(|t| t.elapsed() < interval) {
                continue;
            }
            w.last_check = Some(tokio::time::Instant::now());
            if healthy(&client, url, interval).await {
                if w.failures > 0 {
                    tracing::info!(app = %app.id, primary = %app.primary, "primary answers its health checks again");
                }
                w.failures = 0;
                continue;
            }
            w.failures += 1;
            if w.failures == 1 {
                tracing::warn!(app = %app.id, primary = %app.primary, "primary health check failed");
            }
            if w.failures >= policy.failures {
                fail_over(&control, &app, w.failures).await;
            }
        }
    }
}

/// Switches an `active` app to `failover`; leaves other states alone (already
/// failed over, or fenced by an operator).
async fn fail_over(control: &AppControl, app: &AppSpec, failures: u32) {
    if !matches!(control.record(&app.id), Ok(r) if r.state == AppState::Active) {
        return;
    }
    let reason = format!("automatic failover: {} failed {failures} health checks", app.primary);
    match control
        .set(&app.id, AppState::Failover, &crate::Actor::internal("auto-failover"), &reason)
        .await
    {
        Ok(_) => tracing::warn!(app = %app.id, "secondary took over writes"),
        Err(e) => tracing::error!(app = %app.id, error = %e, "automatic failover failed"),
    }
}

/// A peer's record of an app's state, from its `GET /_tandem/apps/{id}/state`.
pub async fn fetch_state(url: &str, app: &str, timeout: Duration) -> Option<crate::StateRecord> {
    use http_body_util::BodyExt;
    let uri: hyper::Uri = format!("{}/_tandem/apps/{app}/state", url.trim_end_matches('/')).parse().ok()?;
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(timeout));
    let client: Client<HttpConnector, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let exchange = async {
        let response = client.get(uri).await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.into_body().collect().await.ok().map(|b| b.to_bytes())
    };
    let body = tokio::time::timeout(timeout, exchange).await.ok()??;
    let view: serde_json::Value = serde_json::from_slice(&body).ok()?;
    let text = |k: &str| view[k].as_str().unwrap_or_default().to_string();
    Some(crate::StateRecord {
        state: AppState::parse(view["State"].as_str()?)?,
        version: view["Version"].as_u64()?,
        changed_ms: view["ChangedAt"].as_u64().unwrap_or(0),
        changed_by: text("ChangedBy"),
        reason: text("Reason"),
        region: text("ChangedIn"),
        hlc: view["Hlc"].as_u64()?,
        access_key_id: String::new(),
        remote_addr: String::new(),
    })
}
