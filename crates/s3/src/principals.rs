//! Access keys and the callers they stand for. Implements s3s's `S3Auth`, so
//! every SigV4 signature is checked against the secrets known here, and hands
//! every API the [`Caller`] (principal, admin flag, identity policy) of a key,
//! or of temporary credentials (an `ASIA...` key id with its session token;
//! see `tandem-sts`).

use std::collections::HashMap;
use std::sync::Arc;

use http::{HeaderMap, Uri};
use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Result, s3_error};
use tandem_iam::{Caller, Policy};
use tandem_sts::token::{SESSION_KEY_PREFIX, TokenKind};
use tandem_sts::{Sessions, TokenError};

/// One configured access key.
#[derive(Clone)]
pub struct AccessKey {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Who the key acts as: owner of the buckets it creates, the name bucket
    /// policies and ACLs refer to.
    pub principal: String,
    /// Full access to every API, the control API included.
    pub admin: bool,
    /// The key's identity policy; `None` keeps each API's own rules
    /// (S3 ownership and ACLs, any table for DynamoDB, no control API).
    pub policy: Option<Arc<Policy>>,
}

impl std::fmt::Debug for AccessKey {
    // The secret never appears in logs or debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("access_key_id", &self.access_key_id)
            .field("principal", &self.principal)
            .field("admin", &self.admin)
            .field("policy", &self.policy.is_some())
            .finish()
    }
}

struct KeyEntry {
    secret: String,
    caller: Arc<Caller>,
}

/// All access keys of the deployment, by key id, and its sessions. Cheap to clone.
#[derive(Clone, Default)]
pub struct Principals {
    keys: Arc<HashMap<String, KeyEntry>>,
    sessions: Option<Arc<Sessions>>,
}

/// Why credentials were not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialError {
    UnknownKey,
    /// Temporary credentials without a valid session token.
    InvalidToken,
    ExpiredToken,
}

impl CredentialError {
    /// A short name of the failure, for messages.
    pub fn reason(self) -> &'static str {
        match self {
            CredentialError::UnknownKey => "unknown_key",
            CredentialError::InvalidToken => "invalid_token",
            CredentialError::ExpiredToken => "expired_token",
        }
    }

    /// The S3 error of this failure.
    pub fn s3(self) -> s3s::S3Error {
        match self {
            CredentialError::UnknownKey => s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            ),
            CredentialError::InvalidToken => s3_error!(InvalidToken, "The provided token is malformed or otherwise invalid."),
            CredentialError::ExpiredToken => s3_error!(ExpiredToken, "The provided token has expired."),
        }
    }
}

/// The session token of a request: the `X-Amz-Security-Token` header, or
/// the query parameter of a presigned URL.
pub fn session_token(uri: &Uri, headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers.get("x-amz-security-token").and_then(|v| v.to_str().ok()) {
        return Some(v.to_string());
    }
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k == "X-Amz-Security-Token")
        .map(|(_, v)| v.into_owned())
}

impl std::fmt::Debug for Principals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Principals").field("keys", &self.keys.len()).finish()
    }
}

impl Principals {
    pub fn new(keys: impl IntoIterator<Item = AccessKey>) -> Self {
        let entries = keys.into_iter().map(|k| {
            let caller = Caller {
                access_key_id: k.access_key_id.clone(),
                arn: Caller::user_arn(&k.principal),
                userid: k.principal.clone(),
                principal: k.principal,
                admin: k.admin,
                policy: k.policy,
                session_policy: None,
                temporary: false,
                web_identity: None,
            };
            (
                k.access_key_id,
                KeyEntry {
                    secret: k.secret_access_key,
                    caller: Arc::new(caller),
                },
            )
        });
        Self {
            keys: Arc::new(entries.collect()),
            sessions: None,
        }
    }

    /// Accepts temporary credentials minted with `sessions`' key.
    pub fn with_sessions(mut self, sessions: Sessions) -> Self {
        self.sessions = Some(Arc::new(sessions));
        self
    }

    pub fn sessions(&self) -> Option<&Sessions> {
        self.sessions.as_deref()
    }

    /// The secret of an access key id (for verifying signatures outside s3s).
    pub fn secret_of(&self, access_key_id: &str) -> Option<String> {
        if let Some(k) = self.keys.get(access_key_id) {
            return Some(k.secret.clone());
        }
        let sessions = self.sessions.as_ref().filter(|_| access_key_id.starts_with(SESSION_KEY_PREFIX))?;
        Some(sessions.key().secret_of(access_key_id))
    }

    /// The caller of a signed request (its verified access key id, the
    /// session token it carries) and the request's global condition keys:
    /// what every API needs before it authorizes.
    pub fn caller_context(
        &self,
        access_key_id: &str,
        uri: &Uri,
        headers: &HeaderMap,
        extensions: &http::Extensions,
        now: time::OffsetDateTime,
    ) -> Result<(Arc<Caller>, tandem_iam::Context), CredentialError> {
        let token = session_token(uri, headers);
        let caller = self.resolve(access_key_id, token.as_deref(), now.unix_timestamp())?;
        let source = extensions.get::<tandem_iam::SourceAddr>().map(|s| s.0.ip());
        let context = tandem_iam::keys::global_context(Some(&caller), source, false, now);
        Ok((caller, context))
    }

    /// The caller behind a request's verified access key id and its session
    /// token, if any, at `now` (epoch seconds).
    pub fn resolve(&self, access_key_id: &str, token: Option<&str>, now: i64) -> Result<Arc<Caller>, CredentialError> {
        if let Some(k) = self.keys.get(access_key_id) {
            return Ok(k.caller.clone());
        }
        self.session(TokenKind::Sts, access_key_id, token, now)
    }

    /// The operator behind a console session (`tandem-console`): only a
    /// console token, presented with its `ASIA...` key id, stands for one;
    /// a long-term key id or an STS session token does not.
    pub fn console_caller(&self, access_key_id: &str, token: &str, now: i64) -> Result<Arc<Caller>, CredentialError> {
        self.session(TokenKind::Console, access_key_id, Some(token), now)
    }

    /// The caller of a session token of `kind` for `access_key_id`.
    fn session(&self, kind: TokenKind, access_key_id: &str, token: Option<&str>, now: i64) -> Result<Arc<Caller>, CredentialError> {
        let Some(sessions) = self.sessions.as_ref().filter(|_| access_key_id.starts_with(SESSION_KEY_PREFIX)) else {
            return Err(CredentialError::UnknownKey);
        };
        let token = token.ok_or(CredentialError::InvalidToken)?;
        sessions
            .caller_as(kind, access_key_id, token, now, |parent| self.caller(parent))
            .map_err(|e| match e {
                TokenError::Invalid => CredentialError::InvalidToken,
                TokenError::Expired => CredentialError::ExpiredToken,
            })
    }

    /// Whether some access key acts as this principal (a grantee S3 can resolve).
    pub fn knows(&self, principal: &str) -> bool {
        self.keys.values().any(|k| k.caller.principal == principal)
    }

    /// The principal an access key id acts as.
    pub fn principal_of(&self, access_key_id: &str) -> Option<&str> {
        self.keys.get(access_key_id).map(|k| k.caller.principal.as_str())
    }

    /// The caller behind a (verified) access key id.
    pub fn caller(&self, access_key_id: &str) -> Option<Arc<Caller>> {
        self.keys.get(access_key_id).map(|k| k.caller.clone())
    }
}

#[async_trait::async_trait]
impl S3Auth for Principals {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.secret_of(access_key) {
            Some(secret) => Ok(SecretKey::from(secret.as_str())),
            None => Err(CredentialError::UnknownKey.s3()),
        }
    }
}
