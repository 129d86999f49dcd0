//! The write gate: inside the transaction of every client write to a bucket or
//! table that belongs to an application, read the app's state and refuse the
//! write unless this region is the one that takes the app's writes now.

use tandem_store::{Resource, StoreError, Tx, WriteGate};

use crate::app::AppSpec;
use crate::state::StateRecord;

pub struct AppGate {
    pub region: String,
    pub apps: std::sync::Arc<std::sync::RwLock<Vec<AppSpec>>>,
    /// Client URL of every region, to tell a refused client where to go.
    pub region_urls: std::collections::BTreeMap<String, String>,
    /// Refused writes, by app, region and reason.
    pub refused: prometheus_client::metrics::family::Family<crate::metrics::RefusedLabels, prometheus_client::metrics::counter::Counter>,
}

/// The app's state as this transaction sees it.
pub fn record_in(tx: &Tx<'_>, app: &str) -> Result<StateRecord, StoreError> {
    match tx.app_record(app)? {
        Some(raw) => serde_json::from_value(raw).map_err(StoreError::from),
        None => Ok(StateRecord::initial()),
    }
}

/// What a refused client should address in `region` instead of `resource`:
/// the bucket of the same pair there, or the (global) table of the same name.
fn counterpart(app: &AppSpec, resource: Resource<'_>, region: &str) -> String {
    match resource {
        Resource::Bucket(b) => app
            .buckets
            .iter()
            .find(|pair| pair.primary == b || pair.secondary == b)
            .and_then(|pair| app.bucket_in(pair, region))
            .map_or_else(|| format!("bucket {b}"), |there| format!("bucket {there}")),
        Resource::Table(t) => format!("table {t}"),
    }
}

impl WriteGate for AppGate {
    fn check(&self, tx: &Tx<'_>, resource: Resource<'_>) -> Result<(), StoreError> {
        let apps = self.apps.read().unwrap_or_else(|e| e.into_inner());
        let owner = apps.iter().find(|a| match resource {
            Resource::Bucket(b) => a.owns_bucket(b),
            Resource::Table(t) => a.owns_table(t),
        });
        let Some(app) = owner else { return Ok(()) };
        let record = record_in(tx, &app.id)?;
        let refuse = |code: &'static str, message: String| {
            let labels = crate::metrics::RefusedLabels {
                app: app.id.clone(),
                region: self.region.clone(),
                reason: code,
            };
            self.refused.get_or_create(&labels).inc();
            Err(StoreError::WriteRefused { code, message })
        };
        match app.write_region(record.state) {
            Some(region) if region == self.region => Ok(()),
            Some(region) => {
                let url = self.region_urls.get(region).map_or_else(String::new, |u| format!(" at {u}"));
                refuse(
                    "NotWriteRegion",
                    format!(
                        "application {} takes writes in region {region} now (state {}, version {}); this is {}: write to {} in {region}{url}",
                        app.id,
                        record.state.as_str(),
                        record.version,
                        self.region,
                        counterpart(app, resource, region),
                    ),
                )
            }
            None => refuse(
                "AppFenced",
                format!(
                    "application {} is fenced: no region takes writes (state version {}, {})",
                    app.id, record.version, record.reason
                ),
            ),
        }
    }
}
