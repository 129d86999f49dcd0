//! Minimal AWS Signature Version 4 header signing for the load generator.
//!
//! Only what `s3-load` needs: path-style requests without a query string,
//! signed headers `host;x-amz-content-sha256;x-amz-date`. The signing key is
//! derived once per UTC day and the `x-amz-date` string once per second, so the
//! per-request cost is one SHA-256 over the canonical request plus one HMAC.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use time::OffsetDateTime;

type HmacSha256 = Hmac<Sha256>;

const SIGNED_HEADERS: &str = "host;x-amz-content-sha256;x-amz-date";

/// Payload hash used when the body is not hashed (`--unsigned-payload`).
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

pub fn hex(bytes: &[u8]) -> String {
    hex_simd::encode_to_string(bytes, hex_simd::AsciiCase::Lower)
}

/// Lowercase hex SHA-256 of a payload (the `x-amz-content-sha256` value).
pub fn payload_hash(body: &[u8]) -> String {
    hex(&Sha256::digest(body))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// URI-encodes a path the way SigV4 expects for S3 (every byte except
/// unreserved characters and `/`).
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Headers to attach to one signed request.
pub struct Signed {
    pub amz_date: String,
    pub authorization: String,
}

/// Per-worker signer: caches the day's signing key and the current second's
/// timestamp. Cheap to clone (one per worker avoids any sharing).
#[derive(Clone)]
pub struct Signer {
    access_key: String,
    secret_key: String,
    region: String,
    /// UTC day (YYYYMMDD) the cached key belongs to.
    day: String,
    /// HMAC keyed with the day's signing key (cloned per request, which
    /// skips re-hashing the key pads).
    key_mac: HmacSha256,
    /// Unix second the cached `amz_date` belongs to.
    second: i64,
    amz_date: String,
    canonical: String,
}

impl Signer {
    pub fn new(access_key: &str, secret_key: &str, region: &str) -> Self {
        Signer {
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            region: region.to_owned(),
            day: String::new(),
            key_mac: HmacSha256::new_from_slice(b"").expect("any key length"),
            second: i64::MIN,
            amz_date: String::new(),
            canonical: String::with_capacity(512),
        }
    }

    fn refresh_clock(&mut self) {
        let now = OffsetDateTime::now_utc();
        let second = now.unix_timestamp();
        if second == self.second {
            return;
        }
        self.second = second;
        self.amz_date = format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        );
        let day = &self.amz_date[..8];
        if day != self.day {
            self.day = day.to_owned();
            let k = hmac(format!("AWS4{}", self.secret_key).as_bytes(), day.as_bytes());
            let k = hmac(&k, self.region.as_bytes());
            let k = hmac(&k, b"s3");
            let key = hmac(&k, b"aws4_request");
            self.key_mac = HmacSha256::new_from_slice(&key).expect("any key length");
        }
    }

    /// Signs `method host path` (path already URI-encoded, no query string)
    /// with the given payload hash.
    pub fn sign(&mut self, method: &str, host: &str, path: &str, payload_hash: &str) -> Signed {
        self.refresh_clock();
        let c = &mut self.canonical;
        c.clear();
        let _ = write!(
            c,
            "{method}\n{path}\n\nhost:{host}\nx-amz-content-sha256:{payload_hash}\nx-amz-date:{}\n\n{SIGNED_HEADERS}\n{payload_hash}",
            self.amz_date
        );
        let scope = format!("{}/{}/s3/aws4_request", self.day, self.region);
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{}\n{scope}\n{}",
            self.amz_date,
            hex(&Sha256::digest(c.as_bytes()))
        );
        let mut mac = self.key_mac.clone();
        mac.update(string_to_sign.as_bytes());
        let signature = hex(&mac.finalize().into_bytes());
        Signed {
            amz_date: self.amz_date.clone(),
            authorization: format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={SIGNED_HEADERS}, Signature={signature}",
                self.access_key
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Signing-key derivation example from the AWS SigV4 documentation.
    #[test]
    fn signing_key_matches_aws_example() {
        let k = hmac(b"AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", b"20120215");
        let k = hmac(&k, b"us-east-1");
        let k = hmac(&k, b"iam");
        let k = hmac(&k, b"aws4_request");
        assert_eq!(hex(&k), "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
    }

    #[test]
    fn path_encoding() {
        assert_eq!(encode_path("/b/a key+x"), "/b/a%20key%2Bx");
    }
}
