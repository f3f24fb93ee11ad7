//! `GET /api/v1/activity`: the activity feed as JSON, filtered by what the caller may see
//! (public activity for anonymous callers), newest first, paged by `before`.

use actix_web::{web, HttpRequest, HttpResponse};
use berth_accounts::activity;
use berth_accounts::Accounts;
use serde::Deserialize;
use serde_json::json;

use super::{identity, ApiError};

/// Lines a page holds unless `limit` says otherwise.
const DEFAULT_LIMIT: i64 = 30;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// Only lines older than this id (the last `id` of the previous page).
    before: Option<i64>,
    limit: Option<i64>,
}

pub async fn list(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    query: web::Query<FeedQuery>,
) -> Result<HttpResponse, ApiError> {
    let who = identity(&accounts, &req).await?;
    let viewer = accounts.viewer(&who).await?;
    let limit = query
        .limit
        .unwrap_or(DEFAULT_LIMIT)
        .clamp(1, activity::MAX_PAGE);
    let entries = activity::feed(&accounts.db, &viewer, query.before, limit).await?;
    let next = (entries.len() as i64 == limit)
        .then(|| entries.last())
        .flatten()
        .map(|e| format!("/api/v1/activity?before={}&limit={limit}", e.id));
    let lines: Vec<_> = entries
        .iter()
        .map(|e| {
            json!({
                "id": e.id,
                "kind": e.kind,
                "repository": e.repository,
                "actor": e.actor,
                "tag": e.tag,
                "digest": e.digest,
                "detail": e.detail,
                "created_at": berth_accounts::service::rfc3339(e.created_at),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "activity": lines, "next": next })))
}
