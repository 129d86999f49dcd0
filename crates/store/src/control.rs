//! Control-plane records kept beside the data — application states — and the
//! write gate through which the control plane decides, inside the very
//! transaction of a client write, whether this region may take it. Checking in
//! the transaction makes a state switch and the writes around it totally
//! ordered: a write commits before the switch or is refused after it.

use redb::{ReadableTable, ReadableTableMetadata, TableDefinition};
use std::sync::Arc;

use crate::changelog::Change;
use crate::db::{ReadTx, Store, Tx};
use crate::error::StoreError;

/// Application id → its state record (JSON owned by the control crate).
pub(crate) const APPS: TableDefinition<&str, &[u8]> = TableDefinition::new("apps");
/// Application id → the spec `tandem apply` last pushed to this region (JSON
/// owned by the control crate). Node-local configuration, like tandem.toml:
/// every region gets it from apply, so it is not in the change log.
pub(crate) const APP_SPECS: TableDefinition<&str, &[u8]> = TableDefinition::new("app_specs");

/// (application id, change-log sequence number) → one audit record of a
/// state change this region applied (JSON owned by the control crate). Kept
/// for good: state changes are few, and their history is what an operator
/// reads after an incident.
pub(crate) const APP_AUDIT: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("app_audit");

/// (milliseconds since the epoch, a random tiebreak) → the report of one
/// `tandem drill` run against this region (JSON written by the CLI, read by
/// the console). Node-local: the drill sends its report to every region.
/// At most [`MAX_DRILLS`] are kept, the oldest dropped first.
pub(crate) const DRILLS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("drills");
/// Drill reports kept per region.
pub const MAX_DRILLS: u64 = 100;

/// What a client write touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource<'a> {
    Bucket(&'a str),
    Table(&'a str),
}

/// Decides whether this region may take a client write to a resource now.
/// Replicated changes are never gated: they were accepted where they began.
pub trait WriteGate: Send + Sync {
    fn check(&self, tx: &Tx<'_>, resource: Resource<'_>) -> Result<(), StoreError>;
}

/// An app's record in any view of the `apps` table.
fn record_in<T: ReadableTable<&'static str, &'static [u8]>>(table: &T, app: &str) -> Result<Option<serde_json::Value>, StoreError> {
    let raw = table.get(app)?;
    raw.map(|r| serde_json::from_slice(r.value()).map_err(StoreError::from)).transpose()
}

impl ReadTx {
    pub fn app_record(&self, app: &str) -> Result<Option<serde_json::Value>, StoreError> {
        record_in(&self.table(APPS)?, app)
    }

    /// Ids of the apps this region holds a state record for.
    pub fn app_record_ids(&self) -> Result<Vec<String>, StoreError> {
        let mut ids = Vec::new();
        for entry in self.table(APPS)?.iter()? {
            ids.push(entry?.0.value().to_string());
        }
        Ok(ids)
    }

    /// The last `limit` audit records of an app, oldest first.
    pub fn app_audit(&self, app: &str, limit: usize) -> Result<Vec<serde_json::Value>, StoreError> {
        let table = self.table(APP_AUDIT)?;
        let mut out = Vec::new();
        for entry in table.range((app, 0)..=(app, u64::MAX))?.rev().take(limit) {
            out.push(serde_json::from_slice(entry?.1.value())?);
        }
        out.reverse();
        Ok(out)
    }

    /// Every audit record of every app, in key order (for counters at startup).
    pub fn all_app_audit(&self) -> Result<Vec<serde_json::Value>, StoreError> {
        let mut out = Vec::new();
        for entry in self.table(APP_AUDIT)?.iter()? {
            out.push(serde_json::from_slice(entry?.1.value())?);
        }
        Ok(out)
    }

    /// The newest `limit` drill reports, newest first.
    pub fn drills(&self, limit: usize) -> Result<Vec<serde_json::Value>, StoreError> {
        let mut out = Vec::new();
        for entry in self.table(DRILLS)?.iter()?.rev().take(limit) {
            out.push(serde_json::from_slice(entry?.1.value())?);
        }
        Ok(out)
    }

    /// Every app spec `tandem apply` pushed to this region.
    pub fn app_specs(&self) -> Result<Vec<serde_json::Value>, StoreError> {
        let mut specs = Vec::new();
        for entry in self.table(APP_SPECS)?.iter()? {
            specs.push(serde_json::from_slice(entry?.1.value())?);
        }
        Ok(specs)
    }
}

impl Tx<'_> {
    pub fn app_record(&self, app: &str) -> Result<Option<serde_json::Value>, StoreError> {
        record_in(&self.table(APPS)?, app)
    }

    /// Stores an application's state record and logs it (origin and clock
    /// time as given: local, or those of the region that made the change).
    pub fn put_app_record(&mut self, app: &str, record: serde_json::Value, origin: &str, hlc: u64) -> Result<u64, StoreError> {
        self.writer(APPS)?.insert(app, serde_json::to_vec(&record)?.as_slice())?;
        self.append(
            origin,
            hlc,
            Change::AppState {
                app: app.to_string(),
                record,
            },
        )
    }

    /// Keeps the audit record of a state change applied here at `seq`.
    pub fn put_app_audit(&mut self, app: &str, seq: u64, record: &serde_json::Value) -> Result<(), StoreError> {
        self.writer(APP_AUDIT)?.insert((app, seq), serde_json::to_vec(record)?.as_slice())?;
        Ok(())
    }

    /// Keeps the spec of an app pushed by `tandem apply`.
    pub fn put_app_spec(&mut self, app: &str, spec: &serde_json::Value) -> Result<(), StoreError> {
        self.writer(APP_SPECS)?.insert(app, serde_json::to_vec(spec)?.as_slice())?;
        Ok(())
    }

    /// Keeps a drill report made at `at_ms`, dropping the oldest past
    /// [`MAX_DRILLS`].
    pub fn put_drill(&mut self, at_ms: u64, report: &serde_json::Value) -> Result<(), StoreError> {
        let mut drills = self.writer(DRILLS)?;
        drills.insert((at_ms, rand::random::<u64>()), serde_json::to_vec(report)?.as_slice())?;
        while drills.len()? > MAX_DRILLS {
            let Some(oldest) = drills.first()?.map(|(k, _)| k.value()) else {
                break;
            };
            drills.remove(oldest)?;
        }
        Ok(())
    }

    /// Drops the spec of an app (`tandem apply --forget`, `tandem destroy`).
    pub fn delete_app_spec(&mut self, app: &str) -> Result<(), StoreError> {
        self.writer(APP_SPECS)?.remove(app)?;
        Ok(())
    }

    /// Refuses the write when the installed gate says this region may not take it.
    pub fn check_write(&self, resource: Resource<'_>) -> Result<(), StoreError> {
        match self.shared.gate.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            Some(gate) => gate.check(self, resource),
            None => Ok(()),
        }
    }
}

impl Store {
    /// Installs the gate every client write passes through.
    pub fn set_write_gate(&self, gate: Arc<dyn WriteGate>) {
        *self.shared.gate.write().unwrap_or_else(|e| e.into_inner()) = Some(gate);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drill_reports_are_kept_newest_first_up_to_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "r").unwrap();
        for n in 0..MAX_DRILLS + 5 {
            let report = serde_json::json!({ "run": n });
            store.write(move |tx| tx.put_drill(1000 + n, &report)).await.unwrap();
        }
        let all = store.read().unwrap().drills(usize::MAX).unwrap();
        assert_eq!(all.len() as u64, MAX_DRILLS);
        assert_eq!(all[0]["run"], MAX_DRILLS + 4, "newest first");
        assert_eq!(all.last().unwrap()["run"], 5, "the five oldest were dropped");
        assert_eq!(store.read().unwrap().drills(3).unwrap().len(), 3);
    }
}
