//! Errors of the DynamoDB API as clients see them: every exception name the
//! operations can return, with the wire mapping (`__type`, HTTP status) in one
//! table. Model and expression errors ([`crate::error::Error`]) convert into it.

use serde_json::json;

/// The kinds of error DynamoDB clients know by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Validation,
    ResourceNotFound,
    ResourceInUse,
    ConditionalCheckFailed,
    TransactionCanceled,
    Serialization,
    UnknownOperation,
    MissingAuthenticationToken,
    UnrecognizedClient,
    InvalidSignature,
    /// A policy does not allow the action on the resource.
    AccessDenied,
    /// Temporary credentials past their expiry.
    ExpiredToken,
    LimitExceeded,
    InternalServer,
    ExpiredIterator,
    TrimmedDataAccess,
    IdempotentParameterMismatch,
    /// The table's application is fenced: no region takes writes.
    AppFenced,
    /// Another region takes the application's writes now.
    NotWriteRegion,
    /// The region's data volume is full (or below its reserve): nothing was written.
    InsufficientStorage,
    /// A write would grow an item collection (a table with local indexes) past its limit.
    ItemCollectionSizeLimitExceeded,
}

impl ErrorKind {
    /// `__type` and HTTP status of each kind.
    fn wire(self) -> (&'static str, u16) {
        use ErrorKind::*;
        match self {
            Validation => ("com.amazon.coral.validate#ValidationException", 400),
            ResourceNotFound => ("com.amazonaws.dynamodb.v20120810#ResourceNotFoundException", 400),
            ResourceInUse => ("com.amazonaws.dynamodb.v20120810#ResourceInUseException", 400),
            ConditionalCheckFailed => ("com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException", 400),
            TransactionCanceled => ("com.amazonaws.dynamodb.v20120810#TransactionCanceledException", 400),
            Serialization => ("com.amazon.coral.service#SerializationException", 400),
            UnknownOperation => ("com.amazon.coral.service#UnknownOperationException", 400),
            MissingAuthenticationToken => ("com.amazon.coral.service#MissingAuthenticationTokenException", 400),
            UnrecognizedClient => ("com.amazon.coral.service#UnrecognizedClientException", 400),
            InvalidSignature => ("com.amazon.coral.service#InvalidSignatureException", 400),
            AccessDenied => ("com.amazon.coral.service#AccessDeniedException", 400),
            ExpiredToken => ("com.amazon.coral.service#ExpiredTokenException", 400),
            LimitExceeded => ("com.amazonaws.dynamodb.v20120810#LimitExceededException", 400),
            InternalServer => ("com.amazonaws.dynamodb.v20120810#InternalServerError", 500),
            ExpiredIterator => ("com.amazonaws.dynamodb.v20120810#ExpiredIteratorException", 400),
            TrimmedDataAccess => ("com.amazonaws.dynamodb.v20120810#TrimmedDataAccessException", 400),
            IdempotentParameterMismatch => ("com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException", 400),
            // 400 like every client error of the API: the SDKs retry only
            // throttling codes and 5xx, and a retry cannot help here.
            AppFenced => ("tandem#AppFenced", 400),
            NotWriteRegion => ("tandem#NotWriteRegion", 400),
            InsufficientStorage => ("tandem#InsufficientStorage", 507),
            ItemCollectionSizeLimitExceeded => ("com.amazonaws.dynamodb.v20120810#ItemCollectionSizeLimitExceededException", 400),
        }
    }
}

/// An error to return to a DynamoDB client.
#[derive(Debug, Clone)]
pub struct DynamoError {
    pub kind: ErrorKind,
    pub message: String,
    /// Extra members of the error body (cancellation reasons, the item of a failed condition).
    pub extra: Option<serde_json::Map<String, serde_json::Value>>,
}

pub type DynamoResult<T> = Result<T, DynamoError>;

impl DynamoError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            extra: None,
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Validation, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ResourceNotFound, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InternalServer, message)
    }

    /// HTTP status and JSON body.
    pub fn to_wire(&self) -> (u16, String) {
        let (type_name, status) = self.kind.wire();
        // DynamoDB's SerializationException for a body that is not JSON and
        // its UnknownOperationException carry no message at all.
        let mut body = match self.message.is_empty() {
            true => json!({ "__type": type_name }),
            false => json!({ "__type": type_name, "message": self.message }),
        };
        if let (Some(extra), Some(obj)) = (&self.extra, body.as_object_mut()) {
            obj.extend(extra.clone());
        }
        (status, body.to_string())
    }
}

impl From<crate::error::Error> for DynamoError {
    fn from(e: crate::error::Error) -> Self {
        let kind = match e.kind() {
            crate::error::ErrorKind::Validation => ErrorKind::Validation,
            crate::error::ErrorKind::Serialization => ErrorKind::Serialization,
        };
        Self::new(kind, e.message())
    }
}

impl From<tandem_store::StoreError> for DynamoError {
    fn from(e: tandem_store::StoreError) -> Self {
        if let tandem_store::StoreError::WriteRefused { code, message } = e {
            let kind = if code == "AppFenced" {
                ErrorKind::AppFenced
            } else {
                ErrorKind::NotWriteRegion
            };
            return DynamoError::new(kind, message);
        }
        if let tandem_store::StoreError::InsufficientStorage(message) = e {
            return DynamoError::new(ErrorKind::InsufficientStorage, message);
        }
        tracing::error!(error = %e, "store failure");
        DynamoError::internal("The server encountered an internal error trying to fulfill the request.")
    }
}
