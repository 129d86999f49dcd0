//! Response rate limiting: a token bucket per source network (IPv4 /24,
//! IPv6 /56) so the server cannot be used to flood a spoofed victim. The
//! table is sharded and bounded; when a shard is full, idle buckets go
//! first, then an eighth of the shard.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;
use std::time::Instant;

use crate::config::RateLimitSettings;

const SHARDS: usize = 16;

/// What to do with one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Answer,
    /// Send an empty truncated response, so a real client retries over TCP.
    Slip,
    Drop,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
    refused: u32,
}

pub struct RateLimiter {
    rate: f64,
    burst: f64,
    slip: u32,
    per_shard: usize,
    hasher: std::collections::hash_map::RandomState,
    shards: Vec<Mutex<HashMap<IpAddr, Bucket>>>,
}

impl RateLimiter {
    pub fn new(settings: &RateLimitSettings) -> Self {
        Self {
            rate: f64::from(settings.responses_per_sec),
            burst: f64::from(settings.burst),
            slip: settings.slip,
            per_shard: settings.max_sources.div_ceil(SHARDS).max(1),
            hasher: Default::default(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    pub fn check(&self, source: IpAddr, now: Instant) -> Verdict {
        let key = network(source);
        let shard = &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS];
        let mut map = shard.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.per_shard && !map.contains_key(&key) {
            self.evict(&mut map, now);
        }
        let bucket = map.entry(key).or_insert(Bucket {
            tokens: self.burst,
            at: now,
            refused: 0,
        });
        self.refill(bucket, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Verdict::Answer;
        }
        bucket.refused = bucket.refused.wrapping_add(1);
        match self.slip > 0 && bucket.refused.is_multiple_of(self.slip) {
            true => Verdict::Slip,
            false => Verdict::Drop,
        }
    }

    /// Buckets tracked now.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len()).sum()
    }

    fn refill(&self, bucket: &mut Bucket, now: Instant) {
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.at = now;
    }

    fn evict(&self, map: &mut HashMap<IpAddr, Bucket>, now: Instant) {
        let full_after = self.burst / self.rate;
        map.retain(|_, b| now.saturating_duration_since(b.at).as_secs_f64() < full_after);
        if map.len() >= self.per_shard {
            let drop: Vec<IpAddr> = map.keys().take((self.per_shard / 8).max(1)).copied().collect();
            for k in drop {
                map.remove(&k);
            }
        }
    }
}

/// The network a source is limited as.
fn network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(u32::from(v4) & 0xffff_ff00)),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 72) - 1))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limiter(rate: u32, burst: u32, max_sources: usize) -> RateLimiter {
        RateLimiter::new(&RateLimitSettings {
            responses_per_sec: rate,
            burst,
            max_sources,
            slip: 2,
        })
    }

    #[test]
    fn a_source_gets_its_burst_then_every_second_refusal_slips_then_tokens_refill() {
        let rl = limiter(10, 5, 100);
        let now = Instant::now();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let verdicts: Vec<Verdict> = (0..9).map(|_| rl.check(ip, now)).collect();
        assert!(verdicts[..5].iter().all(|v| *v == Verdict::Answer));
        assert_eq!(&verdicts[5..], [Verdict::Drop, Verdict::Slip, Verdict::Drop, Verdict::Slip]);
        // Same /24: same bucket.
        assert_eq!(rl.check("192.0.2.200".parse().unwrap(), now), Verdict::Drop);
        assert_eq!(rl.check(ip, now + Duration::from_millis(150)), Verdict::Answer);
        assert_eq!(rl.check("198.51.100.1".parse().unwrap(), now), Verdict::Answer);
    }

    #[test]
    fn the_table_stays_bounded_under_many_sources() {
        let rl = limiter(10, 5, 160);
        let now = Instant::now();
        for i in 0..20_000u32 {
            rl.check(IpAddr::V4(Ipv4Addr::from(i << 8)), now);
        }
        assert!(rl.tracked() <= 160, "tracked {}", rl.tracked());
    }
}
