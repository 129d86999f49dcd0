//! Measurement helpers for `s3-load`: latency percentiles and the load
//! generator's own CPU time (so a run can show it was not the bottleneck).

use std::time::Duration;

/// Nearest-rank percentile (`q` in 0..=1) of latencies in microseconds,
/// returned in milliseconds. `sorted` must be ascending.
pub fn percentile_ms(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    let idx = rank.clamp(1, sorted.len()) - 1;
    f64::from(sorted[idx]) / 1000.0
}

/// User + system CPU time consumed so far by this process (all threads),
/// read from `/proc/self/stat` (fields 14 and 15, in USER_HZ = 100 ticks/s,
/// which is what Linux exports on every mainstream architecture).
pub fn process_cpu_time() -> Duration {
    const TICKS_PER_SEC: u64 = 100;
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // The command name (field 2) is parenthesised and may contain spaces.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return Duration::ZERO;
    };
    // `rest` starts at field 3 (state); utime/stime are fields 14/15.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    let ticks = tick(14 - 3) + tick(15 - 3);
    Duration::from_millis(ticks * 1000 / TICKS_PER_SEC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let v: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&v, 0.50), 50.0);
        assert_eq!(percentile_ms(&v, 0.99), 99.0);
        assert_eq!(percentile_ms(&[], 0.5), 0.0);
    }

    #[test]
    fn cpu_time_is_readable() {
        let mut x = 0u64;
        for i in 0..50_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        std::hint::black_box(x);
        // Just check parsing works; tick granularity is 10 ms.
        let _ = process_cpu_time();
    }
}
