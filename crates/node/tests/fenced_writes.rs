//! Every writing operation of every API, enumerated from the typed operation
//! enums, is refused while its application is fenced, and changes nothing.
//! A new writing operation cannot skip the write gate: `s3_call` and
//! `dynamo_call` match their enum exhaustively, so adding an operation does
//! not compile until it has a request here.

use std::net::{SocketAddr, TcpListener};

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;
use tandem_control::{AppBucket, AppSpec, AppTable};
use tandem_dynamo::operation::DynamoOp;
use tandem_node::{NodeConfig, RunningNode};
use tandem_s3::AccessKey;
use tandem_s3::ops::S3Op;

const KEY: &str = "ADMINKEY";
const SECRET: &str = "admin-secret";
const BUCKET: &str = "photos-us";
/// A second bucket of the app, empty, for DeleteBucket.
const SPARE: &str = "spare-us";
/// A bucket of the app that does not exist yet, for CreateBucket.
const UNBORN: &str = "unborn-us";
const TABLE: &str = "comments";
/// A table of the app that does not exist yet, for CreateTable.
const UNBORN_TABLE: &str = "later";

/// One request: method, path with query, extra headers, body.
struct Call {
    method: http::Method,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

fn call(method: http::Method, path: impl Into<String>, body: impl Into<Vec<u8>>) -> Call {
    Call {
        method,
        path: path.into(),
        headers: Vec::new(),
        body: body.into(),
    }
}

fn with(mut c: Call, name: &'static str, value: impl Into<String>) -> Call {
    c.headers.push((name, value.into()));
    c
}

fn md5_b64(body: &[u8]) -> String {
    use md5::Digest;
    base64_simd::STANDARD.encode_to_string(md5::Md5::digest(body))
}

/// The request of each S3 operation (`None`: it does not write).
fn s3_call(op: S3Op, upload: &str) -> Option<Call> {
    use http::Method as M;
    let obj = format!("/{BUCKET}/existing");
    let cors = br#"<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>"#;
    let policy =
        format!(r#"{{"Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{BUCKET}/*"}}]}}"#);
    let replication = br#"<ReplicationConfiguration><Role>r</Role><Rule><Status>Enabled</Status><Prefix></Prefix><Destination><Bucket>arn:aws:s3:::spare-us</Bucket></Destination></Rule></ReplicationConfiguration>"#;
    let tagging = br#"<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>"#;
    let complete = br#"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>"#;
    let delete = br#"<Delete><Object><Key>existing</Key></Object></Delete>"#;
    Some(match op {
        S3Op::CreateBucket => call(M::PUT, format!("/{UNBORN}"), ""),
        S3Op::DeleteBucket => call(M::DELETE, format!("/{SPARE}"), ""),
        S3Op::PutBucketVersioning => call(
            M::PUT,
            format!("/{BUCKET}?versioning"),
            "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
        ),
        S3Op::PutBucketCors => with(call(M::PUT, format!("/{BUCKET}?cors"), cors.to_vec()), "content-md5", md5_b64(cors)),
        S3Op::DeleteBucketCors => call(M::DELETE, format!("/{BUCKET}?cors"), ""),
        S3Op::PutBucketPolicy => call(M::PUT, format!("/{BUCKET}?policy"), policy),
        S3Op::DeleteBucketPolicy => call(M::DELETE, format!("/{BUCKET}?policy"), ""),
        S3Op::PutBucketAcl => with(call(M::PUT, format!("/{BUCKET}?acl"), ""), "x-amz-acl", "public-read"),
        S3Op::PutBucketReplication => call(M::PUT, format!("/{BUCKET}?replication"), replication.to_vec()),
        S3Op::DeleteBucketReplication => call(M::DELETE, format!("/{BUCKET}?replication"), ""),
        S3Op::PutPublicAccessBlock => {
            let pab = br#"<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls></PublicAccessBlockConfiguration>"#;
            with(
                call(M::PUT, format!("/{BUCKET}?publicAccessBlock"), pab.to_vec()),
                "content-md5",
                md5_b64(pab),
            )
        }
        S3Op::DeletePublicAccessBlock => call(M::DELETE, format!("/{BUCKET}?publicAccessBlock"), ""),
        S3Op::PutBucketOwnershipControls => {
            let oc = br#"<OwnershipControls><Rule><ObjectOwnership>BucketOwnerPreferred</ObjectOwnership></Rule></OwnershipControls>"#;
            with(
                call(M::PUT, format!("/{BUCKET}?ownershipControls"), oc.to_vec()),
                "content-md5",
                md5_b64(oc),
            )
        }
        S3Op::DeleteBucketOwnershipControls => call(M::DELETE, format!("/{BUCKET}?ownershipControls"), ""),
        // A browser form upload (unsigned: the form carries no signature) into
        // a bucket whose ACL lets anyone write.
        S3Op::PostObject => with(
            call(
                M::POST,
                format!("/{SPARE}"),
                "--B\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nposted\r\n\
                 --B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\ndata\r\n--B--\r\n",
            ),
            "content-type",
            "multipart/form-data; boundary=B",
        ),
        S3Op::PutObjectAcl => with(call(M::PUT, format!("{obj}?acl"), ""), "x-amz-acl", "public-read"),
        S3Op::PutObjectTagging => call(M::PUT, format!("{obj}?tagging"), tagging.to_vec()),
        S3Op::DeleteObjectTagging => call(M::DELETE, format!("{obj}?tagging"), ""),
        S3Op::PutObject => call(M::PUT, format!("/{BUCKET}/new"), "new body"),
        S3Op::CopyObject => with(
            call(M::PUT, format!("/{BUCKET}/copy"), ""),
            "x-amz-copy-source",
            format!("/{BUCKET}/existing"),
        ),
        S3Op::CreateMultipartUpload => call(M::POST, format!("/{BUCKET}/mp2?uploads"), ""),
        S3Op::UploadPart => call(M::PUT, format!("/{BUCKET}/mp?partNumber=2&uploadId={upload}"), "part two"),
        S3Op::UploadPartCopy => with(
            call(M::PUT, format!("/{BUCKET}/mp?partNumber=3&uploadId={upload}"), ""),
            "x-amz-copy-source",
            format!("/{BUCKET}/existing"),
        ),
        S3Op::CompleteMultipartUpload => call(M::POST, format!("/{BUCKET}/mp?uploadId={upload}"), complete.to_vec()),
        S3Op::AbortMultipartUpload => call(M::DELETE, format!("/{BUCKET}/mp?uploadId={upload}"), ""),
        S3Op::DeleteObject => call(M::DELETE, obj, ""),
        S3Op::DeleteObjects => with(
            call(M::POST, format!("/{BUCKET}?delete"), delete.to_vec()),
            "content-md5",
            md5_b64(delete),
        ),
        S3Op::ListBuckets
        | S3Op::HeadBucket
        | S3Op::ListObjects
        | S3Op::ListObjectsV2
        | S3Op::ListObjectVersions
        | S3Op::ListMultipartUploads
        | S3Op::GetBucketLocation
        | S3Op::GetBucketVersioning
        | S3Op::GetBucketCors
        | S3Op::GetBucketPolicy
        | S3Op::GetBucketAcl
        | S3Op::GetBucketReplication
        | S3Op::GetObject
        | S3Op::HeadObject
        | S3Op::GetObjectAcl
        | S3Op::GetObjectTagging
        | S3Op::ListParts
        | S3Op::GetObjectAttributes
        | S3Op::GetPublicAccessBlock
        | S3Op::GetBucketPolicyStatus
        | S3Op::GetBucketOwnershipControls
        | S3Op::Unknown => return None,
    })
}

/// The request body of each DynamoDB operation (`None`: it does not write).
fn dynamo_call(op: DynamoOp) -> Option<serde_json::Value> {
    let arn = format!("arn:aws:dynamodb:us-east:000000000000:table/{TABLE}");
    let key = json!({ "pk": { "S": "seed" } });
    Some(match op {
        DynamoOp::CreateTable => json!({
            "TableName": UNBORN_TABLE,
            "KeySchema": [{ "AttributeName": "pk", "KeyType": "HASH" }],
            "AttributeDefinitions": [{ "AttributeName": "pk", "AttributeType": "S" }],
            "BillingMode": "PAY_PER_REQUEST"
        }),
        DynamoOp::DeleteTable => json!({ "TableName": TABLE }),
        DynamoOp::UpdateTable => json!({ "TableName": TABLE, "StreamSpecification": { "StreamEnabled": false } }),
        DynamoOp::TagResource => json!({ "ResourceArn": arn, "Tags": [{ "Key": "a", "Value": "b" }] }),
        DynamoOp::UntagResource => json!({ "ResourceArn": arn, "TagKeys": ["a"] }),
        DynamoOp::UpdateTimeToLive => json!({
            "TableName": TABLE,
            "TimeToLiveSpecification": { "Enabled": true, "AttributeName": "ttl" }
        }),
        DynamoOp::PutItem => json!({ "TableName": TABLE, "Item": { "pk": { "S": "new" } } }),
        DynamoOp::UpdateItem => json!({
            "TableName": TABLE, "Key": key,
            "UpdateExpression": "SET n = :n", "ExpressionAttributeValues": { ":n": { "N": "1" } }
        }),
        DynamoOp::DeleteItem => json!({ "TableName": TABLE, "Key": key }),
        DynamoOp::BatchWriteItem => json!({ "RequestItems": { TABLE: [{ "PutRequest": { "Item": { "pk": { "S": "b" } } } }] } }),
        DynamoOp::TransactWriteItems => json!({ "TransactItems": [{ "Put": { "TableName": TABLE, "Item": { "pk": { "S": "t" } } } }] }),
        DynamoOp::DescribeEndpoints
        | DynamoOp::DescribeTable
        | DynamoOp::ListTables
        | DynamoOp::ListTagsOfResource
        | DynamoOp::DescribeTimeToLive
        | DynamoOp::GetItem
        | DynamoOp::Query
        | DynamoOp::Scan
        | DynamoOp::BatchGetItem
        | DynamoOp::TransactGetItems
        | DynamoOp::ListStreams
        | DynamoOp::DescribeStream
        | DynamoOp::GetShardIterator
        | DynamoOp::GetRecords
        | DynamoOp::Unknown => return None,
    })
}

/// Sends a signed request; the status and body.
async fn send(addr: SocketAddr, c: Call, service: &str) -> (u16, String) {
    let uri: http::Uri = format!("http://{addr}{}", c.path).parse().expect("uri");
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::HOST, addr.to_string().parse().expect("host"));
    for (name, value) in &c.headers {
        headers.insert(*name, value.parse().expect("header"));
    }
    let now = time::OffsetDateTime::now_utc();
    tandem_sigv4::sign(&c.method, &uri, &mut headers, &c.body, KEY, SECRET, "us-east-1", service, now);
    let mut req = http::Request::builder()
        .method(c.method)
        .uri(uri)
        .body(Full::new(bytes::Bytes::from(c.body)))
        .expect("request");
    *req.headers_mut() = headers;
    let client = Client::builder(TokioExecutor::new()).build_http();
    let resp = client.request(req).await.expect("the node answers");
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn dynamo(addr: SocketAddr, op: DynamoOp, body: serde_json::Value) -> (u16, String) {
    let c = with(
        with(
            call(http::Method::POST, "/", body.to_string()),
            "x-amz-target",
            format!("DynamoDB_20120810.{}", op.name()),
        ),
        "content-type",
        "application/x-amz-json-1.0",
    );
    send(addr, c, "dynamodb").await
}

fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address")
}

fn app() -> AppSpec {
    let pair = |primary: &str| AppBucket {
        primary: primary.into(),
        secondary: primary.replace("-us", "-tokyo"),
    };
    let table = |name: &str| AppTable {
        name: name.into(),
        hash_key: "pk:S".into(),
        range_key: None,
    };
    AppSpec {
        id: "photos".into(),
        primary: "us-east".into(),
        secondary: "ap-tokyo".into(),
        buckets: vec![pair(BUCKET), pair(SPARE), pair(UNBORN)],
        tables: vec![table(TABLE), table(UNBORN_TABLE)],
        auto_failover: None,
    }
}

async fn start(dir: &std::path::Path) -> RunningNode {
    let config = NodeConfig {
        region: "us-east".into(),
        signing_region: "us-east-1".into(),
        listen: free_addr(),
        data_dir: dir.join("us-east"),
        access_keys: vec![AccessKey {
            access_key_id: KEY.into(),
            secret_access_key: SECRET.into(),
            principal: "admin".into(),
            admin: true,
            policy: None,
        }],
        bucket_domains: vec![],
        peers: vec![tandem_replication::Peer {
            name: "ap-tokyo".into(),
            url: format!("http://{}", free_addr()),
            other_urls: vec![],
        }],
        replication_key: Some(tandem_replication::ReplicationKey {
            access_key_id: "REPLICATIONKEY".into(),
            secret_access_key: "replication-secret".into(),
        }),
        apps: vec![app()],
        store: tandem_store::StoreOptions::default(),
        server: tandem_node::ServerLimits::default(),
        sts_key: None,
        roles: Vec::new(),
        identity: Default::default(),
        dynamodb: Default::default(),
        region_urls: Default::default(),
    };
    tandem_node::start(&config).await.expect("the node starts")
}

/// Buckets, an object, an open multipart upload and a table with an item.
async fn seed(addr: SocketAddr) -> String {
    use http::Method as M;
    for c in [
        call(M::PUT, format!("/{BUCKET}"), ""),
        call(M::PUT, format!("/{SPARE}"), ""),
        call(
            M::PUT,
            format!("/{BUCKET}?versioning"),
            "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
        ),
        call(
            M::PUT,
            format!("/{SPARE}?versioning"),
            "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
        ),
        call(M::PUT, format!("/{BUCKET}/existing"), "old body"),
        // Lets an (unsigned) form upload reach the write gate.
        with(call(M::PUT, format!("/{SPARE}?acl"), ""), "x-amz-acl", "public-read-write"),
    ] {
        let (status, body) = send(addr, c, "s3").await;
        assert_eq!(status, 200, "seeding: {body}");
    }
    let (status, body) = send(addr, call(M::POST, format!("/{BUCKET}/mp?uploads"), ""), "s3").await;
    assert_eq!(status, 200, "{body}");
    let upload = body
        .split("<UploadId>")
        .nth(1)
        .and_then(|r| r.split("</UploadId>").next())
        .expect("an upload id")
        .to_string();
    let (status, body) = send(
        addr,
        call(M::PUT, format!("/{BUCKET}/mp?partNumber=1&uploadId={upload}"), "part one"),
        "s3",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let create = json!({
        "TableName": TABLE,
        "KeySchema": [{ "AttributeName": "pk", "KeyType": "HASH" }],
        "AttributeDefinitions": [{ "AttributeName": "pk", "AttributeType": "S" }],
        "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": { "StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES" }
    });
    assert_eq!(dynamo(addr, DynamoOp::CreateTable, create).await.0, 200);
    let item = json!({ "TableName": TABLE, "Item": { "pk": { "S": "seed" } } });
    assert_eq!(dynamo(addr, DynamoOp::PutItem, item).await.0, 200);
    upload
}

async fn fence(addr: SocketAddr) {
    let body = json!({ "AppId": "photos", "NewState": "fenced", "Reason": "test" }).to_string();
    let (status, answer) = send(addr, call(http::Method::PUT, "/_tandem/apps/photos/state", body), "s3").await;
    assert_eq!(status, 200, "fencing: {answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_writing_operation_is_refused_while_its_app_is_fenced() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = start(dir.path()).await;
    let addr = node.local_addr;
    let upload = seed(addr).await;
    fence(addr).await;
    let before = node.node.store().last_seq();

    let mut checked = Vec::new();
    for op in S3Op::ALL.iter().copied().filter(|op| op.writes()) {
        let c = s3_call(op, &upload).unwrap_or_else(|| panic!("{} writes but has no request here", op.name()));
        let (status, body) = send(addr, c, "s3").await;
        // DeleteObjects answers 200 with an error per key, as S3 does.
        let per_key = op == S3Op::DeleteObjects && status == 200 && !body.contains("<Deleted>");
        assert!(
            (per_key || status == 409) && body.contains("<Code>AppFenced</Code>"),
            "S3 {} was not refused as fenced: {status} {body}",
            op.name()
        );
        checked.push(op.name());
    }
    for op in DynamoOp::ALL.iter().copied().filter(|op| op.writes()) {
        let request = dynamo_call(op).unwrap_or_else(|| panic!("{} writes but has no request here", op.name()));
        let (status, body) = dynamo(addr, op, request).await;
        assert!(
            status == 400 && body.contains("tandem#AppFenced"),
            "DynamoDB {} was not refused as fenced: {status} {body}",
            op.name()
        );
        checked.push(op.name());
    }
    assert!(checked.len() >= 30, "only {} writing operations were checked", checked.len());
    assert_eq!(node.node.store().last_seq(), before, "a refused write reached the change log");
    node.shutdown().await;
}
