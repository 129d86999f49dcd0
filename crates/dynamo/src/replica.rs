//! Global tables: applying table changes that arrive from another region.
//! A table definition creates the replica table (or adds regions to its
//! replica list); an item change is applied only if it is newer, by
//! hybrid-logical-clock time, than the item or tombstone this region holds
//! (last writer wins, deletes included). Applied changes keep their origin, so
//! they reach this region's stream but are never shipped back.

use serde_json::Value;
use tandem_store::replica::Applied;
use tandem_store::{ReadTx, Tx};

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

/// Forgets `origin`'s replica of a table after that region deleted it.
pub fn drop_replica(tx: &mut Tx<'_>, table: &str, origin: &str, hlc: u64) -> DynamoResult<Applied> {
    tx.observe_clock(hlc);
    if !catalog::exists_tx(tx, table)? {
        return Ok(Applied::Stale);
    }
    let mut def = catalog::table_tx(tx, table)?;
    if !def.replicas.iter().any(|r| r == origin) {
        return Ok(Applied::Stale);
    }
    def.replicas.retain(|r| r != origin);
    if !def.is_global() {
        def.replicas.clear();
    }
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

/// A page of a table's stored items: (encoded primary key, stored item).
struct ItemsPage {
    items: Vec<(Vec<u8>, storage::StoredItem)>,
    /// The encoded key of the last item, hex, when more items may follow.
    next: Option<String>,
}

/// Collects up to `limit` items after `after` from an ordered visit.
fn collect_page<V>(visit: V, after: Option<&[u8]>, limit: usize) -> DynamoResult<ItemsPage>
where
    V: FnOnce(&mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<(), tandem_store::StoreError>,
{
    let mut items = Vec::new();
    let (mut more, mut corrupt) = (false, None);
    visit(&mut |k, v| {
        if Some(k) == after {
            return true;
        }
        if items.len() >= limit {
            more = true;
            return false;
        }
        match serde_json::from_slice::<storage::StoredItem>(v) {
            Ok(stored) => items.push((k.to_vec(), stored)),
            Err(e) => corrupt = Some(e),
        }
        true
    })?;
    if let Some(e) = corrupt {
        return Err(DynamoError::internal(format!("corrupt item: {e}")));
    }
    let next = more.then(|| items.last().map(|(k, _): &(Vec<u8>, _)| hex(k))).flatten();
    Ok(ItemsPage { items, next })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decodes a page position written by [`hex`].
pub fn parse_position(text: &str) -> DynamoResult<Vec<u8>> {
    let bad = || DynamoError::validation(format!("bad position {text:?}"));
    if !text.len().is_multiple_of(2) {
        return Err(bad());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2).ok_or_else(bad)?, 16).map_err(|_| bad()))
        .collect()
}

/// The key attributes of a stored item under the table's key schema.
fn keys_of(def: &TableDef, stored: &storage::StoredItem) -> DynamoResult<(Value, Value)> {
    let item = item_from_json(&stored.item).map_err(|e| DynamoError::internal(e.to_string()))?;
    let keys = storage::key_item(&def.key(), &item)?;
    Ok((crate::wire::item_to_json(&keys), stored.item.clone()))
}

/// Items written in this region, announced again (`ItemResync`) so that
/// replication ships them to every replica: when a replica is added to a
/// table that already has items, and by `tandem replication resync --table`.
/// Returns how many were queued and where to continue.
pub fn announce_items(tx: &mut Tx<'_>, table: &str, after: Option<&[u8]>, limit: usize) -> DynamoResult<(u64, Option<String>)> {
    let def = catalog::table_tx(tx, table)?;
    let prefix = crate::keys::table_prefix(table);
    let page = collect_page(
        |f| tx.item_visit(tandem_store::Space::Items, &prefix, after, false, |k, v| f(k, v)),
        after,
        limit,
    )?;
    let (mut queued, local) = (0, tx.region().to_string());
    for (_, stored) in page.items.iter().filter(|(_, s)| s.origin == local) {
        let (keys, item) = keys_of(&def, stored)?;
        let origin = stored.origin.clone();
        tx.append(
            &origin,
            stored.hlc,
            tandem_store::Change::ItemResync {
                table: table.to_string(),
                keys,
                item,
            },
        )?;
        queued += 1;
    }
    Ok((queued, page.next))
}

/// One page of a table's items with their stamps, for `tandem replication diff`.
pub fn inventory(read: &ReadTx, table: &str, after: Option<&[u8]>, limit: usize) -> DynamoResult<(Vec<Value>, Option<String>)> {
    let def = catalog::table(read, table)?;
    let prefix = crate::keys::table_prefix(table);
    let page = collect_page(
        |f| read.item_visit(tandem_store::Space::Items, &prefix, after, false, |k, v| f(k, v)),
        after,
        limit,
    )?;
    let mut out = Vec::with_capacity(page.items.len());
    for (_, stored) in &page.items {
        let (keys, item) = keys_of(&def, stored)?;
        out.push(serde_json::json!({ "keys": keys, "item": item, "hlc": stored.hlc, "origin": stored.origin }));
    }
    Ok((out, page.next))
}
