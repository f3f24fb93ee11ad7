//! `GET`/`HEAD`/`DELETE /v2/<name>/blobs/<digest>`.

use actix_web::body::SizedStream;
use actix_web::http::{header, Method};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::TryStreamExt;

use super::authorize_repo;
use crate::auth::Action;
use crate::digest::Digest;
use crate::error::{Code, Error, Result};
use crate::events::{Event, EventAction, EventTarget};
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
    let total = size as u64;
    if reg.config.redirect_pulls && req.method() == Method::GET {
        if let Some(url) = reg.store.redirect_url(&digest).await? {
            pulled(reg, name, &digest, size, principal);
            // The client fetches the bytes from the store, with its `Range` if it sent one.
            return Ok(HttpResponse::TemporaryRedirect()
                .insert_header((header::LOCATION, url))
                .insert_header(("Docker-Content-Digest", digest.to_string()))
                .finish());
        }
    }
    let range = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| parse_range(v, total));
    let (mut resp, offset, len) = match range {
        None | Some(RangeSpec::Ignored) => (HttpResponse::Ok(), 0, total),
        Some(RangeSpec::Unsatisfiable) => {
            return Ok(HttpResponse::RangeNotSatisfiable()
                .insert_header((header::CONTENT_RANGE, format!("bytes */{total}")))
                .finish());
        }
        Some(RangeSpec::Bytes(start, end)) => {
            let mut r = HttpResponse::PartialContent();
            r.insert_header((
                header::CONTENT_RANGE,
                format!("bytes {start}-{end}/{total}"),
            ));
            (r, start, end - start + 1)
        }
    };
    let d = digest.to_string();
    resp.insert_header((header::CONTENT_TYPE, "application/octet-stream"))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header(("Docker-Content-Digest", d.clone()))
        .insert_header((header::ETAG, format!("\"{d}\"")));
    if req.method() == Method::HEAD {
        // The length is announced; actix sends no body for HEAD.
        let nothing = futures_util::stream::empty::<std::io::Result<bytes::Bytes>>();
        return Ok(resp.body(SizedStream::new(len, nothing)));
    }
    let body = match reg.store.read(&digest, offset..offset + len).await {
        Ok(body) => body,
        Err(e) if e.code() == Code::BlobUnknown => {
            tracing::error!(%digest, "blob is linked but missing from storage");
            return Err(unknown(&digest));
        }
        Err(e) => return Err(e),
    };
    let metrics = reg.metrics().clone();
    let body = body.inspect_ok(move |chunk| metrics.blob_sent(chunk.len()));
    let resp = resp.body(SizedStream::new(len, body));
    if req.method() == Method::GET && resp.status().is_success() {
        pulled(reg, name, &digest, size, principal);
    }
    Ok(resp)
}

fn pulled(reg: &Registry, name: &str, digest: &Digest, size: i64, actor: crate::auth::Principal) {
    reg.events.record(Event {
        action: EventAction::Pull,
        target: EventTarget::Blob,
        repository: name.to_owned(),
        digest: digest.to_string(),
        media_type: None,
        size,
        tag: None,
        actor,
    });
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

/// A `Range` header, as far as a blob is concerned.
#[derive(Debug, PartialEq, Eq)]
enum RangeSpec {
    /// One satisfiable range, inclusive.
    Bytes(u64, u64),
    Unsatisfiable,
    /// Not a single byte range (several ranges, other units, garbage): serve the whole blob,
    /// as HTTP allows.
    Ignored,
}

/// A byte position: decimal digits only. One past any u64 is past any blob, so it saturates.
fn position(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.parse().unwrap_or(u64::MAX))
}

fn parse_range(value: &str, total: u64) -> RangeSpec {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeSpec::Ignored;
    };
    if spec.contains(',') {
        return RangeSpec::Ignored;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeSpec::Ignored;
    };
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = match (position(a), position(b)) {
        // "-n": the last n bytes.
        (None, Some(n)) if a.is_empty() => {
            if n == 0 || total == 0 {
                return RangeSpec::Unsatisfiable;
            }
            (total.saturating_sub(n), total - 1)
        }
        // "a-": from a to the end.
        (Some(start), None) if b.is_empty() => (start, total.saturating_sub(1)),
        (Some(start), Some(end)) if start <= end => (start, end.min(total.saturating_sub(1))),
        // Last before first: a range that selects nothing. Serving the whole blob instead
        // would hand a resuming client bytes it did not ask for.
        (Some(_), Some(_)) => return RangeSpec::Unsatisfiable,
        _ => return RangeSpec::Ignored,
    };
    if start >= total {
        return RangeSpec::Unsatisfiable;
    }
    RangeSpec::Bytes(start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        use RangeSpec::*;
        assert_eq!(parse_range("bytes=0-9", 100), Bytes(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), Bytes(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), Bytes(90, 99));
        assert_eq!(parse_range("bytes=-1000", 100), Bytes(0, 99));
        assert_eq!(parse_range("bytes=50-5000", 100), Bytes(50, 99));
        assert_eq!(parse_range("bytes=100-200", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=9-0", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=500-0", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=1000-", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=999-999", 1000), Bytes(999, 999));
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ignored);
        assert_eq!(parse_range("items=0-1", 100), Ignored);
        assert_eq!(parse_range("bytes=x-y", 100), Ignored);
        assert_eq!(parse_range("bytes=+5-9", 100), Ignored);
        assert_eq!(
            parse_range("bytes=99999999999999999999-", 100),
            Unsatisfiable
        );
        assert_eq!(
            parse_range("bytes=5-99999999999999999999", 100),
            Bytes(5, 99)
        );
        assert_eq!(
            parse_range("bytes=-99999999999999999999", 100),
            Bytes(0, 99)
        );
    }
}
