//! Static sites (`[[sites]]` of tandem.toml): the built files of an app's web
//! front end, uploaded by `tandem apply` into one of the app's buckets, which
//! the edge serves (an app origin with `bucket`, so the site follows the
//! app's failover). Beside the files goes `config.json`, which tells the
//! browser app its app id, signing region, user pool, app client, identity
//! pool, data bucket and table: the page reaches all of them through the
//! edge that served it.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::{Config, RegionConfig};
use crate::control_client::{CallError, ControlClient};

/// One `[[sites]]` entry.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// The app the site belongs to.
    pub app: String,
    /// One of the app's buckets, by its name in the primary region.
    pub bucket: String,
    /// The directory of built files (`index.html`, `assets/`...), relative
    /// to the working directory unless absolute.
    pub dir: PathBuf,
}

/// Most files a site may have, and the largest one: a typo in `dir` (a
/// home directory, say) stops here instead of uploading it.
const MAX_FILES: usize = 2_000;
const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;
/// The key of the browser app's settings.
pub const CONFIG_KEY: &str = "config.json";

impl SiteConfig {
    /// The app must exist and own the bucket; one site per app.
    pub fn validate_all(sites: &[SiteConfig], config: &Config) -> Result<(), String> {
        for (i, site) in sites.iter().enumerate() {
            let app = config
                .apps
                .iter()
                .find(|a| a.id == site.app)
                .ok_or_else(|| format!("[[sites]]: app {:?} is not an [[apps]] entry", site.app))?;
            if !app.buckets.iter().any(|b| b.primary == site.bucket) {
                return Err(format!(
                    "[[sites]]: bucket {:?} is not a bucket of app {:?} (name it as in the primary region)",
                    site.bucket, site.app
                ));
            }
            if sites[..i].iter().any(|s| s.app == site.app) {
                return Err(format!("[[sites]]: app {:?} has two sites", site.app));
            }
        }
        Ok(())
    }
}

/// The files under `dir` as (key, path), `/`-separated keys, sorted.
/// Only regular files: symbolic links, hidden files and a `config.json` at
/// the top (publish() writes its own) are skipped.
pub fn files(dir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| format!("cannot read {}: {e}", d.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot read {}: {e}", d.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            if name.starts_with('.') || (d == dir && name == CONFIG_KEY) {
                continue; // hidden, or the settings publish() writes itself
            }
            if kind.is_dir() {
                pending.push(path);
                continue;
            }
            if !kind.is_file() {
                continue; // symbolic links, sockets, FIFOs
            }
            let size = entry.metadata().map_err(|e| format!("cannot read {}: {e}", path.display()))?.len();
            if size > MAX_FILE_BYTES {
                return Err(format!("{} is larger than {MAX_FILE_BYTES} bytes", path.display()));
            }
            let key = path
                .strip_prefix(dir)
                .map_err(|e| e.to_string())?
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push((key, path));
            if out.len() > MAX_FILES {
                return Err(format!(
                    "{} has more than {MAX_FILES} files: is it the right directory?",
                    dir.display()
                ));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The Content-Type of a site file, by its extension.
pub fn content_type(key: &str) -> &'static str {
    let ext = key.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

/// The browser app's `config.json`: the app, the signing region of its
/// primary, its user pool (the first client) and identity pool, its first
/// other bucket and its first table.
pub fn browser_config(config: &Config, site: &SiteConfig) -> Result<Value, String> {
    let app = config.apps.iter().find(|a| a.id == site.app).ok_or("no such app")?;
    let region = config
        .regions
        .iter()
        .find(|r| r.name == app.primary)
        .map(RegionConfig::signing_region)
        .ok_or_else(|| format!("app {}: its primary {} is not a [[regions]] entry", app.id, app.primary))?;
    let pool = config
        .identity
        .user_pools
        .iter()
        .find(|p| p.app.as_deref() == Some(app.id.as_str()));
    let identity_pool = pool.and_then(|p| config.identity.identity_pools.iter().find(|i| i.user_pool == p.id));
    let bucket = app.buckets.iter().find(|b| b.primary != site.bucket).map(|b| b.primary.clone());
    Ok(json!({
        "appId": app.id,
        "region": region,
        "userPoolId": pool.map(|p| p.id.clone()),
        "userPoolClientId": pool.and_then(|p| p.clients.first()).map(|c| c.id.clone()),
        "identityPoolId": identity_pool.map(|i| i.id.clone()),
        "bucket": bucket,
        "table": app.tables.first().map(|t| t.name.clone()),
    }))
}

/// The region taking the app's writes now: the newest state record among
/// the regions that answer (a lagging region may still name the old one);
/// an error while the app is fenced.
async fn write_region<'a>(client: &ControlClient, config: &'a Config, app: &str) -> Result<&'a RegionConfig, String> {
    let path = format!("/_tandem/apps/{app}/state");
    let mut newest: Option<Value> = None;
    let mut last_error = String::from("no region answered");
    for region in &config.regions {
        match client.call(region, http::Method::GET, &path).await {
            Ok(view) if newest.as_ref().is_none_or(|n| view["Version"].as_u64() > n["Version"].as_u64()) => newest = Some(view),
            Ok(_) => {}
            Err(e) => last_error = e.to_string(),
        }
    }
    let view = newest.ok_or(last_error)?;
    let write = view["WriteRegion"]
        .as_str()
        .ok_or(format!("app {app} is fenced: no region takes its site"))?;
    config
        .regions
        .iter()
        .find(|r| r.name == write)
        .ok_or(format!("app {app} writes in {write}, which the config does not name"))
}

/// Uploads every file of the site, then its `config.json`, into the site
/// bucket in the app's write region (replication carries them to the
/// other). Returns how many objects were written.
pub async fn publish(client: &ControlClient, config: &Config, site: &SiteConfig) -> Result<usize, String> {
    let listed = files(&site.dir).map_err(|e| format!("site of {}: {e}", site.app))?;
    if !listed.iter().any(|(k, _)| k == "index.html") {
        return Err(format!(
            "{} has no index.html: build the app first (for the demo app: npm --prefix apps/photos ci && npm --prefix apps/photos run build)",
            site.dir.display()
        ));
    }
    let region = write_region(client, config, &site.app).await?;
    let app = config.apps.iter().find(|a| a.id == site.app).ok_or("no such app")?;
    let pair = app.buckets.iter().find(|b| b.primary == site.bucket).ok_or("no such bucket")?;
    let bucket = match region.name == app.primary {
        true => pair.primary.clone(),
        false => pair.secondary.clone(),
    };
    let put = |key: String, body: Bytes, kind: &'static str| {
        let bucket = bucket.clone();
        async move {
            client
                .put_object(region, &bucket, &key, body, kind)
                .await
                .map_err(|e: CallError| format!("{key}: {e}"))
        }
    };
    for (key, path) in &listed {
        let body = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        put(key.clone(), Bytes::from(body), content_type(key)).await?;
    }
    let settings = serde_json::to_vec_pretty(&browser_config(config, site)?).map_err(|e| e.to_string())?;
    put(CONFIG_KEY.to_string(), Bytes::from(settings), content_type(CONFIG_KEY)).await?;
    Ok(listed.len() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_listed_with_slash_keys_skipping_hidden_ones_and_typed_by_extension() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("assets")).unwrap();
        std::fs::write(dir.path().join("index.html"), "<html>").unwrap();
        std::fs::write(dir.path().join("assets/app-1.js"), "x").unwrap();
        std::fs::write(dir.path().join(".DS_Store"), "x").unwrap();
        std::fs::write(dir.path().join("config.json"), "{}").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("link")).unwrap();
        let keys: Vec<String> = files(dir.path()).unwrap().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["assets/app-1.js", "index.html"]);
        assert_eq!(content_type("assets/app-1.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("index.HTML"), "text/html; charset=utf-8");
        assert_eq!(content_type("LICENSE"), "application/octet-stream");
        assert!(files(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn a_site_must_name_a_bucket_of_its_app_once_and_its_config_names_the_apps_pool_and_data() {
        let mut config = Config::dev(Path::new("/tmp/unused"), 9000);
        config.identity = crate::dev_identity::section(tempfile::tempdir().unwrap().path()).unwrap();
        let site = |app: &str, bucket: &str| SiteConfig {
            app: app.into(),
            bucket: bucket.into(),
            dir: PathBuf::from("dist"),
        };
        let good = site("photos", "photos-site-us-east");
        assert!(SiteConfig::validate_all(std::slice::from_ref(&good), &config).is_ok());
        let err = SiteConfig::validate_all(&[site("photos", "photos-site-ap-tokyo")], &config).unwrap_err();
        assert!(err.contains("as in the primary region"), "{err}");
        assert!(SiteConfig::validate_all(&[site("nope", "photos-site-us-east")], &config).is_err());
        assert!(SiteConfig::validate_all(&[good.clone(), good.clone()], &config).is_err());
        let settings = browser_config(&config, &good).unwrap();
        assert_eq!(settings["userPoolId"], "us-east-1_photos");
        assert_eq!(settings["identityPoolId"], "us-east-1:photos");
        assert_eq!(settings["bucket"], "photos-us-east", "the data bucket, not the site's");
        assert_eq!(settings["region"], "us-east-1");
        assert_eq!(settings["table"], "comments");
    }
}
