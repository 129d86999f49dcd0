//! The change log: every mutation of the store, appended in the same commit as the
//! mutation itself. Replication shippers, streams and status surfaces read it.

use crate::records::{BucketRecord, ObjectVersion};
use serde::{Deserialize, Serialize};

/// What changed. One variant per kind of mutation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    /// A bucket was created.
    BucketCreated { bucket: BucketRecord },
    /// A bucket's configuration changed (versioning, ACL, policy, CORS, replication).
    BucketUpdated { bucket: BucketRecord },
    /// A bucket was deleted.
    BucketDeleted { name: String },
    /// A new object version (or delete marker) was written.
    VersionPut {
        bucket: String,
        key: String,
        version: ObjectVersion,
    },
    /// An existing version's metadata (tags, ACL) changed; the body did not.
    VersionUpdated {
        bucket: String,
        key: String,
        version: ObjectVersion,
    },
    /// An existing version is announced again so that replication ships it
    /// (`tandem replication resync`); the object itself did not change.
    VersionResync {
        bucket: String,
        key: String,
        version: ObjectVersion,
    },
    /// A version was removed for good (delete by version id, or an overwrite
    /// of the `null` version).
    VersionDeleted { bucket: String, key: String, version_id: String },
    /// A table was created or its definition changed (JSON owned by the table API).
    TableDefined { name: String, definition: serde_json::Value },
    /// An existing item of a global table is announced again so that
    /// replication ships it to a new or lagging replica; the entry carries the
    /// item's own clock time and origin. Not a change of the item: streams skip it.
    ItemResync {
        table: String,
        keys: serde_json::Value,
        item: serde_json::Value,
    },
    /// An application's state changed (active, fenced, failover); the record
    /// is JSON owned by the control plane.
    AppState { app: String, record: serde_json::Value },
    /// An identity record (a user pool's user, group membership, revocation)
    /// was written; the record is JSON owned by the identity crate, which
    /// keeps its own clock time in it for last-writer-wins.
    IdentityRecord { key: String, record: serde_json::Value },
    /// A global table's item that this region did not hold was deleted: the
    /// tombstone must reach the other replicas. Not a change of any item here:
    /// streams skip it.
    ItemTombstone { table: String, keys: serde_json::Value },
    /// A table and all its items were deleted.
    TableDeleted {
        name: String,
        /// Regions the table had replicas in (a global table): they drop this
        /// region from their replica lists.
        #[serde(default)]
        replicas: Vec<String>,
    },
    /// An item was written or deleted: `keys` are its key attributes, `old` and
    /// `new` its images before and after (DynamoDB JSON), `new` is `None` for a delete.
    ItemChanged {
        table: String,
        keys: serde_json::Value,
        old: Option<serde_json::Value>,
        new: Option<serde_json::Value>,
        /// Made by the service itself (a TTL expiry), not by a client.
        #[serde(default)]
        by_service: bool,
    },
    /// An entry this build cannot decode (written by a faulty or newer
    /// build, or damaged). Never written: [`decode_entry`] produces it in
    /// place of the entry, so one bad entry cannot fail a whole page of the
    /// log. Shippers quarantine it, Streams and status readers skip it.
    Unreadable { reason: String },
}

impl Change {
    /// What the change is about, as operators name it: `s3://bucket/key`,
    /// `table/NAME`, `app/ID`, `identity/KEY`, or the entry itself when it is unreadable.
    pub fn resource(&self) -> String {
        match self {
            Change::BucketCreated { bucket } | Change::BucketUpdated { bucket } => format!("s3://{}", bucket.name),
            Change::BucketDeleted { name } => format!("s3://{name}"),
            Change::VersionPut { bucket, key, .. }
            | Change::VersionUpdated { bucket, key, .. }
            | Change::VersionResync { bucket, key, .. }
            | Change::VersionDeleted { bucket, key, .. } => format!("s3://{bucket}/{key}"),
            Change::TableDefined { name, .. } | Change::TableDeleted { name, .. } => format!("table/{name}"),
            Change::ItemResync { table, .. } | Change::ItemTombstone { table, .. } | Change::ItemChanged { table, .. } => {
                format!("table/{table}")
            }
            Change::AppState { app, .. } => format!("app/{app}"),
            Change::IdentityRecord { key, .. } => format!("identity/{key}"),
            Change::Unreadable { .. } => "change-log entry".to_string(),
        }
    }
}

/// One entry of the change log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeEntry {
    /// Position in this region's log; strictly increasing, no gaps.
    pub seq: u64,
    /// Region where the mutation was first accepted.
    pub origin: String,
    /// Hybrid-logical-clock time of the mutation.
    pub hlc: u64,
    pub change: Change,
}

/// Decodes the stored entry at `seq`. An entry that does not decode becomes
/// [`Change::Unreadable`] (origin and clock unknown) instead of an error, so
/// readers of the log move past it.
pub fn decode_entry(seq: u64, raw: &[u8]) -> ChangeEntry {
    serde_json::from_slice(raw).unwrap_or_else(|e| {
        tracing::warn!(seq, error = %e, "change-log entry cannot be decoded");
        ChangeEntry {
            seq,
            origin: String::new(),
            hlc: 0,
            change: Change::Unreadable {
                reason: format!("the entry cannot be decoded: {e}"),
            },
        }
    })
}
