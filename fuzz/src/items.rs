//! What every item a request can produce must survive: the trip through the
//! wire JSON and the bytes the store keeps (`storage.rs` stores
//! `{"item": <wire JSON>, ...}` with serde_json and reads it back the same way).

use serde_json::{Value, json};
use tandem_dynamo::{AttributeValue, Item, item_from_json, item_to_json};

/// Panics unless `item` reads back equal from its stored form.
pub fn assert_stored_round_trip(item: &Item) {
    let stored = json!({ "item": item_to_json(item), "hlc": 1u64, "origin": "fuzz" });
    let bytes = serde_json::to_vec(&stored).expect("an item serializes");
    let back: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => panic!(
            "an item the API accepted cannot be read back from its stored form ({e}); nesting depth {}",
            item.values().map(depth).max().unwrap_or(0)
        ),
    };
    let read = item_from_json(&back["item"]).expect("a stored item parses");
    assert_eq!(&read, item, "an item changed through its stored form");
}

/// Panics unless `value` parses back equal from its wire JSON.
pub fn assert_wire_round_trip(value: &AttributeValue) {
    let back = AttributeValue::from_json(&value.to_json()).expect("a value's own JSON parses");
    assert_eq!(&back, value, "a value changed through its wire JSON");
}

/// Nesting depth of a value (a scalar is 1).
pub fn depth(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::M(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        AttributeValue::L(list) => 1 + list.iter().map(depth).max().unwrap_or(0),
        _ => 1,
    }
}
