//! `GET`/`HEAD`/`DELETE /v2/<name>/blobs/<digest>`.

use actix_files::NamedFile;
use actix_web::http::{header, Method};
use actix_web::{HttpRequest, HttpResponse};

use super::authorize_repo;
use crate::auth::Action;
use crate::digest::Digest;
use crate::error::{Code, Error, Result};
use crate::events::{Event, EventAction, EventTarget};
use crate::storage::BlobSource;
use crate::Registry;

fn unknown(digest: &Digest) -> Error {
    Error::new(Code::BlobUnknown, format!("blob {digest} is unknown"))
}

pub(super) async fn get(
    reg: &Registry,
    req: &HttpRequest,
    name: &str,
    digest: &str,
) -> Result<HttpResponse> {
    let digest: Digest = digest.parse()?;
    let principal = authorize_repo(reg, req, name, &[Action::Pull]).await?;
    let size = reg
        .meta
        .blob_in_repository(name, &digest)
        .await?
        .ok_or_else(|| unknown(&digest))?;
    let BlobSource::File(path) = reg.store.source(&digest).await?;
    let file = match NamedFile::open_async(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::error!(%digest, "blob is linked but missing from storage");
            return Err(unknown(&digest));
        }
        Err(e) => return Err(e.into()),
    };
    let mut resp = file
        .use_etag(false)
        .use_last_modified(false)
        .disable_content_disposition()
        .set_content_type(actix_web::mime::APPLICATION_OCTET_STREAM)
        .into_response(req);
    let h = resp.headers_mut();
    let d = digest.to_string();
    if let Ok(v) = header::HeaderValue::from_str(&d) {
        h.insert(header::HeaderName::from_static("docker-content-digest"), v);
    }
    if let Ok(v) = header::HeaderValue::from_str(&format!("\"{d}\"")) {
        h.insert(header::ETAG, v);
    }
    if req.method() == Method::GET && resp.status().is_success() {
        reg.events.record(Event {
            action: EventAction::Pull,
            target: EventTarget::Blob,
            repository: name.to_owned(),
            digest: d,
            media_type: None,
            size,
            tag: None,
            actor: principal,
        });
    }
    Ok(resp)
}

pub(super) async fn delete(
    reg: &Registry,
    req: &HttpRequest,
    name: &str,
    digest: &str,
) -> Result<HttpResponse> {
    if !reg.config.delete_enabled {
        return Err(Error::new(Code::Unsupported, "deletion is disabled"));
    }
    let digest: Digest = digest.parse()?;
    let principal = authorize_repo(reg, req, name, &[Action::Delete]).await?;
    if !reg.meta.unlink_blob(name, &digest).await? {
        return Err(unknown(&digest));
    }
    reg.events.record(Event {
        action: EventAction::Delete,
        target: EventTarget::Blob,
        repository: name.to_owned(),
        digest: digest.to_string(),
        media_type: None,
        size: 0,
        tag: None,
        actor: principal,
    });
    Ok(HttpResponse::Accepted()
        .insert_header(("Docker-Content-Digest", digest.to_string()))
        .finish())
}
