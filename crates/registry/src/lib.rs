//! Berth's registry: OCI Distribution Spec v1.1 and Docker Registry HTTP API v2.
//!
//! Metadata (repositories, manifests, tags, links, uploads) lives in the database through
//! [`meta::Meta`]; content-addressed bytes live in a [`storage::BlobStore`]. Access control is
//! asked of an [`auth::Authorizer`], events are told to an [`events::EventSink`] and content
//! trust is a [`trust::ContentTrust`]'s: this crate knows nothing of users or signatures.

pub mod auth;
pub mod backend;
pub mod cache;
pub mod clock;
pub mod coherence;
pub mod digest;
pub mod error;
pub mod events;
pub mod lifecycle;
pub mod manifest;
pub mod meta;
pub mod metrics;
pub mod names;
mod routes;
mod sql;
pub mod storage;
pub mod trust;
mod upload_sessions;

use std::sync::Arc;

use actix_web::middleware::DefaultHeaders;
use actix_web::web;

pub use error::{Code, Error, Result};
pub use routes::uploads::parse_content_range;

/// Limits and switches of the registry API.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Whether `DELETE` of blobs and manifests is allowed (otherwise `405 UNSUPPORTED`).
    pub delete_enabled: bool,
    /// Largest manifest body accepted, in bytes.
    pub max_manifest_bytes: usize,
    /// Cap on `n` for tag and catalog listings (and the page size when `n` is absent).
    pub max_page_size: i64,
    /// Most `tag` parameters one manifest `PUT` may carry (more: `414`).
    pub max_tags_per_push: usize,
    /// Accepts an index whose child manifests are not all here, and an image manifest whose
    /// layers are not all here (its config still must be): for mirrors that copy only some
    /// platforms of an image.
    pub sparse_manifests: bool,
    /// The host (and port) clients name this registry by: the first component of its content
    /// trust collections (`<host>/<repository>`).
    pub host: String,
    /// The storage quota of namespaces without their own, in bytes (`None`: unlimited).
    pub default_quota_bytes: Option<u64>,
    /// Answers blob `GET`s with a `307` to a short-lived URL of the blob store, where the store
    /// can give one (S3), so the bytes do not pass through Berth.
    pub redirect_pulls: bool,
    /// How long what was read for pulls (manifests, which namespaces have quotas) is served
    /// from memory. Changes made through any replica reach the others at once (see
    /// [`coherence`]); this bounds how stale one can be should word of a change be lost.
    pub cache_ttl: std::time::Duration,
    /// How often the tags' last-pulled times noted in memory are written to the database.
    pub pull_flush_interval: std::time::Duration,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            delete_enabled: true,
            max_manifest_bytes: 4 << 20,
            max_page_size: 1000,
            max_tags_per_push: 100,
            sparse_manifests: false,
            host: "localhost:5000".to_owned(),
            default_quota_bytes: None,
            redirect_pulls: false,
            cache_ttl: std::time::Duration::from_secs(1),
            pull_flush_interval: std::time::Duration::from_secs(5),
        }
    }
}

/// Everything a registry request needs.
pub struct Registry {
    pub(crate) meta: meta::Meta,
    pub(crate) store: Arc<dyn storage::BlobStore>,
    pub(crate) auth: Arc<dyn auth::Authorizer>,
    pub(crate) events: Arc<dyn events::EventSink>,
    pub(crate) config: RegistryConfig,
    pub(crate) uploads: upload_sessions::Sessions,
    /// The Notary server and the signed-only policy; `None` turns both off.
    pub(crate) trust: Option<Arc<dyn trust::ContentTrust>>,
    /// Image configs read for pages ([`Registry::image_config`]).
    configs: cache::GenerationCache<digest::Digest, bytes::Bytes>,
}

/// Image configs are kept up to this size each, and this much in all.
const CONFIG_MEMO_ENTRY: usize = 256 << 10;
const CONFIG_MEMO_TOTAL: usize = 16 << 20;
/// A blob's bytes never change, but garbage collection may remove it: a kept config is
/// forgotten after this long.
const CONFIG_MEMO_TTL: std::time::Duration = std::time::Duration::from_secs(600);

impl Registry {
    pub fn new(
        meta: meta::Meta,
        store: Arc<dyn storage::BlobStore>,
        auth: Arc<dyn auth::Authorizer>,
        events: Arc<dyn events::EventSink>,
        config: RegistryConfig,
    ) -> Self {
        meta.quotas().set_default(config.default_quota_bytes);
        meta.set_cache_ttl(config.cache_ttl);
        Registry {
            meta,
            store,
            auth,
            events,
            config,
            uploads: upload_sessions::Sessions::default(),
            trust: None,
            configs: {
                let configs = cache::GenerationCache::new(
                    |_, bytes: &bytes::Bytes| bytes.len() + 128,
                    CONFIG_MEMO_ENTRY,
                    CONFIG_MEMO_TOTAL,
                );
                configs.set_ttl(CONFIG_MEMO_TTL);
                configs
            },
        }
    }

    /// Serves Docker Content Trust and enforces signed-only policies through `trust`.
    pub fn with_trust(mut self, trust: Arc<dyn trust::ContentTrust>) -> Self {
        self.trust = Some(trust);
        self
    }

    pub fn meta(&self) -> &meta::Meta {
        &self.meta
    }

    /// The counters this registry keeps (its metadata store's).
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.meta.metrics
    }

    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// The bytes of a small stored blob (an image's config), or `None` if it is absent or larger
    /// than `limit` bytes.
    pub async fn small_blob(&self, digest: &digest::Digest, limit: u64) -> Result<Option<Vec<u8>>> {
        match self.store.stat(digest).await? {
            Some(size) if size <= limit => {}
            _ => return Ok(None),
        }
        match self.store.read_all(digest).await {
            Ok(bytes) => Ok(Some(bytes.into())),
            Err(e) if e.code() == Code::BlobUnknown => Ok(None),
            Err(Error::Io(e)) => Err(Error::internal(e.to_string())),
            Err(e) => Err(e),
        }
    }

    /// An image config of at most `limit` bytes, as [`Registry::small_blob`] reads it, kept in
    /// memory for pages that show many images' platforms: a blob is named by its digest, so
    /// what was read stays right for as long as the blob exists.
    pub async fn image_config(
        &self,
        digest: &digest::Digest,
        limit: u64,
    ) -> Result<Option<bytes::Bytes>> {
        if let Some(bytes) = self.configs.get(digest) {
            return Ok(Some(bytes));
        }
        let generation = self.configs.generation();
        let Some(bytes) = self.small_blob(digest, limit).await? else {
            return Ok(None);
        };
        let bytes = bytes::Bytes::from(bytes);
        self.configs.put(digest.clone(), generation, bytes.clone());
        Ok(Some(bytes))
    }
}

impl Registry {
    /// Deletes a tag (its manifest stays, for garbage collection) exactly as
    /// `DELETE /v2/<name>/manifests/<tag>` does: the delete event is staged in the same
    /// transaction, then recorded. `false` if there was no such tag. The caller has authorized
    /// `actor` to delete.
    pub async fn delete_tag(
        &self,
        repository: &str,
        tag: &str,
        actor: auth::Principal,
    ) -> Result<bool> {
        if !self.config.delete_enabled {
            return Err(Error::new(Code::Unsupported, "deletion is disabled"));
        }
        let event = self
            .meta
            .delete_tag(repository, tag, self.events.as_ref(), |digest| {
                events::Event {
                    action: events::EventAction::Delete,
                    target: events::EventTarget::Tag,
                    repository: repository.to_owned(),
                    digest,
                    media_type: None,
                    size: 0,
                    tag: Some(tag.to_owned()),
                    actor,
                }
            })
            .await?;
        match event {
            Some(event) => {
                self.events.record(event);
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// Mounts the registry API (`/v2/…`) on an actix-web app.
pub fn configure(registry: web::Data<Registry>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(registry).service(
            web::scope("/v2")
                // Every answer under /v2/, errors included, names the API version.
                .wrap(DefaultHeaders::new().add(routes::API_VERSION))
                .service(web::resource(["", "/"]).to(routes::base))
                .service(web::resource("/{tail:.+}").to(routes::dispatch)),
        );
    }
}
