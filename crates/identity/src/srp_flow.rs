//! The `USER_SRP_AUTH` flow (Amplify's and pycognito's default sign-in):
//! `InitiateAuth` answers with the `PASSWORD_VERIFIER` challenge (`SRP_B`,
//! `SALT` and a `SECRET_BLOCK`), and `RespondToAuthChallenge` checks the
//! client's proof that it knows the password. The server keeps nothing
//! between the two calls: the secret ephemeral `b`, the client's `SRP_A`, the
//! user, the client and an expiry are sealed into the secret block with the
//! deployment's key, so the second call may reach any node of any region.
//! A proof is accepted once by a node (a replayed answer is refused; another
//! node would take a replay within the block's 3 minutes, which needs the
//! TLS-protected answer captured first), wrong proofs are throttled like
//! wrong passwords, and an unknown user (or one whose password predates SRP)
//! gets a decoy challenge that no password answers, stable per name and as
//! cheap as a real one, so the flow does not tell which usernames exist.
//! The arithmetic is in [`crate::srp`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::config::UserPoolConfig;
use crate::error::{CognitoError, CognitoResult};
use crate::fields;
use crate::password::off_runtime;
use crate::record::UserRecord;
use crate::service::Identity;
use crate::sign_in::now_secs;
use crate::srp::{self, Claim, SrpError, Verifier};

/// Seal purpose of a `SECRET_BLOCK`.
const SECRET_BLOCK: &str = "srp-secret-block";
/// How long a challenge may be answered (as Cognito's sessions: 3 minutes).
const CHALLENGE_SECS: u64 = 180;
/// How far a client's `TIMESTAMP` may be from this node's clock.
const TIMESTAMP_SKEW_SECS: i64 = 300;
/// Spent secret blocks remembered at most (each for its 3 minutes).
const MAX_SPENT: usize = 200_000;

/// What a `SECRET_BLOCK` holds.
#[derive(Serialize, Deserialize)]
struct BlockContent {
    /// A random id: the block is spent once a proof with it is accepted.
    id: String,
    pool: String,
    client: String,
    username: String,
    /// The server's secret ephemeral.
    #[serde(with = "crate::srp::hex_bytes")]
    b: Vec<u8>,
    srp_a: String,
    exp: u64,
}

impl Drop for BlockContent {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.b);
    }
}

/// Secret blocks whose proof was accepted, until they expire.
#[derive(Debug, Default)]
pub(crate) struct SpentBlocks {
    spent: Mutex<HashMap<String, u64>>,
}

impl SpentBlocks {
    /// Marks `id` spent; `false` if it already was (a replay) or the table is
    /// full of blocks that have not expired yet.
    fn spend(&self, id: &str, exp: u64, now: u64) -> bool {
        let mut spent = self.spent.lock().unwrap_or_else(|e| e.into_inner());
        if spent.len() >= MAX_SPENT {
            spent.retain(|_, e| *e > now);
        }
        if spent.len() >= MAX_SPENT || spent.contains_key(id) {
            return false;
        }
        spent.insert(id.to_string(), exp);
        true
    }
}

/// The parameter errors of the SRP arithmetic in Cognito's words; a wrong
/// proof is a wrong password, and a stored verifier that cannot be read is a
/// fault of this node.
fn cognito_error(e: SrpError) -> CognitoError {
    match e {
        SrpError::InvalidParameter(message) => CognitoError::invalid(message),
        SrpError::NotAuthorized => CognitoError::bad_credentials(),
        SrpError::CorruptState(what) => CognitoError::internal(format!("SRP state: {what}")),
    }
}

/// The user's verifier, if they exist and have one.
fn verifier_of(user: Option<&UserRecord>) -> Option<Verifier> {
    user.and_then(|u| u.secret.as_ref()).and_then(|s| s.srp.clone())
}

impl Identity {
    /// The verifier to challenge with: the user's, or a decoy that is the
    /// same at every call for this name, costs the same, and that no
    /// password answers (an unknown user looks like any other).
    fn challenge_verifier(&self, pool: &UserPoolConfig, username: &str, user: Option<&UserRecord>) -> CognitoResult<Verifier> {
        match verifier_of(user) {
            Some(verifier) => Ok(verifier),
            None => Ok(srp::decoy_verifier(
                &self.key()?.derive_id("srp-decoy", &format!("{}/{username}", pool.id)),
            )),
        }
    }

    /// Keeps an SRP verifier for a user whose password predates SRP, made
    /// from the password they just proved; the record is left alone if the
    /// password changed meanwhile.
    pub(crate) async fn backfill_verifier(&self, pool: &UserPoolConfig, user: UserRecord, password: &str) -> CognitoResult<UserRecord> {
        let Some(argon2) = user.secret.as_ref().filter(|s| s.srp.is_none()).map(|s| s.argon2.clone()) else {
            return Ok(user);
        };
        let (pool_name, name, password) = (pool.srp_name().to_string(), user.username.clone(), password.to_string());
        let verifier = off_runtime(move || srp::make_verifier(&pool_name, &name, &password)).await;
        self.edit_user(&pool.id, &user.username.clone(), move |held, now| {
            let mut current = held.ok_or_else(CognitoError::bad_credentials)?;
            match current.secret.as_mut() {
                Some(secret) if secret.argon2 == argon2 && secret.srp.is_none() => {
                    secret.srp = Some(verifier);
                    current.modified_ms = now;
                }
                _ => {}
            }
            Ok(current)
        })
        .await
    }

    /// InitiateAuth with `USER_SRP_AUTH`: the `PASSWORD_VERIFIER` challenge.
    pub(crate) async fn srp_start(&self, pool: &UserPoolConfig, client: &str, params: &[(&str, &str)]) -> CognitoResult<Value> {
        let username = fields::entry(params, "USERNAME")?;
        let srp_a = fields::entry(params, "SRP_A")?;
        if username.len() > srp::MAX_USER_ID || srp_a.len() > srp::MAX_SRP_A_HEX {
            return Err(CognitoError::invalid("USERNAME or SRP_A is too long"));
        }
        if !self.inner.lockout.may_try(&throttle_key(pool, username), Instant::now()) {
            return Err(CognitoError::not_authorized("Password attempts exceeded"));
        }
        let user = self.user(&pool.id, username)?;
        let verifier = self.challenge_verifier(pool, username, user.as_ref())?;
        let a = srp_a.to_string();
        let half = off_runtime(move || srp::start(&verifier, &a)).await.map_err(cognito_error)?;
        let content = BlockContent {
            id: crate::tokens::new_id(),
            pool: pool.id.clone(),
            client: client.to_string(),
            username: username.to_string(),
            b: half.secret_b.to_vec(),
            srp_a: srp_a.to_string(),
            exp: now_secs() + CHALLENGE_SECS,
        };
        let plain = Zeroizing::new(serde_json::to_vec(&content).map_err(CognitoError::internal)?);
        let block = self.key()?.seal_raw(SECRET_BLOCK, &plain);
        Ok(json!({
            "ChallengeName": "PASSWORD_VERIFIER",
            "ChallengeParameters": {
                "SALT": half.salt_hex,
                "SECRET_BLOCK": base64_simd::STANDARD.encode_to_string(&block),
                "SRP_B": half.srp_b_hex,
                "USERNAME": username,
                "USER_ID_FOR_SRP": username,
            },
        }))
    }

    /// RespondToAuthChallenge with `PASSWORD_VERIFIER`: tokens (or the first
    /// sign-in's `NEW_PASSWORD_REQUIRED`) when the proof matches.
    pub(crate) async fn srp_verify(&self, pool: &UserPoolConfig, client: &str, responses: &[(&str, &str)]) -> CognitoResult<Value> {
        let username = fields::entry(responses, "USERNAME")?;
        let block_b64 = fields::entry(responses, "PASSWORD_CLAIM_SECRET_BLOCK")?;
        let signature = fields::entry(responses, "PASSWORD_CLAIM_SIGNATURE")?;
        let timestamp = fields::entry(responses, "TIMESTAMP")?;
        check_timestamp(timestamp)?;
        let block = base64_simd::STANDARD
            .decode_to_vec(block_b64.as_bytes())
            .ok()
            .filter(|b| b.len() <= srp::MAX_SECRET_BLOCK)
            .ok_or_else(|| CognitoError::invalid("PASSWORD_CLAIM_SECRET_BLOCK is not a secret block of this pool"))?;
        let content = self.open_block(&block, pool, client, username)?;
        let throttle_key = throttle_key(pool, username);
        if !self.inner.lockout.may_try(&throttle_key, Instant::now()) {
            return Err(CognitoError::not_authorized("Password attempts exceeded"));
        }
        let user = self.user(&pool.id, username)?;
        let exists = verifier_of(user.as_ref()).is_some();
        let verifier = self.challenge_verifier(pool, username, user.as_ref())?;
        let checked = {
            let (pool_name, name) = (pool.srp_name().to_string(), username.to_string());
            let (signature, timestamp) = (signature.to_string(), timestamp.to_string());
            let (secret_b, srp_a) = (Zeroizing::new(content.b.clone()), content.srp_a.clone());
            off_runtime(move || {
                let claim = Claim {
                    pool_name: &pool_name,
                    user_id: &name,
                    verifier: &verifier,
                    secret_b: &secret_b,
                    srp_a_hex: &srp_a,
                    secret_block: &block,
                    timestamp: &timestamp,
                    signature_b64: &signature,
                };
                srp::check_claim(&claim)?;
                if exists { Ok(()) } else { Err(SrpError::NotAuthorized) }
            })
            .await
        };
        match checked {
            Ok(()) => {}
            Err(SrpError::NotAuthorized) => {
                self.inner.lockout.failed(&throttle_key, Instant::now());
                return Err(CognitoError::bad_credentials());
            }
            Err(e) => return Err(cognito_error(e)),
        }
        // A replayed answer proves the password too: spent before it counts.
        if !self.inner.spent_blocks.spend(&content.id, content.exp, now_secs()) {
            return Err(CognitoError::not_authorized("Invalid session for the user, session is expired."));
        }
        self.inner.lockout.succeeded(&throttle_key);
        let user = user.ok_or_else(CognitoError::bad_credentials)?;
        self.after_password(pool, client, user)
    }

    /// The content of a secret block made by [`srp_start`](Self::srp_start)
    /// for this pool, client and user, and not expired.
    fn open_block(&self, block: &[u8], pool: &UserPoolConfig, client: &str, username: &str) -> CognitoResult<BlockContent> {
        let expired = || CognitoError::not_authorized("Invalid session for the user, session is expired.");
        let plain = Zeroizing::new(self.key()?.open_raw(SECRET_BLOCK, block).ok_or_else(expired)?);
        let content: BlockContent = serde_json::from_slice(&plain).map_err(|_| expired())?;
        if content.exp <= now_secs() || content.pool != pool.id || content.client != client || content.username != username {
            return Err(expired());
        }
        Ok(content)
    }
}

/// The lockout's key for a user of a pool (shared with the password flows).
pub(crate) fn throttle_key(pool: &UserPoolConfig, username: &str) -> String {
    format!("{}/{username}", pool.id)
}

/// A `TIMESTAMP` in Cognito's format and within [`TIMESTAMP_SKEW_SECS`] of now.
fn check_timestamp(timestamp: &str) -> CognitoResult<()> {
    let at = srp::parse_timestamp(timestamp).map_err(cognito_error)?;
    let now = time::OffsetDateTime::now_utc();
    if (at - now).whole_seconds().abs() > TIMESTAMP_SKEW_SECS {
        return Err(CognitoError::not_authorized(
            "TIMESTAMP is too far from the server's clock; check the client's clock.",
        ));
    }
    Ok(())
}
