//! Numbers `dynamo-load` reports: latency quantiles, and the CPU time a
//! process (the generator itself, or the server under test) has used, so a
//! run can show whether the generator was the bottleneck.

/// The `q`-quantile (0 < q <= 1, nearest rank) of ascending microsecond
/// latencies, in milliseconds; 0 when there are none.
pub fn quantile_ms(sorted_us: &[u32], q: f64) -> f64 {
    let Some(last) = sorted_us.len().checked_sub(1) else {
        return 0.0;
    };
    let rank = (q * sorted_us.len() as f64).ceil() as usize; // 1-based
    f64::from(sorted_us[rank.saturating_sub(1).min(last)]) / 1e3
}

/// Seconds of user + system CPU that process `pid` ("self" for this one) has
/// used so far, over all its threads: fields 14 and 15 of `/proc/PID/stat`,
/// counted in clock ticks of 1/100 s (Linux's USER_HZ). `None` once the
/// process is gone.
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 2 is "(comm)" and may hold spaces: count fields after its ')'.
    let after_comm = stat.get(stat.rfind(')')? + 2..)?;
    let mut fields = after_comm.split(' ').skip(11); // field 3 + 11 = 14
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let lat: Vec<u32> = (1..=200).map(|ms| ms * 1000).collect();
        assert_eq!(quantile_ms(&lat, 0.5), 100.0);
        assert_eq!(quantile_ms(&lat, 0.99), 198.0);
        assert_eq!(quantile_ms(&lat, 1.0), 200.0);
        assert_eq!(quantile_ms(&[7000], 0.99), 7.0);
        assert_eq!(quantile_ms(&[], 0.5), 0.0);
    }

    #[test]
    fn own_cpu_time_grows_with_work() {
        // Busy until the counter has moved 0.1 s (a loaded machine may give
        // this thread less than its wall time), for at most 10 s of wall time.
        let before = cpu_seconds("self").unwrap();
        let t = std::time::Instant::now();
        let mut x = 1u64;
        let mut used = 0.0;
        while used < 0.1 && t.elapsed().as_secs() < 10 {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
            used = cpu_seconds("self").unwrap() - before;
        }
        assert!(used >= 0.1, "used {used} s in {:?}", t.elapsed());
        assert!(cpu_seconds(&std::process::id().to_string()).unwrap() >= used);
        assert!(cpu_seconds("999999999").is_none());
    }
}
