//! The edge of `tandem dev`: one node on the port after the two regions,
//! HTTPS with a self-signed certificate (made at each start, in
//! `<data>/edge/`), and one distribution for the demo app `photos`, every
//! behaviour following the app's state:
//! - `POST /` (DynamoDB and Cognito JSON APIs) and the app's bucket
//!   (`/photos-us-east` and `/photos-us-east/*`, every method): the viewer's own signature (or
//!   none, for Cognito's public operations), re-signed by the edge for the
//!   region the request goes to;
//! - `GET /_tandem/apps/photos/state`: the public routing state the browser app polls;
//! - `/_tandem/console/*` but its files (which the edge serves itself): the
//!   console's sign-in and data, from the app's write region;
//! - everything else (GET/HEAD): the app's web site from its site bucket,
//!   read with the edge's own key, which may only read that bucket.
//!
//! Also its text in the written tandem.toml.

use std::net::SocketAddr;
use std::path::Path;

use tandem_edge::config::{Behavior, Distribution, EdgeNodeConfig, EdgeSection, METHODS, OriginSpec, TlsFiles};

use crate::config::{IdentityPolicy, KeyConfig};

/// Host names the dev certificate is made for.
pub const CERT_NAMES: [&str; 2] = ["localhost", "127.0.0.1"];

/// The demo app's buckets: its data, and its web site.
pub const DATA_BUCKETS: (&str, &str) = ("photos-us-east", "photos-ap-tokyo");
pub const SITE_BUCKETS: (&str, &str) = ("photos-site-us-east", "photos-site-ap-tokyo");

/// The key the dev edge reads the site with.
pub const EDGE_KEY_ID: &str = "TANDEMDEVEDGEKEY0001";
const EDGE_SECRET: &str = "tandem-dev-edge-secret-do-not-use-in-prod";

/// What the edge's key may do: read the site buckets, nothing else.
fn edge_policy() -> String {
    let (p, s) = SITE_BUCKETS;
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":["arn:aws:s3:::{p}/*","arn:aws:s3:::{s}/*"]}}]}}"#
    )
}

/// The dev edge's access key (origin access control of the site buckets).
pub fn edge_key() -> KeyConfig {
    KeyConfig {
        access_key_id: EDGE_KEY_ID.into(),
        secret_access_key: EDGE_SECRET.into(),
        principal: Some("edge".into()),
        admin: false,
        policy: Some(IdentityPolicy::parse(&edge_policy()).unwrap_or_else(|e| unreachable!("the built-in policy parses: {e}"))),
    }
}

fn behavior(path: &str, methods: &[&str], sign: bool, bucket: Option<&str>) -> Behavior {
    Behavior {
        path: path.into(),
        methods: methods.iter().map(|m| m.to_string()).collect(),
        sign,
        cache: None,
        origin: OriginSpec::App {
            app: "photos".into(),
            bucket: bucket.map(str::to_string),
            reads: Default::default(),
            connect_timeout_ms: 1_000,
            response_timeout_ms: 30_000,
        },
    }
}

/// The dev edge section.
pub fn section(data_root: &Path, base_port: u16) -> EdgeSection {
    let dir = data_root.join("edge");
    EdgeSection {
        access_key_id: Some(EDGE_KEY_ID.into()),
        nodes: vec![EdgeNodeConfig {
            name: "dev".into(),
            listen: SocketAddr::from(([127, 0, 0, 1], base_port.checked_add(2).unwrap_or(0))),
            url: None,
        }],
        distributions: vec![Distribution {
            name: "photos".into(),
            hosts: vec![],
            tls: Some(TlsFiles {
                cert: dir.join("edge-cert.pem"),
                key: dir.join("edge-key.pem"),
            }),
            default_root_object: Some("index.html".into()),
            behaviors: vec![
                behavior("/", &["POST"], false, None),
                behavior("/_tandem/apps/photos/state", &["GET", "HEAD"], false, None),
                // The console's sign-in and data, from the app's write region.
                behavior("/_tandem/console/*", &["GET", "HEAD", "POST", "DELETE"], false, None),
                behavior(&format!("/{}", DATA_BUCKETS.0), &METHODS, false, None),
                behavior(&format!("/{}/*", DATA_BUCKETS.0), &METHODS, false, None),
                behavior("*", &["GET", "HEAD"], true, Some(SITE_BUCKETS.0)),
            ],
        }],
        ..EdgeSection::default()
    }
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// The `[edge]` text of the written tandem.toml (the dev layout only).
pub fn render(edge: &EdgeSection) -> String {
    let mut out = String::new();
    if edge.nodes.is_empty() {
        return out;
    }
    out.push_str("\n[edge]\n");
    if let Some(key) = &edge.access_key_id {
        out.push_str(&format!("access_key_id = {}\n", quoted(key)));
    }
    for n in &edge.nodes {
        out.push_str(&format!(
            "\n[[edge.nodes]]\nname = {}\nlisten = {}\n",
            quoted(&n.name),
            quoted(&n.listen.to_string())
        ));
    }
    for d in &edge.distributions {
        out.push_str(&format!("\n[[edge.distributions]]\nname = {}\n", quoted(&d.name)));
        if let Some(root) = &d.default_root_object {
            out.push_str(&format!("default_root_object = {}\n", quoted(root)));
        }
        if let Some(t) = &d.tls {
            out.push_str(&format!(
                "tls = {{ cert = {}, key = {} }}\n",
                quoted(&t.cert.display().to_string()),
                quoted(&t.key.display().to_string())
            ));
        }
        for b in &d.behaviors {
            let methods: Vec<String> = b.methods.iter().map(|m| quoted(m)).collect();
            let origin = match &b.origin {
                OriginSpec::App { app, bucket: None, .. } => format!("{{ kind = \"app\", app = {} }}", quoted(app)),
                OriginSpec::App {
                    app, bucket: Some(bucket), ..
                } => {
                    format!("{{ kind = \"app\", app = {}, bucket = {} }}", quoted(app), quoted(bucket))
                }
                _ => continue,
            };
            out.push_str(&format!(
                "\n[[edge.distributions.behaviors]]\npath = {}\nmethods = [{}]\nsign = {}\norigin = {origin}\n",
                quoted(&b.path),
                methods.join(", "),
                b.sign
            ));
        }
    }
    out
}
