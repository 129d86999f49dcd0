//! The origins of an edge node: one per region or URL named anywhere in its
//! distributions, shared by every behaviour that names it (so one breaker
//! and one latency histogram per origin), and the keep-alive HTTP client
//! behaviours send through.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::body::EdgeBody;
use crate::config::OriginTarget;
use crate::health::Health;
use crate::metrics::{Metrics, OriginLabels};

/// A region of the deployment as the edge sees it: a URL and the AWS region
/// name its signatures are scoped to.
#[derive(Debug, Clone)]
pub struct RegionInfo {
    pub name: String,
    pub url: String,
    pub signing_region: String,
}

pub struct Origin {
    /// The region name, or `host:port` of a URL origin (metric label, header).
    pub label: String,
    pub region: Option<String>,
    /// `http://host:port`, no trailing slash.
    pub base: String,
    pub authority: http::uri::Authority,
    pub signing_region: String,
    pub health: Health,
}

/// Every origin of a node, by label.
#[derive(Default)]
pub struct Origins {
    by_label: BTreeMap<String, Arc<Origin>>,
}

/// The signing region of an origin that is a plain URL.
const DEFAULT_SIGNING_REGION: &str = "us-east-1";

impl Origins {
    /// The origin of a region (or URL), made on first use.
    pub fn get(&mut self, target: &OriginTarget, regions: &[RegionInfo], metrics: &Metrics) -> Result<Arc<Origin>, String> {
        let (label, region, url, signing) = match (&target.region, &target.url) {
            (Some(name), _) => {
                let r = regions
                    .iter()
                    .find(|r| &r.name == name)
                    .ok_or_else(|| format!("no region {name:?}"))?;
                (r.name.clone(), Some(r.name.clone()), r.url.clone(), r.signing_region.clone())
            }
            (None, Some(url)) => (String::new(), None, url.clone(), DEFAULT_SIGNING_REGION.to_string()),
            (None, None) => return Err("an origin needs a region or a url".into()),
        };
        let uri: http::Uri = url.parse().map_err(|e| format!("origin url {url:?}: {e}"))?;
        let authority = uri.authority().cloned().ok_or_else(|| format!("origin url {url:?} has no host"))?;
        let label = match label.is_empty() {
            true => authority.to_string(),
            false => label,
        };
        if let Some(o) = self.by_label.get(&label) {
            return Ok(o.clone());
        }
        let gauge = metrics.breaker_open.get_or_create(&OriginLabels { origin: label.clone() }).clone();
        let origin = Arc::new(Origin {
            health: Health::new(&label, gauge),
            label: label.clone(),
            region,
            base: format!("http://{authority}"),
            authority,
            signing_region: signing,
        });
        self.by_label.insert(label, origin.clone());
        Ok(origin)
    }

    pub fn all(&self) -> Vec<Arc<Origin>> {
        self.by_label.values().cloned().collect()
    }
}

pub type Client = HyperClient<HttpConnector, EdgeBody>;

/// How long an unused pooled connection to an origin stays open.
const POOL_IDLE: Duration = Duration::from_secs(60);
/// Idle pooled connections kept per origin.
const POOL_MAX_IDLE: usize = 256;

/// A keep-alive client whose connects give up after `connect_timeout`.
pub fn client(connect_timeout: Duration) -> Client {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(connect_timeout));
    connector.set_nodelay(true);
    connector.enforce_http(true);
    HyperClient::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(POOL_IDLE)
        .pool_max_idle_per_host(POOL_MAX_IDLE)
        .build(connector)
}
