//! Berth's accounts: users, organizations with their teams and robot accounts, personal access
//! tokens, repository ownership and visibility, the access decision, login throttling, the audit log, and the Docker token service. Implements
//! the registry's `Authorizer` and `EventSink`.

pub mod access;
pub mod audit;
pub mod authorizer;
pub mod comments;
pub mod error;
pub mod flash;
pub mod jwt;
pub mod names;
pub mod orgs;
pub mod password;
pub mod repos;
pub mod robots;
pub mod search;
pub mod service;
pub mod sessions;
pub mod signing;
pub mod stars;
pub mod throttle;
pub mod tokens;
pub mod users;
pub mod visibility;
pub mod webhooks;

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine;
use sqlx::AnyPool;

use crate::access::{Identity, Permission};
pub use crate::error::{Error, Result};

pub use berth_registry::meta::now;

/// Authentication and access settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Whether anonymous callers may pull public repositories.
    pub anonymous_pull: bool,
    /// Whether anyone may sign up.
    pub open_signup: bool,
    /// Visibility of a repository created by a push.
    pub default_private: bool,
    /// The token service's realm URL, e.g. `https://registry.example.com/auth/token`.
    pub realm: String,
    /// The `service` (and token audience) name, by default the registry's host.
    pub service: String,
    /// The token issuer name.
    pub issuer: String,
    /// Lifetime of registry tokens, in seconds.
    pub token_ttl: i64,
    /// Failed logins allowed per account from one client address in `throttle_window` (a client
    /// address may fail five times as often over all accounts).
    pub throttle_failures: usize,
    pub throttle_window: Duration,
}

impl AuthConfig {
    /// Settings for a registry reachable at `public_url` (`http://host:port`).
    pub fn for_url(public_url: &str) -> Self {
        let base = public_url.trim_end_matches('/');
        let host = base.split_once("://").map_or(base, |(_, r)| r);
        let host = host.split('/').next().unwrap_or(host).to_owned();
        AuthConfig {
            anonymous_pull: true,
            open_signup: true,
            default_private: false,
            realm: format!("{base}/auth/token"),
            service: host.clone(),
            issuer: format!("berth@{host}"),
            token_ttl: 300,
            throttle_failures: 10,
            throttle_window: Duration::from_secs(300),
        }
    }
}

pub struct Accounts {
    pub pool: AnyPool,
    pub config: AuthConfig,
    pub keys: jwt::TokenKeys,
    throttle: throttle::Throttle,
    /// Pulls and pushes counted in memory and written in batches by [`Accounts::flush_counters`],
    /// so a busy pull path costs no database write per request.
    counters: std::sync::Mutex<Counters>,
    /// How webhooks are delivered.
    pub webhooks: webhooks::Config,
    /// Wakes the webhook sender when deliveries were written.
    pub webhook_wake: std::sync::Arc<tokio::sync::Notify>,
    /// Whether any webhook listens for pulls (refreshed by every flush), so pulls are queued
    /// for webhooks only when someone listens.
    pull_hooks: std::sync::atomic::AtomicBool,
    /// Where only signed images may be pulled.
    pub signed_only: signing::PolicyCache,
}

#[derive(Default)]
struct Counters {
    pulls: std::collections::HashMap<String, i64>,
    pushes: std::collections::HashSet<String>,
    /// Pulls waiting to be written to the webhook outbox.
    pulled: Vec<berth_registry::events::Event>,
}

/// Pulls queued for webhooks beyond this many (a database that stays down) are dropped, oldest
/// first, with a warning.
const MAX_QUEUED_PULLS: usize = 100_000;

/// Makes aws-lc-rs the process's TLS crypto provider (for outgoing HTTPS: webhooks). Call it
/// before building any HTTP client; calling it again does nothing.
pub fn install_tls_provider() {
    // An error only means a provider is installed already.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// Decodes `Basic <base64(name:secret)>`.
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    let encoded = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (name, secret) = text.split_once(':')?;
    Some((name.to_owned(), secret.to_owned()))
}

impl Accounts {
    pub fn new(pool: AnyPool, config: AuthConfig, keys: jwt::TokenKeys) -> Self {
        let throttle = throttle::Throttle::new(config.throttle_failures, config.throttle_window);
        let public_url = config.realm.trim_end_matches("/auth/token").to_owned();
        Accounts {
            pool,
            config,
            keys,
            throttle,
            counters: std::sync::Mutex::new(Counters::default()),
            webhooks: webhooks::Config::for_url(&public_url),
            webhook_wake: Default::default(),
            pull_hooks: std::sync::atomic::AtomicBool::new(false),
            signed_only: signing::PolicyCache::default(),
        }
    }

    /// Removes the account side of a repository (see [`repos::delete`]) and sends the webhooks
    /// that tell of it.
    pub async fn delete_repository(&self, actor: &str, repository: &str) -> Result<()> {
        repos::delete(&self.pool, &self.webhooks, actor, repository).await?;
        self.webhook_wake.notify_one();
        Ok(())
    }

    /// Delivers webhooks as `config` says.
    pub fn with_webhooks(mut self, config: webhooks::Config) -> Self {
        self.webhooks = config;
        self
    }

    /// Queues a pull for the webhooks that listen for pulls (written by the next flush).
    pub fn queue_pull(&self, event: &berth_registry::events::Event) {
        if !self.pull_hooks.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let mut c = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        if c.pulled.len() >= MAX_QUEUED_PULLS {
            c.pulled.remove(0);
            tracing::warn!("too many pulls queued for webhooks: dropping the oldest");
        }
        c.pulled.push(event.clone());
    }

    /// Notes that a webhook now listens for pulls.
    pub fn pulls_watched(&self) {
        self.pull_hooks
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Writes queued pulls to the webhook outbox, in one transaction.
    async fn flush_pulled(&self, pulled: &[berth_registry::events::Event]) -> Result<()> {
        if pulled.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        let mut written = 0;
        for event in pulled {
            written += webhooks::deliveries::stage(&mut tx, &self.webhooks, event).await?;
        }
        tx.commit().await?;
        if written > 0 {
            self.webhook_wake.notify_one();
        }
        Ok(())
    }

    /// Counts a pull of `repository` (written by the next flush).
    pub fn count_pull(&self, repository: &str) {
        let mut c = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        *c.pulls.entry(repository.to_owned()).or_default() += 1;
    }

    /// Notes a push to `repository` (its last-pushed time is set by the next flush).
    pub fn count_push(&self, repository: &str) {
        let mut c = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        c.pushes.insert(repository.to_owned());
    }

    /// Writes the counted pulls and pushes to the database.
    pub async fn flush_counters(&self) -> Result<()> {
        let taken = {
            let mut c = self.counters.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::take(&mut *c)
        };
        match webhooks::any_listen_for_pulls(&self.pool).await {
            Ok(listening) => self
                .pull_hooks
                .store(listening, std::sync::atomic::Ordering::Relaxed),
            Err(e) => tracing::warn!(error = %e, "checking for webhooks on pulls"),
        }
        if let Err(e) = self.flush_pulled(&taken.pulled).await {
            let mut c = self.counters.lock().unwrap_or_else(|e| e.into_inner());
            let newer = std::mem::take(&mut c.pulled);
            c.pulled = taken.pulled;
            c.pulled.extend(newer);
            drop(c);
            tracing::warn!(error = %e, "writing pulls to the webhook outbox");
        }
        let mut pulls = taken.pulls.into_iter();
        let mut pushes = taken.pushes.into_iter();
        let mut failure = None;
        for (repository, n) in pulls.by_ref() {
            if let Err(e) = repos::record_pulls(&self.pool, &repository, n).await {
                self.add_pulls(repository, n);
                failure = Some(e);
                break;
            }
        }
        if failure.is_none() {
            for repository in pushes.by_ref() {
                if let Err(e) = repos::record_push(&self.pool, &repository).await {
                    self.count_push(&repository);
                    failure = Some(e);
                    break;
                }
            }
        }
        // Whatever was not written waits for the next flush.
        for (repository, n) in pulls {
            self.add_pulls(repository, n);
        }
        for repository in pushes {
            self.count_push(&repository);
        }
        failure.map_or(Ok(()), Err)
    }

    fn add_pulls(&self, repository: String, n: i64) {
        let mut c = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        *c.pulls.entry(repository).or_default() += n;
    }

    /// Logs in with a password or a personal access token, or as a robot (`org+name` with its
    /// secret). Throttled as [`throttle`] describes: a valid token or robot secret is never
    /// refused, and a password attempt is counted before it is verified.
    pub async fn login(&self, name: &str, secret: &str, peer: Option<IpAddr>) -> Result<Identity> {
        let keys = throttle::Keys::new(name, peer);
        // No account has a control character in its name: such a name is a failed login, and
        // one the audit log could not even store.
        if name.chars().any(char::is_control) {
            self.throttle.failed_secret(&keys)?;
            return Err(Error::BadCredentials);
        }
        if name.contains('+') || secret.starts_with(tokens::PREFIX) {
            let identity = if name.contains('+') {
                robots::check(&self.pool, name, secret)
                    .await?
                    .map(|robot| Identity {
                        robot: Some(robot),
                        ..Identity::default()
                    })
            } else {
                tokens::check(&self.pool, name, secret)
                    .await?
                    .map(|(user, scope)| Identity {
                        user: Some(user),
                        scope: Some(scope),
                        robot: None,
                    })
            };
            if let Some(identity) = identity {
                return Ok(identity);
            }
            self.throttle.failed_secret(&keys)?;
            audit::record(&self.pool, name, "login.failed", name, keys.address()).await?;
            return Err(Error::BadCredentials);
        }
        self.throttle.reserve(&keys)?;
        let slow = self.throttle.slow(&keys);
        if !slow.is_zero() {
            tokio::time::sleep(slow).await;
        }
        match users::check_password(&self.pool, name, secret).await {
            Ok(Some(user)) => {
                self.throttle.succeeded(&keys);
                Ok(Identity {
                    user: Some(user),
                    scope: None,
                    robot: None,
                })
            }
            Ok(None) => {
                self.throttle.failed(&keys);
                audit::record(&self.pool, name, "login.failed", name, keys.address()).await?;
                Err(Error::BadCredentials)
            }
            Err(e) => {
                // Not verified (busy, database away): the attempt does not count.
                self.throttle.release(&keys);
                Err(e)
            }
        }
    }

    /// Changes a user's password given the current one, which is checked like a login (and
    /// throttled like one: a stolen session cannot guess it at full speed). Every other session
    /// and every refresh token ends; `keep_session` stays.
    pub async fn change_password(
        &self,
        name: &str,
        current: &str,
        new: &str,
        keep_session: Option<&str>,
        peer: Option<IpAddr>,
    ) -> Result<()> {
        password::check_strength(new)?;
        let identity = self.login(name, current, peer).await?;
        let Some(user) = identity.user.filter(|_| identity.scope.is_none()) else {
            // An access token is not the password.
            return Err(Error::BadCredentials);
        };
        users::change_password(&self.pool, &user, new, keep_session).await
    }

    /// What the identity may do to a repository.
    pub async fn permission(&self, identity: &Identity, repository: &str) -> Result<Permission> {
        Ok(self.access(identity, repository).await?.1)
    }

    /// A repository's settings (if it exists as an account object) and what the identity may
    /// do to it, from one read of the settings.
    pub async fn access(
        &self,
        identity: &Identity,
        repository: &str,
    ) -> Result<(Option<repos::RepoSettings>, Permission)> {
        let settings = repos::get(&self.pool, repository).await?;
        let org = self.org_access(identity, &[repository]).await?;
        let permission = access::permission(
            identity,
            repository,
            settings.as_ref(),
            &org.for_repository(repository),
            self.config.anonymous_pull,
        );
        Ok((settings, permission))
    }

    /// A repository the identity may read, with its settings and the identity's permission;
    /// `None` when it does not exist or may not be seen (outsiders learn nothing).
    pub async fn readable(
        &self,
        identity: &Identity,
        repository: &str,
    ) -> Result<Option<(repos::RepoSettings, Permission)>> {
        if berth_registry::names::validate_name(repository).is_err() {
            return Ok(None);
        }
        let (settings, permission) = self.access(identity, repository).await?;
        Ok(settings
            .filter(|_| permission >= Permission::Read)
            .map(|s| (s, permission)))
    }

    /// What the identity may see, for listings.
    pub async fn viewer(&self, identity: &Identity) -> Result<visibility::Viewer> {
        visibility::Viewer::load(&self.pool, identity, self.config.anonymous_pull).await
    }

    /// A page of the repositories of `namespace` (a user or an organization) that the identity
    /// may see, by name. Private repositories appear only to those who may pull them.
    pub async fn visible_in_namespace(
        &self,
        identity: &Identity,
        namespace: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<repos::RepoSettings>> {
        let viewer = self.viewer(identity).await?;
        let found = search::search(
            &self.pool,
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

    /// The user's standing in the organizations that are namespaces of `repositories`.
    pub async fn org_access(
        &self,
        identity: &Identity,
        repositories: &[&str],
    ) -> Result<orgs::Memberships> {
        let Some(user) = identity.user.as_ref().filter(|u| u.active && !u.is_admin) else {
            return Ok(orgs::Memberships::default());
        };
        let mut namespaces: Vec<&str> = repositories
            .iter()
            .filter_map(|r| access::namespace_of(r))
            .filter(|ns| *ns != user.name)
            .collect();
        namespaces.sort_unstable();
        namespaces.dedup();
        orgs::Memberships::load(&self.pool, user.id, &namespaces).await
    }

    /// The identity a registry token's subject names: a user, a robot (`org+name`) or nobody.
    pub async fn subject_identity(&self, subject: Option<&str>) -> Result<Identity> {
        Ok(match subject {
            Some(sub) if sub.contains('+') => Identity {
                robot: robots::by_name(&self.pool, sub).await?,
                ..Identity::default()
            },
            Some(sub) => Identity {
                user: users::by_name(&self.pool, sub).await?,
                ..Identity::default()
            },
            None => Identity::anonymous(),
        })
    }
}
