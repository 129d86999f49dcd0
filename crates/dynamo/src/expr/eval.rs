//! Evaluating conditions against an item, with DynamoDB's semantics.
//!
//! Evaluation never fails. A missing attribute or a comparison between
//! different types makes the comparison false (`<>` is then true); strings
//! and binaries order bytewise, numbers numerically. An absent item behaves
//! like an item without attributes.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::condition::{Comparator, Condition, Operand};
use crate::number::Number;
use crate::value::{AttributeValue, Item};

static EMPTY_ITEM: Item = BTreeMap::new();

impl Condition {
    /// Whether the condition holds for `item` (`None`: no such item).
    pub fn evaluate(&self, item: Option<&Item>) -> bool {
        self.holds(item.unwrap_or(&EMPTY_ITEM))
    }

    fn holds(&self, item: &Item) -> bool {
        match self {
            Condition::Compare { comparator, left, right } => {
                compare(*comparator, left.evaluate(item).as_deref(), right.evaluate(item).as_deref())
            }
            Condition::Between { operand, low, high } => match (operand.evaluate(item), low.evaluate(item), high.evaluate(item)) {
                (Some(operand), Some(low), Some(high)) => is_between(&operand, &low, &high),
                _ => false,
            },
            Condition::In { operand, candidates } => operand.evaluate(item).is_some_and(|operand| {
                candidates
                    .iter()
                    .any(|candidate| candidate.evaluate(item).as_deref() == Some(&*operand))
            }),
            Condition::AttributeExists(path) => path.resolve(item).is_some(),
            Condition::AttributeNotExists(path) => path.resolve(item).is_none(),
            Condition::AttributeType { operand, value_type } => {
                operand.evaluate(item).is_some_and(|value| value.value_type() == *value_type)
            }
            Condition::BeginsWith { operand, prefix } => match (operand.evaluate(item), prefix.evaluate(item)) {
                (Some(operand), Some(prefix)) => begins_with(&operand, &prefix),
                _ => false,
            },
            Condition::Contains { operand, element } => match (operand.evaluate(item), element.evaluate(item)) {
                (Some(operand), Some(element)) => contains(&operand, &element),
                _ => false,
            },
            Condition::And(left, right) => left.holds(item) && right.holds(item),
            Condition::Or(left, right) => left.holds(item) || right.holds(item),
            Condition::Not(inner) => !inner.holds(item),
        }
    }
}

impl Operand {
    /// The operand's value for `item`, or `None` if it names a missing
    /// attribute or takes the size of something without one.
    pub fn evaluate<'a>(&'a self, item: &'a Item) -> Option<Cow<'a, AttributeValue>> {
        match self {
            Operand::Path(path) => path.resolve(item).map(Cow::Borrowed),
            Operand::Value(value) => Some(Cow::Borrowed(value)),
            Operand::Size(inner) => {
                let size = size_of(inner.evaluate(item)?.as_ref())?;
                Some(Cow::Owned(AttributeValue::N(Number::from(size as u64))))
            }
        }
    }
}

/// `left comparator right` over possibly-missing values.
pub(crate) fn compare(comparator: Comparator, left: Option<&AttributeValue>, right: Option<&AttributeValue>) -> bool {
    let (left, right) = match (left, right) {
        (Some(left), Some(right)) => (left, right),
        (None, None) => return false,
        _ => return comparator == Comparator::Ne,
    };
    match comparator {
        Comparator::Eq => left == right,
        Comparator::Ne => left != right,
        _ => left
            .compare_scalar(right)
            .is_some_and(|ordering| ordering_satisfies(comparator, ordering)),
    }
}

fn ordering_satisfies(comparator: Comparator, ordering: Ordering) -> bool {
    match comparator {
        Comparator::Eq => ordering.is_eq(),
        Comparator::Ne => ordering.is_ne(),
        Comparator::Lt => ordering.is_lt(),
        Comparator::Le => ordering.is_le(),
        Comparator::Gt => ordering.is_gt(),
        Comparator::Ge => ordering.is_ge(),
    }
}

/// `low <= value <= high`, all scalars of one type.
pub(crate) fn is_between(value: &AttributeValue, low: &AttributeValue, high: &AttributeValue) -> bool {
    value.compare_scalar(low).is_some_and(Ordering::is_ge) && value.compare_scalar(high).is_some_and(Ordering::is_le)
}

/// String or binary prefix test.
pub(crate) fn begins_with(value: &AttributeValue, prefix: &AttributeValue) -> bool {
    match (value, prefix) {
        (AttributeValue::S(value), AttributeValue::S(prefix)) => value.starts_with(prefix.as_str()),
        (AttributeValue::B(value), AttributeValue::B(prefix)) => value.starts_with(prefix),
        _ => false,
    }
}

/// Substring of a string or binary, member of a set, or element of a list.
fn contains(container: &AttributeValue, element: &AttributeValue) -> bool {
    match (container, element) {
        (AttributeValue::S(text), AttributeValue::S(part)) => text.contains(part.as_str()),
        (AttributeValue::B(bytes), AttributeValue::B(part)) => part.is_empty() || bytes.windows(part.len()).any(|window| window == part),
        (AttributeValue::SS(set), AttributeValue::S(member)) => set.contains(member),
        (AttributeValue::NS(set), AttributeValue::N(member)) => set.contains(member),
        (AttributeValue::BS(set), AttributeValue::B(member)) => set.contains(member),
        (AttributeValue::L(list), element) => list.contains(element),
        _ => false,
    }
}

/// `size()`: bytes of a string or binary, elements of a set, list or map.
fn size_of(value: &AttributeValue) -> Option<usize> {
    match value {
        AttributeValue::S(text) => Some(text.len()),
        AttributeValue::B(bytes) => Some(bytes.len()),
        AttributeValue::SS(set) => Some(set.len()),
        AttributeValue::NS(set) => Some(set.len()),
        AttributeValue::BS(set) => Some(set.len()),
        AttributeValue::L(list) => Some(list.len()),
        AttributeValue::M(map) => Some(map.len()),
        AttributeValue::N(_) | AttributeValue::BOOL(_) | AttributeValue::NULL => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::expr::context::ExpressionContext;
    use crate::wire::item_from_json;

    fn item() -> Item {
        item_from_json(&json!({
            "id": {"S": "user#1"},
            "age": {"N": "42"},
            "score": {"N": "9.5"},
            "bin": {"B": "AQID"},
            "tags": {"SS": ["red", "blue"]},
            "nums": {"NS": ["1", "2"]},
            "seq": {"L": [{"S": "a"}, {"N": "7"}, {"M": {"k": {"BOOL": true}}}]},
            "doc": {"M": {"nested": {"S": "deep"}, "n": {"N": "100"}}},
            "flag": {"BOOL": false},
            "nothing": {"NULL": true}
        }))
        .unwrap()
    }

    fn values() -> Value {
        json!({
            ":s": {"S": "user#1"}, ":prefix": {"S": "user"}, ":n": {"N": "42"}, ":n40": {"N": "40"}, ":n50": {"N": "50"},
            ":str42": {"S": "42"}, ":red": {"S": "red"}, ":one": {"N": "1"}, ":seven": {"N": "7"}, ":b01": {"B": "AQ=="},
            ":b0203": {"B": "AgM="}, ":tN": {"S": "N"}, ":tSS": {"S": "SS"}, ":three": {"N": "3"}, ":two": {"N": "2"},
            ":deep": {"S": "deep"}, ":a": {"S": "a"}, ":tags": {"SS": ["blue", "red"]}, ":f": {"BOOL": false}
        })
    }

    fn holds(expression: &str) -> bool {
        let mut context = ExpressionContext::from_json(None, Some(&values())).unwrap();
        let condition = context
            .parse_condition(expression)
            .unwrap_or_else(|error| panic!("{expression}: {error}"));
        condition.evaluate(Some(&item()))
    }

    #[test]
    fn comparisons_respect_types() {
        for expression in [
            "id = :s",
            "age = :n",
            "age <> :str42",
            "age > :n40",
            "age < :n50",
            "age >= :n",
            "score < :n",
            "tags = :tags",
            "flag = :f",
        ] {
            assert!(holds(expression), "{expression}");
        }
        for expression in [
            "age = :str42",
            "age < :str42",
            "age > :str42",
            "absent = :n",
            "tags < :tags",
            "flag < :f",
        ] {
            assert!(!holds(expression), "{expression}");
        }
    }

    #[test]
    fn missing_attributes_are_unequal_to_everything() {
        assert!(holds("absent <> :n"));
        assert!(!holds("absent <> alsoabsent"));
        assert!(!holds("absent = alsoabsent"));
        assert!(!holds("absent < :n"));
    }

    #[test]
    fn between_and_in() {
        assert!(holds("age BETWEEN :n40 AND :n50"));
        assert!(holds("age BETWEEN :n AND :n"));
        assert!(!holds("score BETWEEN :n40 AND :n50"));
        assert!(holds("age IN (:one, :n)"));
        assert!(!holds("age IN (:one, :str42)"));
        assert!(!holds("absent IN (:one)"));
    }

    #[test]
    fn functions_follow_dynamodb_semantics() {
        let true_cases = [
            "attribute_exists(doc.nested)",
            "attribute_not_exists(doc.extra)",
            "attribute_not_exists(seq[9])",
            "attribute_type(age, :tN)",
            "attribute_type(tags, :tSS)",
            "begins_with(id, :prefix)",
            "begins_with(bin, :b01)",
            "contains(id, :prefix)",
            "contains(bin, :b0203)",
            "contains(tags, :red)",
            "contains(nums, :one)",
            "contains(seq, :seven)",
            "contains(seq, :a)",
            "size(tags) = :two",
            "size(seq) = :three",
            "size(bin) = :three",
            "size(doc) = :two",
            "size(doc.nested) > :two",
        ];
        for expression in true_cases {
            assert!(holds(expression), "{expression}");
        }
        let false_cases = [
            "attribute_exists(nope)",
            "begins_with(age, :prefix)",
            "contains(age, :n)",
            "size(age) = :two",
            "contains(nums, :red)",
        ];
        for expression in false_cases {
            assert!(!holds(expression), "{expression}");
        }
    }

    #[test]
    fn logic_operators_combine_with_precedence() {
        assert!(holds("NOT age = :one AND age = :n"));
        assert!(holds("age = :one OR age = :n AND id = :s"));
        assert!(!holds("(age = :one OR age = :n) AND id = :prefix"));
        assert!(holds("NOT (age = :one OR absent = :n)"));
    }

    #[test]
    fn absent_items_have_no_attributes() {
        let mut context = ExpressionContext::from_json(None, Some(&json!({":v": {"S": "x"}}))).unwrap();
        assert!(context.parse_condition("attribute_not_exists(id)").unwrap().evaluate(None));
        assert!(!context.parse_condition("attribute_exists(id)").unwrap().evaluate(None));
        assert!(context.parse_condition("id <> :v").unwrap().evaluate(None));
    }

    #[test]
    fn sizes_of_strings_count_utf8_bytes() {
        let item = Item::from([("s".to_string(), AttributeValue::from("héllo"))]);
        let size = Operand::Size(Box::new(Operand::Path(crate::expr::DocumentPath::new("s"))));
        assert_eq!(size.evaluate(&item).as_deref(), Some(&AttributeValue::N(Number::from(6u64))));
    }
}
