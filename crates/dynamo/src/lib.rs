//! The DynamoDB data model and expression engine for tandem.
//!
//! This crate knows nothing of HTTP, storage or tables. It provides:
//!
//! - [`Number`]: DynamoDB's exact 38-digit decimal, with canonical rendering,
//!   exact arithmetic and an order-preserving byte encoding for storage keys;
//! - [`AttributeValue`] and [`Item`]: the ten DynamoDB data types, DynamoDB's
//!   equality and item-size rules, and conversion to and from the wire JSON
//!   with DynamoDB's validation messages ([`wire`]);
//! - [`expr`]: condition, filter, key-condition, update and projection
//!   expressions — parsing, validation with DynamoDB's messages, evaluation
//!   against items, and application of updates.
//!
//! Every failure is an [`Error`] whose [`Error::message`] is what DynamoDB
//! would say; the protocol layer returns it as a `ValidationException` (or a
//! `SerializationException` for [`ErrorKind::Serialization`]).
//!
//! ```
//! use serde_json::json;
//! use tandem_dynamo::{ExpressionContext, item_from_json};
//!
//! let item = item_from_json(&json!({"id": {"S": "a"}, "n": {"N": "1"}})).unwrap();
//! let values = json!({":one": {"N": "1"}});
//! let mut context = ExpressionContext::from_json(None, Some(&values)).unwrap();
//! let condition = context.parse_condition("attribute_exists(id)").unwrap();
//! let update = context.parse_update("SET n = n + :one").unwrap();
//! context.check_all_used().unwrap();
//! assert!(condition.evaluate(Some(&item)));
//! assert_eq!(update.apply(&item).unwrap()["n"], tandem_dynamo::AttributeValue::N(2u64.into()));
//! ```

pub mod error;
pub mod expr;
pub mod number;
pub mod value;
pub mod wire;

pub use error::{Error, ErrorKind};
pub use expr::{
    Comparator, Condition, DocumentPath, ExpressionContext, ExpressionKind, KeyCondition, Operand, PathElement, Projection, RangeCondition,
    RangeKeyCondition, SetValue, UpdateAction, UpdateExpression,
};
pub use number::Number;
pub use value::{AttributeValue, Item, MAX_ITEM_SIZE, MAX_NESTING_DEPTH, ValueType, item_size, nesting_depth};
pub use wire::{item_from_json, item_to_json};

// The DynamoDB API on top of the model: protocol, catalog, storage, operations.
pub mod api;
pub mod api_error;
pub mod authorize;
mod catalog;
mod collection;
mod keys;
mod legacy;
pub mod operation;
mod ops;
mod params;
pub mod replica;
mod storage;
pub mod table;
mod tags;

pub use api::DynamoApi;
pub use collection::DynamoLimits;
pub use storage::Stamp;
mod ttl;
