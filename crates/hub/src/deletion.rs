//! Deleting a repository, an organization or a user: one function per kind, one transaction.
//!
//! Each store deletes its own part (`delete_of_*`) on the transaction that
//! [`berth_registry::meta::Meta::begin_deletion`] begins, and the deletion commits once, so a
//! crash at any point leaves it done completely or not at all. Blob files are left to garbage
//! collection. [`faults::point`] marks the steps, for the tests that kill a server between them.

use berth_accounts::orgs::{self, Org};
use berth_accounts::users::User;
use berth_accounts::{activity, audit, repos};
use berth_registry::lifecycle::immutable;
use berth_registry::lifecycle::quota;
use berth_registry::lifecycle::retention;
use berth_trust::{signing, tuf};
use berth_webhooks::deliveries;

use crate::{comments, faults, stars, Error, Hub, Result};

impl Hub {
    /// Deletes a repository from every store. Its organization's webhooks hear of it (through
    /// the outbox, in the same transaction); its own webhooks and their delivery logs go with
    /// it. The caller has checked that `actor` administers it.
    pub async fn delete_repository(&self, actor: &str, repository: &str) -> Result<()> {
        let mut deletion = self.meta.begin_deletion().await?;
        deletion.delete_repository(repository).await?;
        faults::point("delete-repository:registry").await;
        let conn = deletion.conn();
        berth_webhooks::hooks::delete_of_repository(conn, repository).await?;
        deliveries::stage_repository_deleted(conn, &self.webhooks.config, repository, actor)
            .await?;
        signing::delete_of_repository(conn, repository).await?;
        tuf::store::delete_of_repository(conn, repository).await?;
        immutable::delete_of_repository(conn, repository).await?;
        retention::delete_of_repository(conn, repository).await?;
        berth_builds::sources::delete_of_repository(conn, repository).await?;
        faults::point("delete-repository:webhooks").await;
        stars::delete_of_repository(conn, repository).await?;
        comments::delete_of_repository(conn, repository).await?;
        activity::delete_of_repository(conn, repository).await?;
        repos::delete_of_repository(conn, repository).await?;
        audit::record_in(conn, actor, "repository.delete", repository, "").await?;
        faults::point("delete-repository:commit").await;
        deletion.commit().await?;
        self.accounts.db.forget_visibility();
        self.webhooks.wake();
        Ok(())
    }

    /// Deletes an organization with its repositories, teams and robots. Owners only; refused
    /// while repositories exist in its namespace unless `confirm`.
    pub async fn delete_org(&self, org: &Org, actor: &User, confirm: bool) -> Result<()> {
        if !orgs::can_manage(&self.accounts.db, org, actor).await? {
            return Err(Error::Forbidden);
        }
        let mut deletion = self.meta.begin_deletion().await?;
        orgs::lock(deletion.conn(), org.id).await?;
        // Registry content counts as repositories too, even without settings rows.
        if !confirm && deletion.namespace_in_use(&org.name).await? {
            return Err(Error::InUse(format!(
                "{} still has repositories: pass confirm=true to delete them with it",
                org.name
            )));
        }
        let conn = deletion.conn();
        let repositories = repos::count_in_namespace(conn, &org.name).await?;
        if repositories > 0 && !confirm {
            return Err(Error::InUse(format!(
                "{repositories} repositories in {}: pass confirm=true to delete them with it",
                org.name
            )));
        }
        self.delete_namespace(&mut deletion, &org.name).await?;
        faults::point("delete-org:namespace").await;
        orgs::delete_of_org(deletion.conn(), org).await?;
        audit::record_in(
            deletion.conn(),
            &actor.name,
            "org.delete",
            &org.name,
            &format!("{repositories} repositories"),
        )
        .await?;
        faults::point("delete-org:commit").await;
        deletion.commit().await?;
        self.accounts.db.forget_visibility();
        self.webhooks.wake();
        Ok(())
    }

    /// Deletes a user with the repositories of their namespace, their sessions, tokens,
    /// memberships, stars and comments. Refused while they are the only owner of an
    /// organization. Returns how many repositories went with them.
    pub async fn delete_user(&self, user: &User) -> Result<u64> {
        let mut deletion = self.meta.begin_deletion().await?;
        let removed = self.delete_namespace(&mut deletion, &user.name).await?;
        let conn = deletion.conn();
        stars::delete_of_user(conn, user.id).await?;
        comments::delete_of_user(conn, user.id).await?;
        activity::delete_of_actor(conn, &user.name).await?;
        faults::point("delete-user:namespace").await;
        berth_accounts::users::delete_of_user(conn, user).await?;
        audit::record_in(
            conn,
            &user.name,
            "user.delete",
            &user.name,
            &format!("{removed} repositories"),
        )
        .await?;
        deletion.commit().await?;
        self.accounts.db.forget_visibility();
        Ok(removed)
    }

    /// Every store's part of the repositories under `namespace/`; returns how many
    /// repositories there were.
    async fn delete_namespace(
        &self,
        deletion: &mut berth_registry::meta::Deletion<'_>,
        namespace: &str,
    ) -> Result<u64> {
        deletion.delete_namespace(namespace).await?;
        faults::point("delete-namespace:registry").await;
        let conn = deletion.conn();
        berth_webhooks::hooks::delete_of_namespace(conn, namespace).await?;
        signing::delete_of_namespace(conn, namespace).await?;
        tuf::store::delete_of_namespace(conn, namespace).await?;
        immutable::delete_of_namespace(conn, namespace).await?;
        retention::delete_of_namespace(conn, namespace).await?;
        berth_builds::sources::delete_of_namespace(conn, namespace).await?;
        stars::delete_of_namespace(conn, namespace).await?;
        comments::delete_of_namespace(conn, namespace).await?;
        activity::delete_of_namespace(conn, namespace).await?;
        quota::delete_of_namespace(conn, namespace).await?;
        repos::delete_of_namespace(conn, namespace).await
    }
}
