//! Whole-pipeline robustness tests: random token soup and random bytes must
//! never panic, whatever the expression kind, and whatever is accepted must
//! evaluate or apply without panicking either.

use serde_json::json;

use super::*;
use crate::value::Item;
use crate::wire::item_from_json;

const FRAGMENTS: [&str; 52] = [
    "a",
    "b",
    "c",
    "#n",
    "#x",
    ":v",
    ":w",
    ":l",
    ":s",
    "(",
    ")",
    "[",
    "]",
    "0",
    "1",
    "7",
    ".",
    ",",
    "=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    " ",
    " ",
    "AND",
    "OR",
    "NOT",
    "BETWEEN",
    "IN",
    "SET",
    "REMOVE",
    "ADD",
    "DELETE",
    "size",
    "attribute_exists",
    "attribute_not_exists",
    "begins_with",
    "contains",
    "attribute_type",
    "list_append",
    "if_not_exists",
    "foo",
    "!",
    "é",
    "status",
    "99999999999999999999999",
    "#",
    ":",
];

/// xorshift64*: small, deterministic, good enough to shuffle fragments.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    fn expression(&mut self) -> String {
        (0..1 + self.below(24)).map(|_| FRAGMENTS[self.below(FRAGMENTS.len())]).collect()
    }
}

fn context() -> ExpressionContext {
    let names = json!({"#n": "n", "#x": "status"});
    let values = json!({":v": {"N": "1"}, ":w": {"S": "w"}, ":l": {"L": [{"N": "2"}]}, ":s": {"SS": ["x"]}});
    ExpressionContext::from_json(Some(&names), Some(&values)).unwrap()
}

#[test]
fn random_expressions_never_panic() {
    let item =
        item_from_json(&json!({"a": {"N": "5"}, "b": {"L": [{"S": "x"}]}, "c": {"M": {"d": {"SS": ["x"]}}}, "n": {"S": "w"}})).unwrap();
    let mut random = Random(0x9E37_79B9_7F4A_7C15);
    let mut accepted = 0;
    for _ in 0..30_000 {
        let expression = random.expression();
        let mut context = context();
        if let Ok(condition) = context.parse_condition(&expression) {
            accepted += 1;
            condition.evaluate(Some(&item));
            condition.evaluate(None);
        }
        if let Ok(key_condition) = context.parse_key_condition(&expression, "a", Some("b")) {
            key_condition.matches(&item);
        }
        if let Ok(update) = context.parse_update(&expression) {
            accepted += 1;
            let _ = update.apply(&item);
            let _ = update.apply(&Item::new());
        }
        if let Ok(projection) = context.parse_projection(&expression) {
            accepted += 1;
            projection.apply(&item);
        }
        let _ = context.check_all_used();
    }
    assert!(
        accepted > 100,
        "the generator should produce some valid expressions, got {accepted}"
    );
}

#[test]
fn random_bytes_never_panic() {
    let mut random = Random(42);
    for _ in 0..5_000 {
        let bytes: Vec<u8> = (0..random.below(40)).map(|_| random.next() as u8).collect();
        let text = String::from_utf8_lossy(&bytes);
        let mut context = context();
        let _ = context.parse_condition(&text);
        let _ = context.parse_update(&text);
        let _ = context.parse_projection(&text);
        let _ = crate::Number::parse(&text);
    }
}
