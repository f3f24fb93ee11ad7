//! Immutable tag rules: a repository's (`/repositories/{name}/immutable-tags`), an
//! organization's (`/orgs/{org}/immutable-tags`) and the caller's own namespace's
//! (`/user/immutable-tags`). `PUT` replaces the list; an empty list removes the rules.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use berth_accounts::{audit, orgs, Accounts};
use berth_registry::lifecycle::immutable::{self, Patterns, Scope};
use berth_registry::Registry;
use serde::{Deserialize, Serialize};

use super::{user, ApiError};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    patterns: Vec<String>,
}

#[derive(Serialize)]
struct Inherited {
    scope: String,
    pattern: String,
}

fn parse(body: &Body) -> Result<Patterns, ApiError> {
    Patterns::parse(&body.patterns).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// A repository's own patterns, and those its namespace adds.
async fn repository_rules(registry: &Registry, name: &str) -> Result<HttpResponse, ApiError> {
    let matcher = immutable::matcher(registry, name).await?;
    let (own, inherited): (Vec<_>, Vec<_>) = matcher
        .rules()
        .iter()
        .partition(|r| r.kind == immutable::ScopeKind::Repository);
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "patterns": own.iter().map(|r| r.pattern.as_str()).collect::<Vec<_>>(),
        "inherited": inherited
            .into_iter()
            .map(|r| Inherited {
                scope: r.scope.clone(),
                pattern: r.pattern.clone(),
            })
            .collect::<Vec<_>>(),
    })))
}

/// `GET /repositories/{name}/immutable-tags`: for anyone who may see the repository.
pub async fn get_repository(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    registry: web::Data<Registry>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    super::community::readable(&accounts, &req, &name).await?;
    repository_rules(&registry, &name).await
}

/// `PUT /repositories/{name}/immutable-tags`: for the repository's administrators.
pub async fn put_repository(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    registry: web::Data<Registry>,
    name: web::Path<String>,
    body: web::Json<Body>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let actor = super::repos::admin_of(&accounts, &req, &name).await?;
    let patterns = parse(&body)?;
    immutable::replace(&registry, Scope::Repository(&name), &patterns, &actor).await?;
    audit::record(
        &accounts.db,
        &actor,
        "immutable_tags.update",
        &name,
        &patterns.to_string(),
    )
    .await?;
    repository_rules(&registry, &name).await
}

/// The namespace a route names: the organization of `{org}`, or the caller's own.
async fn namespace(accounts: &Accounts, req: &HttpRequest) -> Result<String, ApiError> {
    match req.match_info().get("org") {
        Some(org) => Ok(orgs::get(&accounts.db, org).await?.name),
        None => Ok(user(accounts, req).await?.0.name),
    }
}

async fn namespace_rules(registry: &Registry, namespace: &str) -> Result<HttpResponse, ApiError> {
    let patterns = immutable::patterns(registry, Scope::Namespace(namespace)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "patterns": patterns })))
}

/// `GET /orgs/{org}/immutable-tags` (anyone: they show on every public repository of it) and
/// `GET /user/immutable-tags` (the caller's namespace).
pub async fn get_namespace(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    registry: web::Data<Registry>,
) -> Result<HttpResponse, ApiError> {
    let namespace = namespace(&accounts, &req).await?;
    namespace_rules(&registry, &namespace).await
}

/// `PUT /orgs/{org}/immutable-tags` (its owners and site administrators) and
/// `PUT /user/immutable-tags` (the caller's own namespace).
pub async fn put_namespace(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    registry: web::Data<Registry>,
    body: web::Json<Body>,
) -> Result<HttpResponse, ApiError> {
    let (me, _) = user(&accounts, &req).await?;
    let namespace = match req.match_info().get("org") {
        Some(org) => {
            let org = orgs::get(&accounts.db, org).await?;
            if !orgs::can_manage(&accounts.db, &org, &me).await? {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "only an organization's owners may change its immutable tag rules",
                ));
            }
            org.name
        }
        None if me.active => me.name.clone(),
        None => return Err(ApiError::unauthorized()),
    };
    let patterns = parse(&body)?;
    immutable::replace(&registry, Scope::Namespace(&namespace), &patterns, &me.name).await?;
    audit::record(
        &accounts.db,
        &me.name,
        "immutable_tags.update",
        &namespace,
        &patterns.to_string(),
    )
    .await?;
    namespace_rules(&registry, &namespace).await
}
