//! `tandem.toml`: the regions of a deployment and the access keys every node
//! accepts. `tandem dev` builds the same structure from built-in defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tandem_control::{AppBucket, AppSpec, AppTable};
use tandem_node::{NodeConfig, ServerLimits};
use tandem_replication::{Peer, ReplicationKey};
use tandem_s3::AccessKey;

/// Dev credentials printed by `tandem dev`. Only ever used for local demos.
pub const DEV_ACCESS_KEY_ID: &str = "TANDEMDEVACCESSKEY01";
pub const DEV_SECRET_ACCESS_KEY: &str = "tandem-dev-secret-key-do-not-use-in-prod";
/// Dev replication credential (region to region). Only ever used for local demos.
pub const DEV_REPLICATION_KEY_ID: &str = "TANDEMDEVREPLICATION";
pub const DEV_REPLICATION_SECRET: &str = "tandem-dev-replication-secret-do-not-use-in-prod";
/// Dev key that signs session tokens. Only ever used for local demos.
pub const DEV_STS_SIGNING_KEY: &str = "tandem-dev-sts-signing-key-do-not-use-in-prod";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub regions: Vec<RegionConfig>,
    #[serde(default)]
    pub access_keys: Vec<KeyConfig>,
    /// Domains under which `<bucket>.<domain>` addresses a bucket (virtual-host style).
    #[serde(default = "default_domains")]
    pub bucket_domains: Vec<String>,
    /// The credential regions use between themselves; required with more than one region.
    pub replication: Option<ReplicationConfig>,
    /// Applications: their regions, buckets and tables, and failover policy.
    #[serde(default)]
    pub apps: Vec<AppSpec>,
    /// Connection timeouts and caps of every node.
    #[serde(default)]
    pub server: ServerConfig,
    /// Store limits of every region.
    #[serde(default)]
    pub store: StoreConfig,
    /// DynamoDB API limits of every region (the item-collection limit).
    #[serde(default)]
    pub dynamodb: tandem_dynamo::DynamoLimits,
    /// Temporary credentials (STS); without it STS answers only GetCallerIdentity.
    pub sts: Option<StsConfig>,
    /// Roles that trusted keys may assume through STS AssumeRole.
    #[serde(default)]
    pub roles: Vec<RoleConfig>,
    /// The authoritative DNS server of `tandem dns`.
    pub dns: Option<tandem_dns::DnsConfig>,
    /// The edge front door: its nodes, distributions and cache (`tandem edge`).
    #[serde(default)]
    pub edge: tandem_edge::EdgeSection,
    /// Cognito-compatible user pools and identity pools, and their token key.
    #[serde(default)]
    pub identity: tandem_identity::IdentityConfig,
    /// Static sites of apps, uploaded by `tandem apply` (see `site.rs`).
    #[serde(default)]
    pub sites: Vec<crate::site::SiteConfig>,
    /// `tandem drill`: its edge, targets and failure hooks.
    #[serde(default)]
    pub drill: crate::drill::DrillConfig,
}

/// `[sts]`: the key that signs session tokens. Every region must have the
/// same one, so a session minted in one region works in all of them.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StsConfig {
    pub signing_key: String,
}

impl std::fmt::Debug for StsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StsConfig").finish_non_exhaustive()
    }
}

/// `[[roles]]`: a role, its policy, and the keys that may assume it.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    pub name: String,
    /// What sessions of the role may do (IAM JSON).
    pub policy: IdentityPolicy,
    /// Access key ids or principals that may assume it; `*` for any signed key.
    pub trust: Vec<String>,
    /// Longest session, in seconds (900 to 43200; default 3600).
    #[serde(default = "default_max_session_secs")]
    pub max_session_secs: i64,
}

impl std::fmt::Debug for RoleConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleConfig")
            .field("name", &self.name)
            .field("trust", &self.trust)
            .finish_non_exhaustive()
    }
}

fn default_max_session_secs() -> i64 {
    3_600
}

/// Shortest signing key accepted for session tokens, in bytes.
const MIN_STS_KEY_BYTES: usize = 32;

/// `[store]`: the free-space reserve of the data volume and the clock guard.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Writes are refused (507 InsufficientStorage) while the data volume has
    /// less free space than this; 0 turns the reserve off.
    pub min_free_bytes: u64,
    /// How far (ms) a timestamp from another region may lead this region's
    /// wall clock; batches with changes further ahead are refused and retried.
    pub max_clock_lead_ms: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        let d = tandem_store::StoreOptions::default();
        Self {
            min_free_bytes: d.min_free_bytes,
            max_clock_lead_ms: d.max_clock_lead_ms,
        }
    }
}

/// `[server]`: how long clients may take and how many connections may be open.
/// Durations are seconds (fractions allowed).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Time to send a whole request head (from the accept, or from the first
    /// byte of the next request on a keep-alive connection).
    pub header_read_timeout_secs: f64,
    /// Time a keep-alive connection may sit with no request.
    pub idle_timeout_secs: f64,
    /// Time a request body, or a response being sent, may go without moving.
    pub body_progress_timeout_secs: f64,
    /// Open connections at once; unset: derived from the descriptor limit.
    pub max_connections: Option<usize>,
    pub http2_max_concurrent_streams: u32,
    /// Bytes of decoded header list per HTTP/2 request.
    pub http2_max_header_list_size: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        let d = ServerLimits::default();
        Self {
            header_read_timeout_secs: d.header_read_timeout.as_secs_f64(),
            idle_timeout_secs: d.idle_timeout.as_secs_f64(),
            body_progress_timeout_secs: d.body_progress_timeout.as_secs_f64(),
            max_connections: d.max_connections,
            http2_max_concurrent_streams: d.http2_max_concurrent_streams,
            http2_max_header_list_size: d.http2_max_header_list_size,
        }
    }
}

/// Longest timeout accepted (a day): beyond it a typo, not a choice.
const MAX_TIMEOUT_SECS: f64 = 86_400.0;

impl ServerConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        for (name, v) in [
            ("header_read_timeout_secs", self.header_read_timeout_secs),
            ("idle_timeout_secs", self.idle_timeout_secs),
            ("body_progress_timeout_secs", self.body_progress_timeout_secs),
        ] {
            if !(v > 0.0 && v <= MAX_TIMEOUT_SECS) {
                return Err(ConfigError::Invalid(format!(
                    "[server] {name} must be more than 0 and at most {MAX_TIMEOUT_SECS} (got {v})"
                )));
            }
        }
        if self.max_connections == Some(0) || self.http2_max_concurrent_streams == 0 {
            return Err(ConfigError::Invalid(
                "[server] max_connections and http2_max_concurrent_streams must be at least 1".into(),
            ));
        }
        if self.http2_max_header_list_size < 1024 {
            return Err(ConfigError::Invalid(
                "[server] http2_max_header_list_size must be at least 1024".into(),
            ));
        }
        Ok(())
    }

    /// The node's limits (validated values).
    pub fn limits(&self) -> ServerLimits {
        ServerLimits {
            header_read_timeout: Duration::from_secs_f64(self.header_read_timeout_secs),
            idle_timeout: Duration::from_secs_f64(self.idle_timeout_secs),
            body_progress_timeout: Duration::from_secs_f64(self.body_progress_timeout_secs),
            max_connections: self.max_connections,
            http2_max_concurrent_streams: self.http2_max_concurrent_streams,
            http2_max_header_list_size: self.http2_max_header_list_size,
        }
    }
}

/// `[replication]`: the region-to-region credential. It is not a user key:
/// it opens only the replication endpoints, and user keys never open those.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicationConfig {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for ReplicationConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicationConfig")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionConfig {
    pub name: String,
    pub listen: SocketAddr,
    /// URL clients and peers use to reach this region; defaults to `http://<listen>`.
    pub public_url: Option<String>,
    /// URL peers use for replication, when it differs from `public_url`
    /// (a private network, or a proxy in tests).
    pub replication_url: Option<String>,
    pub data_dir: PathBuf,
    /// The AWS region name clients sign requests for (`AWS_DEFAULT_REGION`);
    /// a request scoped to another is refused, naming this one. Default us-east-1.
    pub signing_region: Option<String>,
    /// Where the region's tables live: `embedded` (the default, in
    /// `data_dir`) or a `postgres://` URL (its password may come from
    /// `PGPASSWORD`).
    pub backend: Option<String>,
    /// Where object bodies above 64 KiB live: `files` (the default, in
    /// `data_dir`) or `postgres` (chunks in the backend's database, which
    /// must then be PostgreSQL).
    pub bodies: Option<String>,
    /// More nodes of the region, each started with `tandem serve --node
    /// NAME`: stateless nodes over the region's PostgreSQL backend.
    #[serde(default)]
    pub nodes: Vec<RegionNodeConfig>,
}

/// One more node of a region (`[[regions.nodes]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionNodeConfig {
    pub name: String,
    pub listen: SocketAddr,
    /// URL clients, peers and the edge use to reach this node; defaults to
    /// `http://<listen>`.
    pub public_url: Option<String>,
    /// Scratch space of the node (spooled uploads); defaults to
    /// `<region data_dir>/nodes/<name>`. Nothing durable is kept there.
    pub data_dir: Option<PathBuf>,
}

/// The signing region of a region that does not name one.
pub const DEFAULT_SIGNING_REGION: &str = "us-east-1";

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub principal: Option<String>,
    /// Full access to every API, the control API included (application
    /// states, apply, the change log).
    #[serde(default)]
    pub admin: bool,
    /// An IAM identity policy (JSON), evaluated for every API. Without one,
    /// a key keeps each API's own rules: S3 ownership and ACLs, any table
    /// for DynamoDB, no control API unless `admin`.
    pub policy: Option<IdentityPolicy>,
}

/// An identity policy of `tandem.toml`, parsed and validated when the file
/// is read, with its text (what `tandem dev` writes back).
#[derive(Clone)]
pub struct IdentityPolicy {
    pub policy: Arc<tandem_iam::Policy>,
    pub doc: String,
}

impl IdentityPolicy {
    pub fn parse(doc: &str) -> Result<Self, String> {
        tandem_iam::Policy::parse_identity(doc, &tandem_s3::conditions::is_known).map(|p| Self {
            policy: Arc::new(p),
            doc: doc.to_string(),
        })
    }
}

impl<'de> Deserialize<'de> for IdentityPolicy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let doc = String::deserialize(d)?;
        Self::parse(&doc).map_err(|why| serde::de::Error::custom(format!("invalid policy: {why}")))
    }
}

impl std::fmt::Debug for KeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyConfig")
            .field("access_key_id", &self.access_key_id)
            .field("principal", &self.principal)
            .field("admin", &self.admin)
            .field("policy", &self.policy.is_some())
            .finish_non_exhaustive()
    }
}

/// The demo application of `tandem dev`: photos in a versioned bucket per
/// region, comments in a global table, primary us-east, secondary ap-tokyo.
fn demo_app() -> AppSpec {
    AppSpec {
        id: "photos".into(),
        primary: "us-east".into(),
        secondary: "ap-tokyo".into(),
        buckets: [crate::dev_edge::DATA_BUCKETS, crate::dev_edge::SITE_BUCKETS]
            .map(|(primary, secondary)| AppBucket {
                primary: primary.into(),
                secondary: secondary.into(),
            })
            .to_vec(),
        tables: vec![AppTable {
            name: "comments".into(),
            hash_key: "photo_id:S".into(),
            range_key: Some("comment_id:S".into()),
        }],
        auto_failover: None,
    }
}

fn default_domains() -> Vec<String> {
    vec!["localhost".to_string()]
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a valid tandem.toml: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl RegionConfig {
    /// URL clients and peers use to reach this region.
    pub fn url(&self) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{}", self.listen))
    }

    /// Where the region's tables live.
    pub fn store_backend(&self) -> Result<tandem_store::StoreBackend, String> {
        tandem_store::StoreBackend::parse(self.backend.as_deref().unwrap_or("embedded"))
    }

    /// Where the region's larger bodies live; `postgres` needs a postgres backend.
    pub fn body_backend(&self) -> Result<tandem_store::BodyBackend, String> {
        let bodies = tandem_store::BodyBackend::parse(self.bodies.as_deref().unwrap_or("files"))?;
        if bodies == tandem_store::BodyBackend::Postgres && self.store_backend()? == tandem_store::StoreBackend::Embedded {
            return Err("bodies = \"postgres\" keeps bodies in the backend's database: set backend to a postgres:// URL".into());
        }
        Ok(bodies)
    }

    /// The AWS region name clients sign for.
    pub fn signing_region(&self) -> String {
        self.signing_region.clone().unwrap_or_else(|| DEFAULT_SIGNING_REGION.to_string())
    }

    /// URLs of the region's further nodes (`[[regions.nodes]]`).
    pub fn node_urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| n.public_url.clone().unwrap_or_else(|| format!("http://{}", n.listen)))
            .collect()
    }

    /// The node `name` of `[[regions.nodes]]`.
    pub fn named_node(&self, name: &str) -> Result<&RegionNodeConfig, String> {
        self.nodes.iter().find(|n| n.name == name).ok_or_else(|| {
            let known: Vec<&str> = self.nodes.iter().map(|n| n.name.as_str()).collect();
            format!(
                "region {} has no node {name:?} in [[regions.nodes]] (it has: {})",
                self.name,
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            )
        })
    }

    /// Several nodes share one region only over a PostgreSQL backend, with
    /// names and addresses of their own.
    fn validate_nodes(&self) -> Result<(), String> {
        if self.nodes.is_empty() {
            return Ok(());
        }
        if self.store_backend()? == tandem_store::StoreBackend::Embedded {
            return Err("[[regions.nodes]] share the region's database: set backend to a postgres:// URL".into());
        }
        if self.body_backend()? == tandem_store::BodyBackend::Files {
            return Err("[[regions.nodes]] must all read every body: set bodies = \"postgres\"".into());
        }
        for (i, node) in self.nodes.iter().enumerate() {
            if node.name.is_empty() || self.nodes[..i].iter().any(|o| o.name == node.name) {
                return Err(format!("node name {:?} is empty or defined twice", node.name));
            }
            if node.listen == self.listen || self.nodes[..i].iter().any(|o| o.listen == node.listen) {
                return Err(format!(
                    "node {} listens on {}, as another node of the region does",
                    node.name, node.listen
                ));
            }
        }
        Ok(())
    }

    /// URL peers replicate to.
    pub fn peer_url(&self) -> String {
        self.replication_url.clone().unwrap_or_else(|| self.url())
    }
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let config: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// The built-in two-region layout of `tandem dev`.
    pub fn dev(data_root: &Path, base_port: u16) -> Self {
        let region = |name: &str, offset: u16, signing_region: &str| RegionConfig {
            name: name.to_string(),
            listen: SocketAddr::from(([127, 0, 0, 1], base_port + offset)),
            public_url: None,
            replication_url: None,
            data_dir: data_root.join(name),
            signing_region: Some(signing_region.to_string()),
            backend: None,
            bodies: None,
            nodes: vec![],
        };
        Config {
            regions: vec![region("us-east", 0, "us-east-1"), region("ap-tokyo", 1, "ap-northeast-1")],
            access_keys: vec![
                KeyConfig {
                    access_key_id: DEV_ACCESS_KEY_ID.into(),
                    secret_access_key: DEV_SECRET_ACCESS_KEY.into(),
                    principal: Some("dev".into()),
                    admin: true,
                    policy: None,
                },
                crate::dev_edge::edge_key(),
            ],
            bucket_domains: default_domains(),
            replication: Some(ReplicationConfig {
                access_key_id: DEV_REPLICATION_KEY_ID.into(),
                secret_access_key: DEV_REPLICATION_SECRET.into(),
            }),
            apps: vec![demo_app()],
            store: StoreConfig::default(),
            dynamodb: Default::default(),
            drill: Default::default(),
            server: ServerConfig::default(),
            sts: Some(StsConfig {
                signing_key: DEV_STS_SIGNING_KEY.into(),
            }),
            roles: vec![crate::dev_identity::role()],
            dns: None,
            edge: crate::dev_edge::section(data_root, base_port),
            identity: tandem_identity::IdentityConfig::default(),
            sites: Vec::new(),
        }
    }

    /// A deployment known from one of its regions (`--endpoint`): its regions
    /// by name and client URL, its apps, and `file`'s keys when there is one.
    pub fn remote(regions: Vec<(String, String)>, apps: Vec<AppSpec>, file: Option<&Config>) -> Self {
        Config {
            regions: regions
                .into_iter()
                .map(|(name, url)| RegionConfig {
                    // The file's signing region for a region it also names.
                    signing_region: file
                        .and_then(|f| f.regions.iter().find(|r| r.name == name))
                        .and_then(|r| r.signing_region.clone()),
                    name,
                    listen: SocketAddr::from(([0, 0, 0, 0], 0)),
                    public_url: Some(url),
                    replication_url: None,
                    data_dir: PathBuf::new(),
                    backend: None,
                    bodies: None,
                    nodes: vec![],
                })
                .collect(),
            access_keys: file.map(|f| f.access_keys.clone()).unwrap_or_default(),
            bucket_domains: default_domains(),
            replication: None,
            apps,
            server: ServerConfig::default(),
            store: StoreConfig::default(),
            dynamodb: Default::default(),
            drill: Default::default(),
            sts: None,
            roles: vec![],
            dns: file.and_then(|f| f.dns.clone()),
            edge: tandem_edge::EdgeSection::default(),
            identity: file.map(|f| f.identity.clone()).unwrap_or_default(),
            sites: file.map(|f| f.sites.clone()).unwrap_or_default(),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.regions.is_empty() {
            return Err(ConfigError::Invalid(
                "tandem.toml must define at least one [[regions]] entry".into(),
            ));
        }
        for (i, r) in self.regions.iter().enumerate() {
            if r.name.is_empty() || !r.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(ConfigError::Invalid(format!(
                    "region name {:?} must be letters, digits and '-'",
                    r.name
                )));
            }
            if self.regions[..i].iter().any(|o| o.name == r.name) {
                return Err(ConfigError::Invalid(format!("region {:?} is defined twice", r.name)));
            }
            r.store_backend()
                .and_then(|_| r.body_backend())
                .and_then(|_| r.validate_nodes())
                .map_err(|e| ConfigError::Invalid(format!("region {:?}: {e}", r.name)))?;
        }
        self.validate_sts()?;
        let roles: Vec<String> = self.roles.iter().map(|r| r.name.clone()).collect();
        self.identity.validate(&roles).map_err(ConfigError::Invalid)?;
        if self.access_keys.is_empty() {
            return Err(ConfigError::Invalid(
                "tandem.toml must define at least one [[access_keys]] entry; every request is authenticated".into(),
            ));
        }
        match &self.replication {
            None if self.regions.len() > 1 => {
                return Err(ConfigError::Invalid(
                    "tandem.toml defines several regions but no [replication] access_key_id/secret_access_key for them to use".into(),
                ));
            }
            Some(r) if self.access_keys.iter().any(|k| k.access_key_id == r.access_key_id) => {
                return Err(ConfigError::Invalid(
                    "the [replication] access key must differ from every [[access_keys]] entry".into(),
                ));
            }
            Some(r) if r.secret_access_key.len() < 16 => {
                return Err(ConfigError::Invalid("the [replication] secret needs 16+ characters".into()));
            }
            _ => {}
        }
        let names: Vec<&str> = self.regions.iter().map(|r| r.name.as_str()).collect();
        for (i, app) in self.apps.iter().enumerate() {
            app.validate(&names).map_err(ConfigError::Invalid)?;
            if self.apps[..i].iter().any(|a| a.id == app.id) {
                return Err(ConfigError::Invalid(format!("app {:?} is defined twice", app.id)));
            }
        }
        self.server.validate()?;
        self.validate_edge()?;
        crate::site::SiteConfig::validate_all(&self.sites, self).map_err(ConfigError::Invalid)?;
        for k in &self.access_keys {
            if k.access_key_id.len() < 3 || k.secret_access_key.len() < 8 {
                return Err(ConfigError::Invalid(format!(
                    "access key {:?}: ids need 3+ characters and secrets 8+",
                    k.access_key_id
                )));
            }
        }
        Ok(())
    }

    pub fn region(&self, name: &str) -> Result<&RegionConfig, ConfigError> {
        self.regions.iter().find(|r| r.name == name).ok_or_else(|| {
            let known: Vec<_> = self.regions.iter().map(|r| r.name.as_str()).collect();
            ConfigError::Invalid(format!("no region named {name:?} in the config (regions: {})", known.join(", ")))
        })
    }

    /// The node configuration of one region.
    pub fn node(&self, region: &RegionConfig) -> NodeConfig {
        NodeConfig {
            region: region.name.clone(),
            signing_region: region.signing_region(),
            listen: region.listen,
            data_dir: region.data_dir.clone(),
            access_keys: self
                .access_keys
                .iter()
                .map(|k| AccessKey {
                    access_key_id: k.access_key_id.clone(),
                    secret_access_key: k.secret_access_key.clone(),
                    principal: k.principal.clone().unwrap_or_else(|| k.access_key_id.clone()),
                    admin: k.admin,
                    policy: k.policy.as_ref().map(|p| p.policy.clone()),
                })
                .collect(),
            bucket_domains: self.bucket_domains.clone(),
            peers: self
                .regions
                .iter()
                .filter(|r| r.name != region.name)
                .map(|r| Peer {
                    name: r.name.clone(),
                    url: r.peer_url(),
                    other_urls: r.node_urls(),
                })
                .collect(),
            region_urls: self.regions.iter().map(|r| (r.name.clone(), r.url())).collect(),
            apps: self.apps.clone(),
            store: tandem_store::StoreOptions {
                min_free_bytes: self.store.min_free_bytes,
                max_clock_lead_ms: self.store.max_clock_lead_ms,
                // Checked when the file was read (validate).
                backend: region.store_backend().unwrap_or_default(),
                bodies: region.body_backend().unwrap_or_default(),
            },
            server: self.server.limits(),
            replication_key: self.replication.as_ref().map(|r| ReplicationKey {
                access_key_id: r.access_key_id.clone(),
                secret_access_key: r.secret_access_key.clone(),
            }),
            sts_key: self.sts.as_ref().map(|s| tandem_sts::SessionKey::new(s.signing_key.as_bytes())),
            roles: self
                .roles
                .iter()
                .map(|r| tandem_sts::Role {
                    name: r.name.clone(),
                    policy: r.policy.policy.clone(),
                    trust: r.trust.clone(),
                    max_session_secs: r.max_session_secs,
                })
                .collect(),
            identity: self.identity.clone(),
            dynamodb: self.dynamodb,
        }
    }

    fn validate_edge(&self) -> Result<(), ConfigError> {
        let regions: Vec<&str> = self.regions.iter().map(|r| r.name.as_str()).collect();
        let apps: Vec<&str> = self.apps.iter().map(|a| a.id.as_str()).collect();
        let keys: Vec<&str> = self.access_keys.iter().map(|k| k.access_key_id.as_str()).collect();
        let app_buckets: Vec<(&str, &str)> = self
            .apps
            .iter()
            .flat_map(|a| a.buckets.iter().map(|b| (a.id.as_str(), b.primary.as_str())))
            .collect();
        let known = tandem_edge::config::Known {
            regions: &regions,
            apps: &apps,
            app_buckets: &app_buckets,
            keys: &keys,
        };
        self.edge.validate(&known).map_err(ConfigError::Invalid)
    }

    fn validate_sts(&self) -> Result<(), ConfigError> {
        if let Some(sts) = &self.sts
            && sts.signing_key.len() < MIN_STS_KEY_BYTES
        {
            return Err(ConfigError::Invalid(format!(
                "[sts] signing_key must be at least {MIN_STS_KEY_BYTES} bytes (a random string every region shares)"
            )));
        }
        if !self.roles.is_empty() && self.sts.is_none() {
            return Err(ConfigError::Invalid(
                "[[roles]] need an [sts] signing_key to sign their sessions".into(),
            ));
        }
        for (i, r) in self.roles.iter().enumerate() {
            if r.name.is_empty() || !r.name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)) {
                return Err(ConfigError::Invalid(format!(
                    "role name {:?} must be letters, digits and +=,.@_-",
                    r.name
                )));
            }
            if self.roles[..i].iter().any(|o| o.name == r.name) {
                return Err(ConfigError::Invalid(format!("role {:?} is defined twice", r.name)));
            }
            if !(900..=43_200).contains(&r.max_session_secs) {
                return Err(ConfigError::Invalid(format!(
                    "role {:?}: max_session_secs must be between 900 and 43200",
                    r.name
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_two_region_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tandem.toml");
        std::fs::write(
            &path,
            r#"
[[regions]]
name = "us-east"
listen = "127.0.0.1:9000"
data_dir = "/tmp/a"
[[regions]]
name = "ap-tokyo"
listen = "127.0.0.1:9001"
data_dir = "/tmp/b"
[[access_keys]]
access_key_id = "AKIA1"
secret_access_key = "secretsecret"
principal = "alice"
[replication]
access_key_id = "REPL"
secret_access_key = "replication-secret-1"
"#,
        )
        .unwrap();
        let c = Config::load(&path).unwrap();
        assert_eq!(c.regions.len(), 2);
        let node = c.node(c.region("ap-tokyo").unwrap());
        assert_eq!(node.access_keys[0].principal, "alice");
        assert_eq!(node.peers.len(), 1);
        assert_eq!(node.peers[0].url, "http://127.0.0.1:9000");
        assert!(c.region("eu-west").unwrap_err().to_string().contains("us-east, ap-tokyo"));
        assert_eq!(node.store, tandem_store::StoreOptions::default(), "no [store]: the defaults");
    }

    #[test]
    fn the_store_section_sets_the_disk_reserve_and_the_clock_guard() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tandem.toml");
        let base = "[[regions]]\nname='a'\nlisten='127.0.0.1:1'\ndata_dir='/x'\n\
                    [[access_keys]]\naccess_key_id='AKIA1'\nsecret_access_key='secretsecret'\n";
        std::fs::write(&path, format!("{base}[store]\nmin_free_bytes = 0\nmax_clock_lead_ms = 900000\n")).unwrap();
        let c = Config::load(&path).unwrap();
        let node = c.node(c.region("a").unwrap());
        assert_eq!(node.store.min_free_bytes, 0);
        assert_eq!(node.store.max_clock_lead_ms, 900_000);
        std::fs::write(&path, format!("{base}[store]\nmax_clock_lead_ms = 1000\n")).unwrap();
        let c = Config::load(&path).unwrap();
        assert_eq!(c.store.min_free_bytes, tandem_store::space::DEFAULT_MIN_FREE_BYTES);
        std::fs::write(&path, format!("{base}[store]\nmin_free = 1\n")).unwrap();
        assert!(Config::load(&path).unwrap_err().to_string().contains("min_free"));
    }

    const ONE_REGION: &str = "[[regions]]\nname='a'\nlisten='127.0.0.1:1'\ndata_dir='/x'\n[[access_keys]]\naccess_key_id='AKIA1'\nsecret_access_key='secretsecret'\n";

    #[test]
    fn the_server_table_sets_the_node_limits_and_defaults_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tandem.toml");
        std::fs::write(&path, ONE_REGION).unwrap();
        let c = Config::load(&path).unwrap();
        assert_eq!(c.node(&c.regions[0]).server, ServerLimits::default());
        let text = format!("{ONE_REGION}[server]\nheader_read_timeout_secs = 2.5\nidle_timeout_secs = 7\nmax_connections = 40\n");
        std::fs::write(&path, text).unwrap();
        let c = Config::load(&path).unwrap();
        let limits = c.node(&c.regions[0]).server;
        assert_eq!(limits.header_read_timeout, Duration::from_millis(2500));
        assert_eq!(limits.idle_timeout, Duration::from_secs(7));
        assert_eq!(limits.max_connections, Some(40));
        assert_eq!(limits.body_progress_timeout, ServerLimits::default().body_progress_timeout);
    }

    #[test]
    fn the_server_table_refuses_unknown_fields_and_senseless_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tandem.toml");
        for (extra, complaint) in [
            ("header_timeout = 3", "header_timeout"),
            ("idle_timeout_secs = 0", "idle_timeout_secs"),
            ("body_progress_timeout_secs = -1", "body_progress_timeout_secs"),
            ("header_read_timeout_secs = nan", "header_read_timeout_secs"),
            ("max_connections = 0", "max_connections"),
            ("http2_max_header_list_size = 10", "http2_max_header_list_size"),
        ] {
            std::fs::write(&path, format!("{ONE_REGION}[server]\n{extra}\n")).unwrap();
            let e = Config::load(&path).unwrap_err().to_string();
            assert!(e.contains(complaint), "{extra}: {e}");
        }
    }

    #[test]
    fn unknown_fields_and_missing_keys_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tandem.toml");
        std::fs::write(&path, "[[regions]]\nname='a'\nlisten='127.0.0.1:1'\ndata_dir='/x'\nport=3\n").unwrap();
        assert!(Config::load(&path).unwrap_err().to_string().contains("port"));
        std::fs::write(&path, "[[regions]]\nname='a'\nlisten='127.0.0.1:1'\ndata_dir='/x'\n").unwrap();
        assert!(Config::load(&path).unwrap_err().to_string().contains("access_keys"));
    }
}
