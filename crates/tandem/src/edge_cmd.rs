//! `tandem edge`: run one edge node of the config's `[edge]` section
//! (`--name` picks it), and `tandem edge invalidate PATH...`, which sends
//! the invalidation to every edge node of the config and reports each.

use std::path::{Path, PathBuf};

use tandem_edge::sign::EdgeKey;
use tandem_edge::{AppInfo, EdgeSettings, KeyInfo, RegionInfo};

use crate::config::Config;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EdgeArgs {
    #[command(subcommand)]
    command: Option<EdgeCommand>,
    /// Path of tandem.toml.
    #[arg(long, default_value = "tandem.toml")]
    config: PathBuf,
    /// Which `[[edge.nodes]]` entry this is (needed when there are several).
    #[arg(long)]
    name: Option<String>,
}

#[derive(clap::Subcommand)]
enum EdgeCommand {
    /// Remove paths (`*` wildcards) from the cache of every edge node.
    Invalidate {
        #[arg(long, default_value = "tandem.toml")]
        config: PathBuf,
        /// Only this distribution host name.
        #[arg(long)]
        host: Option<String>,
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<String>,
    },
}

/// The settings of one edge node from the config.
pub fn settings(config: &Config, name: Option<&str>) -> Result<EdgeSettings, String> {
    let node = config.edge.node(name)?;
    Ok(EdgeSettings {
        node: node.name.clone(),
        listen: node.listen,
        section: config.edge.clone(),
        regions: config
            .regions
            .iter()
            .map(|r| RegionInfo {
                name: r.name.clone(),
                url: r.url(),
                signing_region: r.signing_region(),
            })
            .collect(),
        apps: config
            .apps
            .iter()
            .map(|a| AppInfo {
                id: a.id.clone(),
                primary: a.primary.clone(),
                secondary: a.secondary.clone(),
                buckets: a.buckets.iter().map(|b| (b.primary.clone(), b.secondary.clone())).collect(),
            })
            .collect(),
        keys: config
            .access_keys
            .iter()
            .map(|k| KeyInfo {
                access_key_id: k.access_key_id.clone(),
                secret_access_key: k.secret_access_key.clone(),
                admin: k.admin,
            })
            .collect(),
        sessions: config.sts.as_ref().map(|s| tandem_sts::SessionKey::new(s.signing_key.as_bytes())),
        limits: config.server.limits(),
    })
}

pub async fn run(args: EdgeArgs) -> Result<(), String> {
    match args.command {
        Some(EdgeCommand::Invalidate { config, host, paths }) => invalidate(&config, host, paths).await,
        None => serve(&args.config, args.name.as_deref()).await,
    }
}

async fn serve(path: &Path, name: Option<&str>) -> Result<(), String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    let running = tandem_edge::start(settings(&config, name)?).await?;
    println!("tandem: edge listening on {}", running.url);
    crate::dev::wait_for_signal().await;
    tracing::info!("edge shutting down");
    running.shutdown().await;
    Ok(())
}

/// The admin key the CLI signs with: `AWS_ACCESS_KEY_ID` when it names an
/// admin key of the file, else the file's first admin key.
fn admin_key(config: &Config) -> Result<EdgeKey, String> {
    let wanted = std::env::var("AWS_ACCESS_KEY_ID").ok();
    let admins: Vec<_> = config.access_keys.iter().filter(|k| k.admin).collect();
    let key = admins
        .iter()
        .find(|k| Some(&k.access_key_id) == wanted.as_ref())
        .or(admins.first())
        .ok_or("the config has no admin key (admin = true) to sign the invalidation with")?;
    Ok(EdgeKey {
        access_key_id: key.access_key_id.clone(),
        secret_access_key: key.secret_access_key.clone(),
    })
}

async fn invalidate(path: &Path, host: Option<String>, paths: Vec<String>) -> Result<(), String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    if config.edge.nodes.is_empty() {
        return Err("the config lists no [[edge.nodes]]".into());
    }
    let key = admin_key(&config)?;
    let certs = config.edge.tls_certs();
    let body = serde_json::json!({ "Paths": paths, "Host": host }).to_string();
    let sends = config.edge.nodes.iter().map(|n| {
        let url = config.edge.url(n);
        let (body, key, certs) = (body.clone(), key.clone(), certs.clone());
        async move {
            let started = std::time::Instant::now();
            let answer = tandem_edge::admin_client::post(&url, tandem_edge::invalidate::PATH, body, &key, &certs).await;
            (n.name.clone(), url, answer, started.elapsed())
        }
    });
    let mut failed = 0;
    for (name, url, answer, took) in futures::future::join_all(sends).await {
        match answer {
            Ok((200, text)) => {
                let removed = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| v["Removed"].as_u64())
                    .unwrap_or(0);
                println!("{name:<12} {url:<28} ok      removed {removed} in {} ms", took.as_millis());
            }
            Ok((status, text)) => {
                failed += 1;
                println!("{name:<12} {url:<28} FAILED  {status}: {}", text.trim());
            }
            Err(e) => {
                failed += 1;
                println!("{name:<12} {url:<28} FAILED  {e}");
            }
        }
    }
    match failed {
        0 => Ok(()),
        n => Err(format!(
            "{n} of {} edge nodes did not take the invalidation",
            config.edge.nodes.len()
        )),
    }
}
