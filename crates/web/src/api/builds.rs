//! Automated builds: a repository's linked source (`/repositories/{name}/build-source`, for its
//! administrators), its build rules (`…/build-rules`), its builds (`…/builds`: history, "Build
//! now", one build, its log, cancel), its status badge (`…/build-badge`), and the push-event
//! URL git hosts call (`/build-hooks/{id}`, authenticated by the event's signature).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use berth_accounts::access::Permission;
use berth_accounts::Accounts;
use berth_builds::rules::Rule;
use berth_builds::sources::SourceInput;
use berth_builds::{badge, push_events, queue, sources, Builds};
use serde::Deserialize;

use super::community::readable;
use super::repos::admin_of;
use super::ApiError;

/// The largest push event accepted (GitHub caps its payloads at 25 MB, but a push's useful part
/// is small; Gitea and GitLab send a few KiB).
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

fn no_source(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("{name} has no build source linked"),
    )
}

/// The caller, who must be allowed to push to `name` (to start or cancel its builds); `401`
/// first for nobody.
async fn writer_of(accounts: &Accounts, req: &HttpRequest, name: &str) -> Result<String, ApiError> {
    let who = super::identity(accounts, req).await?;
    let me = who.name().ok_or_else(ApiError::unauthorized)?.to_owned();
    let Some((_, permission)) = accounts.readable(&who, name).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("repository {name} not found"),
        ));
    };
    if permission < Permission::Write {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only those who may push to a repository may start or cancel its builds",
        ));
    }
    Ok(me)
}

/// `GET /repositories/{name}/build-source`
pub async fn get_source(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    builds: web::Data<Builds>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    admin_of(&accounts, &req, &name).await?;
    let source = sources::get(&builds, &name)
        .await?
        .ok_or_else(|| no_source(&name))?;
    Ok(HttpResponse::Ok().json(source))
}

/// `PUT /repositories/{name}/build-source`: links or changes the source; `201` when new.
pub async fn put_source(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    builds: web::Data<Builds>,
    name: web::Path<String>,
    body: web::Json<SourceInput>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let actor = admin_of(&accounts, &req, &name).await?;
    let (me, _) = super::user(&accounts, &req).await?;
    let existed = sources::get(&builds, &name).await?.is_some();
    let source = sources::link(&builds, &actor, me.is_admin, &name, body.into_inner()).await?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(HttpResponse::build(status).json(source))
}

/// `DELETE /repositories/{name}/build-source`: unlinks it; the build history stays.
pub async fn delete_source(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    builds: web::Data<Builds>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let actor = admin_of(&accounts, &req, &name).await?;
    sources::unlink(&builds, &actor, &name).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /repositories/{name}/build-rules`: for anyone who may see the repository.
pub async fn get_rules(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    builds: web::Data<Builds>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    readable(&accounts, &req, &name).await?;
    let source = sources::get(&builds, &name)
        .await?
        .ok_or_else(|| no_source(&name))?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "rules": source.rules })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesBody {
    rules: Vec<Rule>,
}

/// `PUT /repositories/{name}/build-rules`: replaces the rules.
pub async fn put_rules(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    builds: web::Data<Builds>,
    name: web::Path<String>,
    body: web::Json<RulesBody>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let actor = admin_of(&accounts, &req, &name).await?;
    let source = sources::set_rules(&builds, &actor, &name, body.into_inner().rules).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "rules": source.rules })))
}

#[derive(Deserialize)]
pub struct Paging {
    page: Option<i64>,
    page_size: Option<i64>,
}

/// `GET /repositories/{name}/builds`: newest first.
pub async fn list(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    builds: web::Data<Builds>,
    name: web::Path<String>,
    paging: web::Query<Paging>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    readable(&accounts, &req, &name).await?;
    let size = paging.page_size.unwrap_or(25).clamp(1, 100);
    let page = paging.page.unwrap_or(1).max(1);
    let (results, count) = queue::list(&builds, &name, size, (page - 1) * size).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "count": count,
        "page": page,
        "page_size": size,
        "enabled": builds.config.enabled(),
        "results": results,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildNow {
    #[serde(rename = "ref")]
    git_ref: String,
}

/// `POST /repositories/{name}/builds` `{"ref": "main"}`: "Build now".
pub async fn create(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    builds: web::Data<Builds>,
    name: web::Path<String>,
    body: web::Json<BuildNow>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let actor = writer_of(&accounts, &req, &name).await?;
    let queued = queue::build_now(&builds, &actor, &name, &body.git_ref).await?;
    Ok(HttpResponse::Created().json(serde_json::json!({ "builds": queued })))
}

fn build_id(req: &HttpRequest) -> Result<i64, ApiError> {
    req.match_info()
        .get("id")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| ApiError::bad_request("a build id is a number"))
}

fn repository(req: &HttpRequest) -> String {
    req.match_info().get("name").unwrap_or_default().to_owned()
}

/// `GET /repositories/{name}/builds/{id}`
pub async fn get(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    builds: web::Data<Builds>,
) -> Result<HttpResponse, ApiError> {
    let name = repository(&req);
    readable(&accounts, &req, &name).await?;
    let build = queue::get(&builds, &name, build_id(&req)?).await?;
    Ok(HttpResponse::Ok().json(build))
}

/// `GET /repositories/{name}/builds/{id}/log`: the stored log as text.
pub async fn log(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    builds: web::Data<Builds>,
) -> Result<HttpResponse, ApiError> {
    let name = repository(&req);
    readable(&accounts, &req, &name).await?;
    let build = queue::get(&builds, &name, build_id(&req)?).await?;
    let text = queue::log_text(&builds, build.id).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("inline; filename=\"build-{}.log\"", build.id),
        ))
        .body(text))
}

/// `POST /repositories/{name}/builds/{id}/cancel`
pub async fn cancel(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    builds: web::Data<Builds>,
) -> Result<HttpResponse, ApiError> {
    let name = repository(&req);
    let actor = writer_of(&accounts, &req, &name).await?;
    let build = queue::cancel(&builds, &actor, &name, build_id(&req)?).await?;
    Ok(HttpResponse::Ok().json(build))
}

/// `GET /repositories/{name}/build-badge`: an SVG of the latest build's status.
pub async fn badge(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    builds: web::Data<Builds>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    readable(&accounts, &req, &name).await?;
    let status = queue::latest_status(&builds, &name).await?;
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(("Cache-Control", "no-cache"))
        .body(badge::svg(status.map(queue::Status::as_str))))
}

/// `POST /build-hooks/{id}`: a push event from a git host.
pub async fn push_event(
    req: HttpRequest,
    builds: web::Data<Builds>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let received = push_events::receive(&builds, &id, header, &body).await?;
    Ok(HttpResponse::Ok().json(received))
}
