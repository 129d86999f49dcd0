//! The write gate: inside the transaction of every client write to a bucket or
//! table that belongs to an application, read the app's state and refuse the
//! write unless this region is the one that takes the app's writes now.

use tandem_store::{Resource, StoreError, Tx, WriteGate};

use crate::app::AppSpec;
use crate::state::StateRecord;

pub struct AppGate {
    pub region: String,
    pub apps: std::sync::Arc<std::sync::RwLock<Vec<AppSpec>>>,
}

/// The app's state as this transaction sees it.
pub fn record_in(tx: &Tx<'_>, app: &str) -> Result<StateRecord, StoreError> {
    match tx.app_record(app)? {
        Some(raw) => serde_json::from_value(raw).map_err(StoreError::from),
        None => Ok(StateRecord::initial()),
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
        match app.write_region(record.state) {
            Some(region) if region == self.region => Ok(()),
            Some(region) => Err(StoreError::WriteRefused {
                code: "NotWriteRegion",
                message: format!(
                    "application {} takes writes in region {region} now (state {}, version {}); this is {}",
                    app.id,
                    record.state.as_str(),
                    record.version,
                    self.region
                ),
            }),
            None => Err(StoreError::WriteRefused {
                code: "AppFenced",
                message: format!(
                    "application {} is fenced: no region takes writes (state version {}, {})",
                    app.id, record.version, record.reason
                ),
            }),
        }
    }
}
