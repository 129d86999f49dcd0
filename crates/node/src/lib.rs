//! A tandem region node on one port.
//!
//! Requests are dispatched in [`http`]: `/health` and `/metrics` are answered
//! directly (unauthenticated), `OPTIONS` is a CORS preflight, and everything else
//! goes to the s3s service, which verifies SigV4, authorizes, and calls either the
//! S3 API (`tandem-s3`) or the control API under `/_tandem/` ([`control`]).

mod accept;
pub mod apply;
pub mod apps;
pub mod auth_failures;
mod chunked_put;
pub mod conn;
pub mod console;
pub mod control;
pub mod control_ops;
mod documents;
mod drills;
pub mod dynamo;
pub mod expect;
pub mod health;
pub mod host;
pub mod http;
pub mod identity;
mod json_auth;
pub mod limits;
pub mod metrics;
mod post_body;
pub mod progress;
mod read_headers;
pub mod request;
mod request_id;
mod series;
mod sigv2_path;
pub mod sts;
mod xml_out;

pub use accept::builder as connection_builder;
pub use limits::ServerLimits;

/// The body of a request as the node's handlers see it: hyper's, under the
/// body-progress timeout.
pub type ReqBody = progress::ProgressBody<hyper::body::Incoming>;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use s3s::service::{S3Service, S3ServiceBuilder};
use tandem_s3::{AccessKey, Principals, S3Api};
use tandem_store::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Everything a node needs to start.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub region: String,
    /// The AWS region name requests must be signed for (e.g. `us-east-1`).
    pub signing_region: String,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub access_keys: Vec<AccessKey>,
    /// Domains under which `<bucket>.<domain>` is virtual-host style.
    pub bucket_domains: Vec<String>,
    /// The other regions, which this node replicates to and accepts changes from.
    pub peers: Vec<tandem_replication::Peer>,
    /// The client URL of every region (this one too), named in refusals and
    /// served at `/_tandem/regions` so the CLI can find the deployment from
    /// one endpoint; empty: the peers' URLs.
    pub region_urls: std::collections::BTreeMap<String, String>,
    /// Credential of region-to-region requests (none: no replication).
    pub replication_key: Option<tandem_replication::ReplicationKey>,
    /// Applications whose writes this node gates by their state.
    pub apps: Vec<tandem_control::AppSpec>,
    /// Store limits: free-space reserve, clock guard.
    pub store: tandem_store::StoreOptions,
    /// Connection timeouts and caps.
    pub server: ServerLimits,
    /// The key that signs session tokens (none: no temporary credentials).
    pub sts_key: Option<tandem_sts::SessionKey>,
    /// Roles that trusted keys may assume.
    pub roles: Vec<tandem_sts::Role>,
    /// User pools and identity pools (Cognito's APIs).
    pub identity: tandem_identity::IdentityConfig,
    /// DynamoDB API limits.
    pub dynamodb: tandem_dynamo::DynamoLimits,
}

/// The client URL of every region: as configured, else the peers' URLs.
fn region_urls_of(config: &NodeConfig) -> std::collections::BTreeMap<String, String> {
    match config.region_urls.is_empty() {
        true => config.peers.iter().map(|p| (p.name.clone(), p.url.clone())).collect(),
        false => config.region_urls.clone(),
    }
}

/// Shared state of a running node. Cheap to clone.
#[derive(Clone)]
pub struct Node {
    inner: Arc<NodeInner>,
}

struct NodeInner {
    region: String,
    signing_region: String,
    store: Store,
    s3: S3Service,
    dynamo: tandem_dynamo::DynamoApi,
    principals: Principals,
    domains: host::BucketDomains,
    metrics: metrics::Metrics,
    replication: tandem_replication::Replication,
    control: tandem_control::AppControl,
    identity: tandem_identity::Identity,
    /// Replication lag and backlog over the last hour, for the console.
    series: tandem_console::series::Series,
}

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("cannot open the store in {path}: {source}")]
    Store { path: PathBuf, source: tandem_store::StoreError },
    #[error("identity: {0}")]
    Identity(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
}

/// Logs a store failure and turns it into an opaque S3 error.
pub(crate) fn store_failure(e: tandem_store::StoreError) -> s3s::S3Error {
    tandem_s3::error::s3_err(e)
}

impl Node {
    /// Opens the store and builds the services.
    pub fn open(config: &NodeConfig) -> Result<Self, NodeError> {
        let store = Store::open_with(&config.data_dir, &config.region, &config.store).map_err(|source| NodeError::Store {
            path: config.data_dir.clone(),
            source,
        })?;
        let mut principals = Principals::new(config.access_keys.clone());
        if let Some(key) = &config.sts_key {
            let web_identities = config.identity.identity_pools.iter().map(|p| (p.id.clone(), p.role.clone()));
            let sessions = tandem_sts::Sessions::new(key.clone(), config.roles.clone(), tandem_s3::conditions::is_known)
                .with_web_identities(web_identities);
            principals = principals.with_sessions(sessions);
        }
        let api_store = store.clone();

        let region_urls = region_urls_of(config);
        let control = tandem_control::AppControl::new(store.clone(), config.apps.clone(), region_urls.clone());
        let replication = tandem_replication::Replication::new(
            store.clone(),
            config.peers.clone(),
            config.replication_key.clone(),
            Some(control.clone()),
        );
        let api = S3Api::new(store.clone(), principals.clone());
        let mut builder = S3ServiceBuilder::new(api.clone());
        builder.set_auth(principals.clone());
        builder.set_access(api.access_control());
        builder.set_host(host::BucketDomains::new(config.bucket_domains.clone()));
        builder.set_route(control::ControlRoute {
            region: config.region.clone(),
            principals: principals.clone(),
            store: store.clone(),
            replication: replication.clone(),
            apps: control.clone(),
            region_urls,
        });
        builder.set_validation(http::ControlAwareValidation);
        let identity = identity::open(config, store.clone(), &region_urls_of(config)).map_err(NodeError::Identity)?;
        Ok(Self {
            inner: Arc::new(NodeInner {
                region: config.region.clone(),
                signing_region: config.signing_region.clone(),
                store,
                s3: builder.build(),
                dynamo: tandem_dynamo::DynamoApi::new(Store::clone(&api_store))
                    .with_regions(
                        std::iter::once(config.region.clone())
                            .chain(config.peers.iter().map(|p| p.name.clone()))
                            .collect(),
                    )
                    .with_limits(config.dynamodb),
                principals,

                domains: host::BucketDomains::new(config.bucket_domains.clone()),
                metrics: metrics::Metrics::new(&config.region, &replication, &control),
                replication,
                control,
                identity,
                series: series::new_series(),
            }),
        })
    }

    pub fn region(&self) -> &str {
        &self.inner.region
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn replication(&self) -> &tandem_replication::Replication {
        &self.inner.replication
    }
}

/// A node serving on a socket, stopped by [`RunningNode::shutdown`].
pub struct RunningNode {
    pub local_addr: SocketAddr,
    /// The node being served (for in-process callers and tests).
    pub node: Node,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    /// Background work of the node (TTL reaper, replication shippers), stopped with it.
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningNode {
    /// Stops accepting, lets in-flight requests finish, and waits.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in &self.background {
            task.abort();
        }
        let _ = self.task.await;
    }
}

/// Binds the node's port and serves until shut down.
pub async fn start(config: &NodeConfig) -> Result<RunningNode, NodeError> {
    let node = Node::open(config)?;
    let listener = TcpListener::bind(config.listen).await.map_err(|source| NodeError::Bind {
        addr: config.listen,
        source,
    })?;
    let local_addr = listener.local_addr().map_err(|source| NodeError::Bind {
        addr: config.listen,
        source,
    })?;
    let peer_urls: Vec<String> = config.peers.iter().map(|p| p.url.clone()).collect();
    node.inner
        .control
        .sync_from_peers(&peer_urls, std::time::Duration::from_secs(1))
        .await;
    let (stop, stopped) = watch::channel(false);
    let mut background = vec![node.inner.dynamo.spawn_ttl_reaper()];
    background.extend(node.inner.replication.spawn_shippers());
    let peers = config.peers.iter().map(|p| (p.name.clone(), p.url.clone())).collect();
    background.extend(node.inner.control.spawn_watchers(peers));
    background.push(tokio::spawn(series::sample_forever(node.clone())));
    let task = tokio::spawn(accept::accept_loop(node.clone(), listener, config.server.clone(), stopped));
    tracing::info!(region = %config.region, %local_addr, "region node listening");
    Ok(RunningNode {
        local_addr,
        node,
        stop,
        task,
        background,
    })
}
