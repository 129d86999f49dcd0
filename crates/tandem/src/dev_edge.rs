//! The edge of `tandem dev`: one node on the port after the two regions,
//! HTTPS with a self-signed certificate (made at each start, in
//! `<data>/edge/`), one distribution that routes every method to the demo
//! app `photos` by its state. Also its text in the written tandem.toml.

use std::net::SocketAddr;
use std::path::Path;

use tandem_edge::config::{Behavior, Distribution, EdgeNodeConfig, EdgeSection, OriginSpec, TlsFiles};

/// Host names the dev certificate is made for.
pub const CERT_NAMES: [&str; 2] = ["localhost", "127.0.0.1"];

/// The dev edge section.
pub fn section(data_root: &Path, base_port: u16) -> EdgeSection {
    let dir = data_root.join("edge");
    EdgeSection {
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
            default_root_object: None,
            behaviors: vec![Behavior {
                path: "*".into(),
                methods: ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
                    .map(String::from)
                    .to_vec(),
                sign: true,
                cache: None,
                origin: OriginSpec::App {
                    app: "photos".into(),
                    connect_timeout_ms: 1_000,
                    response_timeout_ms: 30_000,
                },
            }],
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
    for n in &edge.nodes {
        out.push_str(&format!(
            "\n[[edge.nodes]]\nname = {}\nlisten = {}\n",
            quoted(&n.name),
            quoted(&n.listen.to_string())
        ));
    }
    for d in &edge.distributions {
        out.push_str(&format!("\n[[edge.distributions]]\nname = {}\n", quoted(&d.name)));
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
                OriginSpec::App { app, .. } => format!("{{ kind = \"app\", app = {} }}", quoted(app)),
                _ => continue,
            };
            out.push_str(&format!(
                "\n[[edge.distributions.behaviors]]\npath = {}\nmethods = [{}]\norigin = {origin}\n",
                quoted(&b.path),
                methods.join(", ")
            ));
        }
    }
    out
}
