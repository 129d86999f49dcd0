//! The state of an application and its record in the store: which state,
//! which version of it (every change adds one), when, by whom and why. The
//! record replicates to every region; the highest version wins, the clock time
//! and region name break a tie between concurrent changes.

use serde::{Deserialize, Serialize};

/// The routing states of the seeds' AppConfig table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AppState {
    /// The primary region takes writes.
    Active,
    /// No region takes writes.
    Fenced,
    /// The secondary region takes writes.
    Failover,
}

impl AppState {
    pub const ALL: [AppState; 3] = [AppState::Active, AppState::Fenced, AppState::Failover];

    pub fn as_str(self) -> &'static str {
        match self {
            AppState::Active => "active",
            AppState::Fenced => "fenced",
            AppState::Failover => "failover",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str().eq_ignore_ascii_case(text))
    }
}

/// An application's state as stored and replicated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateRecord {
    pub state: AppState,
    /// 0 for the implicit initial `active`; each change adds one.
    pub version: u64,
    pub changed_ms: u64,
    pub changed_by: String,
    pub reason: String,
    /// Region where the change was made, and its clock time.
    pub region: String,
    pub hlc: u64,
    /// The access key that signed the change, and the client's address
    /// (empty for changes the node made itself, or learned without them).
    #[serde(default)]
    pub access_key_id: String,
    #[serde(default)]
    pub remote_addr: String,
}

impl StateRecord {
    /// The state of an app nobody has changed yet.
    pub fn initial() -> Self {
        Self {
            state: AppState::Active,
            version: 0,
            changed_ms: 0,
            changed_by: String::new(),
            reason: "initial state".into(),
            region: String::new(),
            hlc: 0,
            access_key_id: String::new(),
            remote_addr: String::new(),
        }
    }

    /// Whether this record supersedes `other`.
    pub fn supersedes(&self, other: &StateRecord) -> bool {
        (self.version, self.hlc, &self.region) > (other.version, other.hlc, &other.region)
    }
}
