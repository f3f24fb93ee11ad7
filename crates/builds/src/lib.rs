//! Berth's automated builds: a repository links a git source and build rules; a push event from
//! the git host (or "Build now") queues a build; a worker clones the exact commit, builds it on
//! the Docker Engine the operator configured, and pushes the image to Berth itself, as any push.
//!
//! - [`sources`]: the linked source, its sealed credentials, deploy key and push-event secret;
//! - [`rules`]: Docker Hub's build rules (branch or tag, name or regex, tag template);
//! - [`trigger`]: push events from Gitea/Forgejo, GitHub and GitLab, verified and parsed;
//! - [`queue`]: builds in the database (queued, claimed under a lease, finished), their logs;
//! - [`runner`]: the worker: clone ([`git`]), build and push ([`engine`]);
//! - [`sink`]: the registry's events, so a push of a base image queues rebuilds;
//! - [`dockerfile`], [`source`], [`badge`]: the small pure parts.

pub mod badge;
pub mod dockerfile;
pub mod engine;
pub mod git;
pub mod push_events;
pub mod queue;
pub mod rules;
pub mod runner;
pub mod sink;
pub mod source;
pub mod sources;
pub mod trigger;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use berth_accounts::Accounts;
use berth_registry::metrics::Metrics;
use berth_trust::tuf::keys::TrustSecret;
use berth_webhooks::guard::Allowlist;
use berth_webhooks::Webhooks;
use sqlx::AnyPool;
use tokio::sync::Notify;

pub use berth_accounts::{Error, Result};

/// How builds run: `[builds]` in the configuration file.
#[derive(Debug, Clone)]
pub struct Config {
    /// The Docker Engine builds run on (`unix:///var/run/docker.sock`, `tcp://host:2375`);
    /// builds are off without one.
    pub docker_host: Option<String>,
    /// Berth's registry as the Engine reaches it (`host:port`), where images are pushed to and
    /// base images pulled from.
    pub registry: String,
    /// Berth's public URL, for links in webhook payloads and push-event URLs.
    pub public_url: String,
    /// How many builds one server runs at once.
    pub concurrency: usize,
    /// A build running longer is stopped and failed.
    pub timeout: Duration,
    /// A build's stored log stops growing past this many bytes (the build goes on).
    pub log_cap: u64,
    /// Where clones live while a build runs.
    pub work_dir: PathBuf,
    /// Source hosts allowed despite the SSRF guard (as webhooks' `allowed_targets`).
    pub allowed_sources: Arc<Allowlist>,
}

impl Config {
    /// Builds with nothing configured: off.
    pub fn off(public_url: &str, registry: &str, work_dir: PathBuf) -> Config {
        Config {
            docker_host: None,
            registry: registry.to_owned(),
            public_url: public_url.trim_end_matches('/').to_owned(),
            concurrency: 1,
            timeout: Duration::from_secs(3600),
            log_cap: 5 * 1024 * 1024,
            work_dir,
            allowed_sources: Arc::default(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.docker_host.is_some()
    }
}

/// The build service: its store, the webhooks it reports to, and the worker's wake-up call.
pub struct Builds {
    pub(crate) pool: AnyPool,
    pub(crate) accounts: Arc<Accounts>,
    pub(crate) webhooks: Arc<Webhooks>,
    /// Seals source credentials, deploy keys and push-event secrets.
    pub(crate) secret: TrustSecret,
    pub config: Config,
    /// Wakes the worker when a build was queued or cancelled.
    pub(crate) wake: Arc<Notify>,
    /// Names this process's claims on running builds.
    pub(crate) worker_id: String,
    /// Counts builds as they end.
    pub(crate) metrics: Metrics,
}

impl Builds {
    pub fn new(
        pool: AnyPool,
        accounts: Arc<Accounts>,
        webhooks: Arc<Webhooks>,
        secret: TrustSecret,
        config: Config,
    ) -> Self {
        Builds {
            pool,
            accounts,
            webhooks,
            secret,
            config,
            wake: Arc::default(),
            worker_id: uuid::Uuid::new_v4().to_string(),
            metrics: Metrics::default(),
        }
    }

    /// Counts into `metrics` (the handle the server serves).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Tells the worker that builds were queued or cancelled.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}
