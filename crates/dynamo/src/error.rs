//! The single error type of this crate.
//!
//! Every failure (bad number, malformed attribute value, bad expression, type
//! mismatch while applying an update) carries the exact message DynamoDB would
//! return. The protocol layer sends [`Error::message`] back to the client,
//! normally as a `ValidationException`; [`ErrorKind::Serialization`] marks the
//! few errors DynamoDB reports as a `SerializationException` instead (a JSON
//! value of the wrong shape, such as `{"S": 5}`).

/// Which DynamoDB exception an [`Error`] corresponds to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// `com.amazon.coral.validate#ValidationException`.
    Validation,
    /// `com.amazon.coral.service#SerializationException`.
    Serialization,
}

/// A DynamoDB error with its client-facing message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    /// A `ValidationException` with this message.
    pub fn validation(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Validation,
            message: message.into(),
        }
    }

    /// A `SerializationException` with this message.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Serialization,
            message: message.into(),
        }
    }

    /// The message to return to the client, exactly as DynamoDB words it.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Which exception type the protocol layer should report.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}
