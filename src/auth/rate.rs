//! Per-directory token buckets, in memory on each node (a database write per
//! request would cost more than the requests it limits). Beyond the rate,
//! SCIM answers 429 with `Retry-After`.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Instant;

pub struct RateLimiter<K> {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<K, (f64, Instant)>>,
}

impl<K: Eq + Hash + Clone> RateLimiter<K> {
    /// `per_second == 0` disables limiting.
    pub fn new(per_second: u32, burst: u32) -> Self {
        RateLimiter {
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// `n` requests per `period`, all of them available at once (0 disables).
    pub fn per_period(n: u32, period: std::time::Duration) -> Self {
        RateLimiter {
            per_second: f64::from(n) / period.as_secs_f64().max(1.0),
            burst: f64::from(n.max(1)),
            buckets: Mutex::new(HashMap::new()),
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
        let (tokens, last) = buckets.entry(key.clone()).or_insert((self.burst, now));
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
    fn zero_rate_is_unlimited() {
        let r = RateLimiter::new(0, 1);
        let t0 = Instant::now();
        for _ in 0..1000 {
            assert!(r.check_at(&1, t0).is_ok());
        }
    }
}
