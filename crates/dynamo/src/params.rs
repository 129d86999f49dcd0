//! Reading request parameters from a DynamoDB JSON body, with DynamoDB's
//! validation messages for missing or mistyped members.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api_error::{DynamoError, DynamoResult};
use crate::value::Item;
use crate::wire::item_from_json;

/// `tableName` from `TableName`: DynamoDB names members in camelCase in messages.
fn member_name(field: &str) -> String {
    let mut c = field.chars();
    c.next()
        .map(|f| f.to_lowercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

pub fn required_str<'a>(req: &'a Value, field: &str) -> DynamoResult<&'a str> {
    match req.get(field) {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(DynamoError::validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            member_name(field)
        ))),
        Some(_) => Err(DynamoError::new(
            crate::api_error::ErrorKind::Serialization,
            format!("Expected a string for {field}"),
        )),
    }
}

pub fn optional_str<'a>(req: &'a Value, field: &str) -> DynamoResult<Option<&'a str>> {
    match req.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(DynamoError::new(
            crate::api_error::ErrorKind::Serialization,
            format!("Expected a string for {field}"),
        )),
    }
}

pub fn optional_bool(req: &Value, field: &str) -> DynamoResult<Option<bool>> {
    match req.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(DynamoError::new(
            crate::api_error::ErrorKind::Serialization,
            format!("Expected a boolean for {field}"),
        )),
    }
}

pub fn optional_u64(req: &Value, field: &str) -> DynamoResult<Option<u64>> {
    match req.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| DynamoError::new(crate::api_error::ErrorKind::Serialization, format!("Expected a number for {field}"))),
    }
}

/// A typed member (arrays of structures and the like) through serde.
pub fn typed<T: DeserializeOwned>(req: &Value, field: &str) -> DynamoResult<Option<T>> {
    match req.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|e| DynamoError::new(crate::api_error::ErrorKind::Serialization, format!("Could not read {field}: {e}"))),
    }
}

/// An item-shaped member (`Item`, `Key`, `ExclusiveStartKey`).
pub fn item(req: &Value, field: &str) -> DynamoResult<Option<Item>> {
    match req.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => item_from_json(v).map(Some).map_err(DynamoError::from),
    }
}

pub fn required_item(req: &Value, field: &str) -> DynamoResult<Item> {
    item(req, field)?.ok_or_else(|| {
        DynamoError::validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            member_name(field)
        ))
    })
}

/// `ReturnValues`, checked against what the operation allows.
pub fn return_values<'a>(req: &'a Value, allowed: &[&str]) -> DynamoResult<&'a str> {
    let v = optional_str(req, "ReturnValues")?.unwrap_or("NONE");
    if allowed.contains(&v) {
        Ok(v)
    } else {
        Err(DynamoError::validation(format!(
            "ReturnValues can only be {} on this operation",
            allowed.join(" or ")
        )))
    }
}
