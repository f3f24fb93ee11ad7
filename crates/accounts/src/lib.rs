//! Berth's accounts: identity and access. Users, organizations with their teams and robot
//! accounts, personal access tokens, sessions, repository ownership and visibility, the access
//! decision, login throttling, the audit log, and the Docker token service. Implements the
//! registry's `Authorizer`.

pub mod access;
pub mod activity;
pub mod audit;
pub mod authorizer;
pub mod credentials;
pub mod error;
pub mod flash;
pub mod jwt;
pub mod keyfile;
pub mod mail;
pub mod names;
pub mod orgs;
pub mod password;
pub mod repos;
pub mod robots;
pub mod service;
pub mod sessions;
pub mod throttle;
pub mod tokens;
pub mod users;
pub mod visibility;

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine;
use berth_registry::cache::GenerationCache;
use berth_registry::metrics::{Credential, LoginResult, Metrics};

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

/// The accounts store. Its pool never leaves this crate: other crates call its functions.
#[derive(Clone)]
pub struct Db {
    pub(crate) pool: sqlx::AnyPool,
    /// Whether each repository recently asked about is private (`None`: no such repository),
    /// so that an anonymous pull costs no database read. Every write to a repository's
    /// existence or visibility bumps it ([`repos`]).
    pub(crate) privacy: std::sync::Arc<GenerationCache<String, Option<bool>>>,
}

/// Repository names kept in the privacy cache, at most (about 64 bytes each).
const PRIVACY_ENTRIES: usize = 100_000;

impl Db {
    pub fn new(pool: sqlx::AnyPool) -> Self {
        Db {
            pool,
            privacy: std::sync::Arc::new(GenerationCache::new(
                |name, _| name.len() + 32,
                1024,
                PRIVACY_ENTRIES * 64,
            )),
        }
    }

    /// How long a repository's visibility is kept at most, should an announcement be lost.
    pub fn set_cache_ttl(&self, ttl: Duration) {
        self.privacy.set_ttl(ttl);
    }

    /// Forgets every repository's visibility: after a deletion, and when another process
    /// announces a change (see [`Accounts::follow`]).
    pub fn forget_visibility(&self) {
        self.privacy.invalidate();
    }
}

pub struct Accounts {
    pub db: Db,
    pub config: AuthConfig,
    pub keys: jwt::TokenKeys,
    throttle: throttle::Throttle,
    /// Pulls and pushes counted in memory and written in batches by [`Accounts::flush_counters`],
    /// so a busy pull path costs no database write per request.
    counters: std::sync::Mutex<Counters>,
    metrics: Metrics,
    /// Sends "Forgot password?" links; `None` without `[smtp]`, and then there are none.
    pub mailer: Option<mail::Mailer>,
}

#[derive(Default)]
struct Counters {
    pulls: std::collections::HashMap<String, i64>,
    pushes: std::collections::HashSet<String>,
}

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
    pub fn new(pool: sqlx::AnyPool, config: AuthConfig, keys: jwt::TokenKeys) -> Self {
        let db = Db::new(pool);
        let throttle =
            throttle::Throttle::new(db.clone(), config.throttle_failures, config.throttle_window);
        Accounts {
            db,
            config,
            keys,
            throttle,
            counters: std::sync::Mutex::new(Counters::default()),
            metrics: Metrics::default(),
            mailer: None,
        }
    }

    /// Sends mail (password reset links) through `mailer`.
    pub fn with_mailer(mut self, mailer: Option<mail::Mailer>) -> Self {
        self.mailer = mailer;
        self
    }

    /// "Forgot password?": mails the active user whose e-mail address or name is `who` a link
    /// to choose a new password (a ticket, [`credentials::TICKET_TTL`]). The caller's answer
    /// must be the same whatever happens here: nothing tells whether such an account exists.
    /// Throttled like a log-in: each request counts for the client address and for the pair
    /// of address and `who`; an account is mailed at most
    /// [`credentials::MAILED_TICKETS_PER_TTL`] links in that time. The mail is sent in the
    /// background. Does nothing without a mailer.
    pub async fn request_password_reset(&self, who: &str, peer: Option<IpAddr>) -> Result<()> {
        let Some(mailer) = &self.mailer else {
            return Ok(());
        };
        let who = who.trim().to_lowercase();
        if who.is_empty() || who.chars().any(char::is_control) {
            return Ok(());
        }
        let keys = throttle::Keys::new(&format!("reset:{who}"), peer);
        // Kept, never handed back: every request counts.
        let _reservation = self.throttle.reserve(&keys).await?;
        let user = if who.contains('@') {
            users::by_email(&self.db, &who).await?
        } else {
            users::by_name(&self.db, &who).await?
        };
        let Some(user) = user.filter(|u| u.active && !u.email.is_empty()) else {
            tracing::info!("password reset asked for no active account with an address");
            return Ok(());
        };
        if credentials::recent_tickets(&self.db, &user).await?
            >= credentials::MAILED_TICKETS_PER_TTL
        {
            tracing::info!(user = %user.name, "password reset asked again too soon: not mailed");
            return Ok(());
        }
        let ticket = credentials::issue_ticket(&self.db, &user).await?;
        audit::record(
            &self.db,
            &user.name,
            "password.reset_requested",
            &user.name,
            &format!("link mailed; asked from {}", keys.address()),
        )
        .await?;
        let link = format!("{}/password/reset/{ticket}", mailer.public_url());
        let body = format!(
            "Hello {name},\n\n\
             someone (probably you) asked to reset the password of the Berth account {name} at\n\
             {site}.\n\n\
             To choose a new password, open this link within an hour:\n\n\
             {link}\n\n\
             The link works once. If you did not ask, ignore this message: your password\n\
             stays as it is.\n",
            name = user.name,
            site = mailer.public_url(),
        );
        mailer.send_later(
            user.email.clone(),
            "Reset your Berth password".to_owned(),
            body,
        );
        Ok(())
    }

    /// Counts logins into `metrics` (the handle the server serves).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
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
        let mut pulls = taken.pulls.into_iter();
        let mut pushes = taken.pushes.into_iter();
        let mut failure = None;
        for (repository, n) in pulls.by_ref() {
            if let Err(e) = repos::record_pulls(&self.db, &repository, n).await {
                self.add_pulls(repository, n);
                failure = Some(e);
                break;
            }
        }
        if failure.is_none() {
            for repository in pushes.by_ref() {
                if let Err(e) = repos::record_push(&self.db, &repository).await {
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
    ///
    /// A user whose reset a site administrator forced logs in with the password nowhere but
    /// on the web ([`Accounts::login_for_web`]), where they choose a new one.
    pub async fn login(&self, name: &str, secret: &str, peer: Option<IpAddr>) -> Result<Identity> {
        match self.login_for_web(name, secret, peer).await? {
            (identity, false) => Ok(identity),
            (_, true) => Err(Error::BadCredentials),
        }
    }

    /// [`Accounts::login`] for the web log-in form: also says whether the user must choose a
    /// new password (a reset forced by a site administrator) before anything else.
    pub async fn login_for_web(
        &self,
        name: &str,
        secret: &str,
        peer: Option<IpAddr>,
    ) -> Result<(Identity, bool)> {
        let credential = if name.contains('+') {
            Credential::Robot
        } else if secret.starts_with(tokens::PREFIX) {
            Credential::Token
        } else {
            Credential::Password
        };
        let result = self.check_login(name, secret, peer).await;
        let counted = match &result {
            Ok(_) => Some(LoginResult::Success),
            Err(Error::BadCredentials) => Some(LoginResult::Failure),
            Err(Error::Throttled { .. }) => Some(LoginResult::Throttled),
            // Not an answer about the credentials (the database is away).
            Err(_) => None,
        };
        if let Some(counted) = counted {
            self.metrics.login(credential, counted);
        }
        result
    }

    async fn check_login(
        &self,
        name: &str,
        secret: &str,
        peer: Option<IpAddr>,
    ) -> Result<(Identity, bool)> {
        let keys = throttle::Keys::new(name, peer);
        // No account has a control character in its name: such a name is a failed login, and
        // one the audit log could not even store.
        if name.chars().any(char::is_control) {
            self.throttle.failed_secret(&keys).await?;
            return Err(Error::BadCredentials);
        }
        if name.contains('+') || secret.starts_with(tokens::PREFIX) {
            let identity = if name.contains('+') {
                robots::check(&self.db, name, secret)
                    .await?
                    .map(|robot| Identity {
                        robot: Some(robot),
                        ..Identity::default()
                    })
            } else {
                tokens::check(&self.db, name, secret)
                    .await?
                    .map(|(user, scope)| Identity {
                        user: Some(user),
                        scope: Some(scope),
                        robot: None,
                    })
            };
            if let Some(identity) = identity {
                return Ok((identity, false));
            }
            self.throttle.failed_secret(&keys).await?;
            audit::record(&self.db, name, "login.failed", name, keys.address()).await?;
            return Err(Error::BadCredentials);
        }
        let reservation = self.throttle.reserve(&keys).await?;
        let slow = match self.throttle.slow(&keys).await {
            Ok(slow) => slow,
            Err(e) => {
                self.throttle.release(reservation).await.ok();
                return Err(e);
            }
        };
        if !slow.is_zero() {
            tokio::time::sleep(slow).await;
        }
        // Handing a reservation back, or counting a failure against the account too, is
        // bookkeeping: should the database refuse it, the attempt's own answer still stands.
        let noted = |what: &str, r: Result<()>| {
            if let Err(e) = r {
                tracing::warn!(error = %e, "login throttling: {what}");
            }
        };
        match users::check_password(&self.db, name, secret).await {
            Ok(Some(user)) => {
                noted(
                    "handing back a reservation",
                    self.throttle.succeeded(&keys, reservation).await,
                );
                let must_change = users::must_change_password(&self.db, user.id).await?;
                Ok((
                    Identity {
                        user: Some(user),
                        scope: None,
                        robot: None,
                    },
                    must_change,
                ))
            }
            Ok(None) => {
                noted("counting a failure", self.throttle.failed(&keys).await);
                audit::record(&self.db, name, "login.failed", name, keys.address()).await?;
                Err(Error::BadCredentials)
            }
            Err(e) => {
                // Not verified (busy, database away): the attempt does not count.
                noted(
                    "handing back a reservation",
                    self.throttle.release(reservation).await,
                );
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
        credentials::change_password(&self.db, &user, new, keep_session).await
    }

    /// What the identity may do to a repository.
    pub async fn permission(&self, identity: &Identity, repository: &str) -> Result<Permission> {
        let private = repos::privacy(&self.db, repository).await?;
        let org = self.org_access(identity, &[repository]).await?;
        Ok(access::permission(
            identity,
            repository,
            private,
            &org.for_repository(repository),
            self.config.anonymous_pull,
        ))
    }

    /// Creates an empty repository before its first push (as Docker Hub does), for whoever
    /// may push to it: `Invalid` for a name the registry's grammar refuses or a description
    /// over the limits, `Forbidden` without the right to push there, `Conflict` when it
    /// exists. The API's `POST /repositories` and the page's form both come here.
    pub async fn create_repository(
        &self,
        identity: &Identity,
        new: &repos::NewRepository,
    ) -> Result<repos::RepoSettings> {
        let user = identity.user.as_ref().ok_or(Error::Forbidden)?;
        let full = format!("{}/{}", new.namespace, new.name);
        if new.namespace.is_empty()
            || new.name.is_empty()
            || berth_registry::names::validate_name(&full).is_err()
        {
            return Err(Error::Invalid(format!(
                "{full:?} is not a valid repository name: lowercase letters, digits and \
                 separators (., _, __, -), parts joined by /"
            )));
        }
        let changes = repos::Changes {
            private: None,
            description: Some(new.description.clone()),
            full_description: new.full_description.clone(),
        };
        repos::validate(&changes)?;
        if self.permission(identity, &full).await? < Permission::Write {
            return Err(Error::Forbidden);
        }
        let private = new.private.unwrap_or(self.config.default_private);
        if !repos::ensure(&self.db, &full, private, &user.name).await? {
            return Err(Error::Conflict(format!("repository {full}")));
        }
        repos::update(&self.db, &user.name, &full, changes).await?;
        repos::get(&self.db, &full)
            .await?
            .ok_or_else(|| Error::NotFound(format!("repository {full}")))
    }

    /// Follows the announcements of other processes on the same database (see
    /// [`berth_registry::coherence`]): a repository made private elsewhere is private here at
    /// once.
    pub fn follow(&self, coherence: &berth_registry::coherence::Coherence) {
        let db = self.db.clone();
        coherence.on(berth_registry::coherence::Topic::Repositories, move || {
            db.forget_visibility()
        });
    }

    /// A repository's settings (if it exists as an account object) and what the identity may
    /// do to it, from one read of the settings.
    pub async fn access(
        &self,
        identity: &Identity,
        repository: &str,
    ) -> Result<(Option<repos::RepoSettings>, Permission)> {
        let settings = repos::get(&self.db, repository).await?;
        let org = self.org_access(identity, &[repository]).await?;
        let permission = access::permission(
            identity,
            repository,
            settings.as_ref().map(|s| s.private),
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
        visibility::Viewer::load(&self.db, identity, self.config.anonymous_pull).await
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
            .filter_map(|r| berth_registry::names::namespace_of(r))
            .filter(|ns| *ns != user.name)
            .collect();
        namespaces.sort_unstable();
        namespaces.dedup();
        orgs::Memberships::load(&self.db, user.id, &namespaces).await
    }

    /// The identity a registry token's subject names: a user, a robot (`org+name`) or nobody.
    pub async fn subject_identity(&self, subject: Option<&str>) -> Result<Identity> {
        Ok(match subject {
            Some(sub) if sub.contains('+') => Identity {
                robot: robots::by_name(&self.db, sub).await?,
                ..Identity::default()
            },
            Some(sub) => Identity {
                user: users::by_name(&self.db, sub).await?,
                ..Identity::default()
            },
            None => Identity::anonymous(),
        })
    }
}
