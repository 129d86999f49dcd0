//! Applications as the deployment defines them: which region is primary and
//! which secondary, and which buckets and tables belong to the app.

use serde::{Deserialize, Serialize};

/// One application of the deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppSpec {
    pub id: String,
    pub primary: String,
    pub secondary: String,
    /// The app's buckets: one per region, replicated both ways.
    #[serde(default)]
    pub buckets: Vec<AppBucket>,
    /// The app's global tables (same name in both regions).
    #[serde(default)]
    pub tables: Vec<AppTable>,
    /// Automatic failover, when the app opts in.
    #[serde(default)]
    pub auto_failover: Option<AutoFailover>,
}

/// A bucket pair: `primary` lives in the primary region, `secondary` in the other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppBucket {
    pub primary: String,
    pub secondary: String,
}

/// A global table with a hash key (and optionally a range key), `name:TYPE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppTable {
    pub name: String,
    pub hash_key: String,
    #[serde(default)]
    pub range_key: Option<String>,
}

/// When the secondary takes over by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoFailover {
    /// Milliseconds between health checks of the primary.
    #[serde(default = "default_interval")]
    pub interval_ms: u64,
    /// Consecutive failed checks before the secondary takes over.
    #[serde(default = "default_threshold")]
    pub failures: u32,
}

fn default_interval() -> u64 {
    500
}

fn default_threshold() -> u32 {
    3
}

impl AppSpec {
    /// Whether a bucket or table belongs to this app.
    pub fn owns_bucket(&self, name: &str) -> bool {
        self.buckets.iter().any(|b| b.primary == name || b.secondary == name)
    }

    pub fn owns_table(&self, name: &str) -> bool {
        self.tables.iter().any(|t| t.name == name)
    }

    /// The region that takes writes in a state, if any.
    pub fn write_region(&self, state: crate::state::AppState) -> Option<&str> {
        use crate::state::AppState::*;
        match state {
            Active => Some(&self.primary),
            Failover => Some(&self.secondary),
            Fenced => None,
        }
    }
}
