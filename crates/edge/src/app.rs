//! Routing by an app's replicated state. Every region answers
//! `GET /_tandem/apps/{id}/state` (public) with the state record's version
//! and the write region; the edge reads both regions every poll interval
//! and follows the highest version, so `tandem state set` and `tandem
//! failover` reach the edge within one interval (200 ms by default), even
//! when one region is down. A `NotWriteRegion` / `AppFenced` answer reads the
//! state again at once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Limited};
use tokio::sync::watch;

use crate::body::empty;
use crate::origin::{Client, Origin};
use crate::route::{PathRule, Target};

/// An app of the deployment: its regions and its bucket names in each.
#[derive(Debug, Clone)]
pub struct AppInfo {
    pub id: String,
    pub primary: String,
    pub secondary: String,
    /// (name in the primary, name in the secondary) per bucket.
    pub buckets: Vec<(String, String)>,
}

/// What the regions last said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    version: u64,
    /// `None` while fenced; otherwise whether the secondary takes writes.
    write_secondary: Option<bool>,
}

pub struct AppRoute {
    pub id: String,
    primary: Target,
    secondary: Target,
    seen: Mutex<Seen>,
    client: Client,
}

/// Largest state answer read.
const MAX_STATE_BODY: usize = 64 * 1024;
/// Time one state read may take.
const STATE_TIMEOUT: Duration = Duration::from_millis(800);

impl AppRoute {
    pub fn new(info: &AppInfo, primary: Arc<Origin>, secondary: Arc<Origin>, client: Client) -> Self {
        let to_primary: Vec<(String, String)> = info.buckets.iter().map(|(p, s)| (s.clone(), p.clone())).collect();
        let to_secondary: Vec<(String, String)> = info.buckets.clone();
        Self {
            id: info.id.clone(),
            primary: Target {
                origin: primary,
                path: PathRule::Rename(Arc::new(to_primary)),
            },
            secondary: Target {
                origin: secondary,
                path: PathRule::Rename(Arc::new(to_secondary)),
            },
            seen: Mutex::new(Seen {
                version: 0,
                write_secondary: Some(false),
            }),
            client,
        }
    }

    fn seen(&self) -> Seen {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The write region's target and the other one (primary first while fenced).
    pub fn targets(&self) -> (&Target, &Target) {
        match self.seen().write_secondary {
            Some(true) => (&self.secondary, &self.primary),
            _ => (&self.primary, &self.secondary),
        }
    }

    pub fn write_target(&self) -> &Target {
        self.targets().0
    }

    /// Reads the state from both regions and keeps the newest record.
    pub async fn refresh(&self) {
        let (a, b) = futures::join!(self.read(&self.primary.origin), self.read(&self.secondary.origin));
        for s in [a, b].into_iter().flatten() {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            if s.version > seen.version {
                if s.write_secondary != seen.write_secondary {
                    tracing::info!(app = %self.id, version = s.version, write_secondary = ?s.write_secondary, "app write region changed");
                }
                *seen = s;
            }
        }
    }

    async fn read(&self, origin: &Origin) -> Option<Seen> {
        let uri: http::Uri = format!("{}/_tandem/apps/{}/state", origin.base, self.id).parse().ok()?;
        let req = http::Request::get(uri).body(empty()).ok()?;
        let answer = async {
            let resp = self.client.request(req).await.ok()?;
            if !resp.status().is_success() {
                return None;
            }
            let collected = Limited::new(resp.into_body(), MAX_STATE_BODY)
                .collect()
                .await
                .map_err(|e| -> crate::body::BoxError { e });
            collected.ok().map(|b| b.to_bytes())
        };
        let bytes = tokio::time::timeout(STATE_TIMEOUT, answer).await.ok()??;
        let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        let version = v.get("Version")?.as_u64()?;
        let write = v.get("WriteRegion").and_then(|w| w.as_str());
        let write_secondary = write.map(|r| Some(r) == self.secondary.origin.region.as_deref());
        Some(Seen { version, write_secondary })
    }

    /// Polls until `stop` turns true.
    pub async fn poll(self: Arc<Self>, interval: Duration, mut stop: watch::Receiver<bool>) {
        loop {
            self.refresh().await;
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.changed() => return,
            }
        }
    }
}
