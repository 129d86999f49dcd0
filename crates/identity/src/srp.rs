//! SRP-6a, server side, exactly as Amazon Cognito computes it for
//! `USER_SRP_AUTH`: the 3072-bit group of RFC 3526, `k = H(N, g)`, the
//! verifier made at password-set time, `SRP_B` for `InitiateAuth` and the
//! check of `PASSWORD_CLAIM_SIGNATURE` in `RespondToAuthChallenge`.
//!
//! Every big integer that is hashed is first put in the clients' "padHex"
//! form: its minimal big-endian bytes, with a `00` byte in front when the top
//! bit is set (`pad`). Pure arithmetic: no I/O, no store, no clock.
//! Exponentiation is constant-time Montgomery arithmetic from `crypto-bigint`.

use std::fmt;
use std::sync::LazyLock;

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Odd};
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};
use zeroize::{Zeroize, Zeroizing};

/// The 3072-bit MODP prime of RFC 3526 (group 15), as Cognito's clients spell it.
const N_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05",
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB",
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718",
    "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33",
    "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864",
    "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2",
    "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
);
/// The group's generator.
const G: u8 = 2;
/// Bits of N, and the precision every integer here is held in.
const N_BITS: u32 = 3072;
/// Bytes of N.
const N_BYTES: usize = 384;
/// Random bytes of a new salt (as Cognito: 128 bits).
const SALT_BYTES: usize = 16;
/// Random bytes of the server's secret ephemeral `b`. 256 bits is twice the
/// 128-bit strength of the 3072-bit group (RFC 3526 §8 on exponent sizes).
pub const SECRET_B_BYTES: usize = 32;
/// Bits of a SHA-256 output, the size of the exponents `x` and `u`.
const HASH_BITS: u32 = 256;
/// HKDF `info` of Cognito's password authentication key.
const HKDF_INFO: &[u8] = b"Caldera Derived Key";
/// Bytes of the derived key `K`.
const KEY_BYTES: usize = 16;

/// Longest `SRP_A` accepted: 3072 bits in hex, plus a `00` a client may put in front.
pub const MAX_SRP_A_HEX: usize = 2 * N_BYTES + 2;
/// Longest pool name (the part of a pool id after `_`).
pub const MAX_POOL_NAME: usize = 64;
/// Longest `USER_ID_FOR_SRP` in bytes (a 128-character username in UTF-8).
pub const MAX_USER_ID: usize = 512;
/// Longest decoded secret block.
pub const MAX_SECRET_BLOCK: usize = 8 * 1024;
/// Longest `TIMESTAMP` ("Wed Sep 10 07:10:20 UTC 2026" is 28).
pub const MAX_TIMESTAMP: usize = 40;
/// Longest `PASSWORD_CLAIM_SIGNATURE` (base64 of 32 bytes is 44).
pub const MAX_SIGNATURE_B64: usize = 64;
/// Longest stored salt in bytes (a padded 16-byte salt is at most 17).
const MAX_SALT: usize = 64;

/// What Cognito answers for a `TIMESTAMP` it cannot read.
pub const TIMESTAMP_FORMAT_MESSAGE: &str = "TIMESTAMP format should be EEE MMM d HH:mm:ss z yyyy in english.";

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

type HmacSha256 = Hmac<Sha256>;

/// Why a sign-in step was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SrpError {
    /// A request parameter is malformed (Cognito: `InvalidParameterException`).
    #[error("{0}")]
    InvalidParameter(&'static str),
    /// The proof does not match: wrong password, tampered secret block or
    /// timestamp (Cognito: `NotAuthorizedException`).
    #[error("Incorrect username or password.")]
    NotAuthorized,
    /// The stored salt/verifier or the sealed `b` is not one this module made.
    #[error("stored SRP state is malformed: {0}")]
    CorruptState(&'static str),
}

/// What is stored for a user instead of the password: the salt (in padded
/// form, so that `hex(salt)` is what every client hashes) and `v = g^x mod N`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verifier {
    /// 16 random bytes in padded form (a `00` first when the top bit is set,
    /// leading zero bytes dropped).
    #[serde(with = "hex_bytes")]
    pub salt: Vec<u8>,
    /// `g^x mod N` in padded form.
    #[serde(with = "hex_bytes")]
    pub verifier: Vec<u8>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The verifier allows an offline guess of the password: never printed.
        f.debug_struct("Verifier")
            .field("salt", &hex_lower(&self.salt))
            .field("verifier", &format_args!("<{} bytes>", self.verifier.len()))
            .finish()
    }
}

impl Verifier {
    /// The `SALT` challenge parameter.
    pub fn salt_hex(&self) -> String {
        hex_lower(&self.salt)
    }
}

/// The server's half of a sign-in: the secret ephemeral `b` (to be sealed in
/// the `SECRET_BLOCK`; wiped on drop, never printed) and the challenge
/// parameters `SRP_B` and `SALT`.
pub struct ServerHalf {
    /// `b`, 32 random bytes.
    pub secret_b: Zeroizing<Vec<u8>>,
    /// The `SRP_B` challenge parameter.
    pub srp_b_hex: String,
    /// The `SALT` challenge parameter.
    pub salt_hex: String,
}

impl fmt::Debug for ServerHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHalf")
            .field("secret_b", &"<redacted>")
            .field("srp_b_hex", &self.srp_b_hex)
            .field("salt_hex", &self.salt_hex)
            .finish()
    }
}

/// A client's `PASSWORD_VERIFIER` answer with what the server kept for it.
#[derive(Clone, Copy)]
pub struct Claim<'a> {
    /// The part of the user pool id after `_`.
    pub pool_name: &'a str,
    /// `USER_ID_FOR_SRP` as sent in the challenge.
    pub user_id: &'a str,
    pub verifier: &'a Verifier,
    /// The `b` of [`ServerHalf::secret_b`], unsealed from the secret block.
    pub secret_b: &'a [u8],
    /// The client's `SRP_A` from `InitiateAuth`.
    pub srp_a_hex: &'a str,
    /// `PASSWORD_CLAIM_SECRET_BLOCK`, base64-decoded.
    pub secret_block: &'a [u8],
    /// `TIMESTAMP` as sent.
    pub timestamp: &'a str,
    /// `PASSWORD_CLAIM_SIGNATURE` as sent (base64).
    pub signature_b64: &'a str,
}

impl fmt::Debug for Claim<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claim")
            .field("pool_name", &self.pool_name)
            .field("user_id", &self.user_id)
            .field("secret_b", &"<redacted>")
            .field("timestamp", &self.timestamp)
            .finish_non_exhaustive()
    }
}

/// The group's constants, computed once: N's Montgomery parameters, g and k.
struct Group {
    n: BoxedUint,
    params: BoxedMontyParams,
    g: BoxedMontyForm,
    k: BoxedMontyForm,
}

static GROUP: LazyLock<Group> = LazyLock::new(Group::new);

impl Group {
    fn new() -> Self {
        let n = BoxedUint::from_be_hex(N_HEX, N_BITS).expect("N_HEX is 3072 bits of hex");
        let odd = Odd::new(n.clone()).expect("N is odd");
        let params = BoxedMontyParams::new_vartime(odd);
        let g_int = uint_from_be(&[G]).expect("g fits");
        let k_int = uint_from_be(&hash_padded(&[&n, &g_int])).expect("a hash fits");
        Group {
            g: BoxedMontyForm::new(g_int, &params),
            k: BoxedMontyForm::new(k_int, &params),
            n,
            params,
        }
    }

    fn monty(&self, value: BoxedUint) -> BoxedMontyForm {
        BoxedMontyForm::new(value, &self.params)
    }

    /// `B = (k*v + g^b) mod N`.
    fn server_public(&self, v: &BoxedMontyForm, b: &BoxedUint) -> BoxedUint {
        let g_b = self.g.pow_bounded_exp(b, exponent_bits(SECRET_B_BYTES));
        self.k.mul(v).add(&g_b).retrieve()
    }
}

/// Salt and verifier for a new password. `x = H(pad(salt) || H(poolName ||
/// userId || ":" || password))`, `v = g^x mod N`. The caller bounds the
/// password (its password policy) before calling.
pub fn make_verifier(pool_name: &str, user_id: &str, password: &str) -> Verifier {
    let group = &*GROUP;
    let mut raw_salt = [0u8; SALT_BYTES];
    rand::rng().fill_bytes(&mut raw_salt);
    let salt = pad(&uint_from_be(&raw_salt).expect("16 bytes fit"));
    let mut x = private_key(&salt, pool_name, user_id, password);
    let v = group.g.pow_bounded_exp(&x, HASH_BITS).retrieve();
    x.zeroize();
    Verifier { salt, verifier: pad(&v) }
}

/// A verifier for a user who has none (or does not exist), made from
/// `seed` without any exponentiation, so it costs nothing that would tell
/// it apart by timing. The same seed gives the same salt, so repeated
/// challenges look like a real user's; no password matches it, as no one
/// knows an `x` with `g^x` equal to it.
pub fn decoy_verifier(seed: &[u8]) -> Verifier {
    let block = |i: u8| Sha256::new().chain_update(seed).chain_update([i]).finalize();
    let raw_salt = block(0);
    let mut v = Vec::with_capacity(N_BYTES);
    for i in 1..=u8::MAX {
        if v.len() >= N_BYTES - 1 {
            break;
        }
        v.extend_from_slice(&block(i));
    }
    // One byte short of N, and not zero: always in 1..N.
    v.truncate(N_BYTES - 1);
    v[0] = v[0].max(1);
    Verifier {
        salt: pad(&uint_from_be(&raw_salt[..SALT_BYTES]).expect("16 bytes fit")),
        verifier: pad(&uint_from_be(&v).expect("383 bytes fit")),
    }
}

/// The answer to `InitiateAuth`: refuses an `SRP_A` that is malformed or
/// `0 mod N`, picks a random `b` and computes `SRP_B`.
pub fn start(verifier: &Verifier, srp_a_hex: &str) -> Result<ServerHalf, SrpError> {
    let group = &*GROUP;
    client_public(srp_a_hex)?;
    let v = group.monty(stored_verifier(verifier)?);
    let mut secret_b = Zeroizing::new(vec![0u8; SECRET_B_BYTES]);
    rand::rng().fill_bytes(&mut secret_b);
    let mut b = secret_exponent(&secret_b)?;
    let big_b = group.server_public(&v, &b);
    b.zeroize();
    if bool::from(big_b.is_zero()) {
        return Err(SrpError::CorruptState("B is 0 mod N"));
    }
    Ok(ServerHalf {
        secret_b,
        srp_b_hex: hex_of_integer(&big_b),
        salt_hex: verifier.salt_hex(),
    })
}

/// Checks a `PASSWORD_VERIFIER` answer: `Ok` only when the client knew the
/// password. The signature must be `HMAC-SHA256(K, poolName || userId ||
/// secretBlock || timestamp)` where `K = HKDF(pad(S), salt = pad(u))` and the
/// timestamp is in its canonical spelling (as Cognito: a zero-padded day or a
/// wrong weekday parses but does not match).
pub fn check_claim(claim: &Claim<'_>) -> Result<(), SrpError> {
    check_bounds(claim)?;
    let timestamp = format_timestamp(parse_timestamp(claim.timestamp)?);
    let signature = decode_signature(claim.signature_b64)?;
    let key = password_key(claim)?;
    let mut mac = HmacSha256::new_from_slice(key.as_slice()).expect("HMAC takes any key");
    for part in [
        claim.pool_name.as_bytes(),
        claim.user_id.as_bytes(),
        claim.secret_block,
        timestamp.as_bytes(),
    ] {
        mac.update(part);
    }
    mac.verify_slice(&signature).map_err(|_| SrpError::NotAuthorized)
}

/// Reads a `TIMESTAMP` ("Tue Dec 1 07:10:20 UTC 2026") as Cognito does:
/// English day and month names, day of month with or without a leading zero,
/// the zone `UTC`. The weekday must be a day name but is not checked against
/// the date (the canonical spelling that is signed is).
pub fn parse_timestamp(timestamp: &str) -> Result<OffsetDateTime, SrpError> {
    read_timestamp(timestamp).ok_or(SrpError::InvalidParameter(TIMESTAMP_FORMAT_MESSAGE))
}

fn read_timestamp(timestamp: &str) -> Option<OffsetDateTime> {
    if timestamp.len() > MAX_TIMESTAMP {
        return None;
    }
    let fields: Vec<&str> = timestamp.split(' ').collect();
    let [weekday, month, day, clock, zone, year] = fields[..] else {
        return None;
    };
    if !WEEKDAYS.contains(&weekday) || zone != "UTC" {
        return None;
    }
    let month_number = MONTHS.iter().position(|m| *m == month)? + 1;
    let month = Month::try_from(u8::try_from(month_number).ok()?).ok()?;
    let date = Date::from_calendar_date(decimal(year, 4)?, month, decimal(day, 2)?).ok()?;
    let clock: Vec<&str> = clock.split(':').collect();
    let [hour, minute, second] = clock[..] else {
        return None;
    };
    let time = Time::from_hms(decimal(hour, 2)?, decimal(minute, 2)?, decimal(second, 2)?).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

/// A field of 1 to `max_digits` ASCII digits.
fn decimal<T: std::str::FromStr>(field: &str, max_digits: usize) -> Option<T> {
    let digits = (1..=max_digits).contains(&field.len()) && field.bytes().all(|c| c.is_ascii_digit());
    if digits { field.parse().ok() } else { None }
}

/// The spelling clients sign: "Tue Dec 1 07:10:20 UTC 2026".
pub fn format_timestamp(at: OffsetDateTime) -> String {
    format!(
        "{} {} {} {:02}:{:02}:{:02} UTC {}",
        WEEKDAYS[usize::from(at.weekday().number_days_from_monday())],
        MONTHS[usize::from(u8::from(at.month())) - 1],
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.year()
    )
}

/// The signed message's names and secret block within their bounds.
fn check_bounds(claim: &Claim<'_>) -> Result<(), SrpError> {
    if claim.pool_name.is_empty() || claim.pool_name.len() > MAX_POOL_NAME {
        return Err(SrpError::InvalidParameter("the user pool name is out of bounds"));
    }
    if claim.user_id.is_empty() || claim.user_id.len() > MAX_USER_ID {
        return Err(SrpError::InvalidParameter("USER_ID_FOR_SRP is out of bounds"));
    }
    if claim.secret_block.len() > MAX_SECRET_BLOCK {
        return Err(SrpError::InvalidParameter("PASSWORD_CLAIM_SECRET_BLOCK is too long"));
    }
    Ok(())
}

/// `PASSWORD_CLAIM_SIGNATURE` as bytes; a wrong length is a wrong signature.
fn decode_signature(signature_b64: &str) -> Result<Vec<u8>, SrpError> {
    if signature_b64.len() > MAX_SIGNATURE_B64 {
        return Err(SrpError::InvalidParameter("PASSWORD_CLAIM_SIGNATURE is too long"));
    }
    base64_simd::STANDARD
        .decode_to_vec(signature_b64)
        .map_err(|_| SrpError::InvalidParameter("PASSWORD_CLAIM_SIGNATURE is not base64"))
}

/// `K = HKDF-SHA256(ikm = pad(S), salt = pad(u), info = "Caldera Derived Key")`,
/// with `u = H(pad(A) || pad(B))` and `S = (A * v^u)^b mod N`.
fn password_key(claim: &Claim<'_>) -> Result<Zeroizing<[u8; KEY_BYTES]>, SrpError> {
    let group = &*GROUP;
    let a = client_public(claim.srp_a_hex)?;
    let v = group.monty(stored_verifier(claim.verifier)?);
    let mut b = secret_exponent(claim.secret_b)?;
    let big_b = group.server_public(&v, &b);
    let u = uint_from_be(&hash_padded(&[&a, &big_b])).expect("a hash fits");
    if bool::from(u.is_zero()) {
        b.zeroize();
        return Err(SrpError::NotAuthorized);
    }
    let base = group.monty(a).mul(&v.pow_bounded_exp(&u, HASH_BITS));
    let mut s = base.pow_bounded_exp(&b, exponent_bits(SECRET_B_BYTES)).retrieve();
    b.zeroize();
    let ikm = Zeroizing::new(pad(&s));
    s.zeroize();
    Ok(hkdf_key(&ikm, &pad(&u)))
}

/// HKDF-SHA256 (RFC 5869) of one 16-byte block, through ring.
fn hkdf_key(ikm: &[u8], salt: &[u8]) -> Zeroizing<[u8; KEY_BYTES]> {
    struct KeyLen;
    impl ring::hkdf::KeyType for KeyLen {
        fn len(&self) -> usize {
            KEY_BYTES
        }
    }
    let mut key = Zeroizing::new([0u8; KEY_BYTES]);
    ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, salt)
        .extract(ikm)
        .expand(&[HKDF_INFO], KeyLen)
        .and_then(|okm| okm.fill(key.as_mut_slice()))
        .expect("16 bytes is within HKDF's output limit");
    key
}

/// `x = H(pad(salt) || H(poolName || userId || ":" || password))`.
fn private_key(salt: &[u8], pool_name: &str, user_id: &str, password: &str) -> BoxedUint {
    let mut inner = Sha256::new();
    inner.update(pool_name.as_bytes());
    inner.update(user_id.as_bytes());
    inner.update(b":");
    inner.update(password.as_bytes());
    let mut inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(salt);
    outer.update(inner.as_slice());
    inner.as_mut_slice().zeroize();
    let mut x_bytes = outer.finalize();
    let x = uint_from_be(x_bytes.as_slice()).expect("a hash fits");
    x_bytes.as_mut_slice().zeroize();
    x
}

/// The client's `A` from its hex: non-empty, bounded, hex digits only, and
/// `0 < A < N` (a client computes `A = g^a mod N`, so `A mod N != 0` and
/// `A < N` hold for every honest one).
fn client_public(srp_a_hex: &str) -> Result<BoxedUint, SrpError> {
    let bad = SrpError::InvalidParameter("SRP_A is not a valid SRP value");
    if srp_a_hex.is_empty() || srp_a_hex.len() > MAX_SRP_A_HEX {
        return Err(bad);
    }
    let bytes = decode_hex_integer(srp_a_hex).ok_or(bad.clone())?;
    let a = uint_from_be(&bytes).ok_or(bad.clone())?;
    if bool::from(a.is_zero()) || a >= GROUP.n {
        return Err(bad);
    }
    Ok(a)
}

/// The stored verifier as an integer, refusing what `make_verifier` cannot
/// have produced (a salt not in padded form, `v` out of range).
fn stored_verifier(verifier: &Verifier) -> Result<BoxedUint, SrpError> {
    if verifier.salt.is_empty() || verifier.salt.len() > MAX_SALT {
        return Err(SrpError::CorruptState("salt length"));
    }
    let salt = uint_from_be(&verifier.salt).ok_or(SrpError::CorruptState("salt"))?;
    if pad(&salt) != verifier.salt {
        return Err(SrpError::CorruptState("salt is not in padded form"));
    }
    let v = uint_from_be(&verifier.verifier).ok_or(SrpError::CorruptState("verifier length"))?;
    if bool::from(v.is_zero()) || v >= GROUP.n {
        return Err(SrpError::CorruptState("verifier out of range"));
    }
    Ok(v)
}

/// `b` from its sealed bytes, which must be exactly what `start` made.
fn secret_exponent(secret_b: &[u8]) -> Result<BoxedUint, SrpError> {
    if secret_b.len() != SECRET_B_BYTES {
        return Err(SrpError::CorruptState("secret b length"));
    }
    uint_from_be(secret_b).ok_or(SrpError::CorruptState("secret b"))
}

fn exponent_bits(bytes: usize) -> u32 {
    u32::try_from(bytes * 8).expect("a small constant")
}

/// An integer of at most N's size, from big-endian bytes (leading zero bytes
/// allowed), at the module's precision. `None` when it has more than 3072 bits.
fn uint_from_be(bytes: &[u8]) -> Option<BoxedUint> {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let significant = &bytes[first..];
    if significant.len() > N_BYTES {
        return None;
    }
    BoxedUint::from_be_slice(significant, N_BITS).ok()
}

/// The clients' padHex rule as bytes: minimal big-endian bytes (`00` for
/// zero), with a `00` in front when the top bit is set.
fn pad(value: &BoxedUint) -> Vec<u8> {
    let trimmed = value.to_be_bytes_trimmed_vartime();
    let mut out = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|&top| top & 0x80 != 0) {
        out.push(0);
    }
    out.extend_from_slice(&trimmed);
    out
}

/// SHA-256 of the padded forms of `values`, one after another.
fn hash_padded(values: &[&BoxedUint]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for value in values {
        hasher.update(pad(value));
    }
    hasher.finalize().into()
}

/// Hex digits (either case, odd count allowed) as big-endian bytes; `None`
/// for anything else.
fn decode_hex_integer(hex: &str) -> Option<Vec<u8>> {
    if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let even = if hex.len() % 2 == 1 { format!("0{hex}") } else { hex.to_owned() };
    hex_simd::decode_to_vec(even.as_bytes()).ok()
}

/// An integer's hex as clients print one (`BigInteger.toString(16)`): lower
/// case, no leading zeros.
fn hex_of_integer(value: &BoxedUint) -> String {
    let hex = hex_lower(&value.to_be_bytes_trimmed_vartime());
    match hex.trim_start_matches('0') {
        "" => "0".to_owned(),
        digits => digits.to_owned(),
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    hex_simd::encode_to_string(bytes, hex_simd::AsciiCase::Lower)
}

/// Serde for byte strings as lower-case hex.
pub(crate) mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::hex_lower(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let hex = String::deserialize(deserializer)?;
        hex_simd::decode_to_vec(hex.as_bytes()).map_err(|_| D::Error::custom("not hex"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_decoy_verifier_is_stable_valid_and_matches_no_password() {
        let decoy = decoy_verifier(b"pool/nobody");
        assert_eq!(decoy, decoy_verifier(b"pool/nobody"), "the same user gets the same salt");
        assert_ne!(decoy.salt, decoy_verifier(b"pool/other").salt);
        let attempt = exchange_with(decoy, PASSWORD, TIMESTAMP);
        assert_eq!(check_claim(&attempt.claim()), Err(SrpError::NotAuthorized));
    }

    const POOL: &str = "AbC123";
    const USER: &str = "alice";
    const PASSWORD: &str = "correct horse battery staple";
    const SECRET_BLOCK: &[u8] = b"opaque sealed challenge state";
    const TIMESTAMP: &str = "Tue Dec 1 07:10:20 UTC 2026";

    /// A client's side of the exchange, written from the Amplify formulas
    /// (`S = (B - k*g^x)^(a + u*x)`), so that the server's different route
    /// (`S = (A*v^u)^b`) must meet it.
    struct TestClient {
        a: BoxedUint,
        srp_a_hex: String,
    }

    impl TestClient {
        fn new() -> Self {
            let mut a_bytes = [0u8; 32];
            rand::rng().fill_bytes(&mut a_bytes);
            let a = uint_from_be(&a_bytes).unwrap();
            let big_a = GROUP.g.pow_bounded_exp(&a, 256).retrieve();
            TestClient {
                a,
                srp_a_hex: hex_of_integer(&big_a),
            }
        }

        fn signature(&self, password: &str, salt_hex: &str, srp_b_hex: &str, timestamp: &str) -> String {
            let group = &*GROUP;
            let salt = decode_hex_integer(salt_hex).unwrap();
            let big_a = uint_from_be(&decode_hex_integer(&self.srp_a_hex).unwrap()).unwrap();
            let big_b = uint_from_be(&decode_hex_integer(srp_b_hex).unwrap()).unwrap();
            let u = uint_from_be(&hash_padded(&[&big_a, &big_b])).unwrap();
            let x = private_key(&salt, POOL, USER, password);
            let base = group.monty(big_b).sub(&group.k.mul(&group.g.pow_bounded_exp(&x, 256)));
            let s = base
                .pow_bounded_exp(&self.a, 256)
                .mul(&base.pow_bounded_exp(&u, 256).pow_bounded_exp(&x, 256))
                .retrieve();
            let key = hkdf_key(&pad(&s), &pad(&u));
            let mut mac = HmacSha256::new_from_slice(key.as_slice()).unwrap();
            for part in [POOL.as_bytes(), USER.as_bytes(), SECRET_BLOCK, timestamp.as_bytes()] {
                mac.update(part);
            }
            base64_simd::STANDARD.encode_to_string(mac.finalize().into_bytes())
        }
    }

    /// One sign-in: a verifier for PASSWORD, a challenge, and a client answer
    /// made with `client_password` at `timestamp`.
    struct Exchange {
        verifier: Verifier,
        half: ServerHalf,
        client: TestClient,
        signature: String,
    }

    fn exchange(client_password: &str, timestamp: &str) -> Exchange {
        exchange_with(make_verifier(POOL, USER, PASSWORD), client_password, timestamp)
    }

    /// [`exchange`] against a given verifier.
    fn exchange_with(verifier: Verifier, client_password: &str, timestamp: &str) -> Exchange {
        let client = TestClient::new();
        let half = start(&verifier, &client.srp_a_hex).unwrap();
        let signature = client.signature(client_password, &half.salt_hex, &half.srp_b_hex, timestamp);
        Exchange {
            verifier,
            half,
            client,
            signature,
        }
    }

    impl Exchange {
        fn claim(&self) -> Claim<'_> {
            Claim {
                pool_name: POOL,
                user_id: USER,
                verifier: &self.verifier,
                secret_b: &self.half.secret_b,
                srp_a_hex: &self.client.srp_a_hex,
                secret_block: SECRET_BLOCK,
                timestamp: TIMESTAMP,
                signature_b64: &self.signature,
            }
        }
    }

    fn int(hex: &str) -> BoxedUint {
        uint_from_be(&decode_hex_integer(hex).unwrap()).unwrap()
    }

    #[test]
    fn pad_follows_the_clients_pad_hex_rule() {
        assert_eq!(pad(&int("0")), vec![0x00]);
        assert_eq!(pad(&int("7f")), vec![0x7f]);
        assert_eq!(pad(&int("80")), vec![0x00, 0x80]);
        assert_eq!(pad(&int("abc")), vec![0x0a, 0xbc]);
        assert_eq!(pad(&int("000012")), vec![0x12]);
        let n = pad(&GROUP.n);
        assert_eq!((n.len(), n[0], n[1]), (N_BYTES + 1, 0x00, 0xff));
    }

    #[test]
    fn integers_print_as_bigint_to_string_16() {
        assert_eq!(hex_of_integer(&int("0")), "0");
        assert_eq!(hex_of_integer(&int("0abc")), "abc");
        assert_eq!(hex_of_integer(&int("00ff01")), "ff01");
    }

    #[test]
    fn k_is_the_hash_of_padded_n_and_g() {
        // H("00" + N_HEX + "0" + G_HEX) as pycognito's AWSSRP.val_k and Amplify compute it.
        let expected = "538282c4354742d7cbbde2359fcf67f9f5b3a6b08791e5011b43b8a5b66d9ee6";
        assert_eq!(hex_lower(&pad(&GROUP.k.retrieve())), expected);
        let mut direct = Sha256::new();
        direct.update([0u8]);
        direct.update(hex_simd::decode_to_vec(N_HEX).unwrap());
        direct.update([G]);
        assert_eq!(hex_lower(&direct.finalize()), expected);
    }

    #[test]
    fn the_salt_is_stored_in_padded_form_and_the_verifier_is_g_to_the_x() {
        let verifier = make_verifier(POOL, USER, PASSWORD);
        let salt = uint_from_be(&verifier.salt).unwrap();
        assert_eq!(pad(&salt), verifier.salt);
        let x = private_key(&verifier.salt, POOL, USER, PASSWORD);
        let v = GROUP.g.pow_bounded_exp(&x, 256).retrieve();
        assert_eq!(pad(&v), verifier.verifier);
        assert_ne!(make_verifier(POOL, USER, PASSWORD).salt, verifier.salt);
    }

    #[test]
    fn the_right_password_is_accepted() {
        let ex = exchange(PASSWORD, TIMESTAMP);
        assert_eq!(check_claim(&ex.claim()), Ok(()));
    }

    #[test]
    fn a_wrong_password_is_refused() {
        let ex = exchange("correct horse battery stapler", TIMESTAMP);
        assert_eq!(check_claim(&ex.claim()), Err(SrpError::NotAuthorized));
    }

    #[test]
    fn a_tampered_secret_block_user_or_pool_is_refused() {
        let ex = exchange(PASSWORD, TIMESTAMP);
        let tampered = [SECRET_BLOCK, b"x"].concat();
        for claim in [
            Claim {
                secret_block: &tampered,
                ..ex.claim()
            },
            Claim {
                user_id: "alicf",
                ..ex.claim()
            },
            Claim {
                pool_name: "AbC124",
                ..ex.claim()
            },
        ] {
            assert_eq!(check_claim(&claim), Err(SrpError::NotAuthorized));
        }
    }

    #[test]
    fn a_tampered_or_non_canonical_timestamp_is_refused() {
        let ex = exchange(PASSWORD, TIMESTAMP);
        for timestamp in [
            "Tue Dec 1 07:10:21 UTC 2026",
            "Wed Dec 2 07:10:20 UTC 2026",
            "Tue Dec 1 07:10:20 UTC 2025",
        ] {
            let claim = Claim { timestamp, ..ex.claim() };
            assert_eq!(check_claim(&claim), Err(SrpError::NotAuthorized), "{timestamp}");
        }
        let bad_format = SrpError::InvalidParameter(TIMESTAMP_FORMAT_MESSAGE);
        for timestamp in [
            "",
            "Tue Dec 1 07:10:20 GMT+1 2026",
            "Tue Dec 1 7:10 UTC 2026",
            "Tue Dec 32 07:10:20 UTC 2026",
            "Tue Dez 1 07:10:20 UTC 2026",
            "Tue  Dec 1 07:10:20 UTC 2026",
            "2026-12-01T07:10:20Z",
            &"9".repeat(MAX_TIMESTAMP + 1),
        ] {
            let claim = Claim { timestamp, ..ex.claim() };
            assert_eq!(check_claim(&claim), Err(bad_format.clone()), "{timestamp}");
        }
    }

    #[test]
    fn a_claim_signed_over_a_non_canonical_timestamp_fails_as_at_cognito() {
        // Cognito checks the signature over the canonical spelling: "Dec 01" or a
        // wrong weekday is read, but a client that signed it as sent is refused.
        for sent in ["Tue Dec 01 07:10:20 UTC 2026", "Wed Dec 1 07:10:20 UTC 2026"] {
            let ex = exchange(PASSWORD, sent);
            let claim = Claim {
                timestamp: sent,
                ..ex.claim()
            };
            assert_eq!(check_claim(&claim), Err(SrpError::NotAuthorized), "{sent}");
        }
    }

    #[test]
    fn timestamps_read_and_print_like_the_clients() {
        let at = parse_timestamp("Wed Dec 02 09:05:07 UTC 2026").unwrap();
        assert_eq!(format_timestamp(at), "Wed Dec 2 09:05:07 UTC 2026");
        assert_eq!(format_timestamp(parse_timestamp(TIMESTAMP).unwrap()), TIMESTAMP);
        assert_eq!(at.unix_timestamp(), 1_796_202_307);
        let lenient = parse_timestamp("Mon Feb 29 7:5:9 UTC 2028").unwrap();
        assert_eq!(format_timestamp(lenient), "Tue Feb 29 07:05:09 UTC 2028");
        for unreadable in [
            "Sun Feb 29 07:05:09 UTC 2027",
            "Tue Dec 1 24:00:00 UTC 2026",
            "Tue Dec 1 07:10:200 UTC 2026",
        ] {
            assert!(parse_timestamp(unreadable).is_err(), "{unreadable}");
        }
    }

    #[test]
    fn a_bad_srp_a_is_refused() {
        let verifier = make_verifier(POOL, USER, PASSWORD);
        let n_plus_one = hex_of_integer(&GROUP.n.wrapping_add(BoxedUint::one_with_precision(N_BITS)));
        for srp_a in [
            "".to_owned(),
            "0".to_owned(),
            "0000".to_owned(),
            "xyz".to_owned(),
            "-1".to_owned(),
            "12 34".to_owned(),
            N_HEX.to_owned(),
            format!("00{N_HEX}"),
            n_plus_one,
            "1".repeat(MAX_SRP_A_HEX + 1),
            format!("1{N_HEX}"),
        ] {
            let refused = start(&verifier, &srp_a).unwrap_err();
            assert_eq!(refused, SrpError::InvalidParameter("SRP_A is not a valid SRP value"), "{srp_a}");
        }
        let client = TestClient::new();
        let with_zeros = format!("{:0>width$}", client.srp_a_hex, width = MAX_SRP_A_HEX);
        assert!(start(&verifier, &with_zeros).is_ok());
    }

    #[test]
    fn malformed_signatures_and_state_are_refused() {
        let ex = exchange(PASSWORD, TIMESTAMP);
        let not_base64 = Claim {
            signature_b64: "not base64!",
            ..ex.claim()
        };
        assert!(matches!(check_claim(&not_base64), Err(SrpError::InvalidParameter(_))));
        let long = "A".repeat(MAX_SIGNATURE_B64 + 4);
        let too_long = Claim {
            signature_b64: &long,
            ..ex.claim()
        };
        assert!(matches!(check_claim(&too_long), Err(SrpError::InvalidParameter(_))));
        let short = Claim {
            signature_b64: "AAAA",
            ..ex.claim()
        };
        assert_eq!(check_claim(&short), Err(SrpError::NotAuthorized));
        let short_b = Claim {
            secret_b: &ex.half.secret_b[1..],
            ..ex.claim()
        };
        assert!(matches!(check_claim(&short_b), Err(SrpError::CorruptState(_))));
        let mut unpadded = ex.verifier.clone();
        unpadded.salt.insert(0, 0);
        assert!(matches!(start(&unpadded, &ex.client.srp_a_hex), Err(SrpError::CorruptState(_))));
        let zero_v = Verifier {
            verifier: vec![0],
            ..ex.verifier.clone()
        };
        assert!(matches!(start(&zero_v, &ex.client.srp_a_hex), Err(SrpError::CorruptState(_))));
    }

    #[test]
    fn debug_output_never_shows_b_or_the_verifier() {
        let ex = exchange(PASSWORD, TIMESTAMP);
        let printed = format!("{:?} {:?} {:?}", ex.half, ex.verifier, ex.claim());
        assert!(!printed.contains(&hex_lower(&ex.half.secret_b)));
        assert!(!printed.contains(&format!("{:?}", &ex.half.secret_b[..4])));
        assert!(!printed.contains(&hex_lower(&ex.verifier.verifier)));
        assert!(printed.contains(&ex.half.salt_hex));
    }

    #[test]
    fn a_verifier_survives_json() {
        let verifier = make_verifier(POOL, USER, PASSWORD);
        let json = serde_json::to_string(&verifier).unwrap();
        assert!(json.contains(&verifier.salt_hex()));
        assert_eq!(serde_json::from_str::<Verifier>(&json).unwrap(), verifier);
    }

    /// Prints how long each step takes (`cargo test --release -p tandem-identity
    /// srp::tests::timings -- --nocapture`); in a release build each must stay
    /// well under 200 ms (the aim is 20 ms).
    #[test]
    fn timings() {
        fn median(mut runs: Vec<Duration>) -> Duration {
            runs.sort();
            runs[runs.len() / 2]
        }
        const ROUNDS: usize = 9;
        let client = TestClient::new();
        let (mut make, mut begin, mut check) = (vec![], vec![], vec![]);
        for _ in 0..ROUNDS {
            let t = Instant::now();
            let verifier = make_verifier(POOL, USER, PASSWORD);
            make.push(t.elapsed());
            let t = Instant::now();
            let half = start(&verifier, &client.srp_a_hex).unwrap();
            begin.push(t.elapsed());
            let signature = client.signature(PASSWORD, &half.salt_hex, &half.srp_b_hex, TIMESTAMP);
            let claim = Claim {
                pool_name: POOL,
                user_id: USER,
                verifier: &verifier,
                secret_b: &half.secret_b,
                srp_a_hex: &client.srp_a_hex,
                secret_block: SECRET_BLOCK,
                timestamp: TIMESTAMP,
                signature_b64: &signature,
            };
            let t = Instant::now();
            assert_eq!(check_claim(&claim), Ok(()));
            check.push(t.elapsed());
        }
        let steps = [
            ("make_verifier", median(make)),
            ("start", median(begin)),
            ("check_claim", median(check)),
        ];
        for (step, took) in steps {
            println!("srp {step}: median {:.2} ms of {ROUNDS}", took.as_secs_f64() * 1e3);
            if !cfg!(debug_assertions) {
                assert!(took < Duration::from_millis(200), "{step} took {took:?}");
            }
        }
    }
}
