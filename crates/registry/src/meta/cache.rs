//! Recently served manifests, kept in memory so that a pull storm (every node of a cluster
//! starting the same image) is answered without a database round trip per request: a
//! [`GenerationCache`] (see there for why an entry is never served after a write) bumped by
//! every write to tags, manifests or repositories.

use bytes::Bytes;

use crate::cache::GenerationCache;
pub use crate::cache::Invalidate;

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

/// Repository, reference, and whether the reference is a digest (a tag may look like one).
pub type Key = (String, String, bool);

pub type ManifestCache = GenerationCache<Key, Cached>;

pub fn manifest_cache() -> ManifestCache {
    GenerationCache::new(
        |(repository, reference, _), value: &Cached| {
            value.content.len() + repository.len() + reference.len()
        },
        MAX_ENTRY_BYTES,
        MAX_TOTAL_BYTES,
    )
}
