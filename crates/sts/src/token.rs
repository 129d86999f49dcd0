//! Self-contained session tokens. A token carries its claims (who it was
//! minted for, until when, with which session policy) and an HMAC-SHA256 of
//! them under a key every region shares (`[sts] signing_key` in
//! `tandem.toml`), so a session minted in one region works in every other
//! with no lookup, and survives a failover. The secret access key of a
//! session is derived from its access key id under the same key: nothing
//! about a session is stored anywhere.
//!
//! Format: `base64url(claims JSON) "." base64url(HMAC(key, "token:" claims))`.

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Prefix of every temporary access key id (as AWS's `ASIA...`).
pub const SESSION_KEY_PREFIX: &str = "ASIA";
/// Longest token accepted before any work is done (a session policy is at most 2048 bytes).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// What a session token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Format version.
    pub v: u8,
    /// The session's access key id.
    pub ak: String,
    /// The long-term access key that minted the session.
    pub parent: String,
    /// The role assumed (`None`: GetSessionToken, the parent's own rights).
    pub role: Option<String>,
    /// RoleSessionName.
    pub name: String,
    /// Expiry, in seconds since the epoch.
    pub exp: i64,
    /// The inline session policy (JSON), which narrows the role's rights.
    pub policy: Option<String>,
    /// The Cognito identity of a session from an identity pool (its
    /// `parent` is then the identity pool, not an access key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<WebClaims>,
}

/// The Cognito identity a session was minted for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebClaims {
    /// The identity id (`REGION:UUID`).
    pub id: String,
    /// The identity pool id.
    pub pool: String,
}

/// What a token is for. Each kind is signed under its own MAC purpose, so a
/// token of one kind is never accepted as the other: an STS session token
/// (the AWS APIs) cannot stand for a console session, nor the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Temporary credentials of the AWS APIs (`X-Amz-Security-Token`).
    Sts,
    /// A signed-in operator of the web console (`tandem-console`).
    Console,
}

impl TokenKind {
    fn purpose(self) -> &'static str {
        match self {
            TokenKind::Sts => "token:",
            TokenKind::Console => "console-token:",
        }
    }
}

/// Why a token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Not a token of this deployment: malformed, tampered with, signed by
    /// another key, or minted for another access key id.
    Invalid,
    Expired,
}

/// The deployment's token-signing key. The key never appears in logs.
#[derive(Clone)]
pub struct SessionKey {
    key: Vec<u8>,
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

/// A freshly minted session.
#[derive(Debug, Clone)]
pub struct Minted {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub claims: Claims,
}

impl SessionKey {
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    fn mac(&self, purpose: &str, data: &[u8]) -> Vec<u8> {
        let Ok(mut mac) = HmacSha256::new_from_slice(&self.key) else {
            unreachable!("HMAC accepts keys of any length")
        };
        mac.update(purpose.as_bytes());
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    /// The secret access key of a session's access key id.
    pub fn secret_of(&self, access_key_id: &str) -> String {
        base64_simd::STANDARD.encode_to_string(&self.mac("secret:", access_key_id.as_bytes())[..30])
    }

    /// Mints a session: a new access key id, its secret, and the token for `claims`
    /// (whose `ak` is replaced by the new key id).
    pub fn mint(&self, claims: Claims) -> Minted {
        self.mint_as(TokenKind::Sts, claims)
    }

    /// [`SessionKey::mint`] of a token of `kind`.
    pub fn mint_as(&self, kind: TokenKind, mut claims: Claims) -> Minted {
        let id: [u8; 8] = rand::random();
        let access_key_id = format!("{SESSION_KEY_PREFIX}{}", hex_upper(&id));
        claims.ak = access_key_id.clone();
        claims.v = 1;
        let body = serde_json::to_vec(&claims).unwrap_or_default();
        let token = format!(
            "{}.{}",
            base64_simd::URL_SAFE_NO_PAD.encode_to_string(&body),
            base64_simd::URL_SAFE_NO_PAD.encode_to_string(self.mac(kind.purpose(), &body))
        );
        Minted {
            secret_access_key: self.secret_of(&access_key_id),
            access_key_id,
            session_token: token,
            claims,
        }
    }

    /// Checks a token presented with `access_key_id` at `now` (epoch seconds).
    pub fn verify(&self, token: &str, access_key_id: &str, now: i64) -> Result<Claims, TokenError> {
        self.verify_as(TokenKind::Sts, token, access_key_id, now)
    }

    /// [`SessionKey::verify`] of a token of `kind`.
    pub fn verify_as(&self, kind: TokenKind, token: &str, access_key_id: &str, now: i64) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Invalid);
        }
        let (body, mac) = token.split_once('.').ok_or(TokenError::Invalid)?;
        let body = base64_simd::URL_SAFE_NO_PAD.decode_to_vec(body).map_err(|_| TokenError::Invalid)?;
        let mac = base64_simd::URL_SAFE_NO_PAD.decode_to_vec(mac).map_err(|_| TokenError::Invalid)?;
        if !bool::from(self.mac(kind.purpose(), &body).ct_eq(&mac)) {
            return Err(TokenError::Invalid);
        }
        let claims: Claims = serde_json::from_slice(&body).map_err(|_| TokenError::Invalid)?;
        if claims.v != 1 || claims.ak != access_key_id {
            return Err(TokenError::Invalid);
        }
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            v: 1,
            ak: String::new(),
            parent: "AKIAPARENT".into(),
            role: Some("uploader".into()),
            name: "s1".into(),
            exp,
            policy: None,
            web: None,
        }
    }

    #[test]
    fn a_token_of_one_kind_is_not_accepted_as_the_other() {
        let key = SessionKey::new(b"shared");
        let sts = key.mint(claims(2_000));
        let console = key.mint_as(TokenKind::Console, claims(2_000));
        assert!(
            key.verify_as(TokenKind::Console, &sts.session_token, &sts.access_key_id, 1_000)
                .is_err()
        );
        assert!(key.verify(&console.session_token, &console.access_key_id, 1_000).is_err());
        assert!(
            key.verify_as(TokenKind::Console, &console.session_token, &console.access_key_id, 1_000)
                .is_ok()
        );
    }

    #[test]
    fn a_minted_token_verifies_anywhere_the_key_is_known() {
        let minted = SessionKey::new(b"shared").mint(claims(2_000));
        let elsewhere = SessionKey::new(b"shared");
        let got = elsewhere.verify(&minted.session_token, &minted.access_key_id, 1_000).unwrap();
        assert_eq!(got, minted.claims);
        assert_eq!(elsewhere.secret_of(&minted.access_key_id), minted.secret_access_key);
        assert!(minted.access_key_id.starts_with(SESSION_KEY_PREFIX));
    }

    #[test]
    fn expired_tampered_foreign_and_misused_tokens_are_refused() {
        let key = SessionKey::new(b"shared");
        let minted = key.mint(claims(2_000));
        assert_eq!(
            key.verify(&minted.session_token, &minted.access_key_id, 2_000),
            Err(TokenError::Expired)
        );
        let (body, mac) = minted.session_token.split_once('.').unwrap();
        let mut forged = claims(9_999);
        forged.ak = minted.access_key_id.clone();
        let forged_body = base64_simd::URL_SAFE_NO_PAD.encode_to_string(serde_json::to_vec(&forged).unwrap());
        assert_eq!(
            key.verify(&format!("{forged_body}.{mac}"), &minted.access_key_id, 1_000),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            key.verify(&format!("{body}.AAAA"), &minted.access_key_id, 1_000),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            SessionKey::new(b"other").verify(&minted.session_token, &minted.access_key_id, 1_000),
            Err(TokenError::Invalid)
        );
        assert_eq!(key.verify(&minted.session_token, "ASIAOTHER", 1_000), Err(TokenError::Invalid));
        assert_eq!(key.verify("garbage", &minted.access_key_id, 1_000), Err(TokenError::Invalid));
        assert_eq!(
            key.verify(&"A".repeat(MAX_TOKEN_BYTES + 1), &minted.access_key_id, 1_000),
            Err(TokenError::Invalid)
        );
    }
}
