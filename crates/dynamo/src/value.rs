//! DynamoDB attribute values and items.
//!
//! [`AttributeValue`] mirrors the ten DynamoDB data types. Equality is
//! DynamoDB's: sets compare as sets (order ignored), everything else
//! structurally (numbers are normalized, so `1.0 == 1`). Sizes follow the
//! DynamoDB item-size rules used for the 400 KB limit and capacity units.
//! Conversion to and from the wire JSON lives in [`crate::wire`].

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::hash::Hash;

use crate::number::Number;
pub use crate::wire::{item_from_json, item_to_json};

/// An item: attribute names to values.
pub type Item = BTreeMap<String, AttributeValue>;

/// Largest item DynamoDB accepts, in bytes as counted by [`item_size`].
pub const MAX_ITEM_SIZE: usize = 400 * 1024;

/// Deepest nesting of maps and lists DynamoDB accepts in an item ("nested
/// attributes up to 32 levels deep"). Every stored encoding (item space,
/// change log, replication frames) decodes values at least this deep.
pub const MAX_NESTING_DEPTH: usize = 32;

/// One DynamoDB attribute value.
#[allow(clippy::upper_case_acronyms)]
#[derive(Clone, Debug)]
pub enum AttributeValue {
    /// String.
    S(String),
    /// Number.
    N(Number),
    /// Binary.
    B(Vec<u8>),
    /// Boolean.
    BOOL(bool),
    /// Null (always `true` on the wire).
    NULL,
    /// Map of named values.
    M(BTreeMap<String, AttributeValue>),
    /// Ordered list of values.
    L(Vec<AttributeValue>),
    /// String set: non-empty, no duplicates.
    SS(Vec<String>),
    /// Number set: non-empty, no duplicates.
    NS(Vec<Number>),
    /// Binary set: non-empty, no duplicates.
    BS(Vec<Vec<u8>>),
}

/// The data type of an [`AttributeValue`], named as DynamoDB names it.
#[allow(clippy::upper_case_acronyms)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    S,
    N,
    B,
    BOOL,
    NULL,
    M,
    L,
    SS,
    NS,
    BS,
}

impl ValueType {
    /// Every type, in the order DynamoDB lists them.
    pub const ALL: [ValueType; 10] = [
        ValueType::S,
        ValueType::N,
        ValueType::B,
        ValueType::BOOL,
        ValueType::NULL,
        ValueType::M,
        ValueType::L,
        ValueType::SS,
        ValueType::NS,
        ValueType::BS,
    ];

    /// The type descriptor: `"S"`, `"N"`, `"BOOL"`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::S => "S",
            ValueType::N => "N",
            ValueType::B => "B",
            ValueType::BOOL => "BOOL",
            ValueType::NULL => "NULL",
            ValueType::M => "M",
            ValueType::L => "L",
            ValueType::SS => "SS",
            ValueType::NS => "NS",
            ValueType::BS => "BS",
        }
    }

    /// The type with this descriptor (case-sensitive), if any.
    pub fn from_descriptor(descriptor: &str) -> Option<ValueType> {
        ValueType::ALL.into_iter().find(|value_type| value_type.as_str() == descriptor)
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AttributeValue {
    /// This value's data type.
    pub fn value_type(&self) -> ValueType {
        match self {
            AttributeValue::S(_) => ValueType::S,
            AttributeValue::N(_) => ValueType::N,
            AttributeValue::B(_) => ValueType::B,
            AttributeValue::BOOL(_) => ValueType::BOOL,
            AttributeValue::NULL => ValueType::NULL,
            AttributeValue::M(_) => ValueType::M,
            AttributeValue::L(_) => ValueType::L,
            AttributeValue::SS(_) => ValueType::SS,
            AttributeValue::NS(_) => ValueType::NS,
            AttributeValue::BS(_) => ValueType::BS,
        }
    }

    /// The type descriptor (`"S"`, `"N"`, ...), as used by `attribute_type()`.
    pub fn type_name(&self) -> &'static str {
        self.value_type().as_str()
    }

    /// Bytes this value counts for under DynamoDB's item-size rules: strings
    /// and binaries by length, numbers by digit pairs, 1 for booleans and
    /// nulls, 3 plus 1 per element (and the element's name) for lists and maps.
    pub fn size_bytes(&self) -> usize {
        const CONTAINER_OVERHEAD: usize = 3;
        const ELEMENT_OVERHEAD: usize = 1;
        match self {
            AttributeValue::S(text) => text.len(),
            AttributeValue::N(number) => number.size_bytes(),
            AttributeValue::B(bytes) => bytes.len(),
            AttributeValue::BOOL(_) | AttributeValue::NULL => 1,
            AttributeValue::M(map) => CONTAINER_OVERHEAD + ELEMENT_OVERHEAD * map.len() + item_size(map),
            AttributeValue::L(list) => CONTAINER_OVERHEAD + list.iter().map(|value| ELEMENT_OVERHEAD + value.size_bytes()).sum::<usize>(),
            AttributeValue::SS(set) => set.iter().map(String::len).sum(),
            AttributeValue::NS(set) => set.iter().map(Number::size_bytes).sum(),
            AttributeValue::BS(set) => set.iter().map(Vec::len).sum(),
        }
    }

    /// Orders two scalars of the same type the way DynamoDB does (strings and
    /// binaries bytewise, numbers numerically). `None` for any other pair,
    /// which makes every `<`-style comparison false.
    pub fn compare_scalar(&self, other: &AttributeValue) -> Option<Ordering> {
        match (self, other) {
            (AttributeValue::S(a), AttributeValue::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (AttributeValue::N(a), AttributeValue::N(b)) => Some(a.cmp(b)),
            (AttributeValue::B(a), AttributeValue::B(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

/// How many maps and lists are nested in an item at its deepest point: 0 for
/// an item of scalars, 1 for a top-level map of scalars, and so on.
pub fn nesting_depth(item: &Item) -> usize {
    item.values().map(AttributeValue::nesting_depth).max().unwrap_or(0)
}

impl AttributeValue {
    /// Nesting of this value: 0 for a scalar or set, 1 + its deepest element
    /// for a map or list. Recursion is bounded by how deep the request JSON
    /// could be (serde_json stops at 128 levels).
    pub fn nesting_depth(&self) -> usize {
        match self {
            AttributeValue::M(map) => 1 + nesting_depth(map),
            AttributeValue::L(list) => 1 + list.iter().map(AttributeValue::nesting_depth).max().unwrap_or(0),
            _ => 0,
        }
    }
}

/// Size of an item: each attribute name's UTF-8 length plus its value's size.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(name, value)| name.len() + value.size_bytes()).sum()
}

/// Whether two set contents hold the same elements regardless of order.
fn same_elements<T: Eq + Hash>(a: &[T], b: &[T]) -> bool {
    a.len() == b.len() && a.iter().collect::<HashSet<_>>() == b.iter().collect::<HashSet<_>>()
}

impl PartialEq for AttributeValue {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (AttributeValue::S(a), AttributeValue::S(b)) => a == b,
            (AttributeValue::N(a), AttributeValue::N(b)) => a == b,
            (AttributeValue::B(a), AttributeValue::B(b)) => a == b,
            (AttributeValue::BOOL(a), AttributeValue::BOOL(b)) => a == b,
            (AttributeValue::NULL, AttributeValue::NULL) => true,
            (AttributeValue::M(a), AttributeValue::M(b)) => a == b,
            (AttributeValue::L(a), AttributeValue::L(b)) => a == b,
            (AttributeValue::SS(a), AttributeValue::SS(b)) => same_elements(a, b),
            (AttributeValue::NS(a), AttributeValue::NS(b)) => same_elements(a, b),
            (AttributeValue::BS(a), AttributeValue::BS(b)) => same_elements(a, b),
            _ => false,
        }
    }
}

impl Eq for AttributeValue {}

impl From<&str> for AttributeValue {
    fn from(text: &str) -> Self {
        AttributeValue::S(text.to_string())
    }
}

impl From<String> for AttributeValue {
    fn from(text: String) -> Self {
        AttributeValue::S(text)
    }
}

impl From<Number> for AttributeValue {
    fn from(number: Number) -> Self {
        AttributeValue::N(number)
    }
}

impl From<bool> for AttributeValue {
    fn from(value: bool) -> Self {
        AttributeValue::BOOL(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(text: &str) -> AttributeValue {
        AttributeValue::N(Number::parse(text).unwrap())
    }

    #[test]
    fn type_names_round_trip_through_descriptors() {
        for value_type in ValueType::ALL {
            assert_eq!(ValueType::from_descriptor(value_type.as_str()), Some(value_type));
        }
        assert_eq!(ValueType::from_descriptor("s"), None);
        assert_eq!(AttributeValue::NULL.type_name(), "NULL");
        assert_eq!(AttributeValue::SS(vec!["a".into()]).type_name(), "SS");
    }

    #[test]
    fn sets_are_equal_regardless_of_order() {
        let a = AttributeValue::SS(vec!["x".into(), "y".into()]);
        let b = AttributeValue::SS(vec!["y".into(), "x".into()]);
        assert_eq!(a, b);
        assert_ne!(
            AttributeValue::L(vec!["x".into(), "y".into()]),
            AttributeValue::L(vec!["y".into(), "x".into()])
        );
        assert_eq!(
            AttributeValue::NS(vec![Number::from(1u64)]),
            AttributeValue::NS(vec![Number::parse("1.0").unwrap()])
        );
        assert_ne!(AttributeValue::SS(vec!["1".into()]), AttributeValue::NS(vec![Number::from(1u64)]));
    }

    #[test]
    fn numbers_compare_numerically_and_strings_bytewise() {
        assert_eq!(n("10").compare_scalar(&n("9")), Some(Ordering::Greater));
        assert_eq!(AttributeValue::from("10").compare_scalar(&"9".into()), Some(Ordering::Less));
        assert_eq!(
            AttributeValue::B(vec![0xff]).compare_scalar(&AttributeValue::B(vec![0x01, 0x02])),
            Some(Ordering::Greater)
        );
        assert_eq!(n("1").compare_scalar(&"1".into()), None);
        assert_eq!(AttributeValue::BOOL(true).compare_scalar(&AttributeValue::BOOL(true)), None);
    }

    #[test]
    fn sizes_follow_dynamodb_rules() {
        assert_eq!(AttributeValue::from("héllo").size_bytes(), 6);
        assert_eq!(AttributeValue::B(vec![1, 2, 3]).size_bytes(), 3);
        assert_eq!(AttributeValue::NULL.size_bytes(), 1);
        assert_eq!(AttributeValue::BOOL(false).size_bytes(), 1);
        assert_eq!(n("27").size_bytes(), 2);
        assert_eq!(AttributeValue::L(vec![]).size_bytes(), 3);
        assert_eq!(AttributeValue::L(vec!["ab".into(), AttributeValue::NULL]).size_bytes(), 3 + 3 + 2);
        let map = Item::from([("key".to_string(), AttributeValue::from("value"))]);
        assert_eq!(AttributeValue::M(map.clone()).size_bytes(), 3 + 1 + 3 + 5);
        assert_eq!(AttributeValue::SS(vec!["ab".into(), "c".into()]).size_bytes(), 3);
        assert_eq!(item_size(&map), 8);
    }
}
