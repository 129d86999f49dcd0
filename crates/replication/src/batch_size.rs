//! How large a batch the shipper sends to a peer. It grows with the backlog:
//! every batch costs a request, a commit at the peer and one here to move the
//! cursor, so a peer that fell far behind catches up in fewer, larger
//! batches, while a peer that keeps up gets small ones.

/// The limits of one batch: log entries read for it, and the body bytes at
/// which it stops growing (a batch always holds at least one change).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct BatchSize {
    pub entries: usize,
    pub bytes: u64,
}

/// The smallest batch: what a peer that keeps up gets.
pub const MIN: BatchSize = BatchSize {
    entries: 512,
    bytes: 8 << 20,
};
/// The largest batch, however far behind the peer is.
pub const MAX: BatchSize = BatchSize {
    entries: 8192,
    bytes: 64 << 20,
};

impl BatchSize {
    /// The rule: a quarter of what waits, in changes and in bytes alike,
    /// within [`MIN`] and [`MAX`]. A backlog then drains in about four
    /// batches (the first lands early, the cursor moves often) and a failed
    /// attempt sends again at most a quarter of it.
    pub fn for_backlog(changes: u64, bytes: u64) -> Self {
        let entries = usize::try_from(changes / 4).unwrap_or(usize::MAX);
        Self {
            entries: entries.clamp(MIN.entries, MAX.entries),
            bytes: (bytes / 4).clamp(MIN.bytes, MAX.bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_backlog_gets_the_smallest_batch() {
        assert_eq!(BatchSize::for_backlog(0, 0), MIN);
        assert_eq!(BatchSize::for_backlog(1_000, 1 << 20), MIN);
    }

    #[test]
    fn the_batch_grows_with_the_backlog_up_to_its_bound() {
        let mid = BatchSize::for_backlog(10_000, 100 << 20);
        assert_eq!(
            mid,
            BatchSize {
                entries: 2_500,
                bytes: 25 << 20
            }
        );
        assert_eq!(BatchSize::for_backlog(200_000, 10 << 30), MAX);
        assert_eq!(BatchSize::for_backlog(u64::MAX, u64::MAX), MAX);
        let sizes: Vec<usize> = [0, 4_000, 8_000, 16_000, 64_000]
            .map(|c| BatchSize::for_backlog(c, 0).entries)
            .to_vec();
        assert!(sizes.windows(2).all(|w| w[0] <= w[1]), "{sizes:?}");
    }
}
