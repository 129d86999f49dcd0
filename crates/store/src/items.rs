//! Storage for table items (the DynamoDB API): opaque ordered keys and values in
//! key spaces — `items` (primary key → item) and `index` (secondary-index key →
//! item copy) — plus a catalog of table definitions. The table API crate decides
//! how keys are encoded and what the bytes mean; this module only makes the
//! reads consistent and the writes part of the shared, durable transaction.
//! A third space keeps deletion tombstones of replicated tables.

use crate::db::{ReadTx, Tx};
use crate::error::StoreError;
use crate::keys::prefix_end;
use crate::kv::{Table, View};

/// Which key space an operation addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Space {
    /// Encoded primary key → item.
    Items,
    /// Encoded index key → item copy.
    Index,
    /// Encoded primary key → when and where the item was deleted, for
    /// replicated tables: a delete must still win over an older write that
    /// arrives later.
    Tombstones,
}

impl Space {
    fn table(self) -> Table {
        match self {
            Space::Items => Table::Items,
            Space::Index => Table::Index,
            Space::Tombstones => Table::Tombstones,
        }
    }
}

/// Visits entries of `table` whose key starts with `prefix`, from `start`
/// (inclusive) upward, or downward from `start` (exclusive) when `reverse`.
fn visit<F>(table: &View<'_>, prefix: &[u8], start: Option<&[u8]>, reverse: bool, mut f: F) -> Result<(), StoreError>
where
    F: FnMut(&[u8], &[u8]) -> bool,
{
    let end = prefix_end(prefix);
    let range = if reverse {
        table.range(prefix, start.or(end.as_deref()), true)?
    } else {
        table.range(start.unwrap_or(prefix), end.as_deref(), false)?
    };
    for item in range {
        let (k, v) = item?;
        if !f(&k, &v) {
            break;
        }
    }
    Ok(())
}

impl ReadTx {
    pub fn catalog_get(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.table(Table::Catalog).get(name)
    }

    pub fn catalog_list(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        for item in self.table(Table::Catalog).all(false)? {
            let (k, v) = item?;
            out.push((String::from_utf8_lossy(&k).into_owned(), v));
        }
        Ok(out)
    }

    pub fn item_get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.table(space.table()).get(key)
    }

    /// Ordered visit of a key range; `f` returns `false` to stop.
    pub fn item_visit<F>(&self, space: Space, prefix: &[u8], start: Option<&[u8]>, reverse: bool, f: F) -> Result<(), StoreError>
    where
        F: FnMut(&[u8], &[u8]) -> bool,
    {
        visit(&self.table(space.table()), prefix, start, reverse, f)
    }
}

impl Tx<'_> {
    pub fn catalog_get(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.table(Table::Catalog).get(name)
    }

    pub fn catalog_put(&mut self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        self.put(Table::Catalog, name, value);
        Ok(())
    }

    pub fn catalog_delete(&mut self, name: &str) -> Result<(), StoreError> {
        self.delete(Table::Catalog, name);
        Ok(())
    }

    pub fn item_get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.table(space.table()).get(key)
    }

    pub fn item_put(&mut self, space: Space, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.put(space.table(), key, value);
        Ok(())
    }

    pub fn item_delete(&mut self, space: Space, key: &[u8]) -> Result<(), StoreError> {
        self.delete(space.table(), key);
        Ok(())
    }

    /// Removes every entry whose key starts with `prefix` (dropping a table or index).
    pub fn item_delete_prefix(&mut self, space: Space, prefix: &[u8]) -> Result<u64, StoreError> {
        let mut keys = Vec::new();
        visit(&self.table(space.table()), prefix, None, false, |k, _| {
            keys.push(k.to_vec());
            true
        })?;
        for k in &keys {
            self.delete(space.table(), k);
        }
        Ok(keys.len() as u64)
    }

    /// Ordered visit inside the write transaction (sees this transaction's writes).
    pub fn item_visit<F>(&self, space: Space, prefix: &[u8], start: Option<&[u8]>, reverse: bool, f: F) -> Result<(), StoreError>
    where
        F: FnMut(&[u8], &[u8]) -> bool,
    {
        visit(&self.table(space.table()), prefix, start, reverse, f)
    }
}
