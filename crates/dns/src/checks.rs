//! The background loops: a health check of every region, and a read of every
//! app's state from every region, each once per interval. An `https://`
//! region whose certificate does not verify fails its check like one that
//! does not answer, with the TLS reason as the check's error.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::config::HealthSettings;
use crate::http_get::{HttpGet, Reply};
use crate::state::{AppSeen, Region, State};

/// Starts the loops; abort the handles to stop them.
pub fn spawn(state: &Arc<State>, settings: &HealthSettings, apps: &[String], client: HttpGet) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    for index in 0..state.regions.len() {
        let (state, settings, client) = (state.clone(), settings.clone(), client.clone());
        tasks.push(tokio::spawn(async move {
            every(&settings, || check_region(&state, &state.regions[index], &settings, &client)).await
        }));
    }
    for app in apps {
        let (state, settings, client, app) = (state.clone(), settings.clone(), client.clone(), app.clone());
        tasks.push(tokio::spawn(
            async move { every(&settings, || read_app(&state, &app, &client)).await },
        ));
    }
    tasks
}

async fn every<F, Fut>(settings: &HealthSettings, mut work: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut tick = tokio::time::interval(Duration::from_secs_f64(settings.interval_secs));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        work().await;
    }
}

async fn check_region(state: &State, region: &Region, settings: &HealthSettings, client: &HttpGet) {
    let url = format!("{}{}", region.url.trim_end_matches('/'), settings.path);
    let result = client.get(&url).await.and_then(|reply| judge(&region.name, &reply));
    if let Some(healthy) = state.observe(region, result.clone(), settings) {
        match (healthy, result) {
            (true, _) => tracing::info!(region = %region.name, "region is healthy"),
            (false, Err(why)) => tracing::warn!(region = %region.name, %why, "region is unhealthy"),
            (false, Ok(_)) => {}
        }
    }
}

/// A check passes on 200 with a JSON body whose `region` is the one expected
/// (a node that answers for another region is a misrouted check, not health).
fn judge(expected: &str, reply: &Reply) -> Result<Duration, String> {
    if reply.status != 200 {
        return Err(format!("status {}", reply.status));
    }
    let body: Value = serde_json::from_slice(&reply.body).map_err(|_| "the body is not JSON".to_string())?;
    match body["region"].as_str() {
        Some(r) if r == expected => Ok(reply.elapsed),
        Some(other) => Err(format!("the body names region {other:?}, not {expected:?}")),
        None => Err("the body names no region".into()),
    }
}

/// Reads the app's state from every region and keeps the newest version.
async fn read_app(state: &State, app: &str, client: &HttpGet) {
    let reads = state.regions.iter().map(|r| {
        let url = format!("{}/_tandem/apps/{app}/state", r.url.trim_end_matches('/'));
        async move { client.get(&url).await.ok().and_then(|reply| parse_state(&reply)) }
    });
    let newest = futures::future::join_all(reads)
        .await
        .into_iter()
        .flatten()
        .max_by_key(|seen| seen.version);
    if let Some(seen) = newest {
        let writer = seen.write_region.clone();
        if state.set_app(app, seen) {
            tracing::info!(app, region = writer.as_deref().unwrap_or("-"), "app write region changed");
        }
    }
}

/// `GET /_tandem/apps/{id}/state`: `State`, `Version`, `WriteRegion` (null while fenced).
fn parse_state(reply: &Reply) -> Option<AppSeen> {
    if reply.status != 200 {
        return None;
    }
    let v: Value = serde_json::from_slice(&reply.body).ok()?;
    Some(AppSeen {
        state: v["State"].as_str()?.to_string(),
        version: v["Version"].as_u64()?,
        write_region: v["WriteRegion"].as_str().map(String::from),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            body: bytes::Bytes::from(body.to_string()),
            elapsed: Duration::from_millis(3),
        }
    }

    #[test]
    fn check_passes_only_when_the_body_names_the_expected_region() {
        assert!(judge("us-east", &reply(200, r#"{"region":"us-east","status":"ok"}"#)).is_ok());
        assert!(judge("us-east", &reply(200, r#"{"region":"ap-tokyo","status":"ok"}"#)).is_err());
        assert!(judge("us-east", &reply(503, r#"{"region":"us-east"}"#)).is_err());
        assert!(judge("us-east", &reply(200, "ok")).is_err());
    }

    #[test]
    fn fenced_state_has_no_write_region() {
        let seen = parse_state(&reply(200, r#"{"State":"fenced","Version":4,"WriteRegion":null}"#));
        assert_eq!(
            seen,
            Some(AppSeen {
                state: "fenced".into(),
                version: 4,
                write_region: None
            })
        );
        assert_eq!(parse_state(&reply(404, "{}")), None);
    }
}
