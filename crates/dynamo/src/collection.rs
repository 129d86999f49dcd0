//! Item collections of tables with local secondary indexes: every item that
//! shares one partition key value, with its entries in the local indexes.
//! DynamoDB caps such a collection at 10 GB and refuses a write that would
//! grow it further (`ItemCollectionSizeLimitExceededException`); writes can
//! ask for the collection's size (`ReturnItemCollectionMetrics = SIZE`).
//!
//! A collection's size is kept as a counter in the index space, at
//! `table \0 \0 <hash>` (no index name is empty, so no index entry has this
//! prefix), updated in the same commit as the write. A missing counter means
//! "not counted yet": the partition is scanned once (an empty one costs
//! nothing), so tables written before counters existed are counted right.

use serde::Deserialize;
use serde_json::{Value, json};
use tandem_store::{Space, Tx};

use crate::api_error::{DynamoError, DynamoResult, ErrorKind};
use crate::keys;
use crate::table::TableDef;
use crate::value::{AttributeValue, Item, item_size};

/// DynamoDB's limit on an item collection: 10 GB.
pub const DEFAULT_MAX_BYTES: u64 = 10 * 1024 * 1024 * 1024;

/// What each local-index entry adds to its collection besides the projected
/// attributes (DynamoDB's documented per-entry overhead).
const INDEX_ENTRY_OVERHEAD: u64 = 100;

/// `[dynamodb]` limits of a region node.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct DynamoLimits {
    /// Largest item collection (bytes) of a table with local secondary
    /// indexes; DynamoDB's is 10 GB. A lower value catches a runaway
    /// partition early.
    pub item_collection_max_bytes: u64,
}

impl Default for DynamoLimits {
    fn default() -> Self {
        Self {
            item_collection_max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// One collection after a write: its partition key and size.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Collection {
    key: Item,
    bytes: u64,
}

impl Collection {
    /// The response's `ItemCollectionMetrics`: the key and DynamoDB's
    /// estimate range in GB (whole gigabytes either side of the size).
    pub fn to_json(&self) -> Value {
        let low = (self.bytes as f64 / (1024.0 * 1024.0 * 1024.0)).floor();
        json!({
            "ItemCollectionKey": crate::wire::item_to_json(&self.key),
            "SizeEstimateRangeGB": [low, low + 1.0],
        })
    }
}

/// The collections a multi-item write touched, by table, for a batch's or a
/// transaction's `ItemCollectionMetrics`: the size after the last write to
/// each collection.
#[derive(Debug, Default)]
pub(crate) struct PerTable(std::collections::BTreeMap<String, Vec<Collection>>);

impl PerTable {
    pub fn record(&mut self, table: &str, collection: Option<Collection>) {
        let Some(collection) = collection else { return };
        let list = self.0.entry(table.to_string()).or_default();
        list.retain(|c| c.key != collection.key);
        list.push(collection);
    }

    /// Adds `ItemCollectionMetrics` to `out` when asked for and there is any.
    pub fn attach(&self, out: &mut Value, requested: bool) {
        if requested && !self.0.is_empty() {
            let tables = self
                .0
                .iter()
                .map(|(t, list)| (t.clone(), list.iter().map(Collection::to_json).collect()));
            out["ItemCollectionMetrics"] = Value::Object(tables.collect());
        }
    }
}

/// Whether the request asked for `ReturnItemCollectionMetrics = SIZE`.
pub(crate) fn requested(req: &Value) -> DynamoResult<bool> {
    match req.get("ReturnItemCollectionMetrics") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::String(s)) if s == "NONE" => Ok(false),
        Some(Value::String(s)) if s == "SIZE" => Ok(true),
        Some(other) => Err(DynamoError::validation(format!(
            "1 validation error detected: Value '{}' at 'returnItemCollectionMetrics' failed to satisfy constraint: Member must satisfy enum value set: [SIZE, NONE]",
            other.as_str().unwrap_or_default()
        ))),
    }
}

/// The refusal of a write that would grow a collection past the limit.
pub(crate) fn exceeded() -> DynamoError {
    DynamoError::new(ErrorKind::ItemCollectionSizeLimitExceeded, "Collection size exceeded.")
}

/// What one item counts for in its collection: its own size plus, for each
/// local index it appears in, the projected attributes and the overhead.
fn footprint(def: &TableDef, item: &Item) -> u64 {
    let entries = def.local_indexes.iter().filter_map(|index| def.index_view(index, item));
    item_size(item) as u64 + entries.map(|entry| item_size(&entry) as u64 + INDEX_ENTRY_OVERHEAD).sum::<u64>()
}

/// Where the size of the collection of `hash` is kept.
fn counter_key(table: &str, hash: &AttributeValue) -> DynamoResult<Vec<u8>> {
    keys::partition_prefix(&counters_prefix(table), hash)
}

/// The prefix of every collection counter of a table (dropped with it).
pub(crate) fn counters_prefix(table: &str) -> Vec<u8> {
    let mut base = keys::table_prefix(table);
    base.push(0);
    base
}

/// The stored size of a collection, or `None` when it was never counted.
fn stored(tx: &Tx<'_>, counter: &[u8]) -> DynamoResult<Option<u64>> {
    match tx.item_get(Space::Index, counter)? {
        Some(raw) => {
            let bytes: [u8; 8] = raw
                .as_slice()
                .try_into()
                .map_err(|_| DynamoError::internal("corrupt item-collection counter"))?;
            Ok(Some(u64::from_be_bytes(bytes)))
        }
        None => Ok(None),
    }
}

/// Counts a collection from its items (for a partition never counted).
fn scanned(tx: &Tx<'_>, def: &TableDef, hash: &AttributeValue) -> DynamoResult<u64> {
    let prefix = keys::partition_prefix(&keys::table_prefix(&def.name), hash)?;
    let mut total = 0u64;
    let mut failure = None;
    tx.item_visit(Space::Items, &prefix, None, false, |_, raw| {
        match crate::storage::decode_item(raw).map(|i| footprint(def, &i)) {
            Ok(bytes) => {
                total += bytes;
                true
            }
            Err(e) => {
                failure = Some(e);
                false
            }
        }
    })?;
    failure.map_or(Ok(total), Err)
}

/// Accounts for one write (`old` → `new`) of the item keyed `key` in its
/// collection, refusing it when `limit` is given and the write would grow
/// the collection past it. `None` for a table without local indexes.
pub(crate) fn track(
    tx: &mut Tx<'_>,
    def: &TableDef,
    key: &Item,
    old: Option<&Item>,
    new: Option<&Item>,
    limit: Option<u64>,
) -> DynamoResult<Option<Collection>> {
    if def.local_indexes.is_empty() {
        return Ok(None);
    }
    let shape = def.key();
    let hash = key
        .get(&shape.hash.0)
        .ok_or_else(|| DynamoError::internal("write without its partition key"))?;
    let counter = counter_key(&def.name, hash)?;
    let (before, counted) = match stored(tx, &counter)? {
        Some(bytes) => (bytes, true),
        None => (scanned(tx, def, hash)?, false),
    };
    let size = |item: Option<&Item>| item.map_or(0, |i| footprint(def, i));
    let (removed, added) = (size(old), size(new));
    let after = before.saturating_add(added).saturating_sub(removed);
    if let Some(limit) = limit
        && added > removed
        && after > limit
    {
        return Err(exceeded());
    }
    match after {
        0 => tx.item_delete(Space::Index, &counter)?,
        _ if after != before || !counted => tx.item_put(Space::Index, &counter, &after.to_be_bytes())?,
        _ => {}
    }
    let mut key_only = Item::new();
    key_only.insert(shape.hash.0.clone(), hash.clone());
    Ok(Some(Collection {
        key: key_only,
        bytes: after,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_limit_is_dynamodbs_ten_gigabytes() {
        assert_eq!(DynamoLimits::default().item_collection_max_bytes, 10_737_418_240);
    }

    #[test]
    fn the_estimate_range_brackets_the_size_in_whole_gigabytes() {
        let key: Item = [("pk".to_string(), AttributeValue::S("a".into()))].into_iter().collect();
        let small = Collection {
            key: key.clone(),
            bytes: 5,
        }
        .to_json();
        assert_eq!(small["SizeEstimateRangeGB"], json!([0.0, 1.0]));
        assert_eq!(small["ItemCollectionKey"], json!({"pk": {"S": "a"}}));
        let big = Collection {
            key,
            bytes: 3 * 1024 * 1024 * 1024 + 1,
        }
        .to_json();
        assert_eq!(big["SizeEstimateRangeGB"], json!([3.0, 4.0]));
    }

    #[test]
    fn counters_never_share_a_prefix_with_an_index() {
        let counter = counter_key("t", &AttributeValue::S("h".into())).unwrap();
        assert!(counter.starts_with(&counters_prefix("t")));
        assert!(!counter.starts_with(&keys::index_prefix("t", "i")));
    }
}
