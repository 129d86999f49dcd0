//! tandem's edge front door (`tandem edge`): distributions with behaviours
//! by path, origins that are a region, an origin group with health and a
//! circuit breaker, or an app routed by its replicated state; origin
//! requests signed with the edge's key; a cache (see `cached.rs`) with
//! instant invalidation; TLS and HTTP/2 to viewers; metrics and access logs.
//! The edge sees regions only over HTTP, as any client would.

pub mod access_log;
pub mod admin_client;
pub mod app;
pub mod body;
pub mod cached;
pub mod config;
pub mod console;
pub mod errors;
pub mod fetch;
pub mod forward;
pub mod health;
pub mod invalidate;
pub mod listener;
pub mod metrics;
pub mod origin;
pub mod probe;
pub mod proxy;
pub mod retry;
pub mod route;
pub mod sign;
pub mod summary;
pub mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tandem_node::ServerLimits;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use app::AppInfo;
pub use config::EdgeSection;
pub use origin::RegionInfo;

use crate::app::AppRoute;
use crate::config::{Behavior, OriginSpec};
use crate::forward::{Forwarder, Shared};
use crate::metrics::Metrics;
use crate::origin::Origins;
use crate::proxy::{BehaviorState, DistributionState, Proxy};
use crate::route::{PathRule, Route, Target};
use crate::sign::EdgeKey;

/// A key of the deployment.
#[derive(Clone)]
pub struct KeyInfo {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub admin: bool,
}

/// Everything one edge node runs from.
pub struct EdgeSettings {
    pub node: String,
    pub listen: SocketAddr,
    pub section: EdgeSection,
    pub regions: Vec<RegionInfo>,
    pub apps: Vec<AppInfo>,
    pub keys: Vec<KeyInfo>,
    /// The deployment's `[sts] signing_key`, so session-signed viewer
    /// requests can be verified and signed again (see `sign.rs`).
    pub sessions: Option<tandem_sts::SessionKey>,
    pub limits: ServerLimits,
}

pub struct RunningEdge {
    pub local_addr: SocketAddr,
    pub url: String,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningEdge {
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Polling for app state and probes uses these connect and response timeouts.
const CONTROL_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// Everything built from the settings before the listener opens.
struct Built {
    proxy: Proxy,
    origins: Vec<Arc<crate::origin::Origin>>,
    apps: Vec<Arc<AppRoute>>,
}

fn build(s: &EdgeSettings, metrics: Arc<Metrics>) -> Result<Built, String> {
    let mut origins = Origins::default();
    let mut apps: HashMap<String, Arc<AppRoute>> = HashMap::new();
    let edge_key = match &s.section.access_key_id {
        Some(id) => {
            let k = s
                .keys
                .iter()
                .find(|k| &k.access_key_id == id)
                .ok_or_else(|| format!("no access key {id:?}"))?;
            Some(EdgeKey {
                access_key_id: k.access_key_id.clone(),
                secret_access_key: k.secret_access_key.clone(),
            })
        }
        None => None,
    };
    let mut distributions = Vec::new();
    for d in &s.section.distributions {
        let mut behaviors = Vec::new();
        for b in &d.behaviors {
            let forwarder = forwarder(b, s, &mut origins, &mut apps, &metrics, edge_key.clone())?;
            behaviors.push(BehaviorState {
                pattern: b.path.clone(),
                methods: b.methods.iter().filter_map(|m| m.parse().ok()).collect(),
                cache: b.cache.clone(),
                forwarder: Arc::new(forwarder),
            });
        }
        distributions.push(DistributionState {
            name: d.name.clone(),
            hosts: d.hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
            default_root_object: d.default_root_object.clone(),
            behaviors,
        });
    }
    let cache = cached::Cache::new(&s.section.cache)?;
    metrics.with_registry(|r| cache.register(r));
    let viewers = sign::ViewerKeys {
        keys: s
            .keys
            .iter()
            .map(|k| (k.access_key_id.clone(), k.secret_access_key.clone()))
            .collect(),
        sessions: s.sessions.clone(),
    };
    let admin_secrets = s
        .keys
        .iter()
        .filter(|k| k.admin)
        .map(|k| (k.access_key_id.clone(), k.secret_access_key.clone()))
        .collect();
    Ok(Built {
        proxy: Proxy {
            node: s.node.clone(),
            distributions,
            cache,
            shared: Arc::new(Shared {
                metrics: metrics.clone(),
                viewers,
            }),
            metrics,
            admin_secrets,
        },
        origins: origins.all(),
        apps: apps.into_values().collect(),
    })
}

fn target(t: &config::OriginTarget, s: &EdgeSettings, origins: &mut Origins, metrics: &Metrics) -> Result<Target, String> {
    Ok(Target {
        origin: origins.get(t, &s.regions, metrics)?,
        path: t.bucket.clone().map_or(PathRule::Keep, PathRule::Prefix),
    })
}

fn forwarder(
    b: &Behavior,
    s: &EdgeSettings,
    origins: &mut Origins,
    apps: &mut HashMap<String, Arc<AppRoute>>,
    metrics: &Metrics,
    key: Option<EdgeKey>,
) -> Result<Forwarder, String> {
    let sign = key.filter(|_| b.sign);
    let ms = Duration::from_millis;
    Ok(match &b.origin {
        OriginSpec::Region(t) => Forwarder {
            route: Route::Single(target(t, s, origins, metrics)?),
            client: origin::client(ms(1_000)),
            response_timeout: ms(30_000),
            attempts: 1,
            failover_status: Vec::new(),
            sign,
        },
        OriginSpec::Group {
            primary,
            secondary,
            failover_status,
            connect_timeout_ms,
            response_timeout_ms,
            attempts,
        } => Forwarder {
            route: Route::Group {
                primary: target(primary, s, origins, metrics)?,
                secondary: target(secondary, s, origins, metrics)?,
            },
            client: origin::client(ms(*connect_timeout_ms)),
            response_timeout: ms(*response_timeout_ms),
            attempts: *attempts,
            failover_status: failover_status.clone(),
            sign,
        },
        OriginSpec::App {
            app,
            bucket,
            reads,
            connect_timeout_ms,
            response_timeout_ms,
        } => {
            let route = match apps.get(app) {
                Some(r) => r.clone(),
                None => {
                    let info = s.apps.iter().find(|a| &a.id == app).ok_or_else(|| format!("no app {app:?}"))?;
                    let region = |name: &str| config::OriginTarget {
                        region: Some(name.to_string()),
                        url: None,
                        bucket: None,
                    };
                    let p = origins.get(&region(&info.primary), &s.regions, metrics)?;
                    let sec = origins.get(&region(&info.secondary), &s.regions, metrics)?;
                    let r = Arc::new(AppRoute::new(info, p, sec, origin::client(CONTROL_CONNECT_TIMEOUT)));
                    apps.insert(app.clone(), r.clone());
                    r
                }
            };
            Forwarder {
                route: Route::App {
                    app: route,
                    site_bucket: bucket.clone(),
                    nearest_reads: *reads == config::Reads::Nearest,
                },
                client: origin::client(ms(*connect_timeout_ms)),
                response_timeout: ms(*response_timeout_ms),
                attempts: 1,
                failover_status: vec![500, 502, 503, 504],
                sign,
            }
        }
    })
}

/// Starts an edge node: reads the app states once, then listens.
pub async fn start(s: EdgeSettings) -> Result<RunningEdge, String> {
    let metrics = Arc::new(Metrics::new());
    let built = build(&s, metrics)?;
    let tls = tls::server_config(&s.section.distributions)?.map(tokio_rustls::TlsAcceptor::from);
    futures::future::join_all(built.apps.iter().map(|a| a.refresh())).await;
    let listener = TcpListener::bind(s.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", s.listen))?;
    let local_addr = listener.local_addr().map_err(|e| e.to_string())?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    let probe_every = Duration::from_millis(s.section.probe_interval_ms);
    let probe_client = origin::client(CONTROL_CONNECT_TIMEOUT);
    tasks.push(tokio::spawn(probe::run(built.origins, probe_client, probe_every, stopped.clone())));
    let poll_every = Duration::from_millis(s.section.app_poll_interval_ms);
    for app in built.apps {
        tasks.push(tokio::spawn(app.poll(poll_every, stopped.clone())));
    }
    let proxy = Arc::new(built.proxy);
    tasks.push(tokio::spawn(listener::serve(listener, proxy, tls, s.limits.clone(), stopped)));
    tracing::info!(node = %s.node, %local_addr, "edge listening");
    Ok(RunningEdge {
        local_addr,
        url: format!("{scheme}://{local_addr}"),
        stop,
        tasks,
    })
}
