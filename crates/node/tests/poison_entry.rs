//! A change-log entry that cannot be decoded is never a wedge: two region
//! nodes run in-process, an undecodable entry is planted in one's log, and
//! replication carries on past it while the shipper reports it as rejected.

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tandem_node::{NodeConfig, RunningNode};
use tandem_replication::{Peer, ReplicationKey};
use tandem_s3::AccessKey;
use tandem_store::{BucketRecord, Change, Versioning};

const ADMIN_KEY: &str = "ADMINKEY";
const ADMIN_SECRET: &str = "admin-secret";

/// GET of a control-API path, signed with the admin key; the JSON answer.
async fn control_get(addr: SocketAddr, path_and_query: &str) -> (u16, serde_json::Value) {
    let uri: http::Uri = format!("http://{addr}{path_and_query}").parse().expect("uri");
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::HOST, addr.to_string().parse().expect("host"));
    let now = time::OffsetDateTime::now_utc();
    tandem_sigv4::sign(
        &http::Method::GET,
        &uri,
        &mut headers,
        b"",
        ADMIN_KEY,
        ADMIN_SECRET,
        "us-east-1",
        "s3",
        now,
    );
    let mut req = http::Request::get(uri).body(Empty::<bytes::Bytes>::new()).expect("request");
    *req.headers_mut() = headers;
    let client = Client::builder(TokioExecutor::new()).build_http();
    let resp = client.request(req).await.expect("the node answers");
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null))
}

fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address")
}

fn config(region: &str, listen: SocketAddr, peer: (&str, SocketAddr), dir: &std::path::Path) -> NodeConfig {
    NodeConfig {
        region_urls: Default::default(),
        region: region.to_string(),
        signing_region: "us-east-1".into(),
        listen,
        data_dir: dir.join(region),
        access_keys: vec![AccessKey {
            access_key_id: ADMIN_KEY.into(),
            secret_access_key: ADMIN_SECRET.into(),
            principal: "admin".into(),
            admin: true,
            policy: None,
        }],
        bucket_domains: vec![],
        peers: vec![Peer {
            name: peer.0.to_string(),
            url: format!("http://{}", peer.1),
            other_urls: vec![],
        }],
        replication_key: Some(ReplicationKey {
            access_key_id: "REPLICATIONKEY".into(),
            secret_access_key: "replication-secret".into(),
        }),
        apps: vec![],
        store: tandem_store::StoreOptions::default(),
        server: tandem_node::ServerLimits::default(),
        sts_key: None,
        roles: Vec::new(),
        identity: Default::default(),
        dynamodb: Default::default(),
    }
}

fn bucket(name: &str, region: &str) -> BucketRecord {
    BucketRecord {
        name: name.into(),
        owner: "admin".into(),
        region: region.into(),
        created_ms: 0,
        versioning: Versioning::Enabled,
        grants: vec![],
        policy: None,
        cors: None,
        replication: None,
        access: Default::default(),
        hlc: 0,
    }
}

async fn start_pair(dir: &std::path::Path) -> (RunningNode, RunningNode) {
    let (a, b) = (free_addr(), free_addr());
    let east = tandem_node::start(&config("east", a, ("west", b), dir)).await.expect("start east");
    let west = tandem_node::start(&config("west", b, ("east", a), dir)).await.expect("start west");
    (east, west)
}

/// Waits until `done` holds, or fails after 20 s.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(20), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_moves_past_an_undecodable_entry_and_reports_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (east, west) = start_pair(dir.path()).await;
    let east_store = east.node.store().clone();

    east_store.create_bucket(bucket("before", "east")).await.expect("create before");
    let poisoned = east_store
        .write(|tx| tx.append_raw(br#"{"seq":2,"origin":"east","hlc":1,"change":{"type":"item_changed","#))
        .await
        .expect("plant an undecodable entry");
    east_store.create_bucket(bucket("after", "east")).await.expect("create after");

    // Later changes still replicate: the claim on "after" reaches the peer.
    let west_store = west.node.store().clone();
    eventually("the claim written after the bad entry to replicate", || {
        west_store.read().and_then(|r| r.registry("after")).ok().flatten().is_some()
    })
    .await;

    // Readers of the log see the entry as unreadable instead of failing.
    let page = east_store.changes_after(0, 10).expect("the log page reads");
    assert_eq!(page.len(), 3);
    assert!(matches!(page[1].change, Change::Unreadable { .. }), "{:?}", page[1]);
    assert_eq!(page[1].seq, poisoned);

    // So does the control API's page of the log, entry by entry.
    let (status, page) = control_get(east.local_addr, "/_tandem/changes?after=0").await;
    assert_eq!(status, 200, "{page}");
    let types: Vec<&str> = page["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["change"]["type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(types, ["bucket_created", "unreadable", "bucket_created"], "{page}");

    // The shipper lists it as rejected, with its seq and reason.
    let status = east.node.replication().status().expect("status");
    let shipper = &status["peers"][0]["shipper"];
    assert_eq!(shipper["rejected"], 1, "{status}");
    assert_eq!(shipper["recent_rejected"][0]["seq"], poisoned);
    let reason = shipper["recent_rejected"][0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("cannot be decoded"), "{reason}");
    assert_eq!(status["peers"][0]["backlog"]["changes"], 0, "{status}");

    east.shutdown().await;
    west.shutdown().await;
}
