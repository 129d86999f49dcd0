//! Reading and writing items inside a store transaction: the primary entry,
//! every secondary-index entry, and the change-log record (with old and new
//! images, which Streams and replication read) — all in the same commit.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tandem_store::{Change, ReadTx, Space, Tx};

use crate::api_error::{DynamoError, DynamoResult};
use crate::collection::{self, Collection};
use crate::keys;
use crate::table::{KeyShape, TableDef};
use crate::value::{AttributeValue, Item};
use crate::wire::{item_from_json, item_to_json};

/// An item as stored: its attributes plus who wrote it when (for last-writer-wins).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredItem {
    pub item: Value,
    pub hlc: u64,
    pub origin: String,
}

/// DynamoDB's limits on key attribute sizes.
const MAX_HASH_KEY_BYTES: usize = 2048;
const MAX_RANGE_KEY_BYTES: usize = 1024;

/// The key attributes of an item under a key shape, or a validation error
/// naming what is missing or mistyped.
pub fn key_values<'a>(shape: &KeyShape, item: &'a Item) -> DynamoResult<(&'a AttributeValue, Option<&'a AttributeValue>)> {
    let get = |(name, ty): &(String, String), is_hash: bool| -> DynamoResult<&'a AttributeValue> {
        let v = item.get(name).ok_or_else(|| {
            DynamoError::validation(format!(
                "One or more parameter values were invalid: Missing the key {name} in the item"
            ))
        })?;
        if v.type_name() != ty {
            return Err(DynamoError::validation(format!(
                "One or more parameter values were invalid: Type mismatch for key {name} expected: {ty} actual: {}",
                v.type_name()
            )));
        }
        if matches!(v, AttributeValue::S(s) if s.is_empty()) || matches!(v, AttributeValue::B(b) if b.is_empty()) {
            return Err(DynamoError::validation(format!(
                "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: {name}"
            )));
        }
        check_key_size(v, is_hash)?;
        Ok(v)
    };
    Ok((get(&shape.hash, true)?, shape.range.as_ref().map(|r| get(r, false)).transpose()?))
}

/// DynamoDB's limits on a key value (a table's or an index's): 2048 bytes for
/// a partition key, 1024 for a sort key, counting a string's UTF-8 bytes and
/// a binary's raw bytes.
fn check_key_size(v: &AttributeValue, is_hash: bool) -> DynamoResult<()> {
    let size = match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::B(b) => b.len(),
        other => crate::keys::sort_bytes(other)?.len(),
    };
    match is_hash {
        true if size > MAX_HASH_KEY_BYTES => Err(DynamoError::validation(format!(
            "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of{MAX_HASH_KEY_BYTES} bytes"
        ))),
        false if size > MAX_RANGE_KEY_BYTES => Err(DynamoError::validation(format!(
            "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of {MAX_RANGE_KEY_BYTES} bytes"
        ))),
        _ => Ok(()),
    }
}

/// The key attributes alone, as an item.
pub fn key_item(shape: &KeyShape, item: &Item) -> DynamoResult<Item> {
    let (h, r) = key_values(shape, item)?;
    let mut out = Item::new();
    out.insert(shape.hash.0.clone(), h.clone());
    if let (Some(r), Some((name, _))) = (r, &shape.range) {
        out.insert(name.clone(), r.clone());
    }
    Ok(out)
}

/// Checks that a `Key` parameter names exactly the table's key attributes.
pub fn validate_key_param(shape: &KeyShape, key: &Item) -> DynamoResult<()> {
    let expected = 1 + usize::from(shape.range.is_some());
    let typed = |(name, ty): &(String, String)| key.get(name).is_some_and(|v| v.type_name() == ty);
    if key.len() != expected || !typed(&shape.hash) || !shape.range.as_ref().is_none_or(typed) {
        return Err(DynamoError::validation("The provided key element does not match the schema"));
    }
    key_values(shape, key).map(|_| ())
}

/// Encoded primary key of an item.
pub fn primary_key(def: &TableDef, item: &Item) -> DynamoResult<Vec<u8>> {
    let (h, r) = key_values(&def.key(), item)?;
    keys::primary_key(&def.name, h, r)
}

fn decode(raw: &[u8]) -> DynamoResult<StoredItem> {
    serde_json::from_slice(raw).map_err(|e| DynamoError::internal(format!("corrupt item: {e}")))
}

/// Reads an item by its encoded primary key.
pub fn read_item(read: &ReadTx, key: &[u8]) -> DynamoResult<Option<Item>> {
    match read.item_get(Space::Items, key)? {
        Some(raw) => Ok(Some(
            item_from_json(&decode(&raw)?.item).map_err(|e| DynamoError::internal(e.to_string()))?,
        )),
        None => Ok(None),
    }
}

/// Reads an item inside a write transaction (sees earlier writes of the batch).
pub fn read_item_tx(tx: &Tx<'_>, key: &[u8]) -> DynamoResult<Option<Item>> {
    match tx.item_get(Space::Items, key)? {
        Some(raw) => Ok(Some(
            item_from_json(&decode(&raw)?.item).map_err(|e| DynamoError::internal(e.to_string()))?,
        )),
        None => Ok(None),
    }
}

/// The key of an item's entry in one index, or `None` when the item lacks the
/// index's key attributes (with the right types) and so is not in that index.
pub fn index_entry(def: &TableDef, index: &crate::table::IndexDef, item: &Item, primary: &[u8]) -> DynamoResult<Option<Vec<u8>>> {
    let shape = def.index_key(index);
    let typed = |(name, ty): &(String, String)| item.get(name).filter(|v| v.type_name() == ty);
    let Some(h) = typed(&shape.hash) else { return Ok(None) };
    let r = match &shape.range {
        Some(rk) => match typed(rk) {
            Some(v) => Some(v),
            None => return Ok(None),
        },
        None => None,
    };
    keys::index_key(&def.name, &index.index_name, h, r, primary).map(Some)
}

/// Index entries an item has, in every index of the table.
fn index_entries(def: &TableDef, item: &Item, primary: &[u8]) -> DynamoResult<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for index in def.global_indexes.iter().chain(&def.local_indexes) {
        out.extend(index_entry(def, index, item, primary)?);
    }
    Ok(out)
}

/// Checks an item's secondary-index key attributes: where present they must
/// have the index's key type and must not be empty.
pub fn check_index_keys(def: &TableDef, item: &Item) -> DynamoResult<()> {
    for index in def.global_indexes.iter().chain(&def.local_indexes) {
        let shape = def.index_key(index);
        let keys = std::iter::once((&shape.hash, true)).chain(shape.range.as_ref().map(|r| (r, false)));
        for ((name, ty), is_hash) in keys {
            let Some(v) = item.get(name) else { continue };
            if v.type_name() != ty {
                return Err(DynamoError::validation(format!(
                    "One or more parameter values were invalid: Type mismatch for Index Key {name} Expected: {ty} Actual: {} IndexName: {}",
                    v.type_name(),
                    index.index_name
                )));
            }
            if matches!(v, AttributeValue::S(s) if s.is_empty()) || matches!(v, AttributeValue::B(b) if b.is_empty()) {
                return Err(DynamoError::validation(format!(
                    "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty string value. IndexName: {}, IndexKey: {name}",
                    index.index_name
                )));
            }
            check_key_size(v, is_hash)?;
        }
    }
    Ok(())
}

/// Who made a write, and when: a local write takes this node's clock and
/// region; a replicated write keeps its origin's.
#[derive(Debug, Clone)]
pub struct Stamp {
    pub hlc: u64,
    pub origin: String,
    /// Made by the service itself (a TTL expiry), not by a client.
    pub by_service: bool,
}

impl Stamp {
    /// A write accepted by this node now.
    pub fn local(tx: &Tx<'_>, by_service: bool) -> Self {
        Self {
            hlc: tx.now(),
            origin: tx.region().to_string(),
            by_service,
        }
    }

    /// Whether this write is newer than one stamped `(hlc, origin)`; the
    /// region name breaks an exact tie, so every region picks the same winner.
    pub fn beats(&self, hlc: u64, origin: &str) -> bool {
        (self.hlc, self.origin.as_str()) > (hlc, origin)
    }
}

/// When and where an item of a replicated table was deleted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tombstone {
    pub hlc: u64,
    pub origin: String,
}

/// Writes (`new = Some`) or deletes (`None`) an item, keeping indexes, the
/// item collection's size and the change log in step. `old` is the item's
/// current image. Writing an item identical to the current one changes nothing
/// (and makes no stream record). Callers check [`check_index_keys`] for every
/// item of a multi-item write before the first write; this function checks
/// before it mutates.
/// In a global table the stored item also carries where and when it was last
/// written (`aws:rep:updateregion`, `aws:rep:updatetime`), as DynamoDB's global
/// tables expose them; replicas receive the item with these attributes.
/// A client write: refused when this region may not take writes to the table
/// now, or when it would grow an item collection past `collection_limit`.
/// Returns the item's collection after the write (tables with local indexes).
pub fn write_item(
    tx: &mut Tx<'_>,
    def: &TableDef,
    key: &Item,
    old: Option<&Item>,
    new: Option<&Item>,
    collection_limit: u64,
) -> DynamoResult<Option<Collection>> {
    tx.check_write(tandem_store::Resource::Table(&def.name))?;
    let stamp = Stamp::local(tx, false);
    match new.filter(|_| def.is_global()) {
        Some(item) => {
            let marked = with_replication_marks(item, &stamp);
            write_stamped(tx, def, key, old, Some(&marked), stamp, Some(collection_limit))
        }
        None => write_stamped(tx, def, key, old, new, stamp, Some(collection_limit)),
    }
}

/// Attribute naming the region of the last write of a global-table item.
pub const UPDATE_REGION: &str = "aws:rep:updateregion";
/// Attribute holding the time of that write, seconds since the epoch.
pub const UPDATE_TIME: &str = "aws:rep:updatetime";

fn with_replication_marks(item: &Item, stamp: &Stamp) -> Item {
    let mut marked = item.clone();
    let millis = tandem_store::hlc::hlc_millis(stamp.hlc);
    marked.insert(UPDATE_REGION.to_string(), AttributeValue::S(stamp.origin.clone()));
    if let Ok(n) = crate::number::Number::parse(&format!("{}.{:03}", millis / 1000, millis % 1000)) {
        marked.insert(UPDATE_TIME.to_string(), AttributeValue::N(n));
    }
    marked
}

/// [`write_item`] with an explicit stamp: a TTL expiry, or a write replicated
/// from another region. A delete in a replicated table leaves a tombstone so
/// that an older write arriving later cannot bring the item back. Never
/// refused for a collection's size: the write already happened elsewhere, or
/// shrinks the collection.
pub fn write_item_stamped(
    tx: &mut Tx<'_>,
    def: &TableDef,
    key: &Item,
    old: Option<&Item>,
    new: Option<&Item>,
    stamp: Stamp,
) -> DynamoResult<()> {
    write_stamped(tx, def, key, old, new, stamp, None).map(|_| ())
}

fn write_stamped(
    tx: &mut Tx<'_>,
    def: &TableDef,
    key: &Item,
    old: Option<&Item>,
    new: Option<&Item>,
    stamp: Stamp,
    collection_limit: Option<u64>,
) -> DynamoResult<Option<Collection>> {
    if let Some(item) = new {
        check_index_keys(def, item)?;
    }
    let primary = primary_key(def, key)?;
    let collection = collection::track(tx, def, key, old, new, collection_limit)?;
    if def.is_global() {
        match new {
            Some(_) => tx.item_delete(Space::Tombstones, &primary)?,
            None => {
                let tombstone = Tombstone {
                    hlc: stamp.hlc,
                    origin: stamp.origin.clone(),
                };
                tx.item_put(Space::Tombstones, &primary, &to_bytes(&tombstone)?)?;
            }
        }
    }
    if old == new {
        if def.is_global() && new.is_none() {
            // A delete of an item this region does not hold still has to win
            // over an older write arriving from elsewhere: ship the tombstone.
            let keys = item_to_json(&key_item(&def.key(), key)?);
            tx.append(
                &stamp.origin,
                stamp.hlc,
                Change::ItemTombstone {
                    table: def.name.clone(),
                    keys,
                },
            )?;
        }
        return Ok(collection);
    }
    if let Some(old) = old {
        for k in index_entries(def, old, &primary)? {
            tx.item_delete(Space::Index, &k)?;
        }
    }
    match new {
        Some(item) => {
            let stored = StoredItem {
                item: item_to_json(item),
                hlc: stamp.hlc,
                origin: stamp.origin.clone(),
            };
            let raw = to_bytes(&stored)?;
            tx.item_put(Space::Items, &primary, &raw)?;
            for k in index_entries(def, item, &primary)? {
                tx.item_put(Space::Index, &k, &raw)?;
            }
        }
        None => tx.item_delete(Space::Items, &primary)?,
    }
    tx.append(
        &stamp.origin,
        stamp.hlc,
        Change::ItemChanged {
            table: def.name.clone(),
            keys: item_to_json(&key_item(&def.key(), key)?),
            old: old.map(item_to_json),
            new: new.map(item_to_json),
            by_service: stamp.by_service,
        },
    )?;
    Ok(collection)
}

fn to_bytes<T: Serialize>(value: &T) -> DynamoResult<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| DynamoError::internal(e.to_string()))
}

/// The stamp of the latest write or delete this region holds for a primary
/// key: the stored item's, else its tombstone's.
pub fn latest_stamp(tx: &Tx<'_>, primary: &[u8]) -> DynamoResult<Option<(u64, String)>> {
    if let Some(raw) = tx.item_get(Space::Items, primary)? {
        let stored = decode(&raw)?;
        return Ok(Some((stored.hlc, stored.origin)));
    }
    match tx.item_get(Space::Tombstones, primary)? {
        Some(raw) => {
            let t: Tombstone = serde_json::from_slice(&raw).map_err(|e| DynamoError::internal(format!("corrupt tombstone: {e}")))?;
            Ok(Some((t.hlc, t.origin)))
        }
        None => Ok(None),
    }
}

/// Decodes a stored entry (primary or index) into its item.
pub fn decode_item(raw: &[u8]) -> DynamoResult<Item> {
    item_from_json(&decode(raw)?.item).map_err(|e| DynamoError::internal(e.to_string()))
}
