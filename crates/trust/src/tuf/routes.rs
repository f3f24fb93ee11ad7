//! The Notary server's HTTP API (notary-server's), under the registry's `/v2/`:
//!
//! - `GET /v2/<gun>/_trust/tuf/<role>.json`, `…/<role>.<sha256>.json`, `…/<version>.<role>.json`
//! - `GET /v2/<gun>/_trust/tuf/{timestamp,snapshot}.key`: the keys Berth signs with (`POST`
//!   rotates one, for repository admins)
//! - `POST /v2/<gun>/_trust/tuf/`: a multipart update of root, targets, delegations, snapshot
//! - `DELETE /v2/<gun>/_trust/tuf/`: the collection's trust data, for repository admins
//!
//! A GUN is `<registry host>/<repository>`; reading needs pull on the repository, writing push,
//! exactly as for images. What the data means is [`crate::tuf`]'s.

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use berth_registry::auth::Action;
use berth_registry::error::{Code, Error, Result};
use berth_registry::{names, Registry};
use futures_util::StreamExt;

use super::invalid;
use super::metadata::{valid_role, File, SNAPSHOT, TIMESTAMP};
use super::store::Which;
use crate::Trust;

/// Largest update accepted (all its files together).
const MAX_UPDATE: usize = 16 << 20;

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

/// Everything under `/v2/<gun>/_trust/tuf/`.
pub(crate) async fn dispatch(
    trust: &Trust,
    reg: &Registry,
    req: &HttpRequest,
    payload: web::Payload,
    gun: &str,
    rest: &str,
) -> Result<HttpResponse> {
    // Only Berth's own GUN names a collection: anything else is no collection of ours.
    let host = &reg.config().host;
    let repository = names::gun_repository(gun, host).ok_or_else(|| {
        Error::new(
            Code::NameUnknown,
            format!(
                "{gun:?} is not a trust collection of this registry: name it \
                 {host}/<repository>, as docker does",
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
            let who = reg
                .authorize_repository(req, repository, &[Action::Pull, Action::Push])
                .await?;
            let parts = read_parts(req, payload).await?;
            let stored = trust.store_trust_update(gun, repository, parts).await?;
            trust.audit(&who, "trust.update", gun, &stored).await;
            Ok(HttpResponse::Ok().finish())
        }
        Resource::Collection if method == Method::DELETE => {
            let who = reg
                .authorize_repository(req, repository, &[Action::Delete])
                .await?;
            if trust.tuf.tuf_delete(gun).await? {
                trust.audit(&who, "trust.delete", gun, "").await;
            }
            Ok(HttpResponse::Ok()
                .content_type("application/json")
                .body("{}"))
        }
        Resource::Key(role) if method == Method::GET => {
            reg.authorize_repository(req, repository, &[Action::Pull, Action::Push])
                .await?;
            let key = trust.newest_key(gun, repository, role, false).await?;
            Ok(HttpResponse::Ok().json(&key.public))
        }
        Resource::Key(role) if method == Method::POST => {
            // A rotation: the new key signs once a root naming it is published.
            let everything = [Action::Pull, Action::Push, Action::Delete];
            let who = reg
                .authorize_repository(req, repository, &everything)
                .await?;
            let key = trust.newest_key(gun, repository, role, true).await?;
            let detail = format!("{role} key {}", key.id);
            trust.audit(&who, "trust.key.rotate", gun, &detail).await;
            Ok(HttpResponse::Ok().json(&key.public))
        }
        Resource::File(role, which) if method == Method::GET || method == Method::HEAD => {
            reg.authorize_repository(req, repository, &[Action::Pull])
                .await?;
            let data = trust.trust_file(gun, repository, role, &which).await?;
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
