//! The HTTP/2 limits a node announces in its SETTINGS and enforces: the
//! concurrent-stream cap and the header-list size, both from `[server]`.

use std::net::SocketAddr;

use http::Request;
use tandem_node::{NodeConfig, ServerLimits};
use tokio::net::TcpStream;

fn config(dir: &std::path::Path) -> NodeConfig {
    NodeConfig {
        region_urls: Default::default(),
        region: "us-east".into(),
        signing_region: "us-east-1".into(),
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: dir.join("data"),
        access_keys: vec![tandem_s3::AccessKey {
            access_key_id: "AKIDH2TEST".into(),
            secret_access_key: "h2-test-secret-key".into(),
            principal: "admin".into(),
            admin: true,
            policy: None,
        }],
        bucket_domains: vec![],
        peers: vec![],
        replication_key: None,
        apps: vec![],
        store: tandem_store::StoreOptions::default(),
        server: ServerLimits {
            http2_max_concurrent_streams: 7,
            http2_max_header_list_size: 4096,
            ..ServerLimits::default()
        },
        sts_key: None,
        roles: Vec::new(),
        identity: Default::default(),
        dynamodb: Default::default(),
    }
}

#[tokio::test]
async fn http2_announces_the_stream_cap_and_refuses_an_oversized_header_list() {
    let dir = tempfile::tempdir().unwrap();
    let node = tandem_node::start(&config(dir.path())).await.unwrap();
    let tcp = TcpStream::connect(node.local_addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let url = format!("http://{}/health", node.local_addr);

    let mut client = client.ready().await.unwrap();
    let (response, _) = client.send_request(Request::get(&url).body(()).unwrap(), true).unwrap();
    assert_eq!(response.await.unwrap().status(), 200, "prior-knowledge HTTP/2 is served");
    assert_eq!(client.current_max_send_streams(), 7, "SETTINGS_MAX_CONCURRENT_STREAMS");

    let big = Request::get(&url).header("x-padding", "a".repeat(8192)).body(()).unwrap();
    let mut client = client.ready().await.unwrap();
    let outcome = match client.send_request(big, true) {
        Ok((response, _)) => response.await.map(|r| r.status()),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(status) => assert_eq!(status, 431, "an oversized header list is refused"),
        Err(e) => assert!(e.is_reset() || e.is_remote(), "refused by the server, not locally: {e}"),
    }

    // The connection still serves requests within the limits.
    let mut client = client.ready().await.unwrap();
    let (response, _) = client.send_request(Request::get(&url).body(()).unwrap(), true).unwrap();
    assert_eq!(response.await.unwrap().status(), 200);
    node.shutdown().await;
}
