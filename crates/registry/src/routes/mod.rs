//! HTTP routing for `/v2/…`. Repository names contain slashes, so the path is parsed from its
//! end (`…/blobs/<digest>`, `…/manifests/<reference>`, …) rather than by the router.

mod blobs;
mod listing;
mod manifests;
mod referrers;
pub(crate) mod uploads;

use actix_web::http::{header, Method};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::auth::{Action, Caller, Principal, Target};
use crate::error::{Code, Error, Result};
use crate::names;
use crate::Registry;

pub(crate) const API_VERSION: (&str, &str) = ("Docker-Distribution-API-Version", "registry/2.0");

/// A parsed `/v2/` path.
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    Catalog,
    Tags(&'a str),
    Manifest(&'a str, String),
    Blob(&'a str, String),
    UploadStart(&'a str),
    Upload(&'a str, &'a str),
    Referrers(&'a str, String),
}

/// Percent-decodes the last path segment (a reference or digest; `:` arrives as `%3A` from
/// some clients). Names are matched raw, so an encoded `/` can never sneak into one.
fn decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    let hex = |b: u8| (b as char).to_digit(16);
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_route(tail: &str) -> Option<Route<'_>> {
    if tail == "_catalog" {
        return Some(Route::Catalog);
    }
    let (prefix, last) = tail.rsplit_once('/')?;
    if let Some(name) = prefix.strip_suffix("/blobs/uploads") {
        return Some(if last.is_empty() {
            Route::UploadStart(name)
        } else {
            Route::Upload(name, last)
        });
    }
    if let Some(name) = prefix.strip_suffix("/blobs") {
        // `…/blobs/uploads` without the trailing slash.
        if last == "uploads" {
            return Some(Route::UploadStart(name));
        }
        return Some(Route::Blob(name, decode(last)));
    }
    if let Some(name) = prefix.strip_suffix("/manifests") {
        return Some(Route::Manifest(name, decode(last)));
    }
    if let Some(name) = prefix.strip_suffix("/referrers") {
        return Some(Route::Referrers(name, decode(last)));
    }
    if let Some(name) = prefix.strip_suffix("/tags") {
        if last == "list" {
            return Some(Route::Tags(name));
        }
    }
    None
}

/// Asks the authorizer about the request.
pub(crate) async fn authorize(
    reg: &Registry,
    req: &HttpRequest,
    target: Target<'_>,
) -> Result<Principal> {
    let caller = Caller {
        authorization: req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
        peer: req.peer_addr().map(|a| a.ip()),
    };
    reg.auth.authorize(&caller, target).await
}

/// Authorizes `actions` on a repository whose name has already been validated.
pub(crate) async fn authorize_repo(
    reg: &Registry,
    req: &HttpRequest,
    name: &str,
    actions: &[Action],
) -> Result<Principal> {
    authorize(reg, req, Target::Repository { name, actions }).await
}

impl Registry {
    /// Authorizes `actions` on the repository `name` for the caller of `req`, exactly as the
    /// registry's own routes do: for the routes a [`crate::trust::ContentTrust`] serves.
    pub async fn authorize_repository(
        &self,
        req: &HttpRequest,
        name: &str,
        actions: &[Action],
    ) -> Result<Principal> {
        authorize_repo(self, req, name, actions).await
    }
}

fn unsupported() -> Error {
    Error::new(Code::Unsupported, "method not allowed on this endpoint")
}

/// `GET /v2/`: the API version check, and where clients meet the auth challenge.
pub(crate) async fn base(req: HttpRequest, reg: web::Data<Registry>) -> Result<HttpResponse> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Err(unsupported());
    }
    authorize(&reg, &req, Target::Base).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body("{}"))
}

/// Everything under `/v2/` but the base.
pub(crate) async fn dispatch(
    req: HttpRequest,
    payload: web::Payload,
    reg: web::Data<Registry>,
) -> Result<HttpResponse> {
    let tail = req
        .path()
        .strip_prefix("/v2/")
        .unwrap_or_default()
        .to_owned();
    if let Some((gun, rest)) = tail.split_once("/_trust/tuf/") {
        let trust = reg.trust.as_ref().ok_or_else(|| {
            Error::new(
                Code::Unsupported,
                "content trust is not enabled on this registry",
            )
        })?;
        return trust.serve(&reg, &req, payload, gun, rest).await;
    }
    let route = parse_route(&tail)
        .ok_or_else(|| Error::new(Code::NameUnknown, "no such registry endpoint"))?;
    let name = match &route {
        Route::Catalog => None,
        Route::Tags(n)
        | Route::Manifest(n, _)
        | Route::Blob(n, _)
        | Route::UploadStart(n)
        | Route::Upload(n, _)
        | Route::Referrers(n, _) => Some(*n),
    };
    if let Some(name) = name {
        names::validate_name(name)?;
    }
    let m = req.method().clone();
    match route {
        Route::Catalog if m == Method::GET => listing::catalog(&reg, &req).await,
        Route::Tags(name) if m == Method::GET => listing::tags(&reg, &req, name).await,
        Route::Referrers(name, digest) if m == Method::GET => {
            referrers::list(&reg, &req, name, &digest).await
        }
        Route::Manifest(name, reference) => match m {
            Method::GET | Method::HEAD => manifests::get(&reg, &req, name, &reference).await,
            Method::PUT => manifests::put(&reg, &req, payload, name, &reference).await,
            Method::DELETE => manifests::delete(&reg, &req, name, &reference).await,
            _ => Err(unsupported()),
        },
        Route::Blob(name, digest) => match m {
            Method::GET | Method::HEAD => blobs::get(&reg, &req, name, &digest).await,
            Method::DELETE => blobs::delete(&reg, &req, name, &digest).await,
            _ => Err(unsupported()),
        },
        Route::UploadStart(name) if m == Method::POST => {
            uploads::start(&reg, &req, payload, name).await
        }
        Route::Upload(name, id) => match m {
            Method::GET => uploads::status(&reg, &req, name, id).await,
            Method::PATCH => uploads::patch(&reg, &req, payload, name, id).await,
            Method::PUT => uploads::put(&reg, &req, payload, name, id).await,
            Method::DELETE => uploads::cancel(&reg, &req, name, id).await,
            _ => Err(unsupported()),
        },
        _ => Err(unsupported()),
    }
}

/// Query parameters, leniently: a malformed query is treated as absent parameters.
pub(crate) fn query(req: &HttpRequest) -> Vec<(String, String)> {
    web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default()
}

pub(crate) fn query_param<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse_from_the_end() {
        assert_eq!(parse_route("_catalog"), Some(Route::Catalog));
        assert_eq!(parse_route("a/b/tags/list"), Some(Route::Tags("a/b")));
        assert_eq!(
            parse_route("a/manifests/latest"),
            Some(Route::Manifest("a", "latest".into()))
        );
        assert_eq!(
            parse_route("a/manifests/sha256%3Aab"),
            Some(Route::Manifest("a", "sha256:ab".into()))
        );
        assert_eq!(
            parse_route("blobs/blobs/x"),
            Some(Route::Blob("blobs", "x".into()))
        );
        assert_eq!(
            parse_route("a/blobs/uploads/"),
            Some(Route::UploadStart("a"))
        );
        assert_eq!(
            parse_route("a/blobs/uploads"),
            Some(Route::UploadStart("a"))
        );
        assert_eq!(
            parse_route("a/blobs/uploads/u1"),
            Some(Route::Upload("a", "u1"))
        );
        assert_eq!(
            parse_route("a/referrers/sha256:x"),
            Some(Route::Referrers("a", "sha256:x".into()))
        );
        assert_eq!(parse_route("a/tags/other"), None);
        assert_eq!(parse_route("nothing"), None);
        assert_eq!(decode("%41%zz%4"), "A%zz%4");
    }
}
