//! Signing in: InitiateAuth / AdminInitiateAuth with `USER_PASSWORD_AUTH`,
//! `ADMIN_USER_PASSWORD_AUTH` and `REFRESH_TOKEN_AUTH`, the
//! `NEW_PASSWORD_REQUIRED` challenge of a user's first sign-in, and
//! GetTokensFromRefreshToken. Wrong passwords are throttled per user
//! ([`crate::lockout`]); an unknown user and a wrong password get the same answer.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::UserPoolConfig;
use crate::error::{CognitoError, CognitoResult};
use crate::fields;
use crate::record::{Revocation, Stamp, UserRecord, UserStatus, revocation_key};
use crate::service::Identity;
use crate::tokens::{self, Grant, Issued};

/// Seal purpose of a challenge's `Session`.
const SESSION: &str = "challenge-session";
/// How long a challenge may be answered (Cognito: 3 minutes).
const SESSION_SECS: u64 = 180;

/// What a challenge's `Session` holds.
#[derive(Debug, Serialize, Deserialize)]
struct ChallengeSession {
    pool: String,
    client: String,
    username: String,
    challenge: String,
    exp: u64,
}

pub(crate) fn now_secs() -> u64 {
    tandem_store::now_ms() / 1000
}

/// The answer carrying a sign-in's tokens.
fn authenticated(issued: Issued) -> Value {
    let mut result = json!({
        "AccessToken": issued.access_token,
        "ExpiresIn": issued.expires_in,
        "TokenType": "Bearer",
        "IdToken": issued.id_token,
    });
    if let Some(refresh) = issued.refresh_token {
        result["RefreshToken"] = json!(refresh);
    }
    json!({ "AuthenticationResult": result, "ChallengeParameters": {} })
}

impl Identity {
    /// Mints the tokens of a sign-in (`family`: the refresh token family it continues).
    pub(crate) fn tokens_for(
        &self,
        pool: &UserPoolConfig,
        client: &str,
        user: &UserRecord,
        family: Option<(&str, u64)>,
    ) -> CognitoResult<Issued> {
        let now = now_secs();
        let new_family = tokens::new_id();
        let (origin_jti, auth_time) = family.unwrap_or((&new_family, now));
        let issuer = self.issuer(&pool.id);
        Ok(tokens::issue(&Grant {
            key: self.key()?,
            issuer: &issuer,
            pool: &pool.id,
            client,
            user,
            now,
            token_secs: u64::from(pool.token_minutes) * 60,
            refresh_secs: family.is_none().then_some(u64::from(pool.refresh_days) * 86_400),
            auth_time,
            origin_jti,
        }))
    }

    /// InitiateAuth (public: the app client id is the only credential besides the password).
    pub(crate) async fn initiate_auth(&self, req: &Value, admin: bool) -> CognitoResult<Value> {
        let client = fields::required(req, "ClientId", 128)?;
        let pool = self.pool_of_client(client)?;
        if admin && fields::required(req, "UserPoolId", 55)? != pool.id {
            return Err(CognitoError::not_found("User pool client does not exist."));
        }
        let flow = fields::required(req, "AuthFlow", 64)?;
        let params = fields::string_map(req, "AuthParameters")?;
        match (flow, admin) {
            ("USER_PASSWORD_AUTH", false) | ("ADMIN_USER_PASSWORD_AUTH" | "ADMIN_NO_SRP_AUTH", true) => {
                let username = fields::entry(&params, "USERNAME")?;
                let password = fields::entry(&params, "PASSWORD")?;
                self.password_sign_in(pool, client, username, password).await
            }
            ("REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN", _) => {
                let token = fields::entry(&params, "REFRESH_TOKEN")?;
                self.refresh(pool, client, token)
            }
            ("USER_SRP_AUTH", false) => self.srp_start(pool, client, &params).await,
            _ => Err(CognitoError::invalid(format!("Initiate Auth method not supported: {flow}"))),
        }
    }

    /// Checks a password and answers with tokens or the first sign-in's challenge.
    async fn password_sign_in(&self, pool: &UserPoolConfig, client: &str, username: &str, password: &str) -> CognitoResult<Value> {
        let throttle_key = crate::srp_flow::throttle_key(pool, username);
        let lockout = &self.inner.lockout;
        if !lockout.may_try(&throttle_key, Instant::now()) {
            return Err(CognitoError::not_authorized("Password attempts exceeded"));
        }
        let user = self.user(&pool.id, username)?;
        let secret = user.as_ref().and_then(|u| u.secret.as_ref());
        if !crate::password::matches(password, secret).await {
            lockout.failed(&throttle_key, Instant::now());
            return Err(CognitoError::bad_credentials());
        }
        lockout.succeeded(&throttle_key);
        let Some(user) = user else {
            return Err(CognitoError::bad_credentials());
        };
        let user = self.backfill_verifier(pool, user, password).await?;
        self.after_password(pool, client, user)
    }

    /// What follows a proven password: refusal, the first sign-in's challenge, or tokens.
    pub(crate) fn after_password(&self, pool: &UserPoolConfig, client: &str, user: UserRecord) -> CognitoResult<Value> {
        if !user.enabled {
            return Err(CognitoError::not_authorized("User is disabled."));
        }
        let expired = user
            .secret
            .as_ref()
            .and_then(|s| s.expires_ms)
            .is_some_and(|exp| exp <= tandem_store::now_ms());
        match user.status {
            UserStatus::ResetRequired => Err(CognitoError::new(
                "PasswordResetRequiredException",
                "Password reset required for the user",
            )),
            UserStatus::ForceChangePassword if expired => Err(CognitoError::not_authorized(
                "Temporary password has expired and must be reset by an administrator.",
            )),
            UserStatus::ForceChangePassword => {
                let session = ChallengeSession {
                    pool: pool.id.clone(),
                    client: client.to_string(),
                    username: user.username.clone(),
                    challenge: "NEW_PASSWORD_REQUIRED".into(),
                    exp: now_secs() + SESSION_SECS,
                };
                let sealed = self.key()?.seal(SESSION, &serde_json::to_vec(&session).unwrap_or_default());
                let attributes: serde_json::Map<String, Value> = user
                    .attributes
                    .iter()
                    .filter(|(n, _)| !n.ends_with("_verified"))
                    .map(|(n, v)| (n.clone(), json!(v)))
                    .collect();
                Ok(json!({
                    "ChallengeName": "NEW_PASSWORD_REQUIRED",
                    "Session": sealed,
                    "ChallengeParameters": {
                        "USER_ID_FOR_SRP": user.username,
                        "requiredAttributes": "[]",
                        "userAttributes": Value::Object(attributes).to_string(),
                    },
                }))
            }
            UserStatus::Confirmed => Ok(authenticated(self.tokens_for(pool, client, &user, None)?)),
        }
    }

    /// New ID and access tokens for a refresh token that is neither expired,
    /// revoked, nor older than the user's last sign-out.
    pub(crate) fn refresh(&self, pool: &UserPoolConfig, client: &str, token: &str) -> CognitoResult<Value> {
        let invalid = || CognitoError::not_authorized("Invalid Refresh Token");
        let claims = tokens::open_refresh(self.key()?, token, now_secs()).ok_or_else(invalid)?;
        if claims.pool != pool.id || claims.client != client {
            return Err(invalid());
        }
        let read = self.inner.store.read()?;
        if read.identity_record(&revocation_key(&pool.id, &claims.jti))?.is_some() {
            return Err(CognitoError::not_authorized("Refresh Token has been revoked"));
        }
        let user = self.user(&pool.id, &claims.username)?.ok_or_else(invalid)?;
        if user.sub != claims.sub || user.generation != claims.generation {
            return Err(CognitoError::not_authorized("Refresh Token has been revoked"));
        }
        if !user.enabled {
            return Err(CognitoError::not_authorized("User is disabled."));
        }
        let issued = self.tokens_for(pool, client, &user, Some((&claims.jti, claims.auth_time)))?;
        let mut answer = authenticated(issued);
        answer["AuthenticationResult"]["RefreshToken"] = json!(token);
        Ok(answer)
    }

    /// GetTokensFromRefreshToken: the same as REFRESH_TOKEN_AUTH, in its own shape.
    pub(crate) fn get_tokens_from_refresh_token(&self, req: &Value) -> CognitoResult<Value> {
        let client = fields::required(req, "ClientId", 128)?;
        let pool = self.pool_of_client(client)?;
        let token = fields::required(req, "RefreshToken", 4096)?;
        let answer = self.refresh(pool, client, token)?;
        Ok(json!({ "AuthenticationResult": answer["AuthenticationResult"] }))
    }

    /// RespondToAuthChallenge / AdminRespondToAuthChallenge.
    pub(crate) async fn respond_to_auth_challenge(&self, req: &Value, admin: bool) -> CognitoResult<Value> {
        let client = fields::required(req, "ClientId", 128)?;
        let pool = self.pool_of_client(client)?;
        if admin && fields::required(req, "UserPoolId", 55)? != pool.id {
            return Err(CognitoError::not_found("User pool client does not exist."));
        }
        let challenge = fields::required(req, "ChallengeName", 64)?;
        let responses = fields::string_map(req, "ChallengeResponses")?;
        match challenge {
            "NEW_PASSWORD_REQUIRED" => self.new_password(pool, client, req, &responses).await,
            "PASSWORD_VERIFIER" if !admin => self.srp_verify(pool, client, &responses).await,
            _ => Err(CognitoError::invalid(format!("Challenge not supported: {challenge}"))),
        }
    }

    /// The first sign-in's new password: checked, kept, and answered with tokens.
    async fn new_password(&self, pool: &UserPoolConfig, client: &str, req: &Value, responses: &[(&str, &str)]) -> CognitoResult<Value> {
        let expired = || CognitoError::not_authorized("Invalid session for the user, session is expired.");
        let sealed = fields::required(req, "Session", 4096)?;
        let session: ChallengeSession = self
            .key()?
            .open(SESSION, sealed)
            .and_then(|plain| serde_json::from_slice(&plain).ok())
            .ok_or_else(expired)?;
        let username = fields::entry(responses, "USERNAME")?;
        if session.exp <= now_secs()
            || session.pool != pool.id
            || session.client != client
            || session.username != username
            || session.challenge != "NEW_PASSWORD_REQUIRED"
        {
            return Err(expired());
        }
        let password = fields::entry(responses, "NEW_PASSWORD")?;
        crate::password::check_policy(&pool.password_policy, password).map_err(|m| CognitoError::new("InvalidPasswordException", m))?;
        let secret = crate::password::secret(pool.srp_name(), username, password, None).await;
        let user = self
            .edit_user(&pool.id, username, move |held, now| {
                let mut user = held.ok_or_else(expired)?;
                if user.status != UserStatus::ForceChangePassword {
                    return Err(expired());
                }
                user.secret = Some(secret);
                user.status = UserStatus::Confirmed;
                user.modified_ms = now;
                Ok(user)
            })
            .await?;
        self.after_password(pool, client, user)
    }

    /// Records a refresh token as revoked, in every region.
    pub(crate) async fn revoke_refresh(&self, pool: &str, jti: &str, expires_secs: u64) -> CognitoResult<()> {
        let key = revocation_key(pool, jti);
        let region = self.inner.region.clone();
        self.inner
            .store
            .write(move |tx| {
                let hlc = tx.now();
                let record = Revocation {
                    stamp: Stamp {
                        hlc,
                        origin: region.clone(),
                    },
                    expires_ms: expires_secs * 1000,
                };
                let json = serde_json::to_value(&record).map_err(CognitoError::internal)?;
                tx.put_identity_record(&key, json, &region, hlc)?;
                Ok::<_, CognitoError>(())
            })
            .await
    }
}
