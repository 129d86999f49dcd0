//! The connection limits a node serves under (`[server]` in tandem.toml): how
//! long a client may take to send a request head, to stay idle between
//! requests, and to make progress on a body; how many connections may be open;
//! and the HTTP/2 stream and header limits. Also raises the process's soft
//! descriptor limit, from which the default connection cap is derived.

use std::time::Duration;

/// Descriptors kept free for the store (metadata, blob files being read or
/// written), replication clients and logging when the cap is derived.
const RESERVED_FDS: u64 = 256;
/// Each connection may hold a socket and a blob file at once.
const FDS_PER_CONNECTION: u64 = 2;
/// The derived cap never exceeds this (memory per connection, not descriptors,
/// becomes the limit beyond it).
const MAX_DERIVED_CONNECTIONS: u64 = 16_384;
/// The derived cap never goes below this.
const MIN_DERIVED_CONNECTIONS: u64 = 64;

/// Limits of the HTTP server of one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLimits {
    /// Time a client has to send a whole request head: from the moment the
    /// connection is accepted, and on a keep-alive connection from the first
    /// byte of the next request.
    pub header_read_timeout: Duration,
    /// Time a keep-alive connection may stay open with no request in flight
    /// and no byte received.
    pub idle_timeout: Duration,
    /// Time a request body (or a response being sent) may go without moving a
    /// byte before the connection is cut. A slow body that keeps moving is fine.
    pub body_progress_timeout: Duration,
    /// Connections open at once; `None` derives it from the descriptor limit.
    pub max_connections: Option<usize>,
    /// Concurrent streams per HTTP/2 connection.
    pub http2_max_concurrent_streams: u32,
    /// Largest HTTP/2 header list (decoded, bytes), as announced in SETTINGS.
    pub http2_max_header_list_size: u32,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_progress_timeout: Duration::from_secs(30),
            max_connections: None,
            http2_max_concurrent_streams: 128,
            http2_max_header_list_size: 64 * 1024,
        }
    }
}

impl ServerLimits {
    /// The connection cap: the configured one, or one derived from the
    /// descriptor limit (after raising the soft limit to the hard one).
    pub fn connection_cap(&self) -> usize {
        match self.max_connections {
            Some(n) => n.max(1),
            None => derived_cap(raise_fd_limit()),
        }
    }
}

/// Connections that fit in `fds` descriptors, leaving room for the rest of the node.
fn derived_cap(fds: Option<u64>) -> usize {
    let fds = fds.unwrap_or(1024);
    let cap = fds.saturating_sub(RESERVED_FDS) / FDS_PER_CONNECTION;
    cap.clamp(MIN_DERIVED_CONNECTIONS, MAX_DERIVED_CONNECTIONS) as usize
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the soft limit
/// now in force (None when it cannot be read).
#[cfg(unix)]
pub fn raise_fd_limit() -> Option<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we own; no other memory is touched.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit only reads the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            tracing::debug!(from = limit.rlim_cur, to = limit.rlim_max, "raised the descriptor limit");
            return Some(limit.rlim_max);
        }
    }
    Some(limit.rlim_cur)
}

#[cfg(not(unix))]
pub fn raise_fd_limit() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_derived_cap_leaves_descriptors_for_the_store_and_is_bounded() {
        assert_eq!(derived_cap(Some(1024)), 384);
        assert_eq!(derived_cap(Some(100)), MIN_DERIVED_CONNECTIONS as usize);
        assert_eq!(derived_cap(Some(1 << 20)), MAX_DERIVED_CONNECTIONS as usize);
        assert_eq!(derived_cap(None), 384);
    }

    #[test]
    fn raising_the_descriptor_limit_reaches_the_hard_limit() {
        let now = raise_fd_limit().expect("the limit can be read");
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: as above.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) }, 0);
        assert_eq!(limit.rlim_cur, now);
        // An unlimited hard limit cannot be the soft one for descriptors.
        assert!(limit.rlim_cur == limit.rlim_max || limit.rlim_max == libc::RLIM_INFINITY);
    }

    #[test]
    fn a_configured_cap_wins_and_is_at_least_one() {
        let mut l = ServerLimits {
            max_connections: Some(0),
            ..ServerLimits::default()
        };
        assert_eq!(l.connection_cap(), 1);
        l.max_connections = Some(7);
        assert_eq!(l.connection_cap(), 7);
    }
}
