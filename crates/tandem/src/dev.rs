//! `tandem dev`: two region nodes in one supervised process, with the endpoints
//! and credentials printed so the aws CLI works right away. Ctrl-C or SIGTERM
//! stops both cleanly.

use std::path::Path;

use crate::config::{Config, DEV_ACCESS_KEY_ID, DEV_SECRET_ACCESS_KEY};

pub async fn run(data_root: &Path, port: u16) -> Result<(), String> {
    let mut config = Config::dev(data_root, port);
    config.identity = crate::dev_identity::section(data_root)?;
    let mut running = Vec::new();
    for region in &config.regions {
        let node = config.node(region);
        match tandem_node::start(&node).await {
            Ok(r) => running.push((region.url(), r)),
            Err(e) => {
                for (_, r) in running {
                    r.shutdown().await;
                }
                return Err(format!(
                    "{e} (is another tandem dev running? stop it, or pass --port and --data-dir)"
                ));
            }
        }
    }
    // Written once both regions run, so a start that fails leaves the file alone.
    let written = match crate::dev_config::write(&config, data_root) {
        Ok(path) => path,
        Err(e) => {
            for (_, r) in running {
                r.shutdown().await;
            }
            return Err(e);
        }
    };
    println!("tandem dev: setting up the demo app `photos` ({} describes it):", written.display());
    if let Err(e) = crate::app_cmd::apply(&config, false, &[], "demo setup plan").await {
        eprintln!("tandem dev: the demo app could not be set up: {e}");
    }
    let dns = crate::dns_cmd::start_dev(&config, port, &written).await;
    let edge = start_edge(&config, data_root).await;
    println!("tandem dev: {} regions running (data in {})", running.len(), data_root.display());
    let flag = match written == Path::new(crate::deployment::DEFAULT_CONFIG) {
        true => String::new(),
        false => format!(" --config {}", written.display()),
    };
    println!("the operator commands read {}: try `tandem status{flag}`", written.display());
    println!("  {:<10} {:<24} signing region (AWS_DEFAULT_REGION)", "region", "endpoint");
    for (region, (url, _)) in config.regions.iter().zip(&running) {
        println!("  {:<10} {url:<24} {}", region.name, region.signing_region());
    }
    if let Some(e) = &edge {
        println!("  {:<10} {} (self-signed: curl -k, aws --no-verify-ssl)", "edge", e.url);
    }
    println!();
    println!("export AWS_ACCESS_KEY_ID={DEV_ACCESS_KEY_ID}");
    println!("export AWS_SECRET_ACCESS_KEY={DEV_SECRET_ACCESS_KEY}");
    if let (Some(first), Some((url, _))) = (config.regions.first(), running.first()) {
        println!("export AWS_DEFAULT_REGION={}", first.signing_region());
        println!("aws --endpoint-url {url} s3 mb s3://my-bucket");
    }
    if let (Some(second), Some((url, _))) = (config.regions.get(1), running.get(1)) {
        println!("aws --endpoint-url {url} --region {} s3 ls", second.signing_region());
    }
    println!();
    println!(
        "users of the photos app (user pool {}, app client {}, identity pool {}):",
        crate::dev_identity::DEV_USER_POOL,
        crate::dev_identity::DEV_CLIENT,
        crate::dev_identity::DEV_IDENTITY_POOL
    );
    println!("tandem user create{flag} --email you@example.test   # prints a temporary password");
    wait_for_signal().await;
    println!("tandem dev: stopping");
    if let Some(dns) = dns {
        dns.shutdown().await;
    }
    if let Some(e) = edge {
        e.shutdown().await;
    }
    for (_, r) in running {
        r.shutdown().await;
    }
    Ok(())
}

/// The dev edge, with a fresh self-signed certificate; `None` (and why, on
/// stderr) when it cannot start: the regions still run.
async fn start_edge(config: &Config, data_root: &Path) -> Option<tandem_edge::RunningEdge> {
    let started = async {
        tandem_edge::tls::self_signed(&crate::dev_edge::CERT_NAMES, &data_root.join("edge"))?;
        tandem_edge::start(crate::edge_cmd::settings(config, None)?).await
    };
    match started.await {
        Ok(e) => Some(e),
        Err(e) => {
            eprintln!("tandem dev: the edge could not start: {e}");
            None
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
