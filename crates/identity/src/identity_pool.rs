//! Identity pools (`AWSCognitoIdentityService.*`): a user pool's ID token
//! becomes temporary credentials of the pool's role. `GetId` names the
//! user's identity, `GetCredentialsForIdentity` mints an STS session of the
//! role that carries the identity (so `${cognito-identity.amazonaws.com:sub}`
//! in the role's policy gives each user a private prefix), and
//! `GetOpenIdToken` an OpenID token for it. All three are unsigned, as
//! Amplify sends them: the `Logins` map, keyed by the ID token's issuer
//! without its scheme, is the credential.
//!
//! An identity id is derived from the identity pool and the user's `sub`
//! under the deployment's key, so every region computes the same one and
//! nothing needs to be stored or replicated. Only authenticated identities
//! exist: a request without a login is refused.

use serde_json::{Value, json};
use tandem_sts::{Sessions, WebClaims};

use crate::config::IdentityPoolConfig;
use crate::error::{CognitoError, CognitoResult};
use crate::fields;
use crate::ops::IdentityPoolOp;
use crate::service::Identity;
use crate::sign_in::now_secs;
use crate::tokens::{self, IdClaims, JwtError};

/// Seconds the credentials of GetCredentialsForIdentity last (as Cognito's: one hour).
const CREDENTIAL_SECS: i64 = 3600;
/// Seconds a GetOpenIdToken token lasts (as Cognito's: ten minutes).
const OPENID_TOKEN_SECS: u64 = 600;
/// Longest identity id (`REGION:UUID`) or identity pool id read.
const MAX_ID: usize = 55;

/// A signed-in user of an identity pool: the pool, the identity id, and the provider (the `Logins` key).
struct Login<'a> {
    pool: &'a IdentityPoolConfig,
    identity_id: String,
    provider: String,
}

impl Identity {
    /// Serves one identity pool request (all are public).
    pub async fn identity_pool(&self, op: IdentityPoolOp, body: &[u8], sessions: Option<&Sessions>) -> CognitoResult<Value> {
        let req = fields::request(body)?;
        match op {
            IdentityPoolOp::GetId => {
                let pool = self.identity_pool_config(fields::required(&req, "IdentityPoolId", MAX_ID)?)?;
                let login = self.pool_login(pool, &req)?;
                Ok(json!({ "IdentityId": login.identity_id }))
            }
            IdentityPoolOp::GetCredentialsForIdentity => {
                let login = self.identity_login(&req)?;
                let sessions = sessions.ok_or_else(|| CognitoError::internal("identity pools need [sts] signing_key"))?;
                let web = WebClaims {
                    id: login.identity_id.clone(),
                    pool: login.pool.id.clone(),
                };
                let minted = sessions
                    .mint_web_identity(&login.pool.role, web, unix_now(), CREDENTIAL_SECS)
                    .ok_or_else(|| CognitoError::internal(format!("the role {} of the identity pool is gone", login.pool.role)))?;
                Ok(json!({
                    "IdentityId": login.identity_id,
                    "Credentials": {
                        "AccessKeyId": minted.access_key_id,
                        "SecretKey": minted.secret_access_key,
                        "SessionToken": minted.session_token,
                        "Expiration": minted.claims.exp,
                    },
                }))
            }
            IdentityPoolOp::GetOpenIdToken => {
                let login = self.identity_login(&req)?;
                let now = now_secs();
                let claims = json!({
                    "iss": format!("{}/cognito-identity", self.inner.own_url),
                    "sub": login.identity_id,
                    "aud": login.pool.id,
                    "amr": ["authenticated", login.provider],
                    "iat": now,
                    "exp": now + OPENID_TOKEN_SECS,
                });
                Ok(json!({ "IdentityId": login.identity_id, "Token": tokens::jwt(self.key()?, &claims) }))
            }
            IdentityPoolOp::Unknown => Err(CognitoError::new("UnknownOperationException", "The operation is not supported.")),
        }
    }

    fn identity_pool_config(&self, id: &str) -> CognitoResult<&IdentityPoolConfig> {
        self.inner
            .config
            .identity_pools
            .iter()
            .find(|p| p.id == id)
            .ok_or_else(|| CognitoError::not_found(format!("IdentityPool '{id}' not found.")))
    }

    /// The login of a request naming an `IdentityId`: it must be the
    /// identity, in one of the identity pools of its region that trust the
    /// token's user pool, of the user the logins sign in as.
    fn identity_login(&self, req: &Value) -> CognitoResult<Login<'_>> {
        let identity_id = fields::required(req, "IdentityId", MAX_ID)?;
        let region = region_of(identity_id);
        let mut pools = self
            .inner
            .config
            .identity_pools
            .iter()
            .filter(|p| region_of(&p.id) == region)
            .peekable();
        if pools.peek().is_none() {
            return Err(CognitoError::not_found(format!("Identity '{identity_id}' not found.")));
        }
        let token = self.verified_login(req)?;
        for pool in pools.filter(|p| p.user_pool == token.user_pool) {
            if self.identity_id(pool, &token.claims.sub)? == identity_id {
                return Ok(Login {
                    pool,
                    identity_id: identity_id.to_string(),
                    provider: token.provider,
                });
            }
        }
        Err(CognitoError::not_authorized(
            "Logins don't match. Please include at least one valid login for this identity or identity pool.",
        ))
    }

    /// The login of a request to `pool` (GetId).
    fn pool_login<'p>(&self, pool: &'p IdentityPoolConfig, req: &Value) -> CognitoResult<Login<'p>> {
        let token = self.verified_login(req)?;
        if token.user_pool != pool.user_pool {
            return Err(CognitoError::not_authorized(
                "Invalid login token. Issuer doesn't match providerName",
            ));
        }
        Ok(Login {
            identity_id: self.identity_id(pool, &token.claims.sub)?,
            pool,
            provider: token.provider,
        })
    }

    /// The ID token of the `Logins` map, verified: it must be an ID token of
    /// one of this deployment's user pools and app clients, under its
    /// issuer (without the scheme) as key, of a user who is enabled and has
    /// not signed out since.
    fn verified_login(&self, req: &Value) -> CognitoResult<VerifiedLogin> {
        let logins = fields::string_map(req, "Logins")?;
        let Some(&(provider, token)) = logins.first() else {
            return Err(CognitoError::not_authorized(
                "Unauthenticated access is not supported for this identity pool.",
            ));
        };
        if logins.len() > 1 {
            return Err(CognitoError::invalid("Logins must name one provider (the user pool's issuer)."));
        }
        let mismatch = || CognitoError::not_authorized("Invalid login token. Issuer doesn't match providerName");
        let user_pool = provider.rsplit('/').next().unwrap_or_default();
        let pool = self.pool(user_pool).map_err(|_| mismatch())?;
        let issuers: Vec<String> = self
            .accepted_issuers(user_pool)
            .into_iter()
            .filter(|iss| without_scheme(iss) == provider)
            .collect();
        if issuers.is_empty() {
            return Err(mismatch());
        }
        let claims: IdClaims = tokens::verify(self.key()?, token, &issuers, "id").map_err(|e| match e {
            JwtError::Expired => CognitoError::not_authorized("Invalid login token. Token expired."),
            JwtError::Invalid => CognitoError::not_authorized("Invalid login token. Not a valid OpenId Connect identity token."),
        })?;
        if !pool.clients.iter().any(|c| c.id == claims.aud) {
            return Err(CognitoError::not_authorized("Invalid login token. Incorrect token audience."));
        }
        self.token_user(
            user_pool,
            &claims.username,
            &claims.sub,
            claims.generation,
            &claims.origin_jti,
            "Token",
        )?;
        Ok(VerifiedLogin {
            provider: provider.to_string(),
            user_pool: user_pool.to_string(),
            claims,
        })
    }

    /// The identity id of a user in an identity pool: `REGION:UUID`, the
    /// same in every region.
    fn identity_id(&self, pool: &IdentityPoolConfig, sub: &str) -> CognitoResult<String> {
        let bytes = self.key()?.derive_id("identity-id", &format!("{}\n{sub}", pool.id));
        Ok(format!("{}:{}", region_of(&pool.id), tokens::uuid_of(bytes)))
    }
}

/// A `Logins` map's verified ID token.
struct VerifiedLogin {
    /// The `Logins` key.
    provider: String,
    user_pool: String,
    claims: IdClaims,
}

/// The region part of an identity pool or identity id (`REGION:...`).
fn region_of(id: &str) -> &str {
    id.split_once(':').map_or("", |(region, _)| region)
}

fn without_scheme(url: &str) -> &str {
    url.split_once("://").map_or(url, |(_, rest)| rest)
}

fn unix_now() -> i64 {
    i64::try_from(now_secs()).unwrap_or(i64::MAX)
}
