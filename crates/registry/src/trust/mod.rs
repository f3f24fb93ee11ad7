//! Docker Content Trust: Berth is the Notary server for its own repositories.
//!
//! `DOCKER_CONTENT_TRUST=1 docker push` signs a tag into TUF metadata and uploads it here;
//! `docker pull` with trust on downloads and verifies it before pulling by digest. The API is
//! notary-server's, under the registry's `/v2/`:
//!
//! - `GET /v2/<gun>/_trust/tuf/<role>.json`, `…/<role>.<sha256>.json`, `…/<version>.<role>.json`
//! - `GET /v2/<gun>/_trust/tuf/{timestamp,snapshot}.key`: the keys Berth signs with (`POST`
//!   rotates one, for repository admins)
//! - `POST /v2/<gun>/_trust/tuf/`: a multipart update of root, targets, delegations, snapshot
//! - `DELETE /v2/<gun>/_trust/tuf/`: the collection's trust data, for repository admins
//!
//! A GUN is `<registry host>/<repository>`; reading needs pull on the repository, writing push,
//! exactly as for images. Which tags the stored metadata signs, and by which keys, is
//! [`signed`]'s.

mod canonical;
pub mod keys;
pub mod metadata;
mod signed;
mod update;

pub use signed::SignedTag;

use std::collections::HashMap;

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;

use crate::auth::Action;
use crate::error::{Code, Error, Result};
use crate::meta::{now, NewTufFile, Which};
use crate::routes::authorize_repo;
use crate::{names, Registry};
use keys::{ServerKey, TrustSecret};
use metadata::{valid_role, File, Root, ROOT, SNAPSHOT, TIMESTAMP};
use update::{ServerKeys, TIMESTAMP_LIFETIME};

/// Largest update accepted (all its files together).
const MAX_UPDATE: usize = 16 << 20;

/// The part of a `/v2/` path that addresses trust data: the GUN and what follows
/// `/_trust/tuf/`.
pub(crate) fn split_path(tail: &str) -> Option<(&str, &str)> {
    tail.split_once("/_trust/tuf/")
}

/// What a path under `…/_trust/tuf/` asks for.
#[derive(Debug, PartialEq, Eq)]
enum Resource<'a> {
    Collection,
    Key(&'a str),
    File(&'a str, Which),
}

fn parse_resource(rest: &str) -> Option<Resource<'_>> {
    if rest.is_empty() {
        return Some(Resource::Collection);
    }
    if let Some(role) = rest.strip_suffix(".key") {
        return [TIMESTAMP, SNAPSHOT]
            .contains(&role)
            .then_some(Resource::Key(role));
    }
    let name = rest.strip_suffix(".json")?;
    let (role, which) = match name.split_once('.') {
        Some((version, role))
            if !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (role, Which::Version(version.parse().ok()?))
        }
        _ => match name.rsplit_once('.') {
            Some((role, sha)) if sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()) => {
                (role, Which::Sha256(sha.to_ascii_lowercase()))
            }
            _ => (name, Which::Latest),
        },
    };
    valid_role(role).then_some(Resource::File(role, which))
}

fn invalid(detail: impl Into<String>) -> Error {
    Error::new(Code::TrustInvalid, detail).explained()
}

fn internal(e: String) -> Error {
    Error::internal(e)
}

impl Registry {
    /// Audits a change to trust data; the change is made, so a failure is only logged.
    async fn audit(&self, who: &crate::auth::Principal, action: &str, gun: &str, detail: &str) {
        let actor = who.subject.as_deref();
        if let Err(e) = self.events.audit(actor, action, gun, detail).await {
            tracing::error!(error = %e, action, gun, "auditing a trust change failed");
        }
    }

    fn trust_secret(&self) -> Result<&TrustSecret> {
        self.trust.as_ref().ok_or_else(|| {
            Error::new(
                Code::Unsupported,
                "content trust is not enabled on this registry",
            )
        })
    }

    /// The keys Berth holds for a collection's role, newest first.
    async fn held_keys(&self, gun: &str, role: &str) -> Result<Vec<ServerKey>> {
        let secret = self.trust_secret()?;
        let context = format!("{gun}/{role}");
        self.meta
            .tuf_keys(gun, role)
            .await?
            .iter()
            .map(|(_, sealed)| ServerKey::open(secret, &context, sealed).map_err(internal))
            .collect()
    }

    /// The newest key Berth holds for a collection's role, made on first use; with `rotate`, a
    /// new key that becomes the newest.
    async fn newest_key(
        &self,
        gun: &str,
        repository: &str,
        role: &str,
        rotate: bool,
    ) -> Result<ServerKey> {
        let secret = self.trust_secret()?;
        let context = format!("{gun}/{role}");
        for _ in 0..3 {
            let held = self.meta.tuf_keys(gun, role).await?;
            if let (Some((_, sealed)), false) = (held.first(), rotate) {
                return ServerKey::open(secret, &context, sealed).map_err(internal);
            }
            let version = held.first().map_or(1, |(v, _)| v + 1);
            let key = ServerKey::generate().map_err(internal)?;
            let sealed = key.seal(secret, &context).map_err(internal)?;
            if self
                .meta
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
        let Some((data, expires)) = self.meta.tuf_file(gun, TIMESTAMP, &Which::Latest).await?
        else {
            return Ok(None);
        };
        let now = now();
        if expires - now > TIMESTAMP_LIFETIME / 2 {
            return Ok(Some(data));
        }
        let current = File::parse(TIMESTAMP, data).map_err(internal)?;
        let Some((snapshot, _)) = self.meta.tuf_file(gun, SNAPSHOT, &Which::Latest).await? else {
            return Ok(Some(current.bytes));
        };
        let snapshot = File::parse(SNAPSHOT, snapshot).map_err(internal)?;
        let Some((root, _)) = self.meta.tuf_file(gun, ROOT, &Which::Latest).await? else {
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
            .meta
            .tuf_store(gun, repository, &[new_file(&next)], root_version)
            .await?;
        if stored {
            return Ok(Some(next.bytes));
        }
        // Another request refreshed it first.
        Ok(self
            .meta
            .tuf_file(gun, TIMESTAMP, &Which::Latest)
            .await?
            .map(|(data, _)| data))
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

/// Everything under `/v2/<gun>/_trust/tuf/`.
pub(crate) async fn dispatch(
    reg: &Registry,
    req: &HttpRequest,
    payload: web::Payload,
    gun: &str,
    rest: &str,
) -> Result<HttpResponse> {
    reg.trust_secret()?;
    // Only Berth's own GUN names a collection: anything else is no collection of ours.
    let repository = names::gun_repository(gun, &reg.config.host).ok_or_else(|| {
        Error::new(
            Code::NameUnknown,
            format!(
                "{gun:?} is not a trust collection of this registry: name it \
                 {}/<repository>, as docker does",
                reg.config.host
            ),
        )
    })?;
    let resource = parse_resource(rest).ok_or_else(|| {
        Error::new(
            Code::MetadataNotFound,
            format!("no trust resource {rest:?}"),
        )
    })?;
    let method = req.method();
    match resource {
        Resource::Collection if method == Method::POST => {
            let who = authorize_repo(reg, req, repository, &[Action::Pull, Action::Push]).await?;
            let stored = post_update(reg, req, payload, gun, repository).await?;
            reg.audit(&who, "trust.update", gun, &stored).await;
            Ok(HttpResponse::Ok().finish())
        }
        Resource::Collection if method == Method::DELETE => {
            let who = authorize_repo(reg, req, repository, &[Action::Delete]).await?;
            if reg.meta.tuf_delete(gun).await? {
                reg.audit(&who, "trust.delete", gun, "").await;
            }
            Ok(HttpResponse::Ok()
                .content_type("application/json")
                .body("{}"))
        }
        Resource::Key(role) if method == Method::GET => {
            authorize_repo(reg, req, repository, &[Action::Pull, Action::Push]).await?;
            let key = reg.newest_key(gun, repository, role, false).await?;
            Ok(HttpResponse::Ok().json(&key.public))
        }
        Resource::Key(role) if method == Method::POST => {
            // A rotation: the new key signs once a root naming it is published.
            let everything = [Action::Pull, Action::Push, Action::Delete];
            let who = authorize_repo(reg, req, repository, &everything).await?;
            let key = reg.newest_key(gun, repository, role, true).await?;
            let detail = format!("{role} key {}", key.id);
            reg.audit(&who, "trust.key.rotate", gun, &detail).await;
            Ok(HttpResponse::Ok().json(&key.public))
        }
        Resource::File(role, which) if method == Method::GET || method == Method::HEAD => {
            authorize_repo(reg, req, repository, &[Action::Pull]).await?;
            let data = if role == TIMESTAMP && which == Which::Latest {
                reg.fresh_timestamp(gun, repository).await?
            } else {
                reg.meta
                    .tuf_file(gun, role, &which)
                    .await?
                    .map(|(data, _)| data)
            };
            let data = data.ok_or_else(|| {
                Error::new(
                    Code::MetadataNotFound,
                    format!("{gun} has no {role}.json of that version"),
                )
            })?;
            Ok(HttpResponse::Ok()
                .content_type("application/json")
                .insert_header(("Cache-Control", "no-cache"))
                .body(data))
        }
        _ => Err(Error::new(
            Code::Unsupported,
            "method not allowed on this endpoint",
        )),
    }
}

/// Reads the multipart body: one file per part, named by its role.
async fn read_parts(req: &HttpRequest, mut payload: web::Payload) -> Result<Vec<File>> {
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| invalid("an update is multipart/form-data with one file per role"))?;
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| invalid(format!("reading the update: {e}")))?;
        if body.len() + chunk.len() > MAX_UPDATE {
            return Err(
                invalid(format!("an update is at most {MAX_UPDATE} bytes")).with_status_413()
            );
        }
        body.extend_from_slice(&chunk);
    }
    let stream = futures_util::stream::once(async move {
        Ok::<_, std::convert::Infallible>(bytes::Bytes::from(body))
    });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut files = Vec::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| invalid(format!("the update is not valid multipart: {e}")))?
    {
        let role = field
            .file_name()
            .map(str::to_owned)
            .ok_or_else(|| invalid("every part of an update names its role as its filename"))?;
        if !valid_role(&role) {
            return Err(invalid(format!("{role:?} is not a TUF role")));
        }
        let data = field
            .bytes()
            .await
            .map_err(|e| invalid(format!("reading {role}.json: {e}")))?;
        files.push(File::parse(&role, data.to_vec()).map_err(invalid)?);
    }
    Ok(files)
}

/// Validates and stores an update; says what was stored (`root v2, targets v5, …`).
async fn post_update(
    reg: &Registry,
    req: &HttpRequest,
    payload: web::Payload,
    gun: &str,
    repository: &str,
) -> Result<String> {
    let parts = read_parts(req, payload).await?;
    // A timestamp refreshed by a reader meanwhile takes the version this update meant to use:
    // then the update is checked and signed again against what is stored now.
    for _ in 0..3 {
        let mut current = HashMap::new();
        for (role, data) in reg.meta.tuf_latest(gun).await? {
            let file = File::parse(&role, data).map_err(internal)?;
            current.insert(role, file);
        }
        // The first timestamp key is made here if no client asked for it yet.
        reg.newest_key(gun, repository, TIMESTAMP, false).await?;
        let timestamp = reg.held_keys(gun, TIMESTAMP).await?;
        let snapshot = reg.held_keys(gun, SNAPSHOT).await?;
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
        if reg.meta.tuf_store(gun, repository, &rows, root).await? {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_parse_like_notary_server() {
        assert_eq!(parse_resource(""), Some(Resource::Collection));
        assert_eq!(
            parse_resource("timestamp.key"),
            Some(Resource::Key("timestamp"))
        );
        assert_eq!(parse_resource("root.key"), None);
        assert_eq!(
            parse_resource("root.json"),
            Some(Resource::File("root", Which::Latest))
        );
        assert_eq!(
            parse_resource("2.root.json"),
            Some(Resource::File("root", Which::Version(2)))
        );
        let sha = "ab".repeat(32);
        assert_eq!(
            parse_resource(&format!("targets/releases.{sha}.json")),
            Some(Resource::File(
                "targets/releases",
                Which::Sha256(sha.clone())
            ))
        );
        assert_eq!(
            parse_resource("targets/releases.json"),
            Some(Resource::File("targets/releases", Which::Latest))
        );
        assert_eq!(parse_resource("nothing.json"), None);
        assert_eq!(parse_resource("root"), None);
    }
}
