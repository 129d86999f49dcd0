//! Legacy conditions: `Expected`, `QueryFilter`/`ScanFilter` (with
//! `ConditionalOperator`) and `KeyConditions`, each checked with DynamoDB's
//! messages and translated into the expression engine's [`Condition`] (or
//! [`KeyCondition`]) that the equivalent expression would parse to:
//! `EQ` is `a = :v`, `NOT_NULL` is `attribute_exists(a)`, `NOT_CONTAINS` is
//! `NOT contains(a, :v)`, and so on.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::{enum_error, lower_first, object};
use crate::error::Error;
use crate::expr::key_condition;
use crate::expr::{Comparator, Condition, DocumentPath, KeyCondition, Operand};
use crate::value::{AttributeValue, ValueType};

/// The values of `ComparisonOperator`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operator {
    Eq,
    Ne,
    Le,
    Lt,
    Ge,
    Gt,
    NotNull,
    Null,
    Contains,
    NotContains,
    BeginsWith,
    In,
    Between,
}

const OPERATOR_SET: &str = "[IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]";

impl Operator {
    const ALL: [(&'static str, Operator); 13] = [
        ("EQ", Operator::Eq),
        ("NE", Operator::Ne),
        ("LE", Operator::Le),
        ("LT", Operator::Lt),
        ("GE", Operator::Ge),
        ("GT", Operator::Gt),
        ("NOT_NULL", Operator::NotNull),
        ("NULL", Operator::Null),
        ("CONTAINS", Operator::Contains),
        ("NOT_CONTAINS", Operator::NotContains),
        ("BEGINS_WITH", Operator::BeginsWith),
        ("IN", Operator::In),
        ("BETWEEN", Operator::Between),
    ];

    fn parse(name: &str, at: &str) -> Result<Operator, Error> {
        Self::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, op)| *op)
            .ok_or_else(|| enum_error(name, at, OPERATOR_SET))
    }

    fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, op)| *op == self).map_or("", |(n, _)| n)
    }

    fn takes(self, count: usize) -> bool {
        match self {
            Operator::NotNull | Operator::Null => count == 0,
            Operator::In => count > 0,
            Operator::Between => count == 2,
            _ => count == 1,
        }
    }

    /// Whether a value of this type may be compared with this operator.
    fn accepts(self, value_type: ValueType) -> bool {
        use ValueType::*;
        match self {
            Operator::Eq | Operator::Ne => true,
            Operator::BeginsWith => matches!(value_type, S | B),
            _ => matches!(value_type, S | N | B),
        }
    }

    /// The condition `name <op> values` as the expression engine represents it.
    fn condition(self, name: &str, values: Vec<AttributeValue>) -> Condition {
        let path = || Operand::Path(DocumentPath::new(name));
        let mut values = values.into_iter().map(Operand::Value);
        let mut value = || values.next().unwrap_or(Operand::Value(AttributeValue::NULL));
        let compare = |comparator, right| Condition::Compare {
            comparator,
            left: path(),
            right,
        };
        match self {
            Operator::Eq => compare(Comparator::Eq, value()),
            Operator::Ne => compare(Comparator::Ne, value()),
            Operator::Le => compare(Comparator::Le, value()),
            Operator::Lt => compare(Comparator::Lt, value()),
            Operator::Ge => compare(Comparator::Ge, value()),
            Operator::Gt => compare(Comparator::Gt, value()),
            Operator::NotNull => Condition::AttributeExists(DocumentPath::new(name)),
            Operator::Null => Condition::AttributeNotExists(DocumentPath::new(name)),
            Operator::Contains => Condition::Contains {
                operand: path(),
                element: value(),
            },
            Operator::NotContains => Condition::Not(Box::new(Condition::Contains {
                operand: path(),
                element: value(),
            })),
            Operator::BeginsWith => Condition::BeginsWith {
                operand: path(),
                prefix: value(),
            },
            Operator::In => Condition::In {
                operand: path(),
                candidates: values.collect(),
            },
            Operator::Between => {
                let (low, high) = (value(), value());
                Condition::Between {
                    operand: path(),
                    low,
                    high,
                }
            }
        }
    }
}

fn invalid(message: impl std::fmt::Display) -> Error {
    Error::validation(format!("One or more parameter values were invalid: {message}"))
}

/// An `AttributeValueList` (or a lone `Value`), each value validated like an item attribute.
fn value_list(entry: &Map<String, Value>) -> Result<Option<Vec<AttributeValue>>, Error> {
    let list = match entry.get("AttributeValueList") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(Error::serialization("Expected list or null")),
    };
    list.iter().map(AttributeValue::from_json).collect::<Result<Vec<_>, _>>().map(Some)
}

fn single_value(entry: &Map<String, Value>) -> Result<Option<AttributeValue>, Error> {
    match entry.get("Value") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => AttributeValue::from_json(value).map(Some),
    }
}

fn operator(entry: &Map<String, Value>, at: &str) -> Result<Option<Operator>, Error> {
    match entry.get("ComparisonOperator") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(name)) => Operator::parse(name, at).map(Some),
        Some(_) => Err(Error::serialization("Expected a string for ComparisonOperator")),
    }
}

/// The checks every operator's values get: count, one type, the operator's
/// types, ordered BETWEEN bounds.
fn check_values(op: Operator, values: &[AttributeValue]) -> Result<(), Error> {
    if !op.takes(values.len()) {
        return Err(invalid(format!(
            "Invalid number of argument(s) for the {} ComparisonOperator",
            op.name()
        )));
    }
    if let Some(first) = values.first()
        && values.iter().any(|v| v.value_type() != first.value_type())
    {
        return Err(invalid("AttributeValues inside AttributeValueList must be of same type"));
    }
    if let Some(wrong) = values.iter().find(|v| !op.accepts(v.value_type())) {
        return Err(invalid(format!(
            "ComparisonOperator {} is not valid for {} AttributeValue type",
            op.name(),
            wrong.type_name()
        )));
    }
    if let (Operator::Between, [low, high]) = (op, values)
        && low.compare_scalar(high) == Some(Ordering::Greater)
    {
        return Err(Error::validation(
            "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound",
        ));
    }
    Ok(())
}

fn entry(value: &Value) -> Result<&Map<String, Value>, Error> {
    value.as_object().ok_or_else(|| Error::serialization("Expected null"))
}

/// One filter or key condition (`AttributeValueList` + `ComparisonOperator`).
fn filter_entry(member: &str, name: &str, value: &Value) -> Result<(Operator, Vec<AttributeValue>), Error> {
    let at = format!("{}.{name}.member.comparisonOperator", lower_first(member));
    let entry = entry(value)?;
    let values = value_list(entry)?.unwrap_or_default();
    let op = operator(entry, &at)?.ok_or_else(|| {
        Error::validation(format!(
            "1 validation error detected: Value null at '{at}' failed to satisfy constraint: Member must not be null"
        ))
    })?;
    check_values(op, &values)?;
    Ok((op, values))
}

/// `ConditionalOperator`: how the conditions of one member combine (AND by default).
fn combine(req: &Value, conditions: Vec<Condition>) -> Result<Option<Condition>, Error> {
    let or = match req.get("ConditionalOperator") {
        None | Some(Value::Null) => false,
        Some(Value::String(op)) if op == "AND" => false,
        Some(Value::String(op)) if op == "OR" => true,
        Some(Value::String(op)) => return Err(enum_error(op, "conditionalOperator", "[OR, AND]")),
        Some(_) => return Err(Error::serialization("Expected a string for ConditionalOperator")),
    };
    Ok(conditions.into_iter().reduce(|left, right| {
        if or {
            Condition::Or(Box::new(left), Box::new(right))
        } else {
            Condition::And(Box::new(left), Box::new(right))
        }
    }))
}

/// `QueryFilter` or `ScanFilter` (named by `member`) as a filter condition.
pub fn filter(req: &Value, member: &str) -> Result<Option<Condition>, Error> {
    let Some(entries) = object(req, member)? else { return Ok(None) };
    let conditions = entries
        .iter()
        .map(|(name, value)| filter_entry(member, name, value).map(|(op, values)| op.condition(name, values)))
        .collect::<Result<Vec<_>, _>>()?;
    combine(req, conditions)
}

/// One `Expected` entry: `Exists`/`Value`, or `ComparisonOperator` with `Value` or `AttributeValueList`.
fn expected_entry(name: &str, value: &Value) -> Result<Condition, Error> {
    let at = format!("expected.{name}.member.comparisonOperator");
    let entry = entry(value)?;
    let (list, single) = (value_list(entry)?, single_value(entry)?);
    let exists = match entry.get("Exists") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(Error::serialization("Expected a boolean for Exists")),
    };
    if list.is_some() && single.is_some() {
        return Err(invalid(format!(
            "Value and AttributeValueList cannot be used together for Attribute: {name}"
        )));
    }
    if let Some(op) = operator(entry, &at)? {
        if exists.is_some() {
            return Err(invalid(format!(
                "Exists and ComparisonOperator cannot be used together for Attribute: {name}"
            )));
        }
        if !matches!(op, Operator::Null | Operator::NotNull) && list.is_none() && single.is_none() {
            return Err(invalid(format!(
                "Value or AttributeValueList must be used with ComparisonOperator: {} for Attribute: {name}",
                op.name()
            )));
        }
        let values = list.or(single.map(|v| vec![v])).unwrap_or_default();
        check_values(op, &values)?;
        return Ok(op.condition(name, values));
    }
    if list.is_some() {
        return Err(invalid(format!(
            "AttributeValueList can only be used with a ComparisonOperator for Attribute: {name}"
        )));
    }
    match (exists, single) {
        (Some(false), None) => Ok(Condition::AttributeNotExists(DocumentPath::new(name))),
        (Some(false), Some(_)) => Err(invalid(format!("Value cannot be used when Exists is false for Attribute: {name}"))),
        (_, Some(value)) => Ok(Operator::Eq.condition(name, vec![value])),
        (exists, None) => Err(invalid(format!(
            "Value must be provided when Exists is {} for Attribute: {name}",
            if exists.is_some() { "true" } else { "null" }
        ))),
    }
}

/// `Expected` as the condition a write is guarded by.
pub fn expected(req: &Value) -> Result<Option<Condition>, Error> {
    let Some(entries) = object(req, "Expected")? else { return Ok(None) };
    let conditions = entries
        .iter()
        .map(|(name, value)| expected_entry(name, value))
        .collect::<Result<Vec<_>, _>>()?;
    combine(req, conditions)
}

/// A Query's `KeyConditions`, checked against the key schema queried: the
/// conditions become the condition a KeyConditionExpression parses to, and the
/// expression engine's key-condition rules apply to it.
pub fn key_conditions(req: &Value, hash_key: &str, range_key: Option<&str>) -> Result<Option<KeyCondition>, Error> {
    let Some(entries) = object(req, "KeyConditions")? else {
        return Ok(None);
    };
    let conditions = entries
        .iter()
        .map(|(name, value)| filter_entry("KeyConditions", name, value).map(|c| (name.as_str(), c)))
        .collect::<Result<Vec<_>, _>>()?;
    let indexable = |op: Operator| {
        !matches!(
            op,
            Operator::Null | Operator::NotNull | Operator::Ne | Operator::Contains | Operator::NotContains | Operator::In
        )
    };
    if conditions.iter().any(|(_, (op, _))| !indexable(*op)) {
        return Err(Error::validation("Attempted conditional constraint is not an indexable operation"));
    }
    let condition = conditions
        .into_iter()
        .map(|(name, (op, values))| op.condition(name, values))
        .reduce(|left, right| Condition::And(Box::new(left), Box::new(right)))
        .ok_or_else(|| Error::validation("Conditions can be of length 1 or 2 only"))?;
    key_condition::from_condition(&condition, hash_key, range_key).map(Some)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::expr::RangeCondition;
    use crate::wire::item_from_json;

    fn holds(condition: &Condition, item: Value) -> bool {
        condition.evaluate(Some(&item_from_json(&item).unwrap()))
    }

    fn error(result: Result<Option<Condition>, Error>) -> String {
        result.unwrap_err().message().to_string()
    }

    #[test]
    fn expected_value_and_exists_translate_to_equality_and_absence() {
        let c = expected(&json!({"Expected": {"a": {"Value": {"S": "x"}}, "b": {"Exists": false}}}))
            .unwrap()
            .unwrap();
        assert!(holds(&c, json!({"a": {"S": "x"}})));
        assert!(!holds(&c, json!({"a": {"S": "x"}, "b": {"N": "1"}})));
        assert!(!holds(&c, json!({"a": {"S": "y"}})));
    }

    #[test]
    fn conditional_operator_or_combines_entries() {
        let req = json!({"ConditionalOperator": "OR", "Expected": {
            "a": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "5"}]},
            "b": {"ComparisonOperator": "NULL"}}});
        let c = expected(&req).unwrap().unwrap();
        assert!(holds(&c, json!({"a": {"N": "1"}})));
        assert!(holds(&c, json!({"a": {"N": "6"}, "b": {"S": "x"}})));
        assert!(!holds(&c, json!({"a": {"N": "1"}, "b": {"S": "x"}})));
        let bad = json!({"ConditionalOperator": "XOR", "Expected": {"a": {"Exists": false}}});
        assert_eq!(
            error(expected(&bad)),
            "1 validation error detected: Value 'XOR' at 'conditionalOperator' failed to satisfy constraint: Member must satisfy enum value set: [OR, AND]"
        );
    }

    #[test]
    fn every_operator_evaluates_like_its_expression() {
        let item = json!({"s": {"S": "hello"}, "n": {"N": "5"}, "ss": {"SS": ["a", "b"]}});
        let cases = [
            ("s", "EQ", json!([{"S": "hello"}]), true),
            ("s", "NE", json!([{"S": "hello"}]), false),
            ("missing", "NE", json!([{"S": "hello"}]), true),
            ("n", "LE", json!([{"N": "5"}]), true),
            ("n", "LT", json!([{"N": "5"}]), false),
            ("n", "GE", json!([{"N": "6"}]), false),
            ("n", "GT", json!([{"N": "4"}]), true),
            ("n", "NOT_NULL", json!([]), true),
            ("missing", "NULL", json!([]), true),
            ("s", "CONTAINS", json!([{"S": "ell"}]), true),
            ("ss", "CONTAINS", json!([{"S": "b"}]), true),
            ("ss", "NOT_CONTAINS", json!([{"S": "c"}]), true),
            ("s", "BEGINS_WITH", json!([{"S": "he"}]), true),
            ("n", "IN", json!([{"N": "1"}, {"N": "5"}]), true),
            ("n", "BETWEEN", json!([{"N": "1"}, {"N": "4"}]), false),
        ];
        for (name, op, values, expected) in cases {
            let req = json!({"ScanFilter": {name: {"ComparisonOperator": op, "AttributeValueList": values}}});
            let c = filter(&req, "ScanFilter").unwrap().unwrap();
            assert_eq!(holds(&c, item.clone()), expected, "{name} {op}");
        }
    }

    #[test]
    fn wrong_counts_types_and_bounds_get_dynamodb_messages() {
        let scan = |entry: Value| error(filter(&json!({"ScanFilter": {"a": entry}}), "ScanFilter"));
        assert_eq!(
            scan(json!({"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "1"}]})),
            "One or more parameter values were invalid: Invalid number of argument(s) for the BETWEEN ComparisonOperator"
        );
        assert_eq!(
            scan(json!({"ComparisonOperator": "LE", "AttributeValueList": [{"SS": ["a"]}]})),
            "One or more parameter values were invalid: ComparisonOperator LE is not valid for SS AttributeValue type"
        );
        assert_eq!(
            scan(json!({"ComparisonOperator": "IN", "AttributeValueList": [{"N": "1"}, {"S": "a"}]})),
            "One or more parameter values were invalid: AttributeValues inside AttributeValueList must be of same type"
        );
        assert_eq!(
            scan(json!({"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "9"}, {"N": "1"}]})),
            "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound"
        );
        assert!(
            scan(json!({"ComparisonOperator": "LIKE", "AttributeValueList": []})).contains("at 'scanFilter.a.member.comparisonOperator'")
        );
    }

    #[test]
    fn expected_shape_errors_name_the_attribute() {
        let exp = |entry: Value| error(expected(&json!({"Expected": {"a": entry}})));
        assert_eq!(
            exp(json!({"Exists": true})),
            "One or more parameter values were invalid: Value must be provided when Exists is true for Attribute: a"
        );
        assert_eq!(
            exp(json!({"Exists": false, "Value": {"S": "x"}})),
            "One or more parameter values were invalid: Value cannot be used when Exists is false for Attribute: a"
        );
        assert_eq!(
            exp(json!({"Exists": true, "ComparisonOperator": "NULL"})),
            "One or more parameter values were invalid: Exists and ComparisonOperator cannot be used together for Attribute: a"
        );
        assert_eq!(
            exp(json!({"ComparisonOperator": "EQ"})),
            "One or more parameter values were invalid: Value or AttributeValueList must be used with ComparisonOperator: EQ for Attribute: a"
        );
        assert_eq!(
            exp(json!({"AttributeValueList": [{"S": "x"}]})),
            "One or more parameter values were invalid: AttributeValueList can only be used with a ComparisonOperator for Attribute: a"
        );
    }

    #[test]
    fn key_conditions_need_an_equality_on_the_hash_key() {
        let key = |conds: Value| key_conditions(&json!({"KeyConditions": conds}), "pk", Some("sk"));
        let eq = json!({"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "p"}]});
        let k = key(json!({"pk": eq, "sk": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"S": "a"}]}}))
            .unwrap()
            .unwrap();
        assert_eq!(k.hash_value, AttributeValue::S("p".into()));
        assert_eq!(
            k.range.unwrap().condition,
            RangeCondition::BeginsWith(AttributeValue::S("a".into()))
        );
        let message = |r: Result<Option<KeyCondition>, Error>| r.unwrap_err().message().to_string();
        assert_eq!(message(key(json!({"sk": eq}))), "Query condition missed key schema element: pk");
        assert_eq!(
            message(key(json!({"pk": {"ComparisonOperator": "GT", "AttributeValueList": [{"S": "p"}]}}))),
            "Query key condition not supported"
        );
        assert_eq!(
            message(key(
                json!({"pk": eq, "sk": {"ComparisonOperator": "NE", "AttributeValueList": [{"S": "p"}]}})
            )),
            "Attempted conditional constraint is not an indexable operation"
        );
        assert_eq!(
            message(key(json!({"pk": eq, "x": eq}))),
            "Query condition missed key schema element: sk"
        );
    }
}
