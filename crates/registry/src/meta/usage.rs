//! Storage usage, for pages and the API: what a namespace or a repository stores (see
//! `lifecycle::quota` for how it is counted and limited).

use crate::error::Result;
use crate::lifecycle::quota::{namespace_usage, own_quota, Quota, Quotas};

use super::Meta;

impl Meta {
    /// The default quota and which namespaces have their own.
    pub fn quotas(&self) -> &Quotas {
        &self.quotas
    }

    /// What the namespace uses, in bytes (see the module doc).
    pub async fn namespace_usage(&self, namespace: &str) -> Result<i64> {
        namespace_usage(&mut *self.pool.acquire().await?, namespace).await
    }

    /// What the repository uses, in bytes: the distinct blobs its manifests reference.
    pub async fn repository_usage(&self, repository: &str) -> Result<i64> {
        let used: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(b.size), 0) AS BIGINT)
             FROM (SELECT DISTINCT mb.digest AS digest FROM repositories r
                   JOIN manifests m ON m.repository_id = r.id
                   JOIN manifest_blobs mb ON mb.manifest_id = m.id
                   WHERE r.name = $1) AS d
             JOIN blobs b ON b.digest = d.digest",
        )
        .bind(repository)
        .fetch_one(&mut *self.pool.acquire().await?)
        .await?;
        Ok(used)
    }

    /// The namespace's quota (its own and the default) and usage.
    pub async fn quota(&self, namespace: &str) -> Result<Quota> {
        let mut conn = self.pool.acquire().await?;
        let bytes = own_quota(&mut conn, namespace).await?;
        let used = namespace_usage(&mut conn, namespace).await?;
        Ok(Quota {
            namespace: namespace.to_owned(),
            bytes,
            default_bytes: self.quotas.default_bytes(),
            used,
        })
    }
}
