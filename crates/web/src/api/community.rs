//! A repository's public life: its tags as people see them, stars and comments.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use berth_accounts::access::{Identity, Permission};
use berth_accounts::users::User;
use berth_accounts::{repos, Accounts};
use berth_hub::comments::{self, Comment};
use berth_hub::{stars, Hub};
use berth_registry::names::namespace_of;
use berth_registry::Registry;
use berth_trust::{signing, Trust};
use serde::{Deserialize, Serialize};

use super::search::paging;
use super::{identity, ApiError};
use crate::{images, markdown};

fn not_found(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("{what} not found"),
    )
}

/// The caller and their permission on a repository they may read; anything else is `404`, so
/// outsiders learn nothing.
pub(super) async fn readable(
    accounts: &Accounts,
    req: &HttpRequest,
    name: &str,
) -> Result<(Identity, Permission), ApiError> {
    let who = identity(accounts, req).await?;
    readable_by(accounts, who, name).await
}

/// A signed-in user who may read the repository (`401` first for nobody).
async fn user_on(
    accounts: &Accounts,
    req: &HttpRequest,
    name: &str,
) -> Result<(User, Permission), ApiError> {
    let who = identity(accounts, req).await?;
    let user = who.user.clone().ok_or_else(ApiError::unauthorized)?;
    let (_, permission) = readable_by(accounts, who, name).await?;
    Ok((user, permission))
}

async fn readable_by(
    accounts: &Accounts,
    who: Identity,
    name: &str,
) -> Result<(Identity, Permission), ApiError> {
    match accounts.readable(&who, name).await? {
        Some((_, permission)) => Ok((who, permission)),
        None => Err(not_found(&format!("repository {name}"))),
    }
}

#[derive(Deserialize)]
pub struct Paging {
    page: Option<i64>,
    page_size: Option<i64>,
}

pub async fn tags(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    registry: web::Data<Registry>,
    trust: web::Data<Trust>,
    name: web::Path<String>,
    paging_params: web::Query<Paging>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    readable(&accounts, &req, &name).await?;
    let (page, size) = paging(paging_params.page, paging_params.page_size)?;
    let (total, details) = registry
        .meta()
        .tag_details(&name, (page - 1) * size, size)
        .await?
        .unwrap_or_default();
    let keys = signing::trusted(&trust, namespace_of(&name).unwrap_or(&name)).await?;
    let results = images::summarize(&registry, &trust, &name, &details, &keys).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "count": total,
        "page": page,
        "page_size": size,
        "results": results,
    })))
}

pub async fn tag(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    registry: web::Data<Registry>,
    trust: web::Data<Trust>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (name, tag) = path.into_inner();
    readable(&accounts, &req, &name).await?;
    let detail = registry
        .meta()
        .tag_detail(&name, &tag)
        .await?
        .ok_or_else(|| not_found(&format!("tag {tag}")))?;
    let keys = signing::trusted(&trust, namespace_of(&name).unwrap_or(&name)).await?;
    Ok(HttpResponse::Ok().json(images::view(&registry, &trust, &name, &detail, &keys).await?))
}

async fn star_state(
    accounts: &Accounts,
    hub: &Hub,
    user: &User,
    name: &str,
) -> Result<HttpResponse, ApiError> {
    let starred = stars::is_starred(hub, user, name).await?;
    let count = repos::get(&accounts.db, name)
        .await?
        .map_or(0, |s| s.star_count);
    Ok(HttpResponse::Ok().json(serde_json::json!({ "starred": starred, "star_count": count })))
}

pub async fn star(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    hub: web::Data<Hub>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (user, _) = user_on(&accounts, &req, &name).await?;
    stars::star(&hub, &user, &name).await?;
    star_state(&accounts, &hub, &user, &name).await
}

pub async fn unstar(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    hub: web::Data<Hub>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (user, _) = user_on(&accounts, &req, &name).await?;
    stars::unstar(&hub, &user, &name).await?;
    star_state(&accounts, &hub, &user, &name).await
}

/// A comment with its Markdown rendered (sanitized) for display.
#[derive(Serialize)]
pub struct CommentView {
    #[serde(flatten)]
    comment: Comment,
    body_html: String,
}

impl From<Comment> for CommentView {
    fn from(comment: Comment) -> Self {
        let body_html = markdown::render(&comment.body);
        CommentView { comment, body_html }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommentBody {
    body: String,
}

pub async fn list_comments(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    hub: web::Data<Hub>,
    name: web::Path<String>,
    paging_params: web::Query<Paging>,
) -> Result<HttpResponse, ApiError> {
    readable(&accounts, &req, &name).await?;
    let (page, size) = paging(paging_params.page, paging_params.page_size)?;
    let (total, list) = comments::list(&hub, &name, (page - 1) * size, size).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "count": total,
        "page": page,
        "page_size": size,
        "results": list.into_iter().map(CommentView::from).collect::<Vec<_>>(),
    })))
}

pub async fn create_comment(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    hub: web::Data<Hub>,
    name: web::Path<String>,
    body: web::Json<CommentBody>,
) -> Result<HttpResponse, ApiError> {
    let (user, _) = user_on(&accounts, &req, &name).await?;
    let created = comments::create(&hub, &name, &user, &body.body).await?;
    Ok(HttpResponse::Created().json(CommentView::from(created)))
}

pub async fn update_comment(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    hub: web::Data<Hub>,
    path: web::Path<(String, i64)>,
    body: web::Json<CommentBody>,
) -> Result<HttpResponse, ApiError> {
    let (name, id) = path.into_inner();
    let (user, _) = user_on(&accounts, &req, &name).await?;
    let updated = comments::update(&hub, &name, id, &user, &body.body).await?;
    Ok(HttpResponse::Ok().json(CommentView::from(updated)))
}

pub async fn delete_comment(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    hub: web::Data<Hub>,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (name, id) = path.into_inner();
    let (user, permission) = user_on(&accounts, &req, &name).await?;
    comments::delete(&hub, &name, id, &user, permission >= Permission::Admin).await?;
    Ok(HttpResponse::NoContent().finish())
}
