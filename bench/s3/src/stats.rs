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

/// User + system CPU time consumed so far by a process (all threads): this
/// one for `None`, else the given pid. Read from `/proc/<pid>/stat` (fields 14
/// and 15, in USER_HZ = 100 ticks/s, which is what Linux exports on every
/// mainstream architecture). `None` if the process is gone or unreadable.
pub fn process_cpu_time(pid: Option<u32>) -> Option<Duration> {
    const TICKS_PER_SEC: u64 = 100;
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) is parenthesised and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 1..];
    // `rest` starts at field 3 (state); utime/stime are fields 14/15.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    let ticks = tick(14 - 3)? + tick(15 - 3)?;
    Some(Duration::from_millis(ticks * 1000 / TICKS_PER_SEC))
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
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(100) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let own = process_cpu_time(None).unwrap();
        assert!(own >= Duration::from_millis(50), "{own:?}");
        let by_pid = process_cpu_time(Some(std::process::id())).unwrap();
        assert!(by_pid >= own);
    }
}
