//! `GET /v2/<name>/tags/list` and `GET /v2/_catalog`, paginated with `n` and `last`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use super::{authorize, authorize_repo, query, query_param};
use crate::auth::{Action, Target};
use crate::error::{Code, Error, Result};
use crate::Registry;

/// The page size asked for, capped; never used to pre-allocate.
fn page_size(reg: &Registry, req: &HttpRequest) -> Result<(i64, Option<String>)> {
    let q = query(req);
    let cap = reg.config.max_page_size;
    let n = match query_param(&q, "n") {
        None | Some("") => cap,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| {
                Error::new(Code::Unsupported, format!("invalid page size n={v:?}"))
                    .with_status_400()
            })?
            .min(cap),
    };
    let last = query_param(&q, "last")
        .filter(|l| !l.is_empty())
        .map(str::to_owned);
    // Any text orders as a cursor, but not every database can hold a NUL to compare with.
    if last.as_deref().is_some_and(|l| l.contains('\0')) {
        return Err(
            Error::new(Code::Unsupported, "invalid last: it holds a NUL").with_status_400(),
        );
    }
    Ok((n, last))
}

/// Fetches one more row than the page holds to learn whether a next page exists, and builds
/// the `Link` header for it.
fn paginate(mut items: Vec<String>, n: i64, base: &str) -> (Vec<String>, Option<String>) {
    if items.len() as i64 > n {
        items.truncate(n as usize);
        let link = items.last().map(|last| {
            format!(
                "<{base}?n={n}&last={}>; rel=\"next\"",
                encode_query_value(last)
            )
        });
        (items, link)
    } else {
        (items, None)
    }
}

fn encode_query_value(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Serialize)]
struct TagList {
    name: String,
    tags: Vec<String>,
}

pub(super) async fn tags(reg: &Registry, req: &HttpRequest, name: &str) -> Result<HttpResponse> {
    authorize_repo(reg, req, name, &[Action::Pull]).await?;
    let (n, last) = page_size(reg, req)?;
    let tags = reg
        .meta
        .tags(name, last.as_deref(), n + 1)
        .await?
        .ok_or_else(|| Error::new(Code::NameUnknown, format!("repository {name:?} is unknown")))?;
    let (tags, link) = paginate(tags, n, &format!("/v2/{name}/tags/list"));
    let mut resp = HttpResponse::Ok();
    if let Some(link) = link {
        resp.insert_header((header::LINK, link));
    }
    Ok(resp.json(TagList {
        name: name.to_owned(),
        tags,
    }))
}

/// How many batches one catalog request reads at most while looking for visible names.
const CATALOG_SCAN_BATCHES: usize = 50;

#[derive(Serialize)]
struct Catalog {
    repositories: Vec<String>,
}

pub(super) async fn catalog(reg: &Registry, req: &HttpRequest) -> Result<HttpResponse> {
    let principal = authorize(reg, req, Target::Catalog).await?;
    let (n, last) = page_size(reg, req)?;
    // Filter before paginating, so that neither the page nor its `Link` names a repository
    // the caller may not see.
    let batch = (n + 1).max(100);
    let mut visible = Vec::new();
    let mut cursor = last;
    for _ in 0..CATALOG_SCAN_BATCHES {
        let names = reg.meta.catalog(cursor.as_deref(), batch).await?;
        let exhausted = (names.len() as i64) < batch;
        cursor = names.last().cloned();
        visible.extend(reg.auth.visible(&principal, names).await?);
        if visible.len() as i64 > n || exhausted {
            break;
        }
    }
    let (repositories, link) = paginate(visible, n, "/v2/_catalog");
    let mut resp = HttpResponse::Ok();
    if let Some(link) = link {
        resp.insert_header((header::LINK, link));
    }
    Ok(resp.json(Catalog { repositories }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_links() {
        let items = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (page, link) = paginate(items(&["a", "b", "c"]), 2, "/v2/x/tags/list");
        assert_eq!(page, items(&["a", "b"]));
        assert_eq!(
            link.as_deref(),
            Some("</v2/x/tags/list?n=2&last=b>; rel=\"next\"")
        );
        let (page, link) = paginate(items(&["a", "b"]), 2, "/v2/_catalog");
        assert_eq!(page.len(), 2);
        assert!(link.is_none());
        let (page, link) = paginate(items(&["a"]), 0, "/v2/_catalog");
        assert!(page.is_empty());
        assert!(link.is_none());
    }
}
