//! A signed-in user's own requests, authenticated by the access token in the
//! body: GetUser, ChangePassword, GlobalSignOut; and RevokeToken (by the
//! refresh token itself). A token of an earlier sign-out generation, of a
//! disabled or deleted user, is refused.

use serde_json::{Value, json};

use crate::error::{CognitoError, CognitoResult};
use crate::fields;
use crate::record::{UserRecord, UserStatus};
use crate::service::Identity;
use crate::tokens::{self, AccessClaims, JwtError};

impl Identity {
    /// The pool and user an access token belongs to, if it is still good.
    async fn signed_in(&self, req: &Value) -> CognitoResult<(String, UserRecord)> {
        let token = fields::required(req, "AccessToken", tokens::MAX_JWT_BYTES)?;
        let invalid = || CognitoError::not_authorized("Invalid Access Token");
        // The pool is in the (not yet verified) issuer; verification then checks it.
        let pool = unverified_pool(token).ok_or_else(invalid)?;
        self.pool(&pool).map_err(|_| invalid())?;
        let claims: AccessClaims = tokens::verify(self.key()?, token, &self.accepted_issuers(&pool), "access").map_err(|e| match e {
            JwtError::Expired => CognitoError::not_authorized("Access Token has expired"),
            JwtError::Invalid => invalid(),
        })?;
        let user = self.token_user(
            &pool,
            &claims.username,
            &claims.sub,
            claims.generation,
            &claims.origin_jti,
            "Access Token",
        )?;
        Ok((pool, user))
    }

    /// The user a verified token of `pool` names, if the token is still good:
    /// the same user (not deleted and re-created), no sign-out since it was
    /// issued, enabled, and its sign-in not revoked. `what` names the token
    /// in the refusals.
    pub(crate) fn token_user(
        &self,
        pool: &str,
        username: &str,
        sub: &str,
        generation: u32,
        origin_jti: &str,
        what: &str,
    ) -> CognitoResult<UserRecord> {
        let user = self.user(pool, username)?.ok_or_else(CognitoError::user_not_found)?;
        if user.sub != sub || user.generation != generation {
            return Err(CognitoError::not_authorized(format!("{what} has been revoked")));
        }
        if !user.enabled {
            return Err(CognitoError::not_authorized("User is disabled."));
        }
        let family = crate::record::revocation_key(pool, origin_jti);
        if !origin_jti.is_empty() && self.inner.store.read()?.identity_record(&family)?.is_some() {
            return Err(CognitoError::not_authorized(format!("{what} has been revoked")));
        }
        Ok(user)
    }

    pub(crate) async fn get_user(&self, req: &Value) -> CognitoResult<Value> {
        let (_, user) = self.signed_in(req).await?;
        Ok(Self::own_view(&user))
    }

    pub(crate) async fn change_password(&self, req: &Value) -> CognitoResult<Value> {
        let (pool_id, user) = self.signed_in(req).await?;
        let pool = self.pool(&pool_id)?;
        let previous = fields::required(req, "PreviousPassword", 256)?;
        let proposed = fields::required(req, "ProposedPassword", 256)?;
        if !crate::password::matches(previous, user.secret.as_ref()).await {
            return Err(CognitoError::bad_credentials());
        }
        crate::password::check_policy(&pool.password_policy, proposed).map_err(|m| CognitoError::new("InvalidPasswordException", m))?;
        let secret = crate::password::secret(pool.srp_name(), &user.username, proposed, None).await;
        let sub = user.sub.clone();
        self.edit_user(&pool_id, &user.username, move |held, now| {
            let mut user = held.filter(|u| u.sub == sub).ok_or_else(CognitoError::user_not_found)?;
            user.secret = Some(secret);
            user.status = UserStatus::Confirmed;
            user.modified_ms = now;
            Ok(user)
        })
        .await?;
        Ok(json!({}))
    }

    pub(crate) async fn global_sign_out(&self, req: &Value) -> CognitoResult<Value> {
        let (pool, user) = self.signed_in(req).await?;
        let sub = user.sub.clone();
        self.edit_user(&pool, &user.username, move |held, now| {
            let mut user = held.filter(|u| u.sub == sub).ok_or_else(CognitoError::user_not_found)?;
            user.generation += 1;
            user.modified_ms = now;
            Ok(user)
        })
        .await?;
        Ok(json!({}))
    }

    /// RevokeToken: the refresh token, and the tokens minted from it, stop working.
    pub(crate) async fn revoke_token(&self, req: &Value) -> CognitoResult<Value> {
        let client = fields::required(req, "ClientId", 128)?;
        let pool = self.pool_of_client(client)?;
        let token = fields::required(req, "Token", 4096)?;
        let claims = tokens::open_refresh(self.key()?, token, crate::sign_in::now_secs())
            .filter(|c| c.pool == pool.id)
            .ok_or_else(|| CognitoError::new("UnsupportedTokenTypeException", "The token is not a refresh token of this pool."))?;
        if claims.client != client {
            return Err(CognitoError::new(
                "UnauthorizedException",
                "The client is not the one the token was issued to.",
            ));
        }
        self.revoke_refresh(&pool.id, &claims.jti, claims.exp).await?;
        Ok(json!({}))
    }
}

/// The pool id at the end of a JWT's `iss`, read without verifying anything.
fn unverified_pool(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let raw = base64_simd::URL_SAFE_NO_PAD.decode_to_vec(payload.as_bytes()).ok()?;
    let claims: Value = serde_json::from_slice(&raw).ok()?;
    let iss = claims.get("iss")?.as_str()?;
    Some(iss.rsplit('/').next()?.to_string())
}
