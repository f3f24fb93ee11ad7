//! Webhooks of a repository (`/repositories/{name}/webhooks`) and of an organization
//! (`/orgs/{org}/webhooks`): one set of handlers for both, told apart by the route's
//! parameters. Only a repository's administrators (or an organization's owners) see or change
//! them; outsiders of a private repository learn nothing. Also the callback receivers post to.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use berth_accounts::{orgs, Accounts};
use berth_webhooks::{self as webhooks, deliveries, Owner, Webhooks};
use serde::Deserialize;

use super::{user, ApiError};

/// Who manages which webhooks: the route's owner and the signed-in actor allowed to.
async fn managed(accounts: &Accounts, req: &HttpRequest) -> Result<(Owner, String), ApiError> {
    if let Some(org) = req.match_info().get("org") {
        let (me, _) = user(accounts, req).await?;
        let org = orgs::get(&accounts.db, org).await?;
        if !orgs::can_manage(&accounts.db, &org, &me).await? {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "only an organization's owners may manage its webhooks",
            ));
        }
        return Ok((Owner::Org(org.name), me.name));
    }
    let name = req.match_info().get("name").unwrap_or_default();
    let actor = super::repos::admin_of(accounts, req, name).await?;
    Ok((Owner::Repository(name.to_owned()), actor))
}

fn id_param(req: &HttpRequest) -> Result<i64, ApiError> {
    req.match_info()
        .get("id")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "webhook not found"))
}

pub async fn list(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    hooks: web::Data<Webhooks>,
) -> Result<HttpResponse, ApiError> {
    let (owner, _) = managed(&accounts, &req).await?;
    Ok(HttpResponse::Ok().json(webhooks::list(&hooks, &owner).await?))
}

pub async fn create(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    hooks: web::Data<Webhooks>,
    body: web::Json<webhooks::Input>,
) -> Result<HttpResponse, ApiError> {
    let (owner, actor) = managed(&accounts, &req).await?;
    let hook = webhooks::create(&hooks, &hooks.config, &actor, &owner, body.into_inner()).await?;
    if hook.events.contains(&webhooks::Kind::Pull) {
        hooks.pulls_watched();
    }
    Ok(HttpResponse::Created().json(hook))
}

pub async fn get(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    hooks: web::Data<Webhooks>,
) -> Result<HttpResponse, ApiError> {
    let (owner, _) = managed(&accounts, &req).await?;
    let id = id_param(&req)?;
    Ok(HttpResponse::Ok().json(webhooks::get(&hooks, &owner, id).await?))
}

pub async fn update(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    hooks: web::Data<Webhooks>,
    body: web::Json<webhooks::Patch>,
) -> Result<HttpResponse, ApiError> {
    let (owner, actor) = managed(&accounts, &req).await?;
    let id = id_param(&req)?;
    let hook =
        webhooks::update(&hooks, &hooks.config, &actor, &owner, id, body.into_inner()).await?;
    if hook.events.contains(&webhooks::Kind::Pull) {
        hooks.pulls_watched();
    }
    Ok(HttpResponse::Ok().json(hook))
}

pub async fn delete(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    hooks: web::Data<Webhooks>,
) -> Result<HttpResponse, ApiError> {
    let (owner, actor) = managed(&accounts, &req).await?;
    let id = id_param(&req)?;
    webhooks::delete(&hooks, &actor, &owner, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    limit: Option<i64>,
}

/// The delivery log, newest first (50 by default, at most 200).
pub async fn list_deliveries(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    hooks: web::Data<Webhooks>,
) -> Result<HttpResponse, ApiError> {
    let query = web::Query::<DeliveriesQuery>::from_query(req.query_string())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let (owner, _) = managed(&accounts, &req).await?;
    let hook = webhooks::get(&hooks, &owner, id_param(&req)?).await?;
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    Ok(HttpResponse::Ok().json(deliveries::list(&hooks, hook.id, limit).await?))
}

/// Sends a delivery's payload again, as a new delivery.
pub async fn redeliver(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    hooks: web::Data<Webhooks>,
) -> Result<HttpResponse, ApiError> {
    let (owner, _) = managed(&accounts, &req).await?;
    let hook = webhooks::get(&hooks, &owner, id_param(&req)?).await?;
    let delivery = req.match_info().get("delivery").unwrap_or_default();
    let new = deliveries::redeliver(&hooks, &hooks.config, hook.id, delivery).await?;
    hooks.wake();
    Ok(HttpResponse::Accepted().json(new))
}

/// A receiver reports how it handled a delivery: `{state, description, context, target_url}`.
/// The delivery's secret callback address is the only credential.
pub async fn callback(
    hooks: web::Data<Webhooks>,
    path: web::Path<(String, String)>,
    body: web::Json<deliveries::CallbackInput>,
) -> Result<HttpResponse, ApiError> {
    let (id, token) = path.into_inner();
    let recorded = deliveries::record_callback(&hooks, &id, &token, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(recorded))
}
