//! Berth's content trust: who published an image, and is it intact.
//!
//! - [`tuf`]: Docker Content Trust. Berth is the Notary server of its own repositories: it
//!   stores TUF metadata, holds the timestamp and snapshot keys, checks every update, and serves
//!   the notary-server API under `/v2/<gun>/_trust/tuf/`.
//! - [`signatures`]: cosign and Notation signatures stored beside images as OCI artifacts,
//!   verified against the keys a namespace trusts.
//! - [`signing`]: those keys, and the signed-only pull policy of a namespace or a repository.
//!
//! The registry asks [`Trust`] through its [`ContentTrust`] hook; the web crate calls it for the
//! signature and signing pages. Errors of the protocol side are the registry's (they are served
//! under `/v2/`); errors of the settings side are the accounts crate's.

pub mod signatures;
pub mod signing;
pub mod tuf;

use actix_web::{web, HttpRequest, HttpResponse};
use async_trait::async_trait;
use berth_registry::coherence::{self, Coherence, Topic};
use berth_registry::digest::Digest;
use berth_registry::error::{Code, Error, Result};
use berth_registry::names::namespace_of;
use berth_registry::trust::ContentTrust;
use berth_registry::Registry;
use sqlx::AnyPool;

use tuf::keys::TrustSecret;
use tuf::store::TufStore;

/// The content trust store and service.
pub struct Trust {
    pub(crate) pool: AnyPool,
    pub(crate) accounts: berth_accounts::Db,
    pub(crate) tuf: TufStore,
    /// Seals the timestamp and snapshot keys Berth holds.
    pub(crate) secret: TrustSecret,
    pub(crate) signed_only: signing::PolicyCache,
    pub(crate) verdicts: signatures::Verdicts,
}

impl Trust {
    pub fn new(pool: AnyPool, accounts: berth_accounts::Db, secret: TrustSecret) -> Self {
        Trust {
            tuf: TufStore::new(pool.clone()),
            pool,
            accounts,
            secret,
            signed_only: signing::PolicyCache::default(),
            verdicts: signatures::Verdicts::default(),
        }
    }

    /// How long the signed-only policy and keys are served from memory at most.
    pub fn set_cache_ttl(&self, ttl: std::time::Duration) {
        self.signed_only.set_ttl(ttl);
    }

    /// Has this process's caches forget what other processes change.
    pub fn follow(self: &std::sync::Arc<Self>, coherence: &Coherence) {
        let trust = std::sync::Arc::downgrade(self);
        coherence.on(Topic::Signing, move || {
            if let Some(t) = trust.upgrade() {
                t.signed_only.forget();
            }
        });
        let trust = std::sync::Arc::downgrade(self);
        coherence.on(Topic::Trust, move || {
            if let Some(t) = trust.upgrade() {
                t.tuf.forget();
            }
        });
    }

    /// A policy or key changed (and committed): forgotten here, and announced to the others.
    pub(crate) async fn changed_signing(&self) -> berth_accounts::Result<()> {
        self.signed_only.forget();
        coherence::announce_on(&self.pool, Topic::Signing).await?;
        Ok(())
    }
}

/// Reads of policies and keys fail as the registry's errors: a full disk still says so (507).
fn internal(e: berth_accounts::Error) -> Error {
    match e {
        berth_accounts::Error::Database(db) => Error::from(db),
        e => {
            tracing::error!(error = %e, "reading the signed-only policy failed");
            Error::internal("reading the signed-only policy failed")
        }
    }
}

#[async_trait(?Send)]
impl ContentTrust for Trust {
    async fn serve(
        &self,
        registry: &Registry,
        req: &HttpRequest,
        payload: web::Payload,
        gun: &str,
        rest: &str,
    ) -> Result<HttpResponse> {
        tuf::routes::dispatch(self, registry, req, payload, gun, rest).await
    }

    /// Under the signed-only policy, refuses a manifest that no trusted key signed (neither it
    /// nor an index listing it). Signature artifacts themselves stay readable, so clients can
    /// verify; what makes one is its content, not its tag, so an image pushed under a
    /// `sha256-….sig` tag is still refused.
    async fn check_pull(
        &self,
        registry: &Registry,
        repository: &str,
        digest: &str,
        content: &[u8],
    ) -> Result<()> {
        if signing::signed_only(self, repository)
            .await
            .map_err(internal)?
            .is_none()
        {
            return Ok(());
        }
        if signatures::is_signature_artifact(content) {
            return Ok(());
        }
        let namespace = namespace_of(repository).unwrap_or(repository);
        let keys = self
            .signed_only
            .trusted(self, namespace)
            .await
            .map_err(internal)?;
        let digest: Digest = digest.parse()?;
        if self
            .signed_by_any(registry, repository, &digest, &keys)
            .await?
        {
            return Ok(());
        }
        let why = if keys.is_empty() {
            format!("and {namespace} has registered no signing keys")
        } else {
            format!(
                "and {digest} carries no signature by any of the {} signing keys {namespace} trusts",
                keys.len()
            )
        };
        Err(Error::new(
            Code::Denied,
            format!("{repository} only serves signed images, {why}"),
        )
        .explained())
    }
}
