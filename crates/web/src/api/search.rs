//! Search: `GET /api/v1/search` (Berth's JSON) and `GET /v1/search` (Docker's v1 format, which
//! `docker search <host>/<term>` asks for).

use actix_web::{web, HttpRequest, HttpResponse};
use berth_accounts::access::Identity;
use berth_accounts::repos::RepoSettings;
use berth_accounts::Accounts;
use berth_hub::search::{self, Sort};
use berth_hub::Hub;
use serde::{Deserialize, Serialize};

use super::{identity, ApiError};

const DEFAULT_PAGE_SIZE: i64 = 25;
const MAX_PAGE_SIZE: i64 = 100;

#[derive(Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    q: String,
    namespace: Option<String>,
    /// Only repositories with signed images.
    signed: Option<bool>,
    sort: Option<String>,
    page: Option<i64>,
    page_size: Option<i64>,
}

/// A repository as search results show it.
#[derive(Serialize)]
pub struct Hit {
    pub name: String,
    pub namespace: String,
    pub description: String,
    pub private: bool,
    pub star_count: i64,
    pub pull_count: i64,
    pub last_pushed_at: Option<i64>,
}

impl From<RepoSettings> for Hit {
    fn from(s: RepoSettings) -> Self {
        Hit {
            name: s.repository,
            namespace: s.namespace,
            description: s.description,
            private: s.private,
            star_count: s.star_count,
            pull_count: s.pull_count,
            last_pushed_at: s.last_pushed_at,
        }
    }
}

/// Page number (from 1) and size, checked.
pub fn paging(page: Option<i64>, size: Option<i64>) -> Result<(i64, i64), ApiError> {
    let page = page.unwrap_or(1);
    let size = size.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=10_000).contains(&page) {
        return Err(ApiError::bad_request("page must be between 1 and 10000"));
    }
    if !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(ApiError::bad_request(format!(
            "page_size must be between 1 and {MAX_PAGE_SIZE}"
        )));
    }
    Ok((page, size))
}

pub async fn api(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    hub: web::Data<Hub>,
    params: web::Query<SearchParams>,
) -> Result<HttpResponse, ApiError> {
    let who = identity(&accounts, &req).await?;
    let viewer = accounts.viewer(&who).await?;
    let sort = Sort::parse(params.sort.as_deref().unwrap_or("")).ok_or_else(|| {
        ApiError::bad_request("sort must be one of relevance, stars, pulls, pushed, name")
    })?;
    let (page, page_size) = paging(params.page, params.page_size)?;
    let found = search::search(
        &hub,
        &viewer,
        &search::Query {
            text: &params.q,
            namespace: params.namespace.as_deref().filter(|n| !n.is_empty()),
            signed: params.signed.unwrap_or(false),
            sort,
            offset: (page - 1) * page_size,
            limit: page_size,
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "query": params.q,
        "sort": sort.as_str(),
        "total": found.total,
        "total_capped": found.total_capped,
        "page": page,
        "page_size": page_size,
        "results": found.repositories.into_iter().map(Hit::from).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
pub struct V1Params {
    #[serde(default)]
    q: String,
    n: Option<i64>,
    page: Option<i64>,
}

/// Docker's v1 search. `docker search` sends `n` (its `--limit`, 25 by default).
pub async fn v1(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    hub: web::Data<Hub>,
    params: web::Query<V1Params>,
) -> Result<HttpResponse, ApiError> {
    let who = v1_identity(&accounts, &req).await?;
    let viewer = accounts.viewer(&who).await?;
    let (page, n) = paging(params.page, params.n)?;
    let found = search::search(
        &hub,
        &viewer,
        &search::Query {
            text: &params.q,
            namespace: None,
            signed: false,
            sort: Sort::Relevance,
            offset: (page - 1) * n,
            limit: n,
        },
    )
    .await?;
    let results: Vec<serde_json::Value> = found
        .repositories
        .into_iter()
        .map(|s| {
            serde_json::json!({
                "name": s.repository,
                "description": s.description,
                "star_count": s.star_count,
                "pull_count": s.pull_count,
                "is_official": false,
                "is_automated": false,
                "is_trusted": false,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "num_pages": (found.total + n - 1) / n,
        "num_results": found.total,
        "page_size": n,
        "page": page,
        "query": params.q,
        "results": results,
    })))
}

/// `docker search` gets a registry token from the token service first (after `docker login`,
/// for the logged-in user) and sends that, not a personal access token.
async fn v1_identity(accounts: &Accounts, req: &HttpRequest) -> Result<Identity, ApiError> {
    let bearer = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "));
    if let Some(token) = bearer {
        if let Some(who) = accounts.search_identity(token.trim()).await? {
            return Ok(who);
        }
    }
    identity(accounts, req).await
}
