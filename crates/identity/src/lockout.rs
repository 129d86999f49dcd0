//! Throttling of wrong passwords, per user of a pool, in this node's memory:
//! after a few failures in a row each further attempt must wait, with the wait
//! doubling up to a cap (Cognito's "Password attempts exceeded"). A success
//! clears the count. The table is bounded: when full, the oldest half goes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before waits begin.
pub const FREE_FAILURES: u32 = 5;
/// Longest wait between attempts.
pub const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// Users tracked at most.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

#[derive(Debug, Default)]
pub struct Lockout {
    failures: Mutex<HashMap<String, Failures>>,
}

impl Failures {
    /// How long after the last failure the next attempt may come.
    fn wait(&self) -> Duration {
        match self.count.checked_sub(FREE_FAILURES + 1) {
            None => Duration::ZERO,
            Some(over) => Duration::from_secs(1u64 << over.min(20)).min(MAX_WAIT),
        }
    }
}

impl Lockout {
    /// Whether `who` may try a password now.
    pub fn may_try(&self, who: &str, now: Instant) -> bool {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.get(who).is_none_or(|f| now.duration_since(f.last) >= f.wait())
    }

    pub fn failed(&self, who: &str, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_TRACKED && !failures.contains_key(who) {
            let mut by_age: Vec<(String, Instant)> = failures.iter().map(|(k, f)| (k.clone(), f.last)).collect();
            by_age.sort_by_key(|(_, last)| *last);
            for (k, _) in by_age.into_iter().take(MAX_TRACKED / 2) {
                failures.remove(&k);
            }
        }
        let entry = failures.entry(who.to_string()).or_insert(Failures { count: 0, last: now });
        entry.count += 1;
        entry.last = now;
    }

    pub fn succeeded(&self, who: &str) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(who);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_begin_after_the_free_failures_and_double() {
        let lockout = Lockout::default();
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES {
            assert!(lockout.may_try("p/alice", t0));
            lockout.failed("p/alice", t0);
        }
        assert!(lockout.may_try("p/alice", t0), "five failures cost nothing yet");
        lockout.failed("p/alice", t0);
        assert!(!lockout.may_try("p/alice", t0));
        assert!(lockout.may_try("p/alice", t0 + Duration::from_secs(2)));
        lockout.failed("p/alice", t0);
        assert!(
            !lockout.may_try("p/alice", t0 + Duration::from_millis(1500)),
            "the wait doubled to 2 s"
        );
        assert!(lockout.may_try("p/bob", t0), "other users are not affected");
        lockout.succeeded("p/alice");
        assert!(lockout.may_try("p/alice", t0));
    }
}
