//! DynamoDB wire JSON (tandem-dynamo `wire.rs`, `number.rs`): any JSON is an
//! error or a value; an accepted value or item comes back equal from its own
//! JSON and from the bytes the store keeps; numbers render canonically and
//! their order-preserving key decodes to the same number.
//!
//! Input: a JSON value (an item, or one attribute value).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tandem_dynamo::{AttributeValue, Number, item_from_json};
use tandem_fuzz::items::{assert_stored_round_trip, assert_wire_round_trip};

fn check_number(text: &str) {
    let Ok(n) = Number::parse(text) else { return };
    let again = Number::parse(&n.to_string()).expect("a rendered number parses");
    assert_eq!(again, n, "{text:?} renders as {n}, which parses to something else");
    let key = n.sort_key();
    let (decoded, used) = Number::from_sort_key(&key).expect("a sort key decodes");
    assert_eq!(decoded, n);
    assert_eq!(used, key.len());
}

fn check_numbers(value: &Value) {
    match value {
        Value::String(s) => check_number(s),
        Value::Array(a) => a.iter().for_each(check_numbers),
        Value::Object(o) => o.values().for_each(check_numbers),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<Value>(data) else { return };
    check_numbers(&json);
    if let Ok(value) = AttributeValue::from_json(&json) {
        assert_wire_round_trip(&value);
        let _ = value.size_bytes();
    }
    if let Ok(item) = item_from_json(&json) {
        assert_stored_round_trip(&item);
        let _ = tandem_dynamo::item_size(&item);
    }
});
