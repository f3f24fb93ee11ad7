//! How much a namespace or a repository stores, as the pages show it: "1.2 GiB of 10.0 GiB".

use std::fmt;

use berth_registry::lifecycle::quota::{human_size, Quota};
use berth_registry::meta::Meta;

use super::PageError;

pub struct Storage {
    pub used: i64,
    /// The quota that applies, if any.
    pub limit: Option<i64>,
    /// Whether the quota is the namespace's own (otherwise the configured default).
    pub own: bool,
}

impl Storage {
    pub fn of(quota: &Quota) -> Self {
        Storage {
            used: quota.used,
            limit: quota.limit(),
            own: quota.bytes.is_some(),
        }
    }

    /// Whether the namespace is at or past its quota: new content is refused.
    pub fn full(&self) -> bool {
        self.limit.is_some_and(|l| self.used >= l)
    }

    /// How full, in percent (for a meter), when there is a quota.
    pub fn percent(&self) -> Option<i64> {
        self.limit.map(|l| match l {
            0 => 100,
            l => (self.used.saturating_mul(100) / l).min(100),
        })
    }

    /// The usage alone.
    pub fn used_text(&self) -> String {
        human_size(self.used)
    }

    /// The quota alone, for a label.
    pub fn limit_text(&self) -> String {
        self.limit.map_or_else(|| "none".to_owned(), human_size)
    }
}

impl fmt::Display for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&human_size(self.used))?;
        if let Some(limit) = self.limit {
            write!(f, " of {}", human_size(limit))?;
        }
        Ok(())
    }
}

/// A namespace's usage and quota.
pub async fn of_namespace(meta: &Meta, namespace: &str) -> Result<Storage, PageError> {
    Ok(Storage::of(&meta.quota(namespace).await?))
}

/// A repository's usage, for people.
pub async fn of_repository(meta: &Meta, repository: &str) -> Result<String, PageError> {
    Ok(human_size(meta.repository_usage(repository).await?))
}
