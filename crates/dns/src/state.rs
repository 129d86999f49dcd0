//! What the server knows right now: each region's addresses and health
//! (from the checks) and each app's write region (from the app-state reads).
//! The query path reads it; the check loops write it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::choose::View;
use crate::config::HealthSettings;

/// One region as the server sees it.
#[derive(Debug)]
pub struct Region {
    pub name: String,
    pub url: String,
    pub addresses: Vec<IpAddr>,
    pub health: Mutex<Health>,
}

/// The result of a region's checks so far.
#[derive(Debug, Default, Clone)]
pub struct Health {
    /// None until the first check; an unchecked region counts as healthy.
    pub healthy: Option<bool>,
    ok_streak: u32,
    fail_streak: u32,
    /// Smoothed duration of successful checks.
    pub latency: Option<Duration>,
    pub last_error: Option<String>,
    pub checks: u64,
    pub failures: u64,
    pub changed_at: Option<Instant>,
}

impl Health {
    /// Folds one check in; returns the new state when it changed.
    pub fn observe(&mut self, result: Result<Duration, String>, settings: &HealthSettings) -> Option<bool> {
        self.checks += 1;
        let before = self.healthy;
        match result {
            Ok(took) => {
                self.ok_streak += 1;
                self.fail_streak = 0;
                self.last_error = None;
                self.latency = Some(match self.latency {
                    Some(old) => (old * 3 + took) / 4,
                    None => took,
                });
                if before.is_none() || (before == Some(false) && self.ok_streak >= settings.recovery_threshold) {
                    self.healthy = Some(true);
                }
            }
            Err(e) => {
                self.failures += 1;
                self.fail_streak += 1;
                self.ok_streak = 0;
                self.last_error = Some(e);
                if before.is_none() || (before == Some(true) && self.fail_streak >= settings.failure_threshold) {
                    self.healthy = Some(false);
                }
            }
        }
        (self.healthy != before).then(|| {
            self.changed_at = Some(Instant::now());
            self.healthy == Some(true)
        })
    }
}

/// An app's state as last read from the regions.
#[derive(Debug, Clone, PartialEq)]
pub struct AppSeen {
    pub state: String,
    pub version: u64,
    pub write_region: Option<String>,
}

#[derive(Debug)]
pub struct State {
    pub regions: Vec<Region>,
    apps: Mutex<HashMap<String, AppSeen>>,
    /// Write region last known for each app, kept while it is fenced.
    writers: Mutex<HashMap<String, String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl State {
    pub fn new(regions: Vec<Region>) -> Self {
        Self {
            regions,
            apps: Mutex::new(HashMap::new()),
            writers: Mutex::new(HashMap::new()),
        }
    }

    pub fn region(&self, name: &str) -> Option<&Region> {
        self.regions.iter().find(|r| r.name == name)
    }

    pub fn health(&self, region: &Region) -> Health {
        lock(&region.health).clone()
    }

    pub fn observe(&self, region: &Region, result: Result<Duration, String>, settings: &HealthSettings) -> Option<bool> {
        lock(&region.health).observe(result, settings)
    }

    /// Records an app state read; returns true when the write region changed.
    pub fn set_app(&self, app: &str, seen: AppSeen) -> bool {
        let mut changed = false;
        if let Some(writer) = &seen.write_region
            && self.region(writer).is_some()
        {
            let old = lock(&self.writers).insert(app.to_string(), writer.clone());
            changed = old.as_deref() != Some(writer);
        }
        lock(&self.apps).insert(app.to_string(), seen);
        changed
    }

    /// Health of every region and every app's state, for `/status` and `tandem status`.
    pub fn status_json(&self) -> Value {
        let regions: Vec<Value> = self
            .regions
            .iter()
            .map(|r| {
                let h = self.health(r);
                json!({
                    "region": r.name,
                    "url": r.url,
                    "healthy": h.healthy.unwrap_or(true),
                    "checked": h.healthy.is_some(),
                    "latency_ms": h.latency.map(|d| d.as_secs_f64() * 1000.0),
                    "checks": h.checks,
                    "failures": h.failures,
                    "last_error": h.last_error,
                })
            })
            .collect();
        let apps: Vec<Value> = lock(&self.apps)
            .iter()
            .map(|(app, seen)| {
                json!({
                    "app": app,
                    "state": seen.state,
                    "version": seen.version,
                    "answer_region": self.write_region(app),
                })
            })
            .collect();
        json!({ "regions": regions, "apps": apps })
    }
}

impl View for State {
    fn healthy(&self, region: &str) -> bool {
        self.region(region).is_some_and(|r| lock(&r.health).healthy != Some(false))
    }

    fn latency(&self, region: &str) -> Option<Duration> {
        self.region(region).and_then(|r| lock(&r.health).latency)
    }

    fn write_region(&self, app: &str) -> Option<String> {
        lock(&self.writers).get(app).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_goes_down_after_failure_threshold_and_back_after_recovery_threshold() {
        let settings = HealthSettings {
            failure_threshold: 3,
            recovery_threshold: 2,
            ..HealthSettings::default()
        };
        let mut h = Health::default();
        let ok = || Ok(Duration::from_millis(2));
        let fail = || Err("refused".to_string());
        assert_eq!(h.observe(ok(), &settings), Some(true), "the first check decides");
        assert_eq!(h.observe(fail(), &settings), None);
        assert_eq!(h.observe(fail(), &settings), None);
        assert_eq!(h.observe(fail(), &settings), Some(false));
        assert_eq!(h.observe(ok(), &settings), None);
        assert_eq!(h.observe(fail(), &settings), None, "a failure resets the recovery streak");
        assert_eq!(h.observe(ok(), &settings), None);
        assert_eq!(h.observe(ok(), &settings), Some(true));
        assert_eq!(h.failures, 4);
    }
}
