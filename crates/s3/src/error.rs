//! The one table that maps store errors to S3 error codes and HTTP statuses.

use s3s::{S3Error, S3ErrorCode, s3_error};
use tandem_store::StoreError;

/// Converts a store error into the S3 error a client should see.
pub fn s3_err(e: StoreError) -> S3Error {
    match e {
        StoreError::NoSuchBucket => s3_error!(NoSuchBucket, "The specified bucket does not exist"),
        StoreError::BucketExists { .. } => s3_error!(BucketAlreadyExists, "The requested bucket name is not available"),
        StoreError::BucketNotEmpty => s3_error!(BucketNotEmpty, "The bucket you tried to delete is not empty"),
        StoreError::NoSuchKey => s3_error!(NoSuchKey, "The specified key does not exist."),
        StoreError::NoSuchVersion => s3_error!(NoSuchVersion, "The specified version does not exist."),
        StoreError::NoSuchUpload => s3_error!(NoSuchUpload, "The specified multipart upload does not exist."),
        StoreError::InvalidPart(n) => S3Error::with_message(
            S3ErrorCode::InvalidPart,
            format!("Part {n} could not be found or its ETag did not match the uploaded part."),
        ),
        StoreError::InvalidPartOrder => s3_error!(InvalidPartOrder, "The list of parts was not in ascending order."),
        StoreError::EntityTooSmall(n) => S3Error::with_message(
            S3ErrorCode::EntityTooSmall,
            format!("Part {n} is smaller than the minimum allowed size of 5 MiB."),
        ),
        StoreError::PreconditionFailed(why) => S3Error::with_message(S3ErrorCode::PreconditionFailed, why),
        StoreError::ShuttingDown => s3_error!(ServiceUnavailable, "The node is shutting down"),
        StoreError::WriteRefused { code, message } => {
            // 409, not 503: the AWS SDKs retry 5xx (for 10-30 s with their
            // default policies) but not 409, and retrying cannot help until an
            // operator changes the app's state. See ARCHITECTURE.md.
            let mut e = S3Error::with_message(S3ErrorCode::Custom(code.into()), message);
            e.set_status_code(http::StatusCode::CONFLICT);
            e
        }
        StoreError::InsufficientStorage(message) => {
            let mut e = S3Error::with_message(S3ErrorCode::Custom("InsufficientStorage".into()), message);
            e.set_status_code(http::StatusCode::INSUFFICIENT_STORAGE);
            e
        }
        other => {
            tracing::error!(error = %other, "store failure");
            s3_error!(InternalError, "The node could not complete the request")
        }
    }
}

/// `?`-friendly conversion for store results.
pub trait OrS3<T> {
    fn or_s3(self) -> s3s::S3Result<T>;
}

impl<T> OrS3<T> for Result<T, StoreError> {
    fn or_s3(self) -> s3s::S3Result<T> {
        self.map_err(s3_err)
    }
}
