//! Token buckets per key (SCIM directory, sign-in address, client IP), in
//! memory on each node (a database write per request would cost more than
//! the requests it limits). Beyond the rate, SCIM answers 429 with
//! `Retry-After`. A bucket that has refilled completely is the same as no
//! bucket, so such buckets are swept once the map grows: keys a client
//! chooses (addresses, IPs) cannot grow it without bound.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Instant;

pub struct RateLimiter<K> {
    per_second: f64,
    burst: f64,
    buckets: Mutex<Buckets<K>>,
}

struct Buckets<K> {
    map: HashMap<K, (f64, Instant)>,
    /// Sweep full buckets when the map reaches this size.
    sweep_at: usize,
}

/// The smallest map size that triggers a sweep.
const SWEEP_MIN: usize = 1024;

impl<K> Buckets<K> {
    fn new() -> Self {
        Buckets {
            map: HashMap::new(),
            sweep_at: SWEEP_MIN,
        }
    }
}

impl<K: Eq + Hash + Clone> RateLimiter<K> {
    /// `per_second == 0` disables limiting.
    pub fn new(per_second: u32, burst: u32) -> Self {
        RateLimiter {
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(Buckets::new()),
        }
    }

    /// `n` requests per `period`, all of them available at once (0 disables).
    pub fn per_period(n: u32, period: std::time::Duration) -> Self {
        RateLimiter {
            per_second: f64::from(n) / period.as_secs_f64().max(1.0),
            burst: f64::from(n.max(1)),
            buckets: Mutex::new(Buckets::new()),
        }
    }

    /// Take one token for `key`, or say how many whole seconds to wait.
    pub fn check(&self, key: &K) -> Result<(), u64> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &K, now: Instant) -> Result<(), u64> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.map.len() >= buckets.sweep_at {
            buckets.map.retain(|_, (tokens, last)| {
                *tokens + now.saturating_duration_since(*last).as_secs_f64() * self.per_second
                    < self.burst
            });
            buckets.sweep_at = (buckets.map.len() * 2).max(SWEEP_MIN);
        }
        let (tokens, last) = buckets.map.entry(key.clone()).or_insert((self.burst, now));
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *tokens = (*tokens + elapsed * self.per_second).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - *tokens) / self.per_second;
            Err(wait.ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bursts_then_limits_then_refills() {
        let r = RateLimiter::new(2, 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(r.check_at(&"d", t0).is_ok());
        }
        assert_eq!(r.check_at(&"d", t0), Err(1));
        assert!(r.check_at(&"other", t0).is_ok(), "buckets are per key");
        assert!(r.check_at(&"d", t0 + Duration::from_millis(600)).is_ok());
    }

    #[test]
    fn refilled_buckets_are_swept_so_many_keys_do_not_grow_the_map() {
        let r = RateLimiter::per_period(5, Duration::from_secs(3600));
        let t0 = Instant::now();
        for i in 0..SWEEP_MIN {
            assert!(r.check_at(&i, t0).is_ok());
        }
        // An hour later every bucket is full again: the next new key sweeps.
        let later = t0 + Duration::from_secs(3601);
        assert!(r.check_at(&usize::MAX, later).is_ok());
        assert_eq!(r.buckets.lock().unwrap().map.len(), 1);
        // A bucket still in use survives a sweep and keeps its count.
        let r2 = RateLimiter::per_period(5, Duration::from_secs(3600));
        for _ in 0..5 {
            assert!(r2.check_at(&"ann".to_owned(), t0).is_ok());
        }
        for i in 0..SWEEP_MIN {
            assert!(r2.check_at(&format!("k{i}"), t0).is_ok());
        }
        assert!(
            r2.check_at(&"ann".to_owned(), t0 + Duration::from_secs(60))
                .is_err()
        );
    }

    #[test]
    fn zero_rate_is_unlimited() {
        let r = RateLimiter::new(0, 1);
        let t0 = Instant::now();
        for _ in 0..1000 {
            assert!(r.check_at(&1, t0).is_ok());
        }
    }
}
