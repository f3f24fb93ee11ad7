//! Retention rules: the policy of a repository (`/repositories/{name}/retention`) or of an
//! organization's namespace (`/orgs/{org}/retention`), and the preview of what a policy, saved
//! or not, would delete now. Anyone who can see a repository reads its policy (an
//! organization's, its members); only its administrators (the organization's owners) change
//! it or preview one: a preview lists no more than the tags list does, but it is the first step
//! of changing the policy, so it takes the same rights.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use berth_accounts::orgs::{self, Org};
use berth_accounts::{audit, Accounts};
use berth_registry::lifecycle::retention::{self, Invalid, Policy, Scope, Stored, Valid};
use berth_registry::meta::Meta;
use berth_registry::Registry;
use serde_json::{json, Value};

use super::{user, ApiError};

fn invalid(e: Invalid) -> ApiError {
    ApiError::bad_request(e.0)
}

fn validated(body: web::Json<Policy>) -> Result<Valid, ApiError> {
    body.into_inner().validate().map_err(invalid)
}

/// The audit entry of a change: the policy as saved, or that it was removed.
async fn audited(
    accounts: &Accounts,
    actor: &str,
    scope: &str,
    policy: Option<&Policy>,
) -> Result<(), ApiError> {
    let detail = match policy {
        Some(p) => serde_json::to_string(p).unwrap_or_default(),
        None => "removed".to_owned(),
    };
    audit::record(&accounts.db, actor, "retention.update", scope, &detail).await?;
    Ok(())
}

fn stored_json(stored: Option<&Stored>) -> Value {
    match stored {
        Some(s) => json!({"scope": s.kind, "name": s.scope, "policy": s.policy}),
        None => Value::Null,
    }
}

/// A scope's own policy and the one that governs it.
fn view(kind: &str, name: &str, own: Option<Stored>, effective: Option<Stored>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "scope": kind,
        "name": name,
        "policy": own.as_ref().map(|s| &s.policy),
        "updated_by": own.as_ref().map(|s| &s.updated_by),
        "updated_at": own.as_ref().map(|s| s.updated_at),
        "effective": stored_json(effective.as_ref()),
    }))
}

async fn repository_view(meta: &Meta, name: &str) -> Result<HttpResponse, ApiError> {
    let own = retention::get(meta, Scope::Repository(name)).await?;
    let effective = retention::effective(meta, name).await?;
    Ok(view("repository", name, own, effective))
}

pub async fn get_repository(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    registry: web::Data<Registry>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    super::community::readable(&accounts, &req, &name).await?;
    repository_view(registry.meta(), &name).await
}

pub async fn put_repository(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    registry: web::Data<Registry>,
    name: web::Path<String>,
    body: web::Json<Policy>,
) -> Result<HttpResponse, ApiError> {
    let actor = super::repos::admin_of(&accounts, &req, &name).await?;
    let policy = validated(body)?;
    retention::put(registry.meta(), Scope::Repository(&name), &policy, &actor).await?;
    audited(&accounts, &actor, &name, Some(policy.policy())).await?;
    repository_view(registry.meta(), &name).await
}

pub async fn delete_repository(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    registry: web::Data<Registry>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let actor = super::repos::admin_of(&accounts, &req, &name).await?;
    if !retention::remove(registry.meta(), Scope::Repository(&name)).await? {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{name} has no retention policy of its own"),
        ));
    }
    audited(&accounts, &actor, &name, None).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn preview_repository(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    registry: web::Data<Registry>,
    name: web::Path<String>,
    body: web::Json<Policy>,
) -> Result<HttpResponse, ApiError> {
    super::repos::admin_of(&accounts, &req, &name).await?;
    let policy = validated(body)?;
    let now = berth_registry::clock::now();
    let plan = retention::preview(registry.meta(), &name, &policy, now).await?;
    Ok(HttpResponse::Ok().json(plan))
}

/// The organization a route names, for a caller who may manage it.
async fn managed_org(accounts: &Accounts, req: &HttpRequest) -> Result<(Org, String), ApiError> {
    let (me, _) = user(accounts, req).await?;
    let org = orgs::get(&accounts.db, req.match_info().get("org").unwrap_or("")).await?;
    if !orgs::can_manage(&accounts.db, &org, &me).await? {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only an organization's owners may change or preview its retention policy",
        ));
    }
    Ok((org, me.name))
}

async fn namespace_view(meta: &Meta, namespace: &str) -> Result<HttpResponse, ApiError> {
    let own = retention::get(meta, Scope::Namespace(namespace)).await?;
    Ok(view("namespace", namespace, own.clone(), own))
}

pub async fn get_org(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    registry: web::Data<Registry>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (me, _) = user(&accounts, &req).await?;
    let org = orgs::get(&accounts.db, &path).await?;
    if !orgs::can_see_members(&accounts.db, &org, &me).await? {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only an organization's members may see its retention policy",
        ));
    }
    namespace_view(registry.meta(), &org.name).await
}

pub async fn put_org(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    registry: web::Data<Registry>,
    body: web::Json<Policy>,
) -> Result<HttpResponse, ApiError> {
    let (org, actor) = managed_org(&accounts, &req).await?;
    let policy = validated(body)?;
    retention::put(
        registry.meta(),
        Scope::Namespace(&org.name),
        &policy,
        &actor,
    )
    .await?;
    audited(&accounts, &actor, &org.name, Some(policy.policy())).await?;
    namespace_view(registry.meta(), &org.name).await
}

pub async fn delete_org(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    registry: web::Data<Registry>,
) -> Result<HttpResponse, ApiError> {
    let (org, actor) = managed_org(&accounts, &req).await?;
    if !retention::remove(registry.meta(), Scope::Namespace(&org.name)).await? {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{} has no retention policy", org.name),
        ));
    }
    audited(&accounts, &actor, &org.name, None).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn preview_org(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    registry: web::Data<Registry>,
    body: web::Json<Policy>,
) -> Result<HttpResponse, ApiError> {
    let (org, _) = managed_org(&accounts, &req).await?;
    let policy = validated(body)?;
    let now = berth_registry::clock::now();
    let plans = retention::preview_namespace(registry.meta(), &org.name, &policy, now).await?;
    let count: usize = plans.iter().map(|p| p.plan.delete.len()).sum();
    Ok(HttpResponse::Ok().json(json!({
        "delete_count": count,
        "repositories": plans,
    })))
}
