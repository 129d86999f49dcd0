//! Converts a `meta.redb` written before the backend boundary, whose tables
//! were typed (numbers, strings, tuples as keys) under bare names, into the
//! byte tables of [`crate::redb_backend`], inside the transaction that opens
//! the file: either every table is converted or none is.

use redb::{Key, ReadableTable, TableDefinition, TableHandle, Value, WriteTransaction};

use crate::error::StoreError;
use crate::kv::{Table, u64_key, u128_key};
use crate::redb_backend::def;

type Bytes = &'static [u8];
type Str = &'static str;

/// Converts every old table the file has; a new or converted file has none.
pub(crate) fn migrate(txn: &WriteTransaction) -> Result<(), StoreError> {
    let old: Vec<String> = txn.list_tables()?.map(|t| t.name().to_string()).collect();
    let has = |t: Table| old.iter().any(|n| n == t.name());
    if !Table::ALL.into_iter().any(has) {
        return Ok(());
    }
    let mut moved = 0u64;
    for table in Table::ALL.into_iter().filter(|t| has(*t)) {
        moved += match table {
            Table::Buckets
            | Table::Uploads
            | Table::Completed
            | Table::Apps
            | Table::AppSpecs
            | Table::Identity
            | Table::Catalog
            | Table::Registry => convert::<Str, Bytes>(txn, table, |k, v| (k.as_bytes().to_vec(), v.to_vec()))?,
            Table::Current | Table::Versions | Table::Parts | Table::CompletedAt | Table::Items | Table::Index | Table::Tombstones => {
                convert::<Bytes, Bytes>(txn, table, |k, v| (k.to_vec(), v.to_vec()))?
            }
            Table::Inline => convert::<u128, Bytes>(txn, table, |k, v| (u128_key(k).to_vec(), v.to_vec()))?,
            Table::Changes => convert::<u64, Bytes>(txn, table, |k, v| (u64_key(k).to_vec(), v.to_vec()))?,
            Table::Meta => convert::<Str, u64>(txn, table, |k, v| (k.as_bytes().to_vec(), u64_key(v).to_vec()))?,
            Table::AppAudit => convert::<(Str, u64), Bytes>(txn, table, |(app, seq), v| (crate::control::audit_key(app, seq), v.to_vec()))?,
            Table::Drills => convert::<(u64, u64), Bytes>(txn, table, |(at, n), v| (crate::control::drill_key(at, n), v.to_vec()))?,
        };
    }
    tracing::info!(entries = moved, "converted the metadata file to the byte-table layout");
    Ok(())
}

/// Copies the old typed table `table` into its byte table and deletes it.
fn convert<K: Key + 'static, V: Value + 'static>(
    txn: &WriteTransaction,
    table: Table,
    f: impl for<'a> Fn(K::SelfType<'a>, V::SelfType<'a>) -> (Vec<u8>, Vec<u8>),
) -> Result<u64, StoreError> {
    let old: TableDefinition<K, V> = TableDefinition::new(table.name());
    let mut count = 0;
    {
        let from = txn.open_table(old)?;
        let mut to = txn.open_table(def(table))?;
        for item in from.iter()? {
            let (k, v) = item?;
            let (k, v) = f(k.value(), v.value());
            to.insert(k.as_slice(), v.as_slice())?;
            count += 1;
        }
    }
    txn.delete_table(old)?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::{Database, ReadableDatabase};

    #[test]
    fn an_old_typed_file_is_converted_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.redb");
        {
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let mut meta = txn.open_table(TableDefinition::<Str, u64>::new("meta")).unwrap();
                meta.insert("last_seq", 7).unwrap();
                let mut changes = txn.open_table(TableDefinition::<u64, Bytes>::new("changes")).unwrap();
                changes.insert(300, b"entry".as_slice()).unwrap();
                let mut buckets = txn.open_table(TableDefinition::<Str, Bytes>::new("buckets")).unwrap();
                buckets.insert("b", b"{}".as_slice()).unwrap();
                let mut audit = txn.open_table(TableDefinition::<(Str, u64), Bytes>::new("app_audit")).unwrap();
                audit.insert(("photos", 3), b"a".as_slice()).unwrap();
            }
            txn.commit().unwrap();
        }
        let backend = crate::redb_backend::RedbBackend::open(&path).unwrap();
        use crate::kv::Backend;
        let snap = backend.snapshot().unwrap();
        assert_eq!(snap.get(Table::Meta, b"last_seq").unwrap(), Some(u64_key(7).to_vec()));
        assert_eq!(snap.get(Table::Changes, &u64_key(300)).unwrap(), Some(b"entry".to_vec()));
        assert_eq!(snap.get(Table::Buckets, b"b").unwrap(), Some(b"{}".to_vec()));
        let key = crate::control::audit_key("photos", 3);
        assert_eq!(snap.get(Table::AppAudit, &key).unwrap(), Some(b"a".to_vec()));
        drop(snap);
        drop(backend);
        let db = Database::create(&path).unwrap();
        let read = db.begin_read().unwrap();
        let names: Vec<String> = read.list_tables().unwrap().map(|t| t.name().to_string()).collect();
        assert!(names.iter().all(|n| n.starts_with("kv.")), "{names:?}");
    }
}
