//! KeyConditionExpression in the structured form a Query needs: an equality
//! on the partition (hash) key and at most one condition on the sort (range)
//! key. Converted from a parsed [`Condition`] and checked against the key
//! schema of the table or index being queried, with DynamoDB's messages.

use super::condition::{Comparator, Condition, Operand};
use super::eval::{begins_with, compare, is_between};
use super::path::DocumentPath;
use crate::error::Error;
use crate::value::{AttributeValue, Item, ValueType};

/// A Query's key condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyCondition {
    /// The partition key attribute name.
    pub hash_key: String,
    /// The partition key value to match exactly.
    pub hash_value: AttributeValue,
    /// The condition on the sort key, if any.
    pub range: Option<RangeKeyCondition>,
}

/// The sort-key part of a [`KeyCondition`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeKeyCondition {
    /// The sort key attribute name.
    pub key: String,
    pub condition: RangeCondition,
}

/// A condition on a sort key value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RangeCondition {
    Eq(AttributeValue),
    Lt(AttributeValue),
    Le(AttributeValue),
    Gt(AttributeValue),
    Ge(AttributeValue),
    /// Inclusive bounds, low first.
    Between(AttributeValue, AttributeValue),
    BeginsWith(AttributeValue),
}

impl RangeCondition {
    /// Whether a sort key value satisfies the condition.
    pub fn matches(&self, value: &AttributeValue) -> bool {
        match self {
            RangeCondition::Eq(bound) => compare(Comparator::Eq, Some(value), Some(bound)),
            RangeCondition::Lt(bound) => compare(Comparator::Lt, Some(value), Some(bound)),
            RangeCondition::Le(bound) => compare(Comparator::Le, Some(value), Some(bound)),
            RangeCondition::Gt(bound) => compare(Comparator::Gt, Some(value), Some(bound)),
            RangeCondition::Ge(bound) => compare(Comparator::Ge, Some(value), Some(bound)),
            RangeCondition::Between(low, high) => is_between(value, low, high),
            RangeCondition::BeginsWith(prefix) => begins_with(value, prefix),
        }
    }

    /// The legacy ComparisonOperator name (`EQ`, `BETWEEN`, ...).
    pub fn operator_name(&self) -> &'static str {
        match self {
            RangeCondition::Eq(_) => "EQ",
            RangeCondition::Lt(_) => "LT",
            RangeCondition::Le(_) => "LE",
            RangeCondition::Gt(_) => "GT",
            RangeCondition::Ge(_) => "GE",
            RangeCondition::Between(..) => "BETWEEN",
            RangeCondition::BeginsWith(_) => "BEGINS_WITH",
        }
    }

    /// The values the condition compares with.
    pub fn values(&self) -> Vec<&AttributeValue> {
        match self {
            RangeCondition::Between(low, high) => vec![low, high],
            RangeCondition::Eq(value)
            | RangeCondition::Lt(value)
            | RangeCondition::Le(value)
            | RangeCondition::Gt(value)
            | RangeCondition::Ge(value)
            | RangeCondition::BeginsWith(value) => vec![value],
        }
    }

    fn from_comparator(comparator: Comparator, value: AttributeValue) -> Result<RangeCondition, Error> {
        Ok(match comparator {
            Comparator::Eq => RangeCondition::Eq(value),
            Comparator::Lt => RangeCondition::Lt(value),
            Comparator::Le => RangeCondition::Le(value),
            Comparator::Gt => RangeCondition::Gt(value),
            Comparator::Ge => RangeCondition::Ge(value),
            Comparator::Ne => return Err(invalid_operator("<>")),
        })
    }

    fn accepts_type(&self, value_type: ValueType) -> bool {
        use ValueType::*;
        match self {
            RangeCondition::Eq(_) => matches!(value_type, S | N | B | SS | NS | BS),
            RangeCondition::BeginsWith(_) => matches!(value_type, S | B),
            _ => matches!(value_type, S | N | B),
        }
    }
}

impl KeyCondition {
    /// Whether an item's key attributes satisfy the condition.
    pub fn matches(&self, item: &Item) -> bool {
        let range_matches = |range: &RangeKeyCondition| item.get(&range.key).is_some_and(|value| range.condition.matches(value));
        item.get(&self.hash_key) == Some(&self.hash_value) && self.range.as_ref().is_none_or(range_matches)
    }
}

/// Converts a parsed KeyConditionExpression, checking it against the key schema.
pub(crate) fn from_condition(condition: &Condition, hash_key: &str, range_key: Option<&str>) -> Result<KeyCondition, Error> {
    let mut conditions = Vec::new();
    collect_key_conditions(condition, &mut conditions)?;
    for (_, condition) in &conditions {
        check_value_types(condition)?;
    }
    if conditions.len() > 2 {
        return Err(Error::validation("Conditions can be of length 1 or 2 only"));
    }
    if range_key.is_none() && conditions.len() > 1 {
        return Err(Error::validation("Query key condition not supported"));
    }
    let missed = |key: &str| Error::validation(format!("Query condition missed key schema element: {key}"));
    let hash_position = conditions
        .iter()
        .position(|(name, _)| name == hash_key)
        .ok_or_else(|| missed(hash_key))?;
    let (_, hash_condition) = conditions.remove(hash_position);
    let RangeCondition::Eq(hash_value) = hash_condition else {
        return Err(Error::validation("Query key condition not supported"));
    };
    let range = match (conditions.pop(), range_key) {
        (None, _) => None,
        (Some((name, condition)), Some(range_key)) if name == range_key => Some(RangeKeyCondition { key: name, condition }),
        (Some(_), range_key) => return Err(missed(range_key.unwrap_or_default())),
    };
    Ok(KeyCondition {
        hash_key: hash_key.to_string(),
        hash_value,
        range,
    })
}

/// Flattens the `AND`s of a key condition into per-attribute conditions.
fn collect_key_conditions(condition: &Condition, found: &mut Vec<(String, RangeCondition)>) -> Result<(), Error> {
    let (path, key_condition) = match condition {
        Condition::And(left, right) => {
            collect_key_conditions(left, found)?;
            return collect_key_conditions(right, found);
        }
        Condition::Or(..) => return Err(invalid_operator("OR")),
        Condition::Not(_) => return Err(invalid_operator("NOT")),
        Condition::In { .. } => return Err(invalid_operator("IN")),
        Condition::AttributeExists(_) => return Err(invalid_operator("attribute_exists")),
        Condition::AttributeNotExists(_) => return Err(invalid_operator("attribute_not_exists")),
        Condition::AttributeType { .. } => return Err(invalid_operator("attribute_type")),
        Condition::Contains { .. } => return Err(invalid_operator("contains")),
        Condition::Compare {
            comparator: Comparator::Ne,
            ..
        } => return Err(invalid_operator("<>")),
        Condition::Compare { comparator, left, right } => match key_and_value(left, right)? {
            (KeySide::Left, path, value) => (path, RangeCondition::from_comparator(*comparator, value)?),
            (KeySide::Right, path, value) => (path, RangeCondition::from_comparator(comparator.swapped(), value)?),
        },
        Condition::Between { operand, low, high } => {
            let path = first_operand_key("BETWEEN", operand)?;
            (path, RangeCondition::Between(constant(low)?, constant(high)?))
        }
        Condition::BeginsWith { operand, prefix } => {
            let path = first_operand_key("begins_with", operand)?;
            (path, RangeCondition::BeginsWith(constant(prefix)?))
        }
    };
    let name = top_level_name(path)?;
    if found.iter().any(|(existing, _)| *existing == name) {
        return Err(Error::validation("KeyConditionExpressions must only contain one condition per key"));
    }
    found.push((name, key_condition));
    Ok(())
}

/// Which side of a comparison names the key attribute.
enum KeySide {
    Left,
    Right,
}

fn key_and_value<'c>(left: &'c Operand, right: &'c Operand) -> Result<(KeySide, &'c DocumentPath, AttributeValue), Error> {
    reject_nested_operations(&[left, right])?;
    match (left, right) {
        (Operand::Path(_), Operand::Path(_)) => Err(invalid_condition("Multiple attribute names used in one condition")),
        (Operand::Path(path), value) => Ok((KeySide::Left, path, constant(value)?)),
        (value, Operand::Path(path)) => Ok((KeySide::Right, path, constant(value)?)),
        _ => Err(invalid_condition("No key attribute specified")),
    }
}

fn first_operand_key<'c>(operator: &str, operand: &'c Operand) -> Result<&'c DocumentPath, Error> {
    reject_nested_operations(&[operand])?;
    match operand {
        Operand::Path(path) => Ok(path),
        _ => Err(invalid_condition(&format!(
            "{operator} operator must have the key attribute as its first operand"
        ))),
    }
}

/// A compared value, which must be a constant.
fn constant(operand: &Operand) -> Result<AttributeValue, Error> {
    reject_nested_operations(&[operand])?;
    match operand {
        Operand::Value(value) => Ok(value.clone()),
        _ => Err(invalid_condition("Multiple attribute names used in one condition")),
    }
}

fn reject_nested_operations(operands: &[&Operand]) -> Result<(), Error> {
    match operands.iter().any(|operand| matches!(operand, Operand::Size(_))) {
        true => Err(Error::validation("KeyConditionExpressions cannot contain nested operations")),
        false => Ok(()),
    }
}

fn top_level_name(path: &DocumentPath) -> Result<String, Error> {
    match path.is_top_level() {
        true => Ok(path.attribute_name().to_string()),
        false => Err(Error::validation(
            "KeyConditionExpressions cannot have conditions on nested attributes",
        )),
    }
}

fn check_value_types(condition: &RangeCondition) -> Result<(), Error> {
    match condition
        .values()
        .into_iter()
        .find(|value| !condition.accepts_type(value.value_type()))
    {
        Some(value) => Err(Error::validation(format!(
            "One or more parameter values were invalid: ComparisonOperator {} is not valid for {} AttributeValue type",
            condition.operator_name(),
            value.type_name()
        ))),
        None => Ok(()),
    }
}

fn invalid_operator(operator: &str) -> Error {
    Error::validation(format!("Invalid operator used in KeyConditionExpression: {operator}"))
}

fn invalid_condition(detail: &str) -> Error {
    Error::validation(format!("Invalid condition in KeyConditionExpression: {detail}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::expr::context::ExpressionContext;
    use crate::number::Number;

    fn parse(expression: &str, range_key: Option<&str>) -> Result<KeyCondition, String> {
        let values = json!({":h": {"S": "h"}, ":a": {"N": "1"}, ":b": {"N": "5"}, ":p": {"S": "pre"}, ":t": {"BOOL": true}});
        let mut context = ExpressionContext::from_json(Some(&json!({"#pk": "pk"})), Some(&values)).unwrap();
        context
            .parse_key_condition(expression, "pk", range_key)
            .map_err(|error| error.message().to_string())
    }

    fn n(value: u64) -> AttributeValue {
        AttributeValue::N(Number::from(value))
    }

    #[test]
    fn builds_hash_and_range_conditions() {
        let condition = parse("#pk = :h AND sk BETWEEN :a AND :b", Some("sk")).unwrap();
        assert_eq!(condition.hash_key, "pk");
        assert_eq!(condition.hash_value, AttributeValue::from("h"));
        let range = condition.range.unwrap();
        assert_eq!((range.key.as_str(), range.condition), ("sk", RangeCondition::Between(n(1), n(5))));
        assert_eq!(parse("pk = :h", Some("sk")).unwrap().range, None);
        assert_eq!(
            parse("(pk = :h) AND (begins_with(sk, :p))", Some("sk"))
                .unwrap()
                .range
                .unwrap()
                .condition,
            RangeCondition::BeginsWith("pre".into())
        );
    }

    #[test]
    fn values_on_the_left_flip_the_comparison() {
        let condition = parse(":a < sk AND :h = pk", Some("sk")).unwrap();
        assert_eq!(condition.range.unwrap().condition, RangeCondition::Gt(n(1)));
    }

    #[test]
    fn rejects_unsupported_operators() {
        assert_eq!(
            parse("pk = :h OR sk = :a", Some("sk")).unwrap_err(),
            "Invalid operator used in KeyConditionExpression: OR"
        );
        assert_eq!(
            parse("pk = :h AND sk <> :a", Some("sk")).unwrap_err(),
            "Invalid operator used in KeyConditionExpression: <>"
        );
        assert_eq!(
            parse("pk = :h AND attribute_exists(sk)", Some("sk")).unwrap_err(),
            "Invalid operator used in KeyConditionExpression: attribute_exists"
        );
        assert_eq!(
            parse("pk = :h AND size(sk) > :a", Some("sk")).unwrap_err(),
            "KeyConditionExpressions cannot contain nested operations"
        );
        assert_eq!(
            parse("pk = sk", Some("sk")).unwrap_err(),
            "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition"
        );
        assert_eq!(
            parse("pk.x = :h", Some("sk")).unwrap_err(),
            "KeyConditionExpressions cannot have conditions on nested attributes"
        );
        assert_eq!(
            parse("pk = :h AND pk = :h", Some("sk")).unwrap_err(),
            "KeyConditionExpressions must only contain one condition per key"
        );
    }

    #[test]
    fn checks_conditions_against_the_key_schema() {
        assert_eq!(
            parse("sk = :a", Some("sk")).unwrap_err(),
            "Query condition missed key schema element: pk"
        );
        assert_eq!(
            parse("attr1 = :a", Some("sk")).unwrap_err(),
            "Query condition missed key schema element: pk"
        );
        assert_eq!(
            parse("pk = :h AND extra = :a", Some("sk")).unwrap_err(),
            "Query condition missed key schema element: sk"
        );
        assert_eq!(parse("pk = :h AND sk = :a", None).unwrap_err(), "Query key condition not supported");
        assert_eq!(parse("pk > :h", Some("sk")).unwrap_err(), "Query key condition not supported");
        assert_eq!(
            parse("pk = :h AND sk < :t", Some("sk")).unwrap_err(),
            "One or more parameter values were invalid: ComparisonOperator LT is not valid for BOOL AttributeValue type"
        );
    }

    #[test]
    fn matches_items_by_key() {
        let condition = parse("pk = :h AND sk >= :a", Some("sk")).unwrap();
        let item = |sk: u64| Item::from([("pk".to_string(), AttributeValue::from("h")), ("sk".to_string(), n(sk))]);
        assert!(condition.matches(&item(1)));
        assert!(!condition.matches(&item(0)));
        assert!(RangeCondition::BeginsWith("ab".into()).matches(&"abc".into()));
        assert!(!RangeCondition::Lt(n(3)).matches(&"1".into()));
    }
}
