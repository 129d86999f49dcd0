//! The `[dns]` section of `tandem.toml`: listeners, health-check settings,
//! rate limits, the regions the server checks, and the zones it serves.
//! Parsed with serde and checked by [`DnsConfig::validate`] before anything starts.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde::Deserialize;

/// `[dns]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsConfig {
    /// UDP and TCP address of the DNS listeners.
    pub listen: SocketAddr,
    /// Address of the small HTTP port with `/metrics` and `/status`.
    pub http_listen: Option<SocketAddr>,
    /// Seconds a TCP connection may stay open without sending a query.
    #[serde(default = "default_tcp_timeout")]
    pub tcp_timeout_secs: f64,
    /// PEM file of the CAs that `https://` region URLs must have certificates
    /// from (health checks and app-state reads); default: the webpki (Mozilla)
    /// roots. A certificate that does not verify fails the check.
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub health: HealthSettings,
    #[serde(default)]
    pub rate_limit: RateLimitSettings,
    /// The regions dynamic records point at; `tandem dns` fills them from
    /// `[[regions]]` when the section names none.
    #[serde(default)]
    pub regions: Vec<DnsRegion>,
    pub zones: Vec<ZoneConfig>,
}

fn default_tcp_timeout() -> f64 {
    5.0
}

/// `[dns.health]`: how each region is checked.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HealthSettings {
    /// Path fetched with GET; the body must name the region.
    pub path: String,
    pub interval_secs: f64,
    pub timeout_secs: f64,
    /// Consecutive failures that make a healthy region unhealthy.
    pub failure_threshold: u32,
    /// Consecutive successes that make an unhealthy region healthy again.
    pub recovery_threshold: u32,
}

impl Default for HealthSettings {
    fn default() -> Self {
        Self {
            path: "/health".into(),
            interval_secs: 1.0,
            timeout_secs: 0.5,
            failure_threshold: 3,
            recovery_threshold: 2,
        }
    }
}

/// `[dns.rate_limit]`: responses per second per source address (UDP only;
/// TCP needs a handshake, so it cannot be spoofed for amplification).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSettings {
    pub responses_per_sec: u32,
    pub burst: u32,
    /// Source addresses tracked at once; beyond it the stalest are forgotten.
    pub max_sources: usize,
    /// Every Nth refused response is sent truncated (TC, no records) so a
    /// real client behind a busy address can retry over TCP; 0 drops all.
    pub slip: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            responses_per_sec: 100,
            burst: 200,
            max_sources: 65_536,
            slip: 2,
        }
    }
}

/// `[[dns.regions]]`: a region as the DNS server sees it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsRegion {
    pub name: String,
    /// Base URL the health check and app-state reads go to: `http://host:port`,
    /// or `https://host:port` (the certificate verified, see `ca_file`).
    pub url: String,
    /// Addresses answered for the region; default: the URL's host, if it is an IP address.
    #[serde(default)]
    pub addresses: Vec<IpAddr>,
}

/// `[[dns.zones]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneConfig {
    /// The zone's apex, e.g. `tandem.test`.
    pub name: String,
    /// TTL of records that do not set one.
    #[serde(default = "default_ttl")]
    pub ttl: u32,
    /// Name servers of the zone (NS at the apex); default `ns1.<zone>`.
    #[serde(default)]
    pub ns: Vec<String>,
    #[serde(default)]
    pub soa: SoaConfig,
    #[serde(default)]
    pub records: Vec<RecordConfig>,
}

fn default_ttl() -> u32 {
    60
}

/// `[dns.zones.soa]`; every field has a default.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SoaConfig {
    /// Default: the first name server.
    pub mname: Option<String>,
    /// Default: `hostmaster.<zone>`.
    pub rname: Option<String>,
    pub serial: Option<u32>,
    /// TTL of negative answers (NXDOMAIN, NODATA); default the zone TTL.
    pub minimum: Option<u32>,
}

/// `[[dns.zones.records]]`: a name and exactly one way to answer it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordConfig {
    /// Relative to the zone (`api`), `@` for the apex, or absolute with a final dot.
    pub name: String,
    pub ttl: Option<u32>,
    /// A static record: `A`, `AAAA`, `CNAME`, `TXT` or `NS`, with `values`.
    #[serde(rename = "type")]
    pub rtype: Option<String>,
    #[serde(default)]
    pub values: Vec<String>,
    /// The addresses of one region, unconditionally.
    pub region: Option<String>,
    /// The primary while it is healthy, else the secondary.
    pub failover: Option<FailoverConfig>,
    /// One healthy region, chosen at random in proportion to its weight.
    #[serde(default)]
    pub weighted: Vec<WeightedConfig>,
    /// The healthy region the server measures as fastest.
    #[serde(default)]
    pub latency: Vec<String>,
    /// The app's current write region, read from the regions' app state.
    pub app: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailoverConfig {
    pub primary: String,
    pub secondary: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightedConfig {
    pub region: String,
    pub weight: u32,
}

/// Longest interval or timeout accepted, in seconds.
const MAX_SECS: f64 = 3_600.0;

impl DnsConfig {
    /// Checks what serde cannot: positive durations, known regions, one
    /// answer kind per record. Names and values are checked when the zones are built.
    pub fn validate(&self) -> Result<(), String> {
        let h = &self.health;
        for (name, v) in [
            ("health.interval_secs", h.interval_secs),
            ("health.timeout_secs", h.timeout_secs),
            ("tcp_timeout_secs", self.tcp_timeout_secs),
        ] {
            if !(v > 0.0 && v <= MAX_SECS) {
                return Err(format!("[dns] {name} must be more than 0 and at most {MAX_SECS} (got {v})"));
            }
        }
        if h.failure_threshold == 0 || h.recovery_threshold == 0 {
            return Err("[dns] health thresholds must be at least 1".into());
        }
        if !h.path.starts_with('/') {
            return Err(format!("[dns] health.path must start with / (got {:?})", h.path));
        }
        let r = &self.rate_limit;
        if r.responses_per_sec == 0 || r.burst == 0 || r.max_sources == 0 {
            return Err("[dns] rate_limit values must be at least 1".into());
        }
        if self.zones.is_empty() {
            return Err("[dns] needs at least one zone".into());
        }
        for region in &self.regions {
            region.validate_url().map_err(|e| format!("[dns] region {}: {e}", region.name))?;
        }
        for zone in &self.zones {
            for record in &zone.records {
                record
                    .validate(|n| self.regions.iter().any(|r| r.name == n))
                    .map_err(|e| format!("[dns] zone {} record {}: {e}", zone.name, record.name))?;
            }
        }
        Ok(())
    }
}

impl DnsRegion {
    /// An `http://` or `https://` URL with a host.
    fn validate_url(&self) -> Result<(), String> {
        let uri: http::Uri = self.url.parse().map_err(|e| format!("bad url {:?}: {e}", self.url))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(format!("url {:?} must be http://host[:port] or https://host[:port]", self.url));
        }
        Ok(())
    }
}

impl RecordConfig {
    /// The regions a dynamic record may answer with (empty for static ones).
    pub fn regions(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        out.extend(self.region.as_deref());
        if let Some(f) = &self.failover {
            out.extend([f.primary.as_str(), f.secondary.as_str()]);
        }
        out.extend(self.weighted.iter().map(|w| w.region.as_str()));
        out.extend(self.latency.iter().map(String::as_str));
        out
    }

    fn validate(&self, known: impl Fn(&str) -> bool) -> Result<(), String> {
        let kinds = [
            self.rtype.is_some(),
            self.region.is_some(),
            self.failover.is_some(),
            !self.weighted.is_empty(),
            !self.latency.is_empty(),
            self.app.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err("set exactly one of type (with values), region, failover, weighted, latency, app".into());
        }
        if self.rtype.is_some() && self.values.is_empty() {
            return Err("a typed record needs values".into());
        }
        if self.rtype.is_none() && !self.values.is_empty() {
            return Err("values need a type".into());
        }
        if !self.weighted.is_empty() && self.weighted.iter().all(|w| w.weight == 0) {
            return Err("at least one weight must be above 0".into());
        }
        if let Some(app) = &self.app
            && (app.is_empty() || !app.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
        {
            return Err(format!("app id {app:?} may hold only letters, digits, '-', '_' and '.'"));
        }
        match self.regions().into_iter().find(|r| !known(r)) {
            Some(unknown) => Err(format!("unknown region {unknown:?}")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(records: &str) -> Result<DnsConfig, String> {
        let text = format!(
            "listen = \"127.0.0.1:0\"\n[[regions]]\nname = \"a\"\nurl = \"http://127.0.0.1:1\"\n\
             [[zones]]\nname = \"z.test\"\n{records}"
        );
        let cfg: DnsConfig = toml::from_str(&text).map_err(|e| e.to_string())?;
        cfg.validate().map(|()| cfg)
    }

    #[test]
    fn a_record_needs_exactly_one_answer_kind_and_known_regions() {
        assert!(config("[[zones.records]]\nname = \"x\"\nregion = \"a\"\n").is_ok());
        let both = config("[[zones.records]]\nname = \"x\"\nregion = \"a\"\ntype = \"A\"\nvalues = [\"192.0.2.1\"]\n");
        assert!(both.unwrap_err().contains("exactly one"));
        let unknown = config("[[zones.records]]\nname = \"x\"\nfailover = { primary = \"a\", secondary = \"b\" }\n");
        assert!(unknown.unwrap_err().contains("unknown region \"b\""));
        let bad_app = config("[[zones.records]]\nname = \"x\"\napp = \"../x\"\n");
        assert!(bad_app.unwrap_err().contains("app id"));
    }

    #[test]
    fn https_region_urls_and_a_ca_file_parse_and_other_schemes_are_refused() {
        let text = "listen = \"127.0.0.1:0\"\nca_file = \"certs/regions-ca.pem\"\n\
                    [[regions]]\nname = \"a\"\nurl = \"https://a.example.test:8443\"\naddresses = [\"192.0.2.1\"]\n\
                    [[zones]]\nname = \"z.test\"\n";
        let cfg: DnsConfig = toml::from_str(text).unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.ca_file, Some(PathBuf::from("certs/regions-ca.pem")));
        assert_eq!(cfg.regions[0].url, "https://a.example.test:8443");
        let default: DnsConfig = toml::from_str("listen = \"127.0.0.1:0\"\n[[zones]]\nname = \"z.test\"\n").unwrap();
        assert_eq!(default.ca_file, None, "no ca_file: the webpki roots");

        let ftp = text.replace("https://a.example.test:8443", "ftp://a.example.test");
        let err = toml::from_str::<DnsConfig>(&ftp).unwrap().validate().unwrap_err();
        assert!(err.contains("region a") && err.contains("https://host"), "{err}");
        let no_host = text.replace("https://a.example.test:8443", "/health");
        assert!(toml::from_str::<DnsConfig>(&no_host).unwrap().validate().is_err());
        let skip = text.replace("ca_file", "insecure_skip_verify = true\nca_file");
        let err = toml::from_str::<DnsConfig>(&skip).unwrap_err().to_string();
        assert!(
            err.contains("unknown field `insecure_skip_verify`"),
            "no way to skip verification: {err}"
        );
    }

    #[test]
    fn health_settings_are_bounded() {
        let text = "listen = \"127.0.0.1:0\"\n[health]\ninterval_secs = 0\n[[zones]]\nname = \"z.test\"\n";
        let cfg: DnsConfig = toml::from_str(text).unwrap();
        assert!(cfg.validate().unwrap_err().contains("interval_secs"));
    }
}
