//! Global tables: applying table changes that arrive from another region.
//! A table definition creates the replica table (or adds regions to its
//! replica list); an item change is applied only if it is newer, by
//! hybrid-logical-clock time, than the item or tombstone this region holds
//! (last writer wins, deletes included). Applied changes keep their origin, so
//! they reach this region's stream but are never shipped back.

use serde_json::Value;
use tandem_store::Tx;
use tandem_store::replica::Applied;

use crate::api_error::{DynamoError, DynamoResult};
use crate::catalog;
use crate::storage::{self, Stamp};
use crate::table::TableDef;
use crate::value::Item;
use crate::wire::item_from_json;

fn parse_definition(definition: &Value) -> DynamoResult<TableDef> {
    serde_json::from_value(definition.clone()).map_err(|e| DynamoError::validation(format!("bad replicated table definition: {e}")))
}

/// Checks a replicated table definition without applying it.
pub fn check_table_definition(definition: &Value) -> DynamoResult<()> {
    parse_definition(definition)?.validate()
}

/// Creates the replica of a global table from its definition in `origin`, or
/// adds the regions it names to the local replica list.
pub fn apply_table_definition(tx: &mut Tx<'_>, definition: &Value, origin: &str, hlc: u64) -> DynamoResult<Applied> {
    let incoming = parse_definition(definition)?;
    tx.observe_clock(hlc);
    if catalog::exists_tx(tx, &incoming.name)? {
        let mut local = catalog::table_tx(tx, &incoming.name)?;
        let before = local.replicas.len();
        for region in &incoming.replicas {
            if !local.replicas.contains(region) {
                local.replicas.push(region.clone());
            }
        }
        if local.replicas.len() == before {
            return Ok(Applied::Stale);
        }
        local.include_own_region();
        catalog::save_as(tx, &local, origin, hlc)?;
        return Ok(Applied::Applied);
    }
    let now = tandem_store::now_ms();
    let mut def = TableDef {
        region: tx.region().to_string(),
        created_ms: now,
        stream_label: incoming
            .stream
            .as_ref()
            .filter(|s| s.stream_enabled)
            .map(|_| crate::ops::tables::stream_label(now)),
        stream_start_seq: tx.next_seq(),
        stream_end_seq: None,
        previous_streams: vec![],
        ..incoming
    };
    def.include_own_region();
    catalog::save_as(tx, &def, origin, hlc)?;
    Ok(Applied::Applied)
}

/// A replicated item change, decoded against the local table.
struct ItemChange {
    def: TableDef,
    key: Item,
    new: Option<Item>,
    primary: Vec<u8>,
}

fn decode_item_change(tx: &Tx<'_>, table: &str, keys: &Value, new: Option<&Value>) -> DynamoResult<ItemChange> {
    let def = catalog::table_tx(tx, table)?;
    let bad = |e: crate::error::Error| DynamoError::validation(format!("bad replicated item: {e}"));
    let key = item_from_json(keys).map_err(bad)?;
    let new = new.map(item_from_json).transpose().map_err(bad)?;
    let primary = storage::primary_key(&def, &key)?;
    if let Some(item) = &new {
        storage::check_index_keys(&def, item)?;
    }
    Ok(ItemChange { def, key, new, primary })
}

/// Checks that an item change can be applied here (its table exists, its key
/// fits the table); writes nothing.
pub fn check_item_change(tx: &Tx<'_>, table: &str, keys: &Value, new: Option<&Value>) -> DynamoResult<()> {
    decode_item_change(tx, table, keys, new).map(|_| ())
}

/// Applies a put (`new = Some`) or delete of one item, stamped with its origin
/// and clock time, if it is newer than what this region holds for the key.
pub fn apply_item_change(tx: &mut Tx<'_>, table: &str, keys: &Value, new: Option<&Value>, stamp: Stamp) -> DynamoResult<Applied> {
    tx.observe_clock(stamp.hlc);
    let change = decode_item_change(tx, table, keys, new)?;
    if let Some((hlc, origin)) = storage::latest_stamp(tx, &change.primary)?
        && !stamp.beats(hlc, &origin)
    {
        return Ok(Applied::Stale);
    }
    let old = storage::read_item_tx(tx, &change.primary)?;
    storage::write_item_stamped(tx, &change.def, &change.key, old.as_ref(), change.new.as_ref(), stamp)?;
    Ok(Applied::Applied)
}
