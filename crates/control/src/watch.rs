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

use crate::{AppControl, AppSpec, AppState};

/// One watcher per app this region is secondary for and that opts in.
pub fn spawn(control: &AppControl, peer_url: impl Fn(&str) -> Option<String>) -> Vec<tokio::task::JoinHandle<()>> {
    control
        .apps()
        .into_iter()
        .filter(|app| app.secondary == control.region() && app.auto_failover.is_some())
        .filter_map(|app| {
            let url = peer_url(&app.primary)?;
            Some(tokio::spawn(watch(control.clone(), app, url)))
        })
        .collect()
}

async fn healthy(client: &Client<HttpConnector, Empty<Bytes>>, url: &str, timeout: Duration) -> bool {
    let Ok(uri) = format!("{}/health", url.trim_end_matches('/')).parse::<hyper::Uri>() else {
        return false;
    };
    matches!(
        tokio::time::timeout(timeout, client.get(uri)).await,
        Ok(Ok(response)) if response.status().is_success()
    )
}

async fn watch(control: AppControl, app: AppSpec, primary_url: String) {
    let Some(policy) = app.auto_failover else { return };
    let interval = Duration::from_millis(policy.interval_ms.max(50));
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(interval));
    let client = Client::builder(TokioExecutor::new()).build(connector);
    let mut failures = 0u32;
    loop {
        tokio::time::sleep(interval).await;
        if healthy(&client, &primary_url, interval).await {
            failures = 0;
            continue;
        }
        failures += 1;
        tracing::warn!(app = %app.id, primary = %app.primary, failures, "primary health check failed");
        if failures < policy.failures {
            continue;
        }
        match control.record(&app.id) {
            Ok(r) if r.state == AppState::Active => {}
            _ => continue, // already failed over, or fenced by an operator: leave it
        }
        let reason = format!("automatic failover: {} failed {failures} health checks", app.primary);
        match control.set(&app.id, AppState::Failover, "auto-failover", &reason).await {
            Ok(_) => tracing::warn!(app = %app.id, "secondary took over writes"),
            Err(e) => tracing::error!(app = %app.id, error = %e, "automatic failover failed"),
        }
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
    })
}
