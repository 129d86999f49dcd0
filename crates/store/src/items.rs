//! Storage for table items (the DynamoDB API): opaque ordered keys and values in
//! key spaces — `items` (primary key → item) and `index` (secondary-index key →
//! item copy) — plus a catalog of table definitions. The table API crate decides
//! how keys are encoded and what the bytes mean; this module only makes the
//! reads consistent and the writes part of the shared, durable transaction.
//! A third space keeps deletion tombstones of replicated tables.

use redb::{ReadableTable, TableDefinition};

use crate::db::{ReadTx, Tx};
use crate::error::StoreError;
use crate::keys::prefix_end;

/// Table name → table definition (JSON, owned by the table API crate).
pub(crate) const CATALOG: TableDefinition<&str, &[u8]> = TableDefinition::new("catalog");
/// Encoded primary key → item.
pub(crate) const ITEMS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("items");
/// Encoded index key → item copy.
pub(crate) const INDEX: TableDefinition<&[u8], &[u8]> = TableDefinition::new("index");
/// Encoded primary key → when and where the item was deleted, for replicated
/// tables: a delete must still win over an older write that arrives later.
pub(crate) const TOMBSTONES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tombstones");

/// Which key space an operation addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Space {
    Items,
    Index,
    Tombstones,
}

impl Space {
    fn def(self) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
        match self {
            Space::Items => ITEMS,
            Space::Index => INDEX,
            Space::Tombstones => TOMBSTONES,
        }
    }
}

/// One entry of a range scan: key and value guards.
type Entry<'a> = (redb::AccessGuard<'a, &'static [u8]>, redb::AccessGuard<'a, &'static [u8]>);

/// Visits entries of `table` whose key starts with `prefix`, from `start`
/// (inclusive) upward, or downward from `start` (exclusive) when `reverse`.
fn visit<T, F>(table: &T, prefix: &[u8], start: Option<&[u8]>, reverse: bool, mut f: F) -> Result<(), StoreError>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
    F: FnMut(&[u8], &[u8]) -> bool,
{
    let end = prefix_end(prefix);
    let mut emit = |item: Result<Entry<'_>, redb::StorageError>| -> Result<bool, StoreError> {
        let (k, v) = item?;
        Ok(f(k.value(), v.value()))
    };
    if reverse {
        let upper = start.map(<[u8]>::to_vec).or(end);
        let range = match &upper {
            Some(u) => table.range(prefix..u.as_slice())?,
            None => table.range(prefix..)?,
        };
        for item in range.rev() {
            if !emit(item)? {
                break;
            }
        }
    } else {
        let lower = start.unwrap_or(prefix);
        let range = match &end {
            Some(e) => table.range(lower..e.as_slice())?,
            None => table.range(lower..)?,
        };
        for item in range {
            if !emit(item)? {
                break;
            }
        }
    }
    Ok(())
}

impl ReadTx {
    pub fn catalog_get(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let t = self.table(CATALOG)?;
        Ok(t.get(name)?.map(|v| v.value().to_vec()))
    }

    pub fn catalog_list(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let t = self.table(CATALOG)?;
        let mut out = Vec::new();
        for item in t.iter()? {
            let (k, v) = item?;
            out.push((k.value().to_string(), v.value().to_vec()));
        }
        Ok(out)
    }

    pub fn item_get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let t = self.table(space.def())?;
        Ok(t.get(key)?.map(|v| v.value().to_vec()))
    }

    /// Ordered visit of a key range; `f` returns `false` to stop.
    pub fn item_visit<F>(&self, space: Space, prefix: &[u8], start: Option<&[u8]>, reverse: bool, f: F) -> Result<(), StoreError>
    where
        F: FnMut(&[u8], &[u8]) -> bool,
    {
        visit(&self.table(space.def())?, prefix, start, reverse, f)
    }
}

impl Tx<'_> {
    pub fn catalog_get(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let t = self.table(CATALOG)?;
        Ok(t.get(name)?.map(|v| v.value().to_vec()))
    }

    pub fn catalog_put(&mut self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        self.writer(CATALOG)?.insert(name, value)?;
        Ok(())
    }

    pub fn catalog_delete(&mut self, name: &str) -> Result<(), StoreError> {
        self.writer(CATALOG)?.remove(name)?;
        Ok(())
    }

    pub fn item_get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let t = self.table(space.def())?;
        Ok(t.get(key)?.map(|v| v.value().to_vec()))
    }

    pub fn item_put(&mut self, space: Space, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.writer(space.def())?.insert(key, value)?;
        Ok(())
    }

    pub fn item_delete(&mut self, space: Space, key: &[u8]) -> Result<(), StoreError> {
        self.writer(space.def())?.remove(key)?;
        Ok(())
    }

    /// Removes every entry whose key starts with `prefix` (dropping a table or index).
    pub fn item_delete_prefix(&mut self, space: Space, prefix: &[u8]) -> Result<u64, StoreError> {
        let mut table = self.writer(space.def())?;
        let mut keys = Vec::new();
        visit(&table, prefix, None, false, |k, _| {
            keys.push(k.to_vec());
            true
        })?;
        for k in &keys {
            table.remove(k.as_slice())?;
        }
        Ok(keys.len() as u64)
    }

    /// Ordered visit inside the write transaction (sees this transaction's writes).
    pub fn item_visit<F>(&self, space: Space, prefix: &[u8], start: Option<&[u8]>, reverse: bool, f: F) -> Result<(), StoreError>
    where
        F: FnMut(&[u8], &[u8]) -> bool,
    {
        visit(&self.table(space.def())?, prefix, start, reverse, f)
    }
}
