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
                let login = self.login(&[pool], &req)?;
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
                    .mint_web_identity(&login.pool.role, web, now_secs(), CREDENTIAL_SECS)
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
                let now = crate::sign_in::now_secs();
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
    /// identity of the user the logins sign in as, in one of the pools.
    fn identity_login(&self, req: &Value) -> CognitoResult<Login<'_>> {
        let identity_id = fields::required(req, "IdentityId", MAX_ID)?;
        let region = identity_id.split_once(':').map(|(r, _)| r);
        let pools: Vec<&IdentityPoolConfig> = self
            .inner
            .config
            .identity_pools
            .iter()
            .filter(|p| p.id.split_once(':').map(|(r, _)| r) == region)
            .collect();
        if pools.is_empty() {
            return Err(CognitoError::not_found(format!("Identity '{identity_id}' not found.")));
        }
        let login = self.login(&pools, req)?;
        if login.identity_id != identity_id {
            return Err(CognitoError::not_authorized(
                "Logins don't match. Please include at least one valid login for this identity or identity pool.",
            ));
        }
        Ok(login)
    }

    /// Who the `Logins` map signs in as, for the first of `pools` whose user
    /// pool issued its ID token: the token must verify, be this pool's, name
    /// its issuer (without the scheme) as its key, and belong to a user who
    /// is enabled and has not signed out since.
    fn login<'p>(&self, pools: &[&'p IdentityPoolConfig], req: &Value) -> CognitoResult<Login<'p>> {
        let logins = fields::string_map(req, "Logins")?;
        let Some(&(provider, token)) = logins.first() else {
            return Err(CognitoError::not_authorized(
                "Unauthenticated access is not supported for this identity pool.",
            ));
        };
        if logins.len() > 1 {
            return Err(CognitoError::invalid("Logins must name one provider (the user pool's issuer)."));
        }
        let user_pool = provider.rsplit('/').next().unwrap_or_default();
        let pool = *pools
            .iter()
            .find(|p| p.user_pool == user_pool)
            .ok_or_else(|| CognitoError::not_authorized("Invalid login token. Issuer doesn't match providerName"))?;
        let issuers: Vec<String> = self
            .accepted_issuers(user_pool)
            .into_iter()
            .filter(|iss| without_scheme(iss) == provider)
            .collect();
        if issuers.is_empty() {
            return Err(CognitoError::not_authorized("Invalid login token. Issuer doesn't match providerName"));
        }
        let claims: IdClaims = tokens::verify(self.key()?, token, &issuers, "id").map_err(|e| match e {
            JwtError::Expired => CognitoError::not_authorized("Invalid login token. Token expired."),
            JwtError::Invalid => CognitoError::not_authorized("Invalid login token. Not a valid OpenId Connect identity token."),
        })?;
        let client_known = self.pool(user_pool)?.clients.iter().any(|c| c.id == claims.aud);
        if !client_known {
            return Err(CognitoError::not_authorized("Invalid login token. Incorrect token audience."));
        }
        self.token_user(user_pool, &claims.username, &claims.sub, claims.generation, &claims.origin_jti, "Token")?;
        Ok(Login {
            identity_id: self.identity_id(pool, &claims.sub)?,
            pool,
            provider: provider.to_string(),
        })
    }

    /// The identity id of a user in an identity pool: `REGION:UUID`, the
    /// same in every region.
    fn identity_id(&self, pool: &IdentityPoolConfig, sub: &str) -> CognitoResult<String> {
        let region = pool.id.split_once(':').map_or("", |(r, _)| r);
        let bytes = self.key()?.derive_id("identity-id", &format!("{}\n{sub}", pool.id));
        Ok(format!("{region}:{}", tokens::uuid_of(bytes)))
    }
}

fn without_scheme(url: &str) -> &str {
    url.split_once("://").map_or(url, |(_, rest)| rest)
}

fn now_secs() -> i64 {
    i64::try_from(crate::sign_in::now_secs()).unwrap_or(i64::MAX)
}
