//! Invalidation by path patterns (`*` matches any run of characters).
//!
//! How it stays cheap: an invalidation walks the stored entries once, at the time it is
//! made (memory tier with `retain`, disk tier through its in-memory index), and removes
//! the matches, so lookups never check patterns at all. The one race left is an origin
//! fetch that started before the invalidation and finishes after it: every fetch notes
//! the invalidation sequence number when it starts, and before storing its answer checks
//! only the invalidations recorded since then (a short log of recent ones; if the log
//! no longer reaches back that far, the answer is served but not stored).

use crate::key::strip_port;
use parking_lot::Mutex;
use std::collections::VecDeque;

/// Most patterns one invalidation takes, and their longest length.
pub const MAX_PATTERNS: usize = 3000;
pub const MAX_PATTERN_BYTES: usize = 1024;
/// Invalidations kept for the fetch race above.
const LOG_LEN: usize = 1024;

/// The patterns of one invalidation, normalised (leading `/`, host without port).
#[derive(Debug, Clone)]
pub(crate) struct Patterns {
    host: Option<String>,
    patterns: Vec<String>,
}

impl Patterns {
    pub(crate) fn new(host: Option<&str>, patterns: &[String]) -> Patterns {
        let patterns = patterns
            .iter()
            .filter(|p| !p.is_empty() && p.len() <= MAX_PATTERN_BYTES)
            .take(MAX_PATTERNS)
            .map(|p| {
                if p.starts_with('/') || p.starts_with('*') {
                    p.clone()
                } else {
                    format!("/{p}")
                }
            })
            .collect();
        Patterns {
            host: host.map(|h| strip_port(h).to_ascii_lowercase()),
            patterns,
        }
    }

    /// Does an entry of `host` and `path` match?
    pub(crate) fn matches(&self, host: &str, path: &str) -> bool {
        if self.host.as_deref().is_some_and(|h| h != host) {
            return false;
        }
        self.patterns.iter().any(|p| glob_match(p.as_bytes(), path.as_bytes()))
    }
}

/// `*` matches any run (also empty); every other byte matches itself. Linear-time
/// two-pointer match (no backtracking blow-up on hostile patterns).
pub(crate) fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&b| b == b'*')
}

/// Recent invalidations, for fetches that were in flight when one was made.
#[derive(Debug, Default)]
pub(crate) struct Log {
    inner: Mutex<LogInner>,
}

#[derive(Debug, Default)]
struct LogInner {
    seq: u64,
    /// Highest sequence number no longer in `recent`.
    forgotten: u64,
    recent: VecDeque<(u64, Patterns)>,
}

impl Log {
    /// The sequence number a fetch starting now notes.
    pub(crate) fn current(&self) -> u64 {
        self.inner.lock().seq
    }

    /// Records an invalidation (before its entries are removed).
    pub(crate) fn record(&self, patterns: Patterns) {
        let mut log = self.inner.lock();
        log.seq += 1;
        let seq = log.seq;
        log.recent.push_back((seq, patterns));
        if log.recent.len() > LOG_LEN
            && let Some((old, _)) = log.recent.pop_front()
        {
            log.forgotten = old;
        }
    }

    /// Runs `store` unless an invalidation made since `since` matches `host`/`path`.
    /// The check and the store happen under the log's lock, and an invalidation is
    /// recorded under it before it removes entries, so no stale answer slips in between.
    pub(crate) fn store_unless_invalidated(&self, since: u64, host: &str, path: &str, store: impl FnOnce()) -> bool {
        let log = self.inner.lock();
        let invalidated = log.forgotten > since
            || log
                .recent
                .iter()
                .rev()
                .take_while(|(seq, _)| *seq > since)
                .any(|(_, p)| p.matches(host, path));
        if !invalidated {
            store();
        }
        !invalidated
    }
}
