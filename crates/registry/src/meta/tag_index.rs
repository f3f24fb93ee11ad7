//! The tags tab's view of a repository's tags: every name with its push time, kept in memory
//! so that filtering, counting, ordering and paging a repository of 10,000 tags costs no scan
//! of the database. Only the page's own tags are then read, by their key.
//!
//! An index is read in one query, and served for as long as the repository's `tags_version`
//! is the one it was read under: every write that adds, moves or removes a tag raises it in
//! its transaction, whichever replica or process makes it. Checking it is one lookup by key,
//! the same that finds the repository's id.

use std::sync::Arc;
use std::time::Duration;

use crate::cache::GenerationCache;

use super::{Meta, TagOrder};
use crate::error::Result;

/// A repository's tags, by name, and the order of the newest first.
#[derive(Debug)]
pub struct TagIndex {
    pub repository_id: i64,
    /// The repository's `tags_version` this was read under.
    version: i64,
    /// Names in byte order, with when each was last pushed.
    tags: Vec<(Box<str>, i64)>,
    /// Positions in `tags`, most recently pushed first (the name breaking ties).
    newest: Vec<u32>,
}

/// What a page of the index holds.
pub struct IndexPage<'a> {
    /// Tags in all.
    pub total: i64,
    /// Tags whose name holds the filter.
    pub matching: i64,
    /// The page's names, in its order.
    pub names: Vec<&'a str>,
}

pub type TagIndexCache = GenerationCache<String, Arc<TagIndex>>;

/// Indexes of up to this many bytes are kept, and this many bytes in all (about 50 bytes a
/// tag: 600,000 tags in one repository).
const MAX_INDEX_BYTES: usize = 32 << 20;
const MAX_TOTAL_BYTES: usize = 64 << 20;

/// An index is checked on every use, and read again this long after it was read.
const KEPT_UNUSED: Duration = Duration::from_secs(600);

pub fn tag_index_cache() -> TagIndexCache {
    let cache = GenerationCache::new(
        |name: &String, index: &Arc<TagIndex>| name.len() + index.weight(),
        MAX_INDEX_BYTES,
        MAX_TOTAL_BYTES,
    );
    cache.set_ttl(KEPT_UNUSED);
    cache
}

impl TagIndex {
    fn new(repository_id: i64, version: i64, mut tags: Vec<(Box<str>, i64)>) -> TagIndex {
        // The database's order already, unless its collation differs from byte order.
        tags.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut newest: Vec<u32> = (0..tags.len() as u32).collect();
        newest.sort_by(|&a, &b| {
            let (a, b) = (&tags[a as usize], &tags[b as usize]);
            b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0))
        });
        TagIndex {
            repository_id,
            version,
            tags,
            newest,
        }
    }

    fn weight(&self) -> usize {
        self.tags
            .iter()
            .map(|(name, _)| name.len() + 16 + 8 + 4)
            .sum::<usize>()
            + 64
    }

    fn len(&self) -> i64 {
        self.tags.len() as i64
    }

    /// The tags whose name holds `filter` (ignoring ASCII case; all of them if it is empty),
    /// counted, and the `limit` of them after `offset` in `order`.
    pub fn page(&self, filter: &str, order: TagOrder, offset: i64, limit: i64) -> IndexPage<'_> {
        let offset = usize::try_from(offset).unwrap_or(0);
        let limit = usize::try_from(limit).unwrap_or(0);
        let positions: Box<dyn Iterator<Item = usize> + '_> = match order {
            TagOrder::Name => Box::new(0..self.tags.len()),
            TagOrder::Newest => Box::new(self.newest.iter().map(|&i| i as usize)),
        };
        let needle = filter.as_bytes();
        let mut matching = 0usize;
        let mut names = Vec::with_capacity(limit.min(self.tags.len()));
        for i in positions {
            let name = &self.tags[i].0;
            if !contains_ignoring_case(name.as_bytes(), needle) {
                continue;
            }
            if matching >= offset && names.len() < limit {
                names.push(&**name);
            }
            matching += 1;
        }
        IndexPage {
            total: self.len(),
            matching: matching as i64,
            names,
        }
    }
}

/// Whether `haystack` holds `needle`, ASCII letters matching either case.
fn contains_ignoring_case(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

/// `name:updated_at` pairs joined by commas (neither can occur in a tag), as the index query
/// returns them; a malformed pair is left out.
fn parse_pairs(joined: &str) -> Vec<(Box<str>, i64)> {
    joined
        .split(',')
        .filter_map(|pair| {
            let (name, at) = pair.rsplit_once(':')?;
            Some((name.into(), at.parse().ok()?))
        })
        .collect()
}

impl Meta {
    /// The tag index of repository `name` (`None` if there is no such repository), from
    /// memory while it is current.
    pub(crate) async fn tag_index(&self, name: &str) -> Result<Option<Arc<TagIndex>>> {
        let repo: Option<(i64, i64)> =
            sqlx::query_as("SELECT id, tags_version FROM repositories WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        let Some((repo, version)) = repo else {
            return Ok(None);
        };
        if let Some(index) = self.tag_indexes.get(name) {
            if index.repository_id == repo && index.version == version {
                return Ok(Some(index));
            }
        }
        // Read after the version: a write committed in between leaves an index newer than
        // its version, which the next look replaces; never one older.
        // One row for all of them: a row per tag would cost a hand-off from the database
        // driver each, 10,000 of them for a big repository.
        let joined: Option<String> = sqlx::query_scalar(
            "SELECT string_agg(name || ':' || CAST(updated_at AS TEXT), ',' ORDER BY name)
             FROM tags WHERE repository_id = $1",
        )
        .bind(repo)
        .fetch_one(&self.pool)
        .await?;
        let tags = parse_pairs(joined.as_deref().unwrap_or(""));
        let index = Arc::new(TagIndex::new(repo, version, tags));
        self.tag_indexes.put(
            name.to_owned(),
            self.tag_indexes.generation(),
            index.clone(),
        );
        Ok(Some(index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> TagIndex {
        let tags = [
            ("latest", 5),
            ("1.0", 1),
            ("1.1-Slim", 3),
            ("2.0", 3),
            ("edge", 4),
        ];
        TagIndex::new(
            7,
            0,
            tags.iter().map(|(n, at)| ((*n).into(), *at)).collect(),
        )
    }

    #[test]
    fn pages_follow_the_order_asked() {
        let ix = index();
        let page = ix.page("", TagOrder::Newest, 0, 10);
        assert_eq!(page.names, ["latest", "edge", "1.1-Slim", "2.0", "1.0"]);
        assert_eq!((page.total, page.matching), (5, 5));
        let page = ix.page("", TagOrder::Name, 1, 2);
        assert_eq!(page.names, ["1.1-Slim", "2.0"]);
    }

    #[test]
    fn a_filter_ignores_case_and_counts_every_match() {
        let ix = index();
        let page = ix.page("slim", TagOrder::Name, 0, 10);
        assert_eq!(page.names, ["1.1-Slim"]);
        let page = ix.page("1", TagOrder::Newest, 1, 1);
        assert_eq!(page.names, ["1.0"]);
        assert_eq!((page.total, page.matching), (5, 2));
        let page = ix.page("nothing", TagOrder::Newest, 0, 10);
        assert!(page.names.is_empty());
        assert_eq!(page.matching, 0);
    }

    #[test]
    fn the_query_s_pairs_are_read_back() {
        let pairs = parse_pairs("1.0:17,latest:1788602496,broken,x:y");
        assert_eq!(pairs, [("1.0".into(), 17), ("latest".into(), 1788602496)]);
        assert!(parse_pairs("").is_empty());
    }

    #[test]
    fn a_page_past_the_end_is_empty() {
        let ix = index();
        let page = ix.page("", TagOrder::Name, 10, 5);
        assert!(page.names.is_empty());
        assert_eq!(page.matching, 5);
    }
}
