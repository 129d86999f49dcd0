//! The identity service of one node: the pools of `tandem.toml`, the shared
//! key, and the user records in the store. The operations themselves are in
//! [`crate::admin`] (signed, for administrators), [`crate::sign_in`] (public
//! sign-in flows) and [`crate::session`] (a signed-in user's own requests).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use tandem_iam::{Caller, Context, Decision, Request, Verdict};
use tandem_store::Store;

use crate::config::{IdentityConfig, UserPoolConfig};
use crate::error::{CognitoError, CognitoResult};
use crate::keys::SigningKey;
use crate::lockout::Lockout;
use crate::ops::{Access, UserPoolOp};
use crate::record::{Stamp, UserRecord, user_key};

/// Everything the Cognito APIs of a node share. Cheap to clone.
#[derive(Clone)]
pub struct Identity {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub store: Store,
    pub key: Option<SigningKey>,
    pub pools: HashMap<String, UserPoolConfig>,
    pub config: IdentityConfig,
    /// This region's name (stamps of the records it writes).
    pub region: String,
    /// The AWS region name in ARNs.
    pub signing_region: String,
    /// URL of this node, the base of its tokens' `iss`.
    pub own_url: String,
    /// URLs of every region: tokens with any of them as issuer are accepted.
    pub region_urls: Vec<String>,
    pub lockout: Lockout,
    /// SRP secret blocks already answered (each is good for one sign-in).
    pub spent_blocks: crate::srp_flow::SpentBlocks,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("pools", &self.inner.pools.len())
            .finish_non_exhaustive()
    }
}

/// Where this node's identity service is reached from, for token issuers.
pub struct Urls {
    pub own: String,
    pub all: Vec<String>,
}

impl Identity {
    /// Builds the service; the config must have been validated.
    pub fn new(store: Store, config: IdentityConfig, region: &str, signing_region: &str, urls: Urls) -> Result<Self, String> {
        let key = match config.signing_key.is_empty() {
            true => None,
            false => Some(SigningKey::from_base64(&config.signing_key)?),
        };
        let pools: HashMap<String, UserPoolConfig> = config.user_pools.iter().map(|p| (p.id.clone(), p.clone())).collect();
        if !pools.is_empty() {
            use crate::password::{ARGON2_LANES, ARGON2_MEMORY_KIB, ARGON2_PASSES};
            tracing::info!(
                user_pools = pools.len(),
                identity_pools = config.identity_pools.len(),
                "identity: passwords hashed with argon2id m={ARGON2_MEMORY_KIB} KiB t={ARGON2_PASSES} p={ARGON2_LANES}"
            );
        }
        let trim = |u: &str| u.trim_end_matches('/').to_string();
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                key,
                pools,
                config,
                region: region.to_string(),
                signing_region: signing_region.to_string(),
                own_url: trim(&urls.own),
                region_urls: urls.all.iter().map(|u| trim(u)).collect(),
                lockout: Lockout::default(),
                spent_blocks: Default::default(),
            }),
        })
    }

    /// The JWKS of a pool (`None`: no such pool here).
    pub fn jwks(&self, pool: &str) -> Option<Value> {
        self.inner.pools.get(pool)?;
        Some(self.inner.key.as_ref()?.jwks())
    }

    /// The OpenID configuration document of a pool.
    pub fn openid_configuration(&self, pool: &str) -> Option<Value> {
        self.inner.pools.get(pool)?;
        let issuer = self.issuer(pool);
        Some(serde_json::json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
            "id_token_signing_alg_values_supported": ["RS256"],
            "subject_types_supported": ["public"],
            "response_types_supported": ["code", "token"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "cognito:username", "cognito:groups", "email"],
        }))
    }

    /// Serves one user pool request; `caller` is the verified signer, if any.
    pub async fn user_pool(&self, op: UserPoolOp, body: &[u8], signed: Option<(&Caller, &Context)>) -> CognitoResult<Value> {
        let Some(info) = op.info() else {
            return Err(CognitoError::new("UnknownOperationException", "The operation is not supported."));
        };
        let req = crate::fields::request(body)?;
        if info.access == Access::Signed {
            let Some((caller, context)) = signed else {
                return Err(CognitoError::new(
                    "MissingAuthenticationTokenException",
                    "This operation needs a request signed with AWS Signature Version 4.",
                ));
            };
            self.authorize(info.action, &req, caller, context)?;
        }
        crate::dispatch::user_pool(self, op, &req).await
    }

    /// Refuses a signed request its caller's policies do not allow.
    fn authorize(&self, action: &str, req: &Value, caller: &Caller, context: &Context) -> CognitoResult<()> {
        let resource = match req.get("UserPoolId").and_then(Value::as_str) {
            Some(pool) => format!(
                "arn:aws:cognito-idp:{}:{}:userpool/{pool}",
                self.inner.signing_region,
                tandem_iam::decide::ACCOUNT
            ),
            None => "*".to_string(),
        };
        let request = Request {
            action,
            resource: &resource,
            who: caller.who(),
            context,
        };
        // Keys without a policy keep their old reach: only admin keys administer users.
        match tandem_iam::decide(Some(caller), &request, Verdict::Silent, || caller.admin) {
            Decision::Allow => Ok(()),
            Decision::Deny { .. } => Err(CognitoError::new(
                "AccessDeniedException",
                format!(
                    "User: {} is not authorized to perform: {action} on resource: {resource}",
                    caller.arn
                ),
            )),
        }
    }

    pub(crate) fn key(&self) -> CognitoResult<&SigningKey> {
        self.inner
            .key
            .as_ref()
            .ok_or_else(|| CognitoError::internal("identity has no signing key"))
    }

    pub(crate) fn pool(&self, id: &str) -> CognitoResult<&UserPoolConfig> {
        self.inner
            .pools
            .get(id)
            .ok_or_else(|| CognitoError::not_found(format!("User pool {id} does not exist.")))
    }

    /// The pool an app client belongs to.
    pub(crate) fn pool_of_client(&self, client: &str) -> CognitoResult<&UserPoolConfig> {
        self.inner
            .pools
            .values()
            .find(|p| p.clients.iter().any(|c| c.id == client))
            .ok_or_else(|| CognitoError::not_found("User pool client does not exist."))
    }

    /// `iss` of the tokens this node signs for a pool.
    pub(crate) fn issuer(&self, pool: &str) -> String {
        format!("{}/{pool}", self.inner.own_url)
    }

    /// Every issuer whose tokens are accepted for a pool (any region's).
    pub(crate) fn accepted_issuers(&self, pool: &str) -> Vec<String> {
        let mut all: Vec<String> = self.inner.region_urls.iter().map(|u| format!("{u}/{pool}")).collect();
        all.push(self.issuer(pool));
        all
    }

    /// A pool's user as this node holds it (`None`: unknown or deleted).
    pub(crate) fn user(&self, pool: &str, username: &str) -> CognitoResult<Option<UserRecord>> {
        let read = self.inner.store.read()?;
        let raw = read.identity_record(&user_key(pool, username))?;
        Ok(raw
            .and_then(|v| serde_json::from_value::<UserRecord>(v).ok())
            .filter(|u| !u.deleted))
    }

    /// Changes a user in one store transaction: `edit` sees the current
    /// record (`None`: no such user) and returns the new one, or an error
    /// that leaves the store as it was. The new record is stamped and logged.
    pub(crate) async fn edit_user<F>(&self, pool: &str, username: &str, edit: F) -> CognitoResult<UserRecord>
    where
        F: FnOnce(Option<UserRecord>, u64) -> CognitoResult<UserRecord> + Send + 'static,
    {
        let key = user_key(pool, username);
        let region = self.inner.region.clone();
        self.inner
            .store
            .write(move |tx| {
                let held = tx
                    .identity_record(&key)?
                    .and_then(|v| serde_json::from_value::<UserRecord>(v).ok())
                    .filter(|u| !u.deleted);
                let mut user = edit(held, tandem_store::now_ms())?;
                let hlc = tx.now();
                user.stamp = Stamp {
                    hlc,
                    origin: region.clone(),
                };
                let json = serde_json::to_value(&user).map_err(CognitoError::internal)?;
                tx.put_identity_record(&key, json, &region, hlc)?;
                Ok(user)
            })
            .await
    }
}
