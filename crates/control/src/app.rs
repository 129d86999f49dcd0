//! Applications as the deployment defines them: which region is primary and
//! which secondary, and which buckets and tables belong to the app.

use serde::{Deserialize, Serialize};

/// One application of the deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
pub struct AppBucket {
    pub primary: String,
    pub secondary: String,
}

/// A global table with a hash key (and optionally a range key), `name:TYPE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppTable {
    pub name: String,
    pub hash_key: String,
    #[serde(default)]
    pub range_key: Option<String>,
}

/// When the secondary takes over by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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

    /// The app's bucket in a region, for each bucket pair.
    pub fn bucket_in(&self, pair: &AppBucket, region: &str) -> Option<String> {
        match region {
            r if r == self.primary => Some(pair.primary.clone()),
            r if r == self.secondary => Some(pair.secondary.clone()),
            _ => None,
        }
    }

    /// Checks the spec against the deployment's regions.
    pub fn validate(&self, regions: &[&str]) -> Result<(), String> {
        for r in [&self.primary, &self.secondary] {
            if !regions.contains(&r.as_str()) {
                return Err(format!(
                    "app {}: {r} is not a region of the config (regions: {})",
                    self.id,
                    regions.join(", ")
                ));
            }
        }
        if self.primary == self.secondary {
            return Err(format!("app {}: primary and secondary must be different regions", self.id));
        }
        if let Some(b) = self.buckets.iter().find(|b| b.primary == b.secondary) {
            return Err(format!(
                "app {}: bucket names are unique across regions; name the copy in {} differently than {}",
                self.id, self.secondary, b.primary
            ));
        }
        for t in &self.tables {
            for key in std::iter::once(&t.hash_key).chain(t.range_key.as_ref()) {
                match key.rsplit_once(':') {
                    Some((name, "S" | "N" | "B")) if !name.is_empty() => {}
                    _ => {
                        return Err(format!(
                            "app {}: table {} key {key:?} must be NAME:S, NAME:N or NAME:B",
                            self.id, t.name
                        ));
                    }
                }
            }
        }
        Ok(())
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
