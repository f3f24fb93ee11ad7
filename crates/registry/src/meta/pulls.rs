//! When tags were last pulled. A manifest `GET` notes the pull in memory (one map insert
//! under a lock held for no more than that) and [`Meta::flush_pulls`] writes what was noted,
//! one row per tag or digest however often it was pulled, every few seconds. Each replica
//! flushes its own notes; a write never moves a tag's time backwards, so the column holds the
//! latest pull any of them saw.

use std::collections::HashMap;
use std::sync::Mutex;

use super::Meta;
use crate::error::Result;

/// Distinct tags and digests noted between two flushes, at most: past that, pulls of others
/// wait for the next flush to be noted (only existing manifests are ever noted, so the bound
/// is never reached by honest traffic).
const MAX_NOTED: usize = 100_000;

/// What was pulled: a tag by its name, or every tag pointing at a digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Pulled {
    Tag(String),
    Digest(String),
}

#[derive(Default)]
pub(crate) struct PullLog {
    noted: Mutex<HashMap<(String, Pulled), i64>>,
}

impl PullLog {
    fn note(&self, repository: &str, what: Pulled, at: i64) {
        let mut noted = self.noted.lock().unwrap_or_else(|e| e.into_inner());
        if noted.len() >= MAX_NOTED {
            if let Some(t) = noted.get_mut(&(repository.to_owned(), what)) {
                *t = (*t).max(at);
            }
            return;
        }
        let t = noted.entry((repository.to_owned(), what)).or_insert(at);
        *t = (*t).max(at);
    }

    fn take(&self) -> HashMap<(String, Pulled), i64> {
        std::mem::take(&mut *self.noted.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Puts back what a failed flush did not write.
    fn restore(&self, rest: impl Iterator<Item = ((String, Pulled), i64)>) {
        let mut noted = self.noted.lock().unwrap_or_else(|e| e.into_inner());
        for (key, at) in rest {
            let t = noted.entry(key).or_insert(at);
            *t = (*t).max(at);
        }
    }
}

impl Meta {
    /// Notes a pull of a manifest of `repository`, by `tag` or by its `digest`; no database
    /// access (the next [`Meta::flush_pulls`] writes it).
    pub fn note_pull(&self, repository: &str, tag: Option<&str>, digest: &str) {
        let what = match tag {
            Some(tag) => Pulled::Tag(tag.to_owned()),
            None => Pulled::Digest(digest.to_owned()),
        };
        self.pulls.note(repository, what, crate::clock::now());
    }

    /// Writes the noted pulls' times to their tags in one transaction; returns how many tags
    /// or digests were written. On failure what was noted is kept for the next flush.
    pub async fn flush_pulls(&self) -> Result<usize> {
        let taken = self.pulls.take();
        if taken.is_empty() {
            return Ok(0);
        }
        let count = taken.len();
        let mut entries: Vec<((String, Pulled), i64)> = taken.into_iter().collect();
        match self.write_pulls(&entries).await {
            Ok(()) => Ok(count),
            Err(e) => {
                self.pulls.restore(entries.drain(..));
                Err(e)
            }
        }
    }

    async fn write_pulls(&self, entries: &[((String, Pulled), i64)]) -> Result<()> {
        // No coherence announcement: no cache holds these times.
        let mut tx = self.pool.begin().await?;
        for ((repository, what), at) in entries {
            let (column, value) = match what {
                Pulled::Tag(t) => ("name", t),
                Pulled::Digest(d) => ("manifest_digest", d),
            };
            sqlx::query(&format!(
                "UPDATE tags SET last_pulled_at = $3
                 WHERE repository_id = (SELECT id FROM repositories WHERE name = $1)
                   AND {column} = $2
                   AND (last_pulled_at IS NULL OR last_pulled_at < $3)"
            ))
            .bind(repository)
            .bind(value)
            .bind(*at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pulls_coalesce_to_the_latest_time() {
        let log = PullLog::default();
        log.note("a/b", Pulled::Tag("v1".into()), 10);
        log.note("a/b", Pulled::Tag("v1".into()), 30);
        log.note("a/b", Pulled::Tag("v1".into()), 20);
        log.note("a/b", Pulled::Digest("sha256:x".into()), 5);
        let taken = log.take();
        assert_eq!(taken.len(), 2);
        assert_eq!(taken[&("a/b".to_owned(), Pulled::Tag("v1".into()))], 30);
        assert!(log.take().is_empty());
        log.note("a/b", Pulled::Tag("v1".into()), 40);
        log.restore(taken.into_iter());
        assert_eq!(
            log.take()[&("a/b".to_owned(), Pulled::Tag("v1".into()))],
            40
        );
    }
}
