//! Passwords: the pool's policy, argon2id hashes (the only form a password is
//! kept in, beside the SRP verifier), and temporary passwords for new users.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::Rng;

use crate::config::PasswordPolicy;
use crate::record::Secret;

/// Longest password accepted (Cognito: 256), checked before any hashing.
pub const MAX_PASSWORD_BYTES: usize = 256;

/// argon2id cost: 19 MiB, 2 passes, 1 lane (OWASP's recommended minimum).
pub const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
pub const ARGON2_PASSES: u32 = 2;
pub const ARGON2_LANES: u32 = 1;

fn hasher() -> Argon2<'static> {
    let Ok(params) = Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES, None) else {
        unreachable!("the argon2 parameters are within argon2's bounds")
    };
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Symbols Cognito counts as special characters.
const SYMBOLS: &str = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+-";

/// Checks a new password against the policy; the message says what is missing.
pub fn check_policy(policy: &PasswordPolicy, password: &str) -> Result<(), String> {
    let mut missing = Vec::new();
    if password.chars().count() < policy.min_length {
        missing.push(format!("at least {} characters", policy.min_length));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        missing.push(format!("at most {MAX_PASSWORD_BYTES} bytes"));
    }
    let has = |f: fn(char) -> bool| password.chars().any(f);
    if policy.require_uppercase && !has(|c| c.is_uppercase()) {
        missing.push("an uppercase letter".into());
    }
    if policy.require_lowercase && !has(|c| c.is_lowercase()) {
        missing.push("a lowercase letter".into());
    }
    if policy.require_numbers && !has(|c| c.is_ascii_digit()) {
        missing.push("a number".into());
    }
    if policy.require_symbols && !has(|c| SYMBOLS.contains(c)) {
        missing.push("a symbol".into());
    }
    if password.starts_with(' ') || password.ends_with(' ') {
        missing.push("no leading or trailing space".into());
    }
    match missing.is_empty() {
        true => Ok(()),
        false => Err(format!("Password does not conform to policy: it needs {}", missing.join(", "))),
    }
}

/// The argon2id hash of a password (PHC string, random salt). Slow on
/// purpose (tens of ms): call it off the async runtime.
pub fn hash(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill(&mut salt);
    match hasher().hash_password_with_salt(password.as_bytes(), &salt) {
        Ok(h) => h.to_string(),
        Err(e) => unreachable!("argon2 hashes any password of at most {MAX_PASSWORD_BYTES} bytes: {e}"),
    }
}

/// Whether a password matches its stored hash (constant time). Slow on purpose.
pub fn verify(password: &str, phc: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    PasswordHash::new(phc).is_ok_and(|h| hasher().verify_password(password.as_bytes(), &h).is_ok())
}

/// A temporary password that meets any policy with at most `min_length`
/// characters: every class, and 16 characters or `min_length` if more.
pub fn temporary(min_length: usize) -> String {
    const CLASSES: [&str; 4] = ["ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghijkmnpqrstuvwxyz", "23456789", "!#%+-=@^_"];
    let mut rng = rand::rng();
    let pick = |rng: &mut rand::rngs::ThreadRng, set: &str| {
        let bytes = set.as_bytes();
        bytes[rng.random_range(0..bytes.len())] as char
    };
    let mut chars: Vec<char> = CLASSES.iter().map(|set| pick(&mut rng, set)).collect();
    let all: String = CLASSES.concat();
    while chars.len() < min_length.clamp(16, MAX_PASSWORD_BYTES) {
        chars.push(pick(&mut rng, &all));
    }
    for i in (1..chars.len()).rev() {
        chars.swap(i, rng.random_range(0..=i));
    }
    chars.into_iter().collect()
}

/// What a user's new password is kept as: its argon2id hash and its SRP
/// verifier (hashing is slow, so it runs off the async runtime).
pub async fn secret(srp_pool_name: &str, username: &str, password: &str, expires_ms: Option<u64>) -> Secret {
    let (pool, user, password) = (srp_pool_name.to_string(), username.to_string(), password.to_string());
    off_runtime(move || Secret {
        argon2: hash(&password),
        srp: Some(crate::srp::make_verifier(&pool, &user, &password)),
        expires_ms,
    })
    .await
}

/// Runs slow work (hashing, SRP arithmetic) off the async runtime; a panic
/// in it is a panic of the caller.
pub(crate) async fn off_runtime<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Whether a password matches a user's secret, checked off the async runtime.
pub async fn matches(password: &str, secret: Option<&Secret>) -> bool {
    // An unknown user costs as much as a known one, so timing tells nothing.
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let phc = secret.map_or(DUMMY.to_string(), |s| s.argon2.clone());
    let known = secret.is_some();
    let password = password.to_string();
    let ok = tokio::task::spawn_blocking(move || verify(&password, &phc)).await.unwrap_or(false);
    ok && known
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_what_a_password_lacks() {
        let p = PasswordPolicy::default();
        assert!(check_policy(&p, "Passw0rd!").is_ok());
        let e = check_policy(&p, "password").unwrap_err();
        assert!(
            e.contains("an uppercase letter") && e.contains("a number") && e.contains("a symbol"),
            "{e}"
        );
        assert!(check_policy(&p, "Sh0rt!").unwrap_err().contains("at least 8"));
        assert!(check_policy(&p, &"Aa1!".repeat(100)).unwrap_err().contains("at most 256"));
    }

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hash("Passw0rd!");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("Passw0rd!", &h));
        assert!(!verify("Passw0rd?", &h));
        assert!(!verify("Passw0rd!", "not a hash"));
    }

    #[test]
    fn temporary_passwords_meet_the_default_policy_and_differ() {
        let (a, b) = (temporary(8), temporary(8));
        assert_ne!(a, b);
        check_policy(&PasswordPolicy::default(), &a).unwrap();
        let long = PasswordPolicy {
            min_length: 40,
            ..PasswordPolicy::default()
        };
        check_policy(&long, &temporary(40)).unwrap();
    }
}
