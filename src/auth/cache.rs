//! A small per-process cache of verified credentials, orgs and compiled
//! policies, so the hot path of an authenticated request does no database
//! read (SPEC §5 "per-node caches").
//!
//! An entry expires `auth.token_cache_secs` after it was **loaded** from the
//! database; a hit never extends it, so a value used a thousand times a second
//! is still re-read once per period. Callers take a [`Stamp`] before reading
//! the database and insert what they read with [`TtlCache::insert_loaded`]:
//! if an invalidation (a local change, or a PostgreSQL notification — see
//! `store::notify`) arrived in between, the value may predate the change and
//! is not cached.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct TtlCache<K, V> {
    ttl: Duration,
    inner: Mutex<Inner<K, V>>,
}

struct Inner<K, V> {
    entries: HashMap<K, (V, Instant)>,
    /// Bumped by every removal, so loads that started before it are not cached.
    generation: u64,
}

/// When a load began, and which invalidations it has seen.
#[derive(Debug, Clone, Copy)]
pub struct Stamp {
    generation: u64,
    at: Instant,
}

/// Bound on entries; beyond it the cache is cleared (credentials are few).
const MAX_ENTRIES: usize = 10_000;

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        TtlCache {
            ttl,
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                generation: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K, V>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The value loaded less than the TTL ago, if any. Does not extend it.
    pub fn get(&self, key: &K) -> Option<V> {
        if self.ttl.is_zero() {
            return None;
        }
        self.lock()
            .entries
            .get(key)
            .filter(|(_, loaded)| loaded.elapsed() < self.ttl)
            .map(|(v, _)| v.clone())
    }

    /// Take before reading the database for [`TtlCache::insert_loaded`].
    pub fn stamp(&self) -> Stamp {
        Stamp {
            generation: self.lock().generation,
            at: Instant::now(),
        }
    }

    /// Cache a value read from the database after `loaded` was taken. It
    /// expires one TTL after `loaded`; nothing is cached when an invalidation
    /// came in since (the value may be older than the change).
    pub fn insert_loaded(&self, key: K, value: V, loaded: Stamp) {
        if self.ttl.is_zero() {
            return;
        }
        let mut inner = self.lock();
        if inner.generation != loaded.generation {
            return;
        }
        if inner.entries.len() >= MAX_ENTRIES {
            inner.entries.clear();
        }
        inner.entries.insert(key, (value, loaded.at));
    }

    pub fn remove(&self, key: &K) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.remove(key);
    }

    /// Drop every entry matching `pred` (e.g. an org under both its keys).
    pub fn remove_where(&self, pred: impl Fn(&K, &V) -> bool) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.retain(|k, (v, _)| !pred(k, v));
    }

    /// Drop everything (the notification stream was interrupted).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put<K: Eq + Hash, V: Clone>(c: &TtlCache<K, V>, k: K, v: V) {
        let s = c.stamp();
        c.insert_loaded(k, v, s);
    }

    #[test]
    fn entries_expire_and_can_be_removed() {
        let c = TtlCache::new(Duration::from_millis(30));
        put(&c, 1, "a");
        assert_eq!(c.get(&1), Some("a"));
        c.remove(&1);
        assert_eq!(c.get(&1), None);
        put(&c, 2, "b");
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(c.get(&2), None);
    }

    #[test]
    fn an_entry_hit_continuously_still_expires_one_ttl_after_its_load() {
        let ttl = Duration::from_millis(80);
        let c = TtlCache::new(ttl);
        let loaded = Instant::now();
        put(&c, 1, "a");
        let mut hits = 0;
        // Hit it far more often than the TTL, as steady traffic does.
        while c.get(&1).is_some() {
            hits += 1;
            assert!(
                loaded.elapsed() < ttl + Duration::from_millis(20),
                "still served {:?} after its load",
                loaded.elapsed()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(
            loaded.elapsed() >= ttl,
            "expired early: {:?}",
            loaded.elapsed()
        );
        assert!(hits > 10, "was not hit continuously ({hits} hits)");
        // A reload starts a new period; hits did not change that either.
        put(&c, 1, "b");
        assert_eq!(c.get(&1), Some("b"));
    }

    #[test]
    fn a_load_that_raced_an_invalidation_is_not_cached() {
        let c = TtlCache::new(Duration::from_secs(60));
        let before = c.stamp();
        // A revocation is announced while the (older) row is being read.
        c.remove(&1);
        c.insert_loaded(1, "stale", before);
        assert_eq!(c.get(&1), None);
        let before = c.stamp();
        c.clear();
        c.insert_loaded(1, "stale", before);
        assert_eq!(c.get(&1), None);
        let before = c.stamp();
        c.remove_where(|k, _| *k == 2);
        c.insert_loaded(1, "stale", before);
        assert_eq!(c.get(&1), None);
        put(&c, 1, "fresh");
        assert_eq!(c.get(&1), Some("fresh"));
    }

    #[test]
    fn the_expiry_counts_from_the_start_of_the_load() {
        let c = TtlCache::new(Duration::from_millis(50));
        let s = c.stamp();
        std::thread::sleep(Duration::from_millis(60));
        c.insert_loaded(1, "slow read", s);
        assert_eq!(c.get(&1), None);
    }

    #[test]
    fn zero_ttl_disables_caching() {
        let c = TtlCache::new(Duration::ZERO);
        put(&c, 1, "a");
        assert_eq!(c.get(&1), None);
    }
}
