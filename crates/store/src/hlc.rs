//! Hybrid logical clock: every change gets a timestamp that is close to wall-clock
//! time, strictly increasing on this node, and never behind a timestamp the node
//! has seen from a peer. Last-writer-wins compares these values.
//!
//! Layout of a timestamp: the upper 48 bits are milliseconds since the Unix epoch,
//! the lower 16 bits a logical counter that breaks ties within one millisecond.
//!
//! **The guard against a clock running ahead.** Observing a peer's timestamp
//! moves this clock forward, which is what makes a later local write win over
//! what was applied. A peer whose wall clock runs far ahead would drag every
//! region's clock into the future with it, and its writes would win over
//! everything written elsewhere until real time caught up. So a remote
//! timestamp may lead this node's wall clock by at most `max_lead_ms`
//! (default [`DEFAULT_MAX_LEAD_MS`], five minutes): [`HybridClock::admit`]
//! refuses one that leads by more (replication apply then refuses the batch,
//! which the sender retries — the change is held, not lost), and
//! [`HybridClock::observe`] never moves the clock past wall clock + the bound.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Number of low bits used by the logical counter.
const LOGICAL_BITS: u32 = 16;

/// How far a remote timestamp may lead this node's wall clock by default.
/// Well beyond the skew of any NTP-disciplined clock (milliseconds) or a VM
/// pause, yet small enough that a broken clock cannot make its region's writes
/// win for long; it is also inside the 15-minute window SigV4 allows.
pub const DEFAULT_MAX_LEAD_MS: u64 = 5 * 60 * 1000;

/// A node's hybrid logical clock. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct HybridClock {
    /// Last timestamp handed out or observed. A std mutex: the critical section is
    /// a compare and an add, and it is never held across an `.await`.
    last: Mutex<u64>,
    max_lead_ms: AtomicU64,
    /// Remote timestamps refused by [`HybridClock::admit`].
    refused: AtomicU64,
    /// Observations cut short at the bound (a caller that did not `admit` first).
    clamped: AtomicU64,
    /// Largest lead (ms) of a refused or clamped timestamp.
    worst_lead_ms: AtomicU64,
}

/// A remote timestamp that leads this node's wall clock by more than allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a timestamp {lead_ms} ms ahead of this region's clock: at most {max_lead_ms} ms is accepted \
     (is the sending region's clock wrong?); the change is held until the clocks agree"
)]
pub struct ClockAhead {
    pub lead_ms: u64,
    pub max_lead_ms: u64,
}

/// What the guard has seen, for status and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ClockStatus {
    /// Wall clock of this node, ms since the Unix epoch.
    pub wall_ms: u64,
    /// This node's latest timestamp (its ms part).
    pub hlc_ms: u64,
    /// How far the latest timestamp leads the wall clock (0 when behind).
    pub lead_ms: u64,
    pub max_lead_ms: u64,
    pub refused: u64,
    pub clamped: u64,
    pub worst_lead_ms: u64,
}

impl Default for HybridClock {
    fn default() -> Self {
        Self::new(0)
    }
}

impl HybridClock {
    /// A clock that will never hand out a timestamp at or below `floor`
    /// (the highest timestamp found in the store at startup).
    pub fn new(floor: u64) -> Self {
        Self {
            last: Mutex::new(floor),
            max_lead_ms: AtomicU64::new(DEFAULT_MAX_LEAD_MS),
            refused: AtomicU64::new(0),
            clamped: AtomicU64::new(0),
            worst_lead_ms: AtomicU64::new(0),
        }
    }

    /// Sets how far a remote timestamp may lead the wall clock.
    pub fn set_max_lead_ms(&self, ms: u64) {
        self.max_lead_ms.store(ms, Ordering::Relaxed);
    }

    pub fn max_lead_ms(&self) -> u64 {
        self.max_lead_ms.load(Ordering::Relaxed)
    }

    /// A fresh timestamp, strictly greater than every earlier one.
    pub fn now(&self) -> u64 {
        let physical = wall_millis() << LOGICAL_BITS;
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        *last = if physical > *last { physical } else { *last + 1 };
        *last
    }

    /// Checks that a remote timestamp is within the bound; counts a refusal.
    pub fn admit(&self, remote: u64) -> Result<(), ClockAhead> {
        let max_lead_ms = self.max_lead_ms();
        let lead_ms = hlc_millis(remote).saturating_sub(wall_millis());
        if lead_ms <= max_lead_ms {
            return Ok(());
        }
        self.refused.fetch_add(1, Ordering::Relaxed);
        self.worst_lead_ms.fetch_max(lead_ms, Ordering::Relaxed);
        Err(ClockAhead { lead_ms, max_lead_ms })
    }

    /// Moves the clock past a timestamp received from another region, but never
    /// past wall clock + the bound (such an observation is counted as clamped).
    pub fn observe(&self, remote: u64) {
        let wall = wall_millis();
        let cap = (wall.saturating_add(self.max_lead_ms()) << LOGICAL_BITS) | ((1 << LOGICAL_BITS) - 1);
        let target = if remote > cap {
            self.clamped.fetch_add(1, Ordering::Relaxed);
            self.worst_lead_ms
                .fetch_max(hlc_millis(remote).saturating_sub(wall), Ordering::Relaxed);
            cap
        } else {
            remote
        };
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if target > *last {
            *last = target;
        }
    }

    /// The latest timestamp handed out or observed.
    pub fn last(&self) -> u64 {
        *self.last.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn status(&self) -> ClockStatus {
        let wall_ms = wall_millis();
        let hlc_ms = hlc_millis(self.last());
        ClockStatus {
            wall_ms,
            hlc_ms,
            lead_ms: hlc_ms.saturating_sub(wall_ms),
            max_lead_ms: self.max_lead_ms(),
            refused: self.refused.load(Ordering::Relaxed),
            clamped: self.clamped.load(Ordering::Relaxed),
            worst_lead_ms: self.worst_lead_ms.load(Ordering::Relaxed),
        }
    }
}

/// Milliseconds since the Unix epoch encoded in a timestamp.
pub fn hlc_millis(ts: u64) -> u64 {
    ts >> LOGICAL_BITS
}

/// The timestamp at the start of millisecond `ms`.
pub fn hlc_from_millis(ms: u64) -> u64 {
    ms << LOGICAL_BITS
}

fn wall_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: u64 = 60_000;

    #[test]
    fn timestamps_strictly_increase() {
        let clock = HybridClock::new(0);
        let mut prev = clock.now();
        for _ in 0..10_000 {
            let next = clock.now();
            assert!(next > prev);
            prev = next;
        }
    }

    #[test]
    fn observing_a_timestamp_within_the_bound_moves_the_clock_past_it() {
        let clock = HybridClock::new(0);
        let ahead = hlc_from_millis(wall_millis() + 4 * MINUTE);
        assert_eq!(clock.admit(ahead), Ok(()));
        clock.observe(ahead);
        assert!(clock.now() > ahead);
        assert_eq!(clock.status().refused, 0);
        assert_eq!(clock.status().clamped, 0);
    }

    #[test]
    fn a_timestamp_far_ahead_is_refused_and_counted() {
        let clock = HybridClock::new(0);
        let before = clock.now();
        let far = hlc_from_millis(wall_millis() + 60 * MINUTE);
        let err = clock.admit(far).unwrap_err();
        assert_eq!(err.max_lead_ms, DEFAULT_MAX_LEAD_MS);
        assert!(err.lead_ms > 59 * MINUTE, "{err}");
        let st = clock.status();
        assert_eq!(st.refused, 1);
        assert!(st.worst_lead_ms >= err.lead_ms);
        // admit changes nothing.
        assert!(hlc_millis(clock.now()) < hlc_millis(before) + MINUTE);
    }

    #[test]
    fn observe_never_drags_the_clock_past_the_bound() {
        let clock = HybridClock::new(0);
        clock.set_max_lead_ms(MINUTE);
        clock.observe(hlc_from_millis(wall_millis() + 60 * MINUTE));
        let st = clock.status();
        assert_eq!(st.clamped, 1);
        assert!(st.lead_ms <= MINUTE, "lead {} ms", st.lead_ms);
        assert!(hlc_millis(clock.now()) <= wall_millis() + MINUTE + 1);
    }

    #[test]
    fn the_bound_is_configurable() {
        let clock = HybridClock::new(0);
        let ahead = hlc_from_millis(wall_millis() + 10 * MINUTE);
        assert!(clock.admit(ahead).is_err());
        clock.set_max_lead_ms(15 * MINUTE);
        assert_eq!(clock.admit(ahead), Ok(()));
    }

    #[test]
    fn floor_from_store_is_respected() {
        let floor = u64::MAX / 2;
        let clock = HybridClock::new(floor);
        assert!(clock.now() > floor);
    }
}
