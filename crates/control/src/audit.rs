//! The audit trail of application states: every state change a region
//! applies — made here through the control API or the failover watcher, or
//! learned from a peer — is kept in its store with who asked (principal and
//! access key id), from where (remote address), when, from which state to
//! which, why, where the change was made and where it was applied. The
//! state-change counters are rebuilt from it at startup, so they survive
//! restarts.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tandem_store::{StoreError, Tx};

use crate::state::{AppState, StateRecord};

/// Who asks for a state change, and from where.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    /// The principal (`changed_by` in the record), e.g. `alice` or `auto-failover`.
    pub principal: String,
    /// The access key the request was signed with (empty for the watcher).
    pub access_key_id: String,
    /// The client's address (empty for the watcher).
    pub remote_addr: String,
}

impl Actor {
    /// A change the node makes by itself (the failover watcher).
    pub fn internal(principal: &str) -> Self {
        Self {
            principal: principal.to_string(),
            ..Default::default()
        }
    }
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub app: String,
    /// Change-log position of the change in the region that applied it.
    pub seq: u64,
    pub from: AppState,
    pub to: AppState,
    pub version: u64,
    /// When the change was made (ms), and when this region applied it.
    pub changed_ms: u64,
    pub applied_ms: u64,
    pub by: String,
    pub access_key_id: String,
    pub remote_addr: String,
    pub reason: String,
    /// Region where the change was made, and region that applied it.
    pub made_in: String,
    pub applied_in: String,
}

/// Keeps the audit record of `to` replacing `from`, applied here at `seq`.
pub fn record(tx: &mut Tx<'_>, app: &str, seq: u64, from: &StateRecord, to: &StateRecord) -> Result<(), StoreError> {
    let entry = AuditRecord {
        app: app.to_string(),
        seq,
        from: from.state,
        to: to.state,
        version: to.version,
        changed_ms: to.changed_ms,
        applied_ms: tandem_store::now_ms(),
        by: to.changed_by.clone(),
        access_key_id: to.access_key_id.clone(),
        remote_addr: to.remote_addr.clone(),
        reason: to.reason.clone(),
        made_in: to.region.clone(),
        applied_in: tx.region().to_string(),
    };
    tx.put_app_audit(app, seq, &serde_json::to_value(&entry)?)
}

/// Decodes stored audit records, skipping (and logging) any that do not decode.
pub fn decode(raw: Vec<Value>) -> Vec<AuditRecord> {
    raw.into_iter()
        .filter_map(|v| {
            serde_json::from_value(v)
                .inspect_err(|e| tracing::error!(error = %e, "an audit record does not decode; skipped"))
                .ok()
        })
        .collect()
}
