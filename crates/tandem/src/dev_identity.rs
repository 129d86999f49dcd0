//! The identity part of `tandem dev`: a user pool for the demo app `photos`
//! with one web app client, an identity pool whose role gives each signed-in
//! user a private prefix in the app's buckets and the app's table, and the
//! token-signing key, generated at the first start and kept in the data
//! directory (owner-only) so tokens stay valid across restarts.

use std::path::Path;

use tandem_identity::config::{ClientConfig, IdentityConfig, IdentityPoolConfig, PasswordPolicy, UserPoolConfig};

use crate::config::{IdentityPolicy, RoleConfig};

/// The demo app's user pool and app client.
pub const DEV_USER_POOL: &str = "us-east-1_photos";
pub const DEV_CLIENT: &str = "photosweb";
/// The demo app's identity pool, and the role its users get.
pub const DEV_IDENTITY_POOL: &str = "us-east-1:photos";
pub const DEV_USER_ROLE: &str = "photos-user";

/// What a signed-in user of the demo app may do: read everyone's photos
/// and thumbnails and list them, write only their own (`photos/IDENTITY/`,
/// `thumbs/IDENTITY/`), keep private files under `private/IDENTITY/`, and
/// read and add comments.
const USER_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:DeleteObject"],
 "Resource":["arn:aws:s3:::photos-us-east/private/${cognito-identity.amazonaws.com:sub}/*",
             "arn:aws:s3:::photos-ap-tokyo/private/${cognito-identity.amazonaws.com:sub}/*",
             "arn:aws:s3:::photos-us-east/photos/${cognito-identity.amazonaws.com:sub}/*",
             "arn:aws:s3:::photos-ap-tokyo/photos/${cognito-identity.amazonaws.com:sub}/*",
             "arn:aws:s3:::photos-us-east/thumbs/${cognito-identity.amazonaws.com:sub}/*",
             "arn:aws:s3:::photos-ap-tokyo/thumbs/${cognito-identity.amazonaws.com:sub}/*"]},
{"Effect":"Allow","Action":"s3:GetObject",
 "Resource":["arn:aws:s3:::photos-us-east/photos/*","arn:aws:s3:::photos-ap-tokyo/photos/*",
             "arn:aws:s3:::photos-us-east/thumbs/*","arn:aws:s3:::photos-ap-tokyo/thumbs/*"]},
{"Effect":"Allow","Action":"s3:ListBucket","Resource":["arn:aws:s3:::photos-us-east","arn:aws:s3:::photos-ap-tokyo"],
 "Condition":{"StringLike":{"s3:prefix":["private/${cognito-identity.amazonaws.com:sub}/*","thumbs/*"]}}},
{"Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:PutItem","dynamodb:Query"],
 "Resource":"arn:aws:dynamodb:*:*:table/comments"}]}"#;

/// The role of the demo app's signed-in users (assumed only through the identity pool).
pub fn role() -> RoleConfig {
    RoleConfig {
        name: DEV_USER_ROLE.into(),
        policy: IdentityPolicy::parse(USER_POLICY).unwrap_or_else(|e| unreachable!("the built-in policy parses: {e}")),
        trust: Vec::new(),
        max_session_secs: 3600,
    }
}

/// The key file under the dev data directory.
const KEY_FILE: &str = "identity-signing-key";

/// The `[identity]` of the dev layout, creating its key on first use.
pub fn section(data_root: &Path) -> Result<IdentityConfig, String> {
    Ok(IdentityConfig {
        signing_key: signing_key(data_root)?,
        user_pools: vec![UserPoolConfig {
            id: DEV_USER_POOL.into(),
            name: "photos".into(),
            app: Some("photos".into()),
            clients: vec![ClientConfig {
                id: DEV_CLIENT.into(),
                name: "web".into(),
            }],
            groups: vec!["admins".into()],
            password_policy: PasswordPolicy::default(),
            temporary_password_days: 7,
            token_minutes: 60,
            refresh_days: 30,
        }],
        identity_pools: vec![IdentityPoolConfig {
            id: DEV_IDENTITY_POOL.into(),
            user_pool: DEV_USER_POOL.into(),
            role: DEV_USER_ROLE.into(),
        }],
    })
}

fn signing_key(data_root: &Path) -> Result<String, String> {
    let path = data_root.join(KEY_FILE);
    if let Ok(key) = std::fs::read_to_string(&path) {
        return Ok(key.trim().to_string());
    }
    let key = tandem_identity::keys::generate_base64()?;
    std::fs::create_dir_all(data_root).map_err(|e| format!("cannot create {}: {e}", data_root.display()))?;
    write_private(&path, &key).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(key)
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// The `[identity]` text of the dev tandem.toml.
pub fn render(identity: &IdentityConfig) -> String {
    use crate::dev_config::{inline, section};
    use serde_json::json;
    if identity.user_pools.is_empty() {
        return String::new();
    }
    let key = inline(&json!(identity.signing_key)).unwrap_or_default();
    let mut out = format!("\n[identity]\nsigning_key = {key}\n");
    for pool in &identity.user_pools {
        let fields = json!({ "id": pool.id, "name": pool.name, "app": pool.app, "groups": pool.groups });
        out.push_str(&section("identity.user_pools", &fields));
        for client in &pool.clients {
            out.push_str(&section(
                "identity.user_pools.clients",
                &json!({ "id": client.id, "name": client.name }),
            ));
        }
    }
    for pool in &identity.identity_pools {
        let fields = json!({ "id": pool.id, "user_pool": pool.user_pool, "role": pool.role });
        out.push_str(&section("identity.identity_pools", &fields));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_and_the_section_reads_back_as_toml() {
        let dir = tempfile::tempdir().unwrap();
        let first = section(dir.path()).unwrap();
        let again = section(dir.path()).unwrap();
        assert_eq!(first.signing_key, again.signing_key, "the key is kept across starts");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "only the owner may read the key");
        #[derive(serde::Deserialize)]
        struct Doc {
            identity: IdentityConfig,
        }
        let doc: Doc = toml::from_str(&render(&first)).unwrap();
        assert_eq!(doc.identity.user_pools[0].id, DEV_USER_POOL);
        assert_eq!(doc.identity.signing_key, first.signing_key);
        assert_eq!(doc.identity.identity_pools[0].role, DEV_USER_ROLE);
        doc.identity.validate(&[DEV_USER_ROLE.to_string()]).unwrap();
    }
}
