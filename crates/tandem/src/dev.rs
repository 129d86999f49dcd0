//! `tandem dev`: two region nodes in one supervised process, with the endpoints
//! and credentials printed so the aws CLI works right away. Ctrl-C or SIGTERM
//! stops both cleanly.

use std::path::{Path, PathBuf};

use crate::config::{Config, DEV_ACCESS_KEY_ID, DEV_SECRET_ACCESS_KEY};

/// The photos app's sources; its build goes to `dist/` there.
const APP_DIR: &str = "apps/photos";

/// The built photos app: `--site`, else `apps/photos/dist` here, else in
/// the source tree this binary was built from.
fn site_dir(given: Option<PathBuf>) -> Option<PathBuf> {
    if given.is_some() {
        return given;
    }
    let built = Path::new(APP_DIR).join("dist");
    let source_tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(&built);
    [built, source_tree]
        .into_iter()
        .find(|d| d.join("index.html").is_file())
        .and_then(|d| d.canonicalize().ok())
}

pub async fn run(data_root: &Path, port: u16, site: Option<PathBuf>) -> Result<(), String> {
    let mut config = Config::dev(data_root, port);
    config.identity = crate::dev_identity::section(data_root)?;
    let site = site_dir(site);
    if let Some(dir) = &site {
        config.sites.push(crate::site::SiteConfig {
            app: "photos".into(),
            bucket: crate::dev_edge::SITE_BUCKETS.0.into(),
            dir: dir.clone(),
        });
    }
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
    print_app(&config, edge.as_ref(), site.is_some()).await;
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

/// The photos app's address and its admin user (a temporary password while
/// it was never used), or how to build the app.
async fn print_app(config: &Config, edge: Option<&tandem_edge::RunningEdge>, built: bool) {
    println!();
    match (edge, built) {
        (Some(e), true) => println!("the photos app: {}/ (self-signed certificate: accept it in the browser)", e.url),
        (None, true) => println!("the photos app is published, but the edge that serves it did not start (see above)"),
        (_, false) => println!(
            "the photos web app is not built: npm --prefix {APP_DIR} ci && npm --prefix {APP_DIR} run build, then start tandem dev again"
        ),
    }
    println!("its admin user, admin:");
    if let Err(e) = crate::user_cmd::dev_admin(config, "photos", "admin", "admin@photos.test").await {
        eprintln!("tandem dev: the admin user could not be set up: {e}");
    }
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
