//! The DynamoDB and Streams JSON API in process (`tandem_dynamo::DynamoApi`,
//! the same entry point the node calls after checking the signature), on a
//! scratch store holding two tables, replaced every few thousand inputs.

use tandem_dynamo::authorize::Authority;
use tandem_dynamo::operation::DynamoOp;
use tandem_iam::Caller;
use std::sync::Mutex;

use serde_json::Value;
use tandem_dynamo::DynamoApi;
use tandem_dynamo::api_error::DynamoResult;
use tandem_store::Store;

use crate::runtime::block_on;

/// Inputs served by one scratch store before it is replaced.
const STORE_LIFETIME: usize = 5000;

/// Tables in every scratch store: `tbl` (hash `id` S, range `r` N, index `gsi` on `g`,
/// stream on) and `hsh` (hash `pk` B).
const SETUP: [&str; 4] = [
    r#"{"TableName":"tbl","AttributeDefinitions":[{"AttributeName":"id","AttributeType":"S"},{"AttributeName":"r","AttributeType":"N"},{"AttributeName":"g","AttributeType":"S"}],
        "KeySchema":[{"AttributeName":"id","KeyType":"HASH"},{"AttributeName":"r","KeyType":"RANGE"}],
        "GlobalSecondaryIndexes":[{"IndexName":"gsi","KeySchema":[{"AttributeName":"g","KeyType":"HASH"}],"Projection":{"ProjectionType":"ALL"}}],
        "BillingMode":"PAY_PER_REQUEST","StreamSpecification":{"StreamEnabled":true,"StreamViewType":"NEW_AND_OLD_IMAGES"}}"#,
    r#"{"TableName":"hsh","AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"B"}],
        "KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"BillingMode":"PAY_PER_REQUEST"}"#,
    r#"{"TableName":"tbl","Item":{"id":{"S":"a"},"r":{"N":"1"},"g":{"S":"x"},"m":{"M":{"l":{"L":[{"N":"1"},{"S":"s"}]}}},"ss":{"SS":["p","q"]}}}"#,
    r#"{"TableName":"hsh","Item":{"pk":{"B":"AAE="},"n":{"N":"-1.5e10"}}}"#,
];

struct Scratch {
    _dir: tempfile::TempDir,
    api: DynamoApi,
    served: usize,
}

fn new_scratch() -> Scratch {
    let dir = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .expect("a scratch directory");
    let store = Store::open(dir.path(), "us-east").expect("a scratch store");
    let api = DynamoApi::new(store);
    for (i, body) in SETUP.iter().enumerate() {
        let op = if i < 2 { DynamoOp::CreateTable } else { DynamoOp::PutItem };
        let done = block_on(api.handle(op, body.as_bytes(), &Authority::Node));
        if let Err(e) = done {
            panic!("setting up the scratch store failed: {}", e.message);
        }
    }
    Scratch { _dir: dir, api, served: 0 }
}

/// A caller with an identity policy, so every request is also authorized
/// (its tables, indexes and streams read from the fuzzed body).
fn scoped_caller() -> Caller {
    let doc = r#"{"Statement":[{"Effect":"Allow","Action":"dynamodb:*","Resource":"arn:aws:dynamodb:*:*:table/*"},
        {"Effect":"Deny","Action":"dynamodb:DeleteTable","Resource":"*"}]}"#;
    let policy = tandem_iam::Policy::parse_identity(doc, &|_| true).expect("a valid policy");
    Caller {
        access_key_id: "AKFUZZ".into(),
        principal: "fuzzer".into(),
        arn: Caller::user_arn("fuzzer"),
        userid: "fuzzer".into(),
        admin: false,
        policy: Some(std::sync::Arc::new(policy)),
        session_policy: None,
        temporary: false,
        web_identity: None,
    }
}

/// Serves one request (`target` is the X-Amz-Target value).
pub fn serve(target: &str, body: &[u8]) -> DynamoResult<Value> {
    static SCRATCH: Mutex<Option<Scratch>> = Mutex::new(None);
    let mut guard = SCRATCH.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if guard.as_ref().is_none_or(|s| s.served >= STORE_LIFETIME) {
        *guard = None;
        *guard = Some(new_scratch());
    }
    let scratch = guard.as_mut().expect("just set");
    scratch.served += 1;
    let caller = scoped_caller();
    let context = tandem_iam::Context::default();
    let authority = Authority::Client {
        caller: &caller,
        context: &context,
    };
    block_on(scratch.api.handle(DynamoOp::from_target(target), body, &authority))
}
