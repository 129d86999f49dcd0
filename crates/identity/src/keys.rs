//! The deployment's identity key: one RSA private key, shared by every region
//! (`[identity] signing_key`), that signs ID and access tokens (RS256, served
//! as a JWKS), and from which the key that seals opaque tokens (refresh
//! tokens, SRP secret blocks, challenge sessions) is derived. Because both
//! come from the shared key, whatever one region issues every other accepts.
//! The key never appears in logs.

use jsonwebtoken::{DecodingKey, EncodingKey};
use ring::aead::{self, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::RsaKeyPair;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use serde_json::{Value, json};

/// Longest sealed text opened (refresh tokens, secret blocks: far below).
pub const MAX_SEALED_BYTES: usize = 4096;

pub struct SigningKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// The key id (`kid`) in token headers and the JWKS.
    kid: String,
    /// The public key as a JWK.
    jwk: Value,
    seal: LessSafeKey,
    /// HMAC key of the ids derived from the key (identity ids).
    ids: ring::hmac::Key,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

fn b64url(bytes: &[u8]) -> String {
    base64_simd::URL_SAFE_NO_PAD.encode_to_string(bytes)
}

/// A new RSA key (3072 bits), as `[identity] signing_key` holds it.
pub fn generate_base64() -> Result<String, String> {
    use rsa::Generate;
    let key = rsa::PrivateKey::try_generate().map_err(|e| format!("cannot generate an RSA key: {e}"))?;
    let der = key.to_pkcs8_der().map_err(|e| format!("cannot encode the RSA key: {e}"))?;
    Ok(base64_simd::STANDARD.encode_to_string(der.as_bytes()))
}

impl SigningKey {
    /// Loads `[identity] signing_key`: an RSA private key, PKCS#8 DER in base64.
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let bad = |why: String| format!("[identity] signing_key is not a base64 PKCS#8 RSA private key: {why}");
        let der = base64_simd::STANDARD
            .decode_to_vec(text.trim().as_bytes())
            .map_err(|e| bad(e.to_string()))?;
        let pair = RsaKeyPair::from_pkcs8(&der).map_err(|e| bad(e.to_string()))?;
        let pkcs1 = rsa::PrivateKey::from_pkcs8_der(&der)
            .map_err(|e| bad(e.to_string()))?
            .to_pkcs1_der()
            .map_err(|e| bad(e.to_string()))?;
        let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
        let (n, e) = (b64url(&public.n), b64url(&public.e));
        let digest = ring::digest::digest(&ring::digest::SHA256, n.as_bytes());
        let kid = b64url(&digest.as_ref()[..16]);
        let decoding = DecodingKey::from_rsa_components(&n, &e).map_err(|e| bad(e.to_string()))?;
        let jwk = json!({ "alg": "RS256", "e": e, "kid": kid, "kty": "RSA", "n": n, "use": "sig" });
        Ok(Self {
            encoding: EncodingKey::from_rsa_der(pkcs1.as_bytes()),
            decoding,
            kid,
            jwk,
            seal: seal_key(&der),
            ids: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &derived(&der, b"ids")),
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn encoding(&self) -> &EncodingKey {
        &self.encoding
    }

    pub fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }

    /// The JWKS document (`/{pool}/.well-known/jwks.json`).
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk.clone()] })
    }

    /// A stable id for `name` (16 bytes, UUID-shaped by the caller): the same
    /// in every region, unguessable without the key.
    pub fn derive_id(&self, purpose: &str, name: &str) -> [u8; 16] {
        let tag = ring::hmac::sign(&self.ids, format!("{purpose}\n{name}").as_bytes());
        let mut id = [0u8; 16];
        id.copy_from_slice(&tag.as_ref()[..16]);
        id
    }

    /// Encrypts and authenticates `plain` for one purpose: base64url of
    /// [`seal_raw`](Self::seal_raw).
    pub fn seal(&self, purpose: &str, plain: &[u8]) -> String {
        b64url(&self.seal_raw(purpose, plain))
    }

    /// Opens what [`seal`](Self::seal) made for `purpose`; `None` for anything
    /// else (tampered, another purpose, another deployment's key, too long).
    pub fn open(&self, purpose: &str, sealed: &str) -> Option<Vec<u8>> {
        if sealed.len() > MAX_SEALED_BYTES {
            return None;
        }
        let raw = base64_simd::URL_SAFE_NO_PAD.decode_to_vec(sealed.as_bytes()).ok()?;
        self.open_raw(purpose, &raw)
    }

    /// nonce ‖ AES-GCM ciphertext ‖ tag, with the purpose as associated data
    /// (a sealed refresh token cannot be presented as a secret block).
    pub fn seal_raw(&self, purpose: &str, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        if SystemRandom::new().fill(&mut nonce).is_err() {
            // The OS random source failing is not recoverable.
            panic!("the system random source failed");
        }
        let mut buf = plain.to_vec();
        let tag = self
            .seal
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(purpose.as_bytes()), &mut buf);
        let Ok(tag) = tag else {
            unreachable!("AES-GCM seals any message below 64 GiB")
        };
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        out.extend_from_slice(tag.as_ref());
        out
    }

    /// Opens what [`seal_raw`](Self::seal_raw) made for `purpose`.
    pub fn open_raw(&self, purpose: &str, raw: &[u8]) -> Option<Vec<u8>> {
        if raw.len() < 12 + aead::MAX_TAG_LEN || raw.len() > MAX_SEALED_BYTES {
            return None;
        }
        let (nonce, rest) = raw.split_at(12);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = rest.to_vec();
        let plain = self.seal.open_in_place(nonce, Aad::from(purpose.as_bytes()), &mut buf).ok()?;
        Some(plain.to_vec())
    }
}

/// 32 bytes for one use (`info`) of the key: HKDF-SHA256 of the private key's DER.
fn derived(der: &[u8], info: &[u8]) -> [u8; 32] {
    struct Len32;
    impl ring::hkdf::KeyType for Len32 {
        fn len(&self) -> usize {
            32
        }
    }
    let salt = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"tandem identity");
    let mut bytes = [0u8; 32];
    let filled = salt.extract(der).expand(&[info], Len32).and_then(|okm| okm.fill(&mut bytes));
    if filled.is_err() {
        unreachable!("HKDF-SHA256 expands to 32 bytes");
    }
    bytes
}

/// The sealing key (AES-256-GCM).
fn seal_key(der: &[u8]) -> LessSafeKey {
    let Ok(key) = UnboundKey::new(&AES_256_GCM, &derived(der, b"seal")) else {
        unreachable!("AES-256-GCM takes a 32-byte key")
    };
    LessSafeKey::new(key)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::OnceLock;

    /// One generated key for every test of the crate (generation takes a while).
    pub(crate) fn test_key() -> &'static SigningKey {
        static KEY: OnceLock<SigningKey> = OnceLock::new();
        KEY.get_or_init(|| SigningKey::from_base64(&generate_base64().unwrap()).unwrap())
    }

    #[test]
    fn sealed_text_opens_only_for_its_purpose_and_untampered() {
        let key = test_key();
        let sealed = key.seal("refresh", b"alice");
        assert_eq!(key.open("refresh", &sealed).as_deref(), Some(&b"alice"[..]));
        assert_eq!(key.open("secret-block", &sealed), None);
        let mut tampered = sealed.into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(key.open("refresh", std::str::from_utf8(&tampered).unwrap()), None);
        assert_eq!(key.open("refresh", "not base64!"), None);
    }

    #[test]
    fn the_jwks_names_the_key_id_and_a_garbage_key_is_refused() {
        let key = test_key();
        let jwks = key.jwks();
        assert_eq!(jwks["keys"][0]["kid"], key.kid());
        assert_eq!(jwks["keys"][0]["alg"], "RS256");
        assert!(SigningKey::from_base64("aGVsbG8=").unwrap_err().contains("PKCS#8"));
    }
}
