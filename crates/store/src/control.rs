//! Control-plane records kept beside the data — application states — and the
//! write gate through which the control plane decides, inside the very
//! transaction of a client write, whether this region may take it. Checking in
//! the transaction makes a state switch and the writes around it totally
//! ordered: a write commits before the switch or is refused after it.

use std::sync::Arc;

use crate::changelog::Change;
use crate::db::{ReadTx, Store, Tx};
use crate::error::StoreError;
use crate::kv::{Table, u64_key};

// Tables of this module ([`Table`]):
// - `Apps`: application id → its state record (JSON owned by the control crate).
// - `AppSpecs`: application id → the spec `tandem apply` last pushed to this
//   region (JSON owned by the control crate). Node-local configuration, like
//   tandem.toml: every region gets it from apply, so it is not in the change log.
// - `AppAudit`: [`audit_key`] → one audit record of a state change this
//   region applied (JSON owned by the control crate). Kept for good: state
//   changes are few, and their history is what an operator reads after an
//   incident.
// - `Drills`: [`drill_key`] → the report of one `tandem drill` run against
//   this region (JSON written by the CLI, read by the console). Node-local:
//   the drill sends its report to every region. At most [`MAX_DRILLS`] are
//   kept, the oldest dropped first.

/// Key of an audit record: application id, NUL, change-log sequence number
/// (big-endian), so one application's records sort by sequence.
pub(crate) fn audit_key(app: &str, seq: u64) -> Vec<u8> {
    let mut key = audit_prefix(app);
    key.extend_from_slice(&u64_key(seq));
    key
}

fn audit_prefix(app: &str) -> Vec<u8> {
    let mut key = app.as_bytes().to_vec();
    key.push(0);
    key
}

/// Key of a drill report: milliseconds since the epoch, then a random tiebreak.
pub(crate) fn drill_key(at_ms: u64, tiebreak: u64) -> Vec<u8> {
    [u64_key(at_ms), u64_key(tiebreak)].concat()
}

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

/// The values of some entries as JSON.
fn json_values(entries: impl Iterator<Item = Result<crate::kv::Entry, StoreError>>) -> Result<Vec<serde_json::Value>, StoreError> {
    entries.map(|e| Ok(serde_json::from_slice(&e?.1)?)).collect()
}

impl ReadTx {
    pub fn app_record(&self, app: &str) -> Result<Option<serde_json::Value>, StoreError> {
        self.table(Table::Apps).json(app)
    }

    /// Ids of the apps this region holds a state record for.
    pub fn app_record_ids(&self) -> Result<Vec<String>, StoreError> {
        let mut ids = Vec::new();
        for entry in self.table(Table::Apps).all(false)? {
            ids.push(String::from_utf8_lossy(&entry?.0).into_owned());
        }
        Ok(ids)
    }

    /// The last `limit` audit records of an app, oldest first.
    pub fn app_audit(&self, app: &str, limit: usize) -> Result<Vec<serde_json::Value>, StoreError> {
        let mut out = json_values(self.table(Table::AppAudit).prefixed(&audit_prefix(app), true)?.take(limit))?;
        out.reverse();
        Ok(out)
    }

    /// Every audit record of every app, in key order (for counters at startup).
    pub fn all_app_audit(&self) -> Result<Vec<serde_json::Value>, StoreError> {
        self.table(Table::AppAudit).all_json()
    }

    /// The newest `limit` drill reports, newest first.
    pub fn drills(&self, limit: usize) -> Result<Vec<serde_json::Value>, StoreError> {
        json_values(self.table(Table::Drills).all(true)?.take(limit))
    }

    /// Every app spec `tandem apply` pushed to this region.
    pub fn app_specs(&self) -> Result<Vec<serde_json::Value>, StoreError> {
        self.table(Table::AppSpecs).all_json()
    }
}

impl Tx<'_> {
    pub fn app_record(&self, app: &str) -> Result<Option<serde_json::Value>, StoreError> {
        self.table(Table::Apps).json(app)
    }

    /// Stores an application's state record and logs it (origin and clock
    /// time as given: local, or those of the region that made the change).
    pub fn put_app_record(&mut self, app: &str, record: serde_json::Value, origin: &str, hlc: u64) -> Result<u64, StoreError> {
        self.put(Table::Apps, app, &serde_json::to_vec(&record)?);
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
        self.put(Table::AppAudit, audit_key(app, seq), &serde_json::to_vec(record)?);
        Ok(())
    }

    /// Keeps the spec of an app pushed by `tandem apply`.
    pub fn put_app_spec(&mut self, app: &str, spec: &serde_json::Value) -> Result<(), StoreError> {
        self.put(Table::AppSpecs, app, &serde_json::to_vec(spec)?);
        Ok(())
    }

    /// Keeps a drill report made at `at_ms`, dropping the oldest past
    /// [`MAX_DRILLS`].
    pub fn put_drill(&mut self, at_ms: u64, report: &serde_json::Value) -> Result<(), StoreError> {
        self.put(Table::Drills, drill_key(at_ms, rand::random::<u64>()), &serde_json::to_vec(report)?);
        let kept: Vec<Vec<u8>> = self
            .table(Table::Drills)
            .all(true)?
            .map(|e| e.map(|(k, _)| k))
            .collect::<Result<_, _>>()?;
        for oldest in kept.iter().skip(MAX_DRILLS as usize) {
            self.delete(Table::Drills, oldest);
        }
        Ok(())
    }

    /// Drops the spec of an app (`tandem apply --forget`, `tandem destroy`).
    pub fn delete_app_spec(&mut self, app: &str) -> Result<(), StoreError> {
        self.delete(Table::AppSpecs, app);
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
        let store = crate::test_backend::open(dir.path(), "r").unwrap();
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
