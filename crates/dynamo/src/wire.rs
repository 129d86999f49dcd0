//! Conversion between [`AttributeValue`]s and DynamoDB's wire JSON
//! (`{"S":"x"}`, `{"N":"1"}`, `{"B":"<base64>"}`, `{"NULL":true}`, ...).
//!
//! Parsing validates like DynamoDB and reports its messages: JSON of the wrong
//! shape is an [`ErrorKind::Serialization`](crate::ErrorKind) error (as the
//! service's Java deserializer reports it), bad contents (empty or duplicate
//! sets, `NULL: false`, bad numbers, no or several types) a validation error.
//! As in DynamoDB, unknown type descriptors and `null` members are ignored, so
//! `{"X": 1}` reads as an empty attribute value.

use std::collections::HashSet;

use base64_simd::STANDARD as BASE64;
use serde::de::{self, Deserialize, Deserializer};
use serde::ser::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::Error;
use crate::number::Number;
use crate::value::{AttributeValue, Item, ValueType};

const INVALID: &str = "One or more parameter values were invalid";
const EMPTY_VALUE: &str = "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes";
const SEVERAL_TYPES: &str = "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes";
const ATTRIBUTE_VALUE_CLASS: &str = "com.amazonaws.dynamodb.v20120810.AttributeValue";

impl AttributeValue {
    /// Parses one wire-format attribute value, validating it like DynamoDB.
    pub fn from_json(json: &Value) -> Result<Self, Error> {
        let fields = expect_value_struct(json)?;
        let mut present = fields.iter().filter_map(|(name, value)| {
            let value_type = ValueType::from_descriptor(name)?;
            (!value.is_null()).then_some((value_type, value))
        });
        let (value_type, value) = present.next().ok_or_else(|| Error::validation(EMPTY_VALUE))?;
        let parsed = parse_typed(value_type, value)?;
        if let Some((other_type, other_value)) = present.next() {
            parse_typed(other_type, other_value)?;
            return Err(Error::validation(SEVERAL_TYPES));
        }
        Ok(parsed)
    }

    /// The wire-format JSON of this value (numbers canonical, binaries base64).
    pub fn to_json(&self) -> Value {
        let (descriptor, body) = match self {
            AttributeValue::S(text) => ("S", Value::from(text.as_str())),
            AttributeValue::N(number) => ("N", Value::from(number.to_string())),
            AttributeValue::B(bytes) => ("B", Value::from(BASE64.encode_to_string(bytes))),
            AttributeValue::BOOL(flag) => ("BOOL", Value::from(*flag)),
            AttributeValue::NULL => ("NULL", Value::from(true)),
            AttributeValue::M(map) => ("M", item_to_json(map)),
            AttributeValue::L(list) => ("L", list.iter().map(AttributeValue::to_json).collect()),
            AttributeValue::SS(set) => ("SS", set.iter().map(|text| Value::from(text.as_str())).collect()),
            AttributeValue::NS(set) => ("NS", set.iter().map(|number| Value::from(number.to_string())).collect()),
            AttributeValue::BS(set) => ("BS", set.iter().map(|bytes| Value::from(BASE64.encode_to_string(bytes))).collect()),
        };
        Value::Object(Map::from_iter([(descriptor.to_string(), body)]))
    }
}

/// Parses a wire-format item (`{"name": {"S": "x"}, ...}`).
pub fn item_from_json(json: &Value) -> Result<Item, Error> {
    expect_map(json)?
        .iter()
        .map(|(name, value)| Ok((name.clone(), AttributeValue::from_json(value)?)))
        .collect()
}

/// The wire-format JSON of an item.
pub fn item_to_json(item: &Item) -> Value {
    Value::Object(item.iter().map(|(name, value)| (name.clone(), value.to_json())).collect())
}

fn parse_typed(value_type: ValueType, json: &Value) -> Result<AttributeValue, Error> {
    Ok(match value_type {
        ValueType::S => AttributeValue::S(expect_string(json)?.to_string()),
        ValueType::N => AttributeValue::N(Number::parse(expect_string(json)?)?),
        ValueType::B => AttributeValue::B(expect_blob(json)?),
        ValueType::BOOL => AttributeValue::BOOL(expect_boolean(json)?),
        ValueType::NULL => parse_null(json)?,
        ValueType::M => AttributeValue::M(item_from_json(json)?),
        ValueType::L => AttributeValue::L(expect_list(json)?.iter().map(AttributeValue::from_json).collect::<Result<_, _>>()?),
        ValueType::SS => parse_string_set(json)?,
        ValueType::NS => parse_number_set(json)?,
        ValueType::BS => parse_binary_set(json)?,
    })
}

fn parse_null(json: &Value) -> Result<AttributeValue, Error> {
    if expect_boolean(json)? {
        Ok(AttributeValue::NULL)
    } else {
        Err(Error::validation(format!(
            "{INVALID}: Null attribute value types must have the value of true"
        )))
    }
}

fn parse_string_set(json: &Value) -> Result<AttributeValue, Error> {
    let elements = set_elements(json, "An string set  may not be empty")?;
    let strings = elements
        .iter()
        .map(|element| expect_string(element).map(str::to_string))
        .collect::<Result<Vec<_>, _>>()?;
    if has_duplicates(&strings) {
        return Err(Error::validation(format!(
            "{INVALID}: Input collection [{}] contains duplicates.",
            strings.join(", ")
        )));
    }
    Ok(AttributeValue::SS(strings))
}

fn parse_number_set(json: &Value) -> Result<AttributeValue, Error> {
    let elements = set_elements(json, "An number set  may not be empty")?;
    let numbers = elements
        .iter()
        .map(|element| Number::parse(expect_string(element)?))
        .collect::<Result<Vec<_>, _>>()?;
    if has_duplicates(&numbers) {
        return Err(Error::validation("Input collection contains duplicates"));
    }
    Ok(AttributeValue::NS(numbers))
}

fn parse_binary_set(json: &Value) -> Result<AttributeValue, Error> {
    let elements = set_elements(json, "Binary sets should not be empty")?;
    let blobs = elements.iter().map(expect_blob).collect::<Result<Vec<_>, _>>()?;
    if has_duplicates(&blobs) {
        let encoded: Vec<&str> = elements.iter().filter_map(Value::as_str).collect();
        return Err(Error::validation(format!(
            "{INVALID}: Input collection [{}]of type BS contains duplicates.",
            encoded.join(", ")
        )));
    }
    Ok(AttributeValue::BS(blobs))
}

/// The elements of a set, which must be a non-empty JSON array without nulls.
fn set_elements<'a>(json: &'a Value, empty_message: &str) -> Result<&'a [Value], Error> {
    let elements = expect_list(json)?;
    if elements.is_empty() {
        return Err(Error::validation(format!("{INVALID}: {empty_message}")));
    }
    if elements.iter().any(Value::is_null) {
        return Err(Error::serialization("Unexpected value type in payload"));
    }
    Ok(elements)
}

fn has_duplicates<T: Eq + std::hash::Hash>(elements: &[T]) -> bool {
    let mut seen = HashSet::with_capacity(elements.len());
    !elements.iter().all(|element| seen.insert(element))
}

/// How the service's deserializer names a JSON scalar it did not expect.
fn scalar_token(json: &Value) -> &'static str {
    match json {
        Value::Bool(true) => "TRUE_VALUE",
        Value::Bool(false) => "FALSE_VALUE",
        Value::Number(number) if number.as_f64().is_some_and(|value| value.fract() != 0.0) => "DECIMAL_VALUE",
        Value::Number(_) => "NUMBER_VALUE",
        _ => "STRING_VALUE",
    }
}

fn structure_not_expected() -> Error {
    Error::serialization("Start of structure or map found where not expected")
}

fn expect_string(json: &Value) -> Result<&str, Error> {
    match json {
        Value::String(text) => Ok(text),
        Value::Array(_) => Err(Error::serialization("Unrecognized collection type class java.lang.String")),
        Value::Object(_) => Err(structure_not_expected()),
        scalar => Err(Error::serialization(format!(
            "{} cannot be converted to String",
            scalar_token(scalar)
        ))),
    }
}

fn expect_boolean(json: &Value) -> Result<bool, Error> {
    match json {
        Value::Bool(flag) => Ok(*flag),
        Value::String(text) => match text.to_ascii_uppercase().as_str() {
            "TRUE" | "1" | "YES" => Ok(true),
            "FALSE" | "0" | "NO" => Ok(false),
            _ => Err(Error::serialization("Unexpected token received from parser")),
        },
        Value::Array(_) => Err(Error::serialization("Unrecognized collection type class java.lang.Boolean")),
        Value::Object(_) => Err(structure_not_expected()),
        scalar => Err(Error::serialization(format!(
            "{} cannot be converted to Boolean",
            scalar_token(scalar)
        ))),
    }
}

fn expect_blob(json: &Value) -> Result<Vec<u8>, Error> {
    let encoded = match json {
        Value::String(text) => text,
        Value::Array(_) => return Err(Error::serialization("Unrecognized collection type class java.nio.ByteBuffer")),
        Value::Object(_) => return Err(structure_not_expected()),
        _ => return Err(Error::serialization("only base-64-encoded strings are convertible to bytes")),
    };
    if encoded.len() % 4 != 0 {
        return Err(Error::serialization(format!(
            "Base64 encoded length is expected a multiple of 4 bytes but found: {}",
            encoded.len()
        )));
    }
    BASE64
        .decode_to_vec(encoded)
        .map_err(|_| Error::serialization("Invalid last non-pad Base64 character dectected"))
}

fn expect_list(json: &Value) -> Result<&[Value], Error> {
    match json {
        Value::Array(elements) => Ok(elements),
        Value::Object(_) => Err(structure_not_expected()),
        _ => Err(Error::serialization("Unexpected field type")),
    }
}

fn expect_map(json: &Value) -> Result<&Map<String, Value>, Error> {
    match json {
        Value::Object(fields) => Ok(fields),
        Value::Array(_) => Err(Error::serialization(format!(
            "Unrecognized collection type java.util.Map<java.lang.String, {ATTRIBUTE_VALUE_CLASS}>"
        ))),
        _ => Err(Error::serialization("Unexpected field type")),
    }
}

fn expect_value_struct(json: &Value) -> Result<&Map<String, Value>, Error> {
    match json {
        Value::Object(fields) => Ok(fields),
        Value::Null => Err(Error::validation(EMPTY_VALUE)),
        Value::Array(_) => Err(Error::serialization(format!(
            "Unrecognized collection type class {ATTRIBUTE_VALUE_CLASS}"
        ))),
        _ => Err(Error::serialization("Unexpected value type in payload")),
    }
}

/// Serializes as wire JSON.
impl Serialize for AttributeValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

/// Deserializes from wire JSON, with full validation.
impl<'de> Deserialize<'de> for AttributeValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = Value::deserialize(deserializer)?;
        AttributeValue::from_json(&json).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::error::ErrorKind;

    fn parse(json: Value) -> AttributeValue {
        AttributeValue::from_json(&json).unwrap_or_else(|error| panic!("{json}: {error}"))
    }

    fn error(json: Value) -> Error {
        AttributeValue::from_json(&json).expect_err(&json.to_string())
    }

    #[test]
    fn every_type_round_trips_through_wire_json() {
        let wire = json!({"M": {
            "s": {"S": "x"}, "n": {"N": "1.5"}, "b": {"B": "AQI="}, "t": {"BOOL": true}, "z": {"NULL": true},
            "l": {"L": [{"S": "a"}, {"N": "2"}]}, "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]}, "bs": {"BS": ["AQ==", "Ag=="]}
        }});
        assert_eq!(parse(wire.clone()).to_json(), wire);
        assert_eq!(parse(json!({"B": "AQI="})), AttributeValue::B(vec![1, 2]));
    }

    #[test]
    fn numbers_are_returned_in_canonical_form() {
        assert_eq!(parse(json!({"N": "01.50"})).to_json(), json!({"N": "1.5"}));
        assert_eq!(parse(json!({"NS": ["1e2", "-0"]})).to_json(), json!({"NS": ["100", "0"]}));
    }

    #[test]
    fn empty_and_multiple_type_descriptors_are_rejected() {
        let empty = "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes";
        for json in [
            json!({}),
            json!({"X": "1"}),
            json!({"S": null}),
            json!({"M": {"a": {}}}),
            json!({"L": [{}]}),
        ] {
            assert_eq!(error(json).message(), empty);
        }
        assert_eq!(
            error(json!({"S": "a", "N": "1"})).message(),
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"
        );
        assert_eq!(
            error(json!({"S": "a", "N": "b"})).message(),
            "The parameter cannot be converted to a numeric value: b"
        );
        assert_eq!(parse(json!({"S": "a", "unknown": 1})), AttributeValue::from("a"));
    }

    #[test]
    fn set_and_null_contents_are_validated_with_dynamodb_messages() {
        let cases = [
            (
                json!({"NULL": false}),
                "One or more parameter values were invalid: Null attribute value types must have the value of true",
            ),
            (
                json!({"NULL": "no"}),
                "One or more parameter values were invalid: Null attribute value types must have the value of true",
            ),
            (
                json!({"SS": []}),
                "One or more parameter values were invalid: An string set  may not be empty",
            ),
            (
                json!({"NS": []}),
                "One or more parameter values were invalid: An number set  may not be empty",
            ),
            (
                json!({"BS": []}),
                "One or more parameter values were invalid: Binary sets should not be empty",
            ),
            (
                json!({"SS": ["a", "a"]}),
                "One or more parameter values were invalid: Input collection [a, a] contains duplicates.",
            ),
            (
                json!({"BS": ["Yg==", "Yg=="]}),
                "One or more parameter values were invalid: Input collection [Yg==, Yg==]of type BS contains duplicates.",
            ),
            (json!({"NS": ["1", "1.0"]}), "Input collection contains duplicates"),
            (json!({"NS": ["1", ""]}), "The parameter cannot be converted to a numeric value"),
            (
                json!({"N": "1e126"}),
                "Number overflow. Attempting to store a number with magnitude larger than supported range",
            ),
        ];
        for (json, message) in cases {
            let error = error(json);
            assert_eq!((error.kind(), error.message()), (ErrorKind::Validation, message));
        }
    }

    #[test]
    fn wrongly_shaped_json_is_a_serialization_error() {
        let cases = [
            (json!({"S": 5}), "NUMBER_VALUE cannot be converted to String"),
            (json!({"S": true}), "TRUE_VALUE cannot be converted to String"),
            (json!({"N": 1.5}), "DECIMAL_VALUE cannot be converted to String"),
            (json!({"S": ["a"]}), "Unrecognized collection type class java.lang.String"),
            (json!({"S": {}}), "Start of structure or map found where not expected"),
            (json!({"BOOL": 1}), "NUMBER_VALUE cannot be converted to Boolean"),
            (json!({"BOOL": "maybe"}), "Unexpected token received from parser"),
            (json!({"B": 5}), "only base-64-encoded strings are convertible to bytes"),
            (
                json!({"B": "abc"}),
                "Base64 encoded length is expected a multiple of 4 bytes but found: 3",
            ),
            (json!({"B": "ab$="}), "Invalid last non-pad Base64 character dectected"),
            (json!({"L": "x"}), "Unexpected field type"),
            (
                json!({"M": []}),
                "Unrecognized collection type java.util.Map<java.lang.String, com.amazonaws.dynamodb.v20120810.AttributeValue>",
            ),
            (json!({"L": ["x"]}), "Unexpected value type in payload"),
            (json!("x"), "Unexpected value type in payload"),
        ];
        for (json, message) in cases {
            let error = error(json);
            assert_eq!((error.kind(), error.message()), (ErrorKind::Serialization, message));
        }
    }

    #[test]
    fn boolean_strings_convert_like_the_service() {
        assert_eq!(parse(json!({"BOOL": "yes"})), AttributeValue::BOOL(true));
        assert_eq!(parse(json!({"BOOL": "0"})), AttributeValue::BOOL(false));
        assert_eq!(parse(json!({"NULL": "TRUE"})), AttributeValue::NULL);
    }

    #[test]
    fn items_and_serde_use_the_wire_format() {
        let item = item_from_json(&json!({"id": {"S": "1"}, "n": {"N": "2"}})).unwrap();
        assert_eq!(item_to_json(&item), json!({"id": {"S": "1"}, "n": {"N": "2"}}));
        let via_serde: Item = serde_json::from_str(r#"{"a":{"SS":["x"]}}"#).unwrap();
        assert_eq!(serde_json::to_string(&via_serde).unwrap(), r#"{"a":{"SS":["x"]}}"#);
        assert!(serde_json::from_str::<AttributeValue>(r#"{"SS":[]}"#).is_err());
        assert_eq!(item_from_json(&json!([])).unwrap_err().kind(), ErrorKind::Serialization);
    }
}
