//! Health of one origin and its circuit breaker.
//!
//! The breaker opens on the first failure a request sees (connect error,
//! timeout, broken connection, failover status) or a failed `/health` probe;
//! while open, routing prefers the other origin, so no viewer waits for the
//! same dead origin twice. Only a successful probe (or a request that had to
//! go there anyway, every origin being down, and succeeded) closes it again.
//! The probe loop lives in [`crate::probe`].

use std::sync::atomic::{AtomicBool, Ordering};

use prometheus_client::metrics::gauge::Gauge;

pub struct Health {
    origin: String,
    open: AtomicBool,
    gauge: Gauge,
}

impl Health {
    pub fn new(origin: &str, gauge: Gauge) -> Self {
        gauge.set(0);
        Self {
            origin: origin.to_string(),
            open: AtomicBool::new(false),
            gauge,
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
}
