//! Errors of replication: on the shipping side they make a batch fail (it is
//! retried), on the receiving side they become the HTTP answer to the batch.

use tandem_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ReplicationError {
    /// The batch is malformed.
    #[error("{0}")]
    Wire(String),
    /// The request is not from a known peer with the replication credential.
    #[error("{0}")]
    Unauthorized(String),
    /// A change cannot be applied here (missing bucket or table, bad item).
    #[error("{0}")]
    Rejected(String),
    /// The peer could not be reached or answered with an error.
    #[error("{0}")]
    Peer(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A change is stamped too far ahead of this region's clock: the batch is
    /// refused and retried until the clocks agree.
    #[error("clock guard: {0}")]
    ClockAhead(#[from] tandem_store::hlc::ClockAhead),
}

impl From<tandem_dynamo::api_error::DynamoError> for ReplicationError {
    fn from(e: tandem_dynamo::api_error::DynamoError) -> Self {
        ReplicationError::Rejected(e.message)
    }
}

impl ReplicationError {
    /// HTTP status of the answer to a batch that failed this way.
    pub fn status(&self) -> u16 {
        match self {
            ReplicationError::Wire(_) => 400,
            ReplicationError::Unauthorized(_) => 403,
            ReplicationError::Rejected(_) => 409,
            ReplicationError::Peer(_) => 502,
            ReplicationError::Store(_) | ReplicationError::ClockAhead(_) => 503,
        }
    }
}
