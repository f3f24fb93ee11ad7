//! Recently served manifests, kept in memory so that a pull storm (every node of a cluster
//! starting the same image) is answered without a database round trip per request.
//!
//! Correctness rests on a generation counter: every write to tags, manifests or repositories in
//! this process bumps it after its transaction ends, and an entry is only served while the
//! generation it was read under is still current. A reader notes the generation *before* its
//! query, so an entry read while a write was committing is never served after that write.
//! Writes made elsewhere (another replica on the same PostgreSQL, an `admin` command) bump it
//! too, when their notification arrives (see [`crate::coherence`]); should one be lost, they
//! show within the time-to-live ([`TTL`] unless configured).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;

/// How long an entry is served at most by default, which bounds how stale a replica can be.
pub const TTL: Duration = Duration::from_secs(1);
/// Manifests larger than this are not kept.
const MAX_ENTRY_BYTES: usize = 256 * 1024;
/// Total bytes kept; when a new entry would pass it, the cache starts over.
const MAX_TOTAL_BYTES: usize = 16 * 1024 * 1024;

/// A manifest as served: shared, so a hit costs no copy.
#[derive(Debug, Clone)]
pub struct Cached {
    pub digest: String,
    pub media_type: String,
    pub size: i64,
    pub content: Bytes,
}

struct Entry {
    value: Cached,
    generation: u64,
    fetched: Instant,
}

pub struct ManifestCache {
    generation: AtomicU64,
    /// The time-to-live, in milliseconds.
    ttl_ms: AtomicU64,
    entries: Mutex<Entries>,
}

impl Default for ManifestCache {
    fn default() -> Self {
        ManifestCache {
            generation: AtomicU64::default(),
            ttl_ms: AtomicU64::new(TTL.as_millis() as u64),
            entries: Mutex::default(),
        }
    }
}

#[derive(Default)]
struct Entries {
    map: HashMap<Key, Entry>,
    bytes: usize,
}

/// Repository, reference, and whether the reference is a digest (a tag may look like one).
type Key = (String, String, bool);

impl ManifestCache {
    /// The generation to note before reading from the database.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn set_ttl(&self, ttl: Duration) {
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        self.ttl_ms.store(ms, Ordering::Relaxed);
    }

    /// Called after every write to tags, manifests or repositories.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Invalidates when dropped: taken first thing by every write, so that it fires after the
    /// write's transaction has committed or rolled back, however the write ends.
    pub fn on_write(&self) -> Invalidate<'_> {
        Invalidate(self)
    }

    pub fn get(&self, repository: &str, reference: &str, by_digest: bool) -> Option<Cached> {
        let current = self.generation();
        let ttl = Duration::from_millis(self.ttl_ms.load(Ordering::Relaxed));
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = entries
            .map
            .get(&(repository.to_owned(), reference.to_owned(), by_digest))?;
        (entry.generation == current && entry.fetched.elapsed() < ttl).then(|| entry.value.clone())
    }

    /// Keeps `value`, read from the database under `generation`.
    pub fn put(
        &self,
        repository: &str,
        reference: &str,
        by_digest: bool,
        generation: u64,
        value: Cached,
    ) {
        let len = value.content.len() + repository.len() + reference.len();
        if len > MAX_ENTRY_BYTES || generation != self.generation() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.bytes + len > MAX_TOTAL_BYTES {
            entries.map.clear();
            entries.bytes = 0;
        }
        let entry = Entry {
            value,
            generation,
            fetched: Instant::now(),
        };
        let key = (repository.to_owned(), reference.to_owned(), by_digest);
        match entries.map.insert(key, entry) {
            Some(old) => {
                let old_len = old.value.content.len() + repository.len() + reference.len();
                entries.bytes = entries.bytes + len - old_len;
            }
            None => entries.bytes += len,
        }
    }
}

pub struct Invalidate<'a>(&'a ManifestCache);

impl Drop for Invalidate<'_> {
    fn drop(&mut self) {
        self.0.invalidate();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(content: &'static [u8]) -> Cached {
        Cached {
            digest: "sha256:abc".into(),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            size: content.len() as i64,
            content: Bytes::from_static(content),
        }
    }

    #[test]
    fn a_write_hides_what_was_read_before_it() {
        let cache = ManifestCache::default();
        let g = cache.generation();
        cache.put("a/b", "latest", false, g, value(b"{}"));
        assert_eq!(
            cache.get("a/b", "latest", false).map(|c| c.content),
            Some(Bytes::from_static(b"{}"))
        );
        assert!(cache.get("a/b", "latest", true).is_none());
        drop(cache.on_write());
        assert!(cache.get("a/b", "latest", false).is_none());
    }

    #[test]
    fn a_read_that_raced_a_write_is_not_kept() {
        let cache = ManifestCache::default();
        let g = cache.generation();
        cache.invalidate();
        cache.put("a/b", "latest", false, g, value(b"{}"));
        assert!(cache.get("a/b", "latest", false).is_none());
    }

    #[test]
    fn the_total_stays_bounded() {
        let cache = ManifestCache::default();
        static BIG: [u8; 200 * 1024] = [b' '; 200 * 1024];
        for i in 0..200 {
            let g = cache.generation();
            cache.put("a/b", &format!("t{i}"), false, g, value(&BIG));
        }
        {
            let entries = cache.entries.lock().unwrap();
            assert!(entries.bytes <= MAX_TOTAL_BYTES, "{}", entries.bytes);
            assert!(!entries.map.is_empty());
        }
        assert!(cache.get("a/b", "t199", false).is_some());
    }
}
