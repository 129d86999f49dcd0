//! Which deployment an operator command talks to: `--config PATH` (default
//! `./tandem.toml`), or `--endpoint URL` of one region, from which the other
//! regions (`GET /_tandem/regions`) and the apps (`GET /_tandem/apps`) are
//! discovered. There is no silent default: without a file and an endpoint
//! the command says what to pass (`tandem dev` writes `./tandem.toml`).

use std::path::{Path, PathBuf};

use http::Method;
use tandem_control::AppSpec;

use crate::config::Config;
use crate::control_client::ControlClient;

/// The file operator commands read when given no `--config`.
pub const DEFAULT_CONFIG: &str = "tandem.toml";

/// `--config` and `--endpoint`, on every operator command.
#[derive(clap::Args)]
pub struct ConfigArg {
    /// Path of tandem.toml [default: ./tandem.toml].
    #[arg(long, env = "TANDEM_CONFIG")]
    pub config: Option<PathBuf>,
    /// URL of one region; the other regions and the apps are discovered from
    /// it (sign with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY). With --config,
    /// the file's apps and keys are used and its regions replaced.
    #[arg(long, env = "TANDEM_ENDPOINT")]
    pub endpoint: Option<String>,
}

impl ConfigArg {
    pub async fn load(&self) -> Result<Config, String> {
        let file = match (&self.config, &self.endpoint) {
            (Some(path), _) => Some(load_file(path)?),
            (None, None) => Some(
                load_file(Path::new(DEFAULT_CONFIG)).map_err(|e| match Path::new(DEFAULT_CONFIG).exists() {
                    true => e,
                    false => format!(
                        "no ./{DEFAULT_CONFIG} here: pass --config PATH, or --endpoint URL of one region \
                         (with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY set); `tandem dev` writes ./{DEFAULT_CONFIG} when it starts"
                    ),
                })?,
            ),
            (None, Some(_)) => None,
        };
        match &self.endpoint {
            Some(url) => discover(url, file).await,
            None => file.ok_or_else(|| "no deployment named".to_string()),
        }
    }
}

fn load_file(path: &Path) -> Result<Config, String> {
    Config::load(path).map_err(|e| e.to_string())
}

/// The deployment `url` belongs to: its regions, and the file's apps and
/// keys, or else the apps the region enforces.
async fn discover(url: &str, file: Option<Config>) -> Result<Config, String> {
    let url = url.trim_end_matches('/').to_string();
    let bootstrap = Config::remote(vec![("endpoint".into(), url.clone())], vec![], file.as_ref());
    let client = ControlClient::new(&bootstrap)?;
    let seed = &bootstrap.regions[0];
    let found = client
        .call(seed, Method::GET, "/_tandem/regions")
        .await
        .map_err(|e| format!("cannot discover the deployment from {url}: {e}"))?;
    let here = found["region"].as_str().unwrap_or_default().to_string();
    let mut regions: Vec<(String, String)> = found["regions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| Some((r["name"].as_str()?.to_string(), r["url"].as_str()?.to_string())))
        .filter(|(name, _)| *name != here)
        .collect();
    regions.insert(0, (here, url));
    let apps = match &file {
        Some(f) => f.apps.clone(),
        None => remote_apps(&client, seed).await?,
    };
    Ok(Config::remote(regions, apps, file.as_ref()))
}

/// The apps a region enforces, as `GET /_tandem/apps` lists them.
async fn remote_apps(client: &ControlClient, region: &crate::config::RegionConfig) -> Result<Vec<AppSpec>, String> {
    let list = client
        .call(region, Method::GET, "/_tandem/apps")
        .await
        .map_err(|e| format!("cannot list the apps of {}: {e}", region.url()))?;
    list["apps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|entry| {
            let mut spec = entry.clone();
            if let Some(o) = spec.as_object_mut() {
                o.remove("state");
            }
            serde_json::from_value(spec).map_err(|e| format!("{} lists an app this CLI cannot read: {e}", region.url()))
        })
        .collect()
}
