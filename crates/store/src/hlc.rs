//! Hybrid logical clock: every change gets a timestamp that is close to wall-clock
//! time, strictly increasing on this node, and never behind a timestamp the node
//! has seen from a peer. Last-writer-wins compares these values.
//!
//! Layout of a timestamp: the upper 48 bits are milliseconds since the Unix epoch,
//! the lower 16 bits a logical counter that breaks ties within one millisecond.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Number of low bits used by the logical counter.
const LOGICAL_BITS: u32 = 16;

/// A node's hybrid logical clock. Cheap to share behind an `Arc`.
#[derive(Debug, Default)]
pub struct HybridClock {
    /// Last timestamp handed out or observed. A std mutex: the critical section is
    /// a compare and an add, and it is never held across an `.await`.
    last: Mutex<u64>,
}

impl HybridClock {
    /// A clock that will never hand out a timestamp at or below `floor`
    /// (the highest timestamp found in the store at startup).
    pub fn new(floor: u64) -> Self {
        Self { last: Mutex::new(floor) }
    }

    /// A fresh timestamp, strictly greater than every earlier one.
    pub fn now(&self) -> u64 {
        let physical = wall_millis() << LOGICAL_BITS;
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        *last = if physical > *last { physical } else { *last + 1 };
        *last
    }

    /// Moves the clock past a timestamp received from another region.
    pub fn observe(&self, remote: u64) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if remote > *last {
            *last = remote;
        }
    }

    /// The latest timestamp handed out or observed.
    pub fn last(&self) -> u64 {
        *self.last.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Milliseconds since the Unix epoch encoded in a timestamp.
pub fn hlc_millis(ts: u64) -> u64 {
    ts >> LOGICAL_BITS
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
    fn observing_a_future_timestamp_moves_the_clock_past_it() {
        let clock = HybridClock::new(0);
        let future = clock.now() + (1_000_000 << LOGICAL_BITS);
        clock.observe(future);
        assert!(clock.now() > future);
    }

    #[test]
    fn floor_from_store_is_respected() {
        let floor = u64::MAX / 2;
        let clock = HybridClock::new(floor);
        assert!(clock.now() > floor);
    }
}
