//! Errors of the store. API crates map each variant to their protocol's error
//! (S3 XML code, DynamoDB `__type`) in one table of their own.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the bucket does not exist")]
    NoSuchBucket,
    #[error("the bucket already exists and is owned by {owner}")]
    BucketExists { owner: String },
    #[error("the bucket is not empty")]
    BucketNotEmpty,
    #[error("the key does not exist")]
    NoSuchKey,
    #[error("the version does not exist")]
    NoSuchVersion,
    #[error("the multipart upload does not exist")]
    NoSuchUpload,
    #[error("part {0} was not uploaded or its ETag does not match")]
    InvalidPart(u32),
    #[error("the list of parts was not in ascending order")]
    InvalidPartOrder,
    #[error("part {0} is smaller than the minimum allowed size of 5 MiB")]
    EntityTooSmall(u32),
    #[error("a precondition does not hold: {0}")]
    PreconditionFailed(String),
    /// The control plane refuses the write here (the application is fenced,
    /// or another region takes its writes). `code` is the protocol error code.
    #[error("{message}")]
    WriteRefused { code: &'static str, message: String },
    #[error("the store is shutting down")]
    ShuttingDown,
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The data volume is full or below its reserve (see [`crate::space`]):
    /// nothing was written; writes succeed again once space is freed.
    #[error("{0}")]
    InsufficientStorage(String),
    #[error("I/O error: {0}")]
    Io(std::io::Error),
    #[error("database error: {0}")]
    Db(String),
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        if crate::space::is_out_of_space(&e) {
            StoreError::InsufficientStorage(format!("the data volume is full ({e}); the write was not stored"))
        } else {
            StoreError::Io(e)
        }
    }
}

impl From<redb::StorageError> for StoreError {
    fn from(e: redb::StorageError) -> Self {
        match e {
            redb::StorageError::Io(io) => io.into(),
            other => StoreError::Db(other.to_string()),
        }
    }
}

/// redb's error types that wrap a [`redb::StorageError`] (which may be a full disk).
macro_rules! from_redb {
    ($($t:ident),*) => {$(
        impl From<redb::$t> for StoreError {
            fn from(e: redb::$t) -> Self {
                match e {
                    redb::$t::Storage(s) => s.into(),
                    other => StoreError::Db(other.to_string()),
                }
            }
        }
    )*};
}
from_redb!(DatabaseError, TransactionError, TableError, CommitError);

impl From<redb::Error> for StoreError {
    fn from(e: redb::Error) -> Self {
        match e {
            redb::Error::Io(io) => io.into(),
            other => StoreError::Db(other.to_string()),
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}
