//! What `tandem.toml` says about identity: the token-signing key every region
//! shares, the user pools with their app clients, groups and password policy,
//! and the identity pools that turn a pool's ID token into temporary
//! credentials of a role.

use serde::{Deserialize, Serialize};

/// `[identity]`.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// The RSA private key that signs tokens (PKCS#8 DER, base64). Every
    /// region must have the same one, so tokens work in all of them.
    #[serde(default)]
    pub signing_key: String,
    #[serde(default)]
    pub user_pools: Vec<UserPoolConfig>,
    #[serde(default)]
    pub identity_pools: Vec<IdentityPoolConfig>,
}

impl std::fmt::Debug for IdentityConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityConfig")
            .field("user_pools", &self.user_pools)
            .field("identity_pools", &self.identity_pools)
            .finish_non_exhaustive()
    }
}

/// `[[identity.user_pools]]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPoolConfig {
    /// Cognito-style id, `REGION_NAME` (e.g. `us-east-1_photos`).
    pub id: String,
    /// The pool's name (DescribeUserPool).
    #[serde(default)]
    pub name: String,
    /// The app whose users these are (informational, and the CLI's `--app`).
    #[serde(default)]
    pub app: Option<String>,
    #[serde(default)]
    pub clients: Vec<ClientConfig>,
    /// Groups users may be added to.
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub password_policy: PasswordPolicy,
    /// Days a temporary password stays valid (Cognito's default: 7).
    #[serde(default = "default_temporary_days")]
    pub temporary_password_days: u32,
    /// Minutes an ID or access token is valid (5..=1440; default 60).
    #[serde(default = "default_token_minutes")]
    pub token_minutes: u32,
    /// Days a refresh token is valid (1..=3650; default 30).
    #[serde(default = "default_refresh_days")]
    pub refresh_days: u32,
}

/// `[[identity.user_pools.clients]]`: an app client (no client secret: a
/// browser app cannot keep one, as in the seed).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub id: String,
    #[serde(default)]
    pub name: String,
}

/// A pool's password rules (Cognito's defaults: 8 characters, all four classes).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub require_numbers: bool,
    pub require_symbols: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 8,
            require_uppercase: true,
            require_lowercase: true,
            require_numbers: true,
            require_symbols: true,
        }
    }
}

/// `[[identity.identity_pools]]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityPoolConfig {
    /// Cognito-style id, `REGION:UUID`.
    pub id: String,
    /// The user pool whose ID tokens it accepts.
    pub user_pool: String,
    /// The role (of `[[roles]]`) whose policy authenticated users get.
    pub role: String,
}

fn default_temporary_days() -> u32 {
    7
}
fn default_token_minutes() -> u32 {
    60
}
fn default_refresh_days() -> u32 {
    30
}

/// Whether a string is a usable id: 1..=128 bytes of `[A-Za-z0-9_:.-]`.
fn plain_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_:.-".contains(&b))
}

impl IdentityConfig {
    /// Checks the pools; the message says what to fix.
    pub fn validate(&self, roles: &[String]) -> Result<(), String> {
        if self.user_pools.is_empty() && self.identity_pools.is_empty() {
            return Ok(());
        }
        if self.signing_key.is_empty() {
            return Err("[identity] needs a signing_key (an RSA private key, PKCS#8 DER in base64; `tandem dev` makes one)".into());
        }
        crate::keys::SigningKey::from_base64(&self.signing_key)?;
        for (i, pool) in self.user_pools.iter().enumerate() {
            pool.validate()?;
            if self.user_pools[..i].iter().any(|p| p.id == pool.id) {
                return Err(format!("user pool {} is declared twice", pool.id));
            }
        }
        for (i, pool) in self.identity_pools.iter().enumerate() {
            let shape = format!("identity pool id {:?} must look like REGION:ID (at most 55 characters)", pool.id);
            let Some((region, id)) = pool.id.split_once(':') else {
                return Err(shape);
            };
            // An identity id is REGION:UUID and requests carry at most 55 characters.
            if !plain_id(&pool.id) || id.is_empty() || pool.id.len() > 55 || region.len() > 55 - 37 {
                return Err(shape);
            }
            if self.identity_pools[..i].iter().any(|p| p.id == pool.id) {
                return Err(format!("identity pool {} is declared twice", pool.id));
            }
            if !self.user_pools.iter().any(|p| p.id == pool.user_pool) {
                return Err(format!("identity pool {} names an unknown user pool {}", pool.id, pool.user_pool));
            }
            if !roles.contains(&pool.role) {
                return Err(format!(
                    "identity pool {} names an unknown role {} (declare it in [[roles]])",
                    pool.id, pool.role
                ));
            }
        }
        Ok(())
    }
}

impl UserPoolConfig {
    /// The part of the id after the `_`: what SRP hashes as the pool name.
    pub fn srp_name(&self) -> &str {
        self.id.split_once('_').map_or(self.id.as_str(), |(_, name)| name)
    }

    fn validate(&self) -> Result<(), String> {
        if !plain_id(&self.id) || !self.id.contains('_') || self.id.contains('/') {
            return Err(format!(
                "user pool id {:?} must look like REGION_NAME (letters, digits, _ - . :)",
                self.id
            ));
        }
        if self.clients.is_empty() {
            return Err(format!("user pool {} needs at least one [[identity.user_pools.clients]]", self.id));
        }
        for c in &self.clients {
            if !plain_id(&c.id) {
                return Err(format!(
                    "app client id {:?} of pool {} must be 1-128 letters, digits, _ - . :",
                    c.id, self.id
                ));
            }
        }
        let p = &self.password_policy;
        if !(6..=99).contains(&p.min_length) {
            return Err(format!("user pool {}: password_policy.min_length must be 6..=99", self.id));
        }
        if !(1..=365).contains(&self.temporary_password_days) {
            return Err(format!("user pool {}: temporary_password_days must be 1..=365", self.id));
        }
        if !(5..=1440).contains(&self.token_minutes) {
            return Err(format!("user pool {}: token_minutes must be 5..=1440", self.id));
        }
        if !(1..=3650).contains(&self.refresh_days) {
            return Err(format!("user pool {}: refresh_days must be 1..=3650", self.id));
        }
        Ok(())
    }
}
