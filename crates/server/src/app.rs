//! Wiring: storage, database, registry and web UI into one actix-web application.

use std::sync::Arc;
use std::time::Instant;

use actix_web::dev::{Server, Service};
use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::Context;
use berth_accounts::authorizer::AccountsAuthorizer;
use berth_accounts::jwt::TokenKeys;
use berth_accounts::keyfile;
use berth_accounts::mail::Mailer;
use berth_accounts::Accounts;
use berth_builds::Builds;
use berth_hub::gc::GcConfig;
use berth_hub::Hub;
use berth_registry::coherence::Coherence;
use berth_registry::meta::Meta;
use berth_registry::storage::{BlobStore, FsStore, S3Store};
use berth_registry::Registry;
use berth_trust::tuf::keys::TrustSecret;
use berth_trust::Trust;
use berth_webhooks::sink::Sink;
use berth_webhooks::Webhooks;
use sqlx::AnyPool;

use crate::config::{Config, StorageConfig};
use crate::db;
use crate::metrics::{self, Metrics};

/// The content trust secret's file in the secrets directory.
const TRUST_SECRET: &str = "trust.secret";

/// The shared state of a running Berth.
#[derive(Clone)]
pub struct State {
    pub pool: AnyPool,
    pub registry: web::Data<Registry>,
    pub site: web::Data<berth_web::Site>,
    pub accounts: web::Data<Accounts>,
    pub webhooks: web::Data<Webhooks>,
    pub hub: web::Data<Hub>,
    pub trust: web::Data<Trust>,
    pub gc: web::Data<GcConfig>,
    pub builds: web::Data<Builds>,
    /// Every metric, shared by the request middleware, the services and the metrics listener.
    pub metrics: Arc<Metrics>,
    /// What this process's caches do when another process changes what they hold.
    pub coherence: Arc<Coherence>,
}

impl State {
    /// Opens everything and starts the background work of a server: counters, webhook
    /// deliveries and scheduled garbage collection.
    pub async fn open(config: &Config) -> anyhow::Result<State> {
        let state = State::build(config).await?;
        if db::backend_of(&config.database_url)? == db::Backend::Postgres {
            berth_registry::coherence::spawn_listener(&state.coherence, &config.database_url)
                .await
                .context("listening for other replicas' changes")?;
        }
        spawn_counter_flush(
            state.accounts.clone().into_inner(),
            state.webhooks.clone().into_inner(),
        );
        spawn_pull_flush(
            state.registry.clone().into_inner(),
            config.registry.pull_flush_interval,
        );
        berth_webhooks::sender::spawn(&state.webhooks)
            .map_err(|e| anyhow::anyhow!("starting the webhook sender: {e}"))?;
        tokio::spawn(berth_hub::gc::run_on_schedule(
            state.hub.clone().into_inner(),
            state.registry.clone().into_inner(),
            state.trust.clone().into_inner(),
            config.gc.clone(),
        ));
        berth_builds::runner::spawn(&state.builds.clone().into_inner());
        Ok(state)
    }

    /// Opens the data and wires the stores, starting nothing in the background (for commands
    /// such as `berth gc`).
    pub async fn build(config: &Config) -> anyhow::Result<State> {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!("creating the data directory {}", config.data_dir.display())
        })?;
        let pool = db::open(&config.database_url).await?;
        let store: Arc<dyn BlobStore> = match &config.storage {
            StorageConfig::Fs { root } => {
                Arc::new(FsStore::open(root).context("opening blob storage")?)
            }
            StorageConfig::S3(settings) => {
                let store = S3Store::open(settings)?;
                store.check().await.with_context(|| {
                    format!(
                        "opening S3 bucket {:?} at {}",
                        settings.bucket,
                        settings.endpoint.as_deref().unwrap_or("AWS")
                    )
                })?;
                Arc::new(store)
            }
        };
        let keys = TokenKeys::load_or_create(&config.secrets_dir)
            .map_err(|e| anyhow::anyhow!("token signing key: {e}"))?;
        let metrics = Arc::new(Metrics::new());
        let accounts = Arc::new(
            Accounts::new(pool.clone(), config.auth.clone(), keys)
                .with_metrics(metrics.domain.clone())
                .with_mailer(
                    config
                        .smtp
                        .as_ref()
                        .map(Mailer::new)
                        .transpose()
                        .map_err(|e| anyhow::anyhow!("[smtp]: {e}"))?,
                ),
        );
        let webhooks = Arc::new(
            Webhooks::new(pool.clone(), accounts.db.clone(), config.webhooks.clone())
                .with_metrics(metrics.domain.clone()),
        );
        let authorizer = AccountsAuthorizer(accounts.clone());
        let trust_secret =
            berth_accounts::keyfile::load_or_create_secret(&config.secrets_dir.join(TRUST_SECRET))
                .map_err(|e| anyhow::anyhow!("content trust secret: {e}"))?;
        if db::backend_of(&config.database_url)? == db::Backend::Postgres {
            let shared = [
                (
                    "token_signing_key",
                    "token-signing key",
                    accounts.keys.fingerprint().to_owned(),
                ),
                (
                    "trust_secret",
                    "content trust secret",
                    keyfile::fingerprint(&trust_secret),
                ),
            ];
            for (name, what, fingerprint) in shared {
                let recorded = keyfile::shared_fingerprint(&accounts.db, name, &fingerprint)
                    .await
                    .with_context(|| format!("recording the {what}'s fingerprint"))?;
                anyhow::ensure!(
                    recorded == fingerprint,
                    "the {what} in {dir} (SHA-256 {fingerprint}) is not the one the other Berth \
                     processes on this database use (SHA-256 {recorded}): every replica must \
                     read the same secrets directory; set [auth] secrets_dir (BERTH_SECRETS_DIR, \
                     --secrets-dir) to the directory they share",
                    dir = config.secrets_dir.display(),
                );
            }
        }
        let builds = Arc::new(
            Builds::new(
                pool.clone(),
                accounts.clone(),
                webhooks.clone(),
                TrustSecret::new(trust_secret),
                config.builds.clone(),
            )
            .with_metrics(metrics.domain.clone()),
        );
        let sink = berth_builds::sink::Sink {
            inner: Sink {
                accounts: accounts.clone(),
                webhooks: webhooks.clone(),
            },
            builds: builds.clone(),
        };
        let trust = Arc::new(Trust::new(
            pool.clone(),
            accounts.db.clone(),
            TrustSecret::new(trust_secret),
        ));
        trust.set_cache_ttl(config.registry.cache_ttl);
        accounts.db.set_cache_ttl(config.registry.cache_ttl);
        let meta = Meta::new(pool.clone()).with_metrics(metrics.domain.clone());
        let coherence = Arc::new(Coherence::default());
        meta.follow(&coherence);
        accounts.follow(&coherence);
        trust.follow(&coherence);
        webhooks.follow(&coherence);
        let hub = Hub::new(
            pool.clone(),
            accounts.clone(),
            webhooks.clone(),
            meta.clone(),
        );
        let registry = Registry::new(
            meta,
            store,
            Arc::new(authorizer),
            Arc::new(sink),
            config.registry.clone(),
        )
        .with_trust(trust.clone());
        let registry = web::Data::new(registry);
        let site = web::Data::new(berth_web::Site::new(config.registry_host().to_owned()));
        Ok(State {
            pool,
            registry,
            site,
            accounts: web::Data::from(accounts),
            webhooks: web::Data::from(webhooks),
            hub: web::Data::new(hub),
            trust: web::Data::from(trust),
            gc: web::Data::new(config.gc.clone()),
            builds: web::Data::from(builds),
            metrics,
            coherence,
        })
    }

    /// Mounts every route.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        let pool = self.pool.clone();
        cfg.route(
            "/healthz",
            web::get().to(|| async { HttpResponse::Ok().body("ok") }),
        )
        .route(
            "/readyz",
            web::get().to(move || {
                let pool = pool.clone();
                async move {
                    match sqlx::query("SELECT 1").execute(&pool).await {
                        Ok(_) => HttpResponse::Ok().body("ready"),
                        Err(e) => {
                            tracing::warn!(error = %e, "database not ready");
                            HttpResponse::ServiceUnavailable().body("database unavailable")
                        }
                    }
                }
            }),
        )
        .app_data(self.accounts.clone())
        .app_data(self.webhooks.clone())
        .app_data(self.hub.clone())
        .app_data(self.trust.clone())
        .app_data(self.gc.clone())
        .app_data(self.builds.clone())
        .configure(berth_registry::configure(self.registry.clone()))
        .configure(berth_web::configure(self.site.clone()));
    }
}

/// Writes pull counts, push times and pulls for webhooks every second (and stops when the last
/// user of the accounts is gone).
fn spawn_counter_flush(accounts: Arc<Accounts>, webhooks: Arc<Webhooks>) {
    let weak = Arc::downgrade(&accounts);
    let weak_hooks = Arc::downgrade(&webhooks);
    drop((accounts, webhooks));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tick.tick().await;
            let Some(accounts) = weak.upgrade() else {
                break;
            };
            if let Some(webhooks) = weak_hooks.upgrade() {
                if let Err(e) = webhooks.flush_pulled().await {
                    tracing::warn!(error = %e, "writing pulls to the webhook outbox");
                }
            }
            if let Err(e) = accounts.flush_counters().await {
                tracing::warn!(error = %e, "writing pull counts");
            }
        }
    });
}

/// Writes the tags' last-pulled times noted since the last tick, every `every` (and stops
/// when the last user of the registry is gone).
fn spawn_pull_flush(registry: Arc<Registry>, every: std::time::Duration) {
    let weak = Arc::downgrade(&registry);
    drop(registry);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(registry) = weak.upgrade() else {
                break;
            };
            if let Err(e) = registry.meta().flush_pulls().await {
                tracing::warn!(error = %e, "writing the tags' last-pulled times");
            }
        }
    });
}

/// Builds the HTTP server on an already bound listener; HTTPS when `tls` is given.
pub fn server(
    state: State,
    listener: std::net::TcpListener,
    tls: Option<rustls::ServerConfig>,
) -> anyhow::Result<Server> {
    let server = HttpServer::new(move || {
        let state = state.clone();
        let counts = state.metrics.clone();
        App::new()
            .wrap_fn(move |req, srv| {
                let started = Instant::now();
                let method = req.method().to_string();
                let path = req.path().to_owned();
                let route = metrics::route_class(&path, || req.match_pattern().is_some());
                let counts = counts.clone();
                let fut = srv.call(req);
                async move {
                    let res = fut.await;
                    let status = match &res {
                        Ok(r) => r.status().as_u16(),
                        Err(e) => e.as_response_error().status_code().as_u16(),
                    };
                    counts.request(route, status, started.elapsed());
                    tracing::info!(
                        %method,
                        %path,
                        status,
                        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
                        "request"
                    );
                    res
                }
            })
            .configure(|cfg| state.configure(cfg))
    });
    let server = match tls {
        Some(config) => server.listen_rustls_0_23(listener, config)?,
        None => server.listen(listener)?,
    };
    // Idle connections stay open 75 s, as nginx keeps them: clients (Go's transport keeps
    // them 90 s) then rarely reuse one the server is closing at that moment.
    let server = server
        .keep_alive(std::time::Duration::from_secs(75))
        .shutdown_timeout(30)
        .run();
    Ok(server)
}

/// `GET /metrics`.
async fn scrape(state: web::Data<State>) -> HttpResponse {
    let body = state
        .metrics
        .render(&state.pool, &state.webhooks, &state.builds)
        .await;
    HttpResponse::Ok()
        .content_type(metrics::CONTENT_TYPE)
        .insert_header(("Cache-Control", "no-store"))
        .body(body)
}

/// The metrics listener: `GET /metrics` and nothing else (every other path is `404`).
pub fn metrics_server(state: State, listener: std::net::TcpListener) -> anyhow::Result<Server> {
    let state = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/metrics", web::get().to(scrape))
    })
    // Scrapes come a few a minute: one worker is plenty.
    .workers(1)
    .listen(listener)?
    .shutdown_timeout(5)
    .run();
    Ok(server)
}
