//! Answers kept in memory for a moment, so that hot reads (a pull storm on one manifest, the
//! visibility of a popular repository) cost no database round trip per request.
//!
//! Correctness rests on a generation counter: every write that changes what a cache holds bumps
//! it after its transaction ends ([`GenerationCache::on_write`]), and an entry is only served
//! while the generation it was read under is still current. A reader notes the generation
//! *before* its query, so an answer read while a write was committing is never served after
//! that write. Writes made elsewhere (another replica on the same PostgreSQL, an `admin`
//! command) bump it too, when their notification arrives (see [`crate::coherence`]); should one
//! be lost, they show within the time-to-live ([`TTL`] unless configured).

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long an entry is served at most by default, which bounds how stale a replica can be.
pub const TTL: Duration = Duration::from_secs(1);

/// What an entry costs, in bytes, for the cache's bound.
pub type Weigh<K, V> = fn(&K, &V) -> usize;

pub struct GenerationCache<K, V> {
    generation: AtomicU64,
    /// The time-to-live, in milliseconds.
    ttl_ms: AtomicU64,
    weigh: Weigh<K, V>,
    /// Entries heavier than this are not kept.
    max_entry: usize,
    /// Total weight kept; when a new entry would pass it, the cache starts over.
    max_total: usize,
    entries: Mutex<Entries<K, V>>,
}

struct Entries<K, V> {
    map: HashMap<K, Entry<V>>,
    weight: usize,
}

struct Entry<V> {
    value: V,
    weight: usize,
    generation: u64,
    fetched: Instant,
}

impl<K: Hash + Eq, V: Clone> GenerationCache<K, V> {
    pub fn new(weigh: Weigh<K, V>, max_entry: usize, max_total: usize) -> Self {
        GenerationCache {
            generation: AtomicU64::default(),
            ttl_ms: AtomicU64::new(TTL.as_millis() as u64),
            weigh,
            max_entry,
            max_total,
            entries: Mutex::new(Entries {
                map: HashMap::new(),
                weight: 0,
            }),
        }
    }

    /// The generation to note before reading from the database.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn set_ttl(&self, ttl: Duration) {
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        self.ttl_ms.store(ms, Ordering::Relaxed);
    }

    /// Called after every write that may change what is kept.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Invalidates when dropped: taken first thing by every write, so that it fires after the
    /// write's transaction has committed or rolled back, however the write ends.
    pub fn on_write(&self) -> Invalidate<'_> {
        Invalidate(&self.generation)
    }

    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let current = self.generation();
        let ttl = Duration::from_millis(self.ttl_ms.load(Ordering::Relaxed));
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.map.get(key)?;
        (entry.generation == current && entry.fetched.elapsed() < ttl).then(|| entry.value.clone())
    }

    /// Keeps `value`, read from the database under `generation`.
    pub fn put(&self, key: K, generation: u64, value: V) {
        let weight = (self.weigh)(&key, &value);
        if weight > self.max_entry || generation != self.generation() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.weight + weight > self.max_total {
            entries.map.clear();
            entries.weight = 0;
        }
        let entry = Entry {
            value,
            weight,
            generation,
            fetched: Instant::now(),
        };
        let old = entries.map.insert(key, entry).map_or(0, |old| old.weight);
        entries.weight = entries.weight + weight - old;
    }

    #[cfg(test)]
    fn weight(&self) -> (usize, usize) {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        (entries.weight, entries.map.len())
    }
}

/// Bumps a cache's generation when dropped.
pub struct Invalidate<'a>(&'a AtomicU64);

impl Drop for Invalidate<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> GenerationCache<String, &'static str> {
        GenerationCache::new(|k, v| k.len() + v.len(), 100, 1000)
    }

    #[test]
    fn a_write_hides_what_was_read_before_it() {
        let cache = cache();
        let g = cache.generation();
        cache.put("a/b".into(), g, "{}");
        assert_eq!(cache.get("a/b"), Some("{}"));
        assert!(cache.get("a/c").is_none());
        drop(cache.on_write());
        assert!(cache.get("a/b").is_none());
    }

    #[test]
    fn a_read_that_raced_a_write_is_not_kept() {
        let cache = cache();
        let g = cache.generation();
        cache.invalidate();
        cache.put("a/b".into(), g, "{}");
        assert!(cache.get("a/b").is_none());
    }

    #[test]
    fn entries_expire() {
        let cache = cache();
        cache.set_ttl(Duration::ZERO);
        cache.put("a/b".into(), cache.generation(), "{}");
        assert!(cache.get("a/b").is_none());
    }

    #[test]
    fn the_total_stays_bounded() {
        let cache = cache();
        static BIG: &str = "0123456789012345678901234567890123456789";
        for i in 0..200 {
            cache.put(format!("t{i:03}"), cache.generation(), BIG);
        }
        cache.put("huge".into(), cache.generation(), include_str!("cache.rs"));
        let (weight, len) = cache.weight();
        assert!(weight <= 1000, "{weight}");
        assert!(len > 0);
        assert!(cache.get("t199").is_some());
        assert!(cache.get("huge").is_none());
    }
}
