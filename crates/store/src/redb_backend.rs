//! The embedded backend: every table is a redb table of bytes to bytes in one
//! file, `meta.redb`. A commit is fsynced before it returns.
//!
//! A batch reads from a read transaction taken when it begins (the node's
//! writer is the file's only writer, so that is the state the batch writes
//! over) and applies its writes to a write transaction just before it
//! commits.
//!
//! A full disk: if a commit fails in a way that leaves redb refusing every
//! later operation until the database is reopened, [`Backend::recover`]
//! closes and reopens it (redb repairs it to the last durable commit).

use redb::{Database, ReadTransaction, ReadableDatabase, TableDefinition, WriteTransaction};
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use crate::error::StoreError;
use crate::kv::{Backend, Batch, KvIter, KvRead, Snapshot, Table};

/// A table of the embedded backend. Names carry a `kv.` prefix: files written
/// before the backend boundary had typed tables under the bare names, which
/// [`crate::redb_migrate`] converts when such a file is opened.
type Def = TableDefinition<'static, &'static [u8], &'static [u8]>;

/// `kv.` + [`Table::name`], in [`Table::ALL`] order.
const KV_NAMES: [&str; 20] = [
    "kv.buckets",
    "kv.current",
    "kv.versions",
    "kv.inline",
    "kv.uploads",
    "kv.parts",
    "kv.changes",
    "kv.meta",
    "kv.completed_uploads",
    "kv.completed_uploads_by_time",
    "kv.apps",
    "kv.app_specs",
    "kv.app_audit",
    "kv.drills",
    "kv.identity",
    "kv.catalog",
    "kv.items",
    "kv.index",
    "kv.tombstones",
    "kv.registry",
];

pub(crate) fn def(table: Table) -> Def {
    TableDefinition::new(KV_NAMES[table.index()])
}

pub(crate) struct RedbBackend {
    /// `None` only while the database is being reopened after an I/O failure
    /// and the reopen has not succeeded yet.
    db: RwLock<Option<Database>>,
    path: PathBuf,
}

impl RedbBackend {
    /// Opens (or creates) `path`, converting a file of the older typed layout.
    pub(crate) fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Db(format!(
                "data directory {} is locked by another process (another tandem serve or tandem dev?): stop it or pass --data-dir",
                path.parent().unwrap_or(path).display()
            )),
            e => e.into(),
        })?;
        let txn = db.begin_write()?;
        crate::redb_migrate::migrate(&txn)?;
        // Creating every table up front lets readers open them unconditionally.
        for table in Table::ALL {
            txn.open_table(def(table))?;
        }
        txn.commit()?;
        Ok(Self {
            db: RwLock::new(Some(db)),
            path: path.to_path_buf(),
        })
    }

    fn with_db<R>(&self, f: impl FnOnce(&Database) -> Result<R, StoreError>) -> Result<R, StoreError> {
        let slot = self.db.read().unwrap_or_else(|e| e.into_inner());
        match slot.as_ref() {
            Some(db) => f(db),
            None => Err(StoreError::Db("the metadata database is being reopened after an I/O error".into())),
        }
    }
}

impl Backend for RedbBackend {
    fn snapshot(&self) -> Result<Box<dyn Snapshot>, StoreError> {
        Ok(Box::new(RedbSnapshot(self.with_db(|db| Ok(db.begin_read()?))?)))
    }

    fn begin(&self) -> Result<Box<dyn Batch + '_>, StoreError> {
        let (write, read) = self.with_db(|db| Ok((db.begin_write()?, db.begin_read()?)))?;
        Ok(Box::new(RedbBatch {
            read: RedbSnapshot(read),
            write,
        }))
    }

    fn recover(&self) -> Result<(), StoreError> {
        let mut slot = self.db.write().unwrap_or_else(|e| e.into_inner());
        if let Some(db) = slot.take()
            && let Err(e) = db.close()
        {
            tracing::debug!(error = %e, "closing the database after an I/O error");
        }
        *slot = Some(Database::create(&self.path)?);
        tracing::info!("metadata database reopened after an I/O error");
        Ok(())
    }

    fn needs_recovery(&self) -> bool {
        matches!(
            self.with_db(|db| Ok(db.begin_write().err())),
            Ok(Some(redb::TransactionError::Storage(redb::StorageError::PreviousIo))) | Err(_)
        )
    }

    fn size_bytes(&self) -> Result<u64, StoreError> {
        Ok(std::fs::metadata(&self.path)?.len())
    }

    fn describe(&self) -> String {
        format!("embedded ({})", self.path.display())
    }

    fn coordination(&self) -> std::sync::Arc<dyn crate::coordination::Coordination> {
        // redb locks its file: one node per embedded store.
        std::sync::Arc::new(crate::coordination::SingleNode)
    }
}

pub(crate) struct RedbSnapshot(ReadTransaction);

/// A key or value a range read yields.
type Guard = redb::AccessGuard<'static, &'static [u8]>;

impl KvRead for RedbSnapshot {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let t = self.0.open_table(def(table))?;
        Ok(t.get(key)?.map(|v| v.value().to_vec()))
    }

    fn range(&self, table: Table, from: &[u8], to: Option<&[u8]>, reverse: bool) -> Result<KvIter<'_>, StoreError> {
        let t = self.0.open_table(def(table))?;
        let range = match to {
            Some(to) if to <= from => return Ok(Box::new(std::iter::empty())),
            Some(to) => t.range(from..to)?,
            None => t.range(from..)?,
        };
        let owned = |item: Result<(Guard, Guard), redb::StorageError>| {
            let (k, v) = item?;
            Ok((k.value().to_vec(), v.value().to_vec()))
        };
        Ok(if reverse {
            Box::new(range.rev().map(owned))
        } else {
            Box::new(range.map(owned))
        })
    }
}

struct RedbBatch {
    read: RedbSnapshot,
    write: WriteTransaction,
}

impl KvRead for RedbBatch {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.read.get(table, key)
    }

    fn range(&self, table: Table, from: &[u8], to: Option<&[u8]>, reverse: bool) -> Result<KvIter<'_>, StoreError> {
        self.read.range(table, from, to, reverse)
    }
}

impl Batch for RedbBatch {
    fn apply(&mut self, table: Table, writes: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> Result<(), StoreError> {
        let mut t = self.write.open_table(def(table))?;
        for (key, value) in &writes {
            match value {
                Some(value) => drop(t.insert(key.as_slice(), value.as_slice())?),
                None => drop(t.remove(key.as_slice())?),
            }
        }
        Ok(())
    }

    fn commit(self: Box<Self>, _notice: &crate::coordination::CommitNotice) -> Result<(), StoreError> {
        let RedbBatch { read, write } = *self;
        drop(read);
        write.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_has_its_prefixed_name() {
        for table in Table::ALL {
            assert_eq!(KV_NAMES[table.index()], format!("kv.{}", table.name()));
        }
    }
}
