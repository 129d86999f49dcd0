//! The `tandem.toml` that `tandem dev` writes, describing the regions it
//! runs, so the operator commands (`tandem status`, `failover`, ...) find the
//! deployment without flags. The first line marks the file as written by
//! `tandem dev`; it is only ever overwritten when it carries that mark.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::config::Config;

/// First line of a file `tandem dev` wrote.
pub const MARK: &str = "# Written by `tandem dev`: the regions it runs. Overwritten at each start; delete this line to keep edits.";

/// A JSON value as an inline TOML value (`null` has none).
pub(crate) fn inline(v: &Value) -> Option<String> {
    Some(match v {
        Value::Null => return None,
        Value::String(s) => serde_json::to_string(s).ok()?,
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => format!("[{}]", items.iter().filter_map(inline).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => format!(
            "{{ {} }}",
            map.iter()
                .filter_map(|(k, v)| Some(format!("{k} = {}", inline(v)?)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}

/// One `[[section]]` holding the fields of `value` (an object).
pub(crate) fn section(name: &str, value: &Value) -> String {
    let mut out = format!("\n[[{name}]]\n");
    for (k, v) in value.as_object().into_iter().flatten() {
        if let Some(text) = inline(v) {
            out.push_str(&format!("{k} = {text}\n"));
        }
    }
    out
}

/// The text of the dev layout's tandem.toml.
pub fn render(config: &Config) -> String {
    let mut out = format!("{MARK}\n");
    for r in &config.regions {
        let region = serde_json::json!({
            "name": r.name,
            "listen": r.listen.to_string(),
            "data_dir": r.data_dir.display().to_string(),
            "signing_region": r.signing_region,
        });
        out.push_str(&section("regions", &region));
    }
    for k in &config.access_keys {
        let key = serde_json::json!({
            "access_key_id": k.access_key_id,
            "secret_access_key": k.secret_access_key,
            "principal": k.principal,
            "admin": k.admin,
            "policy": k.policy.as_ref().map(|p| p.doc.clone()),
        });
        out.push_str(&section("access_keys", &key));
    }
    if let Some(r) = &config.replication {
        out.push_str(&format!(
            "\n[replication]\naccess_key_id = {}\nsecret_access_key = {}\n",
            inline(&Value::from(r.access_key_id.clone())).unwrap_or_default(),
            inline(&Value::from(r.secret_access_key.clone())).unwrap_or_default()
        ));
    }
    if let Some(sts) = &config.sts {
        let key = inline(&Value::from(sts.signing_key.clone())).unwrap_or_default();
        out.push_str(&format!("\n[sts]\nsigning_key = {key}\n"));
    }
    for role in &config.roles {
        let fields = serde_json::json!({
            "name": role.name,
            "trust": role.trust,
            "policy": role.policy.doc,
            "max_session_secs": role.max_session_secs,
        });
        out.push_str(&section("roles", &fields));
    }
    for app in &config.apps {
        out.push_str(&section("apps", &serde_json::to_value(app).unwrap_or_default()));
    }
    for site in &config.sites {
        let fields = serde_json::json!({ "app": site.app, "bucket": site.bucket, "dir": site.dir.display().to_string() });
        out.push_str(&section("sites", &fields));
    }
    out.push_str(&crate::dev_edge::render(&config.edge));
    out.push_str(&crate::dev_identity::render(&config.identity));
    out
}

/// Writes the dev layout to `./tandem.toml`, unless a file there was not
/// written by `tandem dev`: then to `<data_root>/tandem.toml`. Returns where.
pub fn write(config: &Config, data_root: &Path) -> Result<PathBuf, String> {
    let here = PathBuf::from(crate::deployment::DEFAULT_CONFIG);
    let ours = |p: &Path| std::fs::read_to_string(p).map(|t| t.starts_with(MARK)).unwrap_or(true);
    let path = match ours(&here) {
        true => here,
        false => data_root.join(crate::deployment::DEFAULT_CONFIG),
    };
    std::fs::create_dir_all(data_root).map_err(|e| format!("cannot create {}: {e}", data_root.display()))?;
    std::fs::write(&path, render(config)).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_written_file_loads_back_as_the_same_layout() {
        let dir = tempfile::tempdir().unwrap();
        let dev = Config::dev(&dir.path().join("data"), 9100);
        let path = dir.path().join("tandem.toml");
        std::fs::write(&path, render(&dev)).unwrap();
        let back = Config::load(&path).unwrap();
        assert_eq!(back.regions.len(), 2);
        assert_eq!(back.regions[1].listen, dev.regions[1].listen);
        assert_eq!(back.regions[0].data_dir, dev.regions[0].data_dir);
        assert_eq!(back.apps, dev.apps);
        let admins = |c: &Config| c.access_keys.iter().map(|k| (k.access_key_id.clone(), k.admin)).collect::<Vec<_>>();
        assert_eq!(admins(&back), admins(&dev));
        assert_eq!(back.edge.nodes, dev.edge.nodes);
        assert_eq!(back.edge.distributions, dev.edge.distributions);
    }
}
