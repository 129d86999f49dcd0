//! The DynamoDB JSON API of a region node: one entry point that takes the
//! `X-Amz-Target` operation and the request body and returns the response body.
//! Every operation is named here once (the router, over the typed
//! [`DynamoOp`]) and implemented in `ops/`; [`crate::authorize`] runs first.

use serde_json::Value;
use tandem_store::Store;

use crate::api_error::{DynamoError, DynamoResult, ErrorKind};
use crate::authorize::Authority;
use crate::operation::DynamoOp;

/// Target prefixes of the two JSON protocols served.
pub const DYNAMODB_TARGET: &str = "DynamoDB_20120810.";
pub const STREAMS_TARGET: &str = "DynamoDBStreams_20120810.";

/// The DynamoDB and DynamoDB Streams API of one region. Cheap to clone.
#[derive(Clone)]
pub struct DynamoApi {
    pub(crate) store: Store,
    pub(crate) region: String,
    /// Recent TransactWriteItems client tokens (see `ops/transact.rs`).
    pub(crate) tokens: std::sync::Arc<crate::ops::transact::TokenCache>,
    /// Every region of the deployment: where global-table replicas may go.
    pub(crate) regions: std::sync::Arc<Vec<String>>,
    /// Limits an operator may set (`[dynamodb]`).
    pub(crate) limits: crate::DynamoLimits,
}

impl DynamoApi {
    pub fn new(store: Store) -> Self {
        let region = store.region().to_string();
        Self {
            regions: std::sync::Arc::new(vec![region.clone()]),
            store,
            region,
            tokens: Default::default(),
            limits: Default::default(),
        }
    }

    /// Sets the operator's limits (`[dynamodb]` in tandem.toml).
    pub fn with_limits(mut self, limits: crate::DynamoLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Names the deployment's regions (this one included), where replicas may go.
    pub fn with_regions(mut self, regions: Vec<String>) -> Self {
        self.regions = std::sync::Arc::new(regions);
        self
    }

    /// Serves one request of operation `op` (parsed from `X-Amz-Target`),
    /// authorized for `authority` before anything is read or written.
    pub async fn handle(&self, op: DynamoOp, body: &[u8], authority: &Authority<'_>) -> DynamoResult<Value> {
        self.handle_at(op, body, authority, None).await
    }

    /// [`DynamoApi::handle`] for a request that reached this node as `host`
    /// (the `Host` the client used), which DescribeEndpoints answers with.
    pub async fn handle_at(&self, op: DynamoOp, body: &[u8], authority: &Authority<'_>, host: Option<&str>) -> DynamoResult<Value> {
        // Not JSON at all: DynamoDB's bare SerializationException (no message).
        let req: Value = if body.is_empty() {
            Value::Object(Default::default())
        } else {
            serde_json::from_slice(body).map_err(|_| DynamoError::new(ErrorKind::Serialization, ""))?
        };
        if !req.is_object() {
            return Err(DynamoError::new(ErrorKind::Serialization, "Start of list found where not expected"));
        }
        if op == DynamoOp::Unknown {
            return Err(unknown_operation());
        }
        self.authorize(op, &req, authority)?;
        self.route(op, req, host, matches!(authority, Authority::Client { .. })).await
    }

    /// DescribeEndpoints: this node is the endpoint (never AWS's, so SDKs
    /// with endpoint discovery keep talking to tandem), cached for a day.
    fn describe_endpoints(&self, host: Option<&str>) -> Value {
        let address = host.map_or_else(|| format!("dynamodb.{}.amazonaws.com", self.region), str::to_string);
        serde_json::json!({ "Endpoints": [{ "Address": address, "CachePeriodInMinutes": 1440 }] })
    }

    /// The router: every operation, named once. `client`: the request is a
    /// client's (not the node's own), so every write of it is gated.
    async fn route(&self, op: DynamoOp, req: Value, host: Option<&str>, client: bool) -> DynamoResult<Value> {
        use DynamoOp::*;
        match op {
            DescribeEndpoints => Ok(self.describe_endpoints(host)),
            CreateTable => self.create_table(req, client).await,
            DescribeTable => self.describe_table(req).await,
            ListTables => self.list_tables(req).await,
            DeleteTable => self.delete_table(req).await,
            UpdateTable => self.update_table(req, client).await,
            TagResource => self.tag_resource(req, false).await,
            UntagResource => self.tag_resource(req, true).await,
            ListTagsOfResource => self.list_tags(req).await,
            UpdateTimeToLive => self.update_ttl(req).await,
            DescribeTimeToLive => self.describe_ttl(req).await,
            PutItem => self.put_item(req).await,
            GetItem => self.get_item(req).await,
            UpdateItem => self.update_item(req).await,
            DeleteItem => self.delete_item(req).await,
            Query => self.query(req).await,
            Scan => self.scan(req).await,
            BatchGetItem => self.batch_get_item(req).await,
            BatchWriteItem => self.batch_write_item(req).await,
            TransactWriteItems => self.transact_write_items(req).await,
            TransactGetItems => self.transact_get_items(req).await,
            ListStreams => self.list_streams(req).await,
            DescribeStream => self.describe_stream(req).await,
            GetShardIterator => self.get_shard_iterator(req).await,
            GetRecords => self.get_records(req).await,
            Unknown => Err(unknown_operation()),
        }
    }
}

/// DynamoDB's UnknownOperationException, which has no message.
fn unknown_operation() -> DynamoError {
    DynamoError::new(ErrorKind::UnknownOperation, "")
}
