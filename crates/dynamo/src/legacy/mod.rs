//! DynamoDB's legacy (pre-expression) request parameters, translated into the
//! typed expressions of [`crate::expr`] so that one evaluator serves both:
//!
//! - [`conditions`]: `Expected` (PutItem, UpdateItem, DeleteItem),
//!   `QueryFilter` and `ScanFilter` with `ConditionalOperator`, and a Query's
//!   `KeyConditions`, become [`crate::Condition`]s and [`crate::KeyCondition`]s;
//! - [`updates`]: `AttributeUpdates` becomes an [`crate::UpdateExpression`]
//!   and `AttributesToGet` a [`crate::Projection`].
//!
//! This file holds the rule on mixing: each operation pairs its expression
//! members with the legacy members they replace, and a request may not use
//! both kinds (DynamoDB's own message names them).

pub mod conditions;
pub mod updates;

use serde_json::Value;

use crate::error::Error;

/// Which expression and legacy members an operation accepts.
pub struct Members {
    pub expressions: &'static [&'static str],
    pub legacy: &'static [&'static str],
}

pub const GET: Members = Members {
    expressions: &["ProjectionExpression"],
    legacy: &["AttributesToGet"],
};
pub const PUT_DELETE: Members = Members {
    expressions: &["ConditionExpression"],
    legacy: &["Expected", "ConditionalOperator"],
};
pub const UPDATE: Members = Members {
    expressions: &["UpdateExpression", "ConditionExpression"],
    legacy: &["AttributeUpdates", "Expected", "ConditionalOperator"],
};
pub const QUERY: Members = Members {
    expressions: &["ProjectionExpression", "FilterExpression", "KeyConditionExpression"],
    legacy: &["AttributesToGet", "QueryFilter", "ConditionalOperator", "KeyConditions"],
};
pub const SCAN: Members = Members {
    expressions: &["ProjectionExpression", "FilterExpression"],
    legacy: &["AttributesToGet", "ScanFilter", "ConditionalOperator"],
};
/// Transaction elements only take expressions.
pub const TRANSACT: Members = Members {
    expressions: &["ConditionExpression", "UpdateExpression", "ProjectionExpression"],
    legacy: &[],
};

fn present(req: &Value, names: &[&'static str]) -> Vec<&'static str> {
    names
        .iter()
        .copied()
        .filter(|n| req.get(*n).is_some_and(|v| !v.is_null()))
        .collect()
}

/// Refuses a request that mixes expression and legacy members, and
/// placeholders without expressions, with DynamoDB's messages.
pub fn check_members(req: &Value, members: &Members) -> Result<(), Error> {
    let expressions = present(req, members.expressions);
    if !expressions.is_empty() {
        // A Query may combine KeyConditions with the other expressions.
        let keeps_key_conditions = req.get("KeyConditionExpression").is_none_or(Value::is_null);
        let legacy: Vec<_> = present(req, members.legacy)
            .into_iter()
            .filter(|m| !(keeps_key_conditions && *m == "KeyConditions"))
            .collect();
        if !legacy.is_empty() {
            return Err(Error::validation(format!(
                "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{}}} Expression parameters: {{{}}}",
                legacy.join(", "),
                expressions.join(", ")
            )));
        }
    }
    if expressions.is_empty() && req.get("ExpressionAttributeNames").is_some_and(|v| !v.is_null()) {
        return Err(Error::validation(
            "ExpressionAttributeNames can only be specified when using expressions",
        ));
    }
    let value_expressions: Vec<_> = members
        .expressions
        .iter()
        .copied()
        .filter(|e| *e != "ProjectionExpression")
        .collect();
    let uses_values = value_expressions.iter().any(|e| req.get(*e).is_some_and(|v| !v.is_null()));
    if !uses_values && !value_expressions.is_empty() && req.get("ExpressionAttributeValues").is_some_and(|v| !v.is_null()) {
        return Err(Error::validation(format!(
            "ExpressionAttributeValues can only be specified when using expressions: {} {} null",
            value_expressions.join(" and "),
            if value_expressions.len() > 1 { "are" } else { "is" }
        )));
    }
    Ok(())
}

/// The enum-constraint message DynamoDB gives for a member outside its set.
pub(crate) fn enum_error(value: &str, at: &str, set: &str) -> Error {
    Error::validation(format!(
        "1 validation error detected: Value '{value}' at '{at}' failed to satisfy constraint: Member must satisfy enum value set: {set}"
    ))
}

/// `tableName` from `TableName`, as DynamoDB names members in messages.
pub(crate) fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|first| first.to_lowercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

/// A member that must be a JSON object of per-attribute entries.
pub(crate) fn object<'v>(req: &'v Value, member: &str) -> Result<Option<&'v serde_json::Map<String, Value>>, Error> {
    match req.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(entries)) => Ok(Some(entries)),
        Some(Value::Array(_)) => Err(Error::serialization("Start of list found where not expected")),
        Some(_) => Err(Error::serialization("Expected map or null")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn mixing_is_refused_with_both_member_lists() {
        let req = json!({"AttributeUpdates": {}, "Expected": {}, "UpdateExpression": "SET a = :a"});
        assert_eq!(
            check_members(&req, &UPDATE).unwrap_err().message(),
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributeUpdates, Expected} Expression parameters: {UpdateExpression}"
        );
    }

    #[test]
    fn key_conditions_combine_with_a_filter_expression() {
        let req = json!({"KeyConditions": {}, "FilterExpression": "a = :a", "ExpressionAttributeValues": {":a": {"S": "x"}}});
        assert!(check_members(&req, &QUERY).is_ok());
        let req = json!({"KeyConditions": {}, "KeyConditionExpression": "a = :a"});
        assert!(check_members(&req, &QUERY).is_err());
    }

    #[test]
    fn placeholders_need_expressions() {
        let req = json!({"Expected": {}, "ExpressionAttributeValues": {":a": {"S": "x"}}});
        assert_eq!(
            check_members(&req, &UPDATE).unwrap_err().message(),
            "ExpressionAttributeValues can only be specified when using expressions: UpdateExpression and ConditionExpression are null"
        );
        let req = json!({"ExpressionAttributeNames": {"#a": "a"}});
        assert_eq!(
            check_members(&req, &GET).unwrap_err().message(),
            "ExpressionAttributeNames can only be specified when using expressions"
        );
    }
}
