//! DynamoDB expressions: parsing, validation, evaluation and application.
//!
//! Every expression goes through the same pipeline:
//!
//! 1. `lexer` splits the text into tokens;
//! 2. `parser` checks the syntax and builds an unresolved syntax tree
//!    (`ast`), reporting `Syntax error; token: …, near: …`;
//! 3. a builder ([`condition`], [`update`], [`projection`]) resolves `#name`
//!    and `:value` placeholders through the [`ExpressionContext`], applies
//!    DynamoDB's semantic checks (reserved words, functions, operand types,
//!    overlapping paths, ...) and produces a typed expression;
//! 4. the typed expression is evaluated ([`eval`]: conditions against an
//!    item), converted ([`key_condition`]: Query key conditions), applied
//!    (`apply`: updates) or projected ([`projection`]).
//!
//! All errors are [`crate::Error`]s carrying DynamoDB's exact message,
//! prefixed with the expression parameter (`Invalid UpdateExpression: …`).

mod apply;
mod ast;
pub mod condition;
pub mod context;
pub mod eval;
pub mod key_condition;
mod lexer;
pub mod operators;
mod parser;
pub mod path;
mod problems;
pub mod projection;
mod reserved;
pub mod update;

pub use condition::{Comparator, Condition, Operand};
pub use context::ExpressionContext;
pub use key_condition::{KeyCondition, RangeCondition, RangeKeyCondition};
pub use path::{DocumentPath, PathElement};
pub use projection::Projection;
pub use update::{SetValue, UpdateAction, UpdateExpression};

use crate::error::Error;

/// Which request parameter an expression came from; names it in errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpressionKind {
    Condition,
    Filter,
    KeyCondition,
    Update,
    Projection,
}

impl ExpressionKind {
    /// The request parameter: `ConditionExpression`, `FilterExpression`, ...
    pub fn parameter_name(self) -> &'static str {
        match self {
            ExpressionKind::Condition => "ConditionExpression",
            ExpressionKind::Filter => "FilterExpression",
            ExpressionKind::KeyCondition => "KeyConditionExpression",
            ExpressionKind::Update => "UpdateExpression",
            ExpressionKind::Projection => "ProjectionExpression",
        }
    }

    /// A validation error about an expression of this kind.
    pub(crate) fn error(self, message: &str) -> Error {
        Error::validation(format!("Invalid {}: {message}", self.parameter_name()))
    }
}

#[cfg(test)]
mod robustness_tests;
