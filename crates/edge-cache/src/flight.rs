//! Request collapsing: the first viewer to miss a key leads the origin fetch; viewers
//! that miss the same key meanwhile wait for its answer instead of fetching too. An
//! answer that cannot be shared (streamed through, not cacheable) sends every waiter to
//! fetch on its own, and so does a leader that vanished without answering.

use crate::api::{OriginFailure, Outcome};
use crate::object::Stored;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::watch;

/// What a leader tells its waiters.
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    /// A response every waiter may serve (if it matches the waiter's variant), and how
    /// the leader served it.
    Object(Arc<Stored>, Outcome),
    /// The origin failed and there was nothing stale: waiters answer the same error.
    Failed(OriginFailure),
    /// Nothing to share: fetch on your own.
    Alone,
}

type Slot = watch::Receiver<Option<Answer>>;

#[derive(Debug, Default)]
pub(crate) struct Flights {
    map: Mutex<HashMap<String, Slot>>,
}

pub(crate) enum Join {
    Lead(Leader),
    Wait(Slot),
}

/// The one fetch in flight for a key; dropping it ends the flight.
pub(crate) struct Leader {
    flights: Arc<Flights>,
    key: String,
    tx: watch::Sender<Option<Answer>>,
}

impl Flights {
    /// Leads the flight for `key`, or joins the one in progress.
    pub(crate) fn join(self: &Arc<Self>, key: &str) -> Join {
        let mut map = self.map.lock();
        if let Some(rx) = map.get(key)
            && rx.has_changed().is_ok()
        {
            return Join::Wait(rx.clone());
        }
        let (tx, rx) = watch::channel(None);
        map.insert(key.to_string(), rx);
        Join::Lead(Leader {
            flights: self.clone(),
            key: key.to_string(),
            tx,
        })
    }

    /// Leads only if no flight is in progress (background revalidation).
    pub(crate) fn lead_if_idle(self: &Arc<Self>, key: &str) -> Option<Leader> {
        match self.join(key) {
            Join::Lead(l) => Some(l),
            Join::Wait(_) => None,
        }
    }

    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        self.map.lock().len()
    }
}

impl Leader {
    pub(crate) fn finish(self, answer: Answer) {
        self.tx.send_replace(Some(answer));
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        let mut map = self.flights.map.lock();
        if map.get(&self.key).is_some_and(|rx| rx.same_channel(&self.tx.subscribe())) {
            map.remove(&self.key);
        }
    }
}

/// Waits for the leader's answer (`Alone` if it left without one).
pub(crate) async fn wait(mut rx: Slot) -> Answer {
    match rx.wait_for(Option::is_some).await {
        Ok(answer) => answer.clone().unwrap_or(Answer::Alone),
        Err(_) => Answer::Alone,
    }
}
