//! The identity records kept in the store: a user of a pool and a revoked
//! refresh token. Each carries the clock time and region of its last write
//! (its [`Stamp`]), which decides between concurrent writes in two regions.
//! A deleted user stays as a tombstone so a late replica cannot resurrect it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest record key (pool id, kind, user name: all bounded well below).
pub const MAX_KEY_BYTES: usize = 512;

/// When and where a record was last written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub hlc: u64,
    pub origin: String,
}

impl Stamp {
    /// The stamp of a stored record (`None`: not an identity record).
    pub fn of(record: &Value) -> Option<Stamp> {
        Some(Stamp {
            hlc: record.get("hlc")?.as_u64()?,
            origin: record.get("origin")?.as_str()?.to_string(),
        })
    }

    /// Whether a write stamped `self` wins over one stamped `held`.
    pub fn supersedes(&self, held: &Stamp) -> bool {
        (self.hlc, &self.origin) > (held.hlc, &held.origin)
    }
}

/// A user's state, as Cognito names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserStatus {
    /// Created by an admin: the temporary password must be changed at the first sign-in.
    ForceChangePassword,
    Confirmed,
    /// An admin reset the password: the user cannot sign in until a new one is set.
    ResetRequired,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::ForceChangePassword => "FORCE_CHANGE_PASSWORD",
            UserStatus::Confirmed => "CONFIRMED",
            UserStatus::ResetRequired => "RESET_REQUIRED",
        }
    }
}

/// What proves a user's password: an argon2id hash (password flows) and the
/// SRP salt and verifier (SRP flow). Never the password itself.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret {
    /// PHC string of the argon2id hash.
    pub argon2: String,
    /// SRP-6a salt and verifier, as Cognito's SRP flow needs them.
    #[serde(default)]
    pub srp: Option<crate::srp::Verifier>,
    /// A temporary password stops working at this time (ms since the epoch).
    #[serde(default)]
    pub expires_ms: Option<u64>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("expires_ms", &self.expires_ms)
            .finish_non_exhaustive()
    }
}

/// One user of a pool (`POOL/user/USERNAME`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRecord {
    #[serde(flatten)]
    pub stamp: Stamp,
    pub username: String,
    /// The user's immutable id (a UUID), the `sub` claim.
    pub sub: String,
    pub attributes: BTreeMap<String, String>,
    pub status: UserStatus,
    pub enabled: bool,
    pub secret: Option<Secret>,
    pub groups: BTreeSet<String>,
    /// Incremented by a global sign-out: tokens of an earlier generation are revoked.
    pub generation: u32,
    pub created_ms: u64,
    pub modified_ms: u64,
    /// A deleted user is kept as a tombstone (no attributes, no secret).
    #[serde(default)]
    pub deleted: bool,
}

/// A revoked refresh token (`POOL/revoked/TOKEN_ID`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revocation {
    #[serde(flatten)]
    pub stamp: Stamp,
    /// When the token would have expired anyway (ms): the record can go then.
    pub expires_ms: u64,
}

/// The store key of a user.
pub fn user_key(pool: &str, username: &str) -> String {
    format!("{pool}/user/{username}")
}

/// The key prefix of every user of a pool.
pub fn users_prefix(pool: &str) -> String {
    format!("{pool}/user/")
}

/// The store key of a revoked refresh token.
pub fn revocation_key(pool: &str, token_id: &str) -> String {
    format!("{pool}/revoked/{token_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_write_wins_and_ties_go_to_the_greater_region() {
        let a = Stamp {
            hlc: 5,
            origin: "east".into(),
        };
        let b = Stamp {
            hlc: 6,
            origin: "east".into(),
        };
        let c = Stamp {
            hlc: 6,
            origin: "west".into(),
        };
        assert!(b.supersedes(&a) && !a.supersedes(&b));
        assert!(c.supersedes(&b) && !b.supersedes(&c));
        assert!(!c.supersedes(&c));
    }

    #[test]
    fn a_user_round_trips_with_its_stamp_at_the_top_level() {
        let user = UserRecord {
            stamp: Stamp {
                hlc: 9,
                origin: "east".into(),
            },
            username: "alice".into(),
            sub: "s".into(),
            attributes: BTreeMap::new(),
            status: UserStatus::ForceChangePassword,
            enabled: true,
            secret: None,
            groups: BTreeSet::new(),
            generation: 0,
            created_ms: 1,
            modified_ms: 1,
            deleted: false,
        };
        let json = serde_json::to_value(&user).unwrap();
        assert_eq!(Stamp::of(&json), Some(user.stamp.clone()));
        assert_eq!(json["status"], "FORCE_CHANGE_PASSWORD");
        assert_eq!(serde_json::from_value::<UserRecord>(json).unwrap(), user);
    }
}
