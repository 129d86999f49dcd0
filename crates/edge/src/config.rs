//! `[edge]` of tandem.toml: the edge nodes of the deployment, its key, its
//! distributions (host names, TLS, default root object) and their behaviours
//! (path pattern, allowed methods, cache settings, origin), and the shared
//! cache limits. Parsed with serde by the `tandem` crate and checked by
//! [`EdgeSection::validate`] against the regions and apps of the same file.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// `[edge]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EdgeSection {
    /// The `[[access_keys]]` entry the edge signs origin requests with
    /// (origin access control). Without one, origin requests go unsigned.
    pub access_key_id: Option<String>,
    /// The edge nodes: `tandem edge --name` picks one, `tandem edge invalidate` reaches all.
    #[serde(default)]
    pub nodes: Vec<EdgeNodeConfig>,
    #[serde(default)]
    pub distributions: Vec<Distribution>,
    #[serde(default)]
    pub cache: CacheSection,
    /// How often each origin's `/health` is probed, in milliseconds.
    #[serde(default = "default_probe_ms")]
    pub probe_interval_ms: u64,
    /// How often the state of each routed app is read, in milliseconds.
    #[serde(default = "default_app_poll_ms")]
    pub app_poll_interval_ms: u64,
}

impl Default for EdgeSection {
    fn default() -> Self {
        Self {
            access_key_id: None,
            nodes: Vec::new(),
            distributions: Vec::new(),
            cache: CacheSection::default(),
            probe_interval_ms: default_probe_ms(),
            app_poll_interval_ms: default_app_poll_ms(),
        }
    }
}

/// `[[edge.nodes]]`: one edge process.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EdgeNodeConfig {
    pub name: String,
    pub listen: SocketAddr,
    /// URL the operator commands reach it at; default `http(s)://<listen>`.
    pub url: Option<String>,
}

/// `[[edge.distributions]]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Distribution {
    pub name: String,
    /// Host names it answers (the `Host` header without port); empty: any.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Certificate chain and private key (PEM). Any TLS distribution makes the
    /// node's listener TLS; the certificate is chosen by SNI.
    pub tls: Option<TlsFiles>,
    /// Object served for `/` (e.g. `index.html`).
    pub default_root_object: Option<String>,
    pub behaviors: Vec<Behavior>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// `[[edge.distributions.behaviors]]`: the first whose pattern matches the path serves it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Behavior {
    /// Path pattern as CloudFront's: `*` matches any run of characters, `?`
    /// exactly one (tandem-iam's wildcard). Default `*`.
    #[serde(default = "default_pattern")]
    pub path: String,
    /// Methods viewers may use; others get 403. Default GET, HEAD.
    #[serde(default = "default_methods")]
    pub methods: Vec<String>,
    /// Sign unsigned viewer requests with the edge's key (origin access control).
    #[serde(default = "yes")]
    pub sign: bool,
    /// Cache settings; without them the behaviour is not cached.
    pub cache: Option<CacheSettings>,
    pub origin: OriginSpec,
}

/// Which origin a behaviour forwards to.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum OriginSpec {
    /// One region (or URL).
    Region(OriginTarget),
    /// A primary and a secondary, with failover.
    Group {
        primary: OriginTarget,
        secondary: OriginTarget,
        /// Statuses that count as a failure of the origin. Default 500, 502, 503, 504.
        #[serde(default = "default_failover_status")]
        failover_status: Vec<u16>,
        #[serde(default = "default_connect_timeout_ms")]
        connect_timeout_ms: u64,
        /// Time to the response head once the request is sent.
        #[serde(default = "default_response_timeout_ms")]
        response_timeout_ms: u64,
        /// Connection attempts per origin before it counts as failed.
        #[serde(default = "one")]
        attempts: u32,
    },
    /// An app of the deployment: every method goes to its current write
    /// region. The first path segment, when it names one of the app's
    /// buckets, becomes that bucket's name in the region the request goes to.
    /// With `bucket` (one of the app's buckets, by its primary name), every
    /// path is put inside that bucket instead: a static site that follows
    /// the app.
    App {
        app: String,
        #[serde(default)]
        bucket: Option<String>,
        /// Where GET and HEAD go: the write region (default), or the
        /// healthy region with the shortest probe round trip (`nearest`,
        /// which may serve what replication has not brought there yet).
        #[serde(default)]
        reads: Reads,
        #[serde(default = "default_connect_timeout_ms")]
        connect_timeout_ms: u64,
        #[serde(default = "default_response_timeout_ms")]
        response_timeout_ms: u64,
    },
}

/// Where an app origin sends GET and HEAD.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Reads {
    #[default]
    WriteRegion,
    Nearest,
}

/// One origin: a region of the deployment or a plain URL, optionally a
/// bucket whose name is put in front of the path (a static site's bucket).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OriginTarget {
    pub region: Option<String>,
    pub url: Option<String>,
    pub bucket: Option<String>,
}

/// Which request parts form the cache key.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum KeySelect {
    Mode(KeyMode),
    Only(Vec<String>),
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum KeyMode {
    None,
    All,
}

impl Default for KeySelect {
    fn default() -> Self {
        KeySelect::Mode(KeyMode::None)
    }
}

/// `cache = { ... }` of a behaviour. Seconds.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CacheSettings {
    pub min_ttl_secs: u64,
    pub default_ttl_secs: u64,
    pub max_ttl_secs: u64,
    pub key_headers: Vec<String>,
    pub key_query: KeySelect,
    pub key_cookies: KeySelect,
    /// Cache responses to requests that carry credentials.
    pub cache_authenticated: bool,
    pub compress: bool,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            min_ttl_secs: 0,
            default_ttl_secs: 86_400,
            max_ttl_secs: 31_536_000,
            key_headers: Vec::new(),
            key_query: KeySelect::default(),
            key_cookies: KeySelect::default(),
            cache_authenticated: false,
            compress: false,
        }
    }
}

/// `[edge.cache]`: limits shared by every distribution of a node.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CacheSection {
    pub max_memory_bytes: u64,
    pub disk_dir: Option<PathBuf>,
    pub max_disk_bytes: u64,
    pub max_object_bytes: u64,
    pub negative_ttl_ms: u64,
}

impl Default for CacheSection {
    fn default() -> Self {
        Self {
            max_memory_bytes: 256 << 20,
            disk_dir: None,
            max_disk_bytes: 0,
            max_object_bytes: 64 << 20,
            negative_ttl_ms: 1_000,
        }
    }
}

fn default_probe_ms() -> u64 {
    500
}
fn default_app_poll_ms() -> u64 {
    200
}
fn default_pattern() -> String {
    "*".into()
}
fn default_methods() -> Vec<String> {
    vec!["GET".into(), "HEAD".into()]
}
fn yes() -> bool {
    true
}
fn one() -> u32 {
    1
}
fn default_failover_status() -> Vec<u16> {
    vec![500, 502, 503, 504]
}
fn default_connect_timeout_ms() -> u64 {
    1_000
}
fn default_response_timeout_ms() -> u64 {
    30_000
}

/// What the rest of the file says that the edge needs to check its section.
pub struct Known<'a> {
    pub regions: &'a [&'a str],
    pub apps: &'a [&'a str],
    /// (app id, bucket name in the app's primary region).
    pub app_buckets: &'a [(&'a str, &'a str)],
    pub keys: &'a [&'a str],
}

/// Every method a behaviour may allow.
pub const METHODS: [&str; 7] = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"];
/// Longest interval of the probes and the app poll: beyond it, a typo.
const MAX_INTERVAL_MS: u64 = 60_000;

impl EdgeSection {
    /// Checks names, references and ranges; the message names the field.
    pub fn validate(&self, known: &Known<'_>) -> Result<(), String> {
        if let Some(k) = &self.access_key_id
            && !known.keys.contains(&k.as_str())
        {
            return Err(format!("[edge] access_key_id {k:?} is not an [[access_keys]] entry"));
        }
        for (name, v) in [
            ("probe_interval_ms", self.probe_interval_ms),
            ("app_poll_interval_ms", self.app_poll_interval_ms),
        ] {
            if !(10..=MAX_INTERVAL_MS).contains(&v) {
                return Err(format!("[edge] {name} must be between 10 and {MAX_INTERVAL_MS} (got {v})"));
            }
        }
        for (i, n) in self.nodes.iter().enumerate() {
            if n.name.is_empty() || self.nodes[..i].iter().any(|o| o.name == n.name) {
                return Err(format!("[[edge.nodes]] name {:?} is empty or defined twice", n.name));
            }
        }
        for (i, d) in self.distributions.iter().enumerate() {
            if self.distributions[..i].iter().any(|o| o.name == d.name) {
                return Err(format!("[[edge.distributions]] {:?} is defined twice", d.name));
            }
            if d.behaviors.is_empty() {
                return Err(format!("distribution {:?} needs at least one behavior", d.name));
            }
            for b in &d.behaviors {
                b.validate(known)
                    .map_err(|e| format!("distribution {:?}, behavior {:?}: {e}", d.name, b.path))?;
            }
        }
        Ok(())
    }

    /// The node `name` names, or the only one when there is one.
    pub fn node(&self, name: Option<&str>) -> Result<&EdgeNodeConfig, String> {
        let names = || self.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(", ");
        match name {
            Some(name) => self
                .nodes
                .iter()
                .find(|n| n.name == name)
                .ok_or_else(|| format!("no edge node named {name:?} (nodes: {})", names())),
            None if self.nodes.len() == 1 => Ok(&self.nodes[0]),
            None => Err(format!("say which edge node with --name (nodes: {})", names())),
        }
    }

    /// Whether the listener of a node serves TLS.
    pub fn tls(&self) -> bool {
        self.distributions.iter().any(|d| d.tls.is_some())
    }

    /// The certificate files of the distributions with TLS: what a client
    /// of the edge trusts (a self-signed certificate is its own CA).
    pub fn tls_certs(&self) -> Vec<std::path::PathBuf> {
        self.distributions
            .iter()
            .filter_map(|d| d.tls.as_ref().map(|t| t.cert.clone()))
            .collect()
    }

    /// The URL of a node.
    pub fn url(&self, node: &EdgeNodeConfig) -> String {
        let scheme = if self.tls() { "https" } else { "http" };
        node.url.clone().unwrap_or_else(|| format!("{scheme}://{}", node.listen))
    }
}

impl Behavior {
    fn validate(&self, known: &Known<'_>) -> Result<(), String> {
        if self.path.is_empty() || self.path.len() > 1024 {
            return Err("path must be 1 to 1024 characters".into());
        }
        if let Some(m) = self.methods.iter().find(|m| !METHODS.contains(&m.as_str())) {
            return Err(format!("unknown method {m:?} (use {})", METHODS.join(", ")));
        }
        if let Some(c) = &self.cache
            && !(c.min_ttl_secs <= c.default_ttl_secs && c.default_ttl_secs <= c.max_ttl_secs)
        {
            return Err("cache TTLs must satisfy min <= default <= max".into());
        }
        self.origin.validate(known)
    }
}

impl OriginSpec {
    fn validate(&self, known: &Known<'_>) -> Result<(), String> {
        match self {
            OriginSpec::Region(target) => target.validate(known),
            OriginSpec::Group {
                primary,
                secondary,
                failover_status,
                connect_timeout_ms,
                response_timeout_ms,
                attempts,
            } => {
                primary.validate(known)?;
                secondary.validate(known)?;
                if let Some(s) = failover_status.iter().find(|s| !(400..=599).contains(*s)) {
                    return Err(format!("failover_status {s} is not a 4xx or 5xx status"));
                }
                if !(1..=10).contains(attempts) {
                    return Err("attempts must be 1 to 10".into());
                }
                timeouts(*connect_timeout_ms, *response_timeout_ms)
            }
            OriginSpec::App {
                app,
                bucket,
                connect_timeout_ms,
                response_timeout_ms,
                ..
            } => {
                if !known.apps.contains(&app.as_str()) {
                    return Err(format!("app {app:?} is not an [[apps]] entry"));
                }
                if let Some(b) = bucket
                    && !known.app_buckets.contains(&(app.as_str(), b.as_str()))
                {
                    return Err(format!(
                        "bucket {b:?} is not a bucket of app {app:?} (name it as in the primary region)"
                    ));
                }
                timeouts(*connect_timeout_ms, *response_timeout_ms)
            }
        }
    }
}

fn timeouts(connect_ms: u64, response_ms: u64) -> Result<(), String> {
    if !(1..=60_000).contains(&connect_ms) || !(1..=3_600_000).contains(&response_ms) {
        return Err("connect_timeout_ms must be 1 to 60000 and response_timeout_ms 1 to 3600000".into());
    }
    Ok(())
}

impl OriginTarget {
    fn validate(&self, known: &Known<'_>) -> Result<(), String> {
        match (&self.region, &self.url) {
            (Some(r), None) if known.regions.contains(&r.as_str()) => Ok(()),
            (Some(r), None) => Err(format!("origin region {r:?} is not a [[regions]] entry")),
            (None, Some(u)) if u.starts_with("http://") && u.parse::<http::Uri>().is_ok() => Ok(()),
            (None, Some(u)) => Err(format!("origin url {u:?} must be an http:// URL")),
            _ => Err("an origin names exactly one of region and url".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<EdgeSection, String> {
        #[derive(Deserialize)]
        struct File {
            edge: EdgeSection,
        }
        let f: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let known = Known {
            regions: &["us-east", "ap-tokyo"],
            apps: &["photos"],
            app_buckets: &[("photos", "photos-site-east")],
            keys: &["EDGEKEY"],
        };
        f.edge.validate(&known)?;
        Ok(f.edge)
    }

    const SITE: &str = r#"
[edge]
access_key_id = "EDGEKEY"
[[edge.nodes]]
name = "e1"
listen = "127.0.0.1:8443"
[[edge.distributions]]
name = "site"
default_root_object = "index.html"
[[edge.distributions.behaviors]]
path = "/api/*"
methods = ["GET", "PUT", "DELETE"]
origin = { kind = "app", app = "photos" }
[[edge.distributions.behaviors]]
cache = { default_ttl_secs = 60, key_query = ["v"], key_cookies = "all" }
origin = { kind = "group", primary = { region = "us-east", bucket = "site" }, secondary = { region = "ap-tokyo", bucket = "site" } }
"#;

    #[test]
    fn an_app_origin_may_name_one_of_the_apps_buckets_and_no_other() {
        let with = |bucket: &str| SITE.replace(r#"app = "photos" }"#, &format!(r#"app = "photos", bucket = "{bucket}" }}"#));
        let e = parse(&with("photos-site-east")).unwrap();
        assert!(matches!(&e.distributions[0].behaviors[0].origin, OriginSpec::App { bucket: Some(b), .. } if b == "photos-site-east"));
        let err = parse(&with("someone-elses")).unwrap_err();
        assert!(err.contains("is not a bucket of app"), "{err}");
    }

    #[test]
    fn a_distribution_with_an_app_and_a_group_behaviour_parses_with_defaults() {
        let e = parse(SITE).unwrap();
        let d = &e.distributions[0];
        assert_eq!(d.behaviors[1].path, "*");
        assert_eq!(d.behaviors[1].methods, ["GET", "HEAD"]);
        let c = d.behaviors[1].cache.as_ref().unwrap();
        assert_eq!(c.key_query, KeySelect::Only(vec!["v".into()]));
        assert_eq!(c.key_cookies, KeySelect::Mode(KeyMode::All));
        match &d.behaviors[1].origin {
            OriginSpec::Group {
                failover_status,
                connect_timeout_ms,
                ..
            } => {
                assert_eq!(failover_status, &[500, 502, 503, 504]);
                assert_eq!(*connect_timeout_ms, 1_000);
            }
            o => panic!("not a group: {o:?}"),
        }
        assert_eq!(e.node(None).unwrap().name, "e1");
        assert_eq!(e.probe_interval_ms, EdgeSection::default().probe_interval_ms);
        assert_eq!(EdgeSection::default().app_poll_interval_ms, 200, "no [edge]: the same defaults");
        assert_eq!(e.url(&e.nodes[0]), "http://127.0.0.1:8443");
    }

    #[test]
    fn unknown_references_and_fields_are_refused_by_name() {
        for (from, to, complaint) in [
            ("app = \"photos\"", "app = \"videos\"", "videos"),
            ("region = \"us-east\"", "region = \"eu-west\"", "eu-west"),
            ("\"EDGEKEY\"", "\"NOPE\"", "NOPE"),
            ("\"DELETE\"", "\"BREW\"", "BREW"),
            ("default_ttl_secs = 60", "default_tll_secs = 60", "default_tll_secs"),
            ("kind = \"app\"", "kind = \"lambda\"", "lambda"),
        ] {
            let e = parse(&SITE.replacen(from, to, 1)).unwrap_err();
            assert!(e.contains(complaint), "{to}: {e}");
        }
    }
}
