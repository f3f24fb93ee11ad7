//! Content trust: a namespace's signing keys (`/user/signing-keys`, `/orgs/{org}/signing-keys`)
//! and the signed-only pull policy of a namespace (`/user/signing-policy`,
//! `/orgs/{org}/signing-policy`) or a repository (`/repositories/{name}/signing-policy`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use berth_accounts::users::User;
use berth_accounts::{orgs, Accounts};
use berth_trust::{signing, Trust};
use serde::Deserialize;

use super::{user, ApiError};

/// The namespace a route is about: the organization it names, or the caller's own (`me`, when
/// the caller was already authenticated).
async fn namespace(
    accounts: &Accounts,
    req: &HttpRequest,
    me: Option<&User>,
) -> Result<String, ApiError> {
    match (req.match_info().get("org"), me) {
        (Some(org), _) => Ok(orgs::get(&accounts.db, org).await?.name),
        (None, Some(me)) => Ok(me.name.clone()),
        (None, None) => Ok(user(accounts, req).await?.0.name),
    }
}

/// The namespace, if the caller administers it.
async fn managed(
    accounts: &Accounts,
    trust: &Trust,
    req: &HttpRequest,
) -> Result<(String, User), ApiError> {
    let (me, _) = user(accounts, req).await?;
    let namespace = namespace(accounts, req, Some(&me)).await?;
    if !signing::can_manage(trust, &me, &namespace).await? {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only an organization's owners may manage its signing keys and policy",
        ));
    }
    Ok((namespace, me))
}

pub async fn list_keys(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    trust: web::Data<Trust>,
) -> Result<HttpResponse, ApiError> {
    let namespace = namespace(&accounts, &req, None).await?;
    Ok(HttpResponse::Ok().json(signing::list(&trust, &namespace).await?))
}

#[derive(Deserialize)]
pub struct NewKey {
    name: String,
    public_key: String,
}

pub async fn add_key(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    trust: web::Data<Trust>,
    body: web::Json<NewKey>,
) -> Result<HttpResponse, ApiError> {
    let (namespace, me) = managed(&accounts, &trust, &req).await?;
    let key = signing::add(&trust, &me, &namespace, body.name.trim(), &body.public_key).await?;
    Ok(HttpResponse::Created().json(key))
}

pub async fn remove_key(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    trust: web::Data<Trust>,
) -> Result<HttpResponse, ApiError> {
    let (namespace, me) = managed(&accounts, &trust, &req).await?;
    let id = req
        .match_info()
        .get("id")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such key"))?;
    signing::remove(&trust, &me, &namespace, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
pub struct Policy {
    signed_only: bool,
}

/// The scope a policy route is about, if the caller administers it.
async fn policy_scope(
    accounts: &Accounts,
    trust: &Trust,
    req: &HttpRequest,
) -> Result<(String, String), ApiError> {
    if let Some(name) = req.match_info().get("name") {
        let actor = super::repos::admin_of(accounts, req, name).await?;
        return Ok((name.to_owned(), actor));
    }
    let (namespace, me) = managed(accounts, trust, req).await?;
    Ok((namespace, me.name))
}

async fn policy_of(trust: &Trust, scope: &str) -> Result<HttpResponse, ApiError> {
    let own = signing::is_set(trust, scope).await?;
    let effective = signing::signed_only(trust, scope).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "scope": scope,
        "signed_only": own,
        // A repository is also covered by its namespace's policy.
        "effective": effective.is_some() || own,
    })))
}

pub async fn get_policy(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    trust: web::Data<Trust>,
) -> Result<HttpResponse, ApiError> {
    let (scope, _) = policy_scope(&accounts, &trust, &req).await?;
    policy_of(&trust, &scope).await
}

pub async fn set_policy(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    trust: web::Data<Trust>,
    body: web::Json<Policy>,
) -> Result<HttpResponse, ApiError> {
    let (scope, actor) = policy_scope(&accounts, &trust, &req).await?;
    signing::set_signed_only(&trust, &actor, &scope, body.signed_only).await?;
    policy_of(&trust, &scope).await
}
