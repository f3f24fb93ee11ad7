//! Docker Content Trust: Berth is the Notary server for its own repositories.
//!
//! `DOCKER_CONTENT_TRUST=1 docker push` signs a tag into TUF metadata and uploads it here;
//! `docker pull` with trust on downloads and verifies it before pulling by digest. Berth holds
//! each collection's timestamp and snapshot keys ([`keys`]), checks updates against what is
//! stored ([`update`]) and signs a fresh timestamp when a reader needs one. The notary-server
//! HTTP API over this is [`routes`]'; the files and keys live in the [`store`].
//!
//! A GUN is `<registry host>/<repository>`. Which tags the stored metadata signs, and by which
//! keys, is [`signed`]'s.

mod canonical;
pub mod keys;
pub mod metadata;
pub(crate) mod routes;
mod signed;
pub mod store;
mod update;

pub use signed::SignedTag;

use std::collections::HashMap;

use berth_registry::auth::Principal;
use berth_registry::clock::now;
use berth_registry::error::{Code, Error, Result};
use keys::ServerKey;
use metadata::{File, Root, ROOT, SNAPSHOT, TIMESTAMP};
use store::{NewTufFile, Which};
use update::{ServerKeys, TIMESTAMP_LIFETIME};

use crate::Trust;

/// A trust update that fails validation.
pub(crate) fn invalid(detail: impl Into<String>) -> Error {
    Error::new(Code::TrustInvalid, detail).explained()
}

fn internal(e: String) -> Error {
    Error::internal(e)
}

impl Trust {
    /// Audits a change to trust data; the change is made, so a failure is only logged.
    pub(crate) async fn audit(&self, who: &Principal, action: &str, gun: &str, detail: &str) {
        let actor = who.subject.as_deref().unwrap_or("anonymous");
        if let Err(e) =
            berth_accounts::audit::record(&self.accounts, actor, action, gun, detail).await
        {
            tracing::error!(error = %e, action, gun, "auditing a trust change failed");
        }
    }

    /// The keys Berth holds for a collection's role, newest first.
    async fn held_keys(&self, gun: &str, role: &str) -> Result<Vec<ServerKey>> {
        let secret = &self.secret;
        let context = format!("{gun}/{role}");
        self.tuf
            .tuf_keys(gun, role)
            .await?
            .iter()
            .map(|(_, sealed)| ServerKey::open(secret, &context, sealed).map_err(internal))
            .collect()
    }

    /// The newest key Berth holds for a collection's role, made on first use; with `rotate`, a
    /// new key that becomes the newest.
    pub(crate) async fn newest_key(
        &self,
        gun: &str,
        repository: &str,
        role: &str,
        rotate: bool,
    ) -> Result<ServerKey> {
        let secret = &self.secret;
        let context = format!("{gun}/{role}");
        for _ in 0..3 {
            let held = self.tuf.tuf_keys(gun, role).await?;
            if let (Some((_, sealed)), false) = (held.first(), rotate) {
                return ServerKey::open(secret, &context, sealed).map_err(internal);
            }
            let version = held.first().map_or(1, |(v, _)| v + 1);
            let key = ServerKey::generate().map_err(internal)?;
            let sealed = key.seal(secret, &context).map_err(internal)?;
            if self
                .tuf
                .tuf_add_key(gun, repository, role, version, &sealed)
                .await?
            {
                return Ok(key);
            }
            // Another request made that version first: look again.
        }
        Err(Error::internal("trust keys are changing too fast"))
    }

    /// The latest timestamp, signed anew when it is past half its life.
    async fn fresh_timestamp(&self, gun: &str, repository: &str) -> Result<Option<Vec<u8>>> {
        let Some((data, expires)) = self.tuf.tuf_file(gun, TIMESTAMP, &Which::Latest).await? else {
            return Ok(None);
        };
        let now = now();
        if expires - now > TIMESTAMP_LIFETIME / 2 {
            return Ok(Some(data));
        }
        let current = File::parse(TIMESTAMP, data).map_err(internal)?;
        let Some((snapshot, _)) = self.tuf.tuf_file(gun, SNAPSHOT, &Which::Latest).await? else {
            return Ok(Some(current.bytes));
        };
        let snapshot = File::parse(SNAPSHOT, snapshot).map_err(internal)?;
        let Some((root, _)) = self.tuf.tuf_file(gun, ROOT, &Which::Latest).await? else {
            return Ok(Some(current.bytes));
        };
        let root_file = File::parse(ROOT, root).map_err(internal)?;
        let root_version = root_file.version;
        let root = Root::parse(&root_file, gun, None).map_err(internal)?;
        let held = self.held_keys(gun, TIMESTAMP).await?;
        let key = update::key_for(&held, root.role(TIMESTAMP)).ok_or_else(|| {
            Error::internal("the collection's root names no timestamp key Berth holds")
        })?;
        let next =
            update::timestamp_for(current.version + 1, &snapshot, key, now).map_err(internal)?;
        let stored = self
            .tuf
            .tuf_store(gun, repository, &[new_file(&next)], root_version)
            .await?;
        if stored {
            return Ok(Some(next.bytes));
        }
        // Another request refreshed it first.
        Ok(self
            .tuf
            .tuf_file(gun, TIMESTAMP, &Which::Latest)
            .await?
            .map(|(data, _)| data))
    }

    /// A role's metadata as a reader asks for it; the latest timestamp is signed anew when it
    /// is past half its life.
    pub(crate) async fn trust_file(
        &self,
        gun: &str,
        repository: &str,
        role: &str,
        which: &Which,
    ) -> Result<Option<Vec<u8>>> {
        if role == TIMESTAMP && *which == Which::Latest {
            return self.fresh_timestamp(gun, repository).await;
        }
        Ok(self
            .tuf
            .tuf_file(gun, role, which)
            .await?
            .map(|(data, _)| data))
    }

    /// Validates and stores an update (the files a client sent, one per role); says what was
    /// stored (`root v2, targets v5, …`).
    pub(crate) async fn store_trust_update(
        &self,
        gun: &str,
        repository: &str,
        parts: Vec<File>,
    ) -> Result<String> {
        // A timestamp refreshed by a reader meanwhile takes the version this update meant to use:
        // then the update is checked and signed again against what is stored now.
        for _ in 0..3 {
            let mut current = HashMap::new();
            for (role, data) in self.tuf.tuf_latest(gun).await? {
                let file = File::parse(&role, data).map_err(internal)?;
                current.insert(role, file);
            }
            // The first timestamp key is made here if no client asked for it yet.
            self.newest_key(gun, repository, TIMESTAMP, false).await?;
            let timestamp = self.held_keys(gun, TIMESTAMP).await?;
            let snapshot = self.held_keys(gun, SNAPSHOT).await?;
            let keys = ServerKeys {
                timestamp: &timestamp,
                snapshot: &snapshot,
            };
            let files = update::apply(gun, &current, parts.clone(), &keys, now()).map_err(|e| {
                tracing::info!(gun, reason = %e, "trust update refused");
                invalid(e)
            })?;
            let root = files
                .iter()
                .chain(current.get(ROOT))
                .find(|f| f.role == ROOT)
                .map_or(0, |f| f.version);
            let rows: Vec<NewTufFile<'_>> = files.iter().map(new_file).collect();
            if self.tuf.tuf_store(gun, repository, &rows, root).await? {
                return Ok(files
                    .iter()
                    .map(|f| format!("{} v{}", f.role, f.version))
                    .collect::<Vec<_>>()
                    .join(", "));
            }
        }
        Err(invalid(
            "other updates of this collection were stored meanwhile; fetch the latest metadata and \
             publish again",
        ))
    }
}

fn new_file(f: &File) -> NewTufFile<'_> {
    NewTufFile {
        role: &f.role,
        version: f.version,
        sha256: f.sha256_hex(),
        expires: f.expires,
        data: &f.bytes,
    }
}
