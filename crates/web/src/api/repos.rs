//! Repositories as account objects: create, read, change visibility and descriptions, delete.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use berth_accounts::access::Permission;
use berth_accounts::repos::{self, Changes};
use berth_accounts::Accounts;
use berth_hub::Hub;
use berth_registry::auth::Principal;
use berth_registry::Registry;

use serde::Deserialize;

use super::{identity, ApiError};

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    Public,
    Private,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRepository {
    namespace: String,
    name: String,
    visibility: Option<Visibility>,
    description: Option<String>,
    full_description: Option<String>,
}

fn not_found(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("repository {name} not found"),
    )
}

fn valid_name(name: &str) -> Result<(), ApiError> {
    berth_registry::names::validate_name(name)
        .map_err(|_| ApiError::bad_request(format!("invalid repository name {name:?}")))
}

pub async fn create(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    body: web::Json<NewRepository>,
) -> Result<HttpResponse, ApiError> {
    let who = identity(&accounts, &req).await?;
    if who.user.is_none() {
        return Err(ApiError::unauthorized());
    }
    let full = format!("{}/{}", body.namespace, body.name);
    valid_name(&full)?;
    let new = repos::NewRepository {
        namespace: body.namespace.clone(),
        name: body.name.clone(),
        private: body.visibility.map(|v| v == Visibility::Private),
        description: body.description.clone().unwrap_or_default(),
        full_description: body.full_description.clone(),
    };
    match accounts.create_repository(&who, &new).await {
        Ok(created) => Ok(HttpResponse::Created().json(created)),
        Err(berth_accounts::Error::Forbidden) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("you cannot create repositories in {:?}", body.namespace),
        )),
        Err(berth_accounts::Error::Conflict(_)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("repository {full} already exists"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// The repository's settings, with `storage_bytes`: what its manifests' blobs take.
pub async fn get(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    registry: web::Data<Registry>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    valid_name(&name)?;
    let who = identity(&accounts, &req).await?;
    let (settings, _) = accounts
        .readable(&who, &name)
        .await?
        .ok_or_else(|| not_found(&name))?;
    let used = registry.meta().repository_usage(&name).await?;
    let mut body = serde_json::to_value(settings).map_err(|e| {
        tracing::error!(error = %e, "serializing a repository");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal server error",
        )
    })?;
    body["storage_bytes"] = used.into();
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patch {
    visibility: Option<Visibility>,
    description: Option<String>,
    full_description: Option<String>,
}

/// The caller's permission on an existing repository; outsiders learn nothing.
pub(super) async fn admin_of(
    accounts: &Accounts,
    req: &HttpRequest,
    name: &str,
) -> Result<String, ApiError> {
    valid_name(name)?;
    let who = identity(accounts, req).await?;
    let me = who.user.clone().ok_or_else(ApiError::unauthorized)?;
    let Some((_, permission)) = accounts.readable(&who, name).await? else {
        return Err(not_found(name));
    };
    if permission < Permission::Admin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only a repository's administrators may change it",
        ));
    }
    Ok(me.name)
}

pub async fn patch(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    name: web::Path<String>,
    body: web::Json<Patch>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let actor = admin_of(&accounts, &req, &name).await?;
    let body = body.into_inner();
    repos::update(
        &accounts.db,
        &actor,
        &name,
        Changes {
            private: body.visibility.map(|v| v == Visibility::Private),
            description: body.description,
            full_description: body.full_description,
        },
    )
    .await?;
    let settings = repos::get(&accounts.db, &name)
        .await?
        .ok_or_else(|| not_found(&name))?;
    Ok(HttpResponse::Ok().json(settings))
}

pub async fn delete(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    hub: web::Data<Hub>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let actor = admin_of(&accounts, &req, &name).await?;
    hub.delete_repository(&actor, &name).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /api/v1/repositories/{name}/tags/{tag}`: the registry's tag delete, for a repository
/// administrator (as `DELETE /v2/<name>/manifests/<tag>` needs); the manifest stays.
pub async fn delete_tag(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    registry: web::Data<Registry>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (name, tag) = path.into_inner();
    let actor = admin_of(&accounts, &req, &name).await?;
    if !registry.config().delete_enabled {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "unsupported",
            "deletion is disabled on this registry",
        ));
    }
    let actor = Principal {
        subject: Some(actor),
    };
    if !registry.delete_tag(&name, &tag, actor).await? {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{name} has no tag {tag:?}"),
        ));
    }
    Ok(HttpResponse::NoContent().finish())
}
