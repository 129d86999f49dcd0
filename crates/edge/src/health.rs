//! Health of one origin and its circuit breaker.
//!
//! The breaker opens on the first failure a request sees (connect error,
//! timeout, broken connection, failover status) or a failed `/health` probe;
//! while open, routing prefers the other origin, so no viewer waits for the
//! same dead origin twice. Only a successful probe (or a request that had to
//! go there anyway, every origin being down, and succeeded) closes it again.
//! The probe loop lives in [`crate::probe`], which also records each
//! origin's round-trip time (a moving average) for latency routing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::metrics::gauge::Gauge;

pub struct Health {
    origin: String,
    open: AtomicBool,
    gauge: Gauge,
    /// Moving average of the probes' round trips, in microseconds (0: none yet).
    rtt_micros: AtomicU64,
}

impl Health {
    pub fn new(origin: &str, gauge: Gauge) -> Self {
        gauge.set(0);
        Self {
            origin: origin.to_string(),
            open: AtomicBool::new(false),
            gauge,
            rtt_micros: AtomicU64::new(0),
        }
    }

    /// Adds one probe's round trip to the average (weight 1/4, so a slower
    /// link shows within a few probes and one slow probe moves it little).
    pub fn record_rtt(&self, rtt: Duration) {
        let sample = u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX).max(1);
        let old = self.rtt_micros.load(Ordering::Relaxed);
        let new = match old {
            0 => sample,
            _ => old - old / 4 + sample / 4,
        };
        self.rtt_micros.store(new, Ordering::Relaxed);
    }

    /// The average probe round trip, once there was one.
    pub fn rtt(&self) -> Option<Duration> {
        match self.rtt_micros.load(Ordering::Relaxed) {
            0 => None,
            us => Some(Duration::from_micros(us)),
        }
    }

    pub fn is_healthy(&self) -> bool {
        !self.open.load(Ordering::Acquire)
    }

    /// Opens the breaker.
    pub fn failed(&self, why: &str) {
        if !self.open.swap(true, Ordering::AcqRel) {
            self.gauge.set(1);
            tracing::warn!(origin = %self.origin, reason = why, "origin unhealthy: breaker open");
        }
    }

    /// Closes the breaker.
    pub fn recovered(&self) {
        if self.open.swap(false, Ordering::AcqRel) {
            self.gauge.set(0);
            tracing::info!(origin = %self.origin, "origin healthy again: breaker closed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_failure_opens_the_breaker_and_a_recovery_closes_it() {
        let gauge = Gauge::default();
        let h = Health::new("us-east", gauge.clone());
        assert!(h.is_healthy());
        h.failed("connect");
        assert!(!h.is_healthy());
        assert_eq!(gauge.get(), 1);
        h.failed("again");
        h.recovered();
        assert!(h.is_healthy());
        assert_eq!(gauge.get(), 0);
    }

    #[test]
    fn the_round_trip_is_a_moving_average() {
        let h = Health::new("us-east", Gauge::default());
        assert_eq!(h.rtt(), None);
        h.record_rtt(Duration::from_millis(40));
        assert_eq!(h.rtt(), Some(Duration::from_millis(40)));
        h.record_rtt(Duration::from_millis(0));
        assert_eq!(
            h.rtt(),
            Some(Duration::from_millis(30)),
            "one fast probe moves it a quarter of the way"
        );
    }
}
