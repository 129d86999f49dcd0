//! One viewer request: the edge's own endpoints (`/metrics`,
//! `/_tandem/edge/invalidations`), else the distribution by host name, the
//! default root object, the first behaviour whose pattern matches, its
//! allowed methods, then the cache (GET/HEAD of a behaviour with cache
//! settings) or a plain forward. Writes the access log line.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use http::header::{HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body::Body as _;

use crate::body::{EdgeBody, full};
use crate::cached::Cache;
use crate::config::CacheSettings;
use crate::fetch::{Fetch, FetchFuture};
use crate::forward::{self, Forwarder, RequestBody, Shared};
use crate::metrics::{Metrics, RequestLabels, status_class};
use crate::{access_log, errors, invalidate};

pub struct BehaviorState {
    pub pattern: String,
    pub methods: Vec<Method>,
    pub cache: Option<CacheSettings>,
    pub forwarder: Arc<Forwarder>,
}

pub struct DistributionState {
    pub name: String,
    pub hosts: Vec<String>,
    pub default_root_object: Option<String>,
    pub behaviors: Vec<BehaviorState>,
}

pub struct Proxy {
    pub node: String,
    pub distributions: Vec<DistributionState>,
    pub cache: Cache,
    pub shared: Arc<Shared>,
    pub metrics: Arc<Metrics>,
    pub admin_secrets: HashMap<String, String>,
}

/// The host name of a request (no port), from `Host` or the HTTP/2 authority.
fn host_of<B>(req: &Request<B>) -> Option<String> {
    let raw = req
        .headers()
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))?;
    let host = match raw.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h.to_string(),
        _ => raw,
    };
    Some(host.to_ascii_lowercase())
}

impl Proxy {
    fn distribution(&self, host: Option<&str>) -> Option<&DistributionState> {
        let named = host.and_then(|h| {
            self.distributions
                .iter()
                .find(|d| d.hosts.iter().any(|n| n.eq_ignore_ascii_case(h)))
        });
        named.or_else(|| self.distributions.iter().find(|d| d.hosts.is_empty()))
    }

    /// Serves one request and logs it.
    pub fn handle(
        self: Arc<Self>,
        req: Request<EdgeBody>,
        peer: SocketAddr,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Response<EdgeBody>> + Send>> {
        Box::pin(self.handle_inner(req, peer))
    }

    async fn handle_inner(self: Arc<Self>, req: Request<EdgeBody>, peer: SocketAddr) -> Response<EdgeBody> {
        // What the access line needs, kept only when the line is written.
        let logged = access_log::enabled().then(|| (req.method().clone(), req.uri().to_string(), req.version(), req.headers().clone()));
        let (resp, distribution, cache) = self.route(req).await;
        if let Some(d) = distribution {
            let labels = RequestLabels {
                distribution: d,
                status: status_class(resp.status().as_u16()),
                cache,
            };
            self.metrics.count_request(&labels);
        }
        if let Some((method, target, version, headers)) = &logged {
            access_log::write(&access_log::Entry {
                peer,
                method: method.as_str(),
                target,
                version: *version,
                headers,
                status: resp.status().as_u16(),
                bytes: resp.body().size_hint().exact(),
            });
        }
        resp
    }

    async fn route(self: &Arc<Self>, req: Request<EdgeBody>) -> (Response<EdgeBody>, Option<String>, &'static str) {
        match req.uri().path() {
            "/metrics" if req.method() == Method::GET => {
                let mut resp = Response::new(full(self.metrics.render()));
                resp.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                return (resp, None, "none");
            }
            invalidate::PATH => {
                let proxy = self.clone();
                let resp = invalidate::handle(req, &self.node, &self.admin_secrets, move |host, paths| {
                    proxy.metrics.invalidations.inc();
                    proxy.cache.invalidate(host, paths)
                })
                .await;
                return (resp, None, "none");
            }
            _ => {}
        }
        if let Some(resp) = crate::console::answer(
            &req,
            &self.metrics.summary,
            self.shared.viewers.sessions.as_ref(),
            &self.admin_secrets,
        ) {
            return (resp, None, "none");
        }
        let host = host_of(&req);
        let Some(dist) = self.distribution(host.as_deref()) else {
            let resp = errors::xml(StatusCode::NOT_FOUND, "NoSuchDistribution", "no distribution serves this host name");
            return (resp, None, "none");
        };
        let name = Some(dist.name.clone());
        let (mut parts, body) = req.into_parts();
        // The root object stands for `/` only when it is read: a POST to `/`
        // is an API call (DynamoDB, Cognito).
        if parts.uri.path() == "/"
            && matches!(parts.method, Method::GET | Method::HEAD)
            && let Some(root) = &dist.default_root_object
            && let Some(uri) = with_path(&parts.uri, &format!("/{root}"))
        {
            parts.uri = uri;
        }
        let Some(b) = dist
            .behaviors
            .iter()
            .find(|b| tandem_iam::pattern::wildcard(&b.pattern, parts.uri.path()))
        else {
            return (
                errors::xml(StatusCode::NOT_FOUND, "NoSuchKey", "no behavior matches this path"),
                name,
                "none",
            );
        };
        if !b.methods.contains(&parts.method) {
            let resp = errors::xml(StatusCode::FORBIDDEN, "MethodNotAllowed", "this method is not allowed here");
            return (resp, name, "none");
        }
        match &b.cache {
            Some(rule) if matches!(parts.method, Method::GET | Method::HEAD) => {
                let served = self.cache.serve(rule, parts, self.fetch(b.forwarder.clone())).await;
                let mut resp = served.response;
                resp.headers_mut()
                    .insert(HeaderName::from_static("x-cache"), HeaderValue::from_static(served.outcome));
                (resp, name, served.outcome)
            }
            _ => {
                let resp = match RequestBody::from_viewer(body).await {
                    Ok(body) => match forward::forward(&b.forwarder, &self.shared, &parts, body).await {
                        Ok(r) => r,
                        Err(f) => f.response(),
                    },
                    Err(e) => errors::xml(
                        StatusCode::BAD_REQUEST,
                        "IncompleteBody",
                        &format!("the request body could not be read: {e}"),
                    ),
                };
                (resp, name, "none")
            }
        }
    }

    /// The origin fetch of a cached behaviour (GET/HEAD: no body).
    fn fetch(self: &Arc<Self>, fw: Arc<Forwarder>) -> Fetch {
        let shared = self.shared.clone();
        Box::new(move |parts: http::request::Parts| -> FetchFuture {
            Box::pin(async move { forward::forward(&fw, &shared, &parts, RequestBody::Buffered(bytes::Bytes::new())).await })
        })
    }
}

fn with_path(uri: &http::Uri, path: &str) -> Option<http::Uri> {
    let pq = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(pq.parse().ok()?);
    http::Uri::from_parts(parts).ok()
}
