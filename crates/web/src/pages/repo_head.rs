//! What every tab of a repository's pages starts from: the repository the viewer may read
//! ([`load`]) and the header the tabs share ([`head`]).

use berth_accounts::access::Permission;
use berth_accounts::repos::RepoSettings;
use berth_accounts::Accounts;
use berth_hub::{stars, Hub};

use super::{PageError, Viewer};
use crate::Site;

/// The header every tab of a repository shows.
pub struct Head {
    pub name: String,
    pub url: String,
    pub namespace: String,
    pub namespace_url: String,
    pub private: bool,
    pub description: String,
    pub stars: i64,
    pub starred: bool,
    pub pulls: i64,
    /// When it was last pushed (Unix seconds), if ever.
    pub pushed: Option<i64>,
    /// `host/namespace/name`, as `docker` names it.
    pub image: String,
    pub pull_command: String,
    /// On a tag's page: the pull command by the tag's digest.
    pub pull_by_digest: Option<String>,
    /// Nothing can be pulled from it yet: the header shows how to push instead.
    pub empty: bool,
    pub signed_in: bool,
    pub admin: bool,
    pub comments: i64,
    /// Which tab is open: `overview`, `tags`, `builds` or `settings`.
    pub tab: &'static str,
    /// What the repository stores, on the tabs that show it.
    pub storage: Option<String>,
}

/// A repository the viewer may read, with what the pages need about it.
pub struct Repo {
    pub settings: RepoSettings,
    pub permission: Permission,
}

/// Loads a repository the viewer may read; anything else is the site's 404.
pub async fn load(accounts: &Accounts, viewer: &Viewer, name: &str) -> Result<Repo, PageError> {
    let (settings, permission) = accounts
        .readable(&viewer.identity(), name)
        .await?
        .ok_or_else(PageError::not_found)?;
    Ok(Repo {
        settings,
        permission,
    })
}

pub async fn head(
    accounts: &Accounts,
    hub: &Hub,
    site: &Site,
    viewer: &Viewer,
    repo: &Repo,
    tab: &'static str,
) -> Result<Head, PageError> {
    let s = &repo.settings;
    let starred = match &viewer.user {
        Some(u) => stars::is_starred(hub, u, &s.repository).await?,
        None => false,
    };
    let namespace_url = if berth_accounts::orgs::by_name(&accounts.db, &s.namespace)
        .await?
        .is_some()
    {
        format!("/o/{}", s.namespace)
    } else {
        format!("/u/{}", s.namespace)
    };
    Ok(Head {
        name: s.repository.clone(),
        url: super::repository_url(&s.repository),
        namespace: s.namespace.clone(),
        namespace_url,
        private: s.private,
        description: s.description.clone(),
        stars: s.star_count,
        starred,
        pulls: s.pull_count,
        pushed: s.last_pushed_at,
        image: format!("{}/{}", site.registry_host(), s.repository),
        pull_command: format!("docker pull {}/{}", site.registry_host(), s.repository),
        pull_by_digest: None,
        // Never pushed; the tabs that count the tags also call a repository empty whose tags
        // were all deleted.
        empty: s.last_pushed_at.is_none(),
        signed_in: viewer.user.is_some(),
        admin: repo.permission >= Permission::Admin,
        comments: s.comment_count,
        tab,
        storage: None,
    })
}
