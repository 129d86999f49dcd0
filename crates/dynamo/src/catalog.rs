//! The table catalog: table definitions in the store, created, changed and
//! dropped in the same commit as their change-log entry.

use tandem_store::{Change, ReadTx, Space, Tx};

use crate::api_error::{DynamoError, DynamoResult};
use crate::keys;
use crate::table::TableDef;

fn parse(raw: &[u8]) -> DynamoResult<TableDef> {
    serde_json::from_slice(raw).map_err(|e| DynamoError::internal(format!("corrupt table definition: {e}")))
}

fn not_found(name: &str) -> DynamoError {
    DynamoError::not_found(format!("Requested resource not found: Table: {name} not found"))
}

/// A table's definition, or ResourceNotFoundException.
pub fn table(read: &ReadTx, name: &str) -> DynamoResult<TableDef> {
    read.catalog_get(name)?
        .map(|raw| parse(&raw))
        .transpose()?
        .ok_or_else(|| not_found(name))
}

pub fn table_tx(tx: &Tx<'_>, name: &str) -> DynamoResult<TableDef> {
    tx.catalog_get(name)?
        .map(|raw| parse(&raw))
        .transpose()?
        .ok_or_else(|| not_found(name))
}

/// A table whose definition a client is about to change: refused, like any
/// client write, when the write gate says this region may not take it.
pub fn writable_table_tx(tx: &Tx<'_>, name: &str) -> DynamoResult<TableDef> {
    let def = table_tx(tx, name)?;
    tx.check_write(tandem_store::Resource::Table(name))?;
    Ok(def)
}

pub fn exists_tx(tx: &Tx<'_>, name: &str) -> DynamoResult<bool> {
    Ok(tx.catalog_get(name)?.is_some())
}

/// All table definitions, ordered by name.
pub fn tables(read: &ReadTx) -> DynamoResult<Vec<TableDef>> {
    read.catalog_list()?.iter().map(|(_, raw)| parse(raw)).collect()
}

/// Stores a (new or changed) definition and logs it.
pub fn save(tx: &mut Tx<'_>, def: &TableDef) -> DynamoResult<()> {
    let (hlc, origin) = (tx.now(), tx.region().to_string());
    save_as(tx, def, &origin, hlc)
}

/// [`save`] for a definition that came from `origin` (a global table's replica).
pub fn save_as(tx: &mut Tx<'_>, def: &TableDef, origin: &str, hlc: u64) -> DynamoResult<()> {
    let definition = serde_json::to_value(def).map_err(|e| DynamoError::internal(e.to_string()))?;
    tx.catalog_put(&def.name, definition.to_string().as_bytes())?;
    tx.append(
        origin,
        hlc,
        Change::TableDefined {
            name: def.name.clone(),
            definition,
        },
    )?;
    Ok(())
}

/// Drops a table with all its items and index entries, and logs it.
pub fn drop_table(tx: &mut Tx<'_>, name: &str) -> DynamoResult<()> {
    let def = table_tx(tx, name)?;
    for index in def.global_indexes.iter().chain(&def.local_indexes) {
        tx.item_delete_prefix(Space::Index, &keys::index_prefix(name, &index.index_name))?;
    }
    tx.item_delete_prefix(Space::Index, &crate::collection::counters_prefix(name))?;
    tx.item_delete_prefix(Space::Items, &keys::table_prefix(name))?;
    tx.item_delete_prefix(Space::Tombstones, &keys::table_prefix(name))?;
    tx.catalog_delete(name)?;
    let (hlc, origin) = (tx.now(), tx.region().to_string());
    tx.append(
        &origin,
        hlc,
        Change::TableDeleted {
            name: name.to_string(),
            replicas: def.replicas.clone(),
        },
    )?;
    Ok(())
}
