//! The backend boundary: every table of the store is an ordered map from byte
//! keys to byte values, and a backend (embedded redb, or PostgreSQL) provides
//! consistent snapshots of those maps and transactions that change them.
//!
//! The rest of the store is written against [`KvRead`] only; what a table
//! holds and how its keys sort is decided above this line, and nothing above
//! `store` learns which backend it runs on. Writes are not made through the
//! backend one at a time: the group-commit writer keeps a batch's writes in an
//! [`crate::overlay::Overlay`] (which also gives each closure its undo) and
//! hands them to [`Batch::apply`] once, just before [`Batch::commit`].

use std::sync::Arc;

use crate::error::StoreError;

/// The store's tables. Keys sort as unsigned bytes on every backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// Bucket name → bucket record.
    Buckets,
    /// `bucket/key` → latest version (possibly a delete marker).
    Current,
    /// `bucket/key\0<inverted hlc><version id>` → every version, newest first.
    Versions,
    /// Blob id (16 bytes, big-endian) → bytes of an inline body.
    Inline,
    /// Upload id → multipart upload record.
    Uploads,
    /// `upload_id\0<part number>` → part record.
    Parts,
    /// Sequence number (8 bytes, big-endian) → change-log entry.
    Changes,
    /// Counter name → 8-byte big-endian value (last sequence number, clock
    /// floor, stored bytes, peers' cursors).
    Meta,
    /// Upload id → what its completion answered.
    Completed,
    /// `<completion ms><upload id>` → nothing (pruning order).
    CompletedAt,
    /// App name → replicated app state.
    Apps,
    /// App name → app spec.
    AppSpecs,
    /// `app\0<seq>` → audit record of a state change.
    AppAudit,
    /// `<at ms><random>` → drill report.
    Drills,
    /// Record path → identity record.
    Identity,
    /// Table name → table definition (DynamoDB API).
    Catalog,
    /// Encoded primary key → item.
    Items,
    /// Encoded index key → item copy.
    Index,
    /// Encoded primary key → deletion tombstone.
    Tombstones,
    /// Bucket name → which region holds it.
    Registry,
}

impl Table {
    pub const ALL: [Table; 20] = [
        Table::Buckets,
        Table::Current,
        Table::Versions,
        Table::Inline,
        Table::Uploads,
        Table::Parts,
        Table::Changes,
        Table::Meta,
        Table::Completed,
        Table::CompletedAt,
        Table::Apps,
        Table::AppSpecs,
        Table::AppAudit,
        Table::Drills,
        Table::Identity,
        Table::Catalog,
        Table::Items,
        Table::Index,
        Table::Tombstones,
        Table::Registry,
    ];

    /// The table's name in a backend (a redb table, a PostgreSQL relation suffix).
    pub fn name(self) -> &'static str {
        match self {
            Table::Buckets => "buckets",
            Table::Current => "current",
            Table::Versions => "versions",
            Table::Inline => "inline",
            Table::Uploads => "uploads",
            Table::Parts => "parts",
            Table::Changes => "changes",
            Table::Meta => "meta",
            Table::Completed => "completed_uploads",
            Table::CompletedAt => "completed_uploads_by_time",
            Table::Apps => "apps",
            Table::AppSpecs => "app_specs",
            Table::AppAudit => "app_audit",
            Table::Drills => "drills",
            Table::Identity => "identity",
            Table::Catalog => "catalog",
            Table::Items => "items",
            Table::Index => "index",
            Table::Tombstones => "tombstones",
            Table::Registry => "registry",
        }
    }

    /// Position in [`Table::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// One entry of a range read, owned.
pub type Entry = (Vec<u8>, Vec<u8>);

/// The entries of a range read, in order; an error ends it.
pub type KvIter<'a> = Box<dyn Iterator<Item = Result<Entry, StoreError>> + 'a>;

/// Reading a consistent view of the tables.
pub trait KvRead {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Entries with `from <= key < to` (`to` `None`: to the end), ascending,
    /// or descending when `reverse`.
    fn range(&self, table: Table, from: &[u8], to: Option<&[u8]>, reverse: bool) -> Result<KvIter<'_>, StoreError>;
}

/// A read-only snapshot a backend hands out; it may move between threads.
pub trait Snapshot: KvRead + Send + Sync {}
impl<T: KvRead + Send + Sync> Snapshot for T {}

/// A backend's write transaction. Its reads see every commit before it began
/// (and none of its own writes, which come only through `apply`).
pub trait Batch: KvRead {
    /// Sets (`Some`) or removes (`None`) each key, in the given order.
    fn apply(&mut self, table: Table, writes: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> Result<(), StoreError>;

    /// Makes every applied write durable, or none of them, and tells the
    /// other nodes sharing the backend what the commit changed.
    fn commit(self: Box<Self>, notice: &crate::coordination::CommitNotice) -> Result<(), StoreError>;
}

/// Where a region's tables live.
pub trait Backend: Send + Sync {
    /// A consistent view of the last commit.
    fn snapshot(&self) -> Result<Box<dyn Snapshot>, StoreError>;

    /// Starts the next write transaction. Only the store's writer calls it,
    /// one at a time per node; a backend shared by several nodes makes their
    /// transactions take turns, in the order of their commits.
    fn begin(&self) -> Result<Box<dyn Batch + '_>, StoreError>;

    /// After a failed commit: makes the backend usable again (reopens a
    /// database an I/O error left refusing everything, reconnects).
    fn recover(&self) -> Result<(), StoreError>;

    /// Whether a failed commit left the backend in need of [`Backend::recover`].
    fn needs_recovery(&self) -> bool;

    /// Bytes the backend uses for the tables (for `/metrics`).
    fn size_bytes(&self) -> Result<u64, StoreError>;

    /// What the backend is, for logs and status (never a password).
    fn describe(&self) -> String;

    /// Leases and commit notices between the nodes sharing the backend.
    fn coordination(&self) -> Arc<dyn crate::coordination::Coordination>;
}

/// A big-endian key of a number: numbers sort as their keys do.
pub fn u64_key(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

/// The number a [`u64_key`] (or an 8-byte counter value) holds.
pub fn u64_of(raw: &[u8]) -> Option<u64> {
    raw.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_be_bytes)
}

/// A big-endian key of a blob id.
pub fn u128_key(n: u128) -> [u8; 16] {
    n.to_be_bytes()
}

/// One table of a view, with the reading calls the store's modules use.
pub struct View<'a> {
    pub(crate) kv: &'a dyn KvRead,
    pub(crate) table: Table,
}

impl<'a> View<'a> {
    pub fn new(kv: &'a dyn KvRead, table: Table) -> Self {
        Self { kv, table }
    }

    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, StoreError> {
        self.kv.get(self.table, key.as_ref())
    }

    /// The value of `key` as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self, key: impl AsRef<[u8]>) -> Result<Option<T>, StoreError> {
        self.get(key)?
            .map(|raw| serde_json::from_slice(&raw).map_err(StoreError::from))
            .transpose()
    }

    /// Every value of the table as JSON, in key order.
    pub fn all_json<T: serde::de::DeserializeOwned>(&self) -> Result<Vec<T>, StoreError> {
        self.all(false)?.map(|item| Ok(serde_json::from_slice(&item?.1)?)).collect()
    }

    /// Every entry from `from` (inclusive) upward.
    pub fn from(&self, from: impl AsRef<[u8]>) -> Result<KvIter<'a>, StoreError> {
        self.kv.range(self.table, from.as_ref(), None, false)
    }

    /// Entries in `[from, to)`, ascending or descending.
    pub fn range(&self, from: &[u8], to: Option<&[u8]>, reverse: bool) -> Result<KvIter<'a>, StoreError> {
        self.kv.range(self.table, from, to, reverse)
    }

    /// Every entry whose key starts with `prefix`, ascending or descending.
    pub fn prefixed(&self, prefix: &[u8], reverse: bool) -> Result<KvIter<'a>, StoreError> {
        let end = crate::keys::prefix_end(prefix);
        self.kv.range(self.table, prefix, end.as_deref(), reverse)
    }

    /// Every entry, ascending or descending.
    pub fn all(&self, reverse: bool) -> Result<KvIter<'a>, StoreError> {
        self.kv.range(self.table, &[], None, reverse)
    }

    /// The first entry whose key starts with `prefix`.
    pub fn first_with(&self, prefix: &[u8]) -> Result<Option<Entry>, StoreError> {
        self.prefixed(prefix, false)?.next().transpose()
    }

    /// A counter value of the table (8 bytes, big-endian), 0 when absent.
    pub fn counter(&self, key: &str) -> Result<u64, StoreError> {
        Ok(self.get(key)?.as_deref().and_then(u64_of).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_listed_in_index_order() {
        for (i, t) in Table::ALL.iter().enumerate() {
            assert_eq!(t.index(), i, "{t:?}");
        }
    }

    #[test]
    fn number_keys_sort_as_numbers() {
        assert!(u64_key(255) < u64_key(256));
        assert!(u128_key(1) < u128_key(u128::from(u64::MAX) + 1));
        assert_eq!(u64_of(&u64_key(42)), Some(42));
        assert_eq!(u64_of(b"short"), None);
    }
}
