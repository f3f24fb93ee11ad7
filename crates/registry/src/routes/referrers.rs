//! `GET /v2/<name>/referrers/<digest>`: the manifests whose `subject` is `digest`, as an OCI
//! image index, optionally filtered by `artifactType`.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use super::{authorize_repo, query, query_param};
use crate::auth::Action;
use crate::digest::Digest;
use crate::error::Result;
use crate::manifest::{self, OCI_INDEX};
use crate::Registry;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    media_type: String,
    digest: String,
    size: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    artifact_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<BTreeMap<String, String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Index {
    schema_version: u32,
    media_type: &'static str,
    manifests: Vec<Descriptor>,
}

pub(super) async fn list(
    reg: &Registry,
    req: &HttpRequest,
    name: &str,
    digest: &str,
) -> Result<HttpResponse> {
    let subject: Digest = digest.parse()?;
    authorize_repo(reg, req, name, &[Action::Pull]).await?;
    let q = query(req);
    let filter = query_param(&q, "artifactType").filter(|t| !t.is_empty());
    // Only media types are stored as artifact types: anything else matches nothing (and is
    // not sent to the database, which may not even hold it).
    let referrers = match filter {
        Some(t) if !manifest::is_media_type(t) => Vec::new(),
        _ => reg.meta.referrers(name, &subject, filter).await?,
    };
    let manifests = referrers
        .into_iter()
        .map(|r| Descriptor {
            media_type: r.media_type,
            digest: r.digest,
            size: r.size,
            artifact_type: r.artifact_type,
            annotations: r.annotations.and_then(|a| serde_json::from_str(&a).ok()),
        })
        .collect();
    let mut resp = HttpResponse::Ok();
    resp.insert_header((header::CONTENT_TYPE, OCI_INDEX));
    if filter.is_some() {
        resp.insert_header(("OCI-Filters-Applied", "artifactType"));
    }
    let body = serde_json::to_vec(&Index {
        schema_version: 2,
        media_type: OCI_INDEX,
        manifests,
    })
    .map_err(|e| crate::error::Error::internal(e.to_string()))?;
    Ok(resp.body(body))
}
