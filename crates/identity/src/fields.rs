//! Reading request fields with Cognito's own validation errors, and writing
//! users the way the API shows them. Every string is length-checked here,
//! before any work is done with it.

use serde_json::{Value, json};

use crate::error::{CognitoError, CognitoResult};
use crate::record::UserRecord;

/// A request body: a JSON object (the node bounds its size before).
pub fn request(body: &[u8]) -> CognitoResult<Value> {
    let req: Value = serde_json::from_slice(body)
        .map_err(|e| CognitoError::new("SerializationException", format!("the request body is not JSON: {e}")))?;
    if !req.is_object() {
        return Err(CognitoError::new(
            "SerializationException",
            "the request body must be a JSON object",
        ));
    }
    Ok(req)
}

/// A required string field of at most `max` bytes.
pub fn required<'a>(req: &'a Value, name: &str, max: usize) -> CognitoResult<&'a str> {
    optional(req, name, max)?.ok_or_else(|| CognitoError::invalid(format!("Missing required parameter {name}")))
}

/// An optional string field of at most `max` bytes.
pub fn optional<'a>(req: &'a Value, name: &str, max: usize) -> CognitoResult<Option<&'a str>> {
    match req.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() > max => Err(CognitoError::invalid(format!(
            "1 validation error detected: Value at '{}' failed to satisfy constraint: Member must have length less than or equal to {max}",
            lower_first(name)
        ))),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(CognitoError::new("SerializationException", format!("{name} must be a string"))),
    }
}

fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// A username: 1..=128 characters, no control characters or spaces.
pub fn username(req: &Value, name: &str) -> CognitoResult<String> {
    let u = required(req, name, 512)?;
    if u.is_empty() || u.chars().count() > 128 || u.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(CognitoError::invalid(format!(
            "1 validation error detected: Value at '{}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{{L}}\\p{{M}}\\p{{S}}\\p{{N}}\\p{{P}}]+",
            lower_first(name)
        )));
    }
    Ok(u.to_string())
}

/// A string-to-string map field (AuthParameters, ChallengeResponses), at most 32 entries.
pub fn string_map<'a>(req: &'a Value, name: &str) -> CognitoResult<Vec<(&'a str, &'a str)>> {
    let Some(v) = req.get(name) else {
        return Ok(Vec::new());
    };
    let Some(map) = v.as_object() else {
        return Err(CognitoError::new("SerializationException", format!("{name} must be a map")));
    };
    if map.len() > 32 {
        return Err(CognitoError::invalid(format!("{name} has too many entries")));
    }
    map.iter()
        .map(|(k, v)| match v.as_str() {
            Some(s) if s.len() <= 8192 => Ok((k.as_str(), s)),
            Some(_) => Err(CognitoError::invalid(format!("{name}.{k} is too long"))),
            None => Err(CognitoError::new("SerializationException", format!("{name}.{k} must be a string"))),
        })
        .collect()
}

/// One entry of a string map, required.
pub fn entry<'a>(map: &[(&'a str, &'a str)], key: &str) -> CognitoResult<&'a str> {
    map.iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| *v)
        .ok_or_else(|| CognitoError::invalid(format!("Missing required parameter {key}")))
}

/// A `UserAttributes` list: at most 50 `{Name, Value}` pairs, values ≤ 2048 bytes.
pub fn attributes(req: &Value, name: &str) -> CognitoResult<Vec<(String, String)>> {
    let Some(v) = req.get(name) else {
        return Ok(Vec::new());
    };
    let Some(list) = v.as_array() else {
        return Err(CognitoError::new("SerializationException", format!("{name} must be a list")));
    };
    if list.len() > 50 {
        return Err(CognitoError::invalid(format!("{name} has more than 50 attributes")));
    }
    list.iter()
        .map(|a| {
            let n = required(a, "Name", 32)?;
            let value = optional(a, "Value", 2048)?.unwrap_or_default();
            if n.is_empty() || n == "sub" {
                return Err(CognitoError::invalid(format!("Cannot modify the non-mutable attribute {n:?}")));
            }
            Ok((n.to_string(), value.to_string()))
        })
        .collect()
}

/// Seconds since the epoch, as Cognito's JSON dates are.
fn date(ms: u64) -> Value {
    json!(ms as f64 / 1000.0)
}

/// A user's attributes as `[{Name, Value}]`, `sub` first.
pub fn attribute_list(user: &UserRecord) -> Value {
    let mut list = vec![json!({ "Name": "sub", "Value": user.sub })];
    list.extend(user.attributes.iter().map(|(n, v)| json!({ "Name": n, "Value": v })));
    Value::Array(list)
}

/// A user as AdminCreateUser and ListUsers show it (`attributes_field` names the list).
pub fn user_view(user: &UserRecord, attributes_field: &str) -> Value {
    let mut v = json!({
        "Username": user.username,
        "UserCreateDate": date(user.created_ms),
        "UserLastModifiedDate": date(user.modified_ms),
        "Enabled": user.enabled,
        "UserStatus": user.status.as_str(),
    });
    v[attributes_field] = attribute_list(user);
    v
}
