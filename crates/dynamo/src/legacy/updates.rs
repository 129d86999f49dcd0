//! `AttributeUpdates` (UpdateItem) and `AttributesToGet` (GetItem,
//! BatchGetItem, Query, Scan), translated into the update and projection
//! expressions they are equivalent to:
//!
//! - `PUT v` is `SET a = :v`;
//! - `DELETE` without a value is `REMOVE a`, with a set value `DELETE a :v`;
//! - `ADD` of a number or set is `ADD a :v`, and of a list (which only the
//!   legacy form allows) `SET a = list_append(if_not_exists(a, []), :v)`.
//!
//! Legacy attribute names are literal top-level names: `a.b` names the
//! attribute called `a.b`, not a nested path.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{enum_error, object};
use crate::error::Error;
use crate::expr::{DocumentPath, Projection, SetValue, UpdateAction, UpdateExpression};
use crate::value::{AttributeValue, ValueType};

fn invalid(message: impl std::fmt::Display) -> Error {
    Error::validation(format!("One or more parameter values were invalid: {message}"))
}

/// One `AttributeUpdates` entry as an update action.
fn action(name: &str, entry: &Value) -> Result<UpdateAction, Error> {
    let entry = entry.as_object().ok_or_else(|| Error::serialization("Expected null"))?;
    let value = match entry.get("Value") {
        None | Some(Value::Null) => None,
        Some(v) => Some(AttributeValue::from_json(v)?),
    };
    let verb = match entry.get("Action") {
        None | Some(Value::Null) => "PUT",
        Some(Value::String(verb)) => verb.as_str(),
        Some(_) => return Err(Error::serialization("Expected a string for Action")),
    };
    if !matches!(verb, "PUT" | "ADD" | "DELETE") {
        return Err(enum_error(
            verb,
            &format!("attributeUpdates.{name}.member.action"),
            "[ADD, PUT, DELETE]",
        ));
    }
    let path = DocumentPath::new(name);
    let Some(value) = value else {
        return match verb {
            "DELETE" => Ok(UpdateAction::Remove { path }),
            _ => Err(invalid("Only DELETE action is allowed when no attribute value is specified")),
        };
    };
    let value_type = value.value_type();
    let is_set = matches!(value_type, ValueType::SS | ValueType::NS | ValueType::BS);
    match verb {
        "PUT" => Ok(UpdateAction::Set {
            path,
            value: SetValue::Value(value),
        }),
        "DELETE" if is_set => Ok(UpdateAction::Delete { path, value }),
        "DELETE" => Err(invalid(format!(
            "DELETE action with value is not supported for the type {}",
            value.type_name()
        ))),
        _ if is_set || value_type == ValueType::N => Ok(UpdateAction::Add { path, value }),
        _ if value_type == ValueType::L => Ok(UpdateAction::Set {
            path: path.clone(),
            value: SetValue::ListAppend(
                Box::new(SetValue::IfNotExists(
                    path,
                    Box::new(SetValue::Value(AttributeValue::L(Vec::new()))),
                )),
                Box::new(SetValue::Value(value)),
            ),
        }),
        _ => Err(invalid(format!("ADD action is not supported for the type {}", value.type_name()))),
    }
}

/// `AttributeUpdates` as an update expression (`None` when absent).
pub fn attribute_updates(req: &Value) -> Result<Option<UpdateExpression>, Error> {
    let Some(entries) = object(req, "AttributeUpdates")? else {
        return Ok(None);
    };
    let actions = entries
        .iter()
        .map(|(name, entry)| action(name, entry))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(UpdateExpression::from_actions(actions)))
}

/// `AttributesToGet` in `spec` (a request or a BatchGetItem table entry) as a projection.
pub fn attributes_to_get(spec: &Value) -> Result<Option<Projection>, Error> {
    let names = match spec.get("AttributesToGet") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(names)) => names,
        Some(_) => return Err(Error::serialization("Expected list or null")),
    };
    if names.is_empty() {
        return Err(Error::validation(
            "1 validation error detected: Value '[]' at 'attributesToGet' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    let mut seen = BTreeSet::new();
    let mut paths = Vec::with_capacity(names.len());
    for name in names {
        let name = name
            .as_str()
            .ok_or_else(|| Error::serialization("Expected a string in AttributesToGet"))?;
        if !seen.insert(name) {
            return Err(invalid(format!("Duplicate value in attribute name: {name}")));
        }
        paths.push(DocumentPath::new(name));
    }
    Ok(Some(Projection::new(paths)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::wire::{item_from_json, item_to_json};

    fn apply(updates: Value, item: Value) -> Result<Value, String> {
        let update = attribute_updates(&json!({"AttributeUpdates": updates}))
            .map_err(|e| e.message().to_string())?
            .unwrap();
        let item = item_from_json(&item).unwrap();
        update.apply(&item).map(|i| item_to_json(&i)).map_err(|e| e.message().to_string())
    }

    #[test]
    fn put_add_and_delete_apply_like_their_expressions() {
        let item = json!({"k": {"S": "1"}, "n": {"N": "1"}, "s": {"SS": ["a", "b"]}, "l": {"L": [{"S": "x"}]}, "gone": {"S": "x"}});
        let out = apply(
            json!({
                "p": {"Value": {"S": "new"}},
                "n": {"Action": "ADD", "Value": {"N": "2"}},
                "s": {"Action": "DELETE", "Value": {"SS": ["a"]}},
                "l": {"Action": "ADD", "Value": {"L": [{"S": "y"}]}},
                "fresh": {"Action": "ADD", "Value": {"L": [{"S": "z"}]}},
                "gone": {"Action": "DELETE"}
            }),
            item,
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"k": {"S": "1"}, "n": {"N": "3"}, "s": {"SS": ["b"]}, "p": {"S": "new"},
                   "l": {"L": [{"S": "x"}, {"S": "y"}]}, "fresh": {"L": [{"S": "z"}]}})
        );
    }

    #[test]
    fn actions_without_fitting_values_are_refused() {
        assert_eq!(
            apply(json!({"a": {"Action": "PUT"}}), json!({})).unwrap_err(),
            "One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified"
        );
        assert_eq!(
            apply(json!({"a": {"Action": "DELETE", "Value": {"S": "x"}}}), json!({})).unwrap_err(),
            "One or more parameter values were invalid: DELETE action with value is not supported for the type S"
        );
        assert_eq!(
            apply(json!({"a": {"Action": "ADD", "Value": {"S": "x"}}}), json!({})).unwrap_err(),
            "One or more parameter values were invalid: ADD action is not supported for the type S"
        );
        assert!(
            apply(json!({"a": {"Action": "MERGE", "Value": {"S": "x"}}}), json!({}))
                .unwrap_err()
                .contains("[ADD, PUT, DELETE]")
        );
    }

    #[test]
    fn attributes_to_get_projects_literal_names() {
        let p = attributes_to_get(&json!({"AttributesToGet": ["a.b", "c"]})).unwrap().unwrap();
        let item = item_from_json(&json!({"a.b": {"S": "1"}, "a": {"M": {"b": {"S": "2"}}}, "c": {"N": "3"}})).unwrap();
        assert_eq!(item_to_json(&p.apply(&item)), json!({"a.b": {"S": "1"}, "c": {"N": "3"}}));
        assert_eq!(
            attributes_to_get(&json!({"AttributesToGet": ["c", "c"]})).unwrap_err().message(),
            "One or more parameter values were invalid: Duplicate value in attribute name: c"
        );
    }
}
