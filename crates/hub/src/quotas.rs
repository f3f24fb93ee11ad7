//! Setting a namespace's storage quota: the registry's row and the audit entry, in one
//! transaction.

use berth_accounts::audit;
use berth_accounts::users::{self, User};
use berth_registry::lifecycle::quota::{self, human_size, Quota};

use crate::{Error, Hub, Result};

impl Hub {
    /// Sets (`Some`, in bytes) or removes (`None`) the storage quota of a namespace (a user or
    /// an organization); site administrators only. Audited as `quota.update`. Returns the
    /// quota it had.
    pub async fn set_quota(
        &self,
        actor: &User,
        namespace: &str,
        bytes: Option<i64>,
    ) -> Result<Option<i64>> {
        if !actor.is_admin || !actor.active {
            return Err(Error::Forbidden);
        }
        if !users::namespace_exists(&self.accounts.db, namespace).await? {
            return Err(Error::NotFound(format!("namespace {namespace}")));
        }
        let mut tx = self.pool.begin().await?;
        let before = quota::set_in(&mut tx, namespace, bytes).await?;
        let shown = |b: Option<i64>| b.map_or_else(|| "none".to_owned(), |b| format!("{b} bytes"));
        let detail = match bytes {
            Some(b) => format!("{b} bytes ({}), was {}", human_size(b), shown(before)),
            None => format!("removed, was {}", shown(before)),
        };
        audit::record_in(&mut tx, &actor.name, "quota.update", namespace, &detail).await?;
        tx.commit().await?;
        self.meta.quotas().remember(namespace, bytes.is_some());
        Ok(before)
    }

    /// One page of every namespace (users and organizations, by name), each with its kind
    /// (`user` or `org`), usage and quota: for site administrators. Each usage is a sum over
    /// the namespace's own repositories, on indexes.
    pub async fn namespace_usage(
        &self,
        actor: &User,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<(String, Quota)>> {
        if !actor.is_admin || !actor.active {
            return Err(Error::Forbidden);
        }
        let names = users::namespaces(&self.accounts.db, offset, limit).await?;
        let mut out = Vec::with_capacity(names.len());
        for (name, kind) in names {
            out.push((kind, self.meta.quota(&name).await?));
        }
        Ok(out)
    }
}
