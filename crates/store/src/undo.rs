//! The undo log that makes each write closure all or nothing inside the shared
//! group-commit transaction.
//!
//! Every write a closure makes goes through a [`TableWriter`] (the store's
//! [`crate::Tx`] hands out no writable table any other way), which records the
//! key it wrote and the value it replaced. When the closure returns an error or
//! panics, the writer thread replays the log backwards, so nothing of that
//! closure stays in the transaction while the other closures of the batch
//! commit. redb's own savepoints cannot do this: one can only be taken before a
//! transaction has opened any table.
//!
//! The log holds one closure's writes at a time and is bounded: a closure that
//! replaces more than [`MAX_UNDO_BYTES`] (dropping a huge table) keeps going
//! without a log, and if it then fails, the whole batch is refused instead —
//! every caller of the batch gets the error, nothing is committed.

use std::borrow::Borrow;
use std::ops::{Deref, RangeBounds};

use redb::{AccessGuard, Key, Range, ReadableTable, ReadableTableMetadata, Table, TableDefinition, TableStats, Value, WriteTransaction};

use crate::error::StoreError;

/// Bytes of keys and replaced values one closure's log may hold (1 MiB in
/// unit tests, to test the overflow cheaply).
pub(crate) const MAX_UNDO_BYTES: usize = if cfg!(test) { 1 << 20 } else { 64 << 20 };

/// Accounted per entry on top of its bytes (the entry itself).
const ENTRY_OVERHEAD: usize = 64;

/// Puts one key of one table back as it was.
type Restore = Box<dyn FnOnce(&WriteTransaction) -> Result<(), StoreError>>;

/// What one closure wrote, newest last.
#[derive(Default)]
pub(crate) struct UndoLog {
    entries: Vec<Restore>,
    bytes: usize,
    overflowed: bool,
}

impl UndoLog {
    /// Starts the log of the next closure.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
        self.overflowed = false;
    }

    /// Notes that `key` of `table` held `old` (`None`: did not exist).
    fn record<K: Key + 'static, V: Value + 'static>(&mut self, table: TableDefinition<'static, K, V>, key: Vec<u8>, old: Option<Vec<u8>>) {
        if self.overflowed {
            return;
        }
        self.bytes += ENTRY_OVERHEAD + key.len() + old.as_ref().map_or(0, Vec::len);
        if self.bytes > MAX_UNDO_BYTES {
            self.overflowed = true;
            self.entries = Vec::new();
            return;
        }
        self.entries.push(Box::new(move |txn| restore(txn, table, &key, old.as_deref())));
    }

    /// Undoes the closure's writes, newest first. Fails when the log overflowed
    /// or a write back fails: the transaction then holds part of the closure
    /// and must not be committed.
    pub(crate) fn roll_back(&mut self, txn: &WriteTransaction) -> Result<(), StoreError> {
        if self.overflowed {
            return Err(StoreError::Db(format!(
                "a failed write replaced more than {} MiB; its batch was refused as a whole",
                MAX_UNDO_BYTES >> 20
            )));
        }
        let entries = std::mem::take(&mut self.entries);
        for restore in entries.into_iter().rev() {
            restore(txn)?;
        }
        self.clear();
        Ok(())
    }
}

fn restore<K: Key + 'static, V: Value + 'static>(
    txn: &WriteTransaction,
    table: TableDefinition<'static, K, V>,
    key: &[u8],
    old: Option<&[u8]>,
) -> Result<(), StoreError> {
    let mut table = txn.open_table(table)?;
    let key = K::from_bytes(key);
    match old {
        Some(old) => drop(table.insert(key, V::from_bytes(old))?),
        None => drop(table.remove(key)?),
    }
    Ok(())
}

/// A table open for writing inside a closure: every insert and remove is
/// logged for undo. Reads go through `Deref` to the table.
pub struct TableWriter<'t, K: Key + 'static, V: Value + 'static> {
    table: Table<'t, K, V>,
    def: TableDefinition<'static, K, V>,
    undo: &'t mut UndoLog,
}

impl<'t, K: Key + 'static, V: Value + 'static> TableWriter<'t, K, V> {
    pub(crate) fn open(txn: &'t WriteTransaction, def: TableDefinition<'static, K, V>, undo: &'t mut UndoLog) -> Result<Self, StoreError> {
        Ok(Self {
            table: txn.open_table(def)?,
            def,
            undo,
        })
    }

    /// Inserts or replaces `key`.
    pub fn insert<'k, 'v>(&mut self, key: impl Borrow<K::SelfType<'k>>, value: impl Borrow<V::SelfType<'v>>) -> Result<(), StoreError> {
        let key_bytes = K::as_bytes(key.borrow()).as_ref().to_vec();
        let old = self.table.insert(key, value)?.map(|g| V::as_bytes(&g.value()).as_ref().to_vec());
        self.undo.record(self.def, key_bytes, old);
        Ok(())
    }

    /// Removes `key` if it exists.
    pub fn remove<'k>(&mut self, key: impl Borrow<K::SelfType<'k>>) -> Result<(), StoreError> {
        let key_bytes = K::as_bytes(key.borrow()).as_ref().to_vec();
        let old = self.table.remove(key)?.map(|g| V::as_bytes(&g.value()).as_ref().to_vec());
        if old.is_some() {
            self.undo.record(self.def, key_bytes, old);
        }
        Ok(())
    }
}

/// A table open for reading inside a closure; it has no writing methods.
pub struct TableReader<'t, K: Key + 'static, V: Value + 'static>(pub(crate) Table<'t, K, V>);

/// Reads of a [`TableReader`] and a [`TableWriter`] go to the table they wrap,
/// through `Deref` and through redb's reading traits.
macro_rules! reads_through {
    ($wrapper:ident, $field:tt) => {
        impl<'t, K: Key + 'static, V: Value + 'static> Deref for $wrapper<'t, K, V> {
            type Target = Table<'t, K, V>;

            fn deref(&self) -> &Self::Target {
                &self.$field
            }
        }

        impl<K: Key + 'static, V: Value + 'static> ReadableTableMetadata for $wrapper<'_, K, V> {
            fn stats(&self) -> redb::Result<TableStats> {
                self.$field.stats()
            }

            fn len(&self) -> redb::Result<u64> {
                self.$field.len()
            }
        }

        impl<K: Key + 'static, V: Value + 'static> ReadableTable<K, V> for $wrapper<'_, K, V> {
            fn get<'a>(&self, key: impl Borrow<K::SelfType<'a>>) -> redb::Result<Option<AccessGuard<'_, V>>> {
                self.$field.get(key)
            }

            fn range<'a, KR>(&self, range: impl RangeBounds<KR> + 'a) -> redb::Result<Range<'_, K, V>>
            where
                KR: Borrow<K::SelfType<'a>> + 'a,
            {
                self.$field.range(range)
            }

            fn first(&self) -> redb::Result<Option<(AccessGuard<'_, K>, AccessGuard<'_, V>)>> {
                self.$field.first()
            }

            fn last(&self) -> redb::Result<Option<(AccessGuard<'_, K>, AccessGuard<'_, V>)>> {
                self.$field.last()
            }
        }
    };
}

reads_through!(TableReader, 0);
reads_through!(TableWriter, table);
