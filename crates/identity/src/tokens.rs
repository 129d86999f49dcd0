//! The tokens a sign-in returns, with Cognito's claims: the ID and access
//! tokens (RS256 JWTs under the shared key, verifiable by anyone with the
//! JWKS) and the refresh token (opaque: sealed under the same key). Every
//! token carries the user's sign-out generation, so a global sign-out revokes
//! all tokens issued before it in every region.

use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::keys::SigningKey;
use crate::record::UserRecord;

/// Seal purpose of refresh tokens.
const REFRESH: &str = "refresh-token";
/// Longest JWT accepted before decoding.
pub const MAX_JWT_BYTES: usize = 8 * 1024;

/// The three tokens of a sign-in, and how long the first two live.
#[derive(Debug)]
pub struct Issued {
    pub id_token: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: u64,
}

/// What a refresh token holds (sealed; no one but the deployment reads it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshClaims {
    pub pool: String,
    pub client: String,
    pub username: String,
    pub sub: String,
    /// The token's id: what RevokeToken records.
    pub jti: String,
    pub generation: u32,
    pub auth_time: u64,
    pub exp: u64,
}

/// The claims of an access token that the user pool API checks.
#[derive(Debug, Clone, Deserialize)]
pub struct AccessClaims {
    pub sub: String,
    pub iss: String,
    pub client_id: String,
    pub username: String,
    pub token_use: String,
    pub exp: u64,
    #[serde(rename = "tandem:gen", default)]
    pub generation: u32,
    #[serde(default)]
    pub origin_jti: String,
}

/// The claims of an ID token that identity pools check.
#[derive(Debug, Clone, Deserialize)]
pub struct IdClaims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    #[serde(rename = "cognito:username")]
    pub username: String,
    pub exp: u64,
    #[serde(rename = "tandem:gen", default)]
    pub generation: u32,
    #[serde(default)]
    pub origin_jti: String,
}

/// One sign-in's inputs to token minting.
pub struct Grant<'a> {
    pub key: &'a SigningKey,
    /// `iss`: the pool's URL on the node that signs.
    pub issuer: &'a str,
    pub pool: &'a str,
    pub client: &'a str,
    pub user: &'a UserRecord,
    pub now: u64,
    pub token_secs: u64,
    /// `None`: no new refresh token (a refresh keeps the one it used).
    pub refresh_secs: Option<u64>,
    /// The auth time and token family of the original sign-in (a refresh keeps them).
    pub auth_time: u64,
    pub origin_jti: &'a str,
}

/// An RS256 JWT of `claims` under the deployment's key.
pub fn jwt(key: &SigningKey, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(key.kid().to_string());
    match jsonwebtoken::encode(&header, claims, key.encoding()) {
        Ok(token) => token,
        Err(e) => unreachable!("RS256 signs any claims with a valid key: {e}"),
    }
}

/// A fresh random id (UUID v4 form).
pub fn new_id() -> String {
    uuid_of(rand::random())
}

/// 16 bytes in UUID v4 form.
pub fn uuid_of(b: [u8; 16]) -> String {
    let h = hex_simd::encode_to_string(b, hex_simd::AsciiCase::Lower);
    format!("{}-{}-4{}-a{}-{}", &h[..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

/// Mints the ID and access tokens, and a refresh token unless refreshing.
pub fn issue(g: &Grant<'_>) -> Issued {
    let user = g.user;
    let exp = g.now + g.token_secs;
    let groups: Vec<&String> = user.groups.iter().collect();
    let event_id = new_id();
    let mut id = json!({
        "sub": user.sub, "iss": g.issuer, "aud": g.client, "cognito:username": user.username,
        "token_use": "id", "auth_time": g.auth_time, "iat": g.now, "exp": exp, "jti": new_id(),
        "origin_jti": g.origin_jti, "event_id": event_id, "tandem:gen": user.generation,
    });
    for (name, value) in &user.attributes {
        id[name] = match name.as_str() {
            "email_verified" | "phone_number_verified" => json!(value == "true"),
            _ => json!(value),
        };
    }
    let mut access = json!({
        "sub": user.sub, "iss": g.issuer, "client_id": g.client, "username": user.username,
        "token_use": "access", "scope": "aws.cognito.signin.user.admin", "auth_time": g.auth_time,
        "iat": g.now, "exp": exp, "jti": new_id(), "origin_jti": g.origin_jti, "event_id": event_id,
        "tandem:gen": user.generation,
    });
    if !groups.is_empty() {
        id["cognito:groups"] = json!(groups);
        access["cognito:groups"] = json!(groups);
    }
    let refresh_token = g.refresh_secs.map(|secs| {
        let claims = RefreshClaims {
            pool: g.pool.to_string(),
            client: g.client.to_string(),
            username: user.username.clone(),
            sub: user.sub.clone(),
            jti: g.origin_jti.to_string(),
            generation: user.generation,
            auth_time: g.auth_time,
            exp: g.now + secs,
        };
        let plain = serde_json::to_vec(&claims).unwrap_or_default();
        g.key.seal(REFRESH, &plain)
    });
    Issued {
        id_token: jwt(g.key, &id),
        access_token: jwt(g.key, &access),
        refresh_token,
        expires_in: g.token_secs,
    }
}

/// Opens a refresh token; `None` if it is not one of this deployment's or has expired.
pub fn open_refresh(key: &SigningKey, token: &str, now: u64) -> Option<RefreshClaims> {
    let claims: RefreshClaims = serde_json::from_slice(&key.open(REFRESH, token)?).ok()?;
    (claims.exp > now).then_some(claims)
}

/// Why a JWT was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtError {
    Expired,
    Invalid,
}

/// Verifies a JWT of this deployment (signature, expiry, issuer among `issuers`,
/// `token_use`) and returns its claims.
pub fn verify<T: for<'de> Deserialize<'de>>(key: &SigningKey, token: &str, issuers: &[String], token_use: &str) -> Result<T, JwtError> {
    if token.len() > MAX_JWT_BYTES {
        return Err(JwtError::Invalid);
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(issuers);
    validation.validate_aud = false;
    validation.leeway = 0;
    let data = jsonwebtoken::decode::<Value>(token, key.decoding(), &validation).map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::ExpiredSignature => JwtError::Expired,
        _ => JwtError::Invalid,
    })?;
    if data.claims.get("token_use").and_then(Value::as_str) != Some(token_use) {
        return Err(JwtError::Invalid);
    }
    serde_json::from_value(data.claims).map_err(|_| JwtError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::tests::test_key;
    use crate::record::{Stamp, UserStatus};

    fn user() -> UserRecord {
        UserRecord {
            stamp: Stamp {
                hlc: 1,
                origin: "east".into(),
            },
            username: "alice".into(),
            sub: new_id(),
            attributes: [("email".to_string(), "a@example.test".to_string())].into(),
            status: UserStatus::Confirmed,
            enabled: true,
            secret: None,
            groups: ["admins".to_string()].into(),
            generation: 3,
            created_ms: 0,
            modified_ms: 0,
            deleted: false,
        }
    }

    fn grant<'a>(user: &'a UserRecord, now: u64) -> Grant<'a> {
        Grant {
            key: test_key(),
            issuer: "http://east/pool_1",
            pool: "pool_1",
            client: "web",
            user,
            now,
            token_secs: 3600,
            refresh_secs: Some(86400),
            auth_time: now,
            origin_jti: "family-1",
        }
    }

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    #[test]
    fn an_access_token_verifies_with_its_claims_and_only_for_its_issuers() {
        let user = user();
        let issued = issue(&grant(&user, now()));
        let issuers = vec!["http://east/pool_1".to_string()];
        let claims: AccessClaims = verify(test_key(), &issued.access_token, &issuers, "access").unwrap();
        assert_eq!(
            (claims.username.as_str(), claims.client_id.as_str(), claims.generation),
            ("alice", "web", 3)
        );
        assert_eq!(
            verify::<AccessClaims>(test_key(), &issued.id_token, &issuers, "access").unwrap_err(),
            JwtError::Invalid
        );
        let other = vec!["http://west/pool_1".to_string()];
        assert!(verify::<AccessClaims>(test_key(), &issued.access_token, &other, "access").is_err());
    }

    #[test]
    fn an_expired_token_is_refused_as_expired() {
        let user = user();
        let issued = issue(&grant(&user, now() - 7200));
        let issuers = vec!["http://east/pool_1".to_string()];
        assert_eq!(
            verify::<AccessClaims>(test_key(), &issued.access_token, &issuers, "access").unwrap_err(),
            JwtError::Expired
        );
    }

    #[test]
    fn a_refresh_token_opens_until_it_expires() {
        let user = user();
        let t = now();
        let issued = issue(&grant(&user, t));
        let token = issued.refresh_token.unwrap();
        let claims = open_refresh(test_key(), &token, t).unwrap();
        assert_eq!(
            (claims.username.as_str(), claims.generation, claims.jti.as_str()),
            ("alice", 3, "family-1")
        );
        assert!(open_refresh(test_key(), &token, t + 86400).is_none());
        assert!(open_refresh(test_key(), &issued.id_token, t).is_none());
    }
}
