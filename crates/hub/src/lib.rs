//! Berth's Hub: the metadata store people browse. Search, stars, comments and the
//! visibility-aware listings of repositories, over the accounts' repositories; and
//! [`deletion`], where a repository, an organization or a user is deleted from every store
//! in one transaction.

pub mod comments;
pub mod deletion;
pub mod faults;
pub mod gc;
pub mod quotas;
pub mod search;
pub mod stars;

use std::sync::Arc;

use berth_accounts::access::Identity;
use berth_accounts::repos::RepoSettings;
use berth_accounts::visibility::Viewer;
use berth_accounts::Accounts;
use berth_registry::meta::Meta;
use berth_webhooks::Webhooks;
use sqlx::AnyPool;

pub use berth_accounts::{Error, Result};

/// The Hub's store, and the stores a deletion reaches.
pub struct Hub {
    pub(crate) pool: AnyPool,
    pub(crate) accounts: Arc<Accounts>,
    pub(crate) webhooks: Arc<Webhooks>,
    pub(crate) meta: Meta,
}

impl Hub {
    pub fn new(
        pool: AnyPool,
        accounts: Arc<Accounts>,
        webhooks: Arc<Webhooks>,
        meta: Meta,
    ) -> Self {
        Hub {
            pool,
            accounts,
            webhooks,
            meta,
        }
    }

    /// The registry's metadata, for what the pages show of it (storage usage).
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// What the identity may see, for listings.
    pub async fn viewer(&self, identity: &Identity) -> Result<Viewer> {
        self.accounts.viewer(identity).await
    }

    /// A page of the repositories of `namespace` (a user or an organization) that the identity
    /// may see, by name. Private repositories appear only to those who may pull them.
    pub async fn visible_in_namespace(
        &self,
        identity: &Identity,
        namespace: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<RepoSettings>> {
        let viewer = self.viewer(identity).await?;
        let found = search::search(
            self,
            &viewer,
            &search::Query {
                text: "",
                namespace: Some(namespace),
                signed: false,
                sort: search::Sort::Name,
                offset,
                limit,
            },
        )
        .await?;
        Ok(found.repositories)
    }
}
