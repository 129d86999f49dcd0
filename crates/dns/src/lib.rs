//! `tandem dns`: an authoritative DNS server for the deployment's zones.
//!
//! Static records (SOA, NS, A, AAAA, CNAME, TXT) come from `[dns]` in
//! `tandem.toml`; dynamic names answer with the addresses of regions chosen
//! by health checks (failover pairs, weighted, latency) or by an app's
//! current write region, read over HTTP from the regions like any client.
//! Like the edge, it never touches a region's store.
//!
//! Files: `config` (the `[dns]` section), `zone` (records and lookup),
//! `choose` (which regions a dynamic name answers with), `state` (health and
//! app state as known now), `checks` (the loops that update it), `http_get`
//! (their HTTP/HTTPS client, TLS from tandem-https), `handler` (the query
//! path), `transport`, `udp` and `tcp` (the listeners), `rrl` (response rate
//! limiting), `metrics` and `http_port` (`/metrics`, `/status`).

mod checks;
mod choose;
pub mod config;
mod handler;
mod http_get;
mod http_port;
mod metrics;
mod rrl;
mod state;
mod tcp;
mod transport;
mod udp;
mod zone;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

pub use crate::config::{DnsConfig, DnsRegion};
use crate::handler::Handler;
use crate::state::{Region, State};

/// Tasks receiving on the UDP socket: half the cores (the other half is for
/// the kernel's side of the traffic), at least one.
fn udp_tasks() -> usize {
    std::thread::available_parallelism().map(|n| n.get() / 2).unwrap_or(1).max(1)
}

/// A running server; [`RunningDns::shutdown`] stops it.
pub struct RunningDns {
    /// UDP and TCP (same port).
    pub dns_addr: SocketAddr,
    pub http_addr: Option<SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
}

/// Validates the config, binds the listeners and starts the checks.
pub async fn start(config: &DnsConfig) -> Result<RunningDns, String> {
    config.validate()?;
    let regions = config
        .regions
        .iter()
        .map(|r| {
            Ok(Region {
                name: r.name.clone(),
                url: r.url.clone(),
                addresses: r.answer_addresses()?,
                health: Default::default(),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let names: Vec<String> = regions.iter().map(|r| r.name.clone()).collect();
    let zones = zone::Zones::build(&config.zones, &names).map_err(|e| format!("[dns] {e}"))?;
    // Before binding anything: an unreadable ca_file stops the start.
    let client = http_get::HttpGet::new(Duration::from_secs_f64(config.health.timeout_secs), config.ca_file.as_slice())?;
    let state = Arc::new(State::new(regions));
    let metrics = Arc::new(metrics::Metrics::default());
    let udp = UdpSocket::bind(config.listen)
        .await
        .map_err(|e| format!("cannot bind DNS UDP {}: {e}", config.listen))?;
    let dns_addr = udp.local_addr().map_err(|e| e.to_string())?;
    let tcp = TcpListener::bind(dns_addr)
        .await
        .map_err(|e| format!("cannot bind DNS TCP {dns_addr}: {e}"))?;
    let mut tasks = checks::spawn(&state, &config.health, &config.apps(), client);
    let http_addr = match config.http_listen {
        Some(addr) => {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|e| format!("cannot bind DNS HTTP port {addr}: {e}"))?;
            let bound = listener.local_addr().map_err(|e| e.to_string())?;
            tasks.push(tokio::spawn(http_port::serve(listener, state.clone(), metrics.clone())));
            Some(bound)
        }
        None => None,
    };
    let handler = Arc::new(Handler {
        zones,
        state,
        rrl: rrl::RateLimiter::new(&config.rate_limit),
        metrics,
    });
    let udp = Arc::new(udp);
    for _ in 0..udp_tasks() {
        tasks.push(tokio::spawn(udp::serve(udp.clone(), handler.clone())));
    }
    tasks.push(tokio::spawn(tcp::serve(
        tcp,
        handler.clone(),
        Duration::from_secs_f64(config.tcp_timeout_secs),
    )));
    Ok(RunningDns {
        dns_addr,
        http_addr,
        tasks,
    })
}

impl RunningDns {
    pub async fn shutdown(self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl DnsConfig {
    /// Every app an app record names, once.
    pub fn apps(&self) -> Vec<String> {
        let mut apps: Vec<String> = self
            .zones
            .iter()
            .flat_map(|z| z.records.iter().filter_map(|r| r.app.clone()))
            .collect();
        apps.sort();
        apps.dedup();
        apps
    }
}

impl DnsRegion {
    /// The configured addresses, else the URL's host when it is an IP address.
    pub fn answer_addresses(&self) -> Result<Vec<IpAddr>, String> {
        if !self.addresses.is_empty() {
            return Ok(self.addresses.clone());
        }
        let uri: http::Uri = self
            .url
            .parse()
            .map_err(|e| format!("[dns] region {}: bad url {:?}: {e}", self.name, self.url))?;
        let host = uri.host().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
        host.parse::<IpAddr>().map(|ip| vec![ip]).map_err(|_| {
            format!(
                "[dns] region {}: its URL host {host:?} is not an IP address; give `addresses`",
                self.name
            )
        })
    }
}

/// The `/status` of a running DNS server's HTTP port (for `tandem status`).
pub async fn fetch_status(http_addr: SocketAddr) -> Result<serde_json::Value, String> {
    let reply = http_get::HttpGet::new(Duration::from_secs(2), &[])?
        .get(&format!("http://{http_addr}/status"))
        .await?;
    serde_json::from_slice(&reply.body).map_err(|e| format!("bad /status answer: {e}"))
}
